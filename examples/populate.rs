//! Fills an inbox with received messages quickly, through the store (no SMTP, no HTTP), for
//! the list benchmarks (`bench/lists.sh`). Each message is a small mail in a thread of its own,
//! stored exactly as the SMTP receiver stores one (the same store call), so counters, indexes
//! and raw copies are what a real inbox of that size has. The messages are dated one
//! millisecond apart, ending now, as mail that arrived over time would be.
//!
//!   cargo run --release --example populate -- --db agentsend.db --inbox bench@localhost \
//!       --count 100000
//!
//! Stop the server first (the store holds the single writer).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use agentsend::domain::reading::Reading;
use agentsend::domain::{Clock, SystemClock, Timestamp};
use agentsend::store::messages::{self, NewInbound};
use agentsend::store::{Store, StoreOptions, inboxes};
use anyhow::{Context, bail};
use clap::Parser;
use tokio::task::JoinSet;

#[derive(Parser)]
struct Args {
    /// The database file.
    #[arg(long)]
    db: PathBuf,
    /// The receiving inbox's address.
    #[arg(long)]
    inbox: String,
    /// Messages to add.
    #[arg(long)]
    count: u64,
    /// Bytes of each message's text body (a short line when 0).
    #[arg(long, default_value_t = 0)]
    body_bytes: usize,
    /// Messages per write job.
    #[arg(long, default_value_t = 20)]
    batch: u64,
    /// Give each message a body of its own, drawn from a vocabulary of 20,000 words by Zipf's
    /// law as natural text is (for the search benchmark: how many messages a word is in then
    /// varies as it does in real mail). Otherwise every body is the same word salad.
    #[arg(long)]
    vary_bodies: bool,
}

/// Write jobs submitted and not yet committed.
const IN_FLIGHT: usize = 64;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = Store::open(
        &args.db,
        &StoreOptions {
            pool_size: 2,
            busy_timeout: Duration::from_secs(5),
        },
    )?;
    let address = args.inbox.to_ascii_lowercase();
    let Some((inbox_id, account_id)) = store
        .read(move |db| inboxes::find_receiving_inbox(db, &address))
        .await?
    else {
        bail!("no active inbox {} in {}", args.inbox, args.db.display());
    };
    let started = Instant::now();
    let count = i64::try_from(args.count)?;
    let first_at = SystemClock.now().as_millis() - count;
    let to = vec![args.inbox.to_ascii_lowercase()];
    let filler = filler(args.body_bytes);
    // Small jobs, many in flight: the writer commits them together (group commit), as it
    // does the SMTP receiver's.
    let mut in_flight = JoinSet::new();
    let mut done = 0;
    for first in (0..args.count).step_by(usize::try_from(args.batch)?) {
        let n = args.batch.min(args.count - first);
        if in_flight.len() >= IN_FLIGHT {
            in_flight.join_next().await.context("a batch")???;
            done += args.batch;
            if done % 100_000 == 0 {
                eprintln!("{done}/{} messages", args.count);
            }
        }
        let (store, to, filler) = (store.clone(), to.clone(), filler.clone());
        let (vary, body_bytes) = (args.vary_bodies, args.body_bytes);
        in_flight.spawn(async move {
            // What the SMTP receiver works out before it hands a message to the writer.
            let body = move |i: u64| {
                let text = if vary {
                    zipf_text(i, body_bytes)
                } else {
                    filler.to_string()
                };
                format!("Message {i} of the list benchmark.\r\n{text}")
            };
            let readings: Vec<Reading> = (first..first + n)
                .map(|i| Reading::of(Some(&body(i)), None))
                .collect();
            store
                .write(move |tx| {
                    for (i, reading) in (first..first + n).zip(&readings) {
                        let at = Timestamp::from_millis(first_at + i64::try_from(i).unwrap_or(0));
                        let subject = format!("Benchmark message {i}");
                        let message_id = format!("bench-{i}-{inbox_id}@populate.test");
                        let body = body(i);
                        let raw = format!(
                            "From: Bench <bench@populate.test>\r\nTo: {}\r\n\
                             Subject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
                             Date: Wed, 2 Dec 2026 12:00:00 +0000\r\n\r\n{body}",
                            to[0]
                        );
                        messages::insert_inbound(
                            tx,
                            &NewInbound {
                                account_id,
                                inbox_id,
                                from: "Bench <bench@populate.test>",
                                to: &to,
                                cc: &[],
                                subject: &subject,
                                text: Some(&body),
                                html: None,
                                message_id: Some(&message_id),
                                in_reply_to: None,
                                references: &[],
                                attachments: &[],
                                raw: &[raw.as_bytes()],
                                thread_subject: &subject,
                                auth_results: None,
                                reading,
                            },
                            at,
                        )?;
                    }
                    Ok(())
                })
                .await
        });
    }
    while let Some(batch) = in_flight.join_next().await {
        batch.context("a batch")??;
    }
    eprintln!(
        "stored {} messages in {:.1} s",
        args.count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Word `rank` (0 is the most common) of a made-up vocabulary: syllables in base 16, so
/// every rank has its own word (`w0` … `w19999` would tokenise as letters and digits alike).
fn word(rank: u64) -> String {
    const SYLLABLES: [&str; 16] = [
        "ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "pe", "da", "go", "hu", "ji", "be", "fa",
        "zo",
    ];
    let mut n = rank;
    let mut w = String::new();
    loop {
        w.push_str(SYLLABLES[usize::try_from(n % 16).unwrap_or(0)]);
        n /= 16;
        if n == 0 {
            return w;
        }
    }
}

/// About `bytes` of text for message `i`: words of a 20,000-word vocabulary, the word of rank
/// `r` about `1/r` as often as the most common one (Zipf's law), in lines of at most 76
/// characters.
fn zipf_text(i: u64, bytes: usize) -> String {
    const VOCABULARY: f64 = 20_000.0;
    lines_of(bytes, i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1, |seed| {
        // A uniform u in [0, 1) mapped to VOCABULARY^u - 1: log-uniform ranks, Zipf with s = 1.
        let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
        word(VOCABULARY.powf(u) as u64 - 1)
    })
}

/// About `bytes` of words, each picked from the next number of a xorshift sequence that starts
/// at `seed`, in lines of at most 76 characters.
fn lines_of(bytes: usize, mut seed: u64, pick: impl Fn(u64) -> String) -> String {
    let mut out = String::with_capacity(bytes + 80);
    let mut line = 0;
    while out.len() < bytes {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let word = pick(seed);
        if line + word.len() + 1 > 76 {
            out.push_str("\r\n");
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(&word);
        line += word.len();
    }
    out.push_str("\r\n");
    out
}

/// About `bytes` of word salad in lines of at most 76 characters: text that compresses about
/// as well as real mail (one repeated sentence would compress unrealistically well).
fn filler(bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "report",
        "figures",
        "attached",
        "quarter",
        "north",
        "region",
        "moved",
        "again",
        "this",
        "month",
        "mostly",
        "second",
        "half",
        "please",
        "review",
        "before",
        "meeting",
        "on",
        "Thursday",
        "and",
        "send",
        "any",
        "questions",
        "to",
        "team",
        "budget",
        "numbers",
        "customer",
        "orders",
        "shipping",
        "delayed",
        "warehouse",
        "update",
        "thanks",
        "regards",
    ];
    lines_of(
        bytes,
        u64::try_from(bytes).unwrap_or(0) ^ 0x9e37_79b9_7f4a_7c15,
        |seed| WORDS[usize::try_from(seed % WORDS.len() as u64).unwrap_or(0)].to_owned(),
    )
}
