use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, is_iso_timestamp, json, random_uuid};

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

#[tokio::test]
async fn an_inbox_without_an_address_gets_a_generated_one_on_the_shared_domain() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({})).await;
    let address = inbox["address"].as_str().unwrap();
    let (local, domain) = address.split_once('@').unwrap();
    assert_eq!(domain, "agentsend.localhost");
    let random = local.strip_prefix("agent-").unwrap();
    assert_eq!(random.len(), 8);
    assert!(
        random
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    );
    assert_eq!(inbox["status"], "active");
    assert_eq!(inbox["displayName"], Value::Null);
    assert_eq!(inbox["domainId"], Value::Null);
    assert_eq!(inbox["dailySendLimit"], 100);
    for counter in ["sendsToday", "totalSent", "bounceCount", "complaintCount"] {
        assert_eq!(inbox[counter], 0, "{counter}");
    }
    assert!(is_iso_timestamp(&inbox["createdAt"]) && is_iso_timestamp(&inbox["updatedAt"]));
    assert!(uuid::Uuid::parse_str(id(&inbox)).is_ok());
}

#[tokio::test]
async fn a_prefix_a_local_part_or_a_full_address_choose_the_address() {
    let app =
        TestApp::spawn_with(|c| c.mail.shared_domain = "mail.example.test".parse_domain()).await;
    let prefixed = app.create_inbox(json!({"prefix": "Support"})).await;
    let address = prefixed["address"].as_str().unwrap();
    assert!(
        address.starts_with("support-") && address.ends_with("@mail.example.test"),
        "{address}"
    );
    assert_eq!(
        address.len(),
        "support-".len() + 8 + "@mail.example.test".len()
    );

    let local = app.create_inbox(json!({"address": "Sales.Team"})).await;
    assert_eq!(local["address"], "sales.team@mail.example.test");

    let full = app
        .create_inbox(json!({"address": "billing@MAIL.example.test", "displayName": "Billing"}))
        .await;
    assert_eq!(full["address"], "billing@mail.example.test");
    assert_eq!(full["displayName"], "Billing");
}

trait ParseDomain {
    fn parse_domain(&self) -> agentsend::domain::DomainName;
}

impl ParseDomain for str {
    fn parse_domain(&self) -> agentsend::domain::DomainName {
        agentsend::domain::DomainName::parse(self).unwrap()
    }
}

#[tokio::test]
async fn bad_addresses_get_their_specific_codes_and_create_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({"address": "-bad"}), "INVALID_INBOX_LOCAL_PART"),
        (json!({"address": "has space"}), "INVALID_INBOX_LOCAL_PART"),
        (json!({"address": "a..b"}), "INVALID_INBOX_LOCAL_PART"),
        (
            json!({"address": "x".repeat(65)}),
            "INVALID_INBOX_LOCAL_PART",
        ),
        (json!({"address": "ok@example.com"}), "INVALID_INBOX_DOMAIN"),
        (
            json!({"address": "ok@not_a_domain"}),
            "INVALID_INBOX_DOMAIN",
        ),
        (
            json!({"address": "@agentsend.localhost"}),
            "INVALID_INBOX_ADDRESS",
        ),
        (
            json!({"address": "a@b@agentsend.localhost"}),
            "INVALID_INBOX_ADDRESS",
        ),
        (json!({"address": "ok@"}), "INVALID_INBOX_ADDRESS"),
        (json!({"prefix": "-x"}), "VALIDATION_ERROR"),
        (json!({"prefix": "p".repeat(60)}), "VALIDATION_ERROR"),
        (json!({"prefix": "a", "address": "b"}), "VALIDATION_ERROR"),
        (
            json!({"displayName": "Evil\r\nBcc: victim@example.com"}),
            "VALIDATION_ERROR",
        ),
        (json!({"displayName": "nul\u{0}"}), "VALIDATION_ERROR"),
        (json!({"displayName": "d".repeat(256)}), "VALIDATION_ERROR"),
        (json!({"dailySendLimit": 1001}), "VALIDATION_ERROR"),
        (json!({"dailySendLimit": -1}), "VALIDATION_ERROR"),
        (json!({"domainId": "not-a-uuid"}), "VALIDATION_ERROR"),
    ];
    for (body, code) in cases {
        let res = app.post("/inboxes", &body).await;
        assert_error(res, StatusCode::BAD_REQUEST, code).await;
    }
    let res = app
        .post("/inboxes", &json!({"domainId": random_uuid()}))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "DOMAIN_NOT_FOUND").await;
    let (_, list) = json(app.get("/inboxes").await).await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn a_taken_address_is_a_409_even_after_its_inbox_is_deleted() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "unique"})).await;
    let res = app
        .post(
            "/inboxes",
            &json!({"address": "UNIQUE@agentsend.localhost"}),
        )
        .await;
    assert_error(res, StatusCode::CONFLICT, "ADDRESS_TAKEN").await;
    assert_eq!(
        app.delete(&format!("/inboxes/{}", id(&inbox)))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let res = app.post("/inboxes", &json!({"address": "unique"})).await;
    assert_error(res, StatusCode::CONFLICT, "ADDRESS_TAKEN").await;
    // Another account cannot take it either.
    let (_, other) = app.other_account().await;
    let res = app
        .request_as(&other, Method::POST, "/inboxes")
        .json(&json!({"address": "unique"}))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::CONFLICT, "ADDRESS_TAKEN").await;
}

#[tokio::test]
async fn fields_clients_must_not_set_are_ignored_and_never_stored() {
    let app = TestApp::spawn().await;
    let (other_account, _) = app.other_account().await;
    let inbox = app
        .create_inbox(json!({
            "id": random_uuid(),
            "accountId": other_account,
            "status": "suspended",
            "totalSent": 99,
            "sendsToday": 5,
            "createdAt": "2000-01-01T00:00:00.000Z",
            "somethingElse": {"nested": true},
        }))
        .await;
    assert_eq!(inbox["status"], "active");
    assert_eq!(inbox["totalSent"], 0);
    assert_eq!(inbox["sendsToday"], 0);
    assert_ne!(inbox["createdAt"], "2000-01-01T00:00:00.000Z");
    assert!(inbox.get("somethingElse").is_none());
    assert_eq!(
        inbox["accountId"],
        app.account_id.as_str(),
        "not the body's"
    );
    // It belongs to the caller, not to the account named in the body.
    assert_eq!(
        app.get(&format!("/inboxes/{}", id(&inbox))).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn list_pages_newest_first_with_the_total() {
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for n in 0..25 {
        app.advance(std::time::Duration::from_millis(5));
        ids.push(
            id(&app
                .create_inbox(json!({"address": format!("box{n:02}")}))
                .await)
            .to_owned(),
        );
    }
    ids.reverse();
    let (status, page) = json(app.get("/inboxes").await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 25);
    assert_eq!(page["data"].as_array().unwrap().len(), 20);
    let (_, last) = json(app.get("/inboxes?limit=10&offset=20").await).await;
    assert_eq!(last["total"], 25);
    let got: Vec<&str> = last["data"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(
        got,
        ids[20..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let (_, beyond) = json(app.get("/inboxes?offset=100").await).await;
    assert_eq!(beyond["total"], 25);
    assert_eq!(beyond["data"], json!([]));
}

#[tokio::test]
async fn patch_changes_the_display_name_and_limit_within_the_account_limit() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"displayName": "Old"})).await;
    let path = format!("/inboxes/{}", id(&inbox));
    app.advance(std::time::Duration::from_secs(1));
    let (status, changed) = json(
        app.patch(
            &path,
            &json!({"displayName": "New", "dailySendLimit": 1000}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(changed["displayName"], "New");
    assert_eq!(changed["dailySendLimit"], 1000);
    assert_ne!(changed["updatedAt"], inbox["updatedAt"]);
    assert_eq!(changed["createdAt"], inbox["createdAt"]);

    let res = app.patch(&path, &json!({"dailySendLimit": 1001})).await;
    let err = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert!(err["error"]["details"]["dailySendLimit"].is_array());
    let res = app.patch(&path, &json!({"displayName": "a\nb"})).await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;

    let (_, unchanged) = json(app.patch(&path, &json!({})).await).await;
    assert_eq!(unchanged["displayName"], "New");
    let (_, cleared) = json(
        app.patch(&path, &json!({"displayName": null, "dailySendLimit": 0}))
            .await,
    )
    .await;
    assert_eq!(cleared["displayName"], Value::Null);
    assert_eq!(cleared["dailySendLimit"], 0);
}

#[tokio::test]
async fn a_deleted_inbox_is_gone_from_get_list_patch_and_delete() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({})).await;
    let path = format!("/inboxes/{}", id(&inbox));
    assert_eq!(app.delete(&path).await.status(), StatusCode::NO_CONTENT);
    assert_error(
        app.get(&path).await,
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;
    assert_error(
        app.patch(&path, &json!({"displayName": "x"})).await,
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;
    assert_error(
        app.delete(&path).await,
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;
    let (_, list) = json(app.get("/inboxes").await).await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn another_accounts_inbox_is_a_404_for_every_verb() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({})).await;
    let path = format!("/inboxes/{}", id(&inbox));
    let (_, other) = app.other_account().await;
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let res = app
            .request_as(&other, method.clone(), &path)
            .json(&json!({"displayName": "mine"}))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "INBOX_NOT_FOUND").await;
    }
    let (_, list) = json(
        app.request_as(&other, Method::GET, "/inboxes")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(list["total"], 0);
    // Untouched for its owner.
    let (_, mine) = json(app.get(&path).await).await;
    assert_eq!(mine, inbox);
}

#[tokio::test]
async fn an_unknown_inbox_id_is_a_404() {
    let app = TestApp::spawn().await;
    let res = app.get(&format!("/inboxes/{}", random_uuid())).await;
    assert_error(res, StatusCode::NOT_FOUND, "INBOX_NOT_FOUND").await;
}
