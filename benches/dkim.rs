//! DKIM costs per outgoing message from a custom domain (issue 7): loading the domain's key
//! from its stored DER form, and signing a 5 KB message, RSA-2048 and Ed25519. Prints the
//! median of many runs of each and the share of a signed send the key loading takes.
//!
//!     cargo bench --bench dkim
#![allow(clippy::unwrap_used, reason = "a benchmark stops on any failure")]

use std::time::{Duration, Instant};

use agentsend::domain::custom_domain::DkimAlgorithm;
use agentsend::mail::dkim::DkimKey;

const RUNS: usize = 300;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let message: Vec<u8> = {
        let mut m = b"From: agent@example.com\r\nTo: someone@example.net\r\nSubject: Benchmark\r\n\
Date: Sun, 29 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench@example.com>\r\n\r\n"
            .to_vec();
        while m.len() < 5 * 1024 {
            m.extend_from_slice(b"Lorem ipsum dolor sit amet, consectetur adipiscing elit.\r\n");
        }
        m
    };
    println!("AgentSend DKIM benchmark: median of {RUNS} runs, 5 KB message, release build");
    for algorithm in [DkimAlgorithm::Rsa, DkimAlgorithm::Ed25519] {
        let start = Instant::now();
        let (_, stored) = DkimKey::generate(algorithm, "example.com", "bench").unwrap();
        let generated = start.elapsed();
        let load: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                let key = DkimKey::from_stored(algorithm, &stored, "example.com", "bench").unwrap();
                let elapsed = t.elapsed();
                std::hint::black_box(key);
                elapsed
            })
            .collect();
        let key = DkimKey::from_stored(algorithm, &stored, "example.com", "bench").unwrap();
        let sign: Vec<Duration> = (0..RUNS)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(key.sign(&message).unwrap());
                t.elapsed()
            })
            .collect();
        let (load, sign) = (median(load), median(sign));
        println!(
            "{:?}: key generation {:.1} ms (once per domain); key load {:.0} µs; signing {:.0} µs; \
             load / (load + sign) = {:.2}; signed sends per core at most {:.0}/s",
            algorithm,
            generated.as_secs_f64() * 1e3,
            load.as_secs_f64() * 1e6,
            sign.as_secs_f64() * 1e6,
            load.as_secs_f64() / (load + sign).as_secs_f64(),
            1.0 / (load + sign).as_secs_f64(),
        );
    }
}
