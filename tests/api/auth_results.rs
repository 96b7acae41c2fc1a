//! SPF, DKIM and DMARC results of mail received over SMTP, checked against the test's own DNS
//! server.

use agentsend::config::{CheckInbound, Config};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json};
use crate::receiver::{Receiver, Reply};
use crate::smtp_client::send_mail;

/// The checks are `auto` by default, which is off for a listener on loopback.
fn checks_on(c: &mut Config) {
    c.dns.check_inbound = CheckInbound::Enabled;
}

/// Delivers `data` over SMTP from 127.0.0.1 and returns the stored message.
async fn receive(app: &TestApp, inbox: &Value, mail_from: &str, data: &[u8]) -> Value {
    let to = inbox["address"].as_str().unwrap();
    let (code, text) = send_mail(app.smtp, mail_from, &[to], data).await;
    assert_eq!(code, 250, "{text}");
    let (_, list) = json(
        app.get(&format!(
            "/inboxes/{}/messages?limit=1",
            inbox["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    list["data"][0].clone()
}

fn message(from: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: agent@agentsend.localhost\r\nSubject: {subject}\r\n\
         Message-ID: <{subject}@example>\r\nDate: Sun, 29 Nov 2026 10:00:00 +0000\r\n\r\nHello.\r\n"
    )
    .into_bytes()
}

#[tokio::test]
async fn signed_mail_from_an_authorised_host_passes_and_a_forgery_fails() {
    let app = TestApp::spawn_with(checks_on).await;
    let inbox = app.create_inbox(json!({"address": "agent"})).await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    let (status, _) = json(
        app.post(
            "/webhooks",
            &json!({"url": receiver.url, "events": ["message.received"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 201);

    // sender.example: SPF allows 127.0.0.1, a DKIM key, DMARC p=reject.
    let key = agentsend::mail::dkim::DkimKey::from_pem(
        include_bytes!("../fixtures/dkim-rsa.pem"),
        "sender.example",
        "s1",
    )
    .unwrap();
    let (name, record) = key.dns_record();
    app.dns.set_txt(&name, &[&record]).await;
    app.dns
        .set_txt("sender.example", &["v=spf1 ip4:127.0.0.1 -all"])
        .await;
    app.dns
        .set_txt("_dmarc.sender.example", &["v=DMARC1; p=reject"])
        .await;
    let signed = key
        .sign(&message("Bob <bob@sender.example>", "genuine"))
        .unwrap();
    let got = receive(&app, &inbox, "bob@sender.example", &signed).await;
    assert_eq!(got["subject"], "genuine");
    let auth = &got["authResults"];
    assert_eq!(
        auth["spf"],
        json!({"result": "pass", "domain": "sender.example"})
    );
    assert_eq!(
        auth["dkim"],
        json!([{"result": "pass", "domain": "sender.example", "selector": "s1"}])
    );
    assert_eq!(
        auth["dmarc"],
        json!({"result": "pass", "domain": "sender.example", "policy": "reject"})
    );
    // So does the message.received event.
    let event = receiver.wait_for(1).await[0].json();
    assert_eq!(event["data"]["messageId"], got["id"]);
    assert_eq!(&event["data"]["authResults"], auth);
    // The stored message says the same in an Authentication-Results header under Received.
    let raw = String::from_utf8(app.raw(&got).await).unwrap();
    let received_at = raw.find("Received: ").unwrap();
    let results_at = raw.find("Authentication-Results: localhost;").unwrap();
    assert!(received_at < results_at && results_at < raw.find("DKIM-Signature").unwrap());
    assert!(
        raw.contains("spf=pass smtp.mailfrom=sender.example;\r\n\tdkim=pass header.d=sender.example header.s=s1;\r\n\tdmarc=pass header.from=sender.example\r\n"),
        "{raw}"
    );

    // bank.example sends only from 192.0.2.1 and signs everything: unsigned mail in its name
    // from here is a forgery.
    app.dns
        .set_txt("bank.example", &["v=spf1 ip4:192.0.2.1 -all"])
        .await;
    app.dns
        .set_txt("_dmarc.bank.example", &["v=DMARC1; p=reject"])
        .await;
    let forged = message("Bank <ceo@bank.example>", "forged");
    let got = receive(&app, &inbox, "ceo@bank.example", &forged).await;
    let auth = &got["authResults"];
    assert_eq!(
        auth["spf"],
        json!({"result": "fail", "domain": "bank.example"})
    );
    assert_eq!(auth["dkim"], json!([]));
    assert_eq!(
        auth["dmarc"],
        json!({"result": "fail", "domain": "bank.example", "policy": "reject"})
    );

    // A signed message altered on the way: DKIM fails, with a reason.
    let text = String::from_utf8(key.sign(&message("bob@sender.example", "altered")).unwrap())
        .unwrap()
        .replace("Hello.", "Hello!");
    let got = receive(&app, &inbox, "bob@sender.example", text.as_bytes()).await;
    let dkim = &got["authResults"]["dkim"][0];
    assert_eq!(dkim["result"], "fail", "{dkim}");
    assert!(dkim["reason"].is_string(), "{dkim}");

    // A domain that publishes nothing.
    let got = receive(
        &app,
        &inbox,
        "someone@quiet.example",
        &message("someone@quiet.example", "unknown"),
    )
    .await;
    let auth = &got["authResults"];
    assert_eq!(
        auth["spf"],
        json!({"result": "none", "domain": "quiet.example"})
    );
    assert_eq!(auth["dmarc"]["result"], "none");
    assert_eq!(auth["dmarc"]["policy"], "none");
}

#[tokio::test]
async fn no_results_for_local_deliveries_or_with_the_checks_off() {
    // Off, and "auto" with the listener on loopback, as in tests.
    for setting in [CheckInbound::Disabled, CheckInbound::Auto] {
        let app = TestApp::spawn_with(|c| c.dns.check_inbound = setting).await;
        let inbox = app.create_inbox(json!({"address": "agent"})).await;
        let got = receive(
            &app,
            &inbox,
            "bob@sender.example",
            &message("bob@sender.example", "unchecked"),
        )
        .await;
        assert!(got["authResults"].is_null(), "{setting:?}: {got}");
        let raw = String::from_utf8(app.raw(&got).await).unwrap();
        assert!(!raw.contains("Authentication-Results"), "{raw}");
    }

    let app = TestApp::spawn_with(|c| {
        checks_on(c);
        assert!(c.smtp.listen.ip().is_loopback());
    })
    .await;
    let from = app.create_inbox(json!({"address": "from"})).await;
    let to = app.create_inbox(json!({"address": "agent"})).await;
    let (status, sent) = json(
        app.post(
            &format!("/inboxes/{}/messages", from["id"].as_str().unwrap()),
            &json!({"to": ["agent@agentsend.localhost"], "subject": "local", "bodyText": "hi"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 202, "{sent}");
    assert!(sent["authResults"].is_null());
    app.settle_sends().await;
    let (_, list) = json(
        app.get(&format!("/inboxes/{}/messages", to["id"].as_str().unwrap()))
            .await,
    )
    .await;
    assert_eq!(list["data"][0]["subject"], "local");
    assert!(list["data"][0]["authResults"].is_null());
}

#[tokio::test]
async fn a_dns_server_that_does_not_answer_gives_temperror_and_the_mail_is_still_taken() {
    let (silent, _socket) = crate::dns::silent_dns().await;
    let app = TestApp::spawn_with(|c| {
        checks_on(c);
        c.dns.nameservers = vec![silent];
        c.dns.timeout_secs = 1;
    })
    .await;
    let inbox = app.create_inbox(json!({"address": "agent"})).await;
    let got = receive(
        &app,
        &inbox,
        "bob@sender.example",
        &message("bob@sender.example", "slow"),
    )
    .await;
    assert_eq!(got["subject"], "slow");
    assert_eq!(got["authResults"]["spf"]["result"], "temperror", "{got}");
    assert_eq!(got["authResults"]["dmarc"]["result"], "temperror", "{got}");
    assert_eq!(
        got["authResults"]["dmarc"]["domain"], "sender.example",
        "{got}"
    );
    assert_eq!(got["authResults"]["dkim"], json!([]), "{got}");
}

#[tokio::test]
async fn results_a_sender_wrote_in_this_servers_name_are_renamed() {
    for setting in [CheckInbound::Enabled, CheckInbound::Disabled] {
        let app = TestApp::spawn_with(|c| c.dns.check_inbound = setting).await;
        let inbox = app.create_inbox(json!({"address": "agent"})).await;
        let forged =
            b"Authentication-Results: localhost; dkim=pass header.d=bank.example; dmarc=pass\r\n\
Authentication-Results: mx.elsewhere.example; spf=pass\r\n\
From: ceo@bank.example\r\nSubject: trust me\r\n\r\nPay now.\r\n";
        let got = receive(&app, &inbox, "ceo@bank.example", forged).await;
        let raw = String::from_utf8(app.raw(&got).await).unwrap();
        assert!(
            raw.contains("\r\nX-Untrusted-Authentication-Results: localhost; dkim=pass"),
            "{raw}"
        );
        assert!(raw.contains("\r\nAuthentication-Results: mx.elsewhere.example; spf=pass"));
        // Only the server's own results (when it checks) claim to be the server's.
        let ours = raw
            .matches("\r\nAuthentication-Results: localhost;")
            .count();
        let expected = usize::from(setting == CheckInbound::Enabled);
        assert_eq!(ours, expected, "{setting:?}: {raw}");
    }
}
