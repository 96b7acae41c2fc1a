use std::time::Duration;

use agentsend::domain::{AccountId, InboxId, MessageId, ThreadId};
use agentsend::webhooks::Event;
use agentsend::webhooks::events::{MessageReceived, MessageSent};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{TestApp, assert_error, eventually, json, random_uuid};
use crate::receiver::{Receiver, Reply};

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Checks both signatures of a received delivery against `secret`, computed here from the
/// specification rather than with the server's code.
fn assert_signed(r: &crate::receiver::Received, secret: &str) {
    let hex_sig = hex::encode(hmac(secret.as_bytes(), &r.body));
    assert_eq!(r.header("x-agentsend-signature"), hex_sig);
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let signed = format!(
        "{}.{}.{}",
        r.header("webhook-id"),
        r.header("webhook-timestamp"),
        String::from_utf8(r.body.clone()).unwrap()
    );
    let expected = format!("v1,{}", STANDARD.encode(hmac(&key, signed.as_bytes())));
    assert_eq!(r.header("webhook-signature"), expected);
}

async fn create_webhook(app: &TestApp, body: Value) -> Value {
    let (status, created) = json(app.post("/webhooks", &body).await).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn deliveries(app: &TestApp, webhook: &str) -> Vec<Value> {
    let (status, page) = json(
        app.get(&format!("/webhooks/{webhook}/deliveries?limit=100"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().clone()
}

/// Waits until the webhook's newest delivery has the given status.
async fn delivery_with_status(app: &TestApp, webhook: &str, status: &str) -> Value {
    eventually(&format!("a {status} delivery"), || async {
        deliveries(app, webhook)
            .await
            .into_iter()
            .next()
            .filter(|d| d["status"] == status)
    })
    .await
}

fn message_sent() -> Event {
    Event::MessageSent(MessageSent {
        message_id: MessageId::new(),
        inbox_id: InboxId::new(),
        thread_id: ThreadId::new(),
        to: vec!["someone@example.com".to_owned()],
        cc: vec![],
        bcc: vec![],
        subject: "Hello".to_owned(),
        sent_at: agentsend::domain::Timestamp::from_millis(0),
    })
}

fn message_received() -> Event {
    Event::MessageReceived(MessageReceived {
        message_id: MessageId::new(),
        inbox_id: InboxId::new(),
        thread_id: ThreadId::new(),
        from: "Ada <ada@example.com>".to_owned(),
        to: vec!["agent@agentsend.localhost".to_owned()],
        subject: "Hi".to_owned(),
        direction: "inbound",
        received_at: agentsend::domain::Timestamp::from_millis(0),
        auth_results: None,
        extracted_text: Some("Hi there".to_owned()),
        extracted_html: None,
    })
}

/// Emits through the crate's emission API, in a write transaction, as mail features do.
async fn emit(app: &TestApp, account: &str, event: Event) -> usize {
    let account: AccountId = account.parse().unwrap();
    let now = app.now();
    app.state
        .store
        .write(move |tx| agentsend::events::emit(tx, account, &event, now))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_test_delivery_is_signed_with_both_schemes_and_logged() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(200, "thanks")).await;
    let created = create_webhook(&app, json!({"url": receiver.url, "description": "ci"})).await;
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 54,
        "{secret}"
    );
    assert_eq!(created["events"], json!([]));
    assert_eq!(created["isActive"], true);

    let (status, queued) = json(
        app.request(Method::POST, &format!("/webhooks/{}/test", id(&created)))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(queued["event"], "webhook.test");

    let got = receiver.wait_for(1).await;
    let r = &got[0];
    assert_signed(r, secret);
    assert_eq!(r.header("x-agentsend-event"), "webhook.test");
    assert_eq!(r.header("x-agentsend-webhook-id"), id(&created));
    assert_eq!(r.header("webhook-id"), id(&queued));
    assert_eq!(r.header("content-type"), "application/json");
    let ts: i64 = r.header("webhook-timestamp").parse().unwrap();
    assert_eq!(ts, app.now().as_secs());
    let body = r.json();
    assert_eq!(body["event"], "webhook.test");
    assert_eq!(body["data"]["webhookId"], id(&created));
    assert!(body["timestamp"].is_i64());
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3);

    let logged = delivery_with_status(&app, id(&created), "succeeded").await;
    assert_eq!(logged["id"], queued["id"]);
    assert_eq!(logged["attempts"], 1);
    assert_eq!(logged["lastStatusCode"], 200);
    assert_eq!(logged["lastResponse"], "thanks");
    assert_eq!(logged["attemptLog"].as_array().unwrap().len(), 1);
    assert_eq!(logged["nextAttemptAt"], Value::Null);
}

#[tokio::test]
async fn events_fan_out_to_active_webhooks_that_want_them() {
    let app = TestApp::spawn().await;
    let all = Receiver::start(Reply::Status(200, "")).await;
    let received_only = Receiver::start(Reply::Status(200, "")).await;
    let sent_only = Receiver::start(Reply::Status(200, "")).await;
    let inactive = Receiver::start(Reply::Status(200, "")).await;
    let w_all = create_webhook(&app, json!({"url": all.url})).await;
    let w_received = create_webhook(
        &app,
        json!({"url": received_only.url, "events": ["message.received"]}),
    )
    .await;
    let w_sent = create_webhook(
        &app,
        json!({"url": sent_only.url, "events": ["message.sent", "message.sent"]}),
    )
    .await;
    assert_eq!(w_sent["events"], json!(["message.sent"]));
    let w_inactive = create_webhook(&app, json!({"url": inactive.url})).await;
    let res = app
        .request(Method::PUT, &format!("/webhooks/{}", id(&w_inactive)))
        .json(&json!({"isActive": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Another account's webhook never sees this account's events.
    let other_receiver = Receiver::start(Reply::Status(200, "")).await;
    let (_, other_key) = app.other_account().await;
    let res = app
        .request_as(&other_key, Method::POST, "/webhooks")
        .json(&json!({"url": other_receiver.url}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);

    assert_eq!(emit(&app, &app.account_id, message_sent()).await, 2);
    let got = all.wait_for(1).await;
    assert_eq!(got[0].header("x-agentsend-event"), "message.sent");
    assert_eq!(got[0].header("x-agentsend-webhook-id"), id(&w_all));
    assert_signed(&got[0], w_all["secret"].as_str().unwrap());
    sent_only.wait_for(1).await;

    assert_eq!(emit(&app, &app.account_id, message_received()).await, 2);
    received_only.wait_for(1).await;
    let got = all.wait_for(2).await;
    assert_eq!(got[1].json()["data"]["from"], "Ada <ada@example.com>");

    app.settle_webhooks().await;
    assert_eq!(sent_only.received().len(), 1);
    assert_eq!(received_only.received().len(), 1);
    assert!(inactive.received().is_empty());
    assert!(other_receiver.received().is_empty());
    assert!(deliveries(&app, id(&w_inactive)).await.is_empty());
    assert_eq!(deliveries(&app, id(&w_received)).await.len(), 1);
}

#[tokio::test]
async fn failures_are_retried_on_the_configured_schedule_then_given_up() {
    let app = TestApp::spawn_with_real_clock(|c| {
        c.webhooks.max_attempts = 3;
        c.webhooks.retry_base_ms = 100;
    })
    .await;
    let receiver = Receiver::start(Reply::Status(503, "busy, come back later")).await;
    let created = create_webhook(&app, json!({"url": receiver.url})).await;
    emit(&app, &app.account_id, message_sent()).await;

    let got = receiver.wait_for(3).await;
    // Waits of 100 ms, then 200 ms (the base doubles).
    let first_gap = got[1].at - got[0].at;
    let second_gap = got[2].at - got[1].at;
    assert!(first_gap >= Duration::from_millis(100), "{first_gap:?}");
    assert!(second_gap >= Duration::from_millis(200), "{second_gap:?}");
    // Every attempt is the same message: same id, same body, same body signature.
    for r in &got {
        assert_eq!(r.header("webhook-id"), got[0].header("webhook-id"));
        assert_eq!(r.body, got[0].body);
        assert_signed(r, created["secret"].as_str().unwrap());
    }

    let failed = delivery_with_status(&app, id(&created), "failed").await;
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["lastStatusCode"], 503);
    assert_eq!(failed["lastError"], "HTTP 503");
    assert_eq!(failed["lastResponse"], "busy, come back later");
    let log = failed["attemptLog"].as_array().unwrap();
    assert_eq!(log.len(), 3);
    for (n, attempt) in log.iter().enumerate() {
        assert_eq!(attempt["attempt"], n + 1);
        assert_eq!(attempt["statusCode"], 503);
    }
    app.settle_webhooks().await;
    assert_eq!(receiver.received().len(), 3, "no attempts after the limit");
}

#[tokio::test]
async fn a_410_deactivates_the_webhook_after_one_attempt() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(410, "gone")).await;
    let created = create_webhook(&app, json!({"url": receiver.url})).await;
    emit(&app, &app.account_id, message_sent()).await;
    receiver.wait_for(1).await;
    let failed = delivery_with_status(&app, id(&created), "failed").await;
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["lastStatusCode"], 410);
    let (_, webhook) = json(app.get(&format!("/webhooks/{}", id(&created))).await).await;
    assert_eq!(webhook["isActive"], false);
    assert_eq!(emit(&app, &app.account_id, message_sent()).await, 0);
    app.advance(Duration::from_secs(3600));
    app.settle_webhooks().await;
    assert_eq!(receiver.received().len(), 1, "a 410 is not retried");
}

#[tokio::test]
async fn a_hanging_receiver_times_out_without_holding_up_another_webhook() {
    let app = TestApp::spawn_with_real_clock(|c| {
        c.webhooks.timeout_ms = 1500;
        c.webhooks.lease_ms = 5000;
        c.webhooks.max_attempts = 1;
        c.webhooks.concurrency = 4;
        c.webhooks.per_webhook_concurrency = 2;
    })
    .await;
    let slow = Receiver::start(Reply::Hang).await;
    let fast = Receiver::start(Reply::Status(200, "")).await;
    let w_slow = create_webhook(
        &app,
        json!({"url": slow.url, "events": ["message.received"]}),
    )
    .await;
    create_webhook(&app, json!({"url": fast.url, "events": ["message.sent"]})).await;
    for _ in 0..4 {
        emit(&app, &app.account_id, message_received()).await;
    }
    slow.wait_for(2).await;
    // The slow webhook holds two of the four slots; the fast one gets through while the slow
    // attempts are still hanging (none of them has timed out yet).
    for _ in 0..3 {
        emit(&app, &app.account_id, message_sent()).await;
    }
    fast.wait_for(3).await;
    let slow_log = deliveries(&app, id(&w_slow)).await;
    assert!(
        slow_log.iter().all(|d| d["status"] != "failed"),
        "{slow_log:?}"
    );
    assert_eq!(
        slow.received().len(),
        2,
        "at most two attempts in flight per webhook"
    );

    let timed_out = eventually("four timed-out deliveries", || async {
        let log = deliveries(&app, id(&w_slow)).await;
        (log.iter().filter(|d| d["status"] == "failed").count() == 4).then_some(log)
    })
    .await;
    for d in timed_out {
        assert_eq!(d["lastError"], "timed out after 1500 ms");
        assert_eq!(d["lastStatusCode"], Value::Null);
    }
}

#[tokio::test]
async fn a_delivery_waiting_for_its_retry_is_resumed_after_a_restart() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    receiver.script([Reply::Status(500, "oops")]);
    let created = create_webhook(&app, json!({"url": receiver.url})).await;
    emit(&app, &app.account_id, message_sent()).await;
    receiver.wait_for(1).await;
    let pending = delivery_with_status(&app, id(&created), "pending").await;
    assert_eq!(pending["attempts"], 1);
    assert!(pending["nextAttemptAt"].is_string());

    let app = app.restart().await;
    app.advance(Duration::from_secs(10));
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].header("webhook-id"), got[0].header("webhook-id"));
    let done = delivery_with_status(&app, id(&created), "succeeded").await;
    assert_eq!(done["attempts"], 2);
}

#[tokio::test]
async fn a_claim_whose_worker_died_is_taken_up_after_its_lease() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    let created = create_webhook(&app, json!({"url": receiver.url})).await;
    // Queue and claim in one transaction, as a worker would, and never finish the attempt: the
    // worker "died" holding the lease.
    let account: AccountId = app.account_id.parse().unwrap();
    let now = app.now();
    let boot = app.state.boot.clone();
    let claimed = app
        .state
        .store
        .write(move |tx| {
            agentsend::events::emit(tx, account, &message_sent(), now)?;
            let limits = agentsend::store::webhooks::ClaimLimits {
                max: 10,
                per_webhook: 10,
                lease: agentsend::store::jobs::Lease {
                    until: now.plus(Duration::from_secs(60)),
                    holder: boot,
                },
            };
            agentsend::store::webhooks::claim_due(tx, now, limits)
        })
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        app.worker.run_once().await.unwrap(),
        0,
        "leased to the dead worker"
    );
    app.advance(Duration::from_secs(61));
    app.settle_webhooks().await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("webhook-id"), claimed[0].id.to_string());
    let done = delivery_with_status(&app, id(&created), "succeeded").await;
    assert_eq!(done["attempts"], 2, "the lost attempt counts");
}

#[tokio::test]
async fn non_public_targets_are_refused_unless_allowed() {
    // Loopback refused as it is by default when the API listens on a public address (the
    // policy's derivation from http.listen is unit-tested; tests only ever bind loopback).
    let app = TestApp::spawn_with(|c| {
        c.webhooks.allow_loopback = agentsend::config::LoopbackPolicy::Never;
    })
    .await;
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    for url in [
        receiver.url.clone(),
        "http://10.0.0.1/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://[::1]:9/".to_owned(),
    ] {
        let res = app.post("/webhooks", &json!({"url": url})).await;
        let err = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert!(
            err["error"]["details"]["url"][0]
                .as_str()
                .unwrap()
                .contains("refused"),
            "{err}"
        );
    }
    // A name is checked when it is resolved, at delivery time.
    let by_name = receiver.url.replace("127.0.0.1", "localhost");
    let created = create_webhook(&app, json!({"url": by_name})).await;
    emit(&app, &app.account_id, message_sent()).await;
    let failed = delivery_with_status(&app, id(&created), "failed").await;
    let error = failed["lastError"].as_str().unwrap();
    assert!(
        error.contains("refused") && error.contains("loopback"),
        "{error}"
    );
    assert_eq!(failed["attempts"], 1, "a refused target is not retried");
    assert!(receiver.received().is_empty());

    let allowed = TestApp::spawn_with(|c| {
        c.webhooks.allow_loopback = agentsend::config::LoopbackPolicy::Never;
        c.webhooks.allowed_networks =
            vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()];
    })
    .await;
    let created = create_webhook(&allowed, json!({"url": by_name})).await;
    emit(&allowed, &allowed.account_id, message_sent()).await;
    receiver.wait_for(1).await;
    delivery_with_status(&allowed, id(&created), "succeeded").await;
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let app = TestApp::spawn().await;
    let target = Receiver::start(Reply::Status(200, "")).await;
    let redirecting = Receiver::start(Reply::Redirect(target.url.clone())).await;
    let created = create_webhook(&app, json!({"url": redirecting.url})).await;
    emit(&app, &app.account_id, message_sent()).await;
    redirecting.wait_for(1).await;
    let pending = delivery_with_status(&app, id(&created), "pending").await;
    assert_eq!(pending["lastStatusCode"], 302);
    assert!(
        pending["lastError"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed")
    );
    assert!(target.received().is_empty());
}

#[tokio::test]
async fn a_rotated_secret_signs_from_then_on_and_is_shown_once() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    let created = create_webhook(&app, json!({"url": receiver.url})).await;
    let old = created["secret"].as_str().unwrap().to_owned();
    let path = format!("/webhooks/{}", id(&created));
    let (status, rotated) = json(
        app.request(Method::PUT, &path)
            .json(&json!({"rotateSecret": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let (_, plain) = json(
        app.request(Method::PUT, &path)
            .json(&json!({"description": "x"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(plain.get("secret").is_none());
    let (_, fetched) = json(app.get(&path).await).await;
    assert!(fetched.get("secret").is_none());
    let (_, listed) = json(app.get("/webhooks").await).await;
    assert!(!listed.to_string().contains("whsec_"));

    app.request(Method::POST, &format!("{path}/test"))
        .send()
        .await
        .unwrap();
    let got = receiver.wait_for(1).await;
    assert_signed(&got[0], &new);
    let old_sig = hex::encode(hmac(old.as_bytes(), &got[0].body));
    assert_ne!(got[0].header("x-agentsend-signature"), old_sig);
}

#[tokio::test]
async fn deleting_a_webhook_stops_its_pending_deliveries() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(500, "")).await;
    let created = create_webhook(&app, json!({"url": receiver.url})).await;
    emit(&app, &app.account_id, message_sent()).await;
    receiver.wait_for(1).await;
    delivery_with_status(&app, id(&created), "pending").await;
    assert_eq!(
        app.delete(&format!("/webhooks/{}", id(&created)))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    app.advance(Duration::from_secs(3600));
    app.settle_webhooks().await;
    assert_eq!(receiver.received().len(), 1);
    let res = app
        .get(&format!("/webhooks/{}/deliveries", id(&created)))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "WEBHOOK_NOT_FOUND").await;
}

#[tokio::test]
async fn another_accounts_webhook_is_a_404_for_every_verb() {
    let app = TestApp::spawn().await;
    let created = create_webhook(&app, json!({"url": "https://hooks.example.com/a"})).await;
    let path = format!("/webhooks/{}", id(&created));
    let (_, other) = app.other_account().await;
    for (method, p) in [
        (Method::GET, path.clone()),
        (Method::PUT, path.clone()),
        (Method::DELETE, path.clone()),
        (Method::GET, format!("{path}/deliveries")),
        (Method::POST, format!("{path}/test")),
    ] {
        let res = app
            .request_as(&other, method.clone(), &p)
            .json(&json!({"isActive": false}))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "WEBHOOK_NOT_FOUND").await;
    }
    let (_, theirs) = json(
        app.request_as(&other, Method::GET, "/webhooks")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(theirs["total"], 0);
    let (_, mine) = json(app.get(&path).await).await;
    assert_eq!(mine["isActive"], true);
    let res = app.get(&format!("/webhooks/{}", random_uuid())).await;
    assert_error(res, StatusCode::NOT_FOUND, "WEBHOOK_NOT_FOUND").await;
}

#[tokio::test]
async fn bad_webhook_input_is_a_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let long = format!("https://example.com/{}", "a".repeat(3000));
    for body in [
        json!({}),
        json!({"url": "not a url"}),
        json!({"url": "ftp://example.com/hook"}),
        json!({"url": long}),
        json!({"url": "https://example.com/h", "events": ["message.opened"]}),
        json!({"url": "https://example.com/h", "events": "message.sent"}),
        json!({"url": "https://example.com/h", "events": ["webhook.test"]}),
        json!({"url": "https://example.com/h", "description": "d".repeat(501)}),
        json!({"url": 42}),
    ] {
        let res = app.post("/webhooks", &body).await;
        assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    }
    let (_, list) = json(app.get("/webhooks").await).await;
    assert_eq!(list["total"], 0);

    let created = create_webhook(
        &app,
        json!({"url": "https://example.com/h", "events": ["message.sent"]}),
    )
    .await;
    let path = format!("/webhooks/{}", id(&created));
    for body in [
        json!({"isActive": "yes"}),
        json!({"events": {"a": 1}}),
        json!({"events": ["nope"]}),
        json!({"url": "gopher://x"}),
        json!({"rotateSecret": "please"}),
        json!({"url": "https://example.com/ok", "events": ["bad"]}),
    ] {
        let res = app
            .request(Method::PUT, &path)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    }
    let (_, unchanged) = json(app.get(&path).await).await;
    assert_eq!(unchanged["url"], "https://example.com/h");
    assert_eq!(unchanged["events"], json!(["message.sent"]));
    assert_eq!(unchanged["updatedAt"], created["updatedAt"]);

    // Testing an inactive webhook is refused rather than silently dropped.
    app.request(Method::PUT, &path)
        .json(&json!({"isActive": false}))
        .send()
        .await
        .unwrap();
    let res = app
        .request(Method::POST, &format!("{path}/test"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn webhooks_list_newest_first_with_paging() {
    let app = TestApp::spawn().await;
    for n in 0..3 {
        app.advance(Duration::from_millis(5));
        create_webhook(&app, json!({"url": format!("https://example.com/{n}")})).await;
    }
    let (_, page) = json(app.get("/webhooks?limit=2").await).await;
    assert_eq!(page["total"], 3);
    let urls: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["https://example.com/2", "https://example.com/1"]);
    let res = app.get("/webhooks?limit=0").await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
}
