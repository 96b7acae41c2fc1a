//! DKIM signing of outgoing mail, checked with an independent verifier (Python's dkimpy; CI
//! installs it with `pip install dkimpy`; without it those checks are skipped with a note).

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, have_tool, json};

/// Whether dkimpy is installed (see [`have_tool`]).
fn have_dkimpy() -> bool {
    have_tool("dkimpy", &["python3", "-c", "import dkim"])
}

/// Whether dkimpy finds a valid signature, with `record` published at `name`.
fn dkimpy_verifies(message: &[u8], name: &str, record: &str) -> bool {
    const SCRIPT: &str = r#"
import sys, dkim
name, record = sys.argv[1].encode(), sys.argv[2].encode()
def dns(qname, timeout=5):
    return record if qname.rstrip(b".").lower() == name else None
print(dkim.verify(sys.stdin.buffer.read(), dnsfunc=dns))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT, name, record])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed for the DKIM tests");
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "dkimpy failed (pip install dkimpy): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    match String::from_utf8_lossy(&out.stdout).trim() {
        "True" => true,
        "False" => false,
        other => panic!("unexpected dkimpy output {other:?}"),
    }
}

async fn sent_raw(app: &TestApp, to: &str) -> Vec<u8> {
    let inbox = app
        .create_inbox(json!({"address": "alice", "displayName": "Alice"}))
        .await;
    let (status, message) = json(
        app.post(
            &format!("/inboxes/{}/messages", inbox["id"].as_str().unwrap()),
            &json!({"to": [to], "subject": "Signed, sealed", "bodyText": "Hello.\n.\nBye.",
                    "bodyHtml": "<p>Hello</p>"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{message}");
    app.raw(&message).await
}

#[tokio::test]
async fn mail_from_the_shared_domain_is_signed_and_verifies_independently() {
    for key in ["dkim-rsa.pem", "dkim-ed25519.pem"] {
        let app = TestApp::spawn_with(|c| {
            c.mail.dkim_private_key =
                format!("{}/tests/fixtures/{key}", env!("CARGO_MANIFEST_DIR")).into();
            c.mail.dkim_selector = "s2026".to_owned();
        })
        .await;
        let (name, record) = app.state.dkim.as_ref().unwrap().dns_record();
        assert_eq!(name, "s2026._domainkey.agentsend.localhost");
        let raw = sent_raw(&app, "someone@example.com").await;
        assert!(raw.starts_with(b"DKIM-Signature: "), "{key}");
        if key == "dkim-rsa.pem" && have_dkimpy() {
            // dkimpy checks Ed25519 only with PyNaCl installed; RSA is the common case.
            assert!(dkimpy_verifies(&raw, &name, &record), "{key}");
            // Any change to a signed header or the body breaks it.
            let text = String::from_utf8(raw.clone()).unwrap();
            let forged = text.replacen("Signed, sealed", "Signed, sealeD", 1);
            assert!(!dkimpy_verifies(forged.as_bytes(), &name, &record));
            let forged = text.replacen("Bye.", "Bye!", 1);
            assert!(!dkimpy_verifies(forged.as_bytes(), &name, &record));
            // Another key's record does not verify it.
            let other = agentsend::mail::dkim::DkimKey::from_pem(
                include_bytes!("../fixtures/dkim-ed25519.pem"),
                "agentsend.localhost",
                "s2026",
            )
            .unwrap();
            assert!(!dkimpy_verifies(&raw, &name, &other.dns_record().1));
        }
    }
}

#[tokio::test]
async fn without_a_key_nothing_is_signed() {
    let app = TestApp::spawn().await;
    assert!(app.state.dkim.is_none());
    let raw = sent_raw(&app, "someone@example.com").await;
    assert!(!String::from_utf8_lossy(&raw).contains("DKIM-Signature"));
}

#[tokio::test]
async fn a_bad_key_file_stops_start_up_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for path in [bad.clone(), dir.path().join("missing.pem")] {
        let mut config = crate::helpers::test_config(dir.path());
        config.mail.dkim_private_key = path.clone();
        let err = agentsend::Application::build(config).await.err().unwrap();
        assert!(
            format!("{err:#}").contains(path.to_str().unwrap()),
            "{err:#}"
        );
    }
}

/// Whether mail-auth finds a passing DKIM signature, resolving with `dns`.
async fn mail_auth_verifies(message: &[u8], dns: &crate::dns::TestDns) -> bool {
    let mut config = agentsend::config::Config::default();
    config.dns.nameservers = vec![dns.addr];
    let resolver = agentsend::dns::Dns::from_config(&config).unwrap();
    let parsed = mail_auth::AuthenticatedMessage::parse(message).unwrap();
    let outputs = resolver.authenticator().verify_dkim(&parsed).await;
    !outputs.is_empty()
        && outputs
            .iter()
            .all(|o| *o.result() == mail_auth::DkimResult::Pass)
}

#[tokio::test]
async fn mail_from_a_verified_custom_domain_is_signed_with_its_own_key() {
    use crate::domains::{add, id, publish, record, verify};
    // RSA, the default.
    let app = TestApp::spawn().await;
    let d = add(&app, "signed.example").await;
    for purpose in ["verification", "dkim"] {
        publish(&app, &d, purpose).await;
    }
    assert_eq!(verify(&app, &d).await["sendingStatus"], "verified");
    let inbox = app
        .create_inbox(json!({"address": "agent", "domainId": d["id"]}))
        .await;
    let (status, message) = json(
        app.post(
            &format!("/inboxes/{}/messages", id(&inbox)),
            &json!({"to": ["someone@example.com"], "subject": "From my own domain",
                    "bodyText": "Signed with the domain's key."}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{message}");
    assert!(
        message["messageIdHeader"]
            .as_str()
            .unwrap()
            .ends_with("@signed.example>"),
        "{message}"
    );
    let raw = app.raw(&message).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert!(text.starts_with("DKIM-Signature: "), "{text}");
    let selector = record(&d, "dkim")["name"]
        .as_str()
        .unwrap()
        .strip_suffix("._domainkey.signed.example")
        .unwrap()
        .to_owned();
    assert!(
        text.contains("d=signed.example") && text.contains(&format!("s={selector};")),
        "{text}"
    );

    // Two independent verifiers accept it with the published record.
    assert!(mail_auth_verifies(&raw, &app.dns).await);
    let dkim = record(&d, "dkim");
    let (name, value) = (
        dkim["name"].as_str().unwrap(),
        dkim["value"].as_str().unwrap(),
    );
    // A changed body fails both.
    let forged = text.replacen("Signed with", "Sighed with", 1);
    assert!(!mail_auth_verifies(forged.as_bytes(), &app.dns).await);
    if have_dkimpy() {
        assert!(dkimpy_verifies(&raw, name, value));
        assert!(!dkimpy_verifies(forged.as_bytes(), name, value));
    }

    // An inbox on the shared domain is not signed with the custom domain's key.
    let raw = sent_raw(&app, "someone@example.com").await;
    assert!(!String::from_utf8_lossy(&raw).contains("DKIM-Signature"));
}
