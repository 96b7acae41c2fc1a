//! The web interface in a real browser, end to end against the real server: sign-in, inboxes,
//! mail arriving over SMTP without a reload, a message's HTML shown without running its script
//! or fetching its images until allowed, reply with an attachment, downloads, webhooks with
//! their test delivery, domains with their records, API keys, keyboard navigation, narrow and
//! dark layouts, and axe-core on every main view. Screenshots of the main views are saved
//! (`harness::shot`); the README links the copies in `docs/screenshots/`.

use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::harness::{Browser, assert_accessible, browser, shot};
use crate::helpers::{TestApp, eventually, json};
use crate::smtp_client::send_mail;
use crate::webdriver::key;

/// An HTTP server on 127.0.0.1:0 that records every request's method, path and body and
/// answers `200` with a 1×1 GIF: the "remote" images of a mail, and a webhook's target.
struct Tracker {
    base: String,
    seen: Arc<Mutex<Vec<(String, String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";

impl Tracker {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0; 8192];
                    let head_end = loop {
                        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                            break at + 4;
                        }
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&request[..head_end]).into_owned();
                    let length = head
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    while request.len() < head_end + length {
                        match conn.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let mut words = head.split(' ');
                    let method = words.next().unwrap_or_default().to_owned();
                    let path = words.next().unwrap_or_default().to_owned();
                    let body = String::from_utf8_lossy(&request[head_end..]).into_owned();
                    record.lock().unwrap().push((method, path, body));
                    let mut response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: image/gif\r\nContent-Length: {}\r\n\
                         Connection: close\r\n\r\n",
                        GIF.len()
                    )
                    .into_bytes();
                    response.extend_from_slice(GIF);
                    let _ = conn.write_all(&response).await;
                });
            }
        });
        Self { base, seen, task }
    }

    /// How many requests came for `path`.
    fn hits(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, p, _)| p == path)
            .count()
    }
}

/// Opens the interface and signs in with `key`; waits for the inbox list.
async fn sign_in(b: &Browser, app: &TestApp, key: &str) {
    b.goto(&format!("{}/", app.base)).await.unwrap();
    b.wait_for("[data-test=signin-key]")
        .await
        .send_keys(key)
        .await
        .unwrap();
    click(b, "[data-test=signin-submit]").await;
    b.wait_for("[data-test=nav-inboxes]").await;
}

async fn click(b: &Browser, css: &str) {
    b.wait_for(css).await.click().await.unwrap();
}

async fn type_into(b: &Browser, css: &str, text: &str) {
    let el = b.wait_for(css).await;
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

async fn text_of(b: &Browser, css: &str) -> String {
    b.wait_for(css).await.text().await.unwrap()
}

/// Clicks `button` in the `row` whose `data-id` is `id`, confirms, and waits for the row to go.
async fn remove_row(b: &Browser, row: &str, id: &str, button: &str) {
    let row = format!("[data-test={row}][data-id='{id}']");
    click(b, &format!("{row} [data-test={button}]")).await;
    click(b, "[data-test=confirm-ok]").await;
    b.wait_until(
        &format!("{row} to leave the list"),
        &format!("!document.querySelector(\"{row}\")"),
    )
    .await;
}

/// Shows the page with the system's dark theme (`prefers-color-scheme: dark`) or back.
async fn dark(b: &Browser, on: bool) {
    let value = if on { "dark" } else { "light" };
    b.cdp(
        "Emulation.setEmulatedMedia",
        json!({"features": [{"name": "prefers-color-scheme", "value": value}]}),
    )
    .await
    .unwrap();
}

/// A received mail: HTML with a script and a remote image, a text part, an attachment.
fn hostile_mail(to: &str, tracker: &str) -> String {
    format!(
        "From: Ada Lovelace <ada@example.com>\r\nTo: {to}\r\nSubject: Quarterly numbers\r\n\
         Message-ID: <numbers-1@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n\
         --outer\r\nContent-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n\
         --alt\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         The numbers are attached.\r\n\
         --alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <html><body><h1 id=\"headline\">The numbers are <b>attached</b></h1>\
         <img id=\"pixel\" src=\"{tracker}/pixel.gif\" alt=\"tracking pixel\">\
         <script>fetch('{tracker}/script-ran');document.title='pwned';</script>\
         <img src=\"x\" onerror=\"fetch('{tracker}/onerror-ran')\">\
         </body></html>\r\n\
         --alt--\r\n\
         --outer\r\nContent-Type: text/csv; name=\"numbers.csv\"\r\n\
         Content-Disposition: attachment; filename=\"numbers.csv\"\r\n\r\n\
         quarter,revenue\r\nQ3,1200\r\n\
         --outer--\r\n"
    )
}

#[tokio::test]
async fn mail_arrives_live_opens_without_running_script_and_gets_a_reply() {
    let Some(b) = browser().await else { return };
    let app = TestApp::spawn().await;
    let tracker = Tracker::start().await;
    let downloads = tempfile::tempdir().unwrap();
    b.cdp(
        "Browser.setDownloadBehavior",
        json!({"behavior": "allow", "downloadPath": downloads.path().display().to_string()}),
    )
    .await
    .unwrap();

    sign_in(&b, &app, &app.key).await;
    // The key lives in sessionStorage only: not in the address, not in cookies or localStorage.
    let stored = b
        .execute(
            "return [location.href, document.cookie, localStorage.length, \
             Object.values(sessionStorage).join(' ')]",
            &[],
        )
        .await
        .unwrap();
    assert!(!stored[0].as_str().unwrap().contains(&app.key), "{stored}");
    assert_eq!(stored[1], "", "{stored}");
    assert_eq!(stored[2], 0, "{stored}");
    assert!(stored[3].as_str().unwrap().contains(&app.key), "{stored}");

    // Create an inbox with a chosen address through the form.
    click(&b, "[data-test=inbox-create-open]").await;
    click(
        &b,
        "[data-test=inbox-create-form] input[name=mode][value=address]",
    )
    .await;
    type_into(
        &b,
        "[data-test=inbox-create-form] input[name=address]",
        "numbers",
    )
    .await;
    type_into(
        &b,
        "[data-test=inbox-create-form] input[name=displayName]",
        "Numbers desk",
    )
    .await;
    b.find("[data-test=inbox-create-form] button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let row = b.wait_for("[data-test=inbox-row]").await;
    assert!(
        row.text().await.unwrap().contains("numbers@"),
        "the new inbox is listed"
    );
    let (_, inboxes) = json(app.get("/inboxes").await).await;
    let inbox = inboxes["data"][0].clone();
    assert_eq!(inbox["displayName"], "Numbers desk");
    let address = inbox["address"].as_str().unwrap().to_owned();
    shot(&b, "inboxes").await;
    assert_accessible(&b, "the inbox list").await;

    // Its mail view, empty; mark the page so a reload would show.
    b.find("[data-test=inbox-row] a")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("[data-test=tab-messages]").await;
    b.execute("window.__notReloaded = true", &[]).await.unwrap();

    // Mail over SMTP appears without a reload.
    let mail = hostile_mail(&address, &tracker.base);
    let (code, text) = send_mail(app.smtp, "ada@example.com", &[&address], mail.as_bytes()).await;
    assert_eq!(code, 250, "{text}");
    let row = b.wait_for("[data-test=message-row]").await;
    assert!(
        row.text().await.unwrap().contains("Quarterly numbers"),
        "the new message's row"
    );
    assert_eq!(
        b.execute("return window.__notReloaded === true", &[])
            .await
            .unwrap(),
        true,
        "the page was not reloaded"
    );
    b.wait_until(
        "the count to include the new message",
        "document.querySelector('.list-info')?.textContent.startsWith('1 of 1')",
    )
    .await;
    shot(&b, "mail-list").await;

    // Open it: the HTML is rendered in the sandboxed frame.
    click(&b, "[data-test=message-row]").await;
    assert_eq!(
        text_of(&b, "[data-test=message-subject]").await,
        "Quarterly numbers"
    );
    let frame = b.wait_for("[data-test=message-frame]").await;
    let sandbox = frame.attr("sandbox").await.unwrap().unwrap();
    assert!(!sandbox.contains("allow-scripts"), "{sandbox}");
    assert!(!sandbox.contains("allow-same-origin"), "{sandbox}");
    b.switch_to_frame(&frame).await.unwrap();
    let headline = b.wait_for("#headline").await;
    assert_eq!(headline.text().await.unwrap(), "The numbers are attached");
    assert_eq!(
        headline.find("b").await.unwrap().text().await.unwrap(),
        "attached",
        "rendered as HTML, not shown as source"
    );
    // The frame has finished loading (its image was refused, not pending).
    let pixel = b.find("#pixel").await.unwrap();
    b.wait_until(
        "the frame to finish loading",
        "document.readyState === 'complete'",
    )
    .await;
    assert_eq!(
        pixel.property("naturalWidth").await.unwrap(),
        0,
        "the remote image is not loaded"
    );
    b.switch_to_top().await.unwrap();
    assert_eq!(
        tracker.hits("/pixel.gif"),
        0,
        "no request for the remote image"
    );
    assert_eq!(
        tracker.hits("/script-ran"),
        0,
        "the mail's script did not run"
    );
    assert_eq!(
        tracker.hits("/onerror-ran"),
        0,
        "its event handler did not run"
    );
    assert_ne!(b.title().await.unwrap(), "pwned");
    shot(&b, "message").await;
    assert_accessible(&b, "the message view").await;

    // Until the reader allows them.
    click(&b, "[data-test=load-images]").await;
    eventually("the remote image to be fetched", || async {
        (tracker.hits("/pixel.gif") > 0).then_some(())
    })
    .await;
    let frame = b.wait_for("[data-test=message-frame]").await;
    b.switch_to_frame(&frame).await.unwrap();
    b.wait_until(
        "the allowed image to load",
        "document.getElementById('pixel') && document.getElementById('pixel').naturalWidth === 1",
    )
    .await;
    b.switch_to_top().await.unwrap();
    assert_eq!(tracker.hits("/script-ran"), 0, "still no script");
    assert_eq!(tracker.hits("/onerror-ran"), 0, "still no event handler");

    // Text and raw source.
    click(&b, "[data-test=tab-text]").await;
    assert!(
        text_of(&b, "[data-test=body-text]")
            .await
            .contains("The numbers are attached.")
    );
    click(&b, "[data-test=tab-raw]").await;
    let raw = text_of(&b, "[data-test=raw-source]").await;
    assert!(raw.contains("Message-ID: <numbers-1@example.com>"), "{raw}");

    // Download the attachment through the browser.
    click(&b, "[data-test=attachment-link]").await;
    let saved = downloads.path().join("numbers.csv");
    eventually("the download to finish", || async {
        std::fs::read_to_string(&saved).ok()
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(&saved).unwrap(),
        "quarter,revenue\r\nQ3,1200"
    );

    // Reply with an attachment.
    let note = downloads.path().join("reply-note.txt");
    std::fs::write(&note, "see you Friday").unwrap();
    click(&b, "[data-test=reply-open]").await;
    type_into(&b, "[data-test=reply-body]", "Thanks, Ada. Notes attached.").await;
    b.wait_for("[data-test=reply-attach]")
        .await
        .send_keys(&note.display().to_string())
        .await
        .unwrap();
    click(&b, "[data-test=reply-send]").await;
    b.wait_until(
        "the reply to open",
        "document.querySelector('[data-test=message-subject]')?.textContent === 'Re: Quarterly numbers'",
    )
    .await;
    app.settle_sends().await;
    let (_, list) = json(
        app.get(&format!(
            "/inboxes/{}/messages",
            inbox["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    let reply = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "outbound")
        .expect("the reply was sent")
        .clone();
    assert_eq!(reply["toAddresses"], json!(["ada@example.com"]));
    assert_eq!(reply["inReplyTo"], "<numbers-1@example.com>");
    assert_eq!(reply["bodyText"], "Thanks, Ada. Notes attached.");
    assert_eq!(reply["attachments"][0]["filename"], "reply-note.txt");
    // Its status follows without a reload, and its recipients' outcomes are listed.
    b.wait_until(
        "the reply's status to settle",
        "document.querySelector('[data-test=status-badge]')?.textContent.includes('sent')",
    )
    .await;
    let recipient = text_of(&b, "[data-test=recipient-row]").await;
    assert!(recipient.contains("ada@example.com"), "{recipient}");
    shot(&b, "reply").await;
}

#[tokio::test]
async fn a_wrong_key_gets_a_clear_message_and_signing_out_forgets_the_key() {
    let Some(b) = browser().await else { return };
    let app = TestApp::spawn().await;
    b.goto(&format!("{}/", app.base)).await.unwrap();
    type_into(
        &b,
        "[data-test=signin-key]",
        "ask_wrongwrongwrongwrongwrongwrongwrongwron",
    )
    .await;
    click(&b, "[data-test=signin-submit]").await;
    let error = text_of(&b, "[data-test=signin-error]").await;
    assert!(error.contains("not accepted"), "{error}");
    let role = b
        .find("[data-test=signin-error]")
        .await
        .unwrap()
        .attr("role")
        .await
        .unwrap();
    assert_eq!(role.as_deref(), Some("alert"));
    assert_eq!(
        b.execute("return sessionStorage.length", &[])
            .await
            .unwrap(),
        0
    );
    shot(&b, "signin-error").await;
    assert_accessible(&b, "the sign-in page with an error").await;

    sign_in(&b, &app, &app.key).await;
    click(&b, "[data-test=signout]").await;
    b.wait_for("[data-test=signin-key]").await;
    assert_eq!(
        b.execute("return sessionStorage.length", &[])
            .await
            .unwrap(),
        0
    );
    // A reload stays signed out.
    b.refresh().await.unwrap();
    b.wait_for("[data-test=signin-key]").await;
}

#[tokio::test]
async fn webhooks_domains_and_keys_are_managed_from_the_interface() {
    let Some(b) = browser().await else { return };
    let app = TestApp::spawn().await;
    let receiver = Tracker::start().await;
    sign_in(&b, &app, &app.key).await;

    // A webhook: its secret shown once, its test delivery in the log.
    click(&b, "[data-test=nav-webhooks]").await;
    click(&b, "[data-test=webhook-create-open]").await;
    let target = format!("{}/hooks/agentsend", receiver.base);
    type_into(
        &b,
        "[data-test=webhook-create-form] input[name=url]",
        &target,
    )
    .await;
    b.find("[data-test=webhook-create-form] button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let secret = b
        .wait_for("[data-test=webhook-secret]")
        .await
        .property("value")
        .await
        .unwrap();
    assert!(secret.as_str().unwrap().starts_with("whsec_"), "{secret}");
    let (_, hooks) = json(app.get("/webhooks").await).await;
    assert_eq!(hooks["data"][0]["url"], target);
    shot(&b, "webhook-created").await;
    assert_accessible(&b, "the webhook list").await;
    b.find("[data-test=webhook-row] a")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click(&b, "[data-test=webhook-test]").await;
    // Once the server has queued it (the interface says so), deliver it.
    b.wait_until(
        "the test delivery to be queued",
        "[...document.querySelectorAll('[data-test=toast]')].some(t => t.textContent.includes('Test event queued'))",
    )
    .await;
    app.settle_webhooks().await;
    assert_eq!(receiver.hits("/hooks/agentsend"), 1);
    // The log refreshes by itself; its row names the receiver's answer.
    b.wait_until(
        "the delivery's response code",
        "document.querySelector('[data-test=delivery-row]')?.textContent.includes('HTTP 200')",
    )
    .await;
    shot(&b, "webhook-deliveries").await;
    assert_accessible(&b, "a webhook's deliveries").await;
    // Rotating shows the new secret once.
    click(&b, "[data-test=webhook-rotate]").await;
    click(&b, "[data-test=confirm-ok]").await;
    b.wait_until(
        "the new secret",
        &format!(
            "(document.querySelector('[data-test=webhook-secret]')?.value || '{old}') !== '{old}'",
            old = secret.as_str().unwrap()
        ),
    )
    .await;
    let rotated = b
        .find("[data-test=webhook-secret]")
        .await
        .unwrap()
        .property("value")
        .await
        .unwrap();
    assert!(rotated.as_str().unwrap().starts_with("whsec_"), "{rotated}");

    // A domain: the records to publish and the zone file.
    click(&b, "[data-test=nav-domains]").await;
    type_into(
        &b,
        "[data-test=domain-create-form] input[name=domain]",
        "mail.example.com",
    )
    .await;
    b.find("[data-test=domain-create-form] button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_for("[data-test=dns-record-row]").await;
    let rows = b.find_all("[data-test=dns-record-row]").await.unwrap();
    let (_, domains) = json(app.get("/domains").await).await;
    let records = domains["data"][0]["dnsRecords"].as_array().unwrap().clone();
    assert_eq!(rows.len(), records.len());
    let verification = records
        .iter()
        .find(|r| r["purpose"] == "verification")
        .unwrap();
    let shown = b
        .find_all("[data-test=dns-record-row]")
        .await
        .unwrap()
        .into_iter();
    let mut found = false;
    for row in shown {
        found |= row
            .text()
            .await
            .unwrap()
            .contains(verification["value"].as_str().unwrap());
    }
    assert!(found, "the verification record's value is shown");
    click(&b, "[data-test=zone-open]").await;
    let zone = text_of(&b, "[data-test=zone-file]").await;
    assert!(zone.contains("IN TXT") && zone.contains("IN MX"), "{zone}");
    shot(&b, "domain").await;
    assert_accessible(&b, "a domain's records").await;
    click(&b, "[data-test=domain-verify]").await;
    b.wait_for("[data-test=toast]").await;

    // An API key: shown once, and it works.
    click(&b, "[data-test=nav-account]").await;
    type_into(
        &b,
        "[data-test=apikey-create-form] input[name=name]",
        "ci bot",
    )
    .await;
    b.find("[data-test=apikey-create-form] button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let key = b
        .wait_for("[data-test=apikey-secret]")
        .await
        .property("value")
        .await
        .unwrap();
    let key = key.as_str().unwrap().to_owned();
    assert!(key.starts_with("ask_"), "{key}");
    let res = app
        .request_as(&key, reqwest::Method::GET, "/inboxes")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    shot(&b, "account").await;
    assert_accessible(&b, "the account page").await;
    // Revoked after a confirmation, it stops working.
    let (_, keys) = json(app.get("/account/api-keys").await).await;
    let made = keys["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ci bot")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    remove_row(&b, "apikey-row", &made, "apikey-revoke").await;
    let res = app
        .request_as(&key, reqwest::Method::GET, "/inboxes")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

/// Sends `n` messages from one inbox to another (delivered locally) and returns the receiving
/// inbox.
async fn inbox_with_mail(app: &TestApp, n: usize) -> Value {
    let from = app.create_inbox(json!({"address": "sender"})).await;
    let to = app.create_inbox(json!({"address": "reader"})).await;
    for i in 1..=n {
        let res = app
            .post(
                &format!("/inboxes/{}/messages", from["id"].as_str().unwrap()),
                &json!({"to": [to["address"]], "subject": format!("Note {i}"), "bodyText": format!("Body {i}")}),
            )
            .await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    app.settle_sends().await;
    to
}

#[tokio::test]
async fn the_keyboard_moves_opens_and_closes_and_narrow_dark_layouts_work() {
    let Some(b) = browser().await else { return };
    // A phone's viewport: a browser window cannot be made this narrow.
    b.cdp(
        "Emulation.setDeviceMetricsOverride",
        json!({"width": 360, "height": 780, "deviceScaleFactor": 1, "mobile": true}),
    )
    .await
    .unwrap();
    let app = TestApp::spawn().await;
    let inbox = inbox_with_mail(&app, 3).await;
    sign_in(&b, &app, &app.key).await;
    // Nothing wider than the 360 px viewport.
    let widths = b
        .execute(
            "return [window.innerWidth, document.documentElement.scrollWidth]",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(widths, json!([360, 360]), "viewport and page width");
    shot(&b, "narrow-inboxes").await;
    assert_accessible(&b, "the inbox list at 360 px").await;

    // Rename the reading inbox; delete the sending one after a confirmation.
    let reader = inbox["id"].as_str().unwrap();
    click(
        &b,
        &format!("[data-test=inbox-row][data-id='{reader}'] [data-test=inbox-rename]"),
    )
    .await;
    type_into(
        &b,
        "[data-test=inbox-rename-form] input[name=displayName]",
        "Reading room",
    )
    .await;
    b.find("[data-test=inbox-rename-form] button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    b.wait_until(
        "the new name in the list",
        &format!(
            "document.querySelector(\"[data-test=inbox-row][data-id='{reader}']\")?.textContent.includes('Reading room')"
        ),
    )
    .await;
    let (_, renamed) = json(app.get(&format!("/inboxes/{reader}")).await).await;
    assert_eq!(renamed["displayName"], "Reading room");
    let (_, all) = json(app.get("/inboxes").await).await;
    let sender = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] != inbox["id"])
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    remove_row(&b, "inbox-row", &sender, "inbox-delete").await;
    let res = app.get(&format!("/inboxes/{sender}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    b.goto(&format!(
        "{}/ui/inboxes/{}",
        app.base,
        inbox["id"].as_str().unwrap()
    ))
    .await
    .unwrap();
    b.wait_for("[data-test=message-row]").await;
    assert_eq!(
        b.find_all("[data-test=message-row]").await.unwrap().len(),
        3
    );
    // Newest first: j j selects the second row, Note 2; Enter opens it; Esc goes back.
    b.execute("document.activeElement?.blur()", &[])
        .await
        .unwrap();
    b.keys("jj").await.unwrap();
    b.keys(key::ENTER).await.unwrap();
    b.wait_until(
        "the second message to open",
        "document.querySelector('[data-test=message-subject]')?.textContent === 'Note 2'",
    )
    .await;
    shot(&b, "narrow-message").await;
    b.keys(key::ESCAPE).await.unwrap();
    b.wait_for("[data-test=message-row]").await;
    b.keys("k").await.unwrap();
    b.keys(key::ENTER).await.unwrap();
    b.wait_until(
        "the first message to open",
        "document.querySelector('[data-test=message-subject]')?.textContent === 'Note 3'",
    )
    .await;

    // Dark, following the system, on a desktop.
    dark(&b, true).await;
    b.cdp("Emulation.clearDeviceMetricsOverride", json!({}))
        .await
        .unwrap();
    b.keys(key::ESCAPE).await.unwrap();
    b.wait_for("[data-test=message-row]").await;
    let background = b
        .execute(
            "return getComputedStyle(document.body).backgroundColor",
            &[],
        )
        .await
        .unwrap();
    let channels: Vec<u32> = background
        .as_str()
        .unwrap()
        .trim_start_matches("rgb(")
        .trim_start_matches("rgba(")
        .trim_end_matches(')')
        .split(',')
        .take(3)
        .map(|c| c.trim().parse().unwrap())
        .collect();
    assert!(
        channels.iter().all(|&c| c < 80),
        "a dark background, got {background}"
    );
    shot(&b, "dark-mail-list").await;
    assert_accessible(&b, "the mail list, dark").await;
    dark(&b, false).await;
}

#[tokio::test]
async fn a_sandbox_account_sees_its_limits_and_claim_link() {
    let Some(b) = browser().await else { return };
    let app = TestApp::spawn().await;
    let res = app
        .anonymous(reqwest::Method::POST, "/auth/auto-provision")
        .json(&json!({"deviceId": "ui-test-device"}))
        .send()
        .await
        .unwrap();
    let (status, provisioned) = json(res).await;
    assert_eq!(status, StatusCode::CREATED, "{provisioned}");
    let key = provisioned["apiKey"].as_str().unwrap();
    sign_in(&b, &app, key).await;
    let banner = text_of(&b, "[data-test=sandbox-banner]").await;
    assert!(banner.to_lowercase().contains("sandbox"), "{banner}");
    let claim = b
        .find("[data-test=sandbox-banner] a")
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claim, provisioned["claimUrl"].as_str().unwrap());
}
