//! API key scopes: every endpoint needs one (`read`, `send`, `manage`, `approve`), a key
//! without it gets `403 INSUFFICIENT_SCOPE`, and a key never grants more than it has.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json};

/// What each operation needs. The test below also checks that this table names every
/// operation of the OpenAPI document, so a new endpoint cannot go without a row.
const TABLE: &[(&str, &str, &[&str])] = &[
    ("GET", "/health", &[]),
    ("GET", "/ready", &[]),
    ("GET", "/metrics", &[]),
    ("POST", "/inboxes", &["manage"]),
    ("GET", "/inboxes", &["read"]),
    ("GET", "/inboxes/{id}", &["read"]),
    ("PATCH", "/inboxes/{id}", &["manage"]),
    ("DELETE", "/inboxes/{id}", &["manage"]),
    ("POST", "/inboxes/{id}/messages", &["send"]),
    ("GET", "/inboxes/{id}/messages", &["read"]),
    ("GET", "/inboxes/{id}/messages/wait", &["read"]),
    ("POST", "/inboxes/{id}/drafts", &["send"]),
    ("GET", "/inboxes/{id}/drafts", &["read"]),
    ("GET", "/inboxes/{id}/drafts/{draftId}", &["read"]),
    ("PATCH", "/inboxes/{id}/drafts/{draftId}", &["send"]),
    ("DELETE", "/inboxes/{id}/drafts/{draftId}", &["send"]),
    ("GET", "/drafts/{id}", &["read"]),
    ("POST", "/drafts/{id}/send", &["send"]),
    ("POST", "/drafts/{id}/approve", &["approve"]),
    ("GET", "/messages/search", &["read"]),
    ("GET", "/inboxes/{id}/lists/{list}", &["read"]),
    ("POST", "/inboxes/{id}/lists/{list}", &["manage"]),
    ("DELETE", "/inboxes/{id}/lists/{list}/{entry}", &["manage"]),
    ("GET", "/messages/{id}", &["read"]),
    ("PATCH", "/messages/{id}", &["read", "manage"]),
    ("DELETE", "/messages/{id}", &["manage"]),
    ("GET", "/messages/{id}/raw", &["read"]),
    ("GET", "/messages/{id}/recipients", &["read"]),
    ("POST", "/messages/{id}/reply", &["send"]),
    ("POST", "/messages/{id}/forward", &["read", "send"]),
    ("GET", "/inboxes/{id}/threads", &["read"]),
    ("GET", "/threads/{id}", &["read"]),
    ("PATCH", "/threads/{id}", &["read", "manage"]),
    ("GET", "/threads/{id}/messages", &["read"]),
    ("POST", "/webhooks", &["read", "manage"]),
    ("GET", "/webhooks", &["read"]),
    ("GET", "/webhooks/{id}", &["read"]),
    ("PUT", "/webhooks/{id}", &["read", "manage"]),
    ("DELETE", "/webhooks/{id}", &["manage"]),
    ("GET", "/webhooks/{id}/deliveries", &["read"]),
    ("POST", "/webhooks/{id}/test", &["manage"]),
    ("GET", "/events", &["read"]),
    ("GET", "/ws", &["read"]),
    ("POST", "/domains", &["manage"]),
    ("GET", "/domains", &["read"]),
    ("GET", "/domains/{id}", &["read"]),
    ("DELETE", "/domains/{id}", &["manage"]),
    ("POST", "/domains/{id}/verify", &["manage"]),
    ("POST", "/attachments", &["send"]),
    ("GET", "/attachments/{id}", &["read"]),
    ("GET", "/attachments/{id}/content", &["read"]),
    ("GET", "/attachments/{id}/download", &[]),
    ("POST", "/auth/auto-provision", &[]),
    ("GET", "/claim/{token}", &[]),
    ("POST", "/claim/{token}", &[]),
    ("GET", "/account", &["read"]),
    ("PATCH", "/account", &["manage"]),
    ("POST", "/account/api-keys", &["manage"]),
    ("GET", "/account/api-keys", &["read"]),
    ("DELETE", "/account/api-keys/{id}", &["manage"]),
    ("GET", "/account/lists/{list}", &["read"]),
    ("POST", "/account/lists/{list}", &["manage"]),
    ("DELETE", "/account/lists/{list}/{entry}", &["manage"]),
];

const SCOPES: [&str; 4] = ["read", "send", "manage", "approve"];

/// A well-formed request body for an operation, so that the scope is what decides.
fn body_for(method: &str, path: &str) -> Option<Value> {
    let body = match (method, path) {
        ("POST", "/inboxes/{id}/messages") => {
            json!({"to": ["ada@example.com"], "subject": "Hi", "bodyText": "Hello"})
        }
        ("PATCH", "/inboxes/{id}") => json!({"displayName": "Renamed"}),
        ("POST", "/messages/{id}/reply") => json!({"bodyText": "Thanks"}),
        ("POST", "/messages/{id}/forward") => json!({"to": ["ada@example.com"]}),
        ("POST", p) if p.ends_with("/lists/{list}") => json!({"entry": "spam.example"}),
        ("PATCH", "/messages/{id}" | "/threads/{id}") => json!({"addLabels": ["todo"]}),
        ("POST", "/webhooks") | ("PUT", "/webhooks/{id}") => {
            json!({"url": "https://hooks.example.com/in", "events": ["message.received"]})
        }
        ("POST", "/domains") => json!({"domain": "scoped.example"}),
        ("PATCH", "/account") => json!({"name": "Renamed"}),
        ("POST", "/account/api-keys") => json!({"scopes": ["manage"]}),
        ("POST" | "PATCH" | "PUT", _) => json!({}),
        _ => return None,
    };
    Some(body)
}

/// The path with made-up ids (unknown ones: the scope is checked before the lookup).
fn concrete(path: &str) -> String {
    let id = "0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e";
    let p = path
        .replace("{id}", id)
        .replace("{draftId}", id)
        .replace("{list}", "block")
        .replace("{entry}", id)
        .replace("{token}", "nope");
    match p.as_str() {
        "/messages/search" => format!("{p}?q=hello"),
        _ => p,
    }
}

async fn call(app: &TestApp, key: &str, method: &str, path: &str) -> (StatusCode, Value) {
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = app.request_as(key, method.clone(), &concrete(path));
    if path == "/attachments" && method == Method::POST {
        req = req
            .header("content-type", "multipart/form-data; boundary=x")
            .body("");
    } else if let Some(body) = body_for(method.as_str(), path) {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    if path == "/events" && status == StatusCode::OK {
        // A stream that would not end: its status is the answer.
        return (status, Value::Null);
    }
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn every_endpoint_needs_its_scopes_and_a_key_without_one_gets_403() {
    let app = TestApp::spawn().await;
    let mut keys = std::collections::HashMap::new();
    for (method, path, needs) in TABLE.iter().filter(|(_, _, n)| !n.is_empty()) {
        for missing in *needs {
            let without: Vec<&str> = SCOPES.iter().copied().filter(|s| s != missing).collect();
            if !keys.contains_key(&without) {
                keys.insert(without.clone(), app.key_with_scopes(&without).await);
            }
            let (status, body) = call(&app, &keys[&without], method, path).await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {path} without {missing}: {body}"
            );
            assert_eq!(
                body["error"]["code"], "INSUFFICIENT_SCOPE",
                "{method} {path}"
            );
            let message = body["error"]["message"].as_str().unwrap();
            assert!(message.contains(&format!("`{missing}`")), "{message}");
        }
        let exactly: Vec<&str> = needs.to_vec();
        if !keys.contains_key(&exactly) {
            keys.insert(exactly.clone(), app.key_with_scopes(&exactly).await);
        }
        let (status, body) = call(&app, &keys[&exactly], method, path).await;
        assert!(
            status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
            "{method} {path} with just {needs:?}: {status} {body}"
        );
    }
}

#[tokio::test]
async fn the_scope_table_covers_every_operation_of_the_api() {
    let app = TestApp::spawn().await;
    let (_, doc) = json(
        app.anonymous(Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let tabled: BTreeSet<(String, String)> = TABLE
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    // `/_fixture/*` exists only in fixture mode, `/mcp` checks each tool's scope itself.
    let missing: Vec<_> = documented
        .difference(&tabled)
        .filter(|(_, p)| !p.starts_with("/_fixture") && p != "/mcp")
        .collect();
    assert!(
        missing.is_empty(),
        "operations without a scope row: {missing:?}"
    );
}

#[tokio::test]
async fn keys_are_created_with_default_scopes_and_never_more_than_their_creator() {
    let app = TestApp::spawn().await;
    let (status, created) = json(app.post("/account/api-keys", &json!({})).await).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["scopes"], json!(["read", "send", "manage"]));

    // The default key may not grant approve.
    let (status, body) = json(
        app.post("/account/api-keys", &json!({"scopes": ["read", "approve"]}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "INSUFFICIENT_SCOPE");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`approve`")
    );

    // A manage-only key cannot hand out read or the defaults.
    let manager = app.key_with_scopes(&["manage"]).await;
    for body in [json!({}), json!({"scopes": ["read"]})] {
        let res = app
            .request_as(&manager, Method::POST, "/account/api-keys")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{body}");
    }
    let res = app
        .request_as(&manager, Method::POST, "/account/api-keys")
        .json(&json!({"scopes": ["manage"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    // An approver can make another approver, and the new key's scopes are listed.
    let approver = app.key_with_scopes(&["read", "manage", "approve"]).await;
    let (status, created) = json(
        app.request_as(&approver, Method::POST, "/account/api-keys")
            .json(&json!({"name": "reviewer", "scopes": ["approve", "read"]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["scopes"], json!(["read", "approve"]));
    let (_, keys) = json(app.get("/account/api-keys?limit=100").await).await;
    let listed = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap();
    assert_eq!(listed["scopes"], json!(["read", "approve"]));

    // Bad scope lists are 400s naming `scopes`.
    for scopes in [
        json!([]),
        json!(["admin"]),
        json!(["read", "read"]),
        json!("read"),
    ] {
        let (status, body) = json(
            app.post("/account/api-keys", &json!({"scopes": scopes}))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{scopes}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("scopes"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_read_only_key_reads_but_cannot_send() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({})).await;
    let reader = app.key_with_scopes(&["read"]).await;
    let path = format!("/inboxes/{}/messages", inbox["id"].as_str().unwrap());
    let res = app
        .request_as(&reader, Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (status, body) = json(
        app.request_as(&reader, Method::POST, &path)
            .json(&json!({"to": ["ada@example.com"], "subject": "Hi", "bodyText": "Hello"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["error"]["message"],
        "This API key does not have the `send` scope this needs."
    );
    let (_, list) = json(app.get(&path).await).await;
    assert_eq!(list["total"], 0, "nothing was queued");
}

#[tokio::test]
async fn an_idempotent_answer_is_replayed_only_to_a_key_that_could_have_asked() {
    let app = TestApp::spawn().await;
    let reader = app.key_with_scopes(&["read"]).await;
    let manager = app.key_with_scopes(&["read", "manage"]).await;
    let body = json!({"name": "made by the manager", "scopes": ["read"]});
    let post = |key: &str, idempotency: &str| {
        app.request_as(key, Method::POST, "/account/api-keys")
            .header("idempotency-key", idempotency)
            .json(&body)
            .send()
    };

    // The manager's key is created; the reader retrying that request is refused, not
    // replayed (it would learn what the manager made), and the manager still gets its replay.
    let res = post(&manager, "k1").await.unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let (_, created) = json(res).await;
    let res = post(&reader, "k1").await.unwrap();
    assert!(res.headers().get("idempotent-replayed").is_none());
    let (status, refused) = json(res).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(refused["error"]["code"], "INSUFFICIENT_SCOPE");
    let res = post(&manager, "k1").await.unwrap();
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    let (status, replayed) = json(res).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replayed["id"], created["id"]);

    // The reader's refusal is not stored under the key for the manager to get back.
    let (status, _) = json(post(&reader, "k2").await.unwrap()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let res = post(&manager, "k2").await.unwrap();
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_eq!(res.status(), StatusCode::CREATED);
}
