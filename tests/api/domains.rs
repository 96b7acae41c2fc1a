//! Custom domains: records to publish, verification against a real DNS server on
//! loopback, statuses over time, inboxes and receiving on a domain, deletion.

use std::time::Duration;

use agentsend::config::Config;
use agentsend::domain::custom_domain::DkimAlgorithm;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::dns::silent_dns;
use crate::helpers::{TestApp, assert_error, is_iso_timestamp, json};
use crate::receiver::{Receiver, Reply};
use crate::smtp_client::SmtpClient;

/// The MX target domains are told to use.
const MAIL_HOST: &str = "mx.agentsend.test";

/// Ed25519 keys: RSA generation would cost each test a fraction of a second (one test below
/// covers the RSA default).
pub fn domain_config(c: &mut Config) {
    c.domains.mail_host = MAIL_HOST.to_owned();
    c.domains.dkim_algorithm = DkimAlgorithm::Ed25519;
    c.domains.spf_senders = vec!["203.0.113.5".to_owned(), "mail.agentsend.test".to_owned()];
}

pub async fn add(app: &TestApp, domain: &str) -> Value {
    let (status, body) = json(app.post("/domains", &json!({ "domain": domain })).await).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

pub async fn verify(app: &TestApp, domain: &Value) -> Value {
    let (status, body) = json(
        app.post(&format!("/domains/{}/verify", id(domain)), &json!({}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// The record of `purpose` in a domain's `dnsRecords`.
pub fn record<'a>(domain: &'a Value, purpose: &str) -> &'a Value {
    domain["dnsRecords"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["purpose"] == purpose)
        .unwrap_or_else(|| panic!("no {purpose} record in {domain}"))
}

/// Publishes the domain's record of `purpose` in the app's DNS.
pub async fn publish(app: &TestApp, domain: &Value, purpose: &str) {
    let r = record(domain, purpose);
    let (name, value) = (r["name"].as_str().unwrap(), r["value"].as_str().unwrap());
    match r["type"].as_str().unwrap() {
        "TXT" => app.dns.set_txt(name, &[value]).await,
        "MX" => app.dns.set_mx(name, value).await,
        other => panic!("unexpected record type {other}"),
    }
}

fn statuses(domain: &Value) -> (&str, &str, &str) {
    (
        domain["sendingStatus"].as_str().unwrap(),
        domain["verificationStatus"].as_str().unwrap(),
        domain["receivingStatus"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn a_new_domain_lists_the_records_to_publish() {
    let app = TestApp::spawn_with(domain_config).await;
    let d = add(&app, "Example.COM").await;
    assert_eq!(d["domain"], "example.com");
    assert_eq!(statuses(&d), ("pending", "pending", "pending"));
    for field in [
        "sendingVerifiedAt",
        "receivingVerifiedAt",
        "verifiedAt",
        "lastCheckedAt",
    ] {
        assert!(d[field].is_null(), "{field}: {d}");
    }
    assert!(is_iso_timestamp(&d["createdAt"]) && is_iso_timestamp(&d["updatedAt"]));

    let verification = record(&d, "verification");
    assert_eq!(verification["type"], "TXT");
    assert_eq!(verification["name"], "_agentsend.example.com");
    let token = verification["value"].as_str().unwrap();
    assert!(
        token.starts_with("agentsend-verification=") && token.len() > 40,
        "{token}"
    );
    let dkim = record(&d, "dkim");
    let selector = dkim["name"]
        .as_str()
        .unwrap()
        .strip_suffix("._domainkey.example.com")
        .unwrap();
    assert!(
        selector.starts_with("agentsend-") && selector.len() == "agentsend-".len() + 6,
        "{selector}"
    );
    assert!(
        dkim["value"]
            .as_str()
            .unwrap()
            .starts_with("v=DKIM1; k=ed25519; p="),
        "{dkim}"
    );
    assert_eq!(
        record(&d, "spf")["value"],
        "v=spf1 ip4:203.0.113.5 a:mail.agentsend.test ~all"
    );
    assert_eq!(record(&d, "spf")["name"], "example.com");
    let dmarc = record(&d, "dmarc");
    assert_eq!(dmarc["name"], "_dmarc.example.com");
    assert_eq!(dmarc["required"], false);
    assert!(
        dmarc["value"]
            .as_str()
            .unwrap()
            .starts_with("v=DMARC1; p=none")
    );
    let mx = record(&d, "mx");
    assert_eq!(
        (&mx["type"], &mx["value"], &mx["priority"], &mx["required"]),
        (&json!("MX"), &json!(MAIL_HOST), &json!(10), &json!(true))
    );
    assert_eq!(d["sendingDnsRecords"].as_array().unwrap().len(), 4);
    assert_eq!(d["receivingDnsRecords"].as_array().unwrap().len(), 1);
    assert_eq!(d["dnsRecords"].as_array().unwrap().len(), 5);
    assert!(d["sendingDnsRecords"][0].get("priority").is_none());

    // The same on GET and in the list; no second copy in the account.
    let (status, got) = json(app.get(&format!("/domains/{}", id(&d))).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got, d);
    let (_, list) = json(app.get("/domains").await).await;
    assert_eq!(list["total"], 1);
    assert_eq!(list["data"][0], d);
    assert_error(
        app.post("/domains", &json!({"domain": "example.com."}))
            .await,
        StatusCode::CONFLICT,
        "DOMAIN_EXISTS",
    )
    .await;

    // The zone-file form holds every record, long TXT values split into quoted strings.
    let res = app.get(&format!("/domains/{}?format=zone", id(&d))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let zone = res.text().await.unwrap();
    assert!(
        zone.contains(&format!(
            "_agentsend.example.com.\t3600\tIN\tTXT\t\"{token}\""
        )),
        "{zone}"
    );
    assert!(zone.contains(&format!("example.com.\t3600\tIN\tMX\t10 {MAIL_HOST}.")));
    assert!(zone.contains("_dmarc.example.com."));
    assert_error(
        app.get(&format!("/domains/{}?format=bind9", id(&d))).await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    )
    .await;

    // Internationalised names are stored as A-labels.
    let idn = add(&app, "bücher.example").await;
    assert_eq!(idn["domain"], "xn--bcher-kva.example");
}

#[tokio::test]
async fn rsa_is_the_default_key_and_its_record_is_a_2048_bit_key() {
    let app = TestApp::spawn().await;
    let d = add(&app, "rsa.example").await;
    let value = record(&d, "dkim")["value"].as_str().unwrap().to_owned();
    let p = value.strip_prefix("v=DKIM1; k=rsa; p=").unwrap();
    // SubjectPublicKeyInfo of a 2048-bit key: 294 bytes, 392 base64 characters.
    assert_eq!(p.len(), 392, "{value}");
    // The MX target defaults to smtp.hostname and SPF to the EHLO host.
    assert_eq!(record(&d, "mx")["value"], "localhost");
    assert_eq!(record(&d, "spf")["value"], "v=spf1 a:localhost ~all");
}

#[tokio::test]
async fn invalid_domains_are_validation_errors() {
    let app = TestApp::spawn_with(domain_config).await;
    let long = format!("{}.com", "a".repeat(296));
    for body in [
        json!({}),
        json!({"domain": null}),
        json!({"domain": 42}),
        json!({"domain": "a"}),
        json!({"domain": "-bad-.com"}),
        json!({"domain": "exa mple.com"}),
        json!({"domain": "https://example.com"}),
        json!({"domain": "example.com/path"}),
        json!({"domain": "192.0.2.1"}),
        json!({"domain": "[2001:db8::1]"}),
        json!({"domain": long}),
        json!({"domain": "someone@example.com"}),
        json!({"domain": "agentsend.localhost"}),
        json!({"domain": "com"}),
    ] {
        let e = assert_error(
            app.post("/domains", &body).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(e["error"]["details"]["domain"].is_array(), "{body}: {e}");
    }
    let (_, list) = json(app.get("/domains").await).await;
    assert_eq!(list["total"], 0);
}

#[tokio::test]
async fn statuses_follow_the_records_as_they_are_published() {
    let app = TestApp::spawn_with(|c| {
        domain_config(c);
        c.webhooks.allow_loopback = agentsend::config::LoopbackPolicy::Always;
    })
    .await;
    let receiver = Receiver::start(Reply::Status(200, "ok")).await;
    let (status, _) = json(
        app.post(
            "/webhooks",
            &json!({"url": receiver.url, "events": ["domain.verified"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let d = add(&app, "progress.example").await;

    // Nothing published.
    let v = verify(&app, &d).await;
    assert_eq!(statuses(&v), ("pending", "pending", "pending"));
    assert!(is_iso_timestamp(&v["lastCheckedAt"]));
    let problems = v["lastCheckError"].as_str().unwrap();
    assert!(
        problems.contains("_agentsend.progress.example"),
        "{problems}"
    );

    // The verification record: DKIM is what is missing now.
    publish(&app, &d, "verification").await;
    let v = verify(&app, &d).await;
    assert_eq!(statuses(&v), ("pending_dkim", "pending_dkim", "pending"));
    assert!(
        v["lastCheckError"].as_str().unwrap().contains("DKIM"),
        "{v}"
    );

    // A DKIM record with another key does not count.
    let name = record(&d, "dkim")["name"].as_str().unwrap().to_owned();
    app.dns
        .set_txt(
            &name,
            &["v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="],
        )
        .await;
    let v = verify(&app, &d).await;
    assert_eq!(v["sendingStatus"], "pending_dkim");
    assert!(
        v["lastCheckError"]
            .as_str()
            .unwrap()
            .contains("does not match"),
        "{v}"
    );

    // The right one: sending is verified; receiving still waits for its MX.
    publish(&app, &d, "dkim").await;
    let v = verify(&app, &d).await;
    assert_eq!(statuses(&v), ("verified", "verified", "pending"));
    assert!(is_iso_timestamp(&v["sendingVerifiedAt"]));
    assert_eq!(v["verifiedAt"], v["sendingVerifiedAt"]);
    assert!(v["receivingVerifiedAt"].is_null());
    assert!(v["lastCheckError"].as_str().unwrap().contains("MX"), "{v}");

    // An MX elsewhere is not enough; pointing here is.
    app.dns
        .set_mx("progress.example", "mx.elsewhere.example")
        .await;
    assert_eq!(verify(&app, &d).await["receivingStatus"], "pending");
    publish(&app, &d, "mx").await;
    let v = verify(&app, &d).await;
    assert_eq!(statuses(&v), ("verified", "verified", "verified"));
    assert!(is_iso_timestamp(&v["receivingVerifiedAt"]));
    assert!(v["lastCheckError"].is_null(), "{v}");

    // Checking again changes nothing and fires nothing.
    let again = verify(&app, &d).await;
    assert_eq!(again["sendingVerifiedAt"], v["sendingVerifiedAt"]);
    app.settle_webhooks().await;
    let events: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["event"], "domain.verified");
    assert_eq!(events[0]["data"]["domainId"], d["id"]);
    assert_eq!(events[0]["data"]["domain"], "progress.example");
}

#[tokio::test]
async fn pending_domains_fail_after_the_verification_period_and_recover_if_published_later() {
    let app = TestApp::spawn_with(|c| {
        domain_config(c);
        c.domains.verification_hours = 72;
    })
    .await;
    let d = add(&app, "late.example").await;
    app.advance(Duration::from_secs(71 * 3600));
    assert_eq!(
        statuses(&verify(&app, &d).await),
        ("pending", "pending", "pending")
    );
    publish(&app, &d, "verification").await;
    app.advance(Duration::from_secs(2 * 3600));
    let v = verify(&app, &d).await;
    assert_eq!(statuses(&v), ("failed", "failed", "failed"));

    // Published after all: a check verifies it.
    publish(&app, &d, "dkim").await;
    publish(&app, &d, "mx").await;
    assert_eq!(
        statuses(&verify(&app, &d).await),
        ("verified", "verified", "verified")
    );
}

/// When the domain was last checked in DNS.
async fn last_checked(app: &TestApp, d: &Value) -> Value {
    json(app.get(&format!("/domains/{}", id(d))).await).await.1["lastCheckedAt"].clone()
}

#[tokio::test]
async fn the_background_check_verifies_pending_domains_without_being_asked() {
    let app = TestApp::spawn_with(|c| {
        domain_config(c);
        c.domains.recheck_interval_secs = 600;
    })
    .await;
    let d = add(&app, "auto.example").await;
    for purpose in ["verification", "dkim", "mx"] {
        publish(&app, &d, purpose).await;
    }
    // Not yet due.
    app.settle_domain_checks().await;
    assert_eq!(last_checked(&app, &d).await, Value::Null);
    app.advance(Duration::from_secs(601));
    app.settle_domain_checks().await;
    let (_, got) = json(app.get(&format!("/domains/{}", id(&d))).await).await;
    assert_eq!(statuses(&got), ("verified", "verified", "verified"));
    let checked = got["lastCheckedAt"].clone();
    assert_ne!(checked, Value::Null);
    // Settled domains are not checked again.
    app.advance(Duration::from_secs(601));
    app.settle_domain_checks().await;
    assert_eq!(last_checked(&app, &d).await, checked);
}

#[tokio::test]
async fn background_checks_stop_a_day_after_the_verification_period() {
    let app = TestApp::spawn_with(domain_config).await;
    let d = add(&app, "quiet.example").await;
    // A pending side with no record yet is checked on schedule...
    app.advance(Duration::from_secs(601));
    app.settle_domain_checks().await;
    let checked = last_checked(&app, &d).await;
    assert_ne!(checked, Value::Null);
    // ...but not once 72 + 24 hours have passed (only DNS failures keep it pending so long).
    app.advance(Duration::from_secs(97 * 3600));
    app.settle_domain_checks().await;
    assert_eq!(last_checked(&app, &d).await, checked);
    let (_, got) = json(app.get(&format!("/domains/{}", id(&d))).await).await;
    assert_eq!(got["sendingStatus"], "pending");
}

#[tokio::test]
async fn a_manual_check_puts_the_next_background_check_off_and_a_deleted_domain_ends_its_checks() {
    let app = TestApp::spawn_with(|c| {
        domain_config(c);
        c.domains.recheck_interval_secs = 600;
    })
    .await;
    let d = add(&app, "manual.example").await;
    app.advance(Duration::from_secs(500));
    verify(&app, &d).await;
    let manual = last_checked(&app, &d).await;
    // The background check was due at 600 s; the manual one at 500 s moves it to 1100 s.
    app.advance(Duration::from_secs(200));
    app.settle_domain_checks().await;
    assert_eq!(last_checked(&app, &d).await, manual);
    app.advance(Duration::from_secs(401));
    app.settle_domain_checks().await;
    assert_ne!(last_checked(&app, &d).await, manual);
    // Once the domain is deleted its job ends instead of failing.
    let res = app.delete(&format!("/domains/{}", id(&d))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.advance(Duration::from_secs(601));
    app.settle_domain_checks().await;
    let jobs: i64 = app
        .sql()
        .query_row(
            "SELECT count(*) FROM jobs WHERE kind = 'domain-check' AND status = 'pending'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(jobs, 0);
}

#[tokio::test]
async fn an_account_has_a_limited_number_of_domains() {
    let app = TestApp::spawn_with(|c| {
        domain_config(c);
        c.domains.max_per_account = 2;
    })
    .await;
    let first = add(&app, "one.example").await;
    add(&app, "two.example").await;
    let e = assert_error(
        app.post("/domains", &json!({"domain": "three.example"}))
            .await,
        StatusCode::FORBIDDEN,
        "DOMAIN_LIMIT_REACHED",
    )
    .await;
    assert!(e["error"]["message"].as_str().unwrap().contains('2'), "{e}");
    assert_eq!(
        app.delete(&format!("/domains/{}", id(&first)))
            .await
            .status(),
        204
    );
    add(&app, "three.example").await;
}

#[tokio::test]
async fn a_dns_failure_is_reported_and_leaves_the_statuses_alone() {
    let (silent, _socket) = silent_dns().await;
    let app = TestApp::spawn_with(|c| {
        domain_config(c);
        c.dns.nameservers = vec![silent];
        c.dns.timeout_secs = 1;
    })
    .await;
    let d = add(&app, "timeout.example").await;
    // Past the verification period: an answer would fail the domain, a failed lookup must not.
    app.advance(Duration::from_secs(73 * 3600));
    let v = verify(&app, &d).await;
    assert_eq!(statuses(&v), ("pending", "pending", "pending"));
    let error = v["lastCheckError"].as_str().unwrap();
    assert!(error.contains("DNS"), "{error}");
    assert!(is_iso_timestamp(&v["lastCheckedAt"]));
}

#[tokio::test]
async fn other_accounts_cannot_see_or_touch_a_domain() {
    let app = TestApp::spawn_with(domain_config).await;
    let d = add(&app, "mine.example").await;
    let (_, other) = app.other_account().await;
    for (method, path) in [
        (Method::GET, format!("/domains/{}", id(&d))),
        (Method::POST, format!("/domains/{}/verify", id(&d))),
        (Method::DELETE, format!("/domains/{}", id(&d))),
    ] {
        let res = app
            .request_as(&other, method, &path)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "DOMAIN_NOT_FOUND").await;
    }
    let res = app
        .request_as(&other, Method::GET, "/domains")
        .send()
        .await
        .unwrap();
    assert_eq!(json(res).await.1["total"], 0);

    // A pending domain does not stop another account from adding it; a verified one does.
    let res = app
        .request_as(&other, Method::POST, "/domains")
        .json(&json!({"domain": "mine.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    for purpose in ["verification", "dkim"] {
        publish(&app, &d, purpose).await;
    }
    assert_eq!(verify(&app, &d).await["sendingStatus"], "verified");
    let (_, third) = app.other_account().await;
    let res = app
        .request_as(&third, Method::POST, "/domains")
        .json(&json!({"domain": "mine.example"}))
        .send()
        .await
        .unwrap();
    let e = assert_error(res, StatusCode::CONFLICT, "DOMAIN_EXISTS").await;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another account")
    );
}

#[tokio::test]
async fn inboxes_need_a_verified_domain_and_receive_once_its_mx_points_here() {
    let app = TestApp::spawn_with(domain_config).await;
    let d = add(&app, "agents.example").await;
    let on_domain = json!({"address": "bot", "domainId": d["id"]});
    assert_error(
        app.post("/inboxes", &on_domain).await,
        StatusCode::BAD_REQUEST,
        "DOMAIN_NOT_VERIFIED",
    )
    .await;
    for purpose in ["verification", "dkim"] {
        publish(&app, &d, purpose).await;
    }
    verify(&app, &d).await;
    let inbox = app.create_inbox(on_domain.clone()).await;
    assert_eq!(inbox["address"], "bot@agents.example");
    assert_eq!(inbox["domainId"], d["id"]);
    // The full address works too; another domain's does not.
    app.create_inbox(json!({"address": "Second@Agents.Example", "domainId": d["id"]}))
        .await;
    assert_error(
        app.post(
            "/inboxes",
            &json!({"address": "x@other.example", "domainId": d["id"]}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "INVALID_INBOX_DOMAIN",
    )
    .await;

    // Receiving is not verified yet: RCPT is refused.
    let mut smtp = SmtpClient::connect(app.smtp).await;
    smtp.cmd("EHLO sender.example", 250).await;
    smtp.cmd("MAIL FROM:<someone@sender.example>", 250).await;
    smtp.cmd("RCPT TO:<bot@agents.example>", 550).await;
    smtp.cmd("QUIT", 221).await;

    publish(&app, &d, "mx").await;
    assert_eq!(verify(&app, &d).await["receivingStatus"], "verified");
    let mut smtp = SmtpClient::connect(app.smtp).await;
    smtp.cmd("EHLO sender.example", 250).await;
    let (code, text) = smtp
        .deliver(
            "someone@sender.example",
            &["bot@agents.example"],
            b"From: someone@sender.example\r\nTo: bot@agents.example\r\nSubject: hello\r\n\r\nHi.\r\n",
        )
        .await;
    assert_eq!(code, 250, "{text}");
    let (_, messages) = json(app.get(&format!("/inboxes/{}/messages", id(&inbox))).await).await;
    assert_eq!(messages["total"], 1);
    assert_eq!(messages["data"][0]["subject"], "hello");

    // In use: the domain stays until its inboxes are deleted.
    let e = assert_error(
        app.delete(&format!("/domains/{}", id(&d))).await,
        StatusCode::CONFLICT,
        "DOMAIN_IN_USE",
    )
    .await;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 inboxes"),
        "{e}"
    );
    let (_, inboxes) = json(app.get("/inboxes").await).await;
    for i in inboxes["data"].as_array().unwrap() {
        if i["domainId"] == d["id"] {
            assert_eq!(
                app.delete(&format!("/inboxes/{}", id(i))).await.status(),
                204
            );
        }
    }
    assert_eq!(
        app.delete(&format!("/domains/{}", id(&d))).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_error(
        app.get(&format!("/domains/{}", id(&d))).await,
        StatusCode::NOT_FOUND,
        "DOMAIN_NOT_FOUND",
    )
    .await;
    // Deleted inboxes keep their addresses reserved.
    let d2 = add(&app, "agents.example").await;
    for purpose in ["verification", "dkim"] {
        publish(&app, &d2, purpose).await;
    }
    verify(&app, &d2).await;
    assert_error(
        app.post("/inboxes", &json!({"address": "bot", "domainId": d2["id"]}))
            .await,
        StatusCode::CONFLICT,
        "ADDRESS_TAKEN",
    )
    .await;
}

#[tokio::test]
async fn sandbox_accounts_cannot_add_domains() {
    let app = TestApp::spawn_with(domain_config).await;
    let (key, _) = crate::sandbox::sandbox(&app, "device-domains-1").await;
    let res = app
        .request_as(&key, Method::POST, "/domains")
        .json(&json!({"domain": "sandbox.example"}))
        .send()
        .await
        .unwrap();
    let e = assert_error(res, StatusCode::PAYMENT_REQUIRED, "CLAIM_REQUIRED").await;
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("custom domains"),
        "{e}"
    );
}

#[tokio::test]
async fn only_the_owner_receives_mail_for_a_domain() {
    let app = TestApp::spawn_with(domain_config).await;
    // Both add it while it is pending; the MX already points here.
    let mine = add(&app, "shared.example").await;
    let (_, other) = app.other_account().await;
    let res = app
        .request_as(&other, Method::POST, "/domains")
        .json(&json!({"domain": "shared.example"}))
        .send()
        .await
        .unwrap();
    let (status, theirs) = json(res).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(
        record(&mine, "dkim")["name"],
        record(&theirs, "dkim")["name"]
    );
    publish(&app, &mine, "mx").await;
    let verify_theirs = || async {
        let res = app
            .request_as(
                &other,
                Method::POST,
                &format!("/domains/{}/verify", id(&theirs)),
            )
            .send()
            .await
            .unwrap();
        let (status, body) = json(res).await;
        assert_eq!(status, StatusCode::OK);
        body
    };
    // The MX alone proves nothing: without its verification record the other account gets
    // no mail for the domain, even when it checks first.
    assert_eq!(
        statuses(&verify_theirs().await),
        ("pending", "pending", "pending")
    );
    publish(&app, &mine, "verification").await;
    publish(&app, &mine, "dkim").await;
    assert_eq!(
        statuses(&verify_theirs().await),
        ("pending", "pending", "pending")
    );
    assert_eq!(
        statuses(&verify(&app, &mine).await),
        ("verified", "verified", "verified")
    );

    // If the owner publishes the other account's records too, it may send, but the mail for
    // the domain still goes to one account only.
    let token = |d: &Value| {
        record(d, "verification")["value"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    app.dns
        .set_txt(
            "_agentsend.shared.example",
            &[&token(&mine), &token(&theirs)],
        )
        .await;
    publish(&app, &theirs, "dkim").await;
    let after = verify_theirs().await;
    assert_eq!(statuses(&after), ("verified", "verified", "pending"));
    assert!(
        after["lastCheckError"]
            .as_str()
            .unwrap()
            .contains("another account"),
        "{after}"
    );
}
