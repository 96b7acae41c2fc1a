//! The checkpointer thread: moves committed pages from the write-ahead log into the database
//! file, off the writer's path.
//!
//! SQLite checkpoints on the committing connection by default, once the log passes 1,000
//! pages: the writer thread then stops to copy pages and fsync the database file while every
//! queued write waits. Here the writer never checkpoints (`wal_autocheckpoint = 0`); this
//! thread, with a connection of its own, runs a PASSIVE checkpoint shortly after commits
//! happen. PASSIVE never waits for the writer or readers: it copies what no reader still
//! needs, and the writer starts the log over from the beginning once all of it is copied.
//!
//! Under writes that never pause (a flood of mail, a bulk import), a PASSIVE checkpoint never
//! catches up with the log's end, so the log would never start over and would grow without
//! bound (tens of gigabytes while a million messages are stored). Once it holds more than
//! [`MAX_LOG_FRAMES`], this thread asks the writer to truncate it: between two commits the
//! writer runs a TRUNCATE checkpoint (this thread could not: the writer takes the write lock
//! again the moment it lets go of it), new writes wait while the rest of the log (most of it
//! already copied by the passive checkpoints) is copied, and the log starts over empty.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;

/// How often the thread looks for new commits.
const INTERVAL: Duration = Duration::from_millis(100);

/// The log size (in pages: 64 MiB of 4 KiB pages) past which the log is made to start over.
const MAX_LOG_FRAMES: i64 = 16_384;

/// Commits made, counted by the writer, read by the checkpointer; and the checkpointer's
/// request that the writer truncate the log.
#[derive(Debug, Default)]
pub(super) struct Commits {
    made: AtomicU64,
    truncate: AtomicBool,
}

impl Commits {
    /// Called by the writer after each commit.
    pub(super) fn note(&self) {
        self.made.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// Whether the log should be truncated now (the request is taken: asked once).
    pub(super) fn take_truncate(&self) -> bool {
        self.truncate.swap(false, Ordering::Relaxed)
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
                    match checkpoint(&conn) {
                        Ok(frames) if frames > MAX_LOG_FRAMES => {
                            commits.truncate.store(true, Ordering::Relaxed);
                        }
                        Ok(_) => {}
                        Err(e) => log::warn!("checkpointing the write-ahead log failed: {e}"),
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

/// A PASSIVE checkpoint; the pages in the log.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    // (busy, pages in the log, pages copied)
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
}
