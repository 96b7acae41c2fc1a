//! Received mail through the API: the corpus, threading, reports, events, the read API.

use std::time::Duration;

use mail_parser::{MessageParser, MimeHeaders};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, client, json, random_uuid};
use crate::receiver::{Receiver, Reply};
use crate::smtp_client::{crlf, send_mail};

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn page(app: &TestApp, path: &str) -> Value {
    let (status, body) = json(app.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    body
}

async fn only_message(app: &TestApp, inbox: &Value) -> Value {
    let list = page(app, &format!("/inboxes/{}/messages", id(inbox))).await;
    assert_eq!(list["total"], 1, "{list}");
    list["data"][0].clone()
}

#[tokio::test]
async fn every_corpus_message_is_stored_and_reads_back_as_a_careful_parser_sees_it() {
    let app = TestApp::spawn().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus/eml");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 30, "the corpus is there");
    for (n, path) in files.iter().enumerate() {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let inbox = app
            .create_inbox(json!({"address": format!("corpus{n}")}))
            .await;
        let address = inbox["address"].as_str().unwrap().to_owned();
        let mut original = crlf(&std::fs::read(path).unwrap());
        // SMTP data ends with a line break; a file without one gains it in transit.
        if !original.ends_with(b"\r\n") {
            original.extend_from_slice(b"\r\n");
        }
        let (code, text) = send_mail(app.smtp, "sender@example.com", &[&address], &original).await;
        assert_eq!(code, 250, "{name}: {text}");

        let message = only_message(&app, &inbox).await;
        let full = page(&app, &format!("/messages/{}", id(&message))).await;
        assert_eq!(full, message, "{name}: list and get agree");

        // Raw download: our Received header, then the bytes as sent.
        let res = app.get(&format!("/messages/{}/raw", id(&message))).await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        assert_eq!(res.headers()["content-type"], "message/rfc822");
        let raw = res.bytes().await.unwrap();
        assert!(
            raw.starts_with(b"Received: from test.example ([127.0.0.1])"),
            "{name}"
        );
        let body_at = raw
            .windows(original.len().min(64))
            .position(|w| w == &original[..original.len().min(64)])
            .unwrap();
        assert!(
            raw[body_at..] == original[..],
            "{name}: raw is byte-identical after Received"
        );
        assert!(raw[..body_at].ends_with(b"\r\n"));

        // What mail-parser makes of the same bytes.
        let expected = MessageParser::default().parse(&original[..]).unwrap();
        assert_eq!(
            message["subject"],
            expected.subject().unwrap_or(""),
            "{name}: subject"
        );
        assert_eq!(
            message["bodyText"].as_str(),
            expected.body_text(0).as_deref(),
            "{name}: text"
        );
        let attachments = message["attachments"].as_array().unwrap();
        let expected_parts: Vec<_> = expected.attachments().collect();
        assert_eq!(
            attachments.len(),
            expected_parts.len(),
            "{name}: attachments"
        );
        for (got, want) in attachments.iter().zip(&expected_parts) {
            assert_eq!(got["size"], want.contents().len() as u64, "{name}: size");
            let filename = got["filename"].as_str().unwrap();
            assert!(
                !filename.is_empty() && !filename.contains('/') && !filename.contains('\\'),
                "{name}: {filename}"
            );
            if let Some(sent) = want.attachment_name() {
                let base = sent
                    .rsplit(['/', '\\'])
                    .next()
                    .unwrap()
                    .trim()
                    .trim_start_matches('.');
                if !base.is_empty()
                    && base.chars().all(|c| !c.is_control())
                    && base.chars().count() <= 200
                {
                    assert_eq!(filename, base.trim(), "{name}: filename");
                }
            }
            let res = app.get(&format!("/attachments/{}/content", id(got))).await;
            assert_eq!(res.status(), StatusCode::OK, "{name}");
            assert_eq!(
                res.bytes().await.unwrap().as_ref(),
                want.contents(),
                "{name}: content"
            );
            // And through its presigned link, without the key.
            let (_, meta) = json(app.get(&format!("/attachments/{}", id(got))).await).await;
            let res = client()
                .get(meta["url"].as_str().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.bytes().await.unwrap().as_ref(),
                want.contents(),
                "{name}: content by link"
            );
        }
        let thread = page(
            &app,
            &format!("/threads/{}", message["threadId"].as_str().unwrap()),
        )
        .await;
        assert_eq!(thread["messageCount"], 1);
    }
}

#[tokio::test]
async fn a_conversation_lands_in_one_thread_and_a_reply_in_another_inbox_is_its_own() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let carol = app.create_inbox(json!({"address": "carol"})).await;
    let first = b"From: a@example.com\r\nTo: bob@agentsend.localhost\r\nSubject: Plans\r\nMessage-ID: <m1@example.com>\r\n\r\none\r\n";
    let second = b"From: a@example.com\r\nTo: bob@agentsend.localhost\r\nSubject: Re: Plans\r\nMessage-ID: <m2@example.com>\r\nIn-Reply-To: <m1@example.com>\r\nReferences: <m1@example.com>\r\n\r\ntwo\r\n";
    let third = b"From: a@example.com\r\nTo: bob@agentsend.localhost\r\nSubject: RE: Re: Plans\r\nMessage-ID: <m3@example.com>\r\nReferences: <m1@example.com> <m2@example.com>\r\n\r\nthree\r\n";
    let unrelated = b"From: a@example.com\r\nTo: bob@agentsend.localhost\r\nSubject: Re: Plans\r\nMessage-ID: <x@example.com>\r\n\r\nsame subject, no references\r\n";
    for (n, msg) in [&first[..], &second[..], &third[..], &unrelated[..]]
        .iter()
        .enumerate()
    {
        app.advance(Duration::from_millis(10));
        let (code, _) =
            send_mail(app.smtp, "a@example.com", &["bob@agentsend.localhost"], msg).await;
        assert_eq!(code, 250, "message {n}");
    }
    app.advance(Duration::from_millis(10));
    send_mail(
        app.smtp,
        "a@example.com",
        &["carol@agentsend.localhost"],
        second,
    )
    .await;

    let threads = page(&app, &format!("/inboxes/{}/threads", id(&bob))).await;
    assert_eq!(threads["total"], 2);
    let conversation = threads["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["messageCount"] == 3)
        .unwrap()
        .clone();
    assert_eq!(conversation["subject"], "Plans");
    let messages = page(&app, &format!("/threads/{}/messages", id(&conversation))).await;
    let bodies: Vec<&str> = messages["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["bodyText"].as_str().unwrap().trim())
        .collect();
    assert_eq!(bodies, ["one", "two", "three"], "oldest first");
    assert_eq!(messages["data"][1]["inReplyTo"], "<m1@example.com>");
    assert_eq!(
        messages["data"][2]["referencesHeaders"],
        json!(["<m1@example.com>", "<m2@example.com>"])
    );
    assert_eq!(messages["data"][0]["messageIdHeader"], "<m1@example.com>");
    // Newest activity first: the unrelated message came last.
    assert_eq!(threads["data"][0]["messageCount"], 1);

    let carols = page(&app, &format!("/inboxes/{}/threads", id(&carol))).await;
    assert_eq!(carols["total"], 1);
    assert_eq!(carols["data"][0]["subject"], "Plans");
    assert_eq!(carols["data"][0]["messageCount"], 1);
}

#[tokio::test]
async fn duplicate_message_ids_and_reference_loops_lose_nothing() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let looped = b"From: a@example.com\r\nSubject: loop\r\nMessage-ID: <l@x>\r\nIn-Reply-To: <l@x>\r\nReferences: <l@x> <l@x>\r\n\r\nbody\r\n";
    for _ in 0..3 {
        let (code, _) = send_mail(
            app.smtp,
            "a@example.com",
            &["bob@agentsend.localhost"],
            looped,
        )
        .await;
        assert_eq!(code, 250);
    }
    let list = page(&app, &format!("/inboxes/{}/messages", id(&bob))).await;
    assert_eq!(list["total"], 3);
    let threads = page(&app, &format!("/inboxes/{}/threads", id(&bob))).await;
    assert_eq!(threads["total"], 1);
    assert_eq!(threads["data"][0]["messageCount"], 3);
}

#[tokio::test]
async fn deleting_messages_keeps_thread_counters_right() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let one = b"From: a@example.com\r\nSubject: t\r\nMessage-ID: <d1@x>\r\n\r\n1\r\n";
    let two = b"From: a@example.com\r\nSubject: Re: t\r\nMessage-ID: <d2@x>\r\nIn-Reply-To: <d1@x>\r\n\r\n2\r\n";
    send_mail(app.smtp, "a@example.com", &["bob@agentsend.localhost"], one).await;
    app.advance(Duration::from_secs(5));
    send_mail(app.smtp, "a@example.com", &["bob@agentsend.localhost"], two).await;
    let list = page(&app, &format!("/inboxes/{}/messages", id(&bob))).await;
    let newest = list["data"][0].clone();
    let oldest = list["data"][1].clone();
    let thread_path = format!("/threads/{}", newest["threadId"].as_str().unwrap());
    let before = page(&app, &thread_path).await;
    assert_eq!(before["messageCount"], 2);

    assert_eq!(
        app.delete(&format!("/messages/{}", id(&newest)))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    let after = page(&app, &thread_path).await;
    assert_eq!(after["messageCount"], 1);
    assert_eq!(after["lastMessageAt"], oldest["createdAt"]);
    assert_error(
        app.get(&format!("/messages/{}", id(&newest))).await,
        StatusCode::NOT_FOUND,
        "MESSAGE_NOT_FOUND",
    )
    .await;
    assert_error(
        app.delete(&format!("/messages/{}", id(&newest))).await,
        StatusCode::NOT_FOUND,
        "MESSAGE_NOT_FOUND",
    )
    .await;

    app.delete(&format!("/messages/{}", id(&oldest))).await;
    assert_error(
        app.get(&thread_path).await,
        StatusCode::NOT_FOUND,
        "THREAD_NOT_FOUND",
    )
    .await;
    let threads = page(&app, &format!("/inboxes/{}/threads", id(&bob))).await;
    assert_eq!(threads["total"], 0);
}

#[tokio::test]
async fn the_message_list_filters_by_status_and_checks_its_parameters() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    send_mail(
        app.smtp,
        "a@example.com",
        &["bob@agentsend.localhost"],
        b"Subject: s\r\n\r\nx\r\n",
    )
    .await;
    let received = page(
        &app,
        &format!("/inboxes/{}/messages?status=received", id(&bob)),
    )
    .await;
    assert_eq!(received["total"], 1);
    let sent = page(&app, &format!("/inboxes/{}/messages?status=sent", id(&bob))).await;
    assert_eq!(sent["total"], 0);
    assert_eq!(sent["data"], json!([]));
    let res = app
        .get(&format!("/inboxes/{}/messages?status=opened", id(&bob)))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    let res = app
        .get(&format!("/inboxes/{}/messages?limit=0", id(&bob)))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    let res = app
        .get(&format!("/inboxes/{}/messages", random_uuid()))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "INBOX_NOT_FOUND").await;
    let res = app
        .get(&format!("/inboxes/{}/threads", random_uuid()))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "INBOX_NOT_FOUND").await;
    for path in [
        "/messages/nope",
        "/threads/nope",
        "/messages/x/raw",
        "/attachments/x/content",
    ] {
        assert_error(
            app.get(path).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        )
        .await;
    }
}

#[tokio::test]
async fn another_accounts_mail_is_a_404_everywhere() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let raw = b"From: a@example.com\r\nSubject: secret\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: application/pdf; name=x.pdf\r\nContent-Disposition: attachment; filename=x.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n";
    send_mail(app.smtp, "a@example.com", &["bob@agentsend.localhost"], raw).await;
    let message = only_message(&app, &bob).await;
    let attachment = message["attachments"][0].clone();
    assert_eq!(attachment["filename"], "x.pdf");
    assert_eq!(attachment["contentType"], "application/pdf");
    let (_, other) = app.other_account().await;
    for (method, path, code) in [
        (
            Method::GET,
            format!("/messages/{}", id(&message)),
            "MESSAGE_NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/messages/{}/raw", id(&message)),
            "MESSAGE_NOT_FOUND",
        ),
        (
            Method::DELETE,
            format!("/messages/{}", id(&message)),
            "MESSAGE_NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/threads/{}", message["threadId"].as_str().unwrap()),
            "THREAD_NOT_FOUND",
        ),
        (
            Method::GET,
            format!(
                "/threads/{}/messages",
                message["threadId"].as_str().unwrap()
            ),
            "THREAD_NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/inboxes/{}/messages", id(&bob)),
            "INBOX_NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/inboxes/{}/threads", id(&bob)),
            "INBOX_NOT_FOUND",
        ),
        (
            Method::GET,
            format!("/attachments/{}/content", id(&attachment)),
            "ATTACHMENT_NOT_FOUND",
        ),
    ] {
        let res = app.request_as(&other, method, &path).send().await.unwrap();
        assert_error(res, StatusCode::NOT_FOUND, code).await;
    }
    let res = app
        .get(&format!("/attachments/{}/content", id(&attachment)))
        .await;
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"x.pdf\"; filename*=UTF-8''x.pdf"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"%PDF-");
}

#[tokio::test]
async fn a_hostile_filename_is_sanitised() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let raw = b"From: a@example.com\r\nSubject: f\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nroot\r\n--b--\r\n";
    send_mail(app.smtp, "a@example.com", &["bob@agentsend.localhost"], raw).await;
    let message = only_message(&app, &bob).await;
    assert_eq!(message["attachments"][0]["filename"], "passwd");
}

#[tokio::test]
async fn received_mail_fires_message_received_with_its_payload() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    let (_, hook) = json(
        app.post(
            "/webhooks",
            &json!({"url": receiver.url, "events": ["message.received"]}),
        )
        .await,
    )
    .await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let raw = b"From: Ada <ada@example.com>\r\nTo: bob@agentsend.localhost, other@example.com\r\nSubject: Ping\r\n\r\nhi\r\n";
    send_mail(
        app.smtp,
        "ada@example.com",
        &["bob@agentsend.localhost"],
        raw,
    )
    .await;
    let got = receiver.wait_for(1).await;
    let body = got[0].json();
    let message = only_message(&app, &bob).await;
    assert_eq!(body["event"], "message.received");
    assert_eq!(got[0].header("x-agentsend-webhook-id"), id(&hook));
    let data = &body["data"];
    assert_eq!(data["messageId"], message["id"]);
    assert_eq!(data["inboxId"], bob["id"]);
    assert_eq!(data["threadId"], message["threadId"]);
    assert_eq!(data["from"], "Ada <ada@example.com>");
    assert_eq!(
        data["to"],
        json!(["bob@agentsend.localhost", "other@example.com"])
    );
    assert_eq!(data["subject"], "Ping");
    assert_eq!(data["direction"], "inbound");
    assert_eq!(data["receivedAt"], message["createdAt"]);
}

/// An outbound message as the sending feature stores it, with its own return path: returns
/// its id and that return path (where reports about it come back).
async fn outbound_message(app: &TestApp, inbox: &Value, message_id: &str) -> (String, String) {
    let (account, inbox_id) = (app.account_id.clone(), id(inbox).to_owned());
    let (mid, tid, message_id) = (random_uuid(), random_uuid(), message_id.to_owned());
    let return_path = format!("bounces+{}@agentsend.localhost", &mid[..8]);
    let now = app.now().as_millis();
    let sql = app.sql();
    sql.execute(
        "INSERT INTO threads (id, account_id, inbox_id, subject, message_count, last_message_at,
             created_at)
         VALUES (?1, ?2, ?3, 'hello', 1, ?4, ?4)",
        rusqlite::params![tid, account, inbox_id, now],
    )
    .unwrap();
    sql.execute(
        "INSERT INTO messages (id, account_id, inbox_id, thread_id, direction, status, delivery,
                     from_address, to_addresses, subject, message_id_header, created_at, updated_at,
                     sent_at, return_path)
                 VALUES (?1, ?2, ?3, ?4, 'outbound', 'sent', 'email', 'bob@agentsend.localhost',
                     '[\"gone@else.test\"]', 'hello', ?5, ?6, ?6, ?6, ?7)",
        rusqlite::params![mid, account, inbox_id, tid, message_id, now, return_path],
    )
    .unwrap();
    sql.execute(
        "UPDATE inboxes SET total_sent = 1 WHERE id = ?1",
        [inbox_id],
    )
    .unwrap();
    (mid, return_path)
}

/// A delivery status report about `message_id`, quoting the original's headers.
fn dsn(to: &str, message_id: &str) -> Vec<u8> {
    format!(
        "From: MAILER-DAEMON@mx.else.test\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.else.test\r\n\r\n\
Final-Recipient: rfc822; gone@else.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
--B\r\nContent-Type: message/rfc822\r\n\r\nFrom: bob@agentsend.localhost\r\nTo: gone@else.test\r\nSubject: hello\r\n\
Message-ID: <{message_id}>\r\n\r\nhello\r\n--B--\r\n"
    )
    .into_bytes()
}

/// An ARF complaint about `message_id`, quoting the original's headers with `return_path`
/// (as the mailbox provider's server recorded it), if any.
fn arf(to: &str, message_id: &str, return_path: Option<&str>) -> Vec<u8> {
    let quoted_path = return_path.map_or(String::new(), |p| format!("Return-Path: <{p}>\r\n"));
    format!(
        "From: abuse@isp.test\r\nTo: {to}\r\nSubject: FW: hello\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\r\n\r\n\
--A\r\nContent-Type: text/plain\r\n\r\nThis is an abuse report.\r\n\
--A\r\nContent-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\nUser-Agent: isp/1.0\r\nVersion: 1\r\n\r\n\
--A\r\nContent-Type: text/rfc822-headers\r\n\r\n{quoted_path}From: bob@agentsend.localhost\r\n\
Message-ID: <{message_id}>\r\nSubject: hello\r\n\r\n--A--\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn a_bounce_report_to_the_return_path_marks_the_sent_message_and_fires_message_bounced() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    app.post(
        "/webhooks",
        &json!({"url": receiver.url, "events": ["message.bounced"]}),
    )
    .await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let (sent, return_path) = outbound_message(&app, &bob, "orig-1@agentsend.localhost").await;
    let report = dsn(&return_path, "orig-1@agentsend.localhost");
    let (code, _) = send_mail(app.smtp, "", &[&return_path], &report).await;
    assert_eq!(code, 250);
    let original = page(&app, &format!("/messages/{sent}")).await;
    assert_eq!(original["status"], "bounced");
    assert_eq!(original["labels"], json!(["bounced", "sent"]));
    let inbox = page(&app, &format!("/inboxes/{}", id(&bob))).await;
    assert_eq!(inbox["bounceCount"], 1);
    assert_eq!(
        inbox["status"], "active",
        "one bounce of one send is under the 100-send floor"
    );
    let got = receiver.wait_for(1).await;
    let body = got[0].json();
    assert_eq!(body["event"], "message.bounced");
    assert_eq!(body["data"]["messageId"], sent.as_str());
    assert_eq!(body["data"]["bounceType"], "Permanent");
    assert_eq!(body["data"]["bouncedRecipients"], json!(["gone@else.test"]));
    // The report itself is stored in the sending inbox like any other mail.
    let list = page(
        &app,
        &format!("/inboxes/{}/messages?status=received", id(&bob)),
    )
    .await;
    assert_eq!(list["total"], 1);
}

#[tokio::test]
async fn a_feedback_report_quoting_the_return_path_marks_the_sent_message_complained() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(Reply::Status(200, "")).await;
    app.post(
        "/webhooks",
        &json!({"url": receiver.url, "events": ["message.complained"]}),
    )
    .await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let (sent, return_path) = outbound_message(&app, &bob, "orig-2@agentsend.localhost").await;
    // Feedback loops send to an address of their own choosing: here the inbox itself.
    let report = arf(
        "bob@agentsend.localhost",
        "orig-2@agentsend.localhost",
        Some(&return_path),
    );
    let (code, _) = send_mail(
        app.smtp,
        "abuse@isp.test",
        &["bob@agentsend.localhost"],
        &report,
    )
    .await;
    assert_eq!(code, 250);
    assert_eq!(
        page(&app, &format!("/messages/{sent}")).await["status"],
        "complained"
    );
    assert_eq!(
        page(&app, &format!("/inboxes/{}", id(&bob))).await["complaintCount"],
        1
    );
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].json()["data"]["complaintFeedbackType"], "abuse");
}

#[tokio::test]
async fn reports_that_only_name_a_message_id_are_ordinary_mail_and_never_suspend() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let (sent, _) = outbound_message(&app, &bob, "orig-4@agentsend.localhost").await;
    // Enough sends that a single counted complaint would suspend the inbox (0.1 % of 100).
    let bob_id = id(&bob).to_owned();
    app.sql()
        .execute(
            "UPDATE inboxes SET total_sent = 1000 WHERE id = ?1",
            [bob_id],
        )
        .unwrap();
    // Anyone who got one of bob's messages knows its Message-ID: forged reports with it.
    for _ in 0..3 {
        let forged = dsn("bob@agentsend.localhost", "orig-4@agentsend.localhost");
        let (code, _) = send_mail(app.smtp, "", &["bob@agentsend.localhost"], &forged).await;
        assert_eq!(code, 250);
        let forged = arf(
            "bob@agentsend.localhost",
            "orig-4@agentsend.localhost",
            None,
        );
        let (code, _) = send_mail(
            app.smtp,
            "x@isp.test",
            &["bob@agentsend.localhost"],
            &forged,
        )
        .await;
        assert_eq!(code, 250);
    }
    // At the real return path, a bounce must come from the null sender, as delivery reports
    // do, and name a recipient of the message.
    let (other, return_path) = outbound_message(&app, &bob, "orig-6@agentsend.localhost").await;
    let report = dsn(&return_path, "orig-6@agentsend.localhost");
    let (code, _) = send_mail(app.smtp, "someone@x.test", &[&return_path], &report).await;
    assert_eq!(code, 250);
    let naming_others = String::from_utf8(report)
        .unwrap()
        .replace("gone@else.test", "stranger@else.test");
    let (code, _) = send_mail(app.smtp, "", &[&return_path], naming_others.as_bytes()).await;
    assert_eq!(code, 250);
    assert_eq!(
        page(&app, &format!("/messages/{other}")).await["status"],
        "sent"
    );
    // A made-up return path is not an address here at all.
    let mut c = crate::smtp_client::SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    c.cmd("MAIL FROM:<>", 250).await;
    c.cmd(
        "RCPT TO:<bounces+guessed0000000000000000@agentsend.localhost>",
        550,
    )
    .await;
    assert_eq!(
        page(&app, &format!("/messages/{sent}")).await["status"],
        "sent"
    );
    let inbox = page(&app, &format!("/inboxes/{}", id(&bob))).await;
    assert_eq!(inbox["status"], "active");
    assert_eq!(inbox["bounceCount"], 0);
    assert_eq!(inbox["complaintCount"], 0);
    // The reports are there for the agent to read, as mail.
    let list = page(
        &app,
        &format!("/inboxes/{}/messages?status=received", id(&bob)),
    )
    .await;
    assert_eq!(list["total"], 8);
}

#[tokio::test]
async fn a_complaint_signed_by_a_configured_feedback_loop_counts_by_message_id() {
    let app = TestApp::spawn_with(|c| {
        c.dns.check_inbound = agentsend::config::CheckInbound::Enabled;
        c.mail.feedback_loop_senders = vec!["fbl.example".to_owned()];
    })
    .await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let (sent, _) = outbound_message(&app, &bob, "orig-5@agentsend.localhost").await;
    let key = agentsend::mail::dkim::DkimKey::from_pem(
        include_bytes!("../fixtures/dkim-rsa.pem"),
        "fbl.example",
        "fbl",
    )
    .unwrap();
    let (name, record) = key.dns_record();
    app.dns.set_txt(&name, &[&record]).await;
    let report = arf(
        "bob@agentsend.localhost",
        "orig-5@agentsend.localhost",
        None,
    );
    let report = String::from_utf8(report)
        .unwrap()
        .replace("From: abuse@isp.test", "From: fbl@fbl.example");
    // Unsigned, it is ordinary mail; so is one the feedback loop's domain signed for another
    // From (a provider also signs its own users' mail); signed by the feedback loop as
    // itself, it counts.
    send_mail(
        app.smtp,
        "fbl@fbl.example",
        &["bob@agentsend.localhost"],
        report.as_bytes(),
    )
    .await;
    let user_mail = report.replace("From: fbl@fbl.example", "From: user@elsewhere.example");
    let signed = key.sign(user_mail.as_bytes()).unwrap();
    let to = ["bob@agentsend.localhost"];
    send_mail(app.smtp, "user@elsewhere.example", &to, &signed).await;
    assert_eq!(
        page(&app, &format!("/messages/{sent}")).await["status"],
        "sent"
    );
    let signed = key.sign(report.as_bytes()).unwrap();
    let (code, _) = send_mail(
        app.smtp,
        "fbl@fbl.example",
        &["bob@agentsend.localhost"],
        &signed,
    )
    .await;
    assert_eq!(code, 250);
    assert_eq!(
        page(&app, &format!("/messages/{sent}")).await["status"],
        "complained"
    );
}

#[tokio::test]
async fn non_utf8_charsets_are_decoded_to_utf8() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "nihongo"})).await;
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/corpus/eml/mimekit-japanese.eml"
    );
    let raw = crlf(&std::fs::read(path).unwrap());
    send_mail(
        app.smtp,
        "a@example.com",
        &["nihongo@agentsend.localhost"],
        &raw,
    )
    .await;
    let message = only_message(&app, &inbox).await;
    // ISO-2022-JP in both the encoded-word subject and the body.
    assert_eq!(
        message["subject"],
        "日本語メールテスト (testing Japanese emails)"
    );
    let body = message["bodyText"].as_str().unwrap();
    assert!(
        body.contains("日本語が") && body.contains("テスト."),
        "{body}"
    );
    let latin1 = b"From: a@example.com\r\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\nS\xfc\xdfe\r\n";
    let second = app.create_inbox(json!({"address": "latin"})).await;
    send_mail(
        app.smtp,
        "a@example.com",
        &["latin@agentsend.localhost"],
        latin1,
    )
    .await;
    let message = only_message(&app, &second).await;
    assert_eq!(message["subject"], "Grüße");
    assert_eq!(message["bodyText"].as_str().unwrap().trim(), "Süße");
}

#[tokio::test]
async fn a_report_counts_once_and_only_at_the_messages_return_path() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let carol = app.create_inbox(json!({"address": "carol"})).await;
    let (sent, return_path) = outbound_message(&app, &bob, "orig-3@agentsend.localhost").await;
    // Sent to an inbox (another one, or bob's own address), a report changes nothing.
    for to in ["carol@agentsend.localhost", "bob@agentsend.localhost"] {
        send_mail(app.smtp, "", &[to], &dsn(to, "orig-3@agentsend.localhost")).await;
    }
    assert_eq!(
        page(&app, &format!("/messages/{sent}")).await["status"],
        "sent"
    );
    // To the return path: counted once, however many reports arrive.
    for _ in 0..3 {
        let report = dsn(&return_path, "orig-3@agentsend.localhost");
        send_mail(app.smtp, "", &[&return_path], &report).await;
    }
    assert_eq!(
        page(&app, &format!("/messages/{sent}")).await["status"],
        "bounced"
    );
    assert_eq!(
        page(&app, &format!("/inboxes/{}", id(&bob))).await["bounceCount"],
        1
    );
    assert_eq!(
        page(&app, &format!("/inboxes/{}", id(&carol))).await["bounceCount"],
        0
    );
}

#[tokio::test]
async fn a_suspended_inbox_receives_nothing() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let bob_id = id(&bob).to_owned();
    app.sql()
        .execute(
            "UPDATE inboxes SET status = 'suspended' WHERE id = ?1",
            [bob_id],
        )
        .unwrap();
    let mut c = crate::smtp_client::SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    c.cmd("RCPT TO:<bob@agentsend.localhost>", 550).await;
}
