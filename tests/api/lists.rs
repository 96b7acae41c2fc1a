//! Lists: cursor paging beside limit/offset, and totals that stay right through every path that
//! adds, moves or deletes a message, a thread or an inbox.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json};
use crate::smtp_client::send_mail;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_owned()
}

fn ids(page: &Value) -> Vec<String> {
    page["data"].as_array().unwrap().iter().map(id).collect()
}

/// A mail to `to`, optionally a reply to the message with Message-ID `parent`.
async fn receive(app: &TestApp, to: &str, n: u32, parent: Option<&str>) {
    let reply = parent
        .map(|p| format!("In-Reply-To: <{p}>\r\nReferences: <{p}>\r\n"))
        .unwrap_or_default();
    let mail = format!(
        "From: peer@example.com\r\nTo: {to}\r\nSubject: note {n}\r\n\
         Message-ID: <note-{n}@example.com>\r\n{reply}\r\nbody {n}\r\n"
    );
    let (code, text) = send_mail(app.smtp, "peer@example.com", &[to], mail.as_bytes()).await;
    assert_eq!(code, 250, "{text}");
}

/// Every item of `path` (a list), walked by cursor `limit` at a time.
async fn walk(app: &TestApp, path: &str, limit: u32) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            None => format!("{path}{sep}limit={limit}"),
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
        };
        let (status, page) = json(app.get(&url).await).await;
        assert_eq!(status, StatusCode::OK, "{url}: {page}");
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => {
                assert!(page["nextCursor"].is_null(), "{page}");
                return seen;
            }
        }
    }
}

#[tokio::test]
async fn cursor_pages_return_every_message_once_while_new_mail_arrives() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "pager"})).await;
    let to = inbox["address"].as_str().unwrap().to_owned();
    for n in 0..23 {
        receive(&app, &to, n, None).await;
        // Some share a millisecond (the row number breaks the tie), some do not.
        if n % 3 == 0 {
            app.advance(Duration::from_millis(1));
        }
    }
    let path = format!("/inboxes/{}/messages", id(&inbox));
    let (_, all) = json(app.get(&format!("{path}?limit=100")).await).await;
    let before = ids(&all);
    assert_eq!(before.len(), 23);
    assert!(all["nextCursor"].is_null());

    // Walk 5 at a time; two new messages arrive after every page.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut n = 100;
    loop {
        let url = match &cursor {
            None => format!("{path}?limit=5"),
            Some(c) => format!("{path}?limit=5&cursor={c}"),
        };
        let (_, page) = json(app.get(&url).await).await;
        seen.extend(ids(&page));
        for _ in 0..2 {
            app.advance(Duration::from_millis(1));
            receive(&app, &to, n, None).await;
            n += 1;
        }
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen, before,
        "every message once, in order, none of the new ones"
    );
    let (_, now) = json(app.get(&format!("{path}?limit=1")).await).await;
    assert_eq!(now["total"], 23 + (n - 100));

    // Old clients' offset paging is unchanged: the same rows, newest first, and the total.
    let mut by_offset = Vec::new();
    for offset in (0..).step_by(7) {
        let (_, page) = json(app.get(&format!("{path}?limit=7&offset={offset}")).await).await;
        assert_eq!(page["total"], 23 + (n - 100));
        let got = ids(&page);
        if got.is_empty() {
            break;
        }
        by_offset.extend(got);
    }
    assert_eq!(by_offset, walk(&app, &path, 4).await);
    assert_eq!(&by_offset[by_offset.len() - 23..], &before[..]);
}

#[tokio::test]
async fn every_list_pages_by_cursor() {
    let app = TestApp::spawn().await;
    let a = app.create_inbox(json!({"address": "a"})).await;
    app.create_inbox(json!({"address": "b"})).await;
    app.create_inbox(json!({"address": "c"})).await;
    let to = a["address"].as_str().unwrap().to_owned();
    receive(&app, &to, 1, None).await;
    receive(&app, &to, 2, Some("note-1@example.com")).await;
    receive(&app, &to, 3, Some("note-2@example.com")).await;
    receive(&app, &to, 4, None).await;
    let hook = |n: u32| json!({"url": format!("https://hooks.example.com/{n}")});
    let (_, webhook) = json(app.post("/webhooks", &hook(1)).await).await;
    app.post("/webhooks", &hook(2)).await;
    for n in 0..3 {
        let (status, _) = json(
            app.post(&format!("/webhooks/{}/test", id(&webhook)), &json!({}))
                .await,
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "test event {n}");
    }
    for n in 0..3 {
        app.post("/account/api-keys", &json!({"name": format!("k{n}")}))
            .await;
    }
    let (_, threads) = json(app.get(&format!("/inboxes/{}/threads", id(&a))).await).await;
    let joined = threads["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["messageCount"] == 3)
        .map(id)
        .unwrap();

    for (path, at_least) in [
        ("/inboxes".to_owned(), 3),
        (format!("/inboxes/{}/messages", id(&a)), 4),
        (format!("/inboxes/{}/messages?status=received", id(&a)), 4),
        (format!("/inboxes/{}/threads", id(&a)), 2),
        (format!("/threads/{joined}/messages"), 3),
        ("/webhooks".to_owned(), 2),
        (format!("/webhooks/{}/deliveries", id(&webhook)), 3),
        ("/account/api-keys".to_owned(), 4),
        ("/domains".to_owned(), 0),
    ] {
        let sep = if path.contains('?') { '&' } else { '?' };
        let (status, all) = json(app.get(&format!("{path}{sep}limit=100")).await).await;
        assert_eq!(status, StatusCode::OK, "{path}: {all}");
        let everything = ids(&all);
        assert!(everything.len() >= at_least, "{path}: {all}");
        assert_eq!(all["total"], everything.len(), "{path}");
        assert_eq!(walk(&app, &path, 1).await, everything, "{path} by cursor");
        assert_eq!(walk(&app, &path, 2).await, everything, "{path} by cursor");
    }
}

#[tokio::test]
async fn bad_cursors_are_refused_in_the_error_envelope() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({})).await;
    receive(&app, inbox["address"].as_str().unwrap(), 1, None).await;
    receive(&app, inbox["address"].as_str().unwrap(), 2, None).await;
    let path = format!("/inboxes/{}/messages", id(&inbox));
    let (_, first) = json(app.get(&format!("{path}?limit=1")).await).await;
    let cursor = first["nextCursor"].as_str().unwrap().to_owned();

    for query in [
        "cursor=",
        "cursor=not-a-cursor",
        "cursor=%FF%FE",
        "cursor=c1",
        "cursor=c1.2.3",
        "cursor=c12345678901234567890.1",
        &format!("cursor={cursor}&limit=0"),
        &format!("cursor={cursor}&offset=-1"),
    ] {
        let body = assert_error(
            app.get(&format!("{path}?{query}")).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        )
        .await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(
            ["cursor", "limit", "offset"]
                .iter()
                .any(|p| message.contains(p)),
            "{query}: {message}"
        );
    }
    // An offset with a cursor counts from it.
    let (_, all) = json(app.get(&format!("{path}?limit=100")).await).await;
    receive(&app, inbox["address"].as_str().unwrap(), 3, None).await;
    let (status, skipped) = json(
        app.get(&format!("{path}?cursor={cursor}&offset=0&limit=5"))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&skipped), ids(&all)[1..].to_vec());
    let (_, past) = json(app.get(&format!("{path}?cursor={cursor}&offset=1")).await).await;
    assert_eq!(past["data"], json!([]));
    // The document describes the cursor exactly as the server reads it.
    let (_, doc) = json(
        app.anonymous(Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let params = doc["paths"]["/inboxes/{id}/messages"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let documented = params.iter().find(|p| p["name"] == "cursor").unwrap();
    assert_eq!(
        documented["schema"]["pattern"],
        agentsend::domain::Cursor::PATTERN
    );
    // A good cursor on another inbox's list is a position, not a key: it pages that list.
    let other = app.create_inbox(json!({})).await;
    let (status, page) = json(
        app.get(&format!("/inboxes/{}/messages?cursor={cursor}", id(&other)))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["data"], json!([]));
    // Another account cannot page someone else's inbox with any cursor.
    let (_, other_key) = app.other_account().await;
    let res = app
        .request_as(&other_key, Method::GET, &format!("{path}?cursor={cursor}"))
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::NOT_FOUND, "INBOX_NOT_FOUND").await;
}

/// A small deterministic generator, so that a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        usize::try_from((self.0 >> 33) % n as u64).unwrap()
    }
}

#[tokio::test]
async fn list_totals_stay_equal_to_the_rows_through_every_path() {
    let app = TestApp::spawn().await;
    let mut inboxes = vec![
        app.create_inbox(json!({"address": "one"})).await,
        app.create_inbox(json!({"address": "two"})).await,
    ];
    let mut rng = Lcg(15);
    let mut received = Vec::new();
    for step in 0..60u32 {
        let inbox = inboxes[rng.below(inboxes.len())].clone();
        let address = inbox["address"].as_str().unwrap().to_owned();
        match rng.below(7) {
            // Received over SMTP: a new thread, or a reply that joins one.
            0 | 1 => {
                let parent = (!received.is_empty() && rng.below(2) == 0)
                    .then(|| received[rng.below(received.len())])
                    .map(|n: u32| format!("note-{n}@example.com"));
                receive(&app, &address, step, parent.as_deref()).await;
                received.push(step);
            }
            // Sent to another inbox here (local delivery) and to the outside (dry run).
            2 | 3 => {
                let to = inboxes[rng.below(inboxes.len())]["address"].clone();
                let (status, body) = json(
                    app.post(
                        &format!("/inboxes/{}/messages", id(&inbox)),
                        &json!({"to": [to, "far@example.net"], "subject": format!("s{step}"),
                                "bodyText": "hi"}),
                    )
                    .await,
                )
                .await;
                assert_eq!(status, StatusCode::ACCEPTED, "{body}");
                if rng.below(2) == 0 {
                    app.settle_sends().await;
                }
            }
            // A message deleted.
            4 => {
                let (_, page) = json(
                    app.get(&format!("/inboxes/{}/messages?limit=100", id(&inbox)))
                        .await,
                )
                .await;
                let all = ids(&page);
                if !all.is_empty() {
                    let victim = &all[rng.below(all.len())];
                    let res = app.delete(&format!("/messages/{victim}")).await;
                    assert!(res.status().is_success(), "{}", res.status());
                }
            }
            // An inbox created, or one deleted (its lists go with it).
            5 => {
                inboxes.push(app.create_inbox(json!({})).await);
            }
            _ => {
                if inboxes.len() > 2 {
                    let gone = inboxes.remove(rng.below(inboxes.len()));
                    let res = app.delete(&format!("/inboxes/{}", id(&gone))).await;
                    assert!(res.status().is_success(), "{}", res.status());
                }
            }
        }
        app.advance(Duration::from_millis(3));
    }
    app.settle_sends().await;

    let sql = app.sql();
    let count =
        |query: &str, param: &str| -> i64 { sql.query_row(query, [param], |r| r.get(0)).unwrap() };
    let (_, listed) = json(app.get("/inboxes?limit=1").await).await;
    assert_eq!(
        listed["total"],
        count(
            "SELECT count(*) FROM inboxes WHERE account_id = ?1 AND status != 'deleted'",
            &app.account_id
        )
    );
    assert_eq!(listed["total"], inboxes.len());
    for inbox in &inboxes {
        let inbox_id = id(inbox);
        let (_, page) = json(
            app.get(&format!("/inboxes/{inbox_id}/messages?limit=1"))
                .await,
        )
        .await;
        assert_eq!(
            page["total"],
            count(
                "SELECT count(*) FROM messages WHERE inbox_id = ?1",
                &inbox_id
            ),
            "{inbox_id}"
        );
        for status in [
            "queued",
            "sending",
            "sent",
            "delivered",
            "received",
            "failed",
        ] {
            let (_, page) = json(
                app.get(&format!(
                    "/inboxes/{inbox_id}/messages?limit=1&status={status}"
                ))
                .await,
            )
            .await;
            let rows: i64 = sql
                .query_row(
                    "SELECT count(*) FROM messages WHERE inbox_id = ?1 AND status = ?2",
                    [&inbox_id, status],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(page["total"], rows, "{inbox_id} {status}");
        }
        let (_, threads) = json(
            app.get(&format!("/inboxes/{inbox_id}/threads?limit=100"))
                .await,
        )
        .await;
        assert_eq!(
            threads["total"],
            count(
                "SELECT count(*) FROM threads WHERE inbox_id = ?1",
                &inbox_id
            )
        );
        for thread in threads["data"].as_array().unwrap() {
            let thread_id = id(thread);
            let rows = count(
                "SELECT count(*) FROM messages WHERE thread_id = ?1",
                &thread_id,
            );
            assert_eq!(thread["messageCount"], rows, "{thread_id}");
            let (_, messages) = json(
                app.get(&format!("/threads/{thread_id}/messages?limit=1"))
                    .await,
            )
            .await;
            assert_eq!(messages["total"], rows);
        }
    }
    // Every kept count equals its rows, deleted inboxes included.
    let wrong: i64 = sql
        .query_row(
            "SELECT count(*) FROM list_counts c WHERE c.n != CASE c.list
               WHEN 'messages' THEN (SELECT count(*) FROM messages m
                                     WHERE m.inbox_id = c.owner AND m.status = c.part)
               WHEN 'threads' THEN (SELECT count(*) FROM threads t WHERE t.inbox_id = c.owner)
               WHEN 'inboxes' THEN (SELECT count(*) FROM inboxes i
                                    WHERE i.account_id = c.owner AND i.status = c.part)
               WHEN 'deliveries' THEN (SELECT count(*) FROM webhook_deliveries d
                                       WHERE d.webhook_id = c.owner) END",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(wrong, 0, "kept counts that differ from their rows");
}
