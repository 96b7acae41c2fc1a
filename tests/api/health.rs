use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, assert_error, eventually, is_iso_timestamp, json};

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

#[tokio::test]
async fn a_component_that_dies_stops_the_server_with_an_error_naming_it() {
    for component in ["smtp", "sends", "webhooks", "janitor", "http"] {
        let mut app = TestApp::spawn().await;
        eventually("the components to start", || async {
            app.tasks.started(component).then_some(())
        })
        .await;
        assert!(app.tasks.abort(component));
        let ended = app.stopped().await;
        let why = format!("{:#}", ended.expect_err("the server stops with an error"));
        assert!(why.contains(component), "{component}: {why}");
        assert_eq!(app.state.components.down(), [component]);
        if component != "smtp" {
            // Everything else was shut down with it: the SMTP listener is closed.
            assert!(tokio::net::TcpStream::connect(app.smtp).await.is_err());
        }
    }
}

#[tokio::test]
async fn health_names_the_components_that_are_down() {
    let app = TestApp::spawn().await;
    app.state
        .components
        .mark_down("smtp", "test: the listener stopped".to_owned());
    let res = app.anonymous(Method::GET, "/health").send().await.unwrap();
    let body = assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
    assert_eq!(
        body["error"]["details"],
        serde_json::json!({"smtp": ["stopped"]})
    );
}

#[tokio::test]
async fn ready_reports_every_component_and_the_writable_database() {
    let app = TestApp::spawn().await;
    let body = eventually("the server to be ready", || async {
        let (status, body) = json(app.anonymous(Method::GET, "/ready").send().await.unwrap()).await;
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    assert_eq!(body["status"], "ready");
    assert!(is_iso_timestamp(&body["timestamp"]), "{body}");
    for component in [
        "database", "http", "smtp", "sends", "webhooks", "janitor", "drafts",
    ] {
        assert_eq!(body["components"][component], "ok", "{component}: {body}");
    }
    let (status, health) = json(app.anonymous(Method::GET, "/health").send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["components"]["database"], "ok", "{health}");
}

#[tokio::test]
async fn ready_is_503_naming_a_stopped_component_while_the_others_stay_ok() {
    let app = TestApp::spawn().await;
    eventually("the components to start", || async {
        app.tasks.started("webhooks").then_some(())
    })
    .await;
    app.state
        .components
        .mark_down("webhooks", "test: the worker stopped".to_owned());
    let res = app.anonymous(Method::GET, "/ready").send().await.unwrap();
    let body = assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
    assert_eq!(
        body["error"]["details"],
        serde_json::json!({"webhooks": ["stopped"]})
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Not ready"),
        "{body}"
    );
}
