//! Mail an agent can read cheaply, through the real interfaces: the new content of each
//! message (`extractedText`, `extractedHtml`), full-text search, labels and their events.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, json};
use crate::smtp_client::send_mail;

/// A message from outside, over SMTP, with the whole of `headers_and_body` after the
/// envelope's own headers.
async fn deliver(app: &TestApp, from: &str, to: &str, rest: &str) {
    let data = format!("From: {from}\r\nTo: {to}\r\n{rest}");
    let sender = from
        .rsplit_once('<')
        .map_or(from, |(_, a)| a.trim_end_matches('>'));
    let (code, text) = send_mail(app.smtp, sender, &[to], data.as_bytes()).await;
    assert_eq!(code, 250, "{text}");
}

/// A plain message.
async fn mail(app: &TestApp, from: &str, to: &str, subject: &str, body: &str) {
    deliver(
        app,
        from,
        to,
        &format!("Subject: {subject}\r\n\r\n{body}\r\n"),
    )
    .await;
}

async fn get(app: &TestApp, path: &str) -> Value {
    let (status, body) = json(app.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// The subjects of a list page, in order.
fn subjects(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_owned())
        .collect()
}

async fn search(app: &TestApp, query: &str) -> Vec<String> {
    subjects(&get(app, &format!("/messages/search?{query}")).await)
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// The logged events named `name`, oldest first, as their webhook payloads.
fn logged(app: &TestApp, name: &str) -> Vec<Value> {
    app.sql()
        .query(
            "SELECT body FROM events WHERE event = ?1 ORDER BY seq",
            [name],
        )
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(&r.get::<_, String>(0).unwrap()).unwrap())
        .collect()
}

const GMAIL_REPLY: &str = "Subject: Re: Quarterly numbers\r\n\
    MIME-Version: 1.0\r\n\
    Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n\
    --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
    Thanks, the figures look right. Ship it on Friday.\r\n\r\n\
    On Mon, 30 Nov 2026 at 09:12, Ada Lovelace <ada@example.com> wrote:\r\n\
    > Here are the quarterly numbers.\r\n> Revenue is up.\r\n\
    --b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n\
    <div dir=\"ltr\">Thanks, the figures look right. Ship it on Friday.</div><br>\
    <div class=\"gmail_quote\"><div class=\"gmail_attr\">On Mon, 30 Nov 2026 at 09:12, Ada \
    Lovelace &lt;ada@example.com&gt; wrote:<br></div><blockquote class=\"gmail_quote\">Here are \
    the quarterly numbers.<br>Revenue is up.</blockquote></div>\r\n\
    --b--\r\n";

#[tokio::test]
async fn received_mail_has_its_new_content_is_unread_and_is_announced_with_it() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "reader"})).await;
    let to = inbox["address"].as_str().unwrap();
    deliver(&app, "Bob <bob@example.org>", to, GMAIL_REPLY).await;

    let list = get(&app, &format!("/inboxes/{}/messages", id(&inbox))).await;
    let message = &list["data"][0];
    let text = message["extractedText"].as_str().unwrap();
    assert_eq!(text, "Thanks, the figures look right. Ship it on Friday.");
    assert!(
        message["bodyText"]
            .as_str()
            .unwrap()
            .contains("Revenue is up")
    );
    let html = message["extractedHtml"].as_str().unwrap();
    assert!(html.contains("Ship it on Friday"), "{html}");
    assert!(!html.contains("Revenue is up"), "{html}");
    assert!(!html.contains("gmail_quote"), "{html}");
    assert_eq!(message["labels"], json!(["unread"]));

    // The same on the message itself, the inbox and thread counts, and the event.
    let read = get(&app, &format!("/messages/{}", id(message))).await;
    assert_eq!(read["extractedText"], message["extractedText"]);
    let inbox = get(&app, &format!("/inboxes/{}", id(&inbox))).await;
    assert_eq!(inbox["unreadCount"], 1);
    let thread = get(
        &app,
        &format!("/threads/{}", message["threadId"].as_str().unwrap()),
    )
    .await;
    assert_eq!(thread["labels"], json!(["unread"]));
    assert_eq!(thread["unreadCount"], 1);
    let received = logged(&app, "message.received");
    assert_eq!(received[0]["data"]["extractedText"], text);
    assert_eq!(received[0]["data"]["extractedHtml"], html);

    // A message without a body has no new content either.
    mail(&app, "bob@example.org", to, "Empty", "").await;
    let empty = &get(&app, "/messages/search?q=subject:empty").await["data"][0];
    assert_eq!(empty["extractedText"], Value::Null, "{empty}");
    assert_eq!(empty["extractedHtml"], Value::Null);
}

#[tokio::test]
async fn search_finds_by_subject_address_body_phrase_and_prefix_as_soon_as_stored() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "finder"})).await;
    let to = inbox["address"].as_str().unwrap();
    mail(
        &app,
        "Grace Hopper <grace@navy.example>",
        to,
        "Compiler notes",
        "The bug was a moth in relay seventy.",
    )
    .await;
    mail(
        &app,
        "ada@example.com",
        to,
        "Analytical engine",
        "Notes on the engine by Ada; no bugs.",
    )
    .await;
    mail(
        &app,
        "carol@example.net",
        to,
        "Lunch",
        "Pizza on Friday? Café at noon.",
    )
    .await;

    assert_eq!(search(&app, "q=compiler").await, ["Compiler notes"]);
    // Nothing to take out: the new content is the whole body.
    let whole = &get(&app, "/messages/search?q=compiler").await["data"][0];
    assert_eq!(
        whole["extractedText"],
        "The bug was a moth in relay seventy."
    );
    assert_eq!(
        whole["bodyText"].as_str().unwrap().trim_end(),
        whole["extractedText"]
    );
    assert_eq!(search(&app, "q=moth").await, ["Compiler notes"]);
    assert_eq!(
        search(&app, "q=grace%40navy.example").await,
        ["Compiler notes"]
    );
    assert_eq!(search(&app, "q=Hopper").await, ["Compiler notes"]);
    assert_eq!(
        search(&app, "q=address:example.com").await,
        ["Analytical engine"]
    );
    assert_eq!(
        search(&app, "q=%22relay%20seventy%22").await,
        ["Compiler notes"]
    );
    assert!(search(&app, "q=%22seventy%20relay%22").await.is_empty());
    assert_eq!(search(&app, "q=anal*").await, ["Analytical engine"]);
    // Newest first; accents and case do not matter.
    assert_eq!(
        search(&app, "q=notes").await,
        ["Analytical engine", "Compiler notes"]
    );
    assert_eq!(search(&app, "q=CAFE").await, ["Lunch"]);
    assert_eq!(search(&app, "q=notes%20-moth").await, ["Analytical engine"]);
    assert_eq!(
        search(&app, "q=moth%20OR%20pizza").await,
        ["Lunch", "Compiler notes"]
    );
    assert_eq!(search(&app, "q=subject:notes").await, ["Compiler notes"]);

    // What this server sends is searchable at once too, with the same `q` on the lists.
    let (status, sent) = json(
        app.post(
            &format!("/inboxes/{}/messages", id(&inbox)),
            &json!({"to": ["dora@example.org"], "subject": "Zeppelin schedule", "bodyText": "Departure at dawn."}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    assert_eq!(sent["labels"], json!(["sent"]));
    assert_eq!(search(&app, "q=dawn").await, ["Zeppelin schedule"]);
    assert_eq!(search(&app, "q=dora").await, ["Zeppelin schedule"]);
    let page = get(&app, &format!("/inboxes/{}/messages?q=notes", id(&inbox))).await;
    assert_eq!(subjects(&page), ["Analytical engine", "Compiler notes"]);
    assert_eq!(page["total"], 2);
    let threads = get(&app, &format!("/inboxes/{}/threads?q=notes", id(&inbox))).await;
    assert_eq!(subjects(&threads), ["Analytical engine", "Compiler notes"]);
    assert_eq!(threads["total"], 2);
    let threads = get(
        &app,
        &format!("/inboxes/{}/threads?q=dawn&label=sent", id(&inbox)),
    )
    .await;
    assert_eq!(subjects(&threads), ["Zeppelin schedule"]);
    let threads = get(
        &app,
        &format!("/inboxes/{}/threads?q=dawn&label=unread", id(&inbox)),
    )
    .await;
    assert_eq!(threads["total"], 0);

    // Paging through results by cursor and by offset.
    let first = get(&app, "/messages/search?q=notes&limit=1").await;
    assert_eq!(subjects(&first), ["Analytical engine"]);
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = get(
        &app,
        &format!("/messages/search?q=notes&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(subjects(&second), ["Compiler notes"]);
    assert_eq!(second["nextCursor"], Value::Null);
    let by_offset = get(&app, "/messages/search?q=notes&limit=1&offset=1").await;
    assert_eq!(subjects(&by_offset), ["Compiler notes"]);

    // By rank: the message that says it most comes first.
    mail(
        &app,
        "eve@example.com",
        to,
        "Engine engine",
        "engine engine engine",
    )
    .await;
    let ranked = search(&app, "q=engine&order=rank").await;
    assert_eq!(ranked[0], "Engine engine");
    assert_eq!(ranked.len(), 2);
    // By rank, the cursor is a position in the ranking.
    let top = get(&app, "/messages/search?q=engine&order=rank&limit=1").await;
    assert_eq!(subjects(&top), ["Engine engine"]);
    let cursor = top["nextCursor"].as_str().unwrap();
    let next = get(
        &app,
        &format!("/messages/search?q=engine&order=rank&limit=1&cursor={cursor}"),
    )
    .await;
    assert_eq!(subjects(&next), ["Analytical engine"]);
    assert_eq!(next["nextCursor"], Value::Null);
}

#[tokio::test]
async fn search_respects_every_filter_and_stays_right_after_deletes() {
    let app = TestApp::spawn().await;
    let a = app.create_inbox(json!({"address": "filter-a"})).await;
    let b = app.create_inbox(json!({"address": "filter-b"})).await;
    let (to_a, to_b) = (
        a["address"].as_str().unwrap(),
        b["address"].as_str().unwrap(),
    );
    let start = app.now();
    mail(&app, "ann@one.example", to_a, "Report one", "report").await;
    app.advance(Duration::from_secs(3600));
    let middle = app.now();
    deliver(
        &app,
        "ben@two.example",
        to_a,
        "Subject: Report two\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"m\"\r\n\r\n\
         --m\r\nContent-Type: text/plain\r\n\r\nreport attached\r\n\
         --m\r\nContent-Type: text/csv\r\nContent-Disposition: attachment; filename=\"r.csv\"\r\n\r\n\
         a,b\r\n--m--\r\n",
    )
    .await;
    app.advance(Duration::from_secs(3600));
    mail(&app, "ann@one.example", to_b, "Report three", "report").await;
    let (status, _) = json(
        app.post(
            &format!("/inboxes/{}/messages", id(&a)),
            &json!({"to": ["zed@three.example"], "subject": "Report four", "bodyText": "report"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    app.settle_sends().await;

    let iso = |t: agentsend::domain::Timestamp| t.to_string();
    for (query, want) in [
        (
            "q=report",
            vec!["Report four", "Report three", "Report two", "Report one"],
        ),
        (
            &*format!("q=report&inboxId={}", id(&b)),
            vec!["Report three"],
        ),
        ("q=report&from=ANN", vec!["Report three", "Report one"]),
        ("q=report&from=two.example", vec!["Report two"]),
        ("q=report&to=zed", vec!["Report four"]),
        ("q=report&to=filter-b", vec!["Report three"]),
        (
            &*format!("q=report&after={}", iso(middle)),
            vec!["Report four", "Report three", "Report two"],
        ),
        (
            &*format!("q=report&before={}", iso(middle)),
            vec!["Report one"],
        ),
        (
            &*format!("q=report&after={}&before={}", iso(start), iso(middle)),
            vec!["Report one"],
        ),
        ("q=report&hasAttachment=true", vec!["Report two"]),
        (
            "q=report&hasAttachment=false",
            vec!["Report four", "Report three", "Report one"],
        ),
        ("q=report&direction=outbound", vec!["Report four"]),
        (
            "q=report&direction=inbound&status=received&from=ann",
            vec!["Report three", "Report one"],
        ),
        ("q=report&label=sent", vec!["Report four"]),
        ("q=report&label=unread&from=zed", vec![]),
        ("q=report&label=never-used", vec![]),
        ("q=nothing-like-it", vec![]),
    ] {
        assert_eq!(search(&app, query).await, want, "{query}");
    }
    let page = get(&app, "/messages/search?q=report&from=ann").await;
    assert_eq!(page["total"], 2);

    // Deleting a message takes it out of the index and the counts.
    let two = get(&app, "/messages/search?q=attached").await;
    let two_id = id(&two["data"][0]).to_owned();
    let res = app.delete(&format!("/messages/{two_id}")).await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(search(&app, "q=attached").await.is_empty());
    assert_eq!(get(&app, "/messages/search?q=report").await["total"], 3);
    let inbox = get(&app, &format!("/inboxes/{}", id(&a))).await;
    assert_eq!(inbox["unreadCount"], 1);
}

#[tokio::test]
async fn search_is_isolated_between_accounts() {
    let app = TestApp::spawn().await;
    let mine = app.create_inbox(json!({"address": "mine"})).await;
    let (_, other_key) = app.other_account().await;
    let (status, theirs) = json(
        app.request_as(&other_key, Method::POST, "/inboxes")
            .json(&json!({"address": "theirs"}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    mail(
        &app,
        "x@example.com",
        mine["address"].as_str().unwrap(),
        "Secret plan mine",
        "alpha",
    )
    .await;
    mail(
        &app,
        "x@example.com",
        theirs["address"].as_str().unwrap(),
        "Secret plan theirs",
        "alpha",
    )
    .await;
    assert_eq!(search(&app, "q=secret").await, ["Secret plan mine"]);
    let (_, page) = json(
        app.request_as(&other_key, Method::GET, "/messages/search?q=alpha")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(subjects(&page), ["Secret plan theirs"]);
    // Another account's inbox is not found, and its messages cannot be labelled.
    let res = app
        .get(&format!("/messages/search?q=alpha&inboxId={}", id(&theirs)))
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "INBOX_NOT_FOUND").await;
    let theirs_message = id(&page["data"][0]).to_owned();
    let res = app
        .patch(
            &format!("/messages/{theirs_message}"),
            &json!({"addLabels": ["read"]}),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "MESSAGE_NOT_FOUND").await;
}

#[tokio::test]
async fn bad_queries_and_filters_are_refused_with_where_the_mistake_is() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "strict"})).await;
    let long = "x".repeat(513);
    for (query, field, says) in [
        ("q=", "q", "empty"),
        ("q=%20%20", "q", "empty"),
        (&*format!("q={long}"), "q", "longer than 512"),
        ("q=%22open", "q", "position 1"),
        ("q=a%20)", "q", "position 3"),
        ("q=(a", "q", "position 3"),
        ("q=a%20OR", "q", "position 5"),
        ("q=-alone", "q", "position 1"),
        ("q=a*", "q", "two letters"),
        ("q=%40%40", "q", "no letters"),
        ("from=x", "q", "required"),
        ("q=a&label=Not%20valid", "label", "a-z"),
        ("q=a&after=yesterday", "after", "RFC 3339"),
        ("q=a&before=2026-13-01", "before", "RFC 3339"),
        ("q=a&hasAttachment=yes", "hasAttachment", "true or false"),
        ("q=a&direction=sideways", "direction", "inbound or outbound"),
        ("q=a&status=opened", "status", "one of"),
        ("q=a&order=best", "order", "newest or rank"),
        ("q=a&inboxId=nope", "inboxId", "inbox id"),
    ] {
        let body = assert_error(
            app.get(&format!("/messages/search?{query}")).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        )
        .await;
        let details = body["error"]["details"][field].to_string();
        assert!(details.contains(says), "{query}: {body}");
    }
    // The lists check the same filters.
    let res = app
        .get(&format!("/inboxes/{}/messages?q=(", id(&inbox)))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    let res = app
        .get(&format!("/inboxes/{}/threads?label=UPPER", id(&inbox)))
        .await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    // An unknown label is no mistake: it matches nothing.
    let page = get(
        &app,
        &format!("/inboxes/{}/messages?label=nobody-uses-this", id(&inbox)),
    )
    .await;
    assert_eq!(page["total"], 0);
}

#[tokio::test]
async fn labels_change_per_message_and_per_thread_with_events_counts_and_filters() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "labels"})).await;
    let to = inbox["address"].as_str().unwrap();
    mail(&app, "a@example.com", to, "First", "one").await;
    deliver(
        &app,
        "b@example.com",
        to,
        "Subject: Re: First\r\nIn-Reply-To: <none@x>\r\n\r\ntwo\r\n",
    )
    .await;
    mail(&app, "c@example.com", to, "Other", "three").await;
    let list = get(&app, &format!("/inboxes/{}/messages", id(&inbox))).await;
    let other = list["data"][0].clone();
    let first = list["data"][2].clone();
    assert_eq!(
        get(&app, &format!("/inboxes/{}", id(&inbox))).await["unreadCount"],
        3
    );

    // Read, with a custom label: `unread` goes, `read` comes, an event says so.
    let (status, changed) = json(
        app.patch(
            &format!("/messages/{}", id(&first)),
            &json!({"addLabels": ["read", "crm:lead.42"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["labels"], json!(["crm:lead.42", "read"]));
    let events = logged(&app, "message.updated");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["messageId"], id(&first));
    assert_eq!(
        events[0]["data"]["addedLabels"],
        json!(["crm:lead.42", "read"])
    );
    assert_eq!(events[0]["data"]["removedLabels"], json!(["unread"]));
    assert_eq!(
        get(&app, &format!("/inboxes/{}", id(&inbox))).await["unreadCount"],
        2
    );

    // Changing nothing fires nothing.
    let res = app
        .patch(
            &format!("/messages/{}", id(&first)),
            &json!({"addLabels": ["read"]}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(logged(&app, "message.updated").len(), 1);

    // Label filters on the lists, with exact totals.
    let page = get(
        &app,
        &format!("/inboxes/{}/messages?label=unread", id(&inbox)),
    )
    .await;
    assert_eq!(subjects(&page), ["Other", "Re: First"]);
    assert_eq!(page["total"], 2);
    let page = get(
        &app,
        &format!("/inboxes/{}/messages?label=crm:lead.42", id(&inbox)),
    )
    .await;
    assert_eq!(subjects(&page), ["First"]);
    let page = get(
        &app,
        &format!(
            "/inboxes/{}/messages?label=unread&status=received&from=c%40",
            id(&inbox)
        ),
    )
    .await;
    assert_eq!(subjects(&page), ["Other"]);
    let threads = get(
        &app,
        &format!("/inboxes/{}/threads?label=crm:lead.42", id(&inbox)),
    )
    .await;
    assert_eq!(threads["total"], 1);
    assert_eq!(threads["data"][0]["subject"], "First");

    // A whole thread at once: every message in it, one event each that changed.
    let thread_id = other["threadId"].as_str().unwrap();
    let (status, thread) = json(
        app.patch(
            &format!("/threads/{thread_id}"),
            &json!({"addLabels": ["done"], "removeLabels": ["unread"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{thread}");
    assert_eq!(thread["labels"], json!(["done"]));
    assert_eq!(thread["unreadCount"], 0);
    assert_eq!(logged(&app, "message.updated").len(), 2);
    let in_thread = get(&app, &format!("/threads/{thread_id}/messages?label=done")).await;
    assert_eq!(subjects(&in_thread), ["Other"]);
    assert_eq!(in_thread["total"], 1);
    let threads = get(
        &app,
        &format!("/inboxes/{}/threads?label=unread", id(&inbox)),
    )
    .await;
    assert_eq!(threads["total"], threads["data"].as_array().unwrap().len());
    assert!(!subjects(&threads).contains(&"Other".to_owned()));

    // Marking unread again takes `read` away.
    let (_, again) = json(
        app.patch(
            &format!("/messages/{}", id(&first)),
            &json!({"addLabels": ["unread"]}),
        )
        .await,
    )
    .await;
    assert_eq!(again["labels"], json!(["crm:lead.42", "unread"]));
    // The event reaches the stream too: it is in the log the stream reads.
    let seq: i64 = app
        .sql()
        .query_row(
            "SELECT count(*) FROM events WHERE event = 'message.updated' AND seq IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seq, 3);
}

#[tokio::test]
async fn bad_label_changes_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "picky"})).await;
    mail(
        &app,
        "a@example.com",
        inbox["address"].as_str().unwrap(),
        "Hi",
        "hello",
    )
    .await;
    let list = get(&app, &format!("/inboxes/{}/messages", id(&inbox))).await;
    let message = id(&list["data"][0]).to_owned();
    let path = format!("/messages/{message}");
    let many: Vec<String> = (0..50).map(|i| format!("l{i}")).collect();
    for (body, field) in [
        (json!({"addLabels": ["Has Caps"]}), "addLabels"),
        (json!({"addLabels": [""]}), "addLabels"),
        (json!({"addLabels": ["x".repeat(65)]}), "addLabels"),
        (json!({"addLabels": ["sent"]}), "addLabels"),
        (json!({"removeLabels": ["bounced"]}), "removeLabels"),
        (
            json!({"addLabels": ["a"], "removeLabels": ["a"]}),
            "removeLabels",
        ),
        (json!({"addLabels": ["read", "unread"]}), "addLabels"),
        // 50 more on top of `unread` is one too many.
        (json!({"addLabels": many}), "addLabels"),
    ] {
        let res = app.patch(&path, &body).await;
        let err = assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert!(err["error"]["details"][field].is_array(), "{body}: {err}");
    }
    let res = app.patch(&path, &json!({"addLabels": 3})).await;
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    let res = app
        .patch(
            &format!("/threads/{}", crate::helpers::random_uuid()),
            &json!({"addLabels": ["a"]}),
        )
        .await;
    assert_error(res, StatusCode::NOT_FOUND, "THREAD_NOT_FOUND").await;
    assert_eq!(get(&app, &path).await["labels"], json!(["unread"]));
    // An empty change is no mistake: it changes nothing.
    let (status, same) = json(app.patch(&path, &json!({})).await).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same["labels"], json!(["unread"]));
    assert!(logged(&app, "message.updated").is_empty());
}

#[tokio::test]
async fn a_database_from_before_labels_and_search_gets_both_when_it_opens() {
    if crate::backend::sqlite_only() {
        return;
    }
    let mut app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "older"})).await;
    mail(
        &app,
        "a@example.com",
        inbox["address"].as_str().unwrap(),
        "Old times",
        "Before the index.\r\n\r\n-- \r\nA. Sender",
    )
    .await;
    // Take the database back to version 10: no labels, no index, no new content (and no
    // sender lists, key scopes, drafts or account retention, which came after).
    {
        let sql = app.sql();
        sql.execute_batch(
            "DROP TRIGGER messages_reading_delete;
             DROP TRIGGER messages_label_insert;
             DROP TRIGGER messages_label_bounced;
             DROP TABLE message_search;
             DROP TABLE message_labels;
             DELETE FROM list_counts WHERE list IN ('labelled', 'labelled_threads', 'thread_labels');
             ALTER TABLE messages DROP COLUMN extracted_text;
             ALTER TABLE messages DROP COLUMN extracted_html;
             DROP TABLE sender_list_entries;
             ALTER TABLE api_keys DROP COLUMN scopes;
             DROP TABLE drafts;
             ALTER TABLE accounts DROP COLUMN message_retention_days;
             PRAGMA user_version = 10;",
        )
        .unwrap();
    }
    app = app.restart().await;
    let found = get(&app, "/messages/search?q=before%20index").await;
    assert_eq!(subjects(&found), ["Old times"]);
    assert_eq!(found["data"][0]["labels"], json!(["unread"]));
    assert_eq!(found["data"][0]["extractedText"], "Before the index.");
    assert_eq!(
        get(&app, &format!("/inboxes/{}", id(&inbox))).await["unreadCount"],
        1
    );
}
