//! The writer thread: the one connection that writes, with group commit.
//!
//! SQLite takes one writer at a time, and each commit has a fixed cost (WAL frame headers and
//! checksums, the lock dance). Every write of this process therefore goes to one thread, which
//! runs whatever has queued up since its last commit in a single IMMEDIATE transaction: each
//! job in a SAVEPOINT of its own, so that a job that fails is rolled back alone and the others
//! still commit. A job's result is sent only after the commit, so a caller never acts on a
//! change that could still be lost. Writers queue on a channel instead of contending inside
//! SQLite, whose busy handler sleeps up to 100 ms per retry (under load that meant second-long
//! tail latencies); the busy timeout still covers other processes, such as the CLI.
//!
//! On PostgreSQL the same thread runs each write in a transaction of its own (see
//! [`commit_alone`]).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use super::conn::Connection;
use tokio::sync::oneshot;

use super::checkpointer::Commits;
use super::wake::Wakers;
use super::{Failure, StoreError, Tx};

/// The writer thread's figures for the metrics: its queue, and the writes it commits together.
#[derive(Clone)]
pub struct WriterMetrics {
    /// Writes waiting for the writer thread.
    pub queued: prometheus::IntGauge,
    /// Writes per commit.
    pub batch: prometheus::Histogram,
}

/// Jobs committed together at most.
const MAX_BATCH: usize = 256;

/// A write queued for the writer thread.
pub(super) trait WriteJob: Send {
    /// Runs in the batch's transaction; `false` when the job failed (its changes are rolled
    /// back to its savepoint).
    fn run(&mut self, tx: &Tx<'_>) -> bool;
    /// Reports the outcome once the transaction's fate is known.
    fn finish(self: Box<Self>, committed: Result<(), &StoreError>);
}

/// A closure and the channel its result goes back on.
pub(super) struct Job<T, F> {
    f: Option<F>,
    outcome: Option<Result<T, Failure>>,
    reply: oneshot::Sender<Result<T, Failure>>,
}

impl<T, F> Job<T, F> {
    pub(super) fn new(f: F, reply: oneshot::Sender<Result<T, Failure>>) -> Self {
        Self {
            f: Some(f),
            outcome: None,
            reply,
        }
    }
}

impl<T, F> WriteJob for Job<T, F>
where
    T: Send,
    F: FnOnce(&Tx<'_>) -> Result<T, Failure> + Send,
{
    fn run(&mut self, tx: &Tx<'_>) -> bool {
        let outcome = match self.f.take() {
            Some(f) => f(tx),
            None => Err(Failure::task("a write job ran twice")),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn finish(self: Box<Self>, committed: Result<(), &StoreError>) {
        let result = match (committed, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (_, Some(Err(e))) => Err(e),
            (Err(e), _) => Err(Failure::task(format!("the transaction failed: {e}"))),
            (Ok(()), None) => Err(Failure::task("a write job did not run")),
        };
        // The caller may have gone away; its change is committed all the same.
        let _ = self.reply.send(result);
    }
}

/// What the writer thread is asked to do.
pub(super) enum Command {
    /// A write.
    Write(Box<dyn WriteJob>),
    /// Move the WAL into the main file (outside any transaction).
    Checkpoint(oneshot::Sender<Result<(), StoreError>>),
}

/// Starts the writer thread with its connection. It runs until every sender is dropped;
/// `alive` turns false when it stops, however it stops.
/// `stopped` is dropped when it stops (its receivers see the channel close).
pub(super) fn spawn(
    conn: Connection,
    wakers: Arc<Wakers>,
    commits: Arc<Commits>,
    alive: Arc<AtomicBool>,
    stopped: tokio::sync::watch::Sender<()>,
    metrics: Arc<OnceLock<WriterMetrics>>,
) -> std::io::Result<Sender<Command>> {
    let (sender, receiver) = channel();
    alive.store(true, Ordering::SeqCst);
    std::thread::Builder::new()
        .name("agentsend-writer".to_owned())
        .spawn(move || {
            let _alive = Alive {
                flag: alive,
                _stopped: stopped,
            };
            run(conn, &receiver, &wakers, &commits, &metrics);
        })?;
    Ok(sender)
}

/// Clears the liveness flag and closes the `stopped` channel when the writer thread ends,
/// also by panic.
struct Alive {
    flag: Arc<AtomicBool>,
    _stopped: tokio::sync::watch::Sender<()>,
}

impl Drop for Alive {
    fn drop(&mut self) {
        self.flag.store(false, Ordering::SeqCst);
        if std::thread::panicking() {
            log::error!("the database writer thread died; writes will fail until restart");
        }
    }
}

fn run(
    conn: Connection,
    commands: &Receiver<Command>,
    wakers: &Wakers,
    commits: &Commits,
    metrics: &OnceLock<WriterMetrics>,
) {
    while let Ok(first) = commands.recv() {
        let mut writes = Vec::new();
        let mut checkpoints = Vec::new();
        let mut next = Some(first);
        while let Some(command) = next {
            match command {
                Command::Write(job) => writes.push(job),
                Command::Checkpoint(reply) => checkpoints.push(reply),
            }
            next = if writes.len() < MAX_BATCH {
                commands.try_recv().ok()
            } else {
                None
            };
        }
        if let Some(m) = metrics.get() {
            let n = i64::try_from(writes.len()).unwrap_or(i64::MAX);
            m.queued.sub(n);
            if n > 0 {
                m.batch.observe(n as f64);
            }
        }
        if !writes.is_empty() {
            commit_batch(&conn, writes, wakers);
            commits.note();
        }
        let Connection::Lite(file) = &conn else {
            // PostgreSQL keeps its own log.
            for reply in checkpoints {
                let _ = reply.send(Ok(()));
            }
            continue;
        };
        if commits.take_truncate() {
            // The log outgrew what passive checkpoints keep up with (see checkpointer.rs).
            if let Err(e) = try_truncate(file) {
                log::warn!("truncating the write-ahead log failed: {e}");
            }
        }
        for reply in checkpoints {
            let _ = reply.send(checkpoint_all(file));
        }
    }
}

/// Moves the log into the file and empties it if no reader holds an older snapshot, without
/// waiting for one to finish: a long read (a backup's `VACUUM INTO` takes seconds for a
/// gigabyte) would otherwise hold every write behind it, since a TRUNCATE checkpoint waits
/// for readers through the busy handler. The checkpointer asks again while the log stays long.
fn try_truncate(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let patience: i64 = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0))?;
    conn.busy_timeout(Duration::ZERO)?;
    let checkpointed = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    conn.busy_timeout(Duration::from_millis(u64::try_from(patience).unwrap_or(0)))?;
    match checkpointed {
        Ok(_) => Ok(()),
        // Busy: a reader or another process; the next request tries again.
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::DatabaseBusy =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Moves the whole log into the file and empties it. The checkpointer thread may be copying
/// at that moment, and SQLite then answers busy at once (there is no busy handler for the
/// checkpoint lock): try again shortly, for up to five seconds; a PASSIVE checkpoint takes
/// milliseconds.
fn checkpoint_all(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
        if busy == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(StoreError::Database(
                "the write-ahead log stayed busy for 5 s and was not checkpointed".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn commit_batch(conn: &Connection, jobs: Vec<Box<dyn WriteJob>>, wakers: &Wakers) {
    match conn {
        Connection::Lite(_) => commit_together(conn, jobs, wakers),
        Connection::Pg(_) => {
            for job in jobs {
                commit_alone(conn, job, wakers);
            }
        }
    }
}

/// PostgreSQL: one transaction per job. The server groups WAL flushes of its own, and a
/// savepoint per job costs two more round trips plus a subtransaction; measured, one node
/// accepted about 1.7× as many sends this way as with SQLite's batches (see the README's
/// PostgreSQL figures).
fn commit_alone(conn: &Connection, mut job: Box<dyn WriteJob>, wakers: &Wakers) {
    let tx = match Tx::begin(conn.sql()) {
        Ok(tx) => tx,
        Err(e) => return job.finish(Err(&e)),
    };
    if !run_caught(&tx, job.as_mut()) {
        // Rolled back by the drop; the job has its error for its caller already.
        drop(tx);
        return job.finish(Ok(()));
    }
    let committed = commit_and_wake(tx, wakers);
    job.finish(committed.as_ref().map(|_| ()));
}

/// SQLite: the whole batch in one transaction, each job in a savepoint of its own.
fn commit_together(conn: &Connection, mut jobs: Vec<Box<dyn WriteJob>>, wakers: &Wakers) {
    let tx = match Tx::begin(conn.sql()) {
        Ok(tx) => tx,
        Err(e) => {
            for job in jobs {
                job.finish(Err(&e));
            }
            return;
        }
    };
    for job in &mut jobs {
        if let Err(e) = run_in_savepoint(&tx, job.as_mut()) {
            // The savepoint itself failed: the transaction is in doubt, so nothing commits.
            log::error!("a write batch failed: {e}");
            drop(tx);
            for job in jobs {
                job.finish(Err(&e));
            }
            return;
        }
    }
    let committed = commit_and_wake(tx, wakers);
    for job in jobs {
        job.finish(committed.as_ref().map(|_| ()));
    }
}

/// Runs one job in a part of the transaction of its own ([`Tx::part`]): when it fails or panics
/// its changes (and wake-ups) alone are rolled back. `Err` when the savepoint itself failed, or
/// SQLite rolled back the whole transaction: then nothing of the batch may commit.
fn run_in_savepoint(tx: &Tx<'_>, job: &mut dyn WriteJob) -> Result<(), StoreError> {
    // A failed job has its error for its caller already (see `Job::run`).
    let _job_result = tx.part(|tx| {
        if run_caught(tx, job) {
            Ok(())
        } else {
            Err("the job failed")
        }
    })?;
    Ok(())
}

/// Commits `tx`, then wakes the queues it marked.
fn commit_and_wake(tx: Tx<'_>, wakers: &Wakers) -> Result<(), StoreError> {
    let wake = tx.wake.get();
    tx.commit()?;
    wakers.wake_all(wake);
    Ok(())
}

/// Runs `job`; `false` when it failed or panicked (its caller rolls its changes back).
fn run_caught(tx: &Tx<'_>, job: &mut dyn WriteJob) -> bool {
    catch_unwind(AssertUnwindSafe(|| job.run(tx))).unwrap_or_else(|_| {
        log::error!("a write job panicked; its changes are rolled back");
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader holding an old snapshot (a backup's `VACUUM INTO`) must not hold the writer:
    /// the growth-triggered truncation gives up at once instead of waiting out the busy
    /// timeout.
    #[test]
    fn a_truncation_does_not_wait_for_a_reader_holding_an_old_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;
                 CREATE TABLE t (x); INSERT INTO t VALUES (1);",
            )
            .unwrap();
        let reader = rusqlite::Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        // The log now has frames the reader's snapshot does not include.
        writer.execute("INSERT INTO t VALUES (2)", []).unwrap();

        let started = Instant::now();
        try_truncate(&writer).unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "waited {:?} for the reader",
            started.elapsed()
        );
        // The busy timeout is back for everything else.
        let patience: i64 = writer
            .query_row("PRAGMA busy_timeout", [], |r| r.get(0))
            .unwrap();
        assert_eq!(patience, 5000);
        reader.execute_batch("COMMIT").unwrap();
        try_truncate(&writer).unwrap();
        let wal = std::fs::metadata(crate::store::wal_path(&path))
            .unwrap()
            .len();
        assert_eq!(wal, 0, "truncated once the reader is gone");
    }
}
