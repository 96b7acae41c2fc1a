//! The web interface as served over HTTP (its behaviour in a browser is in `tests/browser`):
//! the embedded page and files with their caching, compression and security headers, the
//! signed message views its frames show, and the recipients' outcomes it lists.

use std::io::Read;
use std::time::Duration;

use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, ETAG, IF_NONE_MATCH,
};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json};

/// The page's Content-Security-Policy: scripts, styles and connections from this origin only.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'";

fn header<'a>(res: &'a Response, name: &str) -> &'a str {
    res.headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

fn assert_hardened(res: &Response, frame: &str) {
    let policy = header(res, "content-security-policy");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-eval"), "{policy}");
    assert_eq!(header(res, "x-frame-options"), frame);
    assert_eq!(header(res, "x-content-type-options"), "nosniff");
    assert_eq!(header(res, "referrer-policy"), "no-referrer");
}

/// The hashed asset paths the page names.
fn asset_paths(page: &str) -> Vec<String> {
    page.match_indices("/ui/assets/")
        .map(|(at, _)| {
            let rest = &page[at..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[tokio::test]
async fn the_page_is_served_at_the_root_and_at_every_interface_address_with_a_strict_policy() {
    let app = TestApp::spawn().await;
    let root = app.anonymous(Method::GET, "/").send().await.unwrap();
    assert_eq!(root.status(), StatusCode::OK);
    assert_eq!(header(&root, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&root, "cache-control"), "no-cache");
    assert_hardened(&root, "DENY");
    assert!(header(&root, "content-security-policy").starts_with(PAGE_POLICY));
    assert!(header(&root, "content-security-policy").contains("frame-ancestors 'none'"));
    let page = root.text().await.unwrap();
    assert!(
        !page.contains("{{"),
        "every placeholder is replaced: {page}"
    );
    // No inline script: every script comes from a file (the policy would block it anyway).
    assert!(!page.contains("<script>"), "{page}");
    let assets = asset_paths(&page);
    for name in ["app.", "icon."] {
        assert!(
            assets
                .iter()
                .any(|a| a.starts_with(&format!("/ui/assets/{name}"))),
            "{name} in {assets:?}"
        );
    }
    for path in [
        "/ui",
        "/ui/",
        "/ui/inboxes/0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e/threads",
    ] {
        let res = app.anonymous(Method::GET, path).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_hardened(&res, "DENY");
        assert_eq!(res.text().await.unwrap(), page, "{path}");
    }
    // HEAD (uptime probes): the headers without the body.
    let head = app.anonymous(Method::HEAD, "/").send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    assert_hardened(&head, "DENY");
    assert!(head.bytes().await.unwrap().is_empty());
    // Not under the interface: the API's 404.
    for path in ["/uix", "/index.html"] {
        let res = app.anonymous(Method::GET, path).send().await.unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

#[tokio::test]
async fn assets_have_content_hashed_names_cache_for_a_year_and_come_gzipped_when_asked() {
    let app = TestApp::spawn().await;
    let page = app
        .anonymous(Method::GET, "/")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut first_load = page.len();
    for path in asset_paths(&page) {
        let plain = app.anonymous(Method::GET, &path).send().await.unwrap();
        assert_eq!(plain.status(), StatusCode::OK, "{path}");
        assert_hardened(&plain, "DENY");
        assert_eq!(
            header(&plain, CACHE_CONTROL.as_str()),
            "public, max-age=31536000, immutable"
        );
        let expected_type = match path.rsplit('.').next().unwrap() {
            "js" => "text/javascript; charset=utf-8",
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            other => panic!("unexpected asset type {other}"),
        };
        assert_eq!(header(&plain, CONTENT_TYPE.as_str()), expected_type);
        assert!(plain.headers().get(CONTENT_ENCODING).is_none());
        let etag = header(&plain, ETAG.as_str()).to_owned();
        let bytes = plain.bytes().await.unwrap();
        first_load += bytes.len();

        // The name carries the content's hash: the same path always means the same bytes.
        let hash = path.rsplit('.').nth(1).unwrap();
        assert_eq!(hash.len(), 12, "{path}");
        assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{path}");

        let gz = app
            .anonymous(Method::GET, &path)
            .header(ACCEPT_ENCODING, "gzip, deflate, br")
            .send()
            .await
            .unwrap();
        if let Some(encoding) = gz.headers().get(CONTENT_ENCODING) {
            assert_eq!(encoding, "gzip");
            // Each coding has its own validator, and a 304 for it.
            let gz_etag = header(&gz, ETAG.as_str()).to_owned();
            assert_ne!(gz_etag, etag, "{path}");
            let packed = gz.bytes().await.unwrap();
            assert!(packed.len() < bytes.len());
            assert_eq!(gunzip(&packed), bytes, "{path}");
            let again = app
                .anonymous(Method::GET, &path)
                .header(ACCEPT_ENCODING, "*")
                .header(IF_NONE_MATCH, &gz_etag)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        }
        // Refused with q=0 (also when `*` would take it): the plain bytes.
        for refusing in ["gzip;q=0", "gzip; Q=0, *", "br, identity"] {
            let refused = app
                .anonymous(Method::GET, &path)
                .header(ACCEPT_ENCODING, refusing)
                .send()
                .await
                .unwrap();
            assert!(
                refused.headers().get(CONTENT_ENCODING).is_none(),
                "{refusing}"
            );
            assert_eq!(header(&refused, ETAG.as_str()), etag, "{refusing}");
        }
        // A client that has it gets a 304.
        let again = app
            .anonymous(Method::GET, &path)
            .header(IF_NONE_MATCH, &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert!(again.bytes().await.unwrap().is_empty());
    }
    // The whole first load, uncompressed, within its budget.
    assert!(first_load < 300 * 1024, "first load is {first_load} bytes");

    // The script is big enough to be worth compressing, and it is.
    let script = asset_paths(&page)
        .into_iter()
        .find(|p| p.ends_with(".js"))
        .unwrap();
    let res = app
        .anonymous(Method::GET, &script)
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&res, CONTENT_ENCODING.as_str()), "gzip");

    // Unknown or stale names are a 404, not the page.
    for path in [
        "/ui/assets/app.000000000000.js",
        "/ui/assets/app.js",
        "/ui/assets/..%2fui.rs",
    ] {
        let res = app.anonymous(Method::GET, path).send().await.unwrap();
        assert_hardened(&res, "DENY");
        assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

#[tokio::test]
async fn with_the_interface_off_its_addresses_are_unknown_routes() {
    let app = TestApp::spawn_with(|c| c.http.ui = false).await;
    for path in ["/", "/ui", "/ui/inboxes"] {
        let res = app.anonymous(Method::GET, path).send().await.unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    let res = app
        .post(
            "/ui/frames",
            &json!({"messageId": "0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e"}),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // The API itself is unchanged.
    assert_eq!(app.get("/inboxes").await.status(), StatusCode::OK);
}

/// Sends a message with `html` from a new inbox and returns it.
async fn sent_with_html(app: &TestApp, html: Option<&str>) -> Value {
    let inbox = app.create_inbox(json!({})).await;
    let mut body = json!({
        "to": ["someone@example.com", "other@example.org"],
        "cc": ["copy@example.net"],
        "subject": "Hello",
        "bodyText": "Hello in text",
    });
    if let Some(html) = html {
        body["bodyHtml"] = json!(html);
    }
    let res = app
        .post(
            &format!("/inboxes/{}/messages", inbox["id"].as_str().unwrap()),
            &body,
        )
        .await;
    let (status, message) = json(res).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{message}");
    message
}

async fn view_url(app: &TestApp, id: &str, images: bool) -> String {
    let res = app
        .post("/ui/frames", &json!({"messageId": id, "images": images}))
        .await;
    let (status, body) = json(res).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["url"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_message_view_shows_its_html_framed_by_the_interface_only_without_script_or_network() {
    let app = TestApp::spawn().await;
    let html = "<p>Hi <b>there</b></p><img src=\"http://127.0.0.1:9/pixel.png\">\
                <script>parent.document.title='pwned'</script>";
    let message = sent_with_html(&app, Some(html)).await;
    let id = message["id"].as_str().unwrap();

    let url = view_url(&app, id, false).await;
    assert!(
        url.starts_with(&format!("/ui/frame/{id}?images=0&expires=")),
        "{url}"
    );
    let res = app.anonymous(Method::GET, &url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_hardened(&res, "SAMEORIGIN");
    assert_eq!(header(&res, "cache-control"), "no-store");
    let policy = header(&res, "content-security-policy").to_owned();
    // No script source at all (default-src 'none'), images only from the message itself,
    // framed only by the interface, sandboxed even when opened on its own.
    assert!(!policy.contains("script-src"), "{policy}");
    assert!(policy.contains("img-src data:;"), "{policy}");
    assert!(policy.contains("frame-ancestors 'self'"), "{policy}");
    assert!(policy.contains("sandbox allow-popups"), "{policy}");
    assert!(!policy.contains("allow-scripts"), "{policy}");
    assert!(!policy.contains("allow-same-origin"), "{policy}");
    let body = res.text().await.unwrap();
    assert!(body.ends_with(html), "{body}");
    assert!(body.starts_with("<base target=\"_blank\">"), "{body}");

    // With the reader's consent, remote images (and only images) may load.
    let url = view_url(&app, id, true).await;
    assert!(url.contains("images=1"), "{url}");
    let res = app.anonymous(Method::GET, &url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let policy = header(&res, "content-security-policy");
    assert!(policy.contains("img-src data: http: https:;"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");
}

#[tokio::test]
async fn a_message_view_is_refused_when_altered_expired_or_gone() {
    let app = TestApp::spawn().await;
    let message = sent_with_html(&app, Some("<p>Hi</p>")).await;
    let id = message["id"].as_str().unwrap();
    let url = view_url(&app, id, false).await;

    // Consent to images cannot be added to a view signed without it, nor the id changed, nor
    // the signature dropped.
    let other = sent_with_html(&app, Some("<p>Other</p>")).await;
    for altered in [
        url.replace("images=0", "images=1"),
        url.replace(id, other["id"].as_str().unwrap()),
        url.split("&signature=").next().unwrap().to_owned(),
        url.replace("images=0", "images=yes"),
        format!("/ui/frame/{id}"),
    ] {
        let res = app.anonymous(Method::GET, &altered).send().await.unwrap();
        assert_hardened(&res, "SAMEORIGIN");
        assert_error(res, StatusCode::FORBIDDEN, "INVALID_SIGNATURE").await;
    }

    // A view lasts ten minutes.
    app.advance(Duration::from_secs(599));
    let res = app.anonymous(Method::GET, &url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    app.advance(Duration::from_secs(1));
    let res = app.anonymous(Method::GET, &url).send().await.unwrap();
    assert_error(res, StatusCode::GONE, "LINK_EXPIRED").await;

    // A deleted message's view shows nothing.
    let url = view_url(&app, id, false).await;
    assert_eq!(
        app.delete(&format!("/messages/{id}")).await.status(),
        StatusCode::NO_CONTENT
    );
    let res = app.anonymous(Method::GET, &url).send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND").await;
}

#[tokio::test]
async fn views_are_handed_out_only_for_the_callers_own_messages_with_html() {
    let app = TestApp::spawn().await;
    let with_html = sent_with_html(&app, Some("<p>Hi</p>")).await;
    let text_only = sent_with_html(&app, None).await;
    let body = json!({"messageId": with_html["id"]});

    let res = app
        .anonymous(Method::POST, "/ui/frames")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;

    let (_, other_key) = app.other_account().await;
    let res = app
        .request_as(&other_key, Method::POST, "/ui/frames")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND").await;

    let send_only = app.key_with_scopes(&["send"]).await;
    let res = app
        .request_as(&send_only, Method::POST, "/ui/frames")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let res = app
        .post("/ui/frames", &json!({"messageId": text_only["id"]}))
        .await;
    let error = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert!(error.to_string().contains("messageId"), "{error}");

    for bad in [
        json!({}),
        json!({"messageId": "nope"}),
        json!({"messageId": with_html["id"], "images": "yes"}),
        json!({"messageId": with_html["id"], "extra": 1}),
    ] {
        let res = app.post("/ui/frames", &bad).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        let (_, body) = json(res).await;
        assert!(body["error"]["message"].is_string(), "{body}");
    }
}

#[tokio::test]
async fn recipients_list_how_far_each_delivery_got() {
    let app = TestApp::spawn().await;
    let message = sent_with_html(&app, None).await;
    let id = message["id"].as_str().unwrap();
    let path = format!("/messages/{id}/recipients");

    let (status, queued) = json(app.get(&path).await).await;
    assert_eq!(status, StatusCode::OK, "{queued}");
    assert_eq!(queued["total"], 3);
    let addresses: Vec<(&str, &str)> = queued["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["address"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        addresses,
        [
            ("someone@example.com", "to"),
            ("other@example.org", "to"),
            ("copy@example.net", "cc")
        ]
    );

    app.settle_sends().await;
    let (_, settled) = json(app.get(&path).await).await;
    for r in settled["data"].as_array().unwrap() {
        // Dry-run mode: recorded as handed off.
        assert_eq!(r["status"], "sent", "{r}");
        assert_eq!(r["route"], "dry-run", "{r}");
        assert!(r["lastError"].is_null(), "{r}");
        assert!(crate::helpers::is_iso_timestamp(&r["updatedAt"]), "{r}");
    }

    let (_, other_key) = app.other_account().await;
    let res = app
        .request_as(&other_key, Method::GET, &path)
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND").await;
    let res = app.get("/messages/not-an-id/recipients").await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn a_received_messages_inline_images_are_embedded_in_its_view() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({})).await;
    let address = inbox["address"].as_str().unwrap();
    // A 1×1 PNG as an inline part, and an HTML body naming it by content id.
    let png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let mail = format!(
        "From: Sender <sender@example.com>\r\nTo: {address}\r\nSubject: Inline\r\n\
         Message-ID: <inline-1@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/related; boundary=\"b1\"\r\n\r\n\
         --b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
         <p>Logo: <img src=\"cid:logo@example.com\" alt=\"logo\"></p>\r\n\
         --b1\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\
         Content-ID: <logo@example.com>\r\nContent-Disposition: inline; filename=\"logo.png\"\r\n\r\n\
         {png}\r\n--b1--\r\n"
    );
    let (code, text) =
        crate::smtp_client::send_mail(app.smtp, "sender@example.com", &[address], mail.as_bytes())
            .await;
    assert_eq!(code, 250, "{text}");
    let (_, list) = json(
        app.get(&format!(
            "/inboxes/{}/messages",
            inbox["id"].as_str().unwrap()
        ))
        .await,
    )
    .await;
    let id = list["data"][0]["id"].as_str().unwrap().to_owned();
    let url = view_url(&app, &id, false).await;
    let body = app
        .anonymous(Method::GET, &url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(&format!(
            "<img src=\"data:image/png;base64,{png}\" alt=\"logo\">"
        )),
        "{body}"
    );
    assert!(!body.contains("cid:"), "{body}");
}

#[tokio::test]
async fn a_view_keeps_the_mails_doctype_and_drops_what_reaches_out_without_script() {
    let app = TestApp::spawn().await;
    let html = "<!DOCTYPE html><html><head>\
        <meta http-equiv=\"refresh\" content=\"0;url=http://127.0.0.1:9/\">\
        <link rel=\"preconnect\" href=\"http://127.0.0.1:9\"></head>\
        <body><a href=\"http://127.0.0.1:9/\" ping=\"http://127.0.0.1:9/ping\">link</a>\
        <img src=\"http://127.0.0.1:9/p.png\" referrerpolicy=\"unsafe-url\"></body></html>";
    let message = sent_with_html(&app, Some(html)).await;
    let url = view_url(&app, message["id"].as_str().unwrap(), true).await;
    let res = app.anonymous(Method::GET, &url).send().await.unwrap();
    assert_eq!(header(&res, "x-dns-prefetch-control"), "off");
    let body = res.text().await.unwrap();
    // The doctype first (it decides how the mail renders), then the view's own head.
    assert!(
        body.starts_with("<!DOCTYPE html><base target=\"_blank\">"),
        "{body}"
    );
    for gone in ["http-equiv", "<link", "ping=", "referrerpolicy"] {
        assert!(!body.contains(gone), "{gone} in {body}");
    }
    assert!(
        body.contains("<a href=\"http://127.0.0.1:9/\">link</a>"),
        "{body}"
    );
    assert!(
        body.contains("<img src=\"http://127.0.0.1:9/p.png\">"),
        "{body}"
    );
}
