//! `GET /metrics`: the exposition text parsed, moving with real traffic; who may read it.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, assert_error, client};
use crate::receiver::{Receiver, Reply};
use crate::smtp_client::{SmtpClient, send_mail};

/// Samples by series (`name{label="value",...}` as printed), checked to be well formed.
fn parse(text: &str) -> BTreeMap<String, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            assert!(
                line.is_empty() || line.starts_with("# HELP ") || line.starts_with("# TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        assert!(series.starts_with("agentsend_"), "{line}");
        samples.insert(series.to_owned(), value);
    }
    samples
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let res = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    parse(&res.text().await.unwrap())
}

fn get(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    samples.get(series).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_appear_and_move_with_real_traffic_without_ids_or_addresses_in_labels() {
    let app = TestApp::spawn().await;
    let before = scrape(&app).await;
    assert_eq!(
        get(&before, "agentsend_smtp_messages_total"),
        0.0,
        "{before:?}"
    );

    let inbox = app.create_inbox(json!({"address": "metered"})).await;
    let address = inbox["address"].as_str().unwrap().to_owned();
    let inbox_id = inbox["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let res = app.get(&format!("/inboxes/{inbox_id}")).await;
        assert_eq!(res.status(), StatusCode::OK);
    }
    let (code, _) = send_mail(
        app.smtp,
        "someone@example.com",
        &[&address],
        b"Subject: hi\r\n\r\nhello\r\n",
    )
    .await;
    assert_eq!(code, 250);
    // A refused recipient.
    let mut smtp = SmtpClient::connect(app.smtp).await;
    smtp.cmd("EHLO test.example", 250).await;
    smtp.cmd("MAIL FROM:<someone@example.com>", 250).await;
    smtp.cmd("RCPT TO:<nobody@agentsend.localhost>", 550).await;
    smtp.cmd("QUIT", 221).await;
    // A send to the outside (dry run) and a webhook delivery.
    let res = app
        .post(
            &format!("/inboxes/{inbox_id}/messages"),
            &json!({"to": ["friend@example.net"], "subject": "s", "text": "t"}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.settle_sends().await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    let res = app
        .post(
            "/webhooks",
            &json!({"url": receiver.url, "events": ["message.received"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let (code, _) = send_mail(
        app.smtp,
        "someone@example.com",
        &[&address],
        b"Subject: again\r\n\r\nhello\r\n",
    )
    .await;
    assert_eq!(code, 250);
    receiver.wait_for(1).await;
    app.settle_webhooks().await;

    let res = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    let text = res.text().await.unwrap();
    let after = parse(&text);
    let delta = |series: &str| get(&after, series) - get(&before, series);
    assert_eq!(
        delta(r#"agentsend_http_requests_total{method="GET",route="/inboxes/{id}",status="200"}"#),
        3.0,
        "{text}"
    );
    assert_eq!(
        delta(r#"agentsend_http_requests_total{method="POST",route="/inboxes",status="201"}"#),
        1.0
    );
    assert_eq!(
        delta(
            r#"agentsend_http_request_duration_seconds_count{method="GET",route="/inboxes/{id}"}"#
        ),
        3.0
    );
    assert_eq!(delta("agentsend_smtp_messages_total"), 2.0);
    assert!(delta("agentsend_smtp_sessions_total") >= 3.0);
    assert_eq!(
        delta(r#"agentsend_smtp_rejections_total{code="550",enhanced="5.1.1"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        delta(r#"agentsend_sends_total{outcome="sent"}"#),
        1.0,
        "{text}"
    );
    assert_eq!(
        delta(r#"agentsend_webhook_deliveries_total{outcome="succeeded"}"#),
        1.0
    );
    assert!(delta("agentsend_writer_commit_batch_size_count") >= 5.0);
    assert!(get(&after, r#"agentsend_database_bytes{file="database"}"#) > 0.0);
    assert!(get(&after, "agentsend_process_resident_memory_bytes") > 1e6);
    assert!(get(&after, "agentsend_process_open_fds") > 3.0);
    assert_eq!(
        get(&after, r#"agentsend_memory_budget_bytes{state="limit"}"#),
        134_217_728.0
    );
    assert_eq!(get(&after, "agentsend_webhook_deliveries_queued"), 0.0);
    assert!(
        after
            .keys()
            .any(|k| k.starts_with("agentsend_build_info{revision=")),
        "{text}"
    );
    // Bounded cardinality: no series names an id, an address or a raw path.
    for series in after.keys() {
        assert!(!series.contains(&inbox_id), "{series}");
        assert!(!series.contains('@'), "{series}");
    }
    // An unknown path counts as unmatched, not as a series of its own.
    app.anonymous(Method::GET, "/no/such/path/123")
        .send()
        .await
        .unwrap();
    let again = scrape(&app).await;
    assert!(
        again.keys().all(|k| !k.contains("/no/such")),
        "unmatched paths are not labels"
    );
    assert!(
        get(
            &again,
            r#"agentsend_http_requests_total{method="GET",route="unmatched",status="404"}"#
        ) >= 1.0
    );
}

#[tokio::test]
async fn queue_depth_and_oldest_job_age_follow_the_send_queue() {
    // A relay that accepts connections and never answers: the one send slot stays busy.
    let relay = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = relay.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = relay.accept().await {
            open.push(stream);
        }
    });
    let app = TestApp::spawn_with(|c| {
        c.outbound.mode = agentsend::config::OutboundMode::Relay;
        c.outbound.relay_host = "127.0.0.1".to_owned();
        c.outbound.relay_port = port;
        c.outbound.relay_security = agentsend::config::RelaySecurity::None;
        c.outbound.concurrency = 1;
    })
    .await;
    let inbox = app.create_inbox(json!({})).await;
    let inbox_id = inbox["id"].as_str().unwrap();
    for n in 0..2 {
        let res = app
            .post(
                &format!("/inboxes/{inbox_id}/messages"),
                &json!({"to": ["friend@example.net"], "subject": format!("s{n}"), "text": "t"}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    app.advance(std::time::Duration::from_secs(90));
    let samples = scrape(&app).await;
    assert_eq!(
        get(&samples, r#"agentsend_jobs_queued{kind="send"}"#),
        2.0,
        "{samples:?}"
    );
    // The one waiting for the slot has waited the 90 s.
    let age = get(
        &samples,
        r#"agentsend_jobs_oldest_age_seconds{kind="send"}"#,
    );
    assert!((90.0..100.0).contains(&age), "{age}");
    held.abort();
}

#[tokio::test]
async fn a_metrics_token_is_required_when_set_and_a_wrong_one_is_401() {
    let token = "metrics-token-0123456789";
    let app = TestApp::spawn_with(|c| c.metrics.token = token.to_owned()).await;
    let res = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app
        .anonymous(Method::GET, "/metrics")
        .bearer_auth("metrics-token-wrong-456789")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    // An API key is not the metrics token.
    let res = app.get("/metrics").await;
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let res = app
        .anonymous(Method::GET, "/metrics")
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("agentsend_http_requests_total")
    );
}

#[tokio::test]
async fn metrics_on_their_own_listener_leave_the_api_listener_and_can_be_turned_off() {
    let app = TestApp::spawn_with(|c| c.metrics.listen = "127.0.0.1:0".to_owned()).await;
    let res = app.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let own = format!("http://{}", app.metrics.unwrap());
    let res = client().get(format!("{own}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("agentsend_smtp_sessions_total")
    );
    let res = client().get(format!("{own}/inboxes")).send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    let off = TestApp::spawn_with(|c| c.metrics.enabled = false).await;
    let res = off.anonymous(Method::GET, "/metrics").send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}
