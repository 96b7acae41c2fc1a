//! Fields the hosted service's clients read, beyond the hosted OpenAPI document: `accountId`
//! on inboxes, messages, threads and domains, `isVerified` on inboxes, `sesMessageId` on
//! messages, `key` on a message's attachments, `verificationToken` and `dkimTokens` on domains.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::domains::{add, domain_config, publish, record, verify};
use crate::helpers::{TestApp, json};
use crate::smtp_client::send_mail;

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

#[tokio::test]
async fn inboxes_messages_and_threads_carry_the_hosted_fields() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "compat"})).await;
    assert_eq!(inbox["accountId"], app.account_id.as_str());
    assert_eq!(inbox["isVerified"], true, "the shared domain: {inbox}");

    let mail = b"From: peer@example.com\r\nTo: compat@agentsend.localhost\r\nSubject: files\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n--b\r\nContent-Type: text/csv; name=data.csv\r\nContent-Disposition: attachment; filename=data.csv\r\n\r\na,b\r\n--b--\r\n";
    let (code, _) = send_mail(
        app.smtp,
        "peer@example.com",
        &["compat@agentsend.localhost"],
        mail,
    )
    .await;
    assert_eq!(code, 250);
    let (_, page) = json(app.get(&format!("/inboxes/{}/messages", id(&inbox))).await).await;
    let message = &page["data"][0];
    assert_eq!(message["accountId"], app.account_id.as_str());
    assert!(message["sesMessageId"].is_null(), "{message}");
    assert!(message.as_object().unwrap().contains_key("sesMessageId"));
    let attachment = &message["attachments"][0];
    assert_eq!(attachment["filename"], "data.csv");
    assert_eq!(attachment["key"], attachment["id"]);
    let (_, one) = json(app.get(&format!("/messages/{}", id(message))).await).await;
    assert_eq!(one["accountId"], app.account_id.as_str());

    let (_, thread) = json(
        app.get(&format!(
            "/threads/{}",
            message["threadId"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    assert_eq!(thread["accountId"], app.account_id.as_str());
    let (_, threads) = json(app.get(&format!("/inboxes/{}/threads", id(&inbox))).await).await;
    assert_eq!(threads["data"][0]["accountId"], app.account_id.as_str());
}

#[tokio::test]
async fn domains_carry_their_token_and_dkim_selector_and_inboxes_on_them_say_when_verified() {
    let app = TestApp::spawn_with(domain_config).await;
    let domain = add(&app, "compat.example").await;
    assert_eq!(domain["accountId"], app.account_id.as_str());
    let token = domain["verificationToken"].as_str().unwrap();
    assert!(!token.is_empty());
    assert!(
        record(&domain, "verification")["value"]
            .as_str()
            .unwrap()
            .ends_with(token),
        "{domain}"
    );
    let selectors = domain["dkimTokens"].as_array().unwrap();
    assert_eq!(selectors.len(), 1);
    let dkim_name = record(&domain, "dkim")["name"].as_str().unwrap();
    assert_eq!(
        dkim_name,
        format!(
            "{}._domainkey.compat.example",
            selectors[0].as_str().unwrap()
        )
    );

    // Verified for sending: an inbox on it says so.
    publish(&app, &domain, "verification").await;
    publish(&app, &domain, "dkim").await;
    let verified = verify(&app, &domain).await;
    assert_eq!(verified["sendingStatus"], "verified", "{verified}");
    let (status, inbox) = json(
        app.post(
            "/inboxes",
            &json!({"address": "agent", "domainId": id(&domain)}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{inbox}");
    assert_eq!(inbox["isVerified"], true);
}
