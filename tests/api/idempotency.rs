use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json};

async fn post_with_key(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.request(Method::POST, "/inboxes")
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn inbox_total(app: &TestApp) -> u64 {
    json(app.get("/inboxes").await).await.1["total"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn a_retry_replays_the_stored_response_byte_for_byte_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let body = json!({"prefix": "idem"});
    let first = post_with_key(&app, "create-1", &body).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_body = first.bytes().await.unwrap();

    app.advance(Duration::from_secs(5));
    let retry = post_with_key(&app, "create-1", &body).await;
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(retry.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(
        retry.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert_eq!(retry.bytes().await.unwrap(), first_body);
    assert_eq!(inbox_total(&app).await, 1);
}

#[tokio::test]
async fn the_same_key_with_a_different_request_is_a_422() {
    let app = TestApp::spawn().await;
    assert_eq!(
        post_with_key(&app, "k", &json!({"prefix": "a"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    let res = post_with_key(&app, "k", &json!({"prefix": "b"})).await;
    assert_error(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    let res = app
        .request(Method::POST, "/account/api-keys")
        .header("idempotency-key", "k")
        .json(&json!({"prefix": "a"}))
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNPROCESSABLE_ENTITY,
        "IDEMPOTENCY_KEY_REUSED",
    )
    .await;
    assert_eq!(inbox_total(&app).await, 1);
}

#[tokio::test]
async fn invalid_idempotency_keys_are_a_400_and_run_nothing() {
    let app = TestApp::spawn().await;
    for key in [String::new(), "k".repeat(256), "k".repeat(300)] {
        let res = post_with_key(&app, &key, &json!({})).await;
        let err = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert!(
            err["error"]["details"]["Idempotency-Key"].is_array(),
            "{err}"
        );
    }
    let res = app
        .request(Method::POST, "/inboxes")
        .header(
            "idempotency-key",
            reqwest::header::HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert_eq!(inbox_total(&app).await, 0);
    assert_eq!(
        post_with_key(&app, &"k".repeat(255), &json!({}))
            .await
            .status(),
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn client_errors_are_stored_and_replayed_too() {
    let app = TestApp::spawn().await;
    let body = json!({"address": "-bad"});
    let res = post_with_key(&app, "bad-1", &body).await;
    assert_error(res, StatusCode::BAD_REQUEST, "INVALID_INBOX_LOCAL_PART").await;
    let res = post_with_key(&app, "bad-1", &body).await;
    assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
    assert_error(res, StatusCode::BAD_REQUEST, "INVALID_INBOX_LOCAL_PART").await;
}

#[tokio::test]
async fn a_server_error_is_not_stored_so_the_client_can_retry() {
    let app = TestApp::spawn().await;
    app.sql()
        .execute_batch("ALTER TABLE inboxes RENAME TO inboxes_away")
        .unwrap();
    let res = post_with_key(&app, "retry-me", &json!({"address": "later"})).await;
    assert_error(res, StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR").await;
    app.sql()
        .execute_batch("ALTER TABLE inboxes_away RENAME TO inboxes")
        .unwrap();
    let res = post_with_key(&app, "retry-me", &json!({"address": "later"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_eq!(inbox_total(&app).await, 1);
}

#[tokio::test]
async fn two_concurrent_identical_requests_create_exactly_one_inbox() {
    let app = TestApp::spawn_with(|c| c.http.workers = 2).await;
    let body = json!({"prefix": "race"});
    let requests = (0..12).map(|_| post_with_key(&app, "race-key", &body));
    let responses = futures_util::future::join_all(requests).await;
    let mut ids = Vec::new();
    for res in responses {
        match res.status() {
            StatusCode::CREATED => ids.push(json(res).await.1["id"].as_str().unwrap().to_owned()),
            StatusCode::CONFLICT => {
                assert_error(res, StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_USE").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!ids.is_empty());
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "every success is the same inbox: {ids:?}"
    );
    assert_eq!(inbox_total(&app).await, 1);
}

#[tokio::test]
async fn keys_expire_after_the_window_and_can_then_be_used_again() {
    let app = TestApp::spawn_with(|c| c.idempotency.window_secs = 3600).await;
    let body = json!({"prefix": "exp"});
    assert_eq!(
        post_with_key(&app, "daily", &body).await.status(),
        StatusCode::CREATED
    );
    app.advance(Duration::from_secs(3599));
    let res = post_with_key(&app, "daily", &body).await;
    assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
    app.advance(Duration::from_secs(2));
    let res = post_with_key(&app, "daily", &body).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.headers().get("idempotent-replayed").is_none());
    assert_eq!(inbox_total(&app).await, 2);

    // The janitor removes what has expired, and only that.
    app.advance(Duration::from_secs(3601));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.idempotency_keys, 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_account() {
    let app = TestApp::spawn().await;
    let (_, other) = app.other_account().await;
    let body = json!({"prefix": "scoped"});
    assert_eq!(
        post_with_key(&app, "shared-key", &body).await.status(),
        StatusCode::CREATED
    );
    let res = app
        .request_as(&other, Method::POST, "/inboxes")
        .header("idempotency-key", "shared-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert!(res.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn without_a_valid_api_key_the_answer_is_401_whatever_the_idempotency_key() {
    let app = TestApp::spawn().await;
    for key in ["", "fine-key"] {
        let res = app
            .anonymous(Method::POST, "/inboxes")
            .header("idempotency-key", key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    }
    assert_eq!(inbox_total(&app).await, 0);
}

#[tokio::test]
async fn a_replayed_response_never_shows_a_one_time_secret_and_none_is_stored() {
    let app = TestApp::spawn().await;
    let create = || {
        app.request(Method::POST, "/account/api-keys")
            .header("idempotency-key", "new-key-1")
            .json(&json!({"name": "ci"}))
            .send()
    };
    let (status, first) = json(create().await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = first["key"].as_str().unwrap().to_owned();
    let res = create().await.unwrap();
    assert_eq!(res.headers().get("idempotent-replayed").unwrap(), "true");
    let (status, replay) = json(res).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(replay["key"], Value::Null);
    assert_eq!(replay["id"], first["id"]);
    assert_eq!(replay["prefix"], first["prefix"]);
    let contains = if crate::backend::postgres() {
        "position(convert_to(?1, 'UTF8') in response_body) > 0"
    } else {
        "instr(CAST(response_body AS TEXT), ?1) > 0"
    };
    let stored: i64 = app
        .sql()
        .query_row(
            &format!("SELECT count(*) FROM idempotency_keys WHERE {contains}"),
            [key],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, 0, "only the key's hash is ever stored");
    let (_, keys) = json(app.get("/account/api-keys").await).await;
    assert_eq!(keys["total"], 2, "one key created, not two");
}
