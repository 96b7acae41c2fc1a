//! What is kept on disk: raw messages and replayed responses compressed yet returned byte for
//! byte, and finished job rows and idempotency records dropped after their retention.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, json};
use crate::smtp_client::send_mail;

#[tokio::test]
async fn raw_mail_is_stored_compressed_and_read_back_exactly() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "store"})).await;
    let paragraph = "The quarterly figures are attached; the numbers for the north region \
                     moved again this month, mostly in the second half.\r\n";
    let mail = format!(
        "From: peer@example.com\r\nTo: store@agentsend.localhost\r\nSubject: figures\r\n\r\n{}",
        paragraph.repeat(30)
    );
    let (code, _) = send_mail(
        app.smtp,
        "peer@example.com",
        &["store@agentsend.localhost"],
        mail.as_bytes(),
    )
    .await;
    assert_eq!(code, 250);
    let (_, page) = json(
        app.get(&format!(
            "/inboxes/{}/messages",
            inbox["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    let id = page["data"][0]["id"].as_str().unwrap().to_owned();
    let raw = app
        .get(&format!("/messages/{id}/raw"))
        .await
        .bytes()
        .await
        .unwrap();
    assert!(
        raw.ends_with(mail.as_bytes()),
        "the received bytes come back exactly"
    );
    let (codec, stored): (i64, i64) = app
        .sql()
        .query_row(
            "SELECT codec, length(raw) FROM message_raw WHERE message_id = ?1",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(codec, 1, "zstd");
    // The body in the message's row too: a BLOB is a zstd frame, and reads back as the text.
    let stored_body: Vec<u8> = app
        .sql()
        .query_row("SELECT body_text FROM messages WHERE id = ?1", [&id], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(
        stored_body.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]),
        "a zstd frame"
    );
    assert_eq!(
        page["data"][0]["bodyText"].as_str().unwrap().trim_end(),
        paragraph.repeat(30).trim_end()
    );
    assert!(
        usize::try_from(stored).unwrap() < raw.len() / 3,
        "{stored} bytes stored for {}",
        raw.len()
    );
}

#[tokio::test]
async fn replayed_responses_are_kept_compressed_and_finished_jobs_go_after_their_retention() {
    let app = TestApp::spawn_with(|c| c.database.job_retention_secs = 3600).await;
    let inbox = app.create_inbox(json!({"address": "sender"})).await;
    let path = format!("/inboxes/{}/messages", inbox["id"].as_str().unwrap());
    let body = json!({"to": ["far@example.net"], "subject": "report",
                      "bodyText": "All figures are in the attached report. ".repeat(40)});
    let send = || async {
        app.request(Method::POST, &path)
            .header("idempotency-key", "send-1")
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let first = send().await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let first = first.bytes().await.unwrap();
    let again = send().await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.bytes().await.unwrap(), first, "byte for byte");
    let (codec, stored): (i64, i64) = app
        .sql()
        .query_row(
            "SELECT response_codec, length(response_body) FROM idempotency_keys",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(codec, 1);
    assert!(usize::try_from(stored).unwrap() < first.len() / 2);

    app.settle_sends().await;
    let jobs = || -> i64 {
        app.sql()
            .query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(jobs(), 1, "the send's finished job is kept for a while");
    app.advance(Duration::from_secs(3000));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!((report.jobs, jobs()), (0, 1));
    app.advance(Duration::from_secs(700));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(
        (report.jobs, jobs()),
        (1, 0),
        "gone after job_retention_secs"
    );
    // The idempotency record lives out its window, then goes too.
    app.advance(Duration::from_secs(86_400));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.idempotency_keys, 1);
}
