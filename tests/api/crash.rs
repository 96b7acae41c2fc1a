//! Promises kept across crashes: the real binary is killed with SIGKILL in the middle of its
//! work and started again on the same database file.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{client, eventually};
use crate::process::{Server, agentsend, wait_for};

/// A client for a server process with `key`.
struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl Api {
    fn new(server: &Server, key: &str) -> Self {
        Self {
            base: server.base.clone(),
            key: key.to_owned(),
            http: client(),
        }
    }

    fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .timeout(Duration::from_secs(30))
            .json(body)
    }

    async fn get(&self, path: &str) -> Value {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    async fn inbox(&self, address: &str) -> String {
        let res = self
            .post("/inboxes", &json!({ "address": address }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        res.json::<Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits until every message of an inbox (at most 100) is delivered.
    async fn wait_until_all_delivered(&self, inbox: &str) {
        eventually("every stored send to be delivered", || async {
            let page = self
                .get(&format!("/inboxes/{inbox}/messages?limit=100"))
                .await;
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["status"] == "delivered")
                .then_some(())
        })
        .await;
    }

    /// Every message of an inbox (at most 100), by subject.
    async fn subjects(&self, inbox: &str) -> HashMap<String, Vec<Value>> {
        let page = self
            .get(&format!("/inboxes/{inbox}/messages?limit=100"))
            .await;
        let mut by_subject: HashMap<String, Vec<Value>> = HashMap::new();
        for m in page["data"].as_array().unwrap() {
            by_subject
                .entry(m["subject"].as_str().unwrap().to_owned())
                .or_default()
                .push(m.clone());
        }
        by_subject
    }
}

fn send_body(to: &str, n: usize) -> Value {
    json!({"to": [to], "subject": format!("crash {n}"), "bodyText": "Sent once, whatever happens."})
}

/// Sends `n` messages at once; once `kill_after` of them have been answered, calls `kill`
/// while the rest are still on their way.
async fn sends_cut_short(
    api: &Api,
    inbox: &str,
    to: &str,
    n: usize,
    kill_after: usize,
    keys: bool,
    kill: impl FnOnce(),
) {
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..n {
        let mut req = api.post(&format!("/inboxes/{inbox}/messages"), &send_body(to, i));
        if keys {
            req = req.header("idempotency-key", format!("send-{i}"));
        }
        let answered = answered.clone();
        tasks.push(tokio::spawn(async move {
            let ok = req
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::ACCEPTED);
            answered.fetch_add(1, Ordering::SeqCst);
            ok
        }));
    }
    eventually("the first sends to be answered", || async {
        (answered.load(Ordering::SeqCst) >= kill_after).then_some(())
    })
    .await;
    kill();
    for task in tasks {
        let _ = task.await;
    }
}

#[tokio::test]
async fn idempotent_sends_cut_short_by_a_crash_happen_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let key = server.first_key();
    let api = Api::new(&server, &key);
    let inbox = api.inbox("sender").await;
    const N: usize = 60;
    sends_cut_short(&api, &inbox, "someone@example.com", N, 5, true, || {
        server.kill()
    })
    .await;

    let server = Server::start(dir.path(), &[]);
    let api = Api::new(&server, &key);
    // Every retry is answered at once: replayed if its send committed before the crash, run
    // now if not. None is left "in use" by the dead process.
    let mut replayed = 0;
    for i in 0..N {
        let res = api
            .post(
                &format!("/inboxes/{inbox}/messages"),
                &send_body("someone@example.com", i),
            )
            .header("idempotency-key", format!("send-{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED, "retry of send {i}");
        replayed += usize::from(res.headers().contains_key("idempotent-replayed"));
    }
    assert!(
        replayed >= 5,
        "the answered sends are replayed ({replayed})"
    );
    let subjects = api.subjects(&inbox).await;
    for i in 0..N {
        let copies = subjects.get(&format!("crash {i}")).map_or(0, Vec::len);
        assert_eq!(copies, 1, "send {i} exists exactly once");
    }
    server.stop();
}

#[tokio::test]
async fn local_deliveries_cut_short_by_a_crash_arrive_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let key = server.first_key();
    let api = Api::new(&server, &key);
    let sender = api.inbox("sender").await;
    let _recipient = api.inbox("recipient").await;
    const N: usize = 40;
    // Killed while the send worker delivers the accepted ones.
    sends_cut_short(
        &api,
        &sender,
        "recipient@agentsend.localhost",
        N,
        N / 2,
        false,
        || server.kill(),
    )
    .await;

    let server = Server::start(dir.path(), &[]);
    let api = Api::new(&server, &key);
    let sent = api.subjects(&sender).await;
    api.wait_until_all_delivered(&sender).await;
    let recipient = api.get("/inboxes?limit=100").await["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["address"] == "recipient@agentsend.localhost")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let received = api.subjects(&recipient).await;
    assert_eq!(
        received.len(),
        sent.len(),
        "one copy of every accepted send"
    );
    for (subject, copies) in &received {
        assert_eq!(
            copies.len(),
            1,
            "{subject} delivered {} times",
            copies.len()
        );
        assert!(sent.contains_key(subject));
    }
    server.stop();
}

#[tokio::test]
async fn a_send_claimed_when_the_server_died_is_taken_up_at_the_next_start() {
    // A relay that accepts connections and never says a word: the send stays claimed.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in silent.incoming().map_while(Result::ok) {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let relay = [
        ("AGENTSEND_OUTBOUND_MODE", "relay"),
        ("AGENTSEND_OUTBOUND_RELAY_HOST", "127.0.0.1"),
        ("AGENTSEND_OUTBOUND_RELAY_PORT", port.as_str()),
        ("AGENTSEND_OUTBOUND_RELAY_SECURITY", "none"),
    ];
    let server = Server::start(dir.path(), &relay);
    let key = server.first_key();
    let api = Api::new(&server, &key);
    let inbox = api.inbox("sender").await;
    let res = api
        .post(
            &format!("/inboxes/{inbox}/messages"),
            &send_body("someone@example.com", 0),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually("the send to be claimed", || async {
        (api.get(&format!("/messages/{id}")).await["status"] == "sending").then_some(())
    })
    .await;
    server.kill();

    // Its lease has 15 minutes to run; the next start takes it up at once.
    let server = Server::start(dir.path(), &[("AGENTSEND_OUTBOUND_MODE", "dry-run")]);
    let api = Api::new(&server, &key);
    eventually("the send to go out", || async {
        (api.get(&format!("/messages/{id}")).await["status"] == "sent").then_some(())
    })
    .await;
    assert!(
        server
            .startup_log
            .iter()
            .any(|l| l.contains("taken up now")),
        "{:?}",
        server.startup_log
    );
    server.stop();
}

#[tokio::test]
async fn a_second_server_on_the_same_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let out = agentsend(dir.path())
        .args(["--listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("already running"), "{stderr}");
    // The first one is unharmed.
    let res = client()
        .get(format!("{}/health", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.stop();
}

#[tokio::test]
async fn the_token_of_a_claim_link_never_reaches_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let res = client()
        .post(format!("{}/auth/auto-provision", server.base))
        .json(&json!({"deviceId": "crash-test-device"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let body: Value = res.json().await.unwrap();
    let claim_url = body["claimUrl"].as_str().unwrap().to_owned();
    let token = claim_url.rsplit('/').next().unwrap().to_owned();
    let res = client().get(&claim_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let line = wait_for(&server.err, "GET /claim/");
    assert!(line.contains("/claim/[redacted]"), "{line}");
    let log = server.stop_and_read_log();
    assert!(!log.contains(&token), "the claim token was logged: {log}");
}

/// Freed buffers of large messages go back to the system (see `tune_allocator` in `main.rs`).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[tokio::test]
async fn the_server_runs_with_a_fixed_mmap_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let environ = std::fs::read(format!("/proc/{}/environ", server.pid())).unwrap();
    let vars: Vec<&[u8]> = environ.split(|b| *b == 0).collect();
    assert!(
        vars.contains(&&b"GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072"[..]),
        "{}",
        String::from_utf8_lossy(&environ)
    );
    server.stop();
    // An operator's own setting is kept.
    let server = Server::start(
        dir.path(),
        &[("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")],
    );
    let environ = std::fs::read(format!("/proc/{}/environ", server.pid())).unwrap();
    assert!(String::from_utf8_lossy(&environ).contains("GLIBC_TUNABLES=glibc.malloc.arena_max=2"));
    server.stop();
}

/// Two server processes on one PostgreSQL database (run when the suite runs on PostgreSQL):
/// one is killed while both take sends; whatever it had accepted or claimed is done by the
/// other once its leases run out, and nothing is done twice.
#[tokio::test]
async fn a_node_killed_under_load_loses_nothing_and_its_claims_go_to_the_other_once() {
    let Some(database) = crate::backend::extra_database() else {
        return;
    };
    let env = [
        ("AGENTSEND_DATABASE_URL", database.url()),
        // A dead node's claimed sends are taken over after 4 s.
        ("AGENTSEND_OUTBOUND_TIMEOUT_SECS", "1"),
        ("AGENTSEND_OUTBOUND_LEASE_SECS", "4"),
        ("AGENTSEND_LIMITS_INBOX_DAILY_SEND_LIMIT", "100000"),
        ("AGENTSEND_LIMITS_ACCOUNT_DAILY_SEND_LIMIT", "100000"),
    ];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Server::start(dir_a.path(), &env);
    let key = a.first_key();
    let b = Server::start(dir_b.path(), &env);
    let (api_a, api_b) = (Api::new(&a, &key), Api::new(&b, &key));
    let sender = api_a.inbox("sender").await;
    let recipient = api_b.inbox("recipient").await;
    const N: usize = 30;
    let to = "recipient@agentsend.localhost";

    // Node B takes sends of its own all along (subjects "crash 1000"…); node A is killed
    // once half of its sends have been answered, its worker delivering some of them.
    let on_b: Vec<_> = (1000..1000 + N)
        .map(|i| {
            let req = api_b.post(&format!("/inboxes/{sender}/messages"), &send_body(to, i));
            tokio::spawn(async move {
                let res = req.send().await.unwrap();
                assert_eq!(res.status(), StatusCode::ACCEPTED, "node B's send {i}");
                format!("crash {i}")
            })
        })
        .collect();
    sends_cut_short(&api_a, &sender, to, N, N / 2, false, || a.kill()).await;
    let mut accepted_by_b = Vec::new();
    for task in on_b {
        accepted_by_b.push(task.await.unwrap());
    }

    // Everything stored, by either node, is delivered by node B alone...
    api_b.wait_until_all_delivered(&sender).await;
    let sent = api_b.subjects(&sender).await;
    let received = api_b.subjects(&recipient).await;
    // ...nothing node B accepted is lost, nothing is stored or delivered twice...
    for subject in &accepted_by_b {
        assert!(
            sent.contains_key(subject),
            "{subject} was accepted and lost"
        );
    }
    assert!(sent.len() >= N + N / 2, "node A's answered sends are kept");
    assert_eq!(received.len(), sent.len(), "one copy of every send");
    for (subject, copies) in sent.iter().chain(&received) {
        assert_eq!(copies.len(), 1, "{subject}: {} copies", copies.len());
    }
    // ...and node B carries on.
    let res = api_b
        .post(&format!("/inboxes/{sender}/messages"), &send_body(to, 9999))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    b.stop();
}
