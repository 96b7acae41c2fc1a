//! The real binary: administration commands on the database file, also while the server runs,
//! and `serve` from start-up banner to graceful SIGTERM.

use std::path::Path;
use std::process::Output;

use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, assert_error};
use crate::process::{agentsend, find_key, start_server, terminate, wait_for};

pub fn run(cwd: &Path, args: &[&str]) -> Output {
    agentsend(cwd).args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    assert!(
        o.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[tokio::test]
async fn accounts_and_keys_are_managed_on_the_file_while_the_server_runs() {
    let app = TestApp::spawn().await;
    let (db, dir) = (app.db_arg(), app.dir());

    let out = stdout(&run(
        &dir,
        &[
            "--db",
            &db,
            "accounts",
            "create",
            "--name",
            "Grace",
            "--email",
            "grace@example.com",
        ],
    ));
    let account_id = out.split_whitespace().nth(2).unwrap().to_owned();
    let listed = stdout(&run(&dir, &["--db", &db, "accounts", "list"]));
    assert!(
        listed.contains(&account_id) && listed.contains("grace@example.com"),
        "{listed}"
    );

    let out = stdout(&run(
        &dir,
        &[
            "--db",
            &db,
            "keys",
            "create",
            "--account",
            &account_id,
            "--name",
            "agent",
        ],
    ));
    let key = find_key(&out);
    let res = app
        .request_as(&key, Method::GET, "/account")
        .send()
        .await
        .unwrap();
    let account: serde_json::Value = res.json().await.unwrap();
    assert_eq!(account["id"], account_id.as_str());
    assert_eq!(account["name"], "Grace");

    let keys = stdout(&run(
        &dir,
        &["--db", &db, "keys", "list", "--account", &account_id],
    ));
    let key_id = keys
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        keys.contains(&key[..12]) && keys.contains("active") && !keys.contains(&key),
        "{keys}"
    );

    stdout(&run(&dir, &["--db", &db, "keys", "revoke", &key_id]));
    let res = app
        .request_as(&key, Method::GET, "/account")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let keys = stdout(&run(
        &dir,
        &["--db", &db, "keys", "list", "--account", &account_id],
    ));
    assert!(keys.contains("revoked"), "{keys}");

    // Bad input is refused with a message and a failing exit status.
    for args in [
        vec!["accounts", "create", "--name", "X", "--email", "nope"],
        vec!["keys", "create", "--account", "not-a-uuid"],
        vec![
            "keys",
            "create",
            "--account",
            "0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e",
        ],
        vec!["keys", "revoke", &key_id],
    ] {
        let mut full = vec!["--db", db.as_str()];
        full.extend(args.iter().copied());
        let out = run(&dir, &full);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(!out.stderr.is_empty(), "{args:?} explains why");
    }
}

#[tokio::test]
async fn config_check_prints_the_effective_configuration_and_bad_config_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(
        &agentsend(dir.path())
            .args(["config", "check"])
            .env("AGENTSEND_LIMITS_RATE_LIMIT", "7")
            .output()
            .unwrap(),
    );
    assert!(out.contains("rate_limit = 7"), "{out}");
    assert!(out.contains("listen = \"127.0.0.1:3000\""), "{out}");

    std::fs::write(
        dir.path().join("agentsend.toml"),
        "[http]\nlisen = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = run(dir.path(), &["config", "check"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("lisen"));
    let out = run(dir.path(), &["serve"]);
    assert!(
        !out.status.success(),
        "an unknown key stops the server before it starts"
    );

    std::fs::remove_file(dir.path().join("agentsend.toml")).unwrap();
    let out = agentsend(dir.path())
        .args(["config", "check"])
        .env("AGENTSEND_LIMITS_RATE_LIMIT", "lots")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("AGENTSEND_LIMITS_RATE_LIMIT"));
}

#[tokio::test]
async fn serve_prints_the_first_key_once_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, out, err) = start_server(dir.path());
    let banner = wait_for(&out, "ask_");
    let key = find_key(&banner);
    let listening = wait_for(&err, "listening on http://");
    let base = listening
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    let client = crate::helpers::client();
    let res = client
        .get(format!("{base}/account"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = client
        .get(format!("{base}/inboxes"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let log_line = wait_for(&err, "GET /inboxes 200");
    assert!(!log_line.contains(&key[4..]), "the key is never logged");
    terminate(&mut child);
    let rest: Vec<String> = err.try_iter().collect();
    assert!(!rest.concat().contains(&key[4..]));
    assert!(dir.path().join("agentsend.db").exists());

    // Second start on the same file: no new account, no key printed.
    let (mut child, out, err) = start_server(dir.path());
    wait_for(&err, "listening on http://");
    terminate(&mut child);
    let printed: Vec<String> = out.try_iter().collect();
    assert!(!printed.concat().contains("ask_"), "{printed:?}");
}

#[test]
fn version_names_the_release_and_the_git_revision_it_was_built_from() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["--version"][..], &["version"]] {
        let out = stdout(&run(dir.path(), args));
        let line = out.trim();
        let rest = line
            .strip_prefix(concat!("agentsend ", env!("CARGO_PKG_VERSION"), " (rev "))
            .unwrap_or_else(|| panic!("{args:?}: {line}"));
        let rev = rest.strip_suffix(')').unwrap();
        assert!(
            rev == "unknown" || (rev.len() == 12 && rev.chars().all(|c| c.is_ascii_hexdigit())),
            "{line}"
        );
    }
}
