//! Load for the live event streams (bench/events.sh): N subscribers on one inbox, over SSE or
//! WebSocket, while mail arrives over SMTP at a fixed rate. Prints one JSON object: what was
//! sent and accepted, what every subscriber received, the event-to-receipt latency (from the
//! payload's `receivedAt`, stored by the server, to the subscriber reading it; millisecond
//! resolution) and the submit-to-receipt latency (from the end of the SMTP DATA to the
//! subscriber reading it), and the server's RSS before and after the subscribers connected.
//!
//!   events_load --http 127.0.0.1:3000 --smtp 127.0.0.1:2525 --key ask_… --inbox <id>
//!       --to load@agentsend.localhost --mode sse --subscribers 1000 --rate 500 --seconds 20
//!       --server-pid 1234
//!
//! `--rate 0` sends as fast as the senders can (the ingest capacity); `--subscribers 0` measures
//! without subscribers.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a load generator")]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[derive(Parser, Clone)]
struct Args {
    #[arg(long)]
    http: String,
    #[arg(long)]
    smtp: String,
    #[arg(long)]
    key: String,
    #[arg(long)]
    inbox: String,
    #[arg(long)]
    to: String,
    /// `sse` or `ws`.
    #[arg(long, default_value = "sse")]
    mode: String,
    #[arg(long, default_value_t = 1000)]
    subscribers: usize,
    /// Messages per second in all (0: as fast as possible).
    #[arg(long, default_value_t = 500)]
    rate: u64,
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Parallel SMTP sessions.
    #[arg(long, default_value_t = 4)]
    senders: usize,
    /// Every n-th subscriber measures latency (all of them count).
    #[arg(long, default_value_t = 50)]
    sample: usize,
    #[arg(long)]
    server_pid: Option<u32>,
}

fn rss_kib(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// What the subscribers share.
struct Tally {
    started: Instant,
    /// When each message's DATA was accepted, in µs since `started` (0: not yet).
    submitted: Vec<AtomicU64>,
    received: AtomicUsize,
    event_ms: Mutex<Vec<i64>>,
    submit_us: Mutex<Vec<u64>>,
}

impl Tally {
    /// Records one received payload; `measure` for sampled subscribers.
    async fn record(&self, payload: &str, measure: bool) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if !measure {
            return;
        }
        let v: serde_json::Value = match serde_json::from_str(payload) {
            Ok(v) => v,
            Err(_) => return,
        };
        let data = &v["data"];
        let now_us = self.started.elapsed().as_micros() as u64;
        if let Some(at) = data["receivedAt"].as_str().and_then(|s| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
        }) {
            let at_ms = (at.unix_timestamp_nanos() / 1_000_000) as i64;
            self.event_ms.lock().await.push(wall_ms() - at_ms);
        }
        if let Some(seq) = data["subject"]
            .as_str()
            .and_then(|s| s.strip_prefix("load "))
            .and_then(|s| s.parse::<usize>().ok())
            && let Some(sent) = self.submitted.get(seq)
        {
            let sent = sent.load(Ordering::Relaxed);
            if sent > 0 {
                self.submit_us
                    .lock()
                    .await
                    .push(now_us.saturating_sub(sent));
            }
        }
    }
}

async fn sse_subscriber(args: Args, tally: Arc<Tally>, measure: bool, ready: Arc<AtomicUsize>) {
    let mut stream = TcpStream::connect(&args.http).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /events?types=message.received&inboxId={} HTTP/1.1\r\nHost: bench\r\n\
                 Authorization: Bearer {}\r\n\r\n",
                args.inbox, args.key
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // Lines split by hand on bytes: the load generator shares the server's cores, so it
    // does as little as it can per event.
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut announced = false;
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        pending.extend_from_slice(&buf[..n]);
        let mut start = 0;
        while let Some(end) = memchr::memchr(b'\n', &pending[start..]) {
            let line = &pending[start..start + end];
            if let Some(payload) = line.strip_prefix(b"data: ") {
                if measure {
                    tally
                        .record(std::str::from_utf8(payload).unwrap_or(""), true)
                        .await;
                } else {
                    tally.record("", false).await;
                }
            } else if !announced && line.starts_with(b": AgentSend") {
                announced = true;
                ready.fetch_add(1, Ordering::SeqCst);
            }
            start += end + 1;
        }
        pending.drain(..start);
    }
}

async fn ws_subscriber(args: Args, tally: Arc<Tally>, measure: bool, ready: Arc<AtomicUsize>) {
    let mut req = format!("ws://{}/ws", args.http)
        .into_client_request()
        .unwrap();
    req.headers_mut().insert(
        "authorization",
        format!("Bearer {}", args.key).parse().unwrap(),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let subscribe = serde_json::json!({"type": "subscribe", "event_types": ["message.received"],
                                        "inbox_ids": [args.inbox]});
    ws.send(Message::text(subscribe.to_string())).await.unwrap();
    let mut announced = false;
    while let Some(Ok(frame)) = ws.next().await {
        let Message::Text(text) = frame else { continue };
        if !announced {
            if text.contains(r#""type":"subscribed""#) {
                announced = true;
                ready.fetch_add(1, Ordering::SeqCst);
            }
            continue;
        }
        if !measure {
            tally.record("", false).await;
        } else if let Some(i) = text.find(r#","data":"#) {
            // The frame's `data` is the payload.
            tally.record(&text[i + 8..text.len() - 1], true).await;
        }
    }
}

async fn reply(reader: &mut BufReader<TcpStream>) -> u16 {
    let mut line = String::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return line[..3].parse().unwrap_or(0);
        }
    }
}

/// One SMTP session sending messages `first, first + step, …` below `total`, paced (or as
/// fast as it can until `stop`).
async fn sender(
    args: Args,
    tally: Arc<Tally>,
    first: usize,
    total: usize,
    stop: Instant,
    accepted: Arc<AtomicUsize>,
) {
    let step = args.senders;
    let mut reader = BufReader::new(TcpStream::connect(&args.smtp).await.unwrap());
    reply(&mut reader).await;
    reader
        .get_mut()
        .write_all(b"EHLO bench.example\r\n")
        .await
        .unwrap();
    reply(&mut reader).await;
    let interval = if args.rate == 0 {
        None
    } else {
        Some(Duration::from_secs_f64(step as f64 / args.rate as f64))
    };
    let start = Instant::now();
    for (n, seq) in (first..total).step_by(step).enumerate() {
        if Instant::now() >= stop {
            break;
        }
        if let Some(interval) = interval {
            let due = start + interval * n as u32;
            tokio::time::sleep_until(due.into()).await;
        }
        let message = format!(
            "MAIL FROM:<load@example.com>\r\nRCPT TO:<{to}>\r\nDATA\r\n",
            to = args.to
        );
        reader
            .get_mut()
            .write_all(message.as_bytes())
            .await
            .unwrap();
        reply(&mut reader).await;
        reply(&mut reader).await;
        reply(&mut reader).await;
        let body = format!(
            "From: Load <load@example.com>\r\nTo: {to}\r\nSubject: load {seq}\r\n\r\nA message \
             of the event stream benchmark.\r\n.\r\n",
            to = args.to
        );
        reader.get_mut().write_all(body.as_bytes()).await.unwrap();
        if reply(&mut reader).await == 250 {
            tally.submitted[seq].store(
                tally.started.elapsed().as_micros().max(1) as u64,
                Ordering::Relaxed,
            );
            accepted.fetch_add(1, Ordering::Relaxed);
        }
    }
    let _ = reader.get_mut().write_all(b"QUIT\r\n").await;
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let total = if args.rate == 0 {
        // As fast as possible: enough for the duration at any plausible rate.
        200_000
    } else {
        (args.rate * args.seconds) as usize
    };
    let tally = Arc::new(Tally {
        started: Instant::now(),
        submitted: (0..total).map(|_| AtomicU64::new(0)).collect(),
        received: AtomicUsize::new(0),
        event_ms: Mutex::new(Vec::new()),
        submit_us: Mutex::new(Vec::new()),
    });
    let rss_before = rss_kib(args.server_pid);
    let ready = Arc::new(AtomicUsize::new(0));
    for i in 0..args.subscribers {
        let (args, tally, ready) = (args.clone(), tally.clone(), ready.clone());
        let measure = i % args.sample.max(1) == 0;
        if args.mode == "ws" {
            tokio::spawn(ws_subscriber(args, tally, measure, ready));
        } else {
            tokio::spawn(sse_subscriber(args, tally, measure, ready));
        }
        // Do not open a thousand connections in one burst (the listen backlog).
        if i % 50 == 49 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while ready.load(Ordering::SeqCst) < args.subscribers {
        assert!(Instant::now() < deadline, "subscribers did not all connect");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let the connections settle before reading the server's memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_idle = rss_kib(args.server_pid);

    let accepted = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    // Paced senders finish their share; unpaced ones stop at the deadline.
    let stop = if args.rate == 0 {
        Instant::now() + Duration::from_secs(args.seconds)
    } else {
        Instant::now() + Duration::from_secs(args.seconds * 10)
    };
    let senders: Vec<_> = (0..args.senders)
        .map(|i| {
            let (args, tally, accepted) = (args.clone(), tally.clone(), accepted.clone());
            tokio::spawn(sender(args, tally, i, total, stop, accepted))
        })
        .collect();
    for s in senders {
        s.await.unwrap();
    }
    let send_secs = started.elapsed().as_secs_f64();
    let accepted = accepted.load(Ordering::Relaxed);
    let rss_busy = rss_kib(args.server_pid);
    // Every subscriber should get every accepted message.
    let expected = accepted * args.subscribers;
    let deadline = Instant::now() + Duration::from_secs(15);
    while tally.received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let received = tally.received.load(Ordering::Relaxed);
    let mut event_ms: Vec<u64> = tally
        .event_ms
        .lock()
        .await
        .iter()
        .map(|&v| v.max(0) as u64)
        .collect();
    event_ms.sort_unstable();
    let mut submit_us = tally.submit_us.lock().await.clone();
    submit_us.sort_unstable();
    let per_subscriber = match (rss_before, rss_idle) {
        (Some(b), Some(i)) if args.subscribers > 0 => {
            Some((i.saturating_sub(b) * 1024) / args.subscribers as u64)
        }
        _ => None,
    };
    println!(
        "{}",
        serde_json::json!({
            "mode": args.mode,
            "subscribers": args.subscribers,
            "offeredRate": args.rate,
            "accepted": accepted,
            "ingestRate": (accepted as f64 / send_secs).round(),
            "deliveriesExpected": expected,
            "deliveriesReceived": received,
            "eventToReceiptMs": {"p50": percentile(&event_ms, 0.5), "p99": percentile(&event_ms, 0.99),
                                  "max": event_ms.last().copied().unwrap_or(0), "samples": event_ms.len()},
            "submitToReceiptMs": {"p50": percentile(&submit_us, 0.5) as f64 / 1000.0,
                                   "p99": percentile(&submit_us, 0.99) as f64 / 1000.0},
            "rssKiB": {"before": rss_before, "idle": rss_idle, "busy": rss_busy},
            "rssBytesPerIdleSubscriber": per_subscriber,
        })
    );
    // Subscribers are dropped with the runtime.
    let _ = tokio::io::stdout().flush().await;
    std::process::exit(0);
}
