//! Sending mail: local delivery, relay and direct delivery to real SMTP servers on loopback,
//! statuses, events, limits and bad input.

use std::time::Duration;

use agentsend::config::{OutboundMode, RelaySecurity};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dns::TestDns;
use crate::helpers::{TestApp, assert_error, eventually, json, random_uuid};
use crate::receiver::{Receiver, Reply};
use crate::smtp_client::send_mail;
use crate::smtp_server::ScriptedSmtp;

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn send(app: &TestApp, inbox: &Value, body: Value) -> Value {
    let (status, message) = json(
        app.post(&format!("/inboxes/{}/messages", id(inbox)), &body)
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{message}");
    assert_eq!(message["status"], "queued");
    message
}

async fn message_in(app: &TestApp, id: &str, status: &str) -> Value {
    eventually(&format!("message {id} {status}"), || async {
        let (_, m) = json(app.get(&format!("/messages/{id}")).await).await;
        (m["status"] == status).then_some(m)
    })
    .await
}

async fn messages_of(app: &TestApp, inbox: &Value) -> Vec<Value> {
    let (_, page) = json(
        app.get(&format!("/inboxes/{}/messages?limit=100", id(inbox)))
            .await,
    )
    .await;
    page["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn mail_between_inboxes_is_delivered_locally_with_events_on_both_sides() {
    let app = TestApp::spawn().await;
    let events = Receiver::start(Reply::Status(200, "")).await;
    app.post("/webhooks", &json!({"url": events.url})).await;
    let alice = app
        .create_inbox(json!({"address": "alice", "displayName": "Alice"}))
        .await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    // Another account's inbox on the same server is local too.
    let (_, other_key) = app.other_account().await;
    let (_, carol) = json(
        app.request_as(&other_key, Method::POST, "/inboxes")
            .json(&json!({"address": "carol"}))
            .send()
            .await
            .unwrap(),
    )
    .await;

    // An attachment to send: one that arrived by mail earlier.
    let raw = b"From: x@example.com\r\nSubject: file\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--b\r\nContent-Type: text/csv; name=data.csv\r\nContent-Disposition: attachment; filename=data.csv\r\n\r\na,b\r\n1,2\r\n--b--\r\n";
    send_mail(
        app.smtp,
        "x@example.com",
        &["alice@agentsend.localhost"],
        raw,
    )
    .await;
    let inbound = messages_of(&app, &alice).await;
    let attachment = inbound[0]["attachments"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let sent = send(
        &app,
        &alice,
        json!({
            "to": ["bob@agentsend.localhost"],
            "cc": ["carol@agentsend.localhost"],
            "subject": "Quarterly numbers",
            "bodyText": "See attached.",
            "attachmentIds": [attachment],
        }),
    )
    .await;
    let delivered = message_in(&app, id(&sent), "delivered").await;
    assert_eq!(delivered["delivery"], "local");
    assert!(delivered["sentAt"].is_string());
    assert_eq!(
        delivered["fromAddress"],
        "Alice <alice@agentsend.localhost>"
    );
    assert_eq!(delivered["attachments"][0]["filename"], "data.csv");

    for (inbox, key) in [(&bob, None), (&carol, Some(&other_key))] {
        let path = format!("/inboxes/{}/messages", id(inbox));
        let req = match key {
            Some(k) => app.request_as(k, Method::GET, &path),
            None => app.request(Method::GET, &path),
        };
        let (_, page) = json(req.send().await.unwrap()).await;
        let got = &page["data"][0];
        assert_eq!(got["direction"], "inbound");
        assert_eq!(got["subject"], "Quarterly numbers");
        assert_eq!(got["fromAddress"], "Alice <alice@agentsend.localhost>");
        assert_eq!(got["attachments"][0]["filename"], "data.csv");
        assert_eq!(got["attachments"][0]["size"], 8);
        assert_eq!(got["messageIdHeader"], delivered["messageIdHeader"]);
        assert_ne!(got["threadId"], delivered["threadId"], "its own thread");
    }
    let (_, alice_now) = json(app.get(&format!("/inboxes/{}", id(&alice))).await).await;
    assert_eq!(alice_now["sendsToday"], 1);
    assert_eq!(alice_now["totalSent"], 1);

    // message.received (for bob), message.sent and message.delivered (for alice's message).
    let got = events.wait_for(4).await;
    let names: Vec<String> = got
        .iter()
        .map(|r| r.json()["event"].as_str().unwrap().to_owned())
        .collect();
    for event in ["message.received", "message.sent", "message.delivered"] {
        assert!(names.iter().any(|n| n == event), "{event} in {names:?}");
    }
    let sent_event = got
        .iter()
        .map(|r| r.json())
        .find(|e| e["event"] == "message.sent")
        .unwrap();
    assert_eq!(sent_event["data"]["messageId"], sent["id"]);
    assert_eq!(
        sent_event["data"]["cc"],
        json!(["carol@agentsend.localhost"])
    );
    let delivered_event = got
        .iter()
        .map(|r| r.json())
        .find(|e| e["event"] == "message.delivered")
        .unwrap();
    assert_eq!(
        delivered_event["data"]["recipients"],
        json!(["bob@agentsend.localhost", "carol@agentsend.localhost"])
    );
}

#[tokio::test]
async fn a_reply_carries_in_reply_to_and_references_and_joins_the_recipients_thread() {
    let app = TestApp::spawn().await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let first = send(
        &app,
        &alice,
        json!({"to": ["bob@agentsend.localhost"], "subject": "Lunch?", "bodyText": "1pm?"}),
    )
    .await;
    message_in(&app, id(&first), "delivered").await;
    let at_bob = messages_of(&app, &bob).await[0].clone();

    // Bob replies in his thread.
    let reply = send(&app, &bob, json!({"to": ["alice@agentsend.localhost"], "subject": "Re: Lunch?", "bodyText": "Yes", "threadId": at_bob["threadId"]})).await;
    let reply = message_in(&app, id(&reply), "delivered").await;
    assert_eq!(reply["threadId"], at_bob["threadId"]);
    assert_eq!(reply["inReplyTo"], at_bob["messageIdHeader"]);
    assert_eq!(
        reply["referencesHeaders"],
        json!([at_bob["messageIdHeader"]])
    );
    let raw = app
        .get(&format!("/messages/{}/raw", id(&reply)))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains(&format!(
            "In-Reply-To: {}",
            at_bob["messageIdHeader"].as_str().unwrap()
        )),
        "{raw}"
    );

    // At alice's end the reply joins the thread of her original message.
    let alice_msgs = messages_of(&app, &alice).await;
    let incoming = alice_msgs
        .iter()
        .find(|m| m["direction"] == "inbound")
        .unwrap();
    assert_eq!(incoming["threadId"], first["threadId"]);
    let (_, thread) = json(
        app.get(&format!("/threads/{}", first["threadId"].as_str().unwrap()))
            .await,
    )
    .await;
    assert_eq!(thread["messageCount"], 2);
}

#[tokio::test]
async fn bad_sends_are_refused_and_nothing_is_queued() {
    let app = TestApp::spawn().await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let path = format!("/inboxes/{}/messages", id(&alice));
    let ok = |extra: Value| {
        let mut body = json!({"to": ["x@example.com"], "subject": "s"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let too_many: Vec<String> = (0..51).map(|n| format!("u{n}@example.com")).collect();
    for body in [
        json!({"subject": "s"}),
        json!({"to": "x@example.com", "subject": "s"}),
        json!({"to": [], "subject": "s"}),
        json!({"to": ["not-an-address"], "subject": "s"}),
        json!({"to": ["x@example.com\r\nRCPT TO:<evil@example.com>"], "subject": "s"}),
        json!({"to": ["x@example.com"]}),
        ok(json!({"subject": "s".repeat(999)})),
        ok(json!({"subject": "Hi\r\nBcc: evil@example.com"})),
        ok(json!({"to": too_many})),
        ok(json!({"bodyText": "b".repeat(256_001)})),
        ok(json!({"bodyHtml": 5})),
        ok(json!({"threadId": "nope"})),
        ok(json!({"attachmentIds": (0..11).map(|_| random_uuid()).collect::<Vec<_>>()})),
    ] {
        let res = app.post(&path, &body).await;
        assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    }
    assert_error(
        app.post(&path, &ok(json!({"threadId": random_uuid()})))
            .await,
        StatusCode::NOT_FOUND,
        "THREAD_NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(&path, &ok(json!({"attachmentIds": [random_uuid()]})))
            .await,
        StatusCode::NOT_FOUND,
        "ATTACHMENT_NOT_FOUND",
    )
    .await;
    assert_error(
        app.post(
            &format!("/inboxes/{}/messages", random_uuid()),
            &ok(json!({})),
        )
        .await,
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;

    // A thread of another inbox.
    let at_bob = send(&app, &bob, json!({"to": ["x@example.com"], "subject": "t"})).await;
    let res = app
        .post(&path, &ok(json!({"threadId": at_bob["threadId"]})))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "THREAD_INBOX_MISMATCH").await;

    // Another account's attachment is not found.
    let (_, other) = app.other_account().await;
    let (_, their_inbox) = json(
        app.request_as(&other, Method::POST, "/inboxes")
            .json(&json!({"address": "theirs"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    send_mail(app.smtp, "x@example.com", &["theirs@agentsend.localhost"], b"Subject: f\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b\r\nContent-Type: application/pdf; name=a.pdf\r\nContent-Disposition: attachment; filename=a.pdf\r\n\r\n%PDF\r\n--b--\r\n").await;
    let (_, theirs) = json(
        app.request_as(
            &other,
            Method::GET,
            &format!("/inboxes/{}/messages", id(&their_inbox)),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    let their_attachment = theirs["data"][0]["attachments"][0]["id"].clone();
    assert_error(
        app.post(&path, &ok(json!({"attachmentIds": [their_attachment]})))
            .await,
        StatusCode::NOT_FOUND,
        "ATTACHMENT_NOT_FOUND",
    )
    .await;

    // Too large together (sizes as recorded).
    let big_id = random_uuid();
    let (account, big) = (app.account_id.clone(), big_id.clone());
    let now = app.now().as_millis();
    app.sql().execute(
            "INSERT INTO attachments (id, account_id, filename, content_type, size, sha256, created_at)
             VALUES (?1, ?2, 'big.bin', 'application/octet-stream', 26214401, '', ?3)",
            rusqlite::params![big, account, now],
        ).unwrap();
    assert_error(
        app.post(&path, &ok(json!({"attachmentIds": [big_id]})))
            .await,
        StatusCode::BAD_REQUEST,
        "ATTACHMENTS_TOO_LARGE",
    )
    .await;

    // A suspended inbox.
    let alice_id = id(&alice).to_owned();
    app.sql()
        .execute(
            "UPDATE inboxes SET status = 'suspended' WHERE id = ?1",
            [alice_id],
        )
        .unwrap();
    assert_error(
        app.post(&path, &ok(json!({}))).await,
        StatusCode::FORBIDDEN,
        "INBOX_SUSPENDED",
    )
    .await;

    let (_, list) = json(app.get(&format!("{path}?limit=100")).await).await;
    assert_eq!(list["total"], 0, "nothing was queued for alice: {list}");
}

#[tokio::test]
async fn the_daily_limit_counts_accepted_sends_and_resets_at_midnight_utc() {
    let app = TestApp::spawn().await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    app.patch(
        &format!("/inboxes/{}", id(&alice)),
        &json!({"dailySendLimit": 2}),
    )
    .await;
    for _ in 0..2 {
        send(
            &app,
            &alice,
            json!({"to": ["x@example.com"], "subject": "s"}),
        )
        .await;
    }
    let res = app
        .post(
            &format!("/inboxes/{}/messages", id(&alice)),
            &json!({"to": ["x@example.com"], "subject": "s"}),
        )
        .await;
    assert!(
        res.headers().get("retry-after").is_none(),
        "no Retry-After: the reset is hours away"
    );
    assert_error(
        res,
        StatusCode::TOO_MANY_REQUESTS,
        "DAILY_SEND_LIMIT_REACHED",
    )
    .await;
    app.settle_sends().await;
    let (_, inbox) = json(app.get(&format!("/inboxes/{}", id(&alice))).await).await;
    assert_eq!(inbox["sendsToday"], 2);

    // The next UTC day.
    let ms_into_day = app.now().as_millis().rem_euclid(86_400_000);
    app.advance(Duration::from_millis(
        u64::try_from(86_400_000 - ms_into_day).unwrap(),
    ));
    let (_, inbox) = json(app.get(&format!("/inboxes/{}", id(&alice))).await).await;
    assert_eq!(inbox["sendsToday"], 0);
    assert_eq!(inbox["totalSent"], 2);
    send(
        &app,
        &alice,
        json!({"to": ["x@example.com"], "subject": "s"}),
    )
    .await;
}

#[tokio::test]
async fn an_idempotent_retry_sends_once() {
    let app = TestApp::spawn().await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let body = json!({"to": ["bob@agentsend.localhost"], "subject": "once"});
    let path = format!("/inboxes/{}/messages", id(&alice));
    for _ in 0..3 {
        let res = app
            .request(Method::POST, &path)
            .header("idempotency-key", "send-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    app.settle_sends().await;
    assert_eq!(messages_of(&app, &alice).await.len(), 1);
    assert_eq!(messages_of(&app, &bob).await.len(), 1);
}

pub fn relay_to(port: u16) -> impl FnOnce(&mut agentsend::config::Config) {
    move |c| {
        c.outbound.mode = OutboundMode::Relay;
        c.outbound.relay_host = "127.0.0.1".to_owned();
        c.outbound.relay_port = port;
        c.outbound.relay_security = RelaySecurity::None;
        c.outbound.retry_schedule_ms = vec![1000, 1000];
        c.outbound.timeout_secs = 5;
        c.outbound.lease_secs = 60;
    }
}

#[tokio::test]
async fn relay_mode_hands_the_exact_bytes_to_the_smarthost_with_bcc_only_in_the_envelope() {
    // The smarthost is another AgentSend instance's SMTP listener, on its own domain.
    let far = TestApp::spawn_with(|c| {
        c.mail.shared_domain = agentsend::domain::DomainName::parse("far.test").unwrap()
    })
    .await;
    let bob = far.create_inbox(json!({"address": "bob"})).await;
    let hidden = far.create_inbox(json!({"address": "hidden"})).await;
    let app = TestApp::spawn_with(relay_to(far.smtp.port())).await;
    let alice = app
        .create_inbox(json!({"address": "alice", "displayName": "Alice Ä"}))
        .await;
    let sent = send(
        &app,
        &alice,
        json!({
            "to": ["bob@far.test"],
            "bcc": ["hidden@far.test"],
            "subject": "Über dots",
            "bodyText": ".leading dot\n..two dots\n.\nend",
        }),
    )
    .await;
    let done = message_in(&app, id(&sent), "sent").await;
    assert_eq!(done["delivery"], "email");
    assert_eq!(done["bccAddresses"], json!(["hidden@far.test"]));

    let ours = app
        .get(&format!("/messages/{}/raw", id(&sent)))
        .await
        .bytes()
        .await
        .unwrap();
    for inbox in [&bob, &hidden] {
        let got = eventually("the relayed copy", || async {
            let list = messages_of(&far, inbox).await;
            list.first().cloned()
        })
        .await;
        assert_eq!(got["subject"], "Über dots");
        assert_eq!(got["fromAddress"], "Alice Ä <alice@agentsend.localhost>");
        assert_eq!(
            got["bodyText"]
                .as_str()
                .unwrap()
                .replace("\r\n", "\n")
                .trim_end(),
            ".leading dot\n..two dots\n.\nend"
        );
        let theirs = far
            .get(&format!("/messages/{}/raw", id(&got)))
            .await
            .bytes()
            .await
            .unwrap();
        assert!(
            theirs.ends_with(&ours),
            "the bytes arrive exactly as stored"
        );
        assert!(
            !String::from_utf8_lossy(&theirs)
                .to_ascii_lowercase()
                .contains("\nbcc:"),
            "no Bcc header"
        );
    }
}

#[tokio::test]
async fn a_temporary_failure_is_retried_and_a_permanent_one_bounces() {
    let smarthost = ScriptedSmtp::start().await;
    let app = TestApp::spawn_with(relay_to(smarthost.port)).await;
    let events = Receiver::start(Reply::Status(200, "")).await;
    app.post(
        "/webhooks",
        &json!({"url": events.url, "events": ["message.bounced"]}),
    )
    .await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;

    smarthost.rcpt_replies(["451 4.3.0 try again later"]);
    let retried = send(
        &app,
        &alice,
        json!({"to": ["x@example.com"], "subject": "retry me"}),
    )
    .await;
    // The first attempt is recorded and the retry scheduled before the clock moves on.
    app.settle_sends().await;
    let pending = message_in(&app, id(&retried), "sending").await;
    assert!(pending["errorMessage"].is_null());
    app.advance(Duration::from_millis(1000));
    message_in(&app, id(&retried), "sent").await;
    assert_eq!(smarthost.received().len(), 1);

    smarthost.rcpt_replies(["550 5.1.1 no such user"]);
    let bounced = send(
        &app,
        &alice,
        json!({"to": ["nobody@example.com"], "subject": "bounce me"}),
    )
    .await;
    let bounced = message_in(&app, id(&bounced), "bounced").await;
    assert_eq!(bounced["labels"], json!(["bounced", "sent"]));
    assert!(
        bounced["errorMessage"].as_str().unwrap().contains("550"),
        "{bounced}"
    );
    let (_, inbox) = json(app.get(&format!("/inboxes/{}", id(&alice))).await).await;
    assert_eq!(inbox["bounceCount"], 1);
    let got = events.wait_for(1).await;
    assert_eq!(
        got[0].json()["data"]["bouncedRecipients"],
        json!(["nobody@example.com"])
    );

    // Retries run out: failed, with the reason.
    smarthost.rcpt_replies(["451 4.3.0 later", "451 4.3.0 later", "451 4.3.0 later"]);
    let failing = send(
        &app,
        &alice,
        json!({"to": ["x@example.com"], "subject": "give up"}),
    )
    .await;
    app.settle_sends().await;
    message_in(&app, id(&failing), "sending").await;
    app.advance(Duration::from_millis(1000));
    app.settle_sends().await;
    app.advance(Duration::from_millis(1000));
    let failed = message_in(&app, id(&failing), "failed").await;
    assert!(
        failed["errorMessage"].as_str().unwrap().contains("451"),
        "{failed}"
    );
}

#[tokio::test]
async fn queued_sends_survive_a_restart_and_go_out_exactly_once() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    // Nothing listens yet: every attempt is a connection failure, retried later.
    let app = TestApp::spawn_with(relay_to(port)).await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            id(&send(
                &app,
                &alice,
                json!({"to": ["x@example.com"], "subject": format!("m{n}")}),
            )
            .await)
            .to_owned(),
        );
    }
    app.settle_sends().await;
    let app = app.restart().await;
    let smarthost = ScriptedSmtp::start_on(port).await;
    app.advance(Duration::from_millis(1000));
    app.settle_sends().await;
    for id in &ids {
        message_in(&app, id, "sent").await;
    }
    let got = smarthost.wait_for(5).await;
    // Each message goes out with a return path of its own.
    assert!(got.iter().all(|t| t.from.starts_with("bounces+")
        && t.from.ends_with("@agentsend.localhost")
        && t.to == ["x@example.com"]));
    let mut paths: Vec<&str> = got.iter().map(|t| t.from.as_str()).collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths.len(), 5);
    let mut subjects: Vec<String> = got
        .iter()
        .map(|t| {
            String::from_utf8_lossy(&t.data)
                .lines()
                .find(|l| l.starts_with("Subject:"))
                .unwrap()
                .to_owned()
        })
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "Subject: m0",
            "Subject: m1",
            "Subject: m2",
            "Subject: m3",
            "Subject: m4"
        ]
    );
}

#[tokio::test]
async fn direct_mode_finds_the_mx_in_dns_and_delivers_there() {
    let far = TestApp::spawn_with(|c| {
        c.mail.shared_domain = agentsend::domain::DomainName::parse("far.test").unwrap()
    })
    .await;
    let bob = far.create_inbox(json!({"address": "bob"})).await;
    let dns = TestDns::serve_mx("far.test").await;
    let app = TestApp::spawn_with(move |c| {
        c.outbound.mode = OutboundMode::Direct;
        c.outbound.direct_port = far.smtp.port();
        c.dns.nameservers = vec![dns.addr];
        c.outbound.timeout_secs = 5;
    })
    .await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let sent = send(&app, &alice, json!({"to": ["bob@far.test", "nobody@far.test"], "subject": "direct", "bodyText": "via MX"})).await;
    let done = message_in(&app, id(&sent), "delivered").await;
    assert_eq!(done["delivery"], "email");
    assert!(
        done["errorMessage"]
            .as_str()
            .unwrap()
            .contains("nobody@far.test"),
        "{done}"
    );
    let got = messages_of(&far, &bob).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["bodyText"].as_str().unwrap().trim(), "via MX");
}

#[tokio::test]
async fn a_bounce_comes_back_to_the_messages_own_return_path() {
    let smarthost = ScriptedSmtp::start().await;
    let app = TestApp::spawn_with(relay_to(smarthost.port)).await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let sent = send(
        &app,
        &alice,
        json!({"to": ["gone@else.test"], "subject": "hello", "bodyText": "hi"}),
    )
    .await;
    message_in(&app, id(&sent), "sent").await;
    let got = smarthost.wait_for(1).await;
    let return_path = got[0].from.clone();
    assert!(return_path.starts_with("bounces+"), "{return_path}");
    // The recipient's server gives up later and reports to the envelope sender.
    let message_id = sent["messageIdHeader"].as_str().unwrap();
    let dsn = format!(
        "From: MAILER-DAEMON@else.test\r\nTo: {return_path}\r\nSubject: failure\r\n\
Content-Type: multipart/report; report-type=delivery-status; boundary=B\r\n\r\n\
--B\r\nContent-Type: message/delivery-status\r\n\r\nFinal-Recipient: rfc822; gone@else.test\r\n\
Action: failed\r\nStatus: 5.1.1\r\n\r\n\
--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {message_id}\r\n\r\n--B--\r\n"
    );
    let (code, text) = send_mail(app.smtp, "", &[&return_path], dsn.as_bytes()).await;
    assert_eq!(code, 250, "{text}");
    message_in(&app, id(&sent), "bounced").await;
    let inbox = json(app.get(&format!("/inboxes/{}", id(&alice))).await)
        .await
        .1;
    assert_eq!(inbox["bounceCount"], 1);
}

#[tokio::test]
async fn without_verp_the_inboxs_own_address_is_the_envelope_sender() {
    let smarthost = ScriptedSmtp::start().await;
    let relay = relay_to(smarthost.port);
    let app = TestApp::spawn_with(|c| {
        relay(c);
        c.outbound.verp = false;
    })
    .await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let sent = send(
        &app,
        &alice,
        json!({"to": ["someone@else.test"], "subject": "plain", "bodyText": "hi"}),
    )
    .await;
    message_in(&app, id(&sent), "sent").await;
    assert_eq!(
        smarthost.wait_for(1).await[0].from,
        "alice@agentsend.localhost"
    );
}
