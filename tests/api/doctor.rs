//! `agentsend doctor`, the real binary, against a DNS server on loopback: a zone set up right,
//! one set up wrong in every way the checks know, and STARTTLS certificates.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::process::Output;

use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::dns::TestDns;
use crate::domains::{add, domain_config, publish, record, verify};
use crate::helpers::TestApp;
use crate::process::agentsend;

/// The server's name (also the MX target of its domains, `domains::MAIL_HOST`).
const HOST: &str = "mx.agentsend.test";
const HOST_V4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);
const HOST_V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 5);

/// A configuration file for `doctor` in `dir`: this database and DNS server, `direct` mode
/// with MX hosts contacted on `port`, and `extra` TOML appended.
fn write_config(dir: &Path, db: &str, dns: &TestDns, port: u16, extra: &str) -> String {
    let path = dir.join("doctor.toml");
    let text = format!(
        "[database]\nurl = {:?}\n\
         [dns]\nnameservers = [\"{}\"]\ntimeout_secs = 1\n\
         [smtp]\nhostname = \"{HOST}\"\n{extra}\n\
         [outbound]\nmode = \"direct\"\nehlo_hostname = \"{HOST}\"\ndirect_port = {port}\n\
         [domains]\nmail_host = \"{HOST}\"\ndkim_algorithm = \"ed25519\"\n\
         spf_senders = [\"203.0.113.5\", \"mail.agentsend.test\"]\n",
        if db.contains("://") {
            db.to_owned()
        } else {
            format!("sqlite://{db}")
        },
        dns.addr
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// Runs the binary without blocking the runtime that serves the test's DNS and listeners.
async fn doctor(dir: &Path, config: &str, extra: &[&str]) -> Output {
    let mut cmd = agentsend(dir);
    cmd.args(["--config", config, "doctor", "--probe-domain", "probe.test"])
        .args(["--timeout", "2"])
        .args(extra);
    tokio::process::Command::from(cmd).output().await.unwrap()
}

/// `doctor --json`'s findings, and whether it exited with 0.
async fn findings(dir: &Path, config: &str) -> (Vec<Value>, bool) {
    let out = doctor(dir, config, &["--json"]).await;
    let text = String::from_utf8(out.stdout).unwrap();
    let parsed: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (parsed, out.status.success())
}

/// The finding of `check` about `subject`.
fn finding<'a>(all: &'a [Value], check: &str, subject: &str) -> &'a Value {
    all.iter()
        .find(|f| f["check"] == check && f["subject"].as_str().unwrap().starts_with(subject))
        .unwrap_or_else(|| panic!("no {check} finding about {subject}: {all:#?}"))
}

fn assert_status(f: &Value, status: &str) {
    assert_eq!(f["status"], status, "{f:#}");
}

/// A server that answers every connection with an SMTP greeting.
async fn greeter() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = stream
                .write_all(b"220-probe.test ESMTP\r\n220 ready\r\n")
                .await;
        }
    });
    port
}

/// A loopback port nobody listens on.
async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

/// The probe domain's MX on loopback.
async fn publish_probe(dns: &TestDns) {
    dns.set_mx("probe.test", "mx.probe.test").await;
    dns.set_a("mx.probe.test", Ipv4Addr::LOCALHOST).await;
}

#[tokio::test]
async fn doctor_passes_a_server_whose_dns_and_port_25_are_set_up_right() {
    let app = TestApp::spawn_with(domain_config).await;
    let dns = &app.dns;
    let domain = add(&app, "good.test").await;
    for purpose in ["verification", "dkim", "spf", "mx", "dmarc"] {
        publish(&app, &domain, purpose).await;
    }
    assert_eq!(verify(&app, &domain).await["sendingStatus"], "verified");
    dns.set_a(HOST, HOST_V4).await;
    dns.set_aaaa(HOST, HOST_V6).await;
    dns.set_ptr(IpAddr::V4(HOST_V4), HOST).await;
    dns.set_ptr(IpAddr::V6(HOST_V6), HOST).await;
    publish_probe(dns).await;
    let port = greeter().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &app.db_arg(), dns, port, "");

    let (all, ok) = findings(dir.path(), &config).await;
    let failed: Vec<&Value> = all.iter().filter(|f| f["status"] == "fail").collect();
    assert!(ok && failed.is_empty(), "{failed:#?}");
    assert_status(finding(&all, "hostname", HOST), "ok");
    assert_status(finding(&all, "ptr", "203.0.113.5"), "ok");
    assert_status(finding(&all, "ptr", "2001:db8::5"), "ok");
    for (check, subject) in [
        ("mx", "good.test"),
        ("spf", "good.test"),
        ("dkim", "agentsend-"),
        ("dmarc", "_dmarc.good.test"),
    ] {
        let f = finding(&all, check, subject);
        assert_status(f, "ok");
        assert!(f["fix"].is_null(), "{f:#}");
    }
    let outbound = finding(&all, "outbound", "mx.probe.test");
    assert_status(outbound, "ok");
    assert!(
        outbound["detail"].as_str().unwrap().contains("220 ready"),
        "{outbound:#}"
    );
    // Not failures, but worth saying: STARTTLS off, the shared domain a local name.
    assert_status(finding(&all, "tls", "smtp"), "warn");
    assert_status(finding(&all, "domain", "agentsend.localhost"), "warn");

    let text = doctor(dir.path(), &config, &[]).await;
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("OK    mx        good.test: MX points at mx.agentsend.test"),
        "{text}"
    );
}

#[tokio::test]
async fn doctor_names_each_broken_record_with_its_fix_and_fails() {
    let app = TestApp::spawn_with(domain_config).await;
    let dns = &app.dns;
    let domain = add(&app, "bad.test").await;
    // An MX elsewhere, an SPF record without one of the senders, another key, no DMARC.
    dns.set_mx("bad.test", "mx.elsewhere.test").await;
    dns.set_txt("bad.test", &["v=spf1 ip4:203.0.113.5 ~all"])
        .await;
    let dkim = record(&domain, "dkim");
    let dkim_name = dkim["name"].as_str().unwrap();
    dns.set_txt(dkim_name, &["v=DKIM1; k=ed25519; p=bm90IHRoZSBrZXk="])
        .await;
    // No PTR for the IPv4 address; the IPv6 one names a host that does not point back.
    dns.set_a(HOST, HOST_V4).await;
    dns.set_aaaa(HOST, HOST_V6).await;
    dns.set_ptr(IpAddr::V6(HOST_V6), "other.test").await;
    dns.set_a("other.test", Ipv4Addr::new(203, 0, 113, 9)).await;
    publish_probe(dns).await;
    let port = closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &app.db_arg(), dns, port, "");

    let (all, ok) = findings(dir.path(), &config).await;
    assert!(!ok, "a failure exits with 1");
    let fails = |check: &str, subject: &str, detail: &str, fix: &str| {
        let f = finding(&all, check, subject);
        assert_status(f, "fail");
        assert!(f["detail"].as_str().unwrap().contains(detail), "{f:#}");
        assert!(f["fix"].as_str().unwrap().contains(fix), "{f:#}");
    };
    fails("ptr", "203.0.113.5", "no PTR record", "reverse DNS");
    fails(
        "ptr",
        "2001:db8::5",
        "other.test does not resolve back",
        "to mx.agentsend.test",
    );
    fails(
        "mx",
        "bad.test",
        "mx.elsewhere.test",
        "bad.test. IN MX 10 mx.agentsend.test.",
    );
    fails(
        "spf",
        "bad.test",
        "does not name a:mail.agentsend.test",
        "bad.test. IN TXT \"v=spf1 ip4:203.0.113.5 a:mail.agentsend.test ~all\"",
    );
    fails(
        "dkim",
        dkim_name,
        "does not match",
        &format!(
            "{dkim_name}. IN TXT \"{}\"",
            dkim["value"].as_str().unwrap()
        ),
    );
    fails(
        "dmarc",
        "_dmarc.bad.test",
        "no DMARC record",
        "_dmarc.bad.test. IN TXT \"v=DMARC1; p=none\"",
    );
    fails("outbound", "mx.probe.test", "cannot connect", "port");

    let text = doctor(dir.path(), &config, &[]).await;
    assert_eq!(text.status.code(), Some(1));
    let stdout = String::from_utf8(text.stdout.clone()).unwrap();
    assert!(
        stdout.contains("FAIL  dmarc     _dmarc.bad.test: no DMARC record")
            && stdout.contains("      fix: publish _dmarc.bad.test. IN TXT"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&text.stderr).contains("check(s) failed"),
        "{text:?}"
    );
}

#[tokio::test]
async fn doctor_fails_a_local_host_name_and_skips_outbound_in_dry_run() {
    let dns = TestDns::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    let config = dir.path().join("local.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = {db:?}\n[dns]\nnameservers = [\"{}\"]\ntimeout_secs = 1\n",
            dns.addr
        ),
    )
    .unwrap();
    let (all, ok) = findings(dir.path(), config.to_str().unwrap()).await;
    assert!(!ok);
    let host = finding(&all, "hostname", "localhost");
    assert_status(host, "fail");
    assert!(
        host["fix"]
            .as_str()
            .unwrap()
            .contains("set smtp.hostname to your server's public name"),
        "{host:#}"
    );
    let outbound = finding(&all, "outbound", "dry-run");
    assert_status(outbound, "info");
    assert!(
        outbound["detail"]
            .as_str()
            .unwrap()
            .starts_with("skipped: outbound.mode is dry-run")
    );
    assert!(!db.exists(), "doctor does not create a database");
}

/// A self-signed certificate for `names`, valid from `from` to `until` days from now, and its
/// key, written to `dir`.
fn certificate(dir: &Path, stem: &str, names: &[&str], from: i64, until: i64) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from);
    params.not_after = now + time::Duration::days(until);
    let cert = params.self_signed(&key).unwrap();
    let cert_path = dir.join(format!("{stem}.crt"));
    let key_path = dir.join(format!("{stem}.key"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    (
        cert_path.to_str().unwrap().to_owned(),
        key_path.to_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn doctor_checks_the_starttls_certificate_dates_names_and_key() {
    let dns = TestDns::start().await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db").display().to_string();
    let dir = dir.path();
    let run = async |cert: &str, key: &str| {
        let tls = format!("tls_certificate = {cert:?}\ntls_private_key = {key:?}");
        let config = write_config(dir, &db, &dns, 25, &tls);
        findings(dir, &config).await.0
    };

    let (cert, key) = certificate(dir, "good", &["*.agentsend.test"], -1, 90);
    let all = run(&cert, &key).await;
    let checked: Vec<&Value> = all.iter().filter(|f| f["check"] == "tls").collect();
    assert_eq!(checked.len(), 3, "{checked:#?}");
    assert!(checked.iter().all(|f| f["status"] == "ok"), "{checked:#?}");

    let (cert, key) = certificate(dir, "expired", &[HOST], -100, -10);
    let all = run(&cert, &key).await;
    let expired = all
        .iter()
        .find(|f| f["check"] == "tls" && f["detail"].as_str().unwrap().starts_with("expired"))
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert_status(expired, "fail");
    assert!(expired["fix"].as_str().unwrap().contains("renew"));

    let (cert, key) = certificate(dir, "soon", &[HOST], -80, 10);
    let all = run(&cert, &key).await;
    assert!(
        all.iter().any(|f| f["check"] == "tls"
            && f["status"] == "warn"
            && f["detail"].as_str().unwrap().starts_with("expires in")),
        "{all:#?}"
    );

    let (cert, key) = certificate(dir, "other", &["mail.example.org"], -1, 90);
    let all = run(&cert, &key).await;
    let names = all
        .iter()
        .find(|f| f["check"] == "tls" && f["detail"].as_str().unwrap().starts_with("names"))
        .unwrap_or_else(|| panic!("{all:#?}"));
    assert_status(names, "fail");
    assert!(
        names["detail"]
            .as_str()
            .unwrap()
            .contains("not mx.agentsend.test"),
        "{names:#}"
    );

    // The good certificate with another certificate's key.
    let good = dir.join("good.crt");
    let all = run(good.to_str().unwrap(), &key).await;
    let mismatch = finding(&all, "tls", &key);
    assert_status(mismatch, "fail");
    assert!(
        mismatch["detail"]
            .as_str()
            .unwrap()
            .contains("does not load"),
        "{mismatch:#}"
    );
}

#[tokio::test]
async fn doctor_ends_with_failures_when_dns_never_answers() {
    let (addr, _socket) = crate::dns::silent_dns().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("silent.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\npath = {:?}\n[dns]\nnameservers = [\"{addr}\"]\ntimeout_secs = 1\n\
             [smtp]\nhostname = \"{HOST}\"\n\
             [outbound]\nmode = \"direct\"\nehlo_hostname = \"{HOST}\"\n",
            dir.path().join("none.db")
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let (all, ok) = findings(dir.path(), config.to_str().unwrap()).await;
    assert!(!ok);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    for (check, subject) in [("hostname", HOST), ("outbound", "probe.test")] {
        let f = finding(&all, check, subject);
        assert_status(f, "fail");
        assert!(f["detail"].as_str().unwrap().contains("timed out"), "{f:#}");
    }
}

/// `agentsend health` (the container's health check) asks `/health`: by default on loopback
/// at http.listen's port.
#[tokio::test]
async fn health_exits_0_when_the_server_answers_and_1_when_it_does_not() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let port = app.base.rsplit(':').next().unwrap();
    let config = dir.path().join("health.toml");
    std::fs::write(&config, format!("[http]\nlisten = \"0.0.0.0:{port}\"\n")).unwrap();
    let health = |args: Vec<String>| {
        let mut cmd = agentsend(dir.path());
        cmd.arg("--config").arg(&config).arg("health").args(args);
        async move { tokio::process::Command::from(cmd).output().await.unwrap() }
    };

    let out = health(vec![]).await;
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains(&format!("http://127.0.0.1:{port}/health answered 200")),
        "{text}"
    );

    let closed = closed_port().await;
    let out = health(vec![
        "--url".to_owned(),
        format!("http://127.0.0.1:{closed}/health"),
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unhealthy"),
        "{out:?}"
    );
    let out = health(vec!["--url".to_owned(), format!("{}/nowhere", app.base)]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("404"),
        "{out:?}"
    );
}
