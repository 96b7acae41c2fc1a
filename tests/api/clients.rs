//! The helpers other languages' test suites use (`clients/`), each run against the real
//! binary by its own test runner: pytest for Python, `node --test` for Node.

use std::process::Command;

use crate::helpers::have_tool;

fn run(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("AGENTSEND_BIN", env!("CARGO_BIN_EXE_agentsend"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_pytest_fixture_passes_its_own_tests() {
    if have_tool("pytest", &["python3", "-m", "pytest", "--version"]) {
        run(
            "python3",
            &[
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "clients/python",
            ],
        );
    }
}

#[test]
fn the_node_helper_passes_its_own_tests() {
    if have_tool("Node.js", &["node", "--version"]) {
        // The file, not the directory: newer Node versions take a directory for a glob.
        run(
            "node",
            &["--test", "clients/node/agentsend-fixture.test.js"],
        );
    }
}
