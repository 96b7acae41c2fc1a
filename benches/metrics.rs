//! What recording metrics costs per request and per SMTP reply (issue 21), next to what a
//! request costs the server: the time of one `Metrics::http_request` (counter and histogram
//! by route template, method and status) and one `smtp_rejection`, median of many batches,
//! and the share of a request at the send bench's rate.
//!
//!     cargo bench --bench metrics
#![allow(clippy::unwrap_used, reason = "a benchmark stops on any failure")]

use std::time::{Duration, Instant};

use agentsend::metrics::Metrics;

const BATCH: u32 = 100_000;
const RUNS: usize = 25;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn per_call(mut f: impl FnMut(u32)) -> Duration {
    let samples = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            for i in 0..BATCH {
                f(i);
            }
            started.elapsed() / BATCH
        })
        .collect();
    median(samples)
}

fn main() {
    let metrics = Metrics::new().unwrap();
    let routes = [
        "/inboxes/{id}/messages",
        "/inboxes/{id}",
        "/messages/{id}",
        "/health",
    ];
    let http = per_call(|i| {
        metrics.http_request(
            Some(routes[i as usize % routes.len()]),
            "POST",
            if i % 10 == 0 { 400 } else { 202 },
            Duration::from_micros(700),
        );
    });
    let smtp = per_call(|_| metrics.smtp_rejection(550, "5.1.1"));
    let off = Metrics::disabled();
    let disabled = per_call(|_| off.http_request(Some("/health"), "GET", 200, Duration::ZERO));
    // The send bench accepts ~1,400 requests/s on two cores: ~1.4 ms of server time each.
    let request = Duration::from_micros(1400);
    println!("AgentSend metrics recording: median of {RUNS} batches of {BATCH}, release build");
    println!(
        "  HTTP request (counter + histogram)  {:>6.0} ns",
        http.as_nanos()
    );
    println!(
        "  SMTP refusal (counter)              {:>6.0} ns",
        smtp.as_nanos()
    );
    println!(
        "  metrics off                         {:>6.0} ns",
        disabled.as_nanos()
    );
    println!(
        "  share of a request at 1,400 req/s on 2 cores: {:.3} %",
        100.0 * http.as_secs_f64() / request.as_secs_f64()
    );
}
