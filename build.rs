//! Records the git revision the binary is built from, for `agentsend --version` and the start-up
//! log line. `AGENTSEND_GIT_REV` overrides it (a container build has no `.git`); without either
//! it is "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=AGENTSEND_GIT_REV");
    let rev = std::env::var("AGENTSEND_GIT_REV")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| {
            // Rebuilt when HEAD moves: a commit, a checkout, a pack of the refs.
            for path in ["HEAD", "packed-refs"] {
                if let Some(p) = git(&["rev-parse", "--git-path", path]) {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
                && let Some(p) = git(&["rev-parse", "--git-path", &branch])
            {
                println!("cargo:rerun-if-changed={p}");
            }
            git(&["rev-parse", "--short=12", "HEAD"])
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=AGENTSEND_GIT_REV={rev}");
}
