//! Allow and block lists of senders: the endpoints, their refusals of bad input, and what the
//! lists do to real SMTP sessions, local deliveries and sends.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, eventually, is_iso_timestamp, json, random_uuid};
use crate::smtp_client::{SmtpClient, dot_stuffed};

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

async fn inbox(app: &TestApp, local: &str) -> Value {
    app.create_inbox(json!({"address": local})).await
}

/// Adds `entry` to `path` (`/inboxes/{id}/lists/block`, `/account/lists/allow`, ...).
async fn add(app: &TestApp, path: &str, entry: &str) -> Value {
    let (status, body) = json(app.post(path, &json!({ "entry": entry })).await).await;
    assert_eq!(status, StatusCode::CREATED, "{path} {entry}: {body}");
    body
}

async fn entries(app: &TestApp, path: &str) -> Vec<String> {
    let (status, page) = json(app.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"].as_str().unwrap().to_owned())
        .collect()
}

async fn messages_of(app: &TestApp, inbox: &Value) -> Vec<Value> {
    let (status, page) = json(
        app.get(&format!("/inboxes/{}/messages?limit=100", id(inbox)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().clone()
}

fn mail(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: someone@agentsend.localhost\r\nSubject: {subject}\r\n\r\nHello\r\n"
    )
    .into_bytes()
}

/// A session after EHLO.
async fn session(app: &TestApp) -> SmtpClient<tokio::net::TcpStream> {
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO client.example", 250).await;
    c
}

/// Sends the data of an open transaction; returns the final reply.
async fn data(c: &mut SmtpClient<tokio::net::TcpStream>, message: &[u8]) -> (u16, String) {
    c.cmd("DATA", 354).await;
    c.send(&dot_stuffed(message)).await;
    c.reply().await
}

/// `MAIL FROM`, one `RCPT TO` and the data; returns the replies to RCPT and to the data (0 when
/// there was no data phase).
async fn transaction(app: &TestApp, mail_from: &str, to: &str, message: &[u8]) -> (u16, u16) {
    let mut c = session(app).await;
    c.cmd(&format!("MAIL FROM:<{mail_from}>"), 250).await;
    c.send(format!("RCPT TO:<{to}>\r\n").as_bytes()).await;
    let (rcpt, text) = c.reply().await;
    if rcpt != 250 {
        assert!(text.starts_with("5.7.1"), "{rcpt} {text}");
        return (rcpt, 0);
    }
    let (code, text) = data(&mut c, message).await;
    if code != 250 {
        assert!(text.starts_with("5.7.1"), "{code} {text}");
    }
    c.cmd("QUIT", 221).await;
    (rcpt, code)
}

async fn received_events(app: &TestApp) -> i64 {
    app.sql()
        .query_row(
            "SELECT count(*) FROM events WHERE event = 'message.received'",
            [],
            |r| r.get(0),
        )
        .unwrap()
}

#[tokio::test]
async fn entries_are_added_listed_and_removed_per_inbox_and_for_the_account() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let block = format!("/inboxes/{}/lists/block", id(&bob));

    let entry = add(&app, &block, "Spammer@Example.COM").await;
    assert_eq!(entry["entry"], "spammer@example.com");
    assert_eq!(entry["kind"], "address");
    assert_eq!(entry["list"], "block");
    assert_eq!(entry["inboxId"], id(&bob));
    assert!(uuid::Uuid::parse_str(id(&entry)).is_ok());
    assert!(is_iso_timestamp(&entry["createdAt"]));
    let domain = add(&app, &block, "Junk.Example.").await;
    assert_eq!(
        (&domain["entry"], &domain["kind"]),
        (&json!("junk.example"), &json!("domain"))
    );
    add(&app, &block, "a/b+tag@example.com").await;

    let (status, page) = json(app.get(&format!("{block}?limit=2")).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 3);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    assert!(page["nextCursor"].is_string());
    assert!(
        entries(&app, &format!("/inboxes/{}/lists/allow", id(&bob)))
            .await
            .is_empty()
    );

    // Removed by the entry itself, URL-encoded, in any case.
    let res = app.delete(&format!("{block}/SPAMMER%40example.com")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .delete(&format!("{block}/a%2Fb%2Btag%40example.com"))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(entries(&app, &block).await, ["junk.example"]);
    assert_error(
        app.delete(&format!("{block}/spammer@example.com")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;

    // The account-wide lists.
    let account = add(&app, "/account/lists/allow", "friends.example").await;
    assert_eq!(account["inboxId"], Value::Null);
    assert_eq!(account["list"], "allow");
    assert_eq!(
        entries(&app, "/account/lists/allow").await,
        ["friends.example"]
    );
    assert!(entries(&app, "/account/lists/block").await.is_empty());
    let res = app.delete("/account/lists/allow/friends.example").await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(entries(&app, "/account/lists/allow").await.is_empty());
}

#[tokio::test]
async fn bad_entries_duplicates_and_foreign_inboxes_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let block = format!("/inboxes/{}/lists/block", id(&bob));
    add(&app, &block, "spammer@example.com").await;

    for bad in [
        json!({"entry": "bob@"}),
        json!({"entry": "@example.com"}),
        json!({"entry": "a b.example"}),
        json!({"entry": "bob@exa mple.com"}),
        json!({"entry": "-bad.example"}),
        json!({"entry": ""}),
        json!({"entry": 42}),
        json!({}),
    ] {
        for path in [block.as_str(), "/account/lists/block"] {
            let body = assert_error(
                app.post(path, &bad).await,
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
            )
            .await;
            if bad.get("entry").is_some_and(Value::is_string) || bad == json!({}) {
                assert!(
                    body["error"]["details"]["entry"].is_array(),
                    "{bad}: {body}"
                );
            }
        }
    }
    // The same entry again, in another case: 409.
    let body = assert_error(
        app.post(&block, &json!({"entry": "SPAMMER@example.com"}))
            .await,
        StatusCode::CONFLICT,
        "LIST_ENTRY_EXISTS",
    )
    .await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("spammer@example.com")
    );
    // The same entry on the other list, or account-wide, is another entry.
    add(
        &app,
        &format!("/inboxes/{}/lists/allow", id(&bob)),
        "spammer@example.com",
    )
    .await;
    add(&app, "/account/lists/block", "spammer@example.com").await;
    assert_error(
        app.post(
            "/account/lists/block",
            &json!({"entry": "spammer@example.com"}),
        )
        .await,
        StatusCode::CONFLICT,
        "LIST_ENTRY_EXISTS",
    )
    .await;

    // Malformed entries in the path, unknown lists, bad and unknown inbox ids.
    assert_error(
        app.delete(&format!("{block}/not%20an%20address")).await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    )
    .await;
    for path in [
        format!("/inboxes/{}/lists/grey", id(&bob)),
        "/account/lists/grey".to_owned(),
    ] {
        assert_error(app.get(&path).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    assert_error(
        app.get("/inboxes/not-a-uuid/lists/block").await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    )
    .await;
    assert_error(
        app.post(
            &format!("/inboxes/{}/lists/block", random_uuid()),
            &json!({"entry": "x@example.com"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;

    // Another account sees none of it and cannot change it.
    let (_, other) = app.other_account().await;
    for (method, path, body) in [
        (Method::GET, block.clone(), None),
        (
            Method::POST,
            block.clone(),
            Some(json!({"entry": "x@example.com"})),
        ),
        (Method::DELETE, format!("{block}/spammer@example.com"), None),
    ] {
        let mut req = app.request_as(&other, method, &path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        assert_error(
            req.send().await.unwrap(),
            StatusCode::NOT_FOUND,
            "INBOX_NOT_FOUND",
        )
        .await;
    }
    let (status, page) = json(
        app.request_as(&other, Method::GET, "/account/lists/block")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, page["total"].clone()), (StatusCode::OK, json!(0)));

    // Nothing changed.
    assert_eq!(entries(&app, &block).await, ["spammer@example.com"]);
    assert_eq!(
        entries(&app, "/account/lists/block").await,
        ["spammer@example.com"]
    );
}

#[tokio::test]
async fn a_blocked_sender_is_refused_at_rcpt_while_other_recipients_still_get_the_mail() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let carol = inbox(&app, "carol").await;
    add(
        &app,
        &format!("/inboxes/{}/lists/block", id(&bob)),
        "spammer@example.com",
    )
    .await;

    let mut c = session(&app).await;
    c.cmd("MAIL FROM:<Spammer@Example.com>", 250).await;
    let text = c.cmd("RCPT TO:<bob@agentsend.localhost>", 550).await;
    assert!(text.starts_with("5.7.1"), "{text}");
    c.cmd("RCPT TO:<carol@agentsend.localhost>", 250).await;
    let (code, text) = data(&mut c, &mail("spammer@example.com", "Offer")).await;
    assert_eq!(code, 250, "{text}");
    // All recipients refused: no data phase.
    c.cmd("MAIL FROM:<spammer@example.com>", 250).await;
    c.cmd("RCPT TO:<bob@agentsend.localhost>", 550).await;
    c.cmd("DATA", 554).await;
    c.cmd("QUIT", 221).await;

    assert!(messages_of(&app, &bob).await.is_empty());
    assert_eq!(messages_of(&app, &carol).await.len(), 1);
    // Others still get through to bob.
    let (rcpt, code) = transaction(
        &app,
        "friend@example.com",
        "bob@agentsend.localhost",
        &mail("friend@example.com", "Hi"),
    )
    .await;
    assert_eq!((rcpt, code), (250, 250));
    assert_eq!(messages_of(&app, &bob).await.len(), 1);
}

#[tokio::test]
async fn a_blocked_domain_covers_its_subdomains_and_the_account_list_covers_every_inbox() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let carol = inbox(&app, "carol").await;
    add(
        &app,
        &format!("/inboxes/{}/lists/block", id(&bob)),
        "junk.example",
    )
    .await;
    add(&app, "/account/lists/block", "evil.example").await;

    for (from, to, refused) in [
        ("a@junk.example", "bob", true),
        ("a@mail.JUNK.example", "bob", true),
        ("a@notjunk.example", "bob", false),
        ("a@junk.example", "carol", false),
        ("a@evil.example", "bob", true),
        ("a@smtp.evil.example", "carol", true),
    ] {
        let to = format!("{to}@agentsend.localhost");
        let (rcpt, _) = transaction(&app, from, &to, &mail(from, "x")).await;
        assert_eq!(rcpt == 550, refused, "{from} -> {to}");
    }
    assert_eq!(messages_of(&app, &bob).await.len(), 1);
    assert_eq!(messages_of(&app, &carol).await.len(), 1);
}

#[tokio::test]
async fn an_allow_list_refuses_everyone_else_and_lets_the_listed_senders_in() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let carol = inbox(&app, "carol").await;
    let allow = format!("/inboxes/{}/lists/allow", id(&bob));
    add(&app, &allow, "ada@example.com").await;
    add(&app, &allow, "partner.example").await;
    let to = "bob@agentsend.localhost";

    // Not on the list: the envelope sender alone cannot decide at RCPT (the From header
    // may still name an allowed sender), so it is refused at the end of DATA.
    assert_eq!(
        transaction(&app, "eve@example.org", to, &mail("eve@example.org", "x")).await,
        (250, 550)
    );
    // On the list by address, by domain, by subdomain.
    for from in [
        "ada@example.com",
        "x@partner.example",
        "y@eu.partner.example",
    ] {
        assert_eq!(
            transaction(&app, from, to, &mail(from, from)).await,
            (250, 250),
            "{from}"
        );
    }
    // Sent through a provider: its bounce address is the envelope sender, the person is in
    // From.
    assert_eq!(
        transaction(
            &app,
            "bounces+123@provider.example",
            to,
            &mail("Ada <ada@example.com>", "via provider")
        )
        .await,
        (250, 250)
    );
    // A bounce (null sender) counts by its From alone.
    assert_eq!(
        transaction(&app, "", to, &mail("MAILER-DAEMON@example.org", "bounce")).await,
        (250, 550)
    );
    assert_eq!(messages_of(&app, &bob).await.len(), 4);
    // Carol has no allow list; the account's applies to every inbox.
    assert_eq!(
        transaction(
            &app,
            "eve@example.org",
            "carol@agentsend.localhost",
            &mail("eve@example.org", "x")
        )
        .await,
        (250, 250)
    );
    add(&app, "/account/lists/allow", "ada@example.com").await;
    assert_eq!(
        transaction(
            &app,
            "eve@example.org",
            "carol@agentsend.localhost",
            &mail("eve@example.org", "x")
        )
        .await,
        (250, 550)
    );
    assert_eq!(messages_of(&app, &carol).await.len(), 1);
}

#[tokio::test]
async fn a_blocked_from_header_is_refused_at_data_and_dropped_for_that_inbox_alone() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let carol = inbox(&app, "carol").await;
    add(
        &app,
        &format!("/inboxes/{}/lists/block", id(&bob)),
        "spammer@example.com",
    )
    .await;
    let spam = mail("Totally Legit <spammer@example.com>", "Offer");

    // The envelope looks fine; the From header is blocked.
    assert_eq!(
        transaction(
            &app,
            "innocent@example.org",
            "bob@agentsend.localhost",
            &spam
        )
        .await,
        (250, 550)
    );
    assert_eq!(
        transaction(&app, "", "bob@agentsend.localhost", &spam).await,
        (250, 550)
    );
    // With a second recipient that takes it, the message is accepted: carol gets it, bob's
    // copy is dropped (SMTP cannot answer per recipient after DATA).
    let mut c = session(&app).await;
    c.cmd("MAIL FROM:<innocent@example.org>", 250).await;
    c.cmd("RCPT TO:<bob@agentsend.localhost>", 250).await;
    c.cmd("RCPT TO:<carol@agentsend.localhost>", 250).await;
    let (code, text) = data(&mut c, &spam).await;
    assert_eq!(code, 250, "{text}");
    c.cmd("QUIT", 221).await;
    assert!(messages_of(&app, &bob).await.is_empty());
    assert_eq!(messages_of(&app, &carol).await.len(), 1);
    assert_eq!(received_events(&app).await, 1);
}

#[tokio::test]
async fn in_store_mode_mail_not_allowed_is_kept_without_an_event_and_blocked_mail_is_refused() {
    let app = TestApp::spawn_with(|c| {
        c.smtp.not_allowed = agentsend::domain::sender_list::NotAllowed::Store;
    })
    .await;
    let bob = inbox(&app, "bob").await;
    add(
        &app,
        &format!("/inboxes/{}/lists/allow", id(&bob)),
        "ada@example.com",
    )
    .await;
    add(
        &app,
        &format!("/inboxes/{}/lists/block", id(&bob)),
        "spammer@example.com",
    )
    .await;
    let to = "bob@agentsend.localhost";

    assert_eq!(
        transaction(
            &app,
            "eve@example.org",
            to,
            &mail("eve@example.org", "kept")
        )
        .await,
        (250, 250)
    );
    assert_eq!(
        transaction(
            &app,
            "ada@example.com",
            to,
            &mail("ada@example.com", "welcome")
        )
        .await,
        (250, 250)
    );
    // Blocked stays refused, at RCPT and at DATA.
    assert_eq!(
        transaction(&app, "spammer@example.com", to, b"Subject: x\r\n\r\nx\r\n").await,
        (550, 0)
    );
    assert_eq!(
        transaction(
            &app,
            "eve@example.org",
            to,
            &mail("spammer@example.com", "x")
        )
        .await,
        (250, 550)
    );
    let stored = messages_of(&app, &bob).await;
    let subjects: Vec<&str> = stored
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects.len(), 2, "{subjects:?}");
    assert!(subjects.contains(&"kept") && subjects.contains(&"welcome"));
    for m in &stored {
        let want = if m["subject"] == "kept" {
            json!(["blocked"])
        } else {
            json!(["unread"])
        };
        assert_eq!(m["labels"], want, "{m}");
    }
    // The blocked one is not counted unread, and it can be found by its label.
    let (_, inbox) = json(app.get(&format!("/inboxes/{}", id(&bob))).await).await;
    assert_eq!(inbox["unreadCount"], 1);
    let (_, blocked) = json(
        app.get(&format!("/inboxes/{}/messages?label=blocked", id(&bob)))
            .await,
    )
    .await;
    assert_eq!(blocked["total"], 1);
    // Only the allowed message told anyone.
    assert_eq!(received_events(&app).await, 1);
}

#[tokio::test]
async fn a_send_to_a_blocked_recipient_is_400_and_nothing_is_queued() {
    let app = TestApp::spawn().await;
    let alice = inbox(&app, "alice").await;
    add(
        &app,
        &format!("/inboxes/{}/lists/block", id(&alice)),
        "spammer@example.com",
    )
    .await;
    add(&app, "/account/lists/block", "evil.example").await;
    // Allow lists do not restrict sends.
    add(
        &app,
        &format!("/inboxes/{}/lists/allow", id(&alice)),
        "friend@example.com",
    )
    .await;
    let send = format!("/inboxes/{}/messages", id(&alice));

    for (body, field, address) in [
        (
            json!({"to": ["ok@example.com", "Spammer@Example.com"], "subject": "x", "bodyText": "x"}),
            "to",
            "Spammer@example.com",
        ),
        (
            json!({"to": ["ok@example.com"], "cc": ["a@mail.evil.example"], "subject": "x"}),
            "cc",
            "a@mail.evil.example",
        ),
        (
            json!({"to": ["ok@example.com"], "bcc": ["spammer@example.com"], "subject": "x"}),
            "bcc",
            "spammer@example.com",
        ),
    ] {
        let err = assert_error(
            app.post(&send, &body).await,
            StatusCode::BAD_REQUEST,
            "RECIPIENT_BLOCKED",
        )
        .await;
        let details = err["error"]["details"][field][0].as_str().unwrap();
        assert!(details.contains(address), "{err}");
        assert!(err["error"]["message"].as_str().unwrap().starts_with(field));
    }
    assert!(messages_of(&app, &alice).await.is_empty(), "nothing queued");
    let (status, _) = json(
        app.post(
            &send,
            &json!({"to": ["someone@example.com"], "subject": "fine", "bodyText": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

#[tokio::test]
async fn a_local_delivery_from_a_blocked_inbox_bounces_with_5_7_1() {
    let app = TestApp::spawn().await;
    let alice = inbox(&app, "alice").await;
    let bob = inbox(&app, "bob").await;
    add(
        &app,
        &format!("/inboxes/{}/lists/block", id(&bob)),
        "alice@agentsend.localhost",
    )
    .await;
    let (status, sent) = json(
        app.post(
            &format!("/inboxes/{}/messages", id(&alice)),
            &json!({"to": ["bob@agentsend.localhost"], "subject": "hi", "bodyText": "x"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    app.settle_sends().await;
    let message = eventually("the send to be settled", || async {
        let (_, m) = json(app.get(&format!("/messages/{}", id(&sent))).await).await;
        (m["status"] != "queued" && m["status"] != "sending").then_some(m)
    })
    .await;
    assert_eq!(message["status"], "bounced", "{message}");
    assert!(messages_of(&app, &bob).await.is_empty());
}
