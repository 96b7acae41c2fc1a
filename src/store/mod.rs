//! The only module that holds SQL. Plain functions taking `&Connection` (reads) or `&Tx`
//! (writes),
//! one file per table group, and [`Store::read`] / [`Store::write`] to call them on the
//! blocking pool.

pub mod accounts;
pub mod attachments;
pub mod domains;
pub mod idempotency;
pub mod inboxes;
pub mod jobs;
mod lock;
pub mod maintenance;
pub mod messages;
pub mod outbound;
pub mod rate_limits;
pub mod settings;
mod sql;
pub mod webhooks;
mod writer;

pub use lock::ServeLock;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use std::cell::Cell;
use std::ops::Deref;

use ref_cast::RefCast;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::Notify;
use tokio::sync::{Semaphore, oneshot};

use crate::domain::{AuthContext, Credential, Timestamp, ValidationErrors};

/// One schema version: its SQL, then, for data that SQL alone cannot move well, a Rust step in
/// the same transaction.
struct Migration {
    sql: &'static str,
    then: Option<MigrationStep>,
}

/// A migration's Rust step.
type MigrationStep = fn(&Tx<'_>) -> Result<(), StoreError>;

/// The schema and its numbered migrations: entry `i` brings a database to `user_version` i+1.
const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: include_str!("../../schema.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0002_attachment_pieces.sql"),
        then: Some(attachments::move_blobs_into_pieces),
    },
    Migration {
        sql: include_str!("../../migrations/0003_accepted_total.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0004_auth_results.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0005_claims_and_holders.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0006_return_paths.sql"),
        then: None,
    },
];

/// Which kind of resource was not found (each maps to its own API error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// An account.
    Account,
    /// An API key.
    ApiKey,
    /// An inbox.
    Inbox,
    /// A custom domain.
    Domain,
    /// A webhook.
    Webhook,
    /// A message.
    Message,
    /// A thread.
    Thread,
    /// An attachment.
    Attachment,
}

/// What can go wrong in the store. Conditions the API reports have their own variants; the
/// rest are internal failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such resource in this account.
    #[error("{0:?} not found")]
    NotFound(Resource),
    /// The address is used by another inbox, possibly a deleted one.
    #[error("address already taken")]
    AddressTaken,
    /// An inbox address names a domain other than the one the inbox is created on.
    #[error("address must be on {expected}")]
    InvalidInboxDomain {
        /// The domain the address must use.
        expected: String,
    },
    /// The API key is unknown, revoked or expired.
    #[error("invalid or missing API key")]
    Unauthorized,
    /// The account has this domain already, or another account has it verified.
    #[error("domain exists")]
    DomainExists {
        /// Another account holds it.
        elsewhere: bool,
    },
    /// The account has as many domains as it may.
    #[error("domain limit of {limit} reached")]
    DomainLimitReached {
        /// The limit.
        limit: u32,
    },
    /// Inboxes still use the domain.
    #[error("domain in use by {inboxes} inboxes")]
    DomainInUse {
        /// How many.
        inboxes: u64,
    },
    /// The custom domain is not verified for sending.
    #[error("domain not verified")]
    DomainNotVerified,
    /// The inbox is suspended and may not send.
    #[error("inbox suspended")]
    InboxSuspended,
    /// The thread belongs to another inbox.
    #[error("thread of another inbox")]
    ThreadInboxMismatch,
    /// A sandbox account reached one of its limits.
    #[error(transparent)]
    ClaimRequired(#[from] crate::domain::sandbox::ClaimRequired),
    /// The inbox or the account has sent its daily quota.
    #[error("daily send limit reached")]
    DailySendLimitReached,
    /// The request's `Idempotency-Key` reservation was taken over (the request ran so long
    /// that it counted as abandoned); its change is rolled back.
    #[error("the idempotency key was taken over")]
    IdempotencyKeyLost,
    /// A background job's lease ran out while its worker was at it, and another attempt took
    /// it over; this attempt's results are not recorded.
    #[error("the job was taken over by another attempt")]
    ClaimLost,
    /// SQLite rolled back the whole transaction by itself (a full disk, an I/O error): nothing
    /// more may be written in it.
    #[error("the transaction was rolled back: {0}")]
    TransactionLost(String),
    /// The attachments of a send are too large together.
    #[error("attachments too large")]
    AttachmentsTooLarge,
    /// A value breaks a rule that depends on stored state (e.g. a limit above the account's).
    #[error("invalid: {}", .0.summary())]
    Invalid(ValidationErrors),
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// No connection could be had from the pool.
    #[error("connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    /// The blocking task panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
    /// A stored value could not be read back (a bug or a hand-edited database).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The file was written by a newer version of the server.
    #[error("the database schema version {found} is newer than this binary supports ({supported})")]
    SchemaTooNew {
        /// `user_version` in the file.
        found: i64,
        /// Highest version this binary knows.
        supported: i64,
    },
}

/// Settings for opening the database.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Pooled reader connections (and the number of reads that run at once).
    pub pool_size: u32,
    /// How long a connection waits on a lock held by another process.
    pub busy_timeout: Duration,
}

/// The SQLite file: one writer thread and a pool of readers.
///
/// Work is submitted as a closure: [`Store::read`] runs it with a reader connection on tokio's
/// blocking pool (WAL readers never wait for the writer; at most `pool_size` at once, queued
/// in async code rather than as parked threads); [`Store::write`] queues it for the writer
/// thread, which commits queued writes together (see `writer.rs`). Either way no transaction
/// is ever held across an `.await`.
#[derive(Clone)]
pub struct Store {
    readers: Pool<SqliteConnectionManager>,
    read_permits: Arc<Semaphore>,
    writer: Sender<writer::Command>,
    writer_alive: Arc<AtomicBool>,
    writer_stopped: tokio::sync::watch::Receiver<()>,
    wakers: Arc<Wakers>,
}

/// Applies the connection settings (DESIGN rule 8); the one place they are set.
fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    // Every statement the server runs stays compiled (rusqlite keeps 16 by default, fewer than
    // one send touches, and recompiling was a tenth of the writer's time).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // The query planner stability guarantee: a cached statement keeps its plan. Without it
    // SQLite recompiles any statement with a bound `LIMIT ?` (and a few other shapes) every
    // time it is re-bound, which made claiming a job cost more than sending it.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // journal_mode returns a row, so it must go through execute_batch. temp_store: the
    // writer's per-job savepoints keep their statement journal in memory, not in a temp file.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA busy_timeout = {};",
        busy_timeout.as_millis()
    ))
}

/// Compiled statements kept per connection.
const STATEMENT_CACHE: usize = 256;

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let busy_timeout = options.busy_timeout;
        let mut conn = Connection::open(path)?;
        configure(&conn, busy_timeout)?;
        // The writer's commits are fsynced: once a write has reported success (an SMTP 250,
        // a 202 for a send) it survives a power cut, not only a crash of this process. With
        // group commit the cost is shared by the writes committed together.
        conn.pragma_update(None, "synchronous", "FULL")?;
        in_write_tx(&mut conn, migrate)?;
        let wakers = Arc::new(Wakers::default());
        let writer_alive = Arc::new(AtomicBool::new(false));
        let (stopped, writer_stopped) = tokio::sync::watch::channel(());
        let writer = writer::spawn(conn, wakers.clone(), writer_alive.clone(), stopped)
            .map_err(|e| StoreError::Task(format!("cannot start the writer thread: {e}")))?;
        let manager =
            SqliteConnectionManager::file(path).with_init(move |c| configure(c, busy_timeout));
        let readers = Pool::builder()
            .max_size(options.pool_size)
            // A connection to a local file does not go stale; r2d2's check would run an
            // (empty) statement through SQLite's parser on every checkout.
            .test_on_check_out(false)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;
        Ok(Store {
            readers,
            read_permits: Arc::new(Semaphore::new(options.pool_size as usize)),
            writer,
            writer_alive,
            writer_stopped,
            wakers,
        })
    }

    /// Whether the writer thread is running (for the health check).
    pub fn writer_alive(&self) -> bool {
        self.writer_alive.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Completes when the writer thread has stopped (it only does if it died: it runs as long
    /// as the store is open).
    pub async fn writer_stopped(&self) {
        let mut stopped = self.writer_stopped.clone();
        while stopped.changed().await.is_ok() {}
    }

    /// The background workers' wake-up signals.
    pub fn wakers(&self) -> &Arc<Wakers> {
        &self.wakers
    }

    /// Runs a query closure with a reader connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Db) -> Result<T, StoreError> + Send + 'static,
    {
        let permit = self
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?;
        let readers = self.readers.clone();
        blocking(move || {
            let _permit = permit;
            let conn = readers.get()?;
            f(Db::of(&conn))
        })
        .await
    }

    /// Runs `f` in a write transaction on the writer thread; its changes are committed if it
    /// returns `Ok` (and the result comes back only once they are), rolled back otherwise.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        self.submit(writer::Command::Write(Box::new(writer::Job::new(f, reply))))?;
        result.await.map_err(|_| writer_gone())?
    }

    fn submit(&self, command: writer::Command) -> Result<(), StoreError> {
        self.writer.send(command).map_err(|_| writer_gone())
    }

    /// [`Store::read`] for a request: verifies the credential and runs `f` as that account,
    /// in the same database call (one trip to the blocking pool per request).
    pub async fn read_as<T, F>(
        &self,
        who: &Credential,
        now: Timestamp,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Db, AuthContext) -> Result<T, StoreError> + Send + 'static,
    {
        let who = who.clone();
        let (verified, value) = self
            .read(move |conn| {
                let verified = accounts::verify(conn, &who, now)?;
                Ok((verified, f(conn, verified.context)?))
            })
            .await?;
        self.touch(verified, now).await;
        Ok(value)
    }

    /// [`Store::write`] for a request: verifies the credential and runs `f` as that account,
    /// in the same transaction.
    pub async fn write_as<T, F>(
        &self,
        who: &Credential,
        now: Timestamp,
        f: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>, AuthContext) -> Result<T, StoreError> + Send + 'static,
    {
        let who = who.clone();
        self.write(move |tx| {
            let who = accounts::verify_and_touch(tx, &who, now)?.ok_or(StoreError::Unauthorized)?;
            f(tx, who)
        })
        .await
    }

    /// Refreshes a key's `last_used_at` after a read (at most once a minute per key, so the
    /// extra write is rare). A failure is logged, not reported: the request itself succeeded.
    async fn touch(&self, verified: accounts::Verified, now: Timestamp) {
        if !verified.touch {
            return;
        }
        let key_id = verified.context.key_id;
        if let Err(e) = self
            .write(move |tx| accounts::touch_api_key(tx, key_id, now))
            .await
        {
            log::warn!("recording API key use failed: {e}");
        }
    }

    /// [`Store::read`] on the current thread, for the command-line tools (no async runtime).
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Db) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.get()?;
        f(Db::of(&conn))
    }

    /// [`Store::write`] for the command-line tools, which have no async runtime. Must not be
    /// called from async code (it blocks the thread until the write is committed).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        self.submit(writer::Command::Write(Box::new(writer::Job::new(f, reply))))?;
        result.blocking_recv().map_err(|_| writer_gone())?
    }

    /// Moves the write-ahead log into the main file (after the writes queued before it), so
    /// that a stopped server leaves one self-contained file behind.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let (reply, result) = oneshot::channel();
        self.submit(writer::Command::Checkpoint(reply))?;
        result.await.map_err(|_| writer_gone())?
    }
}

fn writer_gone() -> StoreError {
    StoreError::Task("the writer thread has stopped".to_owned())
}

/// Runs `f` in an IMMEDIATE transaction on `conn` directly (schema migration at open, before
/// the writer thread exists).
fn in_write_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = Tx {
        tx: conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
        wake: Cell::new(WakeSet::default()),
    };
    let value = f(&tx)?;
    tx.tx.commit()?;
    Ok(value)
}

/// A background worker that a write can give work to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    /// The webhook delivery worker.
    Webhooks,
    /// The worker sending outgoing mail.
    Sends,
}

/// Which workers to wake after a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WakeSet {
    webhooks: bool,
    sends: bool,
}

/// The background workers' wake-up signals. A worker waits on its `Notify`; a write that
/// queued work for it notifies it right after the commit, so queued work starts at once
/// instead of at the next poll.
#[derive(Debug, Default)]
pub struct Wakers {
    /// New webhook deliveries.
    pub webhooks: Notify,
    /// New outgoing mail.
    pub sends: Notify,
}

impl Wakers {
    fn notify(&self, set: WakeSet) {
        if set.webhooks {
            self.webhooks.notify_one();
        }
        if set.sends {
            self.sends.notify_one();
        }
    }
}

/// A write transaction: rusqlite's [`Transaction`] plus the workers to wake once it commits
/// (waking them earlier would let them look before the rows are visible).
pub struct Tx<'c> {
    tx: Transaction<'c>,
    wake: Cell<WakeSet>,
}

impl Tx<'_> {
    /// Runs `f` in a savepoint: if it fails, its changes (and wake-ups) alone are undone and
    /// the rest of the transaction goes on; its own result is the inner one. The outer `Err` is
    /// the transaction's: the savepoint could not be taken or ended, or SQLite rolled back the
    /// whole transaction by itself (a full disk, an I/O error; [`StoreError::TransactionLost`]),
    /// and the caller must give up.
    pub fn part<T, E: std::fmt::Display>(
        &self,
        f: impl FnOnce(&Self) -> Result<T, E>,
    ) -> Result<Result<T, E>, StoreError> {
        self.sql().execute_batch("SAVEPOINT part")?;
        let wake_before = self.wake.get();
        let result = f(self);
        if result.is_err() && self.sql().is_autocommit() {
            let why = result.err().map(|e| e.to_string()).unwrap_or_default();
            return Err(StoreError::TransactionLost(why));
        }
        if result.is_ok() {
            self.sql().execute_batch("RELEASE part")?;
        } else {
            self.wake.set(wake_before);
            self.sql().execute_batch("ROLLBACK TO part; RELEASE part")?;
        }
        Ok(result)
    }

    /// Marks `worker` to be woken after this transaction commits.
    pub fn wake_after_commit(&self, worker: Worker) {
        let mut set = self.wake.get();
        match worker {
            Worker::Webhooks => set.webhooks = true,
            Worker::Sends => set.sends = true,
        }
        self.wake.set(set);
    }
}

impl Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        Db::ref_cast(&self.tx)
    }
}

impl Tx<'_> {
    /// The SQLite connection under the transaction (store code only).
    pub(in crate::store) fn sql(&self) -> &Connection {
        &self.tx
    }
}

/// The database as the store's functions read it: a reader connection ([`Store::read`]) or a
/// write transaction (a [`Tx`] derefs to it). Callers outside the store pass it on to store
/// functions; only the store itself reaches the connection inside.
#[derive(RefCast)]
#[repr(transparent)]
pub struct Db(Connection);

impl Db {
    /// The SQLite connection (store code only).
    pub(in crate::store) fn sql(&self) -> &Connection {
        &self.0
    }

    fn of(conn: &Connection) -> &Db {
        Db::ref_cast(conn)
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

fn migrate(tx: &Tx<'_>) -> Result<(), StoreError> {
    let supported = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
    let current: i64 = tx
        .sql()
        .query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (version, migration) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.sql().execute_batch(migration.sql)?;
        if let Some(step) = migration.then {
            step(tx)?;
        }
        tx.sql().pragma_update(None, "user_version", version)?;
        log::info!("database schema migrated to version {version}");
    }
    Ok(())
}

/// A store on a fresh file in a temporary directory (kept while the directory lives), for
/// unit tests.
#[cfg(test)]
pub(crate) fn temporary() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = StoreOptions {
        pool_size: 2,
        busy_timeout: Duration::from_millis(1000),
    };
    let store = Store::open(&dir.path().join("t.db"), &options).expect("a fresh store");
    (dir, store)
}

/// The `total` of a list query: `SELECT count(*) ...` as an unsigned count.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_twice_migrates_once_and_sets_the_pragmas() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let options = StoreOptions {
            pool_size: 2,
            busy_timeout: Duration::from_millis(1000),
        };
        let store = Store::open(&path, &options).unwrap();
        drop(store);
        let store = Store::open(&path, &options).unwrap();
        let (version, mode, fk): (i64, String, i64) = store
            .read_blocking(|c| {
                Ok(c.sql().query_row(
                    "SELECT (SELECT user_version FROM pragma_user_version),
                            (SELECT journal_mode FROM pragma_journal_mode),
                            (SELECT foreign_keys FROM pragma_foreign_keys)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?)
            })
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
        assert_eq!(mode, "wal");
        assert_eq!(fk, 1);
    }

    #[tokio::test]
    async fn writes_committed_together_fail_and_panic_alone() {
        let (_dir, store) = temporary();
        let insert = |name: &'static str| {
            let store = store.clone();
            async move {
                store
                    .write(move |tx| {
                        tx.sql().execute(
                            "INSERT INTO settings (name, value) VALUES (?1, x'00')",
                            [name],
                        )?;
                        Ok(())
                    })
                    .await
            }
        };
        let failing = store.write(|tx| {
            tx.sql().execute(
                "INSERT INTO settings (name, value) VALUES ('doomed', x'00')",
                [],
            )?;
            Err::<(), _>(StoreError::AddressTaken)
        });
        let panicking = store.write(|_tx| -> Result<(), StoreError> { panic!("boom") });
        let (a, f, p, b) = tokio::join!(insert("a"), failing, panicking, insert("b"));
        assert!(a.is_ok() && b.is_ok());
        assert!(matches!(f, Err(StoreError::AddressTaken)));
        assert!(p.is_err());
        let names: Vec<String> = store
            .read(|c| {
                let mut stmt = c.sql().prepare("SELECT name FROM settings ORDER BY name")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(
            names,
            ["a", "b"],
            "the failed and panicked jobs left nothing behind"
        );
        // The writer survived the panic.
        insert("c").await.unwrap();
    }

    #[test]
    fn version_1_attachments_are_cut_into_pieces_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let sizes = [0, 1, attachments::PIECE, attachments::PIECE + 1, 600_000];
        let contents: Vec<Vec<u8>> = sizes
            .iter()
            .map(|&n| (0..n).map(|i| (i * 7 % 253) as u8).collect())
            .collect();
        let ids: Vec<crate::domain::AttachmentId> = sizes
            .iter()
            .map(|_| crate::domain::AttachmentId::new())
            .collect();
        let account = crate::domain::AccountId::new();
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(MIGRATIONS[0].sql).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute(
                "INSERT INTO accounts (id, name, email, plan, daily_send_limit, created_at,
                     updated_at)
                 VALUES (?1, 'A', 'a@example.com', 'free', 10, 0, 0)",
                [account],
            )
            .unwrap();
            for (id, content) in ids.iter().zip(&contents) {
                conn.execute(
                    "INSERT INTO attachments (id, account_id, filename, content_type, size,
                         sha256, created_at, content)
                     VALUES (?1, ?2, 'f', 'x/y', ?3, '', 0, ?4)",
                    rusqlite::params![id, account, content.len() as i64, content],
                )
                .unwrap();
            }
        }
        let store = Store::open(
            &path,
            &StoreOptions {
                pool_size: 1,
                busy_timeout: Duration::from_millis(1000),
            },
        )
        .unwrap();
        for (id, content) in ids.into_iter().zip(contents) {
            let (pieces, whole) = store
                .read_blocking(move |c| {
                    let mut pieces = Vec::new();
                    let mut seq = 0;
                    while let Some(p) = attachments::read_piece(c, id, seq)? {
                        pieces.push(p.len());
                        seq += 1;
                    }
                    Ok((pieces, attachments::with_content(c, account, id)?.1))
                })
                .unwrap();
            assert!(whole == content, "{} bytes", content.len());
            assert_eq!(pieces.iter().sum::<usize>(), content.len());
            assert!(pieces.iter().all(|&n| n > 0 && n <= attachments::PIECE));
        }
    }

    #[test]
    fn a_database_from_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        let options = StoreOptions {
            pool_size: 1,
            busy_timeout: Duration::from_millis(100),
        };
        assert!(matches!(
            Store::open(&path, &options),
            Err(StoreError::SchemaTooNew { found: 99, .. })
        ));
    }
}
