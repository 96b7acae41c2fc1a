use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, is_iso_timestamp, json, random_uuid};

#[tokio::test]
async fn the_account_can_be_read_and_renamed() {
    let app = TestApp::spawn().await;
    let (status, account) = json(app.get("/account").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["id"], app.account_id);
    assert_eq!(account["plan"], "free");
    assert_eq!(account["dailySendLimit"], 1000);
    assert_eq!(account["isVerified"], false);
    assert!(is_iso_timestamp(&account["createdAt"]));

    let (status, changed) = json(
        app.patch(
            "/account",
            &json!({"name": "Ada", "email": "ada@example.com", "plan": "pro"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed["name"], "Ada");
    assert_eq!(changed["email"], "ada@example.com");
    assert_eq!(
        changed["plan"], "free",
        "the plan is not the client's to set"
    );

    let res = app
        .patch("/account", &json!({"email": "not an email", "name": ""}))
        .await;
    let err = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert!(
        err["error"]["details"]["email"].is_array() && err["error"]["details"]["name"].is_array()
    );
    let (_, unchanged) = json(app.get("/account").await).await;
    assert_eq!(unchanged["email"], "ada@example.com");
}

#[tokio::test]
async fn a_created_key_works_and_is_shown_only_once() {
    let app = TestApp::spawn().await;
    let (status, created) = json(app.post("/account/api-keys", &json!({"name": "ci"})).await).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = created["key"].as_str().unwrap();
    assert!(key.starts_with("ask_") && key.len() == 44, "{key}");
    assert_eq!(created["prefix"], &key[..12]);
    assert_eq!(created["name"], "ci");
    assert!(created["message"].is_string());

    let res = app
        .request_as(key, Method::GET, "/account")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let (_, list) = json(app.get("/account/api-keys").await).await;
    assert_eq!(list["total"], 2);
    let listed = &list["data"][0];
    assert_eq!(listed["id"], created["id"]);
    assert_eq!(listed["keyPrefix"], &key[..12]);
    assert!(is_iso_timestamp(&listed["lastUsedAt"]), "{listed}");
    assert_eq!(listed["expiresAt"], serde_json::Value::Null);
    assert!(
        !list.to_string().contains(key),
        "the secret is never listed"
    );
}

#[tokio::test]
async fn key_names_are_validated() {
    let app = TestApp::spawn().await;
    for name in [json!(""), json!("n".repeat(256)), json!("a\nb"), json!(7)] {
        let res = app.post("/account/api-keys", &json!({"name": name})).await;
        assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    }
    let (_, list) = json(app.get("/account/api-keys").await).await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn a_revoked_key_stops_working_with_the_next_request() {
    let app = TestApp::spawn().await;
    let (_, created) = json(app.post("/account/api-keys", &json!({})).await).await;
    let key = created["key"].as_str().unwrap();
    assert_eq!(
        app.request_as(key, Method::GET, "/inboxes")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    let res = app
        .delete(&format!(
            "/account/api-keys/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .request_as(key, Method::GET, "/inboxes")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;

    let (_, list) = json(app.get("/account/api-keys").await).await;
    assert_eq!(list["total"], 1, "revoked keys are not listed");
    let res = app
        .delete(&format!(
            "/account/api-keys/{}",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn a_key_can_revoke_itself() {
    let app = TestApp::spawn().await;
    let (_, created) = json(app.post("/account/api-keys", &json!({})).await).await;
    let key = created["key"].as_str().unwrap();
    let path = format!("/account/api-keys/{}", created["id"].as_str().unwrap());
    let res = app
        .request_as(key, Method::DELETE, &path)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .request_as(key, Method::GET, "/account")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}

#[tokio::test]
async fn another_accounts_key_cannot_be_seen_or_revoked() {
    let app = TestApp::spawn().await;
    let (_, other) = app.other_account().await;
    let (_, theirs) = json(
        app.request_as(&other, Method::GET, "/account/api-keys")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let their_key_id = theirs["data"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .delete(&format!("/account/api-keys/{their_key_id}"))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(
        app.request_as(&other, Method::GET, "/account")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let (_, mine) = json(app.get("/account/api-keys").await).await;
    assert_eq!(mine["total"], 1);
    assert_ne!(mine["data"][0]["id"], their_key_id.as_str());
    let res = app
        .delete(&format!("/account/api-keys/{}", random_uuid()))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let app = TestApp::spawn().await;
    let account_id: agentsend::domain::AccountId = app.account_id.parse().unwrap();
    let now = app.now();
    let expires = now.plus(std::time::Duration::from_secs(3600));
    let secret = app
        .state
        .store
        .write(move |c| {
            let new = agentsend::store::accounts::NewKey {
                expires_at: Some(expires),
                ..agentsend::store::accounts::NewKey::PLAIN
            };
            Ok(agentsend::store::accounts::create_api_key(c, account_id, new, now)?.1)
        })
        .await
        .unwrap();
    let key = secret.expose().to_owned();
    assert_eq!(
        app.request_as(&key, Method::GET, "/account")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    app.advance(std::time::Duration::from_secs(3601));
    let res = app
        .request_as(&key, Method::GET, "/account")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
}
