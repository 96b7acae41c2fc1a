//! Replying to and forwarding stored messages: recipients, subjects, threading headers and the
//! forwarded original, checked on the exact bytes sent; bad input; idempotency and events.

use agentsend::domain::reply::ForwardMode;
use mailparse::{MailHeaderMap, ParsedMail};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json, random_uuid};
use crate::receiver::{Receiver, Reply};
use crate::smtp_client::send_mail;

const AGENT: &str = "agent@agentsend.localhost";

/// A message from Ann that asks for replies to a list, one reply deep in a conversation.
const FROM_ANN: &[u8] = b"From: Ann <ann@example.com>\r\n\
Reply-To: The List <list@example.com>\r\n\
To: agent@agentsend.localhost, Bob@example.com\r\n\
Cc: bob@example.com, carol@example.com, AGENT@agentsend.localhost\r\n\
Subject: Plans\r\n\
Message-ID: <orig-1@example.com>\r\n\
In-Reply-To: <root@example.com>\r\n\
References: <root@example.com>\r\n\
Date: Tue, 01 Dec 2026 09:00:00 +0000\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
Shall we meet on Friday?\r\n\
--b\r\n\
Content-Type: text/csv; name=data.csv\r\n\
Content-Disposition: attachment; filename=data.csv\r\n\
\r\n\
a,b\r\n\
1,2\r\n\
--b--\r\n";

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// The agent's inbox with Ann's message delivered to it over SMTP.
async fn received(app: &TestApp) -> (Value, Value) {
    let inbox = app.create_inbox(json!({"address": "agent"})).await;
    let (code, text) = send_mail(app.smtp, "ann@example.com", &[AGENT], FROM_ANN).await;
    assert_eq!(code, 250, "{text}");
    let (_, page) = json(app.get(&format!("/inboxes/{}/messages", id(&inbox))).await).await;
    (inbox, page["data"][0].clone())
}

async fn accepted(app: &TestApp, path: String, body: Value) -> Value {
    let (status, message) = json(app.post(&path, &body).await).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{message}");
    assert_eq!(message["status"], "queued");
    message
}

async fn reply(app: &TestApp, original: &Value, body: Value) -> Value {
    accepted(app, format!("/messages/{}/reply", id(original)), body).await
}

async fn forward(app: &TestApp, original: &Value, body: Value) -> Value {
    accepted(app, format!("/messages/{}/forward", id(original)), body).await
}

fn header(mail: &ParsedMail<'_>, name: &str) -> Option<String> {
    mail.headers.get_first_value(name)
}

/// Every part of a message, depth first.
fn parts<'a>(mail: &'a ParsedMail<'a>) -> Vec<&'a ParsedMail<'a>> {
    let mut out = vec![mail];
    for sub in &mail.subparts {
        out.extend(parts(sub));
    }
    out
}

#[tokio::test]
async fn a_reply_to_received_mail_goes_to_its_reply_to_with_threading_headers() {
    let app = TestApp::spawn().await;
    let (inbox, original) = received(&app).await;
    let sent = reply(&app, &original, json!({"bodyText": "Friday works."})).await;
    assert_eq!(sent["inboxId"], inbox["id"]);
    assert_eq!(sent["threadId"], original["threadId"]);
    assert_eq!(sent["toAddresses"], json!(["list@example.com"]));
    assert_eq!(sent["ccAddresses"], json!([]));
    assert_eq!(sent["inReplyTo"], "<orig-1@example.com>");
    assert_eq!(
        sent["referencesHeaders"],
        json!(["<root@example.com>", "<orig-1@example.com>"])
    );

    let raw = app.raw(&sent).await;
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(header(&mail, "Subject").unwrap(), "Re: Plans");
    assert_eq!(header(&mail, "To").unwrap(), "<list@example.com>");
    assert_eq!(header(&mail, "Cc"), None);
    assert_eq!(
        header(&mail, "In-Reply-To").unwrap(),
        "<orig-1@example.com>"
    );
    let references = header(&mail, "References").unwrap();
    assert_eq!(
        references.split_whitespace().collect::<Vec<_>>(),
        ["<root@example.com>", "<orig-1@example.com>"]
    );
    assert_eq!(mail.get_body().unwrap().trim_end(), "Friday works.");
}

#[tokio::test]
async fn replying_to_all_leaves_out_the_inbox_and_lists_everyone_once() {
    let app = TestApp::spawn().await;
    let (_, original) = received(&app).await;
    let sent = reply(
        &app,
        &original,
        json!({
            "bodyText": "Adding Dave.",
            "replyAll": true,
            "cc": ["Carol@example.com", "dave@example.com"],
        }),
    )
    .await;
    assert_eq!(
        sent["toAddresses"],
        json!(["list@example.com", "Bob@example.com"])
    );
    assert_eq!(
        sent["ccAddresses"],
        json!(["carol@example.com", "dave@example.com"])
    );
    let raw = app.raw(&sent).await;
    let mail = mailparse::parse_mail(&raw).unwrap();
    let to = header(&mail, "To").unwrap().to_lowercase();
    let cc = header(&mail, "Cc").unwrap().to_lowercase();
    assert!(
        !to.contains("agent@") && !cc.contains("agent@"),
        "{to} / {cc}"
    );
    assert_eq!(to.matches("bob@example.com").count(), 1, "{to}");
    assert!(!cc.contains("bob@"), "{cc}");
}

#[tokio::test]
async fn a_reply_to_sent_mail_goes_to_its_recipients_in_the_same_thread() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "agent"})).await;
    let first = accepted(
        &app,
        format!("/inboxes/{}/messages", id(&inbox)),
        json!({
            "to": ["x@example.com"],
            "cc": ["y@example.com"],
            "subject": "RE: Status",
            "bodyText": "Any news?",
        }),
    )
    .await;
    let sent = reply(&app, &first, json!({"bodyHtml": "<p>Ping</p>"})).await;
    assert_eq!(sent["toAddresses"], json!(["x@example.com"]));
    assert_eq!(sent["ccAddresses"], json!([]));
    assert_eq!(sent["subject"], "RE: Status", "no second prefix");
    assert_eq!(sent["threadId"], first["threadId"]);
    assert_eq!(sent["inReplyTo"], first["messageIdHeader"]);
    let all = reply(&app, &first, json!({"bodyText": "All", "replyAll": true})).await;
    assert_eq!(all["ccAddresses"], json!(["y@example.com"]));

    app.settle_sends().await;
    let (_, thread) = json(
        app.get(&format!(
            "/threads/{}/messages",
            first["threadId"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    let ids: Vec<&str> = thread["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{thread}");
    for m in [&first, &sent, &all] {
        assert!(ids.contains(&id(m)));
    }
}

#[tokio::test]
async fn a_reply_needs_a_body_and_fires_message_sent_like_a_send() {
    let app = TestApp::spawn().await;
    let events = Receiver::start(Reply::Status(200, "")).await;
    app.post(
        "/webhooks",
        &json!({"url": events.url, "events": ["message.sent"]}),
    )
    .await;
    let (_, original) = received(&app).await;
    let res = app
        .post(&format!("/messages/{}/reply", id(&original)), &json!({}))
        .await;
    let err = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert!(err["error"]["details"]["bodyText"].is_array(), "{err}");

    let sent = reply(&app, &original, json!({"bodyText": "On it."})).await;
    app.settle_sends().await;
    let got = events.wait_for(1).await;
    let event = got[0].json();
    assert_eq!(event["event"], "message.sent");
    assert_eq!(event["data"]["messageId"], sent["id"]);
    assert_eq!(event["data"]["to"], json!(["list@example.com"]));
}

#[tokio::test]
async fn forwarding_as_an_attachment_carries_the_original_bytes_as_message_rfc822() {
    let app = TestApp::spawn().await;
    let (_, original) = received(&app).await;
    let sent = forward(
        &app,
        &original,
        json!({"to": ["zed@example.com"], "bodyText": "FYI"}),
    )
    .await;
    assert_eq!(sent["threadId"], original["threadId"]);
    assert_eq!(sent["toAddresses"], json!(["zed@example.com"]));
    assert_eq!(sent["inReplyTo"], Value::Null);
    assert_eq!(sent["referencesHeaders"], json!(["<orig-1@example.com>"]));

    let original_raw = app.raw(&original).await;
    let raw = app.raw(&sent).await;
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert_eq!(header(&mail, "Subject").unwrap(), "Fwd: Plans");
    assert_eq!(header(&mail, "In-Reply-To"), None);
    assert_eq!(
        header(&mail, "References").unwrap().trim(),
        "<orig-1@example.com>"
    );
    let all = parts(&mail);
    let embedded = all
        .iter()
        .find(|p| p.ctype.mimetype == "message/rfc822")
        .expect("a message/rfc822 part");
    assert_eq!(
        embedded.get_content_disposition().params.get("filename"),
        Some(&"Plans.eml".to_owned())
    );
    // The CRLF before the next boundary belongs to the boundary (RFC 2046 §5.1.1); mailparse
    // leaves it on the body.
    let body = embedded.get_body_raw().unwrap();
    assert_eq!(body.strip_suffix(b"\r\n"), Some(&original_raw[..]));
    assert!(
        all.iter()
            .any(|p| p.ctype.mimetype == "text/plain" && p.get_body().unwrap().trim() == "FYI")
    );
}

#[tokio::test]
async fn forwarding_inline_quotes_the_original_and_attaches_its_attachments_again() {
    // Inline is the configured default here; the request does not say.
    let app = TestApp::spawn_with(|c| c.outbound.forward_as = ForwardMode::Inline).await;
    let (_, original) = received(&app).await;
    let sent = forward(
        &app,
        &original,
        json!({"to": ["zed@example.com"], "bodyText": "See below."}),
    )
    .await;
    assert_eq!(sent["subject"], "Fwd: Plans");
    assert_eq!(sent["attachments"][0]["filename"], "data.csv");
    let raw = app.raw(&sent).await;
    let mail = mailparse::parse_mail(&raw).unwrap();
    let all = parts(&mail);
    assert!(all.iter().all(|p| p.ctype.mimetype != "message/rfc822"));
    let text = all
        .iter()
        .find(|p| p.ctype.mimetype == "text/plain")
        .unwrap()
        .get_body()
        .unwrap()
        .replace("\r\n", "\n");
    assert!(
        text.starts_with("See below.\n\n---------- Forwarded message ---------\n"),
        "{text}"
    );
    for line in [
        "From: Ann <ann@example.com>",
        "Subject: Plans",
        "To: agent@agentsend.localhost, Bob@example.com",
        "Shall we meet on Friday?",
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    let csv = all
        .iter()
        .find(|p| p.get_content_disposition().params.get("filename") == Some(&"data.csv".into()))
        .expect("the original's attachment");
    assert_eq!(csv.get_body().unwrap().trim_end(), "a,b\r\n1,2");
    assert_eq!(sent["attachments"][0]["size"], 8);

    // The request's own mode wins over the configured one.
    let attached = forward(
        &app,
        &original,
        json!({"to": ["zed@example.com"], "mode": "attachment"}),
    )
    .await;
    let raw = app.raw(&attached).await;
    let mail = mailparse::parse_mail(&raw).unwrap();
    assert!(
        parts(&mail)
            .iter()
            .any(|p| p.ctype.mimetype == "message/rfc822")
    );
}

#[tokio::test]
async fn a_forward_without_recipients_is_a_400_naming_to() {
    let app = TestApp::spawn().await;
    let (_, original) = received(&app).await;
    let path = format!("/messages/{}/forward", id(&original));
    for body in [
        json!({"bodyText": "FYI"}),
        json!({"to": []}),
        json!({"to": ["zed@example.com"], "mode": "quoted"}),
    ] {
        let err = assert_error(
            app.post(&path, &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        )
        .await;
        let field = if body.get("mode").is_some() {
            "mode"
        } else {
            "to"
        };
        assert!(err["error"]["details"][field].is_array(), "{body}: {err}");
    }
}

#[tokio::test]
async fn another_accounts_or_an_unknown_message_is_not_found() {
    let app = TestApp::spawn().await;
    let (inbox, original) = received(&app).await;
    let (_, other_key) = app.other_account().await;
    for (action, body) in [
        ("reply", json!({"bodyText": "x"})),
        ("forward", json!({"to": ["zed@example.com"]})),
    ] {
        let res = app
            .request_as(
                &other_key,
                Method::POST,
                &format!("/messages/{}/{action}", id(&original)),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND").await;
        let res = app
            .post(&format!("/messages/{}/{action}", random_uuid()), &body)
            .await;
        assert_error(res, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND").await;
    }
    // A message of a deleted inbox: as sending from that inbox.
    app.delete(&format!("/inboxes/{}", id(&inbox))).await;
    let res = app
        .post(
            &format!("/messages/{}/reply", id(&original)),
            &json!({"bodyText": "x"}),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "INBOX_NOT_FOUND").await;
}

#[tokio::test]
async fn a_replayed_idempotency_key_returns_the_same_reply() {
    let app = TestApp::spawn().await;
    let (inbox, original) = received(&app).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let res = app
            .request(Method::POST, &format!("/messages/{}/reply", id(&original)))
            .header("idempotency-key", "reply-1")
            .json(&json!({"bodyText": "Once."}))
            .send()
            .await
            .unwrap();
        let (status, message) = json(res).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{message}");
        ids.push(message["id"].clone());
    }
    assert_eq!(ids[0], ids[1]);
    let (_, page) = json(
        app.get(&format!(
            "/inboxes/{}/messages?direction=outbound",
            id(&inbox)
        ))
        .await,
    )
    .await;
    assert_eq!(page["total"], 1, "{page}");
}

#[tokio::test]
async fn the_openapi_document_describes_reply_and_forward() {
    let app = TestApp::spawn().await;
    let (_, doc) = json(
        app.anonymous(Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    for (path, body) in [
        ("/messages/{id}/reply", "ReplyMessage"),
        ("/messages/{id}/forward", "ForwardMessage"),
    ] {
        let post = &doc["paths"][path]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{body}")
        );
        assert!(post["responses"]["202"].is_object(), "{path}");
    }
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["ForwardModeName"]["enum"],
        json!(["attachment", "inline"])
    );
    assert_eq!(schemas["ForwardMessage"]["required"], json!(["to"]));
}
