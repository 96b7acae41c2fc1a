//! Hostile HTTP clients on real sockets: floods of slow connections from one address, bodies
//! that stop arriving, too many connections from one client.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, eventually};
use crate::smtp_client::connect_from;

/// The HTTP listener's address.
fn http_addr(app: &TestApp) -> std::net::SocketAddr {
    app.base.trim_start_matches("http://").parse().unwrap()
}

/// A POST whose head and first byte of body arrive, and then nothing.
async fn stalled_post(app: &TestApp, source: [u8; 4], key: Option<&str>) -> Option<TcpStream> {
    let mut stream = connect_from_checked(http_addr(app), source).await?;
    let auth = key.map_or(String::new(), |k| format!("Authorization: Bearer {k}\r\n"));
    let head = format!(
        "POST /inboxes HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    Some(stream)
}

/// Like `connect_from`, but a refused connection is `None` (a flood may meet a full queue).
async fn connect_from_checked(addr: std::net::SocketAddr, source: [u8; 4]) -> Option<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.bind((source, 0).into()).ok()?;
    tokio::time::timeout(Duration::from_secs(2), socket.connect(addr))
        .await
        .ok()?
        .ok()
}

/// Reads what the server sends until it closes the connection (or `within` passes).
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(within, stream.read_to_end(&mut got)).await;
    read.ok()
        .map(|_| String::from_utf8_lossy(&got).into_owned())
}

#[tokio::test]
async fn a_slow_body_flood_from_one_address_leaves_service_for_everyone_else() {
    let app = TestApp::spawn_with(|c| {
        c.http.max_connections_per_ip = 64;
        c.http.unauthenticated_body_timeout_secs = 2;
    })
    .await;
    let inbox = app.create_inbox(serde_json::json!({})).await;
    let path = format!("/inboxes/{}", inbox["id"].as_str().unwrap());

    // 1,000 stalled POSTs from 127.0.0.2, half of them with a made-up key.
    let made_up = format!("ask_{}", "x".repeat(40));
    let mut flood = Vec::new();
    for n in 0..1000 {
        let key = (n % 2 == 0).then_some(made_up.as_str());
        if let Some(stream) = stalled_post(&app, [127, 0, 0, 2], key).await {
            flood.push(stream);
        }
    }
    // Meanwhile another client is answered at once, with and without a key.
    for _ in 0..20 {
        let started = Instant::now();
        let health = app.anonymous(Method::GET, "/health").send().await.unwrap();
        assert_eq!(health.status(), StatusCode::OK);
        let read = app.get(&path).await;
        assert_eq!(read.status(), StatusCode::OK);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
    }
    // The flood holds at most its cap of connections open; the rest were closed at once (or
    // answered 401, those without a key).
    let mut held = 0;
    for stream in &mut flood {
        let mut byte = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await;
        held += usize::from(read.is_err());
    }
    assert!(held <= 64, "{held} connections held");
    // And the ones it holds are answered 408 and closed when their short deadline passes.
    let started = Instant::now();
    let mut timed_out = 0;
    for stream in &mut flood {
        if let Some(text) = read_until_closed(stream, Duration::from_secs(5)).await
            && text.starts_with("HTTP/1.1 408")
        {
            timed_out += 1;
        }
    }
    assert!(timed_out >= 1, "the held connections get 408");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_body_that_stops_arriving_is_a_408_in_the_envelope_and_the_connection_closes() {
    let app = TestApp::spawn_with(|c| {
        c.http.body_timeout_secs = 1;
        c.http.unauthenticated_body_timeout_secs = 1;
    })
    .await;
    for key in [Some(app.key.as_str()), None] {
        let mut stream = stalled_post(&app, [127, 0, 0, 1], key).await.unwrap();
        let started = Instant::now();
        let text = read_until_closed(&mut stream, Duration::from_secs(5))
            .await
            .expect("answered and closed");
        assert!(started.elapsed() < Duration::from_secs(3));
        if key.is_none() {
            // Without a key the request is refused before its body is waited for.
            assert!(text.starts_with("HTTP/1.1 401"), "{text}");
            continue;
        }
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        let body: Value = serde_json::from_str(text.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT");
        assert_eq!(body["error"]["status"], 408);
    }
}

#[tokio::test]
async fn a_slow_but_steady_body_may_take_longer_than_the_timeout() {
    let app = TestApp::spawn_with(|c| {
        c.http.body_timeout_secs = 1;
        c.http.min_body_rate = 2_000;
    })
    .await;
    // 4,000 bytes in about 1.6 s: past the timeout, but ahead of the rate all along.
    let body = format!("{{\"displayName\": \"{}\"}}", "n".repeat(3980));
    let mut stream = connect_from(http_addr(&app), [127, 0, 0, 1]).await;
    let head = format!(
        "POST /inboxes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        app.key,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    for piece in body.as_bytes().chunks(500) {
        stream.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = read_until_closed(&mut stream, Duration::from_secs(5))
        .await
        .unwrap();
    // The name is too long for an inbox: the body was read whole and judged.
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("displayName"), "{text}");
}

#[tokio::test]
async fn connections_past_a_clients_cap_are_closed_and_others_are_served() {
    let app = TestApp::spawn_with(|c| c.http.max_connections_per_ip = 5).await;
    let addr = http_addr(&app);
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(connect_from(addr, [127, 0, 0, 3]).await);
    }
    let mut extra = connect_from(addr, [127, 0, 0, 3]).await;
    let text = read_until_closed(&mut extra, Duration::from_secs(2)).await;
    assert_eq!(text.as_deref(), Some(""), "closed without a word");
    // Another client is not affected, and a slot freed is usable again.
    let res = app.anonymous(Method::GET, "/health").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    drop(held.pop());
    eventually("the freed slot to be usable", || async {
        let mut again = connect_from(addr, [127, 0, 0, 3]).await;
        again
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let text = read_until_closed(&mut again, Duration::from_secs(2)).await?;
        text.starts_with("HTTP/1.1 200").then_some(())
    })
    .await;
}
