//! `agentsend fixture` as another project's test suite uses it: the real binary, its ready
//! line, its key, its exit when standard input closes, and the in-process `Fixture`.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::time::Duration;

use agentsend::domain::ApiKeySecret;
use agentsend::fixture::Fixture;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{client, eventually};
use crate::process::agentsend;

/// A fixture process, its stdin kept open (closing it stops the fixture) and its ready line.
struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    ready: Value,
}

impl Running {
    /// Starts `agentsend fixture ARGS` with its temporary files in `tmp`; waits for the ready
    /// line.
    fn start(tmp: &Path, args: &[&str]) -> Self {
        let mut child = agentsend(tmp)
            .arg("fixture")
            .args(args)
            .env("TMPDIR", tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the first line is the ready JSON ({e}): {line:?}"));
        Self {
            child,
            stdin,
            ready,
        }
    }

    fn field(&self, name: &str) -> String {
        self.ready[name].as_str().unwrap().to_owned()
    }

    /// Closes stdin and waits (up to 30 s) for a clean exit.
    fn close_stdin_and_wait(mut self) {
        drop(self.stdin.take());
        for _ in 0..300 {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "exit status after stdin closed: {status}");
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.child.kill().unwrap();
        panic!("the fixture did not stop within 30 s of its stdin closing");
    }
}

/// Fixture directories left in `tmp`.
fn fixture_dirs(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("agentsend-fixture-"))
        .collect()
}

/// A request to `base` with `bearer` (and a JSON body): its status and JSON body.
async fn call(
    method: reqwest::Method,
    base: &str,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client()
        .request(method, format!("{base}{path}"))
        .bearer_auth(bearer);
    if let Some(body) = body {
        request = request.json(&body);
    }
    crate::helpers::json(request.send().await.unwrap()).await
}

async fn account_status(base: &str, key: &str) -> StatusCode {
    client()
        .get(format!("{base}/account"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn a_fixture_prints_one_ready_line_serves_with_the_given_key_and_goes_when_stdin_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let key = "ask_fixture_key_0123456789abcdefghijABCDEFGH";
    assert!(ApiKeySecret::parse(key).is_some());
    let ready_file = tmp.path().join("ready.json");
    let fixture = Running::start(
        tmp.path(),
        &[
            "--api-key",
            key,
            "--ready-file",
            ready_file.to_str().unwrap(),
        ],
    );
    let http = fixture.field("http");
    assert!(http.starts_with("http://127.0.0.1:"), "{http}");
    assert_eq!(fixture.field("apiKey"), key);
    assert_eq!(fixture.ready["inboxes"], json!({}));
    let on_file: Value =
        serde_json::from_str(&std::fs::read_to_string(&ready_file).unwrap()).unwrap();
    assert_eq!(on_file, fixture.ready);

    assert_eq!(account_status(&http, key).await, StatusCode::OK);
    let (_, account) = call(reqwest::Method::GET, &http, "/account", key, None).await;
    assert_eq!(account["id"], fixture.ready["accountId"]);
    // Rate limiting is off: a burst well over the default limit of 100 per window passes.
    for _ in 0..150 {
        assert_eq!(account_status(&http, key).await, StatusCode::OK);
    }
    // SMTP answers on its own port.
    let smtp = TcpStream::connect(fixture.field("smtp")).unwrap();
    let mut banner = String::new();
    BufReader::new(smtp).read_line(&mut banner).unwrap();
    assert!(banner.starts_with("220 "), "{banner}");
    // A send to the outside goes nowhere (dry-run) but is recorded as sent.
    let (_, inbox) = call(
        reqwest::Method::POST,
        &http,
        "/inboxes",
        key,
        Some(json!({"address": "agent"})),
    )
    .await;
    let sent = client()
        .post(format!(
            "{http}/inboxes/{}/messages",
            inbox["id"].as_str().unwrap()
        ))
        .bearer_auth(key)
        .json(&json!({"to": ["someone@example.com"], "subject": "hi", "bodyText": "hello"}))
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), StatusCode::ACCEPTED);
    let message: Value = sent.json().await.unwrap();
    let url = format!("{http}/messages/{}", message["id"].as_str().unwrap());
    eventually("the dry-run send to be sent", || async {
        let m: Value = client()
            .get(&url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (m["status"] == "sent").then_some(())
    })
    .await;

    assert_eq!(fixture_dirs(tmp.path()).len(), 1);
    fixture.close_stdin_and_wait();
    assert!(
        fixture_dirs(tmp.path()).is_empty(),
        "the fixture's directory is removed"
    );
    assert!(
        TcpStream::connect(http.trim_start_matches("http://")).is_err(),
        "nothing listens any more"
    );
}

#[tokio::test]
async fn ten_fixtures_started_together_never_collide() {
    let tmp = tempfile::tempdir().unwrap();
    let starts: Vec<_> = (0..10)
        .map(|_| {
            let dir = tmp.path().to_owned();
            std::thread::spawn(move || Running::start(&dir, &[]))
        })
        .collect();
    let fixtures: Vec<Running> = starts.into_iter().map(|t| t.join().unwrap()).collect();
    let mut addresses: Vec<String> = fixtures
        .iter()
        .flat_map(|f| [f.field("http"), f.field("smtp")])
        .collect();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), 20, "every fixture has ports of its own");
    for (i, f) in fixtures.iter().enumerate() {
        // Each answers to its own key and not to another's.
        let other = &fixtures[(i + 1) % fixtures.len()];
        assert_eq!(
            account_status(&f.field("http"), &f.field("apiKey")).await,
            StatusCode::OK
        );
        assert_eq!(
            account_status(&f.field("http"), &other.field("apiKey")).await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(fixture_dirs(tmp.path()).len(), 10);
    for f in fixtures {
        f.close_stdin_and_wait();
    }
    assert!(fixture_dirs(tmp.path()).is_empty());
}

#[test]
fn a_malformed_api_key_is_refused_before_anything_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = agentsend(tmp.path())
        .args(["fixture", "--api-key", "ask_too-short"])
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no ready line");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--api-key"), "{err}");
    assert!(fixture_dirs(tmp.path()).is_empty());
}

#[tokio::test]
async fn a_killed_fixture_leaves_its_directory_to_the_next_fixture_to_remove() {
    let tmp = tempfile::tempdir().unwrap();
    let mut killed = Running::start(tmp.path(), &[]);
    let left = fixture_dirs(tmp.path());
    assert_eq!(left.len(), 1);
    killed.child.kill().unwrap();
    killed.child.wait().unwrap();
    assert_eq!(fixture_dirs(tmp.path()), left, "SIGKILL leaves it behind");
    let next = Running::start(tmp.path(), &[]);
    let now = fixture_dirs(tmp.path());
    assert_eq!(now.len(), 1);
    assert_ne!(now, left, "the dead fixture's directory is gone");
    next.close_stdin_and_wait();
}

#[tokio::test]
async fn the_in_process_fixture_starts_serves_and_cleans_up() {
    let fixture = Fixture::start().await.unwrap();
    let db = fixture.db_path().unwrap();
    assert!(db.exists());
    assert_eq!(
        account_status(fixture.http(), fixture.api_key()).await,
        StatusCode::OK
    );
    let health = client()
        .get(format!("{}/health", fixture.http()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    fixture.shutdown().await.unwrap();
    assert!(!db.exists(), "its database is removed with it");
}

#[tokio::test]
async fn the_fixture_token_guards_the_outbox_and_the_reset() {
    let fixture = Fixture::start().await.unwrap();
    let (http, key) = (fixture.http().to_owned(), fixture.api_key().to_owned());
    let token = fixture.ready().fixture_token.clone();
    let (_, inbox) = call(
        reqwest::Method::POST,
        &http,
        "/inboxes",
        &key,
        Some(json!({"address": "agent"})),
    )
    .await;
    let path = format!("/inboxes/{}/messages", inbox["id"].as_str().unwrap());
    let body = json!({"to": ["someone@example.com"], "cc": ["agent@agentsend.localhost"],
                      "subject": "to the outbox", "bodyText": "hello"});
    let (_, sent) = call(reqwest::Method::POST, &http, &path, &key, Some(body)).await;
    let id = sent["id"].as_str().unwrap().to_owned();
    let outbox = || async {
        client()
            .get(format!("{http}/_fixture/outbox"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
    };
    let listed: Value = eventually("the send to reach the outbox", || async {
        let body: Value = outbox().await.json().await.unwrap();
        (body["total"] == 1).then_some(body)
    })
    .await;
    let entry = &listed["data"][0];
    assert_eq!(entry["id"], id.as_str());
    assert_eq!(entry["subject"], "to the outbox");
    // Only the recipient outside the machine is in the outbox; the inbox here got its copy.
    assert_eq!(entry["handedOffTo"], json!(["someone@example.com"]));
    let raw = client()
        .get(format!("{http}/messages/{id}/raw"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(entry["raw"], raw.as_str(), "the exact bytes that were sent");

    // The token and nothing else opens them.
    for bearer in [None, Some(key.as_str()), Some("wrong")] {
        let mut request = client().post(format!("{http}/_fixture/reset"));
        if let Some(b) = bearer {
            request = request.bearer_auth(b);
        }
        crate::helpers::assert_error(
            request.send().await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
        )
        .await;
    }
    // A test revokes the default key; the reset gives it back.
    let (_, keys) = call(reqwest::Method::GET, &http, "/account/api-keys", &key, None).await;
    let key_id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    let revoked = client()
        .delete(format!("{http}/account/api-keys/{key_id}"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    assert_eq!(account_status(&http, &key).await, StatusCode::UNAUTHORIZED);
    let reset = client()
        .post(format!("{http}/_fixture/reset"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    let (_, inboxes) = call(reqwest::Method::GET, &http, "/inboxes", &key, None).await;
    assert_eq!(inboxes["total"], 0, "the data is gone");
    assert_eq!(
        account_status(&http, &key).await,
        StatusCode::OK,
        "the key stays"
    );
    let body: Value = outbox().await.json().await.unwrap();
    assert_eq!(body["total"], 0);
    // The address is free again.
    let (status, _) = call(
        reqwest::Method::POST,
        &http,
        "/inboxes",
        &key,
        Some(json!({"address": "agent"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    fixture.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_fixture_endpoints_do_not_exist_outside_a_fixture() {
    let app = crate::helpers::TestApp::spawn().await;
    for (method, path) in [
        (reqwest::Method::GET, "/_fixture/outbox"),
        (reqwest::Method::POST, "/_fixture/reset"),
    ] {
        let res = app.request(method, path).send().await.unwrap();
        crate::helpers::assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

#[tokio::test]
async fn a_seeded_fixture_starts_with_its_seed_and_a_reset_returns_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("seed.toml");
    let other_key = format!("ask_{}", "o".repeat(40));
    std::fs::write(
        &path,
        format!(
            r#"
domains = [{{ name = "seeded.example" }}]
inboxes = [{{ address = "agent" }}, {{ address = "support@agentsend.localhost", displayName = "Support" }}, {{ address = "hello@seeded.example" }}]
webhooks = [{{ url = "http://127.0.0.1:9/hook", events = ["message.received"] }}]

[[accounts]]
name = "Other team"
email = "other@example.com"
apiKey = "{other_key}"
inboxes = [{{ address = "other" }}]
"#
        ),
    )
    .unwrap();
    let domain = agentsend::domain::DomainName::parse("agentsend.localhost").unwrap();
    let seed = agentsend::seed::Seed::load(&path, &domain).unwrap();
    let options = agentsend::fixture::FixtureOptions {
        seed: Some(seed),
        ..Default::default()
    };
    let fixture = Fixture::start_with(agentsend::Config::default(), options)
        .await
        .unwrap();
    let (http, key) = (fixture.http().to_owned(), fixture.api_key().to_owned());
    let seeded: Vec<&String> = fixture.ready().inboxes.keys().collect();
    assert_eq!(
        seeded,
        [
            "agent@agentsend.localhost",
            "hello@seeded.example",
            "other@agentsend.localhost",
            "support@agentsend.localhost"
        ]
    );
    let list = |key: String, path: &'static str| {
        let http = http.clone();
        async move {
            let (status, body) = call(reqwest::Method::GET, &http, path, &key, None).await;
            assert_eq!(status, StatusCode::OK);
            body
        }
    };
    let inboxes = list(key.clone(), "/inboxes").await;
    assert_eq!(inboxes["total"], 3);
    let domains = list(key.clone(), "/domains").await;
    assert_eq!(domains["total"], 1);
    assert_eq!(domains["data"][0]["sendingStatus"], "verified");
    assert_eq!(domains["data"][0]["receivingStatus"], "verified");
    assert_eq!(list(other_key.clone(), "/inboxes").await["total"], 1);
    let hooks = list(key.clone(), "/webhooks").await;
    assert_eq!(hooks["total"], 1);
    assert_eq!(hooks["data"][0]["url"], "http://127.0.0.1:9/hook");

    // A test adds to it; the reset goes back to the seed.
    let (status, _) = call(
        reqwest::Method::POST,
        &http,
        "/inboxes",
        &key,
        Some(json!({"address": "extra"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let reset: Value = client()
        .post(format!("{http}/_fixture/reset"))
        .bearer_auth(&fixture.ready().fixture_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reset["inboxes"].as_object().unwrap().len(), 4);
    assert_eq!(list(key.clone(), "/inboxes").await["total"], 3);
    assert_eq!(list(key.clone(), "/domains").await["total"], 1);
    assert_eq!(
        list(other_key, "/inboxes").await["total"],
        1,
        "its key works again"
    );
    fixture.shutdown().await.unwrap();
}

#[test]
fn a_bad_seed_file_names_the_file_the_line_and_the_field_and_nothing_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        (
            "seed.json",
            "{\n  \"inboxes\": [\n    {\"address\": \"two words\"}\n  ]\n}\n",
            "inboxes[0].address",
        ),
        (
            "seed.toml",
            "inboxes = []\n\n[[accounts]]\nname = \"A\"\nmail = \"a@example.com\"\n",
            "line 5",
        ),
        (
            "elsewhere.json",
            "{\"inboxes\": [{\"address\": \"agent@example.com\"}]}",
            "example.com is not a domain of this server",
        ),
        (
            "twice.json",
            "{\"inboxes\": [{\"address\": \"agent\"}], \"accounts\": [{\"name\": \"A\", \"email\": \"a@example.com\", \"apiKey\": \"ask_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"inboxes\": [{\"address\": \"AGENT@agentsend.localhost\"}]}]}",
            "accounts[0].inboxes[0].address: agent@agentsend.localhost is given twice",
        ),
        (
            "key.json",
            "{\"accounts\": [{\"name\": \"A\", \"email\": \"a@example.com\", \"apiKey\": \"ask_x\"}]}",
            "accounts[0].apiKey",
        ),
    ];
    for (name, text, expected) in cases {
        let path = tmp.path().join(name);
        std::fs::write(&path, text).unwrap();
        let out = agentsend(tmp.path())
            .args(["fixture", "--seed", path.to_str().unwrap()])
            .env("TMPDIR", tmp.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{name}");
        assert!(out.stdout.is_empty(), "{name}: no ready line");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(name), "{name}: names the file: {err}");
        assert!(err.contains(expected), "{name}: {expected:?} in {err}");
    }
    assert!(fixture_dirs(tmp.path()).is_empty());
}

#[tokio::test]
async fn serve_takes_the_same_key_and_seed_on_a_new_database() {
    let tmp = tempfile::tempdir().unwrap();
    let seed = tmp.path().join("seed.json");
    std::fs::write(&seed, r#"{"inboxes": [{"address": "dev"}]}"#).unwrap();
    let key = format!("ask_{}", "d".repeat(40));
    let mut child = agentsend(tmp.path())
        .args(["serve", "--db", "dev.db", "--listen", "127.0.0.1:0"])
        .args(["--smtp-listen", "127.0.0.1:0", "--api-key", &key])
        .args(["--seed", seed.to_str().unwrap()])
        .env("AGENTSEND_LOG_LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let base = loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "the server starts");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split(' ').next().unwrap().to_owned();
        }
    };
    let (status, inboxes) = call(reqwest::Method::GET, &base, "/inboxes", &key, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inboxes["total"], 1);
    assert_eq!(inboxes["data"][0]["address"], "dev@agentsend.localhost");
    crate::process::terminate(&mut child);
}

#[test]
fn with_stdin_from_dev_null_a_fixture_runs_until_sigterm_and_then_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let mut child = agentsend(tmp.path())
        .arg("fixture")
        .env("TMPDIR", tmp.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    // Ready, and still serving although stdin is at its end.
    let http = ready["http"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://");
    assert!(TcpStream::connect(http).is_ok());
    assert!(child.try_wait().unwrap().is_none());
    assert_eq!(fixture_dirs(tmp.path()).len(), 1);
    crate::process::terminate(&mut child);
    assert!(fixture_dirs(tmp.path()).is_empty(), "SIGTERM cleans up too");
}
