//! The checkpointer thread: moves committed pages from the write-ahead log into the database
//! file, off the writer's path.
//!
//! SQLite checkpoints on the committing connection by default, once the log passes 1,000
//! pages: the writer thread then stops to copy pages and fsync the database file while every
//! queued write waits. Here the writer never checkpoints (`wal_autocheckpoint = 0`); this
//! thread, with a connection of its own, runs a PASSIVE checkpoint shortly after commits
//! happen. PASSIVE never waits for the writer or readers: it copies what no reader still
//! needs, and the writer starts the log over from the beginning once all of it is copied.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;

/// How often the thread looks for new commits.
const INTERVAL: Duration = Duration::from_millis(100);

/// Commits made, counted by the writer, read by the checkpointer.
#[derive(Debug, Default)]
pub(super) struct Commits(AtomicU64);

impl Commits {
    /// Called by the writer after each commit.
    pub(super) fn note(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Starts the thread; it stops once `writer_alive` turns false (the writer is gone, so no
/// more commits will come), after checkpointing any commits it had not seen yet.
pub(super) fn spawn(
    path: &Path,
    configure: impl Fn(&Connection) -> rusqlite::Result<()>,
    commits: Arc<Commits>,
    writer_alive: Arc<AtomicBool>,
) -> Result<(), super::Failure> {
    let conn = Connection::open(path)?;
    configure(&conn)?;
    std::thread::Builder::new()
        .name("agentsend-checkpoint".to_owned())
        .spawn(move || {
            let mut seen = commits.get();
            loop {
                std::thread::sleep(INTERVAL);
                let alive = writer_alive.load(Ordering::SeqCst);
                let now = commits.get();
                if now != seen {
                    seen = now;
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        log::warn!("checkpointing the write-ahead log failed: {e}");
                    }
                }
                if !alive {
                    return;
                }
            }
        })
        .map_err(|e| super::Failure::task(format!("cannot start the checkpoint thread: {e}")))?;
    Ok(())
}
