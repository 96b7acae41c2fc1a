//! Agent self-service: auto-provisioned sandbox accounts, their limits, and the claim flow.

use std::time::Duration;

use agentsend::config::AutoProvision;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, client, json};

async fn provision(app: &TestApp, device: &str) -> (StatusCode, Value) {
    json(
        app.anonymous(Method::POST, "/auth/auto-provision")
            .json(&json!({"deviceId": device}))
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A new sandbox account for `device`: its key and claim URL.
pub async fn sandbox(app: &TestApp, device: &str) -> (String, String) {
    let (status, body) = provision(app, device).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["apiKey"].as_str().unwrap().to_owned(),
        body["claimUrl"].as_str().unwrap().to_owned(),
    )
}

/// Posts the claim form at `url` with `fields`.
async fn submit_claim(url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    client().post(url).form(fields).send().await.unwrap()
}

async fn as_key(
    app: &TestApp,
    key: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = app.request_as(key, method, path);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

/// Asserts a `402 CLAIM_REQUIRED` carrying the account's claim link.
async fn assert_claim_required(res: reqwest::Response, claim_url: &str, mentions: &str) {
    let e = assert_error(res, StatusCode::PAYMENT_REQUIRED, "CLAIM_REQUIRED").await;
    assert_eq!(e["error"]["claim_url"], claim_url, "{e}");
    let message = e["error"]["message"].as_str().unwrap();
    assert!(message.contains(mentions), "{message}");
    assert!(message.contains("Claim the account"), "{message}");
}

async fn count(app: &TestApp, sql: &'static str) -> i64 {
    app.sql().query_row(sql, [], |r| r.get(0)).unwrap()
}

#[tokio::test]
async fn a_device_gets_a_sandbox_and_later_a_fresh_key_for_the_same_account() {
    let app = TestApp::spawn().await;
    let (status, first) = provision(&app, "agent-laptop-01").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["isNew"], true);
    assert_eq!(first["account"]["plan"], "sandbox");
    assert!(first["account"]["email"].as_str().unwrap().contains('@'));
    let key = first["apiKey"].as_str().unwrap();
    assert!(key.starts_with("ask_") && key.len() == 44);
    let claim_url = first["claimUrl"].as_str().unwrap();
    assert!(
        claim_url.starts_with(&format!("{}/claim/", app.base)),
        "{claim_url}"
    );

    let (status, account) = json(as_key(&app, key, Method::GET, "/account", None).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["id"], first["account"]["id"]);
    assert_eq!(account["plan"], "sandbox");
    assert_eq!(account["claimUrl"], claim_url);
    assert!(account["sandboxExpiresAt"].is_string());

    let (status, again) = provision(&app, "agent-laptop-01").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["isNew"], false);
    assert_eq!(again["account"]["id"], first["account"]["id"]);
    assert_eq!(again["claimUrl"], claim_url);
    assert_ne!(again["apiKey"], first["apiKey"]);
    for key in [
        first["apiKey"].as_str().unwrap(),
        again["apiKey"].as_str().unwrap(),
    ] {
        let res = as_key(&app, key, Method::GET, "/account", None).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    // Another device, another account.
    let (status, other) = provision(&app, "agent-laptop-02").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(other["account"]["id"], first["account"]["id"]);
}

#[tokio::test]
async fn bad_provisioning_requests_are_refused_and_create_nothing() {
    let app = TestApp::spawn().await;
    let before = count(&app, "SELECT count(*) FROM accounts").await;
    for body in [
        json!({}),
        json!({"deviceId": "short"}),
        json!({"deviceId": "x".repeat(129)}),
        json!({"deviceId": "has a space"}),
        json!({"deviceId": "semi;colon;"}),
        json!({"deviceId": 12345678}),
        json!({"deviceId": null}),
    ] {
        let res = app
            .anonymous(Method::POST, "/auth/auto-provision")
            .json(&body)
            .send()
            .await
            .unwrap();
        let e = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert!(e["error"]["details"]["deviceId"].is_array(), "{body}: {e}");
    }
    let res = app
        .anonymous(Method::POST, "/auth/auto-provision")
        .json(&json!(["agent-laptop-01"]))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert_eq!(count(&app, "SELECT count(*) FROM accounts").await, before);
}

#[tokio::test]
async fn provisioning_can_be_disabled_and_is_limited_per_address() {
    // Off when so configured, and by default behind a proxy (a public server), whatever the
    // body says.
    for off in [
        TestApp::spawn_with(|c| c.sandbox.auto_provision = AutoProvision::Disabled).await,
        TestApp::spawn_with(|c| c.http.public_url = "https://mail.example.com".to_owned()).await,
        TestApp::spawn_with(|c| c.http.trust_proxy_headers = true).await,
    ] {
        let (status, body) = provision(&off, "agent-laptop-01").await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
        assert_eq!(body["error"]["code"], "NOT_FOUND");
        let res = off
            .anonymous(Method::POST, "/auth/auto-provision")
            .json(&json!(["not an object"]))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
    }
    let on = TestApp::spawn_with(|c| {
        c.http.public_url = "https://mail.example.com".to_owned();
        c.sandbox.auto_provision = AutoProvision::Enabled;
    })
    .await;
    let (status, body) = provision(&on, "agent-laptop-01").await;
    assert_eq!(status, StatusCode::CREATED);
    assert!(
        body["claimUrl"]
            .as_str()
            .unwrap()
            .starts_with("https://mail.example.com/claim/")
    );

    let app = TestApp::spawn_with(|c| c.sandbox.provision_limit = 3).await;
    for n in 0..3 {
        let (status, _) = provision(&app, &format!("device-number-{n}")).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let res = app
        .anonymous(Method::POST, "/auth/auto-provision")
        .json(&json!({"deviceId": "device-number-3"}))
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("retry-after"));
    assert_error(res, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED").await;
    // Nothing was made for the refused call; a new window allows more.
    assert_eq!(
        count(&app, "SELECT count(*) FROM accounts WHERE plan = 'sandbox'").await,
        3
    );
    app.advance(Duration::from_secs(3600));
    let (status, _) = provision(&app, "device-number-3").await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn each_sandbox_limit_is_a_402_with_the_claim_link_and_changes_nothing() {
    let app = TestApp::spawn_with(|c| c.sandbox.max_sends = 2).await;
    // An inbox of another account on this server, which a sandbox may write to.
    let local = app.create_inbox(json!({"address": "helpdesk"})).await;
    let (key, claim_url) = sandbox(&app, "agent-laptop-01").await;

    let (status, inbox) = json(
        as_key(
            &app,
            &key,
            Method::POST,
            "/inboxes",
            Some(json!({"address": "bot"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{inbox}");
    let res = as_key(
        &app,
        &key,
        Method::POST,
        "/inboxes",
        Some(json!({"address": "bot2"})),
    )
    .await;
    assert_claim_required(res, &claim_url, "1 inbox").await;
    assert_eq!(count(&app, "SELECT count(*) FROM inboxes").await, 2);
    // Deleting it does not make room for another address.
    let (_, spare) = provision(&app, "agent-laptop-02").await;
    let scratch = spare["apiKey"].as_str().unwrap();
    let (_, first) =
        json(as_key(&app, scratch, Method::POST, "/inboxes", Some(json!({}))).await).await;
    let path = format!("/inboxes/{}", first["id"].as_str().unwrap());
    let res = as_key(&app, scratch, Method::DELETE, &path, None).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = as_key(&app, scratch, Method::POST, "/inboxes", Some(json!({}))).await;
    assert_error(res, StatusCode::PAYMENT_REQUIRED, "CLAIM_REQUIRED").await;

    let res = as_key(
        &app,
        &key,
        Method::POST,
        "/webhooks",
        Some(json!({"url": "https://example.com/hook"})),
    )
    .await;
    assert_claim_required(res, &claim_url, "webhooks").await;
    assert_eq!(count(&app, "SELECT count(*) FROM webhooks").await, 0);

    let send_path = format!("/inboxes/{}/messages", inbox["id"].as_str().unwrap());
    let messages = "SELECT count(*) FROM messages";
    let res = as_key(
        &app,
        &key,
        Method::POST,
        &send_path,
        Some(
            json!({"to": ["helpdesk@agentsend.localhost"], "cc": ["someone@example.com"],
                    "subject": "hi", "bodyText": "x"}),
        ),
    )
    .await;
    assert_claim_required(res, &claim_url, "someone@example.com").await;
    assert_eq!(count(&app, messages).await, 0);
    assert_eq!(count(&app, "SELECT count(*) FROM jobs").await, 0);

    // Mail to inboxes here goes, up to the total.
    for n in 0..2 {
        let res = as_key(
            &app,
            &key,
            Method::POST,
            &send_path,
            Some(json!({"to": [local["address"]], "subject": format!("m{n}"), "bodyText": "x"})),
        )
        .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    app.settle_sends().await;
    let res = as_key(
        &app,
        &key,
        Method::POST,
        &send_path,
        Some(json!({"to": [local["address"]], "subject": "m2", "bodyText": "x"})),
    )
    .await;
    assert_claim_required(res, &claim_url, "2 messages in total").await;
    // Two sent, two received by the helpdesk.
    assert_eq!(count(&app, messages).await, 4);
    // Deleting sent messages does not give sends back.
    let sent: Vec<String> = {
        let (_, page) = json(as_key(&app, &key, Method::GET, &send_path, None).await).await;
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    };
    for id in sent {
        let res = as_key(&app, &key, Method::DELETE, &format!("/messages/{id}"), None).await;
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }
    let res = as_key(
        &app,
        &key,
        Method::POST,
        &send_path,
        Some(json!({"to": [local["address"]], "subject": "m3", "bodyText": "x"})),
    )
    .await;
    assert_claim_required(res, &claim_url, "2 messages in total").await;
}

#[tokio::test]
async fn a_sandbox_expires_after_seven_days_but_can_still_be_claimed() {
    let app = TestApp::spawn().await;
    let local = app.create_inbox(json!({"address": "helpdesk"})).await;
    let (key, claim_url) = sandbox(&app, "agent-laptop-01").await;
    let (_, inbox) =
        json(as_key(&app, &key, Method::POST, "/inboxes", Some(json!({}))).await).await;
    app.advance(Duration::from_secs(7 * 86_400));
    let send_path = format!("/inboxes/{}/messages", inbox["id"].as_str().unwrap());
    let res = as_key(
        &app,
        &key,
        Method::POST,
        &send_path,
        Some(json!({"to": [local["address"]], "subject": "late", "bodyText": "x"})),
    )
    .await;
    assert_claim_required(res, &claim_url, "expired").await;
    // Reading still works.
    let res = as_key(&app, &key, Method::GET, &send_path, None).await;
    assert_eq!(res.status(), StatusCode::OK);

    let res = submit_claim(
        &claim_url,
        &[("name", "Ada Lovelace"), ("email", "ada@example.com")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = as_key(
        &app,
        &key,
        Method::POST,
        &send_path,
        Some(json!({"to": ["anyone@example.com"], "subject": "now", "bodyText": "x"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_person_claims_the_account_through_the_html_form() {
    let app = TestApp::spawn().await;
    let (key, claim_url) = sandbox(&app, "agent-laptop-01").await;
    let account_before = json(as_key(&app, &key, Method::GET, "/account", None).await)
        .await
        .1;

    let res = client().get(&claim_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = res.text().await.unwrap();
    assert!(html.contains("<form method=\"post\">"), "{html}");
    // The limits it lifts, as configured.
    assert!(
        html.contains(
            "1 inbox(es), 50 messages in all, 7 days, mail only to inboxes on this server"
        ),
        "{html}"
    );
    assert!(html.contains("name=\"name\"") && html.contains("name=\"email\""));
    assert!(!html.contains("<script"), "works without JavaScript");

    // A bad email: the form again, with the values escaped, and no change.
    let res = submit_claim(
        &claim_url,
        &[("name", "<b>Ada</b>"), ("email", "not-an-email")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("valid email address"), "{html}");
    assert!(html.contains("value=\"&lt;b&gt;Ada&lt;/b&gt;\""), "{html}");
    assert!(!html.contains("<b>Ada</b>"));
    let res = submit_claim(&claim_url, &[("email", "ada@example.com")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = client()
        .post(&claim_url)
        .body("name=Ada&email=ada@example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, account) = json(as_key(&app, &key, Method::GET, "/account", None).await).await;
    assert_eq!(account, account_before);

    // A forged token changes nothing either.
    let forged = format!("{}/claim/{}", app.base, "A".repeat(43));
    let res = client().get(&forged).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = submit_claim(&forged, &[("name", "Mallory"), ("email", "m@example.com")]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    let res = submit_claim(
        &claim_url,
        &[("name", "Ada Lovelace"), ("email", "ada@example.com")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("Account claimed") && html.contains("ada@example.com"),
        "{html}"
    );

    // The same key, without the sandbox limits.
    let (_, account) = json(as_key(&app, &key, Method::GET, "/account", None).await).await;
    assert_eq!(account["plan"], "free");
    assert_eq!(account["name"], "Ada Lovelace");
    assert_eq!(account["email"], "ada@example.com");
    assert_eq!(account["isVerified"], false);
    assert_eq!(
        account["dailySendLimit"],
        app.state.config.limits.account_daily_send_limit
    );
    assert!(account["claimUrl"].is_null());
    for n in 0..2 {
        let res = as_key(
            &app,
            &key,
            Method::POST,
            "/inboxes",
            Some(json!({"address": format!("b{n}")})),
        )
        .await;
        assert_eq!(res.status(), StatusCode::CREATED);
    }
    let res = as_key(
        &app,
        &key,
        Method::POST,
        "/webhooks",
        Some(json!({"url": "https://example.com/h"})),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // The link is spent.
    let res = client().get(&claim_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    let res = submit_claim(
        &claim_url,
        &[("name", "Mallory"), ("email", "m@example.com")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::GONE);
    let (_, account) = json(as_key(&app, &key, Method::GET, "/account", None).await).await;
    assert_eq!(account["email"], "ada@example.com");
    // The device id no longer leads to the claimed account (anyone may know a device id):
    // provisioning with it again starts a new sandbox.
    let (status, again) = provision(&app, "agent-laptop-01").await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["account"]["plan"], "sandbox");
    assert_ne!(again["account"]["id"], account["id"]);
}

#[tokio::test]
async fn the_operator_claims_and_lists_accounts_with_the_cli() {
    let app = TestApp::spawn().await;
    let (key, _) = sandbox(&app, "agent-laptop-01").await;
    let (_, account) = json(as_key(&app, &key, Method::GET, "/account", None).await).await;
    let id = account["id"].as_str().unwrap();
    let (db, dir) = (app.db_arg(), app.dir());

    let list = crate::cli::stdout(&crate::cli::run(&dir, &["--db", &db, "accounts", "list"]));
    let line = list.lines().find(|l| l.starts_with(id)).unwrap();
    assert!(line.contains("sandbox"), "{line}");
    let out = crate::cli::stdout(&crate::cli::run(
        &dir,
        &[
            "--db",
            &db,
            "accounts",
            "claim",
            id,
            "--email",
            "grace@example.com",
        ],
    ));
    assert!(out.contains("claimed"), "{out}");
    let (_, account) = json(as_key(&app, &key, Method::GET, "/account", None).await).await;
    assert_eq!(account["plan"], "free");
    assert_eq!(account["email"], "grace@example.com");
    // Twice is an error, as is a bad email.
    let again = crate::cli::run(
        &dir,
        &[
            "--db",
            &db,
            "accounts",
            "claim",
            id,
            "--email",
            "g@example.com",
        ],
    );
    assert!(!again.status.success());
    let bad = crate::cli::run(
        &dir,
        &[
            "--db",
            &db,
            "accounts",
            "claim",
            &app.account_id,
            "--email",
            "nope",
        ],
    );
    assert!(!bad.status.success());
}

#[tokio::test]
async fn a_recipient_that_stops_being_an_inbox_here_is_not_mailed_from_a_sandbox() {
    // One send slot, and a relay that accepts connections but never answers: the first send
    // holds the slot until the test closes the connection.
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = relay.local_addr().unwrap().port();
    let app = TestApp::spawn_with(|c| {
        crate::send::relay_to(port)(c);
        c.outbound.concurrency = 1;
        c.outbound.timeout_secs = 60;
    })
    .await;
    let desk = app.create_inbox(json!({"address": "helpdesk"})).await;
    let outside = app.create_inbox(json!({"address": "alice"})).await;
    let res = app
        .post(
            &format!("/inboxes/{}/messages", outside["id"].as_str().unwrap()),
            &json!({"to": ["x@example.com"], "subject": "holds the slot", "bodyText": "x"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let (held, _) = relay.accept().await.unwrap();

    let (key, _) = sandbox(&app, "agent-laptop-01").await;
    let (_, inbox) =
        json(as_key(&app, &key, Method::POST, "/inboxes", Some(json!({}))).await).await;
    let (status, queued) = json(
        as_key(
            &app,
            &key,
            Method::POST,
            &format!("/inboxes/{}/messages", inbox["id"].as_str().unwrap()),
            Some(json!({"to": ["helpdesk@agentsend.localhost"], "subject": "hi", "bodyText": "x"})),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    // While it waits, the helpdesk inbox goes away: the address now belongs to no inbox here.
    let res = app
        .delete(&format!("/inboxes/{}", desk["id"].as_str().unwrap()))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    drop(held);

    let bounced = crate::helpers::eventually("the sandbox send to settle", || async {
        let (_, m) = json(
            as_key(
                &app,
                &key,
                Method::GET,
                &format!("/messages/{}", queued["id"].as_str().unwrap()),
                None,
            )
            .await,
        )
        .await;
        (m["status"] == "bounced").then_some(m)
    })
    .await;
    let error = bounced["errorMessage"].as_str().unwrap();
    assert!(
        error.contains("5.7.1") && error.contains("sandbox"),
        "{error}"
    );
    // It never reached the relay: the only connection made was the first send's. (Delivery
    // comes before the outcome is recorded, so an attempt would already be waiting here.)
    use futures_util::FutureExt;
    assert!(
        relay.accept().now_or_never().is_none(),
        "the sandbox's mail went to the relay"
    );
}
