//! Fills an inbox with received messages quickly, through the store (no SMTP, no HTTP), for
//! the list benchmarks (`bench/lists.sh`). Each message is a small mail in a thread of its own,
//! stored exactly as the SMTP receiver stores one (the same store call), so counters, indexes
//! and raw copies are what a real inbox of that size has.
//!
//!   cargo run --release --example populate -- --db agentsend.db --inbox bench@localhost \
//!       --count 100000
//!
//! Stop the server first (the store holds the single writer).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use agentsend::domain::{Clock, SystemClock};
use agentsend::store::messages::{self, NewInbound};
use agentsend::store::{Store, StoreOptions, inboxes};
use anyhow::{Context, bail};
use clap::Parser;

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
    /// Messages per write transaction.
    #[arg(long, default_value_t = 5_000)]
    batch: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = Store::open(
        &args.db,
        &StoreOptions {
            pool_size: 2,
            busy_timeout: Duration::from_secs(5),
        },
    )?;
    let address = args.inbox.to_ascii_lowercase();
    let Some((inbox_id, account_id)) =
        store.read_blocking(|db| inboxes::find_receiving_inbox(db, &address))?
    else {
        bail!("no active inbox {address} in {}", args.db.display());
    };
    let started = Instant::now();
    let mut done = 0;
    while done < args.count {
        let n = args.batch.min(args.count - done);
        let first = done;
        let to = vec![address.clone()];
        store
            .write_blocking(move |tx| {
                let now = SystemClock.now();
                for i in first..first + n {
                    let subject = format!("Benchmark message {i}");
                    let message_id = format!("bench-{i}-{}@populate.test", inbox_id);
                    let body = format!("Message {i} of the list benchmark.\r\n");
                    let raw = format!(
                        "From: Bench <bench@populate.test>\r\nTo: {}\r\nSubject: {subject}\r\n\
                         Message-ID: <{message_id}>\r\nDate: Wed, 2 Dec 2026 12:00:00 +0000\r\n\
                         \r\n{body}",
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
                        },
                        now,
                    )?;
                }
                Ok(())
            })
            .context("storing a batch")?;
        done += n;
        eprint!("\r{done}/{} messages", args.count);
    }
    eprintln!(
        "\nstored {} messages in {:.1} s",
        args.count,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
