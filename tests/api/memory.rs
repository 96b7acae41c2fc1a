//! The memory budget (`limits.max_buffered_bytes`) counts what data really costs at its peak.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, json};
use crate::smtp_client::send_mail;

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_received_message_counts_four_times_its_size() {
    let app = TestApp::spawn_with(|c| {
        c.smtp.max_message_size = MIB;
        c.limits.max_buffered_bytes = 10 * MIB;
    })
    .await;
    app.create_inbox(json!({"address": "bob"})).await;
    // Others hold all but 2 MiB: room for a 700 KB message once, not four times over.
    let mut others = app.state.memory.reservation();
    assert!(others.grow_to(8 * MIB));
    let mail = format!("Subject: big\r\n\r\n{}\r\n", "z".repeat(700_000));
    let (code, text) = send_mail(
        app.smtp,
        "ada@example.com",
        &["bob@agentsend.localhost"],
        mail.as_bytes(),
    )
    .await;
    assert_eq!(code, 452, "{text}");
    assert!(text.starts_with("4.3.1"), "{text}");
    drop(others);
    let (code, text) = send_mail(
        app.smtp,
        "ada@example.com",
        &["bob@agentsend.localhost"],
        mail.as_bytes(),
    )
    .await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(app.state.memory.in_use(), 0, "given back once stored");
}

#[tokio::test]
async fn json_bodies_count_against_the_budget_too() {
    let app = TestApp::spawn_with(|c| c.limits.max_buffered_bytes = 10 * MIB).await;
    let mut others = app.state.memory.reservation();
    assert!(others.grow_to(8 * MIB));
    // 1 MB of JSON, counted three times (bytes, parsed tree, typed value).
    let body = json!({"displayName": "n".repeat(MIB)});
    let res = app
        .request(Method::POST, "/inboxes")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["retry-after"], "5");
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY").await;
    drop(others);
    // With room, the body is read and judged (the name is too long).
    let (status, error) = json(
        app.request(Method::POST, "/inboxes")
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(app.state.memory.in_use(), 0, "given back after the request");
}
