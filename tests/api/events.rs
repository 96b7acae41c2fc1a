//! Live events over real sockets: `GET /events` (SSE), `GET /ws` (WebSocket) and
//! `GET /inboxes/{id}/messages/wait`, all fed by the event log.

use std::pin::Pin;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, Stream, StreamExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{TestApp, assert_error, json, random_uuid};
use crate::smtp_client::send_mail;

/// One Server-Sent Events record.
#[derive(Debug, Clone)]
struct Record {
    id: Option<String>,
    event: String,
    data: Value,
}

/// A client of `GET /events` reading the real socket.
struct Sse {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<actix_web::web::Bytes>> + Send>>,
    buffer: String,
}

impl Sse {
    /// Reads the body of a stream's response.
    fn over(res: reqwest::Response) -> Sse {
        Sse {
            body: Box::pin(res.bytes_stream()),
            buffer: String::new(),
        }
    }

    async fn open(app: &TestApp, query: &str, last_event_id: Option<&str>) -> Sse {
        let mut req = app.request(Method::GET, &format!("/events{query}"));
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        let mut sse = Sse::over(res);
        // The opening comment arrives at once: the stream is subscribed from here on.
        let opening = sse.next_block().await.unwrap();
        assert!(opening.starts_with(": AgentSend event stream"), "{opening}");
        sse
    }

    /// The next blank-line-terminated block, `None` at the end of the stream.
    async fn next_block(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block = self.buffer[..end].to_owned();
                self.buffer.drain(..end + 2);
                return Some(block);
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.body.next())
                .await
                .expect("the stream went quiet")?;
            self.buffer
                .push_str(std::str::from_utf8(&chunk.ok()?).unwrap());
        }
    }

    /// The next record with an event (comments and `retry` skipped); `None` at the end.
    async fn next(&mut self) -> Option<Record> {
        loop {
            let block = self.next_block().await?;
            let (mut id, mut event, mut data) = (None, None, None);
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id: ") {
                    id = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str(v).unwrap());
                }
            }
            if let (Some(event), Some(data)) = (event, data) {
                return Some(Record { id, event, data });
            }
        }
    }

    async fn expect(&mut self) -> Record {
        self.next().await.expect("the stream ended")
    }
}

/// A message from outside, over SMTP.
async fn mail(app: &TestApp, to: &str, subject: &str) {
    let data = format!(
        "From: Sender <sender@example.com>\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nHello.\r\n"
    );
    let (code, text) = send_mail(app.smtp, "sender@example.com", &[to], data.as_bytes()).await;
    assert_eq!(code, 250, "{text}");
}

/// An inbox of the account whose key is `key`.
async fn inbox_of(app: &TestApp, key: &str, local: &str) -> Value {
    let (status, inbox) = json(
        app.request_as(key, Method::POST, "/inboxes")
            .json(&json!({ "address": local }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{inbox}");
    inbox
}

async fn inbox(app: &TestApp, local: &str) -> (String, String) {
    let inbox = app.create_inbox(json!({ "address": local })).await;
    (
        inbox["id"].as_str().unwrap().to_owned(),
        inbox["address"].as_str().unwrap().to_owned(),
    )
}

fn ws_url(app: &TestApp, query: &str) -> String {
    format!("{}/ws{query}", app.base.replacen("http://", "ws://", 1))
}

type WsClient =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_connect(app: &TestApp, query: &str) -> WsClient {
    ws_connect_with(app, query, "authorization", &format!("Bearer {}", app.key)).await
}

/// A WebSocket to `/ws{query}` with the key in `header`.
async fn ws_connect_with(
    app: &TestApp,
    query: &str,
    header: &'static str,
    value: &str,
) -> WsClient {
    let mut req = ws_url(app, query).into_client_request().unwrap();
    req.headers_mut().insert(header, value.parse().unwrap());
    tokio_tungstenite::connect_async(req).await.unwrap().0
}

/// The next text frame as JSON (pings answered by the library, skipped here).
async fn ws_next(ws: &mut WsClient) -> Value {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the socket went quiet")
            .expect("the socket closed")
            .unwrap();
        match frame {
            Ws::Text(t) => return serde_json::from_str(&t).unwrap(),
            Ws::Ping(_) | Ws::Pong(_) => {}
            other => panic!("unexpected frame {other:?}"),
        }
    }
}

/// The close frame that ends the socket.
async fn ws_closed(ws: &mut WsClient) -> (CloseCode, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the socket went quiet")
        {
            Some(Ok(Ws::Close(Some(frame)))) => return (frame.code, frame.reason.to_string()),
            Some(Ok(Ws::Close(None))) | None => panic!("closed without a reason"),
            Some(Ok(_)) => {}
            Some(Err(e)) => panic!("socket error before a close frame: {e}"),
        }
    }
}

async fn ws_send(ws: &mut WsClient, frame: Value) {
    ws.send(Ws::text(frame.to_string())).await.unwrap();
}

#[tokio::test]
async fn sse_streams_mail_from_smtp_and_local_delivery_with_filters() {
    let app = TestApp::spawn().await;
    let (alice, alice_addr) = inbox(&app, "alice").await;
    let (bob, bob_addr) = inbox(&app, "bob").await;
    let mut everything = Sse::open(&app, "", None).await;
    let mut received = Sse::open(&app, "?types=message.received", None).await;
    // By address, as by id; a comma list works as repeats do.
    let mut bobs = Sse::open(
        &app,
        &format!("?inboxId={bob_addr}&types=message.received,message.sent"),
        None,
    )
    .await;

    mail(&app, &alice_addr, "over SMTP").await;
    let first = received.expect().await;
    assert_eq!(first.event, "message.received");
    assert_eq!(first.data["event"], "message.received");
    assert_eq!(first.data["data"]["inboxId"], alice);
    assert_eq!(first.data["data"]["subject"], "over SMTP");
    assert!(first.data["timestamp"].is_i64());
    let id: u64 = first.id.clone().unwrap().parse().unwrap();

    // Local delivery: alice sends to bob on this server.
    let (status, sent) = json(
        app.post(
            &format!("/inboxes/{alice}/messages"),
            &json!({"to": [bob_addr], "subject": "locally", "bodyText": "hi"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{sent}");
    let second = received.expect().await;
    assert_eq!(second.data["data"]["inboxId"], bob);
    assert_eq!(second.data["data"]["subject"], "locally");
    assert!(second.id.unwrap().parse::<u64>().unwrap() > id);

    // Bob's stream saw only bob's received message, not alice's sent one or her mail.
    let bobs_first = bobs.expect().await;
    assert_eq!(
        (
            bobs_first.event.as_str(),
            &bobs_first.data["data"]["inboxId"]
        ),
        ("message.received", &json!(bob))
    );
    // The unfiltered stream has every event, in order: alice's mail, then the send.
    let mut names = Vec::new();
    let mut last = 0;
    while names.len() < 4 {
        let r = everything.expect().await;
        let n: u64 = r.id.unwrap().parse().unwrap();
        assert!(n > last, "ids increase");
        last = n;
        names.push(r.event);
    }
    assert_eq!(names[0], "message.received");
    for name in ["message.sent", "message.delivered", "message.received"] {
        assert!(names.contains(&name.to_owned()), "{names:?}");
    }
    // Nothing more for bob's stream until the next message of bob: the next record is it.
    mail(&app, &alice_addr, "not for bob").await;
    mail(&app, &bob_addr, "for bob").await;
    assert_eq!(bobs.expect().await.data["data"]["subject"], "for bob");
}

#[tokio::test]
async fn sse_refuses_bad_filters_before_the_stream_starts() {
    let app = TestApp::spawn().await;
    let (_, other_key) = app.other_account().await;
    let theirs = inbox_of(&app, &other_key, "theirs").await;
    let theirs = theirs["id"].as_str().unwrap().to_owned();
    for (query, field) in [
        ("?types=message.opened", "types"),
        ("?types=", "types"),
        ("?inboxId=not-an-inbox", "inboxId"),
        ("?after=-3", "after"),
    ] {
        let body = assert_error(
            app.get(&format!("/events{query}")).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(
            body["error"]["details"][field].is_array(),
            "{query}: {body}"
        );
    }
    let res = app
        .request(Method::GET, "/events")
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_error(res, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert_error(
        app.get(&format!("/events?inboxId={theirs}")).await,
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;
    assert_error(
        app.get(&format!("/events?inboxId={}", random_uuid())).await,
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;
    assert_error(
        app.anonymous(Method::GET, "/events").send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
    // The key may come in the query (EventSource cannot set headers), on the stream paths only.
    let res = app
        .anonymous(Method::GET, &format!("/events?api_key={}", app.key))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drop(res);
    assert_error(
        app.anonymous(Method::GET, &format!("/inboxes?api_key={}", app.key))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn a_stream_resumes_across_a_restart_with_nothing_lost_or_repeated() {
    let app = TestApp::spawn().await;
    let (_, addr) = inbox(&app, "resume").await;
    let mut sse = Sse::open(&app, "?types=message.received", None).await;
    for n in 1..=3 {
        mail(&app, &addr, &format!("m{n}")).await;
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        let r = sse.expect().await;
        seen.push((r.id.unwrap(), r.data["data"]["subject"].clone()));
    }
    drop(sse);
    // The client got m1 and m2 only, say; the server restarts; m4 and m5 arrive meanwhile.
    let resume_from = seen[1].0.clone();
    let app = app.restart().await;
    for n in 4..=5 {
        mail(&app, &addr, &format!("m{n}")).await;
    }
    let mut sse = Sse::open(&app, "?types=message.received", Some(&resume_from)).await;
    let mut subjects = Vec::new();
    for _ in 0..3 {
        subjects.push(sse.expect().await.data["data"]["subject"].clone());
    }
    assert_eq!(subjects, [json!("m3"), json!("m4"), json!("m5")]);
    // Then live, without a repeat across the switch.
    mail(&app, &addr, "m6").await;
    assert_eq!(sse.expect().await.data["data"]["subject"], "m6");
    // `?after=` does the same as the header.
    let mut again = Sse::open(
        &app,
        &format!("?after={resume_from}&types=message.received"),
        None,
    )
    .await;
    assert_eq!(again.expect().await.data["data"]["subject"], "m3");
}

#[tokio::test]
async fn an_id_past_retention_or_unknown_gets_a_reset_then_the_retained_events() {
    let app = TestApp::spawn().await;
    let (_, addr) = inbox(&app, "reset").await;
    mail(&app, &addr, "old").await;
    // An id this server never gave out (a database started afresh, say).
    let mut sse = Sse::open(&app, "", Some("999999")).await;
    let reset = sse.expect().await;
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.data["reason"], "unknown_id");
    assert_eq!(reset.id.as_deref(), Some("1"));
    drop(sse);

    // Past retention, the janitor removes the old event; new mail arrives.
    app.advance(Duration::from_secs(8 * 86_400));
    let report = agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(report.events, 1);
    mail(&app, &addr, "new").await;
    let mut sse = Sse::open(&app, "", Some("0")).await;
    let reset = sse.expect().await;
    assert_eq!(reset.event, "reset");
    assert_eq!(reset.data["reason"], "expired");
    assert_eq!(reset.data["resumeFrom"], "1");
    let next = sse.expect().await;
    assert_eq!(next.data["data"]["subject"], "new");
    assert_eq!(next.id.as_deref(), Some("2"), "numbers are never reused");
}

#[tokio::test]
async fn streams_are_isolated_between_accounts() {
    let app = TestApp::spawn().await;
    let (mine, mine_addr) = inbox(&app, "mine").await;
    let (_, other_key) = app.other_account().await;
    let theirs = inbox_of(&app, &other_key, "theirs").await;
    let theirs_addr = theirs["address"].as_str().unwrap().to_owned();

    let res = app
        .request_as(&other_key, Method::GET, "/events")
        .send()
        .await
        .unwrap();
    let mut other_sse = Sse::over(res);
    other_sse.next_block().await.unwrap();
    let mut other_ws = ws_connect_with(&app, "", "x-api-key", &other_key).await;
    ws_send(&mut other_ws, json!({"type": "subscribe"})).await;
    assert_eq!(ws_next(&mut other_ws).await["type"], "subscribed");
    // Subscribing to my inbox from the other account: not found.
    ws_send(
        &mut other_ws,
        json!({"type": "subscribe", "inbox_ids": [mine]}),
    )
    .await;
    let error = ws_next(&mut other_ws).await;
    assert_eq!(
        (error["type"].as_str(), error["code"].as_str()),
        (Some("error"), Some("INBOX_NOT_FOUND"))
    );
    // Waiting on my inbox with the other key: not found either.
    assert_error(
        app.request_as(
            &other_key,
            Method::GET,
            &format!("/inboxes/{mine}/messages/wait?timeout=1"),
        )
        .send()
        .await
        .unwrap(),
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;

    mail(&app, &mine_addr, "mine").await;
    mail(&app, &theirs_addr, "theirs").await;
    // The other account's first event is its own mail: mine never reached it.
    let first = other_sse.next().await.unwrap();
    assert_eq!(first.data["data"]["subject"], "theirs");
    let first = ws_next(&mut other_ws).await;
    assert_eq!(first["data"]["data"]["subject"], "theirs");
}

#[tokio::test]
async fn websocket_subscriptions_filters_and_frame_errors() {
    let app = TestApp::spawn().await;
    let (alice, alice_addr) = inbox(&app, "alice").await;
    let (_, bob_addr) = inbox(&app, "bob").await;
    // The key in the query string, as a browser sends it.
    let (mut ws, _) =
        tokio_tungstenite::connect_async(ws_url(&app, &format!("?api_key={}", app.key)))
            .await
            .unwrap();
    ws_send(
        &mut ws,
        json!({"type": "subscribe", "event_types": ["message.received"], "inbox_ids": [alice_addr]}),
    )
    .await;
    let subscribed = ws_next(&mut ws).await;
    assert_eq!(subscribed["type"], "subscribed");
    assert_eq!(subscribed["event_types"], json!(["message.received"]));
    assert_eq!(subscribed["inbox_ids"], json!([alice]));

    // Malformed frames get an error frame and the connection stays.
    for bad in [
        "not json".to_owned(),
        json!({"type": "dance"}).to_string(),
        json!({"type": "subscribe", "event_types": ["message.opened"]}).to_string(),
        json!({"type": "subscribe", "inbox_ids": ["nope"]}).to_string(),
        json!(["subscribe"]).to_string(),
    ] {
        ws.send(Ws::text(bad.clone())).await.unwrap();
        let error = ws_next(&mut ws).await;
        assert_eq!(error["type"], "error", "{bad}");
        assert_eq!(error["code"], "VALIDATION_ERROR", "{bad}");
        assert!(error["message"].is_string());
    }

    mail(&app, &bob_addr, "for bob").await;
    mail(&app, &alice_addr, "for alice").await;
    let event = ws_next(&mut ws).await;
    assert_eq!(event["type"], "event");
    assert_eq!(event["event_type"], "message.received");
    assert!(event["event_id"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(event["data"]["data"]["subject"], "for alice");
    assert_eq!(event["data"]["event"], "message.received");

    // Unsubscribing removes exactly that; a ping is answered.
    ws_send(
        &mut ws,
        json!({"type": "unsubscribe", "event_types": ["message.received"], "inbox_ids": [alice]}),
    )
    .await;
    assert_eq!(ws_next(&mut ws).await["type"], "unsubscribed");
    ws.send(Ws::Ping(b"hello".to_vec().into())).await.unwrap();
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Ws::Pong(p) = frame {
            assert_eq!(&p[..], b"hello");
            break;
        }
        assert!(!frame.is_text(), "no events after unsubscribing: {frame:?}");
    }
    // Subscribe to everything: the next frame is the next event, of any inbox.
    ws_send(&mut ws, json!({"type": "subscribe"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "subscribed");
    mail(&app, &bob_addr, "anything").await;
    assert_eq!(
        ws_next(&mut ws).await["data"]["data"]["subject"],
        "anything"
    );

    // A binary frame closes the connection with 1003.
    ws.send(Ws::binary(vec![1, 2, 3])).await.unwrap();
    let (code, _) = ws_closed(&mut ws).await;
    assert_eq!(code, CloseCode::Unsupported);
}

#[tokio::test]
async fn websocket_refusals_happen_before_the_upgrade() {
    let app = TestApp::spawn().await;
    let err = tokio_tungstenite::connect_async(ws_url(&app, ""))
        .await
        .unwrap_err();
    match err {
        tokio_tungstenite::tungstenite::Error::Http(res) => {
            assert_eq!(res.status(), 401);
        }
        other => panic!("expected a 401, got {other:?}"),
    }
    // Not an upgrade at all: an error in the envelope.
    assert_error(
        app.get("/ws").await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_ERROR",
    )
    .await;
}

#[tokio::test]
async fn revoking_the_key_closes_its_streams_within_seconds() {
    let app = TestApp::spawn().await;
    let (status, key) = json(
        app.post("/account/api-keys", &json!({"name": "streams"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let (key_id, secret) = (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    );
    let mut ws = ws_connect_with(&app, "", "authorization", &format!("Bearer {secret}")).await;
    ws_send(&mut ws, json!({"type": "subscribe"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "subscribed");
    let res = app
        .request_as(&secret, Method::GET, "/events")
        .send()
        .await
        .unwrap();
    let mut sse = Sse::over(res);
    sse.next_block().await.unwrap();

    let revoked_at = Instant::now();
    let res = app.delete(&format!("/account/api-keys/{key_id}")).await;
    assert!(res.status().is_success());
    let (code, reason) = ws_closed(&mut ws).await;
    assert_eq!(code, CloseCode::Policy);
    assert!(reason.contains("revoked"), "{reason}");
    let close = sse.expect().await;
    assert_eq!(
        (close.event.as_str(), &close.data["reason"]),
        ("close", &json!("key_revoked"))
    );
    assert!(sse.next().await.is_none(), "the stream ends");
    assert!(revoked_at.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn wait_answers_as_soon_as_the_message_is_stored_or_204_at_the_timeout() {
    let app = TestApp::spawn().await;
    let (id, addr) = inbox(&app, "waiter").await;
    // Nothing comes: 204 after the timeout.
    let started = Instant::now();
    let res = app
        .get(&format!("/inboxes/{id}/messages/wait?timeout=1"))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert!(started.elapsed() >= Duration::from_secs(1));

    // A message that does not match; the waiter starts after it (so no race with its start).
    let mut sse = Sse::open(&app, "?types=message.received", None).await;
    mail(&app, &addr, "not this one").await;
    let position = sse.expect().await.id.unwrap();
    let url = format!(
        "{}/inboxes/{id}/messages/wait?timeout=30&subject=invoice&after={position}",
        app.base
    );
    let key = app.key.clone();
    let waiter = tokio::spawn(async move {
        let res = reqwest::Client::new()
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        (
            res.status(),
            res.json::<Value>().await.unwrap(),
            Instant::now(),
        )
    });
    // Mail that does not match, then mail that does; the event stream says when it is stored.
    mail(&app, &addr, "still not this one").await;
    mail(&app, &addr, "Your invoice").await;
    let mut stored = None;
    while stored.is_none() {
        let r = sse.expect().await;
        if r.data["data"]["subject"] == "Your invoice" {
            stored = Some(Instant::now());
        }
    }
    let (status, message, answered) = waiter.await.unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(message["subject"], "Your invoice");
    assert_eq!(message["inboxId"], id);
    assert_eq!(message["direction"], "inbound");
    let stored = stored.unwrap();
    let gap = answered.saturating_duration_since(stored);
    assert!(
        gap < Duration::from_millis(100),
        "answered {gap:?} after the event"
    );
}

#[tokio::test]
async fn send_then_wait_for_the_reply_even_when_it_came_first() {
    let app = TestApp::spawn().await;
    let (agent, _) = inbox(&app, "agent").await;
    let (human, human_addr) = inbox(&app, "human").await;
    let (_, sent) = json(
        app.post(
            &format!("/inboxes/{agent}/messages"),
            &json!({"to": [human_addr], "subject": "question", "bodyText": "?"}),
        )
        .await,
    )
    .await;
    let sent_id = sent["id"].as_str().unwrap().to_owned();
    // The question reaches the human, who replies at once (local delivery both ways).
    let question = crate::helpers::eventually("the question to arrive", || async {
        let (_, page) = json(app.get(&format!("/inboxes/{human}/messages")).await).await;
        page["data"].as_array().unwrap().first().cloned()
    })
    .await;
    let (status, reply) = json(
        app.post(
            &format!("/inboxes/{human}/messages"),
            &json!({"to": [sent["fromAddress"]], "subject": "Re: question", "bodyText": "!",
                    "threadId": question["threadId"]}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    // Only now does the agent wait, after its message: the reply that already came counts.
    let (status, got) = json(
        app.get(&format!(
            "/inboxes/{agent}/messages/wait?after={sent_id}&timeout=10&from={human_addr}"
        ))
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{got}");
    assert_eq!(got["subject"], "Re: question");
    assert_eq!(
        got["threadId"], sent["threadId"],
        "the reply joins the question's thread"
    );
    // After the reply itself there is nothing more.
    let res = app
        .get(&format!(
            "/inboxes/{agent}/messages/wait?after={}&timeout=1",
            got["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn wait_refuses_bad_parameters() {
    let app = TestApp::spawn().await;
    let (id, _) = inbox(&app, "strict").await;
    for (query, field) in [
        ("timeout=0", "timeout"),
        ("timeout=61", "timeout"),
        ("timeout=soon", "timeout"),
        ("after=yesterday", "after"),
        ("threadId=nope", "threadId"),
    ] {
        let body = assert_error(
            app.get(&format!("/inboxes/{id}/messages/wait?{query}"))
                .await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        )
        .await;
        assert!(
            body["error"]["details"][field].is_array(),
            "{query}: {body}"
        );
    }
    assert_error(
        app.get(&format!(
            "/inboxes/{}/messages/wait?timeout=1",
            random_uuid()
        ))
        .await,
        StatusCode::NOT_FOUND,
        "INBOX_NOT_FOUND",
    )
    .await;
    assert_error(
        app.get(&format!(
            "/inboxes/{id}/messages/wait?after={}",
            random_uuid()
        ))
        .await,
        StatusCode::NOT_FOUND,
        "MESSAGE_NOT_FOUND",
    )
    .await;
    assert_error(
        app.anonymous(Method::GET, &format!("/inboxes/{id}/messages/wait"))
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
    )
    .await;
}

#[tokio::test]
async fn a_slow_consumer_is_cut_off_and_resumes_without_losing_an_event() {
    let app = TestApp::spawn_with(|c| c.events.max_backlog = 16).await;
    let (_, addr) = inbox(&app, "firehose").await;
    // A client with a small receive buffer that stops reading.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let server: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    socket.connect(&server.into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut stream = tokio::net::TcpStream::from_std(socket.into()).unwrap();
    stream
        .write_all(
            format!(
                "GET /events?types=message.received HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
                app.key
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut head = vec![0; 1024];
    let n = stream.read(&mut head).await.unwrap();
    assert!(String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"));

    // Mail with large subjects floods it while it does not read.
    let subject = "x".repeat(8000);
    let total = 400;
    for n in 0..total {
        let folded = format!(
            "{n:04} {}",
            subject
                .as_bytes()
                .chunks(300)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("\r\n ")
        );
        mail(&app, &addr, &folded).await;
    }
    // Reading again: events, then the close record with the id to resume from.
    let mut text = String::from_utf8_lossy(&head[..n]).into_owned();
    let mut buf = vec![0; 64 * 1024];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("the server neither sent nor closed")
            .unwrap();
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
        if text.contains("event: close") && text.ends_with("\n\n") {
            break;
        }
    }
    assert!(
        text.contains("slow_consumer"),
        "the stream says why it ended"
    );
    let ids: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("id: "))
        .map(|id| id.parse().unwrap())
        .collect();
    assert!(
        ids.len() < total,
        "cut off before the end ({} events)",
        ids.len()
    );
    let close = text
        .split("event: close\ndata: ")
        .nth(1)
        .and_then(|rest| rest.lines().next())
        .unwrap();
    let close: Value = serde_json::from_str(close).unwrap();
    let last = close["lastEventId"].as_str().unwrap().to_owned();
    assert_eq!(last.parse::<u64>().unwrap(), *ids.last().unwrap());

    // Resuming from the last id it got: every remaining event, once.
    let mut sse = Sse::open(&app, "?types=message.received", Some(&last)).await;
    let mut subjects: Vec<String> = text
        .split("data: ")
        .skip(1)
        .filter_map(|d| serde_json::from_str::<Value>(d.lines().next().unwrap()).ok())
        .filter_map(|v| v["data"]["subject"].as_str().map(|s| s[..4].to_owned()))
        .collect();
    while subjects.len() < total {
        let r = sse.expect().await;
        subjects.push(r.data["data"]["subject"].as_str().unwrap()[..4].to_owned());
    }
    let expected: Vec<String> = (0..total).map(|n| format!("{n:04}")).collect();
    assert_eq!(subjects, expected);
}

#[tokio::test]
async fn shutdown_ends_open_streams_cleanly() {
    let mut app = TestApp::spawn_with(|c| c.http.shutdown_timeout_secs = 30).await;
    let mut sse = Sse::open(&app, "", None).await;
    let mut ws = ws_connect(&app, "").await;
    ws_send(&mut ws, json!({"type": "subscribe"})).await;
    assert_eq!(ws_next(&mut ws).await["type"], "subscribed");
    let started = Instant::now();
    app.shutdown().await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "open streams did not hold the shutdown up"
    );
    let close = sse.expect().await;
    assert_eq!(close.data["reason"], "shutdown");
    assert!(sse.next().await.is_none());
    let (code, _) = ws_closed(&mut ws).await;
    assert_eq!(code, CloseCode::Away);
}

#[tokio::test]
async fn an_event_a_webhook_delivery_refers_to_stays_as_long_as_the_delivery_log_keeps_it() {
    let app = TestApp::spawn().await;
    let receiver = crate::receiver::Receiver::start(crate::receiver::Reply::Status(200, "")).await;
    app.post(
        "/webhooks",
        &json!({"url": receiver.url, "events": ["message.received"]}),
    )
    .await;
    let (_, addr) = inbox(&app, "hooked").await;
    mail(&app, &addr, "delivered").await;
    app.settle_webhooks().await;
    let count = |app: &TestApp| -> i64 {
        app.sql()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&app), 1);

    // Past the event retention (7 days) but within the delivery log's (30): the stream no
    // longer has it, the delivery log still does.
    app.advance(Duration::from_secs(8 * 86_400));
    agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(count(&app), 1);
    let mut sse = Sse::open(&app, "", Some("0")).await;
    assert_eq!(sse.expect().await.event, "reset");
    drop(sse);
    let (_, webhooks) = json(app.get("/webhooks").await).await;
    let webhook = webhooks["data"][0]["id"].as_str().unwrap().to_owned();
    let (_, log) = json(app.get(&format!("/webhooks/{webhook}/deliveries")).await).await;
    assert_eq!(log["data"][0]["event"], "message.received");

    // Past the delivery log's retention, both go.
    app.advance(Duration::from_secs(23 * 86_400));
    agentsend::jobs::janitor_tick(&app.state).await.unwrap();
    assert_eq!(count(&app), 0);
}

/// A raw SSE connection that has read the response head and the opening comment; `None` when
/// the server closed it instead.
async fn raw_stream(app: &TestApp) -> Option<tokio::net::TcpStream> {
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let head = format!(
        "GET /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\r\n",
        app.key
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut got = Vec::new();
    let mut buf = [0; 1024];
    while !String::from_utf8_lossy(&got).contains("AgentSend event stream") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
    }
    Some(stream)
}

#[tokio::test]
async fn streams_count_against_the_per_client_connection_cap() {
    // A client that goes away is noticed when the next heartbeat cannot be written.
    let app = TestApp::spawn_with(|c| {
        c.http.max_connections_per_ip = 3;
        c.events.heartbeat_secs = 1;
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(raw_stream(&app).await.expect("a stream within the cap"));
    }
    assert!(
        raw_stream(&app).await.is_none(),
        "a fourth connection is closed"
    );
    // One client goes away; its slot is free again.
    drop(open.pop());
    let again = crate::helpers::eventually("a slot to be given back", || raw_stream(&app)).await;
    drop((open, again));
}
