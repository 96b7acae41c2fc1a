//! The SMTP listener over real TCP.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, json};
use crate::smtp_client::{SmtpClient, connect_from, send_mail};

async fn inbox(app: &TestApp, local: &str) -> Value {
    app.create_inbox(json!({"address": local})).await
}

async fn messages_of(app: &TestApp, inbox: &Value) -> Vec<Value> {
    let (status, page) = json(
        app.get(&format!(
            "/inboxes/{}/messages?limit=100",
            inbox["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["data"].as_array().unwrap().clone()
}

const SIMPLE: &[u8] = b"From: Ada <ada@example.com>\r\nTo: bob@agentsend.localhost\r\nSubject: Hello\r\n\r\nHi Bob\r\n";

#[tokio::test]
async fn ehlo_advertises_the_extensions_and_a_message_is_accepted_and_stored() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let mut c = SmtpClient::connect(app.smtp).await;
    let ehlo = c.cmd("EHLO client.example", 250).await;
    for ext in [
        "SIZE 26214400",
        "8BITMIME",
        "PIPELINING",
        "ENHANCEDSTATUSCODES",
        "SMTPUTF8",
    ] {
        assert!(ehlo.lines().any(|l| l == ext), "{ext} in {ehlo}");
    }
    assert!(!ehlo.contains("STARTTLS"), "no certificate, no STARTTLS");
    assert!(!ehlo.contains("AUTH"));
    let (code, text) = c
        .deliver("ada@example.com", &["Bob@AgentSend.localhost"], SIMPLE)
        .await;
    assert_eq!(code, 250, "{text}");
    assert!(text.starts_with("2.0.0"));
    c.cmd("NOOP", 250).await;
    c.cmd("VRFY bob", 252).await;
    c.cmd("QUIT", 221).await;
    let stored = messages_of(&app, &bob).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["subject"], "Hello");
    assert_eq!(stored[0]["status"], "received");
    assert_eq!(stored[0]["direction"], "inbound");
}

#[tokio::test]
async fn unknown_deleted_and_foreign_recipients_are_refused_it_is_not_a_relay() {
    let app = TestApp::spawn().await;
    let gone = inbox(&app, "gone").await;
    app.delete(&format!("/inboxes/{}", gone["id"].as_str().unwrap()))
        .await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    for rcpt in [
        "nobody@agentsend.localhost",
        "gone@agentsend.localhost",
        "someone@gmail.com",
        "postmaster@example.org",
    ] {
        let text = c.cmd(&format!("RCPT TO:<{rcpt}>"), 550).await;
        assert!(text.starts_with("5.1.1"), "{text}");
    }
    let text = c.cmd("DATA", 554).await;
    assert!(text.contains("No valid recipients"));
}

#[tokio::test]
async fn commands_out_of_order_and_unknown_ones_get_the_right_codes() {
    let app = TestApp::spawn().await;
    inbox(&app, "bob").await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("MAIL FROM:<a@example.com>", 503).await;
    c.cmd("HELO x", 250).await;
    c.cmd("RCPT TO:<bob@agentsend.localhost>", 503).await;
    c.cmd("DATA", 503).await;
    c.cmd("FOO bar", 500).await;
    c.cmd("AUTH PLAIN AGFAYg==", 502).await;
    c.cmd("STARTTLS", 502).await;
    c.cmd("MAIL FROM:<not an address>", 501).await;
    c.cmd("MAIL FROM:<a@example.com> BODY=BINARYMIME", 555)
        .await;
    c.cmd("MAIL FROM:<>", 250).await;
    c.cmd("MAIL FROM:<b@example.com>", 503).await;
    c.cmd("RSET", 250).await;
    c.cmd("MAIL FROM:<b@example.com>", 250).await;
}

#[tokio::test]
async fn rset_mid_transaction_forgets_sender_and_recipients() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    c.cmd("RCPT TO:<bob@agentsend.localhost>", 250).await;
    c.cmd("RSET", 250).await;
    c.cmd("DATA", 503).await;
    let (code, _) = c
        .deliver("a@example.com", &["bob@agentsend.localhost"], SIMPLE)
        .await;
    assert_eq!(code, 250);
    assert_eq!(messages_of(&app, &bob).await.len(), 1);
}

#[tokio::test]
async fn pipelined_commands_are_answered_in_order() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.send(b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<nobody@agentsend.localhost>\r\nRCPT TO:<bob@agentsend.localhost>\r\nDATA\r\n").await;
    let codes: Vec<u16> = {
        let mut v = Vec::new();
        for _ in 0..5 {
            v.push(c.reply().await.0);
        }
        v
    };
    assert_eq!(codes, [250, 250, 550, 250, 354]);
    let mut data = crate::smtp_client::dot_stuffed(SIMPLE);
    data.extend_from_slice(b"QUIT\r\n");
    c.send(&data).await;
    assert_eq!(c.reply().await.0, 250);
    assert_eq!(c.reply().await.0, 221);
    assert_eq!(messages_of(&app, &bob).await.len(), 1);
}

#[tokio::test]
async fn two_recipients_in_one_transaction_get_a_copy_each() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let carol = inbox(&app, "carol").await;
    let (code, _) = send_mail(
        app.smtp,
        "a@example.com",
        &[
            "bob@agentsend.localhost",
            "carol@agentsend.localhost",
            "BOB@agentsend.localhost",
        ],
        SIMPLE,
    )
    .await;
    assert_eq!(code, 250);
    let b = messages_of(&app, &bob).await;
    let c = messages_of(&app, &carol).await;
    assert_eq!(b.len(), 1, "the same inbox twice is one copy");
    assert_eq!(c.len(), 1);
    assert_ne!(b[0]["id"], c[0]["id"]);
    assert_ne!(b[0]["threadId"], c[0]["threadId"]);
}

#[tokio::test]
async fn a_message_over_the_size_limit_is_refused_by_size_and_by_streaming() {
    let app = TestApp::spawn_with(|c| c.smtp.max_message_size = 4096).await;
    let bob = inbox(&app, "bob").await;
    let mut c = SmtpClient::connect(app.smtp).await;
    let ehlo = c.cmd("EHLO x", 250).await;
    assert!(ehlo.contains("SIZE 4096"));
    let text = c.cmd("MAIL FROM:<a@example.com> SIZE=5000", 552).await;
    assert!(text.starts_with("5.3.4"));
    c.cmd("MAIL FROM:<a@example.com> SIZE=4000", 250).await;
    c.cmd("RCPT TO:<bob@agentsend.localhost>", 250).await;
    c.cmd("DATA", 354).await;
    let mut big = SIMPLE.to_vec();
    for _ in 0..200 {
        big.extend_from_slice(b"0123456789012345678901234567890123456789\r\n");
    }
    c.send(&crate::smtp_client::dot_stuffed(&big)).await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 552, "{text}");
    // The session is still in step: the next transaction works.
    let (code, _) = c
        .deliver("a@example.com", &["bob@agentsend.localhost"], SIMPLE)
        .await;
    assert_eq!(code, 250);
    assert_eq!(messages_of(&app, &bob).await.len(), 1);
}

#[tokio::test]
async fn a_command_line_over_512_octets_is_refused_and_the_session_goes_on() {
    let app = TestApp::spawn().await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    let long = format!("MAIL FROM:<{}@example.com>", "a".repeat(600));
    let text = c.cmd(&long, 500).await;
    assert!(text.starts_with("5.5.2"), "{text}");
    // Longer than any buffer: sent in pieces, one reply.
    c.send(&vec![b'x'; 100_000]).await;
    c.send(b"\r\n").await;
    assert_eq!(c.reply().await.0, 500);
    c.cmd("NOOP", 250).await;
}

#[tokio::test]
async fn an_idle_session_is_closed_with_421() {
    let app = TestApp::spawn_with(|c| c.smtp.idle_timeout_secs = 1).await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    let started = std::time::Instant::now();
    let (code, text) = c.reply().await;
    assert_eq!(code, 421, "{text}");
    assert!(text.starts_with("4.4.2"));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert_eq!(c.reply().await.0, 0, "then the connection is closed");
}

#[tokio::test]
async fn a_smuggled_second_message_stays_inside_the_first() {
    let app = TestApp::spawn().await;
    let bob = inbox(&app, "bob").await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    c.cmd("RCPT TO:<bob@agentsend.localhost>", 250).await;
    c.cmd("DATA", 354).await;
    // Each of these "ends" the data for some servers; for this one they are all data.
    c.send(b"From: a@example.com\r\nSubject: first\r\n\r\nhello\n.\nMAIL FROM:<admin@agentsend.localhost>\nRCPT TO:<bob@agentsend.localhost>\nDATA\nSubject: smuggled\n\nevil\n.\r\nmore\r\n.\nstill data\r\n.\r\n").await;
    let (code, _) = c.reply().await;
    assert_eq!(code, 250);
    c.cmd("QUIT", 221).await;
    let stored = messages_of(&app, &bob).await;
    assert_eq!(stored.len(), 1, "exactly one message");
    let raw = app
        .get(&format!(
            "/messages/{}/raw",
            stored[0]["id"].as_str().unwrap()
        ))
        .await
        .bytes()
        .await
        .unwrap();
    let raw = String::from_utf8_lossy(&raw);
    assert!(
        raw.contains("Subject: smuggled") && raw.contains("evil") && raw.contains("still data"),
        "{raw}"
    );
    assert_eq!(stored[0]["subject"], "first");
}

#[tokio::test]
async fn sessions_over_the_limit_are_turned_away_with_421() {
    let app = TestApp::spawn_with(|c| c.smtp.max_sessions = 1).await;
    let mut first = SmtpClient::connect(app.smtp).await;
    first.cmd("EHLO x", 250).await;
    let stream = tokio::net::TcpStream::connect(app.smtp).await.unwrap();
    let mut second = SmtpClient::over(stream);
    let (code, text) = second.reply().await;
    assert_eq!(code, 421, "{text}");
    first.cmd("QUIT", 221).await;
}

#[tokio::test]
async fn four_hosts_holding_idle_sessions_leave_room_for_a_fifth() {
    let app = TestApp::spawn().await;
    let per_host = app.state.config.smtp.max_sessions_per_ip;
    let mut idle = Vec::new();
    for host in 2..=5 {
        for _ in 0..per_host {
            let stream = connect_from(app.smtp, [127, 0, 0, host]).await;
            let mut c = SmtpClient::over(stream);
            assert_eq!(c.reply().await.0, 220);
            idle.push(c);
        }
        // One more from the same host is turned away.
        let mut extra = SmtpClient::over(connect_from(app.smtp, [127, 0, 0, host]).await);
        let (code, text) = extra.reply().await;
        assert_eq!(code, 421, "{text}");
    }
    let mut fifth = SmtpClient::over(connect_from(app.smtp, [127, 0, 0, 6]).await);
    assert_eq!(fifth.reply().await.0, 220);
    fifth.cmd("EHLO fifth.example", 250).await;
    assert_eq!(idle.len(), 4 * per_host);
}

#[tokio::test]
async fn a_size_too_large_to_count_is_refused_with_552() {
    let app = TestApp::spawn().await;
    inbox(&app, "bob").await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    for size in ["99999999999999999999999", "18446744073709551616"] {
        let text = c
            .cmd(&format!("MAIL FROM:<a@example.com> SIZE={size}"), 552)
            .await;
        assert!(text.starts_with("5.3.4"), "{text}");
    }
    let (code, _) = c
        .deliver("a@example.com", &["bob@agentsend.localhost"], SIMPLE)
        .await;
    assert_eq!(code, 250);
}

#[tokio::test]
async fn data_trickled_below_the_minimum_rate_is_cut_off() {
    let app = TestApp::spawn_with(|c| {
        c.smtp.idle_timeout_secs = 1;
        c.smtp.min_data_rate = 10_000;
    })
    .await;
    inbox(&app, "bob").await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    c.cmd("MAIL FROM:<a@example.com>", 250).await;
    c.cmd("RCPT TO:<bob@agentsend.localhost>", 250).await;
    c.cmd("DATA", 354).await;
    let started = std::time::Instant::now();
    // 100 bytes every 100 ms: a tenth of the floor, and never idle for a second.
    while started.elapsed() < Duration::from_millis(1500) && c.try_send(&[b'x'; 100]).await {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, text) = c.reply().await;
    assert_eq!(code, 421, "{text}");
    assert!(text.contains("too slow"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn shutting_down_says_421_to_open_sessions() {
    let mut app = TestApp::spawn().await;
    let mut c = SmtpClient::connect(app.smtp).await;
    c.cmd("EHLO x", 250).await;
    app.shutdown().await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 421, "{text}");
    assert!(text.starts_with("4.3.2"));
}

#[tokio::test]
async fn starttls_upgrades_the_session_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let app = TestApp::spawn_with(|c| {
        c.smtp.tls_certificate = cert_path.clone();
        c.smtp.tls_private_key = key_path.clone();
    })
    .await;
    let bob = inbox(&app, "bob").await;

    let mut c = SmtpClient::connect(app.smtp).await;
    let ehlo = c.cmd("EHLO x", 250).await;
    assert!(ehlo.lines().any(|l| l == "STARTTLS"));
    c.cmd("STARTTLS", 220).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    crate::helpers::install_crypto_provider();
    let tls_config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls_config));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let tls = connector.connect(name, c.into_inner()).await.unwrap();
    let mut c = SmtpClient::over(tls);
    let ehlo = c.cmd("EHLO x", 250).await;
    assert!(!ehlo.contains("STARTTLS"), "not offered twice");
    c.cmd("STARTTLS", 503).await;
    let (code, _) = c
        .deliver("a@example.com", &["bob@agentsend.localhost"], SIMPLE)
        .await;
    assert_eq!(code, 250);
    let stored = messages_of(&app, &bob).await;
    let raw = app
        .get(&format!(
            "/messages/{}/raw",
            stored[0]["id"].as_str().unwrap()
        ))
        .await
        .text()
        .await
        .unwrap();
    assert!(raw.contains("with ESMTPS"), "{raw}");
}
