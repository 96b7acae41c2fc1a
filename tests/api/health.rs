use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, is_iso_timestamp, json};

#[tokio::test]
async fn health_answers_ok_with_a_timestamp_without_a_key() {
    let app = TestApp::spawn().await;
    let (status, body) = json(app.anonymous(Method::GET, "/health").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "ok");
    assert!(is_iso_timestamp(&body["timestamp"]), "{body}");
}

#[tokio::test]
async fn data_survives_a_restart_on_the_same_file() {
    let app = TestApp::spawn().await;
    let inbox = app
        .create_inbox(serde_json::json!({"address": "keeper", "displayName": "Keeper"}))
        .await;
    let app = app.restart().await;
    let (status, body) = json(
        app.get(&format!("/inboxes/{}", inbox["id"].as_str().unwrap()))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, inbox);
}

#[tokio::test]
async fn graceful_shutdown_checkpoints_the_write_ahead_log() {
    let mut app = TestApp::spawn().await;
    app.create_inbox(serde_json::json!({})).await;
    app.shutdown().await;
    let wal = app.db_path().with_extension("db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(
        wal_len, 0,
        "the WAL is checkpointed into the main file on shutdown"
    );
}
