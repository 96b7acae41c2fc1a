//! Attachments: upload, presigned and authenticated downloads, limits, bad input, use in
//! sends and retention.

use std::time::Duration;

use agentsend::domain::reading::Reading;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, assert_error, client, eventually, json, random_uuid};

const MIB: usize = 1024 * 1024;
const BOUNDARY: &str = "----agentsend-test-boundary";

/// One part of a hand-made `multipart/form-data` body (so that tests control every byte of
/// the part headers).
pub struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    content_type: Option<&'a str>,
    data: &'a [u8],
}

pub fn file<'a>(filename: &'a str, content_type: &'a str, data: &'a [u8]) -> Part<'a> {
    Part {
        name: "file",
        filename: Some(filename),
        content_type: Some(content_type),
        data,
    }
}

fn form(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        body.extend_from_slice(
            format!("Content-Disposition: form-data; name=\"{}\"", p.name).as_bytes(),
        );
        if let Some(f) = p.filename {
            body.extend_from_slice(format!("; filename=\"{f}\"").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        if let Some(t) = p.content_type {
            body.extend_from_slice(format!("Content-Type: {t}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(p.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn post_form(app: &TestApp, key: &str, body: Vec<u8>) -> reqwest::Response {
    app.request_as(key, Method::POST, "/attachments")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(body)
        .send()
        .await
        .unwrap()
}

pub async fn upload(app: &TestApp, part: Part<'_>) -> Value {
    let (status, attachment) = json(post_form(app, &app.key, form(&[part])).await).await;
    assert_eq!(status, StatusCode::CREATED, "{attachment}");
    attachment
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// Bytes that are not all alike (so an offset mistake shows), `len` long.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

async fn assert_download(res: reqwest::Response, data: &[u8], content_type: &str, filename: &str) {
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], content_type);
    assert_eq!(
        res.headers()["content-length"],
        data.len().to_string().as_str()
    );
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"{filename}\"; filename*=UTF-8''{filename}").as_str()
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    let got = res.bytes().await.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got.as_ref() == data, "the downloaded bytes differ");
}

#[tokio::test]
async fn an_upload_downloads_identically_with_the_key_and_through_its_link() {
    let app = TestApp::spawn().await;
    // Several read steps, and not a multiple of one.
    let data = pattern(3 * MIB + 12_345);
    let attachment = upload(&app, file("report.pdf", "application/pdf", &data)).await;
    assert_eq!(attachment["filename"], "report.pdf");
    assert_eq!(attachment["contentType"], "application/pdf");
    assert_eq!(attachment["size"], data.len());
    assert_eq!(attachment["sha256"], sha256_hex(&data));
    assert!(crate::helpers::is_iso_timestamp(&attachment["createdAt"]));
    let url = attachment["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!(
            "{}/attachments/{}/download?",
            app.base,
            id(&attachment)
        )),
        "{url}"
    );

    let with_key = app
        .get(&format!("/attachments/{}/content", id(&attachment)))
        .await;
    assert_download(with_key, &data, "application/pdf", "report.pdf").await;
    // The link needs no key.
    let by_link = client().get(url).send().await.unwrap();
    assert_download(by_link, &data, "application/pdf", "report.pdf").await;

    let (status, meta) = json(app.get(&format!("/attachments/{}", id(&attachment))).await).await;
    assert_eq!(status, StatusCode::OK);
    for field in [
        "id",
        "filename",
        "contentType",
        "size",
        "sha256",
        "createdAt",
    ] {
        assert_eq!(meta[field], attachment[field], "{field}");
    }
    assert!(meta["url"].as_str().unwrap().contains("signature="));

    // An empty file is a file.
    let empty = upload(&app, file("empty.txt", "text/plain", b"")).await;
    assert_eq!(empty["size"], 0);
    assert_eq!(empty["sha256"], sha256_hex(b""));
    let res = client()
        .get(empty["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_download(res, b"", "text/plain", "empty.txt").await;
}

#[tokio::test]
async fn presigned_links_refuse_alterations_expire_and_survive_a_restart() {
    let app = TestApp::spawn().await;
    let a = upload(&app, file("a.txt", "text/plain", b"first")).await;
    let b = upload(&app, file("b.txt", "text/plain", b"second")).await;
    let url = a["url"].as_str().unwrap().to_owned();
    let (path, query) = url.split_once('?').unwrap();
    let (expires, signature) = {
        let mut it = query.split('&');
        let e = it
            .next()
            .unwrap()
            .strip_prefix("expires=")
            .unwrap()
            .to_owned();
        let s = it
            .next()
            .unwrap()
            .strip_prefix("signature=")
            .unwrap()
            .to_owned();
        (e, s)
    };
    let flipped = format!(
        "{}{}",
        &signature[..63],
        if signature.ends_with('0') { '1' } else { '0' }
    );
    let later: i64 = expires.parse::<i64>().unwrap() + 3600;
    for altered in [
        format!("{path}?expires={expires}&signature={flipped}"),
        format!("{path}?expires={later}&signature={signature}"),
        format!("{path}?expires={expires}"),
        path.to_owned(),
        // A's signature on B's path.
        format!(
            "{}/attachments/{}/download?expires={expires}&signature={signature}",
            app.base,
            id(&b)
        ),
    ] {
        let res = client().get(&altered).send().await.unwrap();
        assert_error(res, StatusCode::FORBIDDEN, "INVALID_SIGNATURE").await;
    }
    let res = client().get(&url).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"first");

    // Signing keys are kept in the database: links outlive a restart (on a new port here).
    let old_base = app.base.clone();
    let app = app.restart().await;
    let url = url.replace(&old_base, &app.base);
    let res = client().get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    app.advance(Duration::from_secs(3600));
    let res = client().get(&url).send().await.unwrap();
    assert_error(res, StatusCode::GONE, "LINK_EXPIRED").await;
    // A fresh one works.
    let (_, fresh) = json(app.get(&format!("/attachments/{}", id(&a))).await).await;
    let res = client()
        .get(fresh["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"first");

    // A deleted attachment's link is a 404 once the signature checks out.
    let gone = id(&b).to_owned();
    let b_url = json(app.get(&format!("/attachments/{gone}")).await).await.1["url"]
        .as_str()
        .unwrap()
        .to_owned();
    app.sql()
        .execute("DELETE FROM attachments WHERE id = ?1", [gone])
        .unwrap();
    let res = client().get(&b_url).send().await.unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "ATTACHMENT_NOT_FOUND").await;
}

#[tokio::test]
async fn bad_uploads_get_clear_errors_and_store_nothing() {
    let app = TestApp::spawn().await;
    let key = app.key.clone();

    // No `file` part.
    let res = post_form(
        &app,
        &key,
        form(&[Part {
            name: "note",
            filename: None,
            content_type: None,
            data: b"hello",
        }]),
    )
    .await;
    let e = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert!(e["error"]["details"]["file"].is_array(), "{e}");
    // An empty form, and an empty body.
    let res = post_form(&app, &key, format!("--{BOUNDARY}--\r\n").into_bytes()).await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    let res = post_form(&app, &key, Vec::new()).await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    // Two files.
    let res = post_form(
        &app,
        &key,
        form(&[
            file("a.txt", "text/plain", b"a"),
            file("b.txt", "text/plain", b"b"),
        ]),
    )
    .await;
    let e = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert!(e["error"]["details"]["file"].is_array(), "{e}");
    // Not multipart at all, or without a boundary.
    let res = app.post("/attachments", &json!({"file": "abc"})).await;
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    let res = app
        .request(Method::POST, "/attachments")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_error(
        res,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
    let res = app
        .request(Method::POST, "/attachments")
        .header("content-type", "multipart/form-data")
        .body(form(&[file("a.txt", "text/plain", b"a")]))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    // Truncated in the middle of the part.
    let mut cut = form(&[file("a.txt", "text/plain", b"abcdef")]);
    cut.truncate(cut.len() - 20);
    let res = post_form(&app, &key, cut).await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    // No key.
    let res = app
        .anonymous(Method::POST, "/attachments")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(form(&[file("a.txt", "text/plain", b"a")]))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::UNAUTHORIZED, "UNAUTHORIZED").await;
    let stored = app
        .sql()
        .query_row("SELECT count(*) FROM attachments", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap();
    assert_eq!(stored, 0);

    // Hostile names lose their path and control characters; types are guessed when missing.
    let a = upload(&app, file("../../etc/passwd", "text/plain", b"x")).await;
    assert_eq!(a["filename"], "passwd");
    // A Windows path (backslashes escaped in the quoted string).
    let a = upload(
        &app,
        file(
            "C:\\\\Users\\\\x\\\\evil.exe",
            "application/x-msdownload",
            b"x",
        ),
    )
    .await;
    assert_eq!(a["filename"], "evil.exe");
    // A raw CR LF ends the part's header line: the part is malformed.
    let res = post_form(
        &app,
        &key,
        form(&[file("in\r\njected.txt", "text/plain", b"x")]),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    // Encoded (RFC 8187), it decodes and is cleaned like any other name.
    let body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; \
         filename*=UTF-8''in%0D%0ABcc%3A%20x%09jected%E2%82%AC.txt\r\n\r\nx\r\n--{BOUNDARY}--\r\n"
    );
    let (status, a) = json(post_form(&app, &key, body.into_bytes()).await).await;
    assert_eq!(status, StatusCode::CREATED, "{a}");
    assert_eq!(a["filename"], "inBcc: xjected€.txt");
    let res = app.get(&format!("/attachments/{}/content", id(&a))).await;
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"inBcc: xjected_.txt\"; filename*=UTF-8''inBcc%3A%20xjected%E2%82%AC.txt"
    );
    let a = upload(&app, file("", "text/plain", b"x")).await;
    assert_eq!(a["filename"], "attachment");
    let long = format!("{}.txt", "n".repeat(300));
    let a = upload(&app, file(&long, "text/plain", b"x")).await;
    assert_eq!(a["filename"].as_str().unwrap().chars().count(), 200);
    assert!(a["filename"].as_str().unwrap().ends_with(".txt"));
    let a = upload(
        &app,
        Part {
            name: "file",
            filename: Some("table.csv"),
            content_type: None,
            data: b"a,b",
        },
    )
    .await;
    assert_eq!(a["contentType"], "text/csv");
    let a = upload(&app, file("photo.png", "application/octet-stream", b"x")).await;
    assert_eq!(a["contentType"], "image/png");
    // Other fields around the file are ignored.
    let res = post_form(
        &app,
        &key,
        form(&[
            Part {
                name: "purpose",
                filename: None,
                content_type: None,
                data: b"invoice",
            },
            file("inv.pdf", "application/pdf", b"%PDF"),
        ]),
    )
    .await;
    assert_eq!(res.status(), StatusCode::CREATED);

    // Another account sees none of it.
    let (_, other_key) = app.other_account().await;
    for path in [
        format!("/attachments/{}", id(&a)),
        format!("/attachments/{}/content", id(&a)),
        format!("/attachments/{}", random_uuid()),
    ] {
        let res = app
            .request_as(&other_key, Method::GET, &path)
            .send()
            .await
            .unwrap();
        assert_error(res, StatusCode::NOT_FOUND, "ATTACHMENT_NOT_FOUND").await;
    }
    let res = app.get("/attachments/not-a-uuid").await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
}

#[tokio::test]
async fn ten_mebibytes_is_the_limit_and_the_server_stops_reading_past_it() {
    let app = TestApp::spawn().await;
    let key = app.key.clone();
    let exact = pattern(10 * MIB);
    let a = upload(&app, file("exact.bin", "application/octet-stream", &exact)).await;
    assert_eq!(a["size"], 10 * MIB);
    let res = app.get(&format!("/attachments/{}/content", id(&a))).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), &exact[..]);

    let over = pattern(10 * MIB + 1);
    let res = post_form(
        &app,
        &key,
        form(&[file("over.bin", "application/pdf", &over)]),
    )
    .await;
    assert_error(res, StatusCode::BAD_REQUEST, "ATTACHMENT_TOO_LARGE").await;
    // A declared body over the multipart limit is refused before it is read.
    let res = app
        .request(Method::POST, "/attachments")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(vec![b'x'; 12 * MIB])
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;

    // An upload that never ends gets its answer while the client is still sending: the
    // server reads no further than the limit instead of buffering the upload.
    let file_head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\n\r\n"
    );
    let status = endless_upload(&app, &key, "", file_head.as_bytes(), &[b'z'; 64 * 1024]).await;
    assert_eq!(status, "HTTP/1.1 400 Bad Request");
    // Nor do endless small fields around no file at all pass the body limit.
    let field = format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\ny\r\n");
    let status = endless_upload(&app, &key, "", b"", field.repeat(1000).as_bytes()).await;
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    // A made-up key is refused before any of the body is read, also with an Idempotency-Key
    // (whose handling reads the body to fingerprint the request).
    let fake = format!("ask_{}", "x".repeat(40));
    let idempotent = "Idempotency-Key: upload-1\r\n";
    let status = endless_upload(
        &app,
        &fake,
        idempotent,
        file_head.as_bytes(),
        &[b'z'; 65536],
    )
    .await;
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
}

/// POSTs an upload over a raw connection: `first`, then `repeat` again and again (up to 1 GiB,
/// chunked), and returns the response's status line, which must come while the client is still
/// sending: a server that read (or buffered) the whole body would never answer.
async fn endless_upload(
    app: &TestApp,
    key: &str,
    extra_headers: &str,
    first: &[u8],
    repeat: &[u8],
) -> String {
    let addr = app.base.strip_prefix("http://").unwrap().to_owned();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /attachments HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n{extra_headers}\
         Transfer-Encoding: chunked\r\n\r\n"
    );
    let (first, repeat) = (first.to_vec(), repeat.to_vec());
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await?;
        let mut sent = 0usize;
        for chunk in std::iter::once(&first).chain(std::iter::repeat(&repeat)) {
            if chunk.is_empty() {
                continue;
            }
            write
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await?;
            write.write_all(chunk).await?;
            write.write_all(b"\r\n").await?;
            sent += chunk.len();
            if sent > 1024 * MIB {
                break;
            }
        }
        Ok::<usize, std::io::Error>(sent)
    });
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    let status_line = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let n = read.read(&mut buf).await.unwrap();
            assert!(n > 0, "the connection closed without a response");
            response.extend_from_slice(&buf[..n]);
            if let Some(end) = response.windows(2).position(|w| w == b"\r\n") {
                return String::from_utf8_lossy(&response[..end]).into_owned();
            }
        }
    })
    .await
    .expect("the server answered an endless upload");
    if writer.is_finished() {
        assert!(
            writer.await.unwrap().is_err(),
            "the answer came only after the client had sent everything"
        );
    } else {
        writer.abort();
    }
    status_line
}

#[tokio::test]
async fn uploads_go_out_with_sends_and_unused_ones_expire() {
    let app = TestApp::spawn().await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let data = pattern(700_000);
    let used = upload(&app, file("plan.pdf", "application/pdf", &data)).await;
    let unused = upload(&app, file("draft.txt", "text/plain", b"draft")).await;

    let (status, sent) = json(
        app.post(
            &format!("/inboxes/{}/messages", id(&alice)),
            &json!({
                "to": ["bob@agentsend.localhost"],
                "subject": "The plan",
                "bodyText": "Attached.",
                "attachmentIds": [id(&used)],
            }),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let received = eventually("bob's copy", || async {
        let (_, page) = json(app.get(&format!("/inboxes/{}/messages", id(&bob))).await).await;
        page["data"].as_array().unwrap().first().cloned()
    })
    .await;
    let attachment = &received["attachments"][0];
    assert_eq!(attachment["filename"], "plan.pdf");
    assert_eq!(attachment["contentType"], "application/pdf");
    assert_eq!(attachment["size"], data.len());
    let (_, meta) = json(app.get(&format!("/attachments/{}", id(attachment))).await).await;
    assert_eq!(meta["sha256"], sha256_hex(&data));
    let res = client()
        .get(meta["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().as_ref(), &data[..]);

    // Seven days on, the unused upload is gone; the one a message uses stays.
    app.advance(Duration::from_secs(7 * 86_400 - 60));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.attachments, 0);
    app.advance(Duration::from_secs(61));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.attachments, 1);
    let res = app.get(&format!("/attachments/{}", id(&unused))).await;
    assert_error(res, StatusCode::NOT_FOUND, "ATTACHMENT_NOT_FOUND").await;
    let res = app
        .get(&format!("/attachments/{}/content", id(&used)))
        .await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn links_use_the_configured_public_url() {
    let app = TestApp::spawn_with(|c| {
        c.http.public_url = "https://mail.example.com/agentsend/".to_owned();
        c.attachments.link_ttl_secs = 60;
    })
    .await;
    let a = upload(&app, file("a.txt", "text/plain", b"a")).await;
    let url = a["url"].as_str().unwrap();
    let prefix = format!(
        "https://mail.example.com/agentsend/attachments/{}/download?",
        id(&a)
    );
    assert!(url.starts_with(&prefix), "{url}");
    // Valid for the configured minute here.
    let local = url.replace("https://mail.example.com/agentsend", &app.base);
    assert_eq!(
        client().get(&local).send().await.unwrap().status(),
        StatusCode::OK
    );
    app.advance(Duration::from_secs(60));
    let res = client().get(&local).send().await.unwrap();
    assert_error(res, StatusCode::GONE, "LINK_EXPIRED").await;
}

#[tokio::test]
async fn a_send_whose_upload_expired_meanwhile_is_refused_whole() {
    use agentsend::domain::Refusal;
    use agentsend::domain::outbound::RecipientKind;
    use agentsend::domain::{AccountId, AttachmentId, InboxId};
    use agentsend::store::Failure;
    use agentsend::store::outbound::{NewOutbound, insert_outbound};

    // What the writer sees when the janitor removed an upload between composing a message and
    // storing it: the send fails as a missing attachment and leaves nothing behind.
    let app = TestApp::spawn().await;
    let alice = app.create_inbox(json!({"address": "alice"})).await;
    let account: AccountId = app.account_id.parse().unwrap();
    let inbox: InboxId = id(&alice).parse().unwrap();
    let now = app.now();
    let result = app
        .state
        .store
        .write(move |tx| {
            let to = vec!["x@example.com".to_owned()];
            let recipients = vec![("x@example.com".to_owned(), RecipientKind::To)];
            insert_outbound(
                tx,
                &NewOutbound {
                    account_id: account,
                    inbox_id: inbox,
                    thread_id: None,
                    thread_subject: "s",
                    from: "alice@agentsend.localhost",
                    to: &to,
                    cc: &[],
                    bcc: &[],
                    subject: "s",
                    text: Some("t"),
                    html: None,
                    message_id: "m@agentsend.localhost",
                    in_reply_to: None,
                    references: &[],
                    attachment_ids: &[AttachmentId::new()],
                    recipients: &recipients,
                    raw: b"Subject: s\r\n\r\nt\r\n",
                    return_path: "bounces+test@agentsend.localhost",
                    reading: &Reading::of(Some("t"), None),
                },
                now,
            )
        })
        .await;
    assert!(
        matches!(result, Err(Failure::Refused(Refusal::NotFound(_)))),
        "{result:?}"
    );
    let left = app
        .sql()
        .query_row(
            "SELECT (SELECT count(*) FROM messages) + (SELECT count(*) FROM threads)
                      + (SELECT count(*) FROM jobs)",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn a_received_part_used_in_a_send_lives_until_both_messages_are_gone() {
    let app = TestApp::spawn().await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    let mail = b"From: ada@example.com\r\nTo: bob@agentsend.localhost\r\nSubject: doc\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/pdf\r\n\
Content-Disposition: attachment; filename=doc.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n\
JVBERi0xLjQK\r\n--b--\r\n";
    let (code, _) = crate::smtp_client::send_mail(
        app.smtp,
        "ada@example.com",
        &["bob@agentsend.localhost"],
        mail,
    )
    .await;
    assert_eq!(code, 250);
    let (_, page) = json(app.get(&format!("/inboxes/{}/messages", id(&bob))).await).await;
    let received = page["data"][0].clone();
    let part = id(&received["attachments"][0]).to_owned();

    let (status, sent) = json(
        app.post(
            &format!("/inboxes/{}/messages", id(&bob)),
            &json!({"to": ["x@example.com"], "subject": "fwd", "bodyText": "fyi",
                    "attachmentIds": [part]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    app.settle_sends().await;

    // The received message goes; the part stays for the send that uses it.
    let res = app.delete(&format!("/messages/{}", id(&received))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    app.advance(Duration::from_secs(8 * 86_400));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.attachments, 0);
    let res = app.get(&format!("/attachments/{part}/content")).await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"%PDF-1.4\n");

    // Once the send is deleted too, nothing uses it: it goes with the last message using it.
    let res = app.delete(&format!("/messages/{}", id(&sent))).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app.get(&format!("/attachments/{part}")).await;
    assert_error(res, StatusCode::NOT_FOUND, "ATTACHMENT_NOT_FOUND").await;
}

#[tokio::test]
async fn uploads_and_received_mail_share_a_memory_budget() {
    let app = TestApp::spawn_with(|c| {
        c.smtp.max_message_size = MIB;
        c.limits.max_buffered_bytes = 10 * MIB;
    })
    .await;
    let bob = app.create_inbox(json!({"address": "bob"})).await;
    // Other clients' data in flight fill most of the budget.
    let mut others = app.state.memory.reservation();
    assert!(others.grow_to(10 * MIB - 512 * 1024));

    let data = pattern(MIB);
    let res = post_form(
        &app,
        &app.key,
        form(&[file("big.bin", "application/octet-stream", &data)]),
    )
    .await;
    assert_eq!(res.headers()["retry-after"], "5");
    assert_error(res, StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY").await;
    let mail = format!("Subject: big\r\n\r\n{}\r\n", "z".repeat(700_000));
    let (code, text) = crate::smtp_client::send_mail(
        app.smtp,
        "ada@example.com",
        &["bob@agentsend.localhost"],
        mail.as_bytes(),
    )
    .await;
    assert_eq!(code, 452, "{text}");
    assert_eq!(app.state.memory.in_use(), 10 * MIB - 512 * 1024);

    drop(others);
    upload(&app, file("big.bin", "application/octet-stream", &data)).await;
    let (code, text) = crate::smtp_client::send_mail(
        app.smtp,
        "ada@example.com",
        &["bob@agentsend.localhost"],
        mail.as_bytes(),
    )
    .await;
    assert_eq!(code, 250, "{text}");
    let (_, page) = json(app.get(&format!("/inboxes/{}/messages", id(&bob))).await).await;
    assert_eq!(page["total"], 1);
    assert_eq!(app.state.memory.in_use(), 0, "everything was given back");
}
