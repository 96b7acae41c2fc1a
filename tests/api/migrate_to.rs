//! `agentsend db migrate-to`: an SQLite server's whole database moved into PostgreSQL by the
//! real binary, then served from there with everything the API showed before; and what the
//! command refuses. The move itself needs a PostgreSQL server (`AGENTSEND_TEST_DATABASE_URL`);
//! without one it returns at once (the run's summary says so, `tools::`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::cli::{run, stdout};
use crate::helpers::{TestApp, json};
use crate::process::Server;
use crate::receiver::{Receiver, Reply};
use crate::smtp_client::send_mail;

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn migrate(dir: &Path, db: &str, url: &str) -> Output {
    run(dir, &["--db", db, "db", "migrate-to", url])
}

/// The API of a running server, as one key sees it.
struct Api {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl Api {
    fn new(base: &str, key: &str) -> Api {
        Api {
            base: base.to_owned(),
            key: key.to_owned(),
            client: crate::helpers::client(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .timeout(std::time::Duration::from_secs(30))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = json(self.request(Method::GET, path).send().await.unwrap()).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn bytes(&self, path: &str) -> Vec<u8> {
        let res = self.request(Method::GET, path).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.bytes().await.unwrap().to_vec()
    }

    async fn post(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        json(
            self.request(Method::POST, path)
                .json(body)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// The idempotent request of the test, its status, replay header and body bytes.
    async fn idempotent_inbox(&self) -> (StatusCode, Option<String>, Vec<u8>) {
        let res = self
            .request(Method::POST, "/inboxes")
            .header("idempotency-key", "migrate-1")
            .json(&json!({"address": "idem"}))
            .send()
            .await
            .unwrap();
        let replayed = res
            .headers()
            .get("idempotent-replayed")
            .map(|v| v.to_str().unwrap().to_owned());
        (res.status(), replayed, res.bytes().await.unwrap().to_vec())
    }
}

/// What the API shows of everything the test made: every list and item as JSON (signed
/// links, which name the server's address and an expiry, left out), and the stored bytes of
/// every message's source and every attachment.
async fn everything(api: &Api) -> BTreeMap<String, Value> {
    let mut views = BTreeMap::new();
    let mut paths = vec![
        "/account".to_owned(),
        "/inboxes".to_owned(),
        "/webhooks".to_owned(),
        "/messages/search?q=zeppelin".to_owned(),
        "/messages/search?q=lighthouse".to_owned(),
    ];
    let inboxes = api.get("/inboxes").await;
    for inbox in inboxes["data"].as_array().unwrap() {
        let inbox = id(inbox);
        paths.push(format!("/inboxes/{inbox}"));
        paths.push(format!("/inboxes/{inbox}/threads"));
        paths.push(format!("/inboxes/{inbox}/messages?label=unread"));
        let messages = api.get(&format!("/inboxes/{inbox}/messages")).await;
        paths.push(format!("/inboxes/{inbox}/messages"));
        for m in messages["data"].as_array().unwrap() {
            paths.push(format!("/messages/{}", id(m)));
            paths.push(format!("/messages/{}/recipients", id(m)));
            paths.push(format!(
                "/threads/{}/messages",
                m["threadId"].as_str().unwrap()
            ));
            let raw = api.bytes(&format!("/messages/{}/raw", id(m))).await;
            views.insert(format!("/messages/{}/raw", id(m)), json!(raw));
            for a in m["attachments"].as_array().unwrap() {
                let path = format!("/attachments/{}/content", id(a));
                views.insert(path.clone(), json!(api.bytes(&path).await));
            }
        }
    }
    let webhooks = api.get("/webhooks").await;
    for w in webhooks["data"].as_array().unwrap() {
        paths.push(format!("/webhooks/{}/deliveries", id(w)));
    }
    for path in paths {
        let mut view = api.get(&path).await;
        unsigned(&mut view);
        views.insert(path, view);
    }
    views
}

/// `v` without its signed links (`url`, `downloadUrl`, ...): they carry the server's address.
fn unsigned(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|k, _| !k.to_ascii_lowercase().ends_with("url"));
            for value in map.values_mut() {
                unsigned(value);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unsigned),
        _ => {}
    }
}

/// A message from outside, over SMTP.
async fn deliver(app: &TestApp, from: &str, to: &str, rest: &str) {
    let data = format!("From: {from}\r\nTo: {to}\r\n{rest}");
    let (code, text) = send_mail(app.smtp, from, &[to], data.as_bytes()).await;
    assert_eq!(code, 250, "{text}");
}

#[tokio::test]
async fn an_sqlite_database_moves_to_postgresql_whole_verified_and_served_from_there() {
    let Some(target) = crate::backend::extra_database() else {
        return;
    };
    // The source: a server on an SQLite file whatever the suite runs on.
    let mut app = TestApp::spawn_with(|c| c.database.url.clear()).await;
    let receiver = Receiver::start(Reply::Status(200, "thanks")).await;
    let (status, webhook) = json(app.post("/webhooks", &json!({"url": receiver.url})).await).await;
    assert_eq!(status, StatusCode::CREATED, "{webhook}");
    let ada = app.create_inbox(json!({"address": "ada"})).await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let (to_ada, to_bob) = (
        ada["address"].as_str().unwrap(),
        bob["address"].as_str().unwrap(),
    );
    for i in 0..3 {
        deliver(
            &app,
            "grace@navy.example",
            to_ada,
            &format!("Subject: Note {i}\r\n\r\nThe lighthouse keeps watch, note {i}.\r\n"),
        )
        .await;
    }
    // An attachment of every byte value, several times over.
    let attachment: Vec<u8> = (0..4096u32).map(|i| (i * 7 % 256) as u8).collect();
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&attachment);
    deliver(
        &app,
        "ken@bell.example",
        to_ada,
        &format!(
            "Subject: Report attached\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
             --m\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Caf\u{e9} report</p>\r\n\
             --m\r\nContent-Type: application/octet-stream\r\n\
             Content-Disposition: attachment; filename=\"data.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{encoded}\r\n--m--\r\n"
        ),
    )
    .await;
    // A sent message, delivered to the other inbox on this server.
    let (status, sent) = json(
        app.post(
            &format!("/inboxes/{}/messages", id(&ada)),
            &json!({"to": [to_bob], "subject": "Zeppelin schedule",
                    "bodyText": "It departs at dawn."}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    app.settle_sends().await;
    // Labels: one message read and tagged.
    let first = json(app.get(&format!("/inboxes/{}/messages", id(&ada))).await)
        .await
        .1["data"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    let (status, labelled) = json(
        app.patch(
            &format!("/messages/{}", id(&first)),
            &json!({"addLabels": ["read", "crm:lead.42"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{labelled}");
    app.settle_webhooks().await;
    let sqlite = Api::new(&app.base, &app.key);
    let (status, replayed, idempotent) = sqlite.idempotent_inbox().await;
    assert_eq!((status, replayed), (StatusCode::CREATED, None));
    let before = everything(&sqlite).await;
    assert_eq!(before["/inboxes"]["total"], 3, "{}", before["/inboxes"]);
    assert!(
        !webhook_deliveries(&before).is_empty(),
        "the webhook had deliveries"
    );
    let (db, dir) = (app.db_path().display().to_string(), app.dir());

    // Not while the server runs on the file.
    let refused = migrate(&dir, &db, target.url());
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("already running"),
        "{}",
        stderr(&refused)
    );
    app.shutdown().await;

    // A target that has the schema and nothing else (a server opened it, or a copy failed)
    // is taken.
    stdout(&run(&dir, &["--db", target.url(), "accounts", "list"]));
    let out = stdout(&migrate(&dir, &db, target.url()));
    assert!(
        out.contains("verified: row counts of 25 tables equal"),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("messages ") && l.contains(" 6 rows")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.trim_start().starts_with("message_search") && l.contains(" 6 rows")),
        "{out}"
    );

    // Once it holds data, never again: nothing changes.
    let again = migrate(&dir, &db, target.url());
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already holds AgentSend data (rows in accounts"),
        "{}",
        stderr(&again)
    );

    // A server on PostgreSQL shows the same, with the same key.
    let server = Server::start(&dir, &[("AGENTSEND_DATABASE_URL", target.url())]);
    let pg = Api::new(&server.base, &app.key);
    let after = everything(&pg).await;
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (path, view) in &before {
        assert_eq!(view, &after[path], "GET {path} differs after the move");
    }
    let search = &after["/messages/search?q=lighthouse"];
    assert_eq!(search["data"].as_array().unwrap().len(), 3, "{search}");
    let unread = &after[&format!("/inboxes/{}", id(&ada))];
    assert_eq!(unread["unreadCount"], 3, "{unread}");
    let raw = &after[&format!("/messages/{}/raw", id(&first))];
    assert!(
        String::from_utf8(serde_json::from_value::<Vec<u8>>(raw.clone()).unwrap())
            .unwrap()
            .contains("lighthouse"),
    );
    let content: Vec<Value> = after
        .iter()
        .filter(|(p, _)| p.ends_with("/content"))
        .map(|(_, v)| v.clone())
        .collect();
    assert_eq!(content, [json!(attachment)]);

    // The idempotent request replays there; new rows follow the copied ones.
    assert_eq!(
        pg.idempotent_inbox().await,
        (StatusCode::CREATED, Some("true".to_owned()), idempotent)
    );
    let (status, sent) = pg
        .post(
            &format!("/inboxes/{}/messages", id(&ada)),
            &json!({"to": [to_bob], "subject": "Second zeppelin",
                    "bodyText": "Again at dawn."}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let found = crate::helpers::eventually("the new message delivered and found", || async {
        let page = pg.get("/messages/search?q=zeppelin").await;
        (page["data"].as_array().unwrap().len() == 4).then_some(page)
    })
    .await;
    assert_eq!(found["data"][0]["subject"], "Second zeppelin", "{found}");
    server.stop();
}

/// The deliveries the webhook's list showed.
fn webhook_deliveries(views: &BTreeMap<String, Value>) -> Vec<Value> {
    views
        .iter()
        .filter(|(p, _)| p.ends_with("/deliveries"))
        .flat_map(|(_, v)| v["data"].as_array().unwrap().clone())
        .collect()
}

#[tokio::test]
async fn migrate_to_refuses_other_urls_a_missing_file_and_a_running_server() {
    let mut app = TestApp::spawn_with(|c| c.database.url.clear()).await;
    let (db, dir) = (app.db_path().display().to_string(), app.dir());
    // No PostgreSQL server is reached for these: nothing listens on port 1.
    let nowhere = "postgres://agentsend@127.0.0.1:1/agentsend";

    let running = migrate(&dir, &db, nowhere);
    assert!(!running.status.success());
    assert!(
        stderr(&running).contains("already running")
            && stderr(&running).contains("stop the server"),
        "{}",
        stderr(&running)
    );
    app.shutdown().await;

    for url in ["sqlite://other.db", "mysql://u@127.0.0.1/x", "other.db"] {
        let out = migrate(&dir, &db, url);
        assert!(!out.status.success(), "{url}");
        assert!(
            stderr(&out).contains("takes a PostgreSQL URL"),
            "{url}: {}",
            stderr(&out)
        );
    }
    assert!(!dir.join("other.db").exists());

    let missing = dir.join("missing.db").display().to_string();
    let out = migrate(&dir, &missing, nowhere);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no such SQLite database"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.join("missing.db").exists(), "the file is not created");

    let unreachable = migrate(&dir, &db, nowhere);
    assert!(!unreachable.status.success());
    assert!(
        stderr(&unreachable).contains("cannot open postgres://agentsend@127.0.0.1:1/agentsend"),
        "{}",
        stderr(&unreachable)
    );
}
