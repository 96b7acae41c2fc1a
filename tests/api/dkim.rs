//! DKIM signing of outgoing mail, checked with independent verifiers: `cfdkim` (Cloudflare's
//! DKIM crate, a dev-dependency, so every `cargo test` checks signatures) and, where it is
//! installed, Python's dkimpy (`.ci/run` installs it; without it that cross-check is skipped
//! with a note). Both are fed the public key record by the test: no DNS, no network.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, have_tool, json};

/// Whether dkimpy is installed (see [`have_tool`]).
fn have_dkimpy() -> bool {
    have_tool("dkimpy", &["python3", "-c", "import dkim"])
}

/// Answers cfdkim's one DNS question, the TXT record at `name`, with `record`.
struct OneRecord {
    name: String,
    record: String,
}

impl cfdkim::dns::Lookup for OneRecord {
    fn lookup_txt<'a>(
        &'a self,
        name: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, cfdkim::DKIMError>> + Send + 'a>> {
        let found = name.trim_end_matches('.').eq_ignore_ascii_case(&self.name);
        let answer = if found {
            Ok(vec![self.record.clone()])
        } else {
            Err(cfdkim::DKIMError::NoKeyForSignature)
        };
        Box::pin(async move { answer })
    }
}

/// Whether cfdkim finds a valid signature by the domain of `name`
/// (`<selector>._domainkey.<domain>`), with `record` published there.
async fn cfdkim_verifies(message: &[u8], name: &str, record: &str) -> bool {
    let (_, domain) = name.split_once("._domainkey.").unwrap();
    let parsed = mailparse::parse_mail(message).unwrap();
    let resolver = Arc::new(OneRecord {
        name: name.to_owned(),
        record: record.to_owned(),
    });
    let logger = slog::Logger::root(slog::Discard, slog::o!());
    let result = cfdkim::verify_email_with_resolver(&logger, domain, &parsed, resolver)
        .await
        .unwrap();
    result.summary() == "pass"
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
        .expect("python3 is needed for the dkimpy cross-check");
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
        let text = String::from_utf8(raw.clone()).unwrap();
        // Any change to a signed header or the body breaks it.
        let forged_header = text.replacen("Signed, sealed", "Signed, sealeD", 1);
        let forged_body = text.replacen("Bye.", "Bye!", 1);
        // The record of another key (of the other kind) does not verify it.
        let other_pem: &[u8] = if key == "dkim-rsa.pem" {
            include_bytes!("../fixtures/dkim-ed25519.pem")
        } else {
            include_bytes!("../fixtures/dkim-rsa.pem")
        };
        let other =
            agentsend::mail::dkim::DkimKey::from_pem(other_pem, "agentsend.localhost", "s2026")
                .unwrap()
                .dns_record()
                .1;
        assert!(cfdkim_verifies(&raw, &name, &record).await, "{key}");
        assert!(!cfdkim_verifies(forged_header.as_bytes(), &name, &record).await);
        assert!(!cfdkim_verifies(forged_body.as_bytes(), &name, &record).await);
        assert!(!cfdkim_verifies(&raw, &name, &other).await, "{key}");
        // dkimpy checks Ed25519 only with PyNaCl installed; RSA is the common case.
        if key == "dkim-rsa.pem" && have_dkimpy() {
            assert!(dkimpy_verifies(&raw, &name, &record), "{key}");
            assert!(!dkimpy_verifies(forged_header.as_bytes(), &name, &record));
            assert!(!dkimpy_verifies(forged_body.as_bytes(), &name, &record));
            assert!(!dkimpy_verifies(&raw, &name, &other));
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
    let dir = crate::backend::Scratch::new();
    let bad = dir.path().join("bad.pem");
    std::fs::write(
        &bad,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for path in [bad.clone(), dir.path().join("missing.pem")] {
        let mut config = crate::helpers::test_config(&dir);
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

    // Verifiers accept it with the published record: mail-auth through the test's DNS server,
    // cfdkim (and dkimpy, where installed) given the record.
    assert!(mail_auth_verifies(&raw, &app.dns).await);
    let dkim = record(&d, "dkim");
    let (name, value) = (
        dkim["name"].as_str().unwrap(),
        dkim["value"].as_str().unwrap(),
    );
    assert!(cfdkim_verifies(&raw, name, value).await);
    // A changed body fails them all.
    let forged = text.replacen("Signed with", "Sighed with", 1);
    assert!(!mail_auth_verifies(forged.as_bytes(), &app.dns).await);
    assert!(!cfdkim_verifies(forged.as_bytes(), name, value).await);
    if have_dkimpy() {
        assert!(dkimpy_verifies(&raw, name, value));
        assert!(!dkimpy_verifies(forged.as_bytes(), name, value));
    }

    // An inbox on the shared domain is not signed with the custom domain's key.
    let raw = sent_raw(&app, "someone@example.com").await;
    assert!(!String::from_utf8_lossy(&raw).contains("DKIM-Signature"));
}
