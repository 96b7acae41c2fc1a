//! The only module that holds SQL. Plain functions taking `&Connection` (reads) or `&Tx`
//! (writes),
//! one file per table group, and [`Store::read`] / [`Store::write`] to call them on the
//! blocking pool.

pub mod accounts;
pub mod domains;
pub mod idempotency;
pub mod inboxes;
pub mod maintenance;
pub mod messages;
pub mod rate_limits;
mod sql;
pub mod webhooks;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use std::cell::Cell;
use std::ops::Deref;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::Notify;
use tokio::sync::Semaphore;

use crate::domain::{AuthContext, Credential, Timestamp, ValidationErrors};

/// The schema and its numbered migrations: entry `i` brings a database to `user_version` i+1.
const MIGRATIONS: &[&str] = &[include_str!("../../schema.sql")];

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
    /// The custom domain is not verified for sending.
    #[error("domain not verified")]
    DomainNotVerified,
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

/// The SQLite file: one writer connection and a pool of readers.
///
/// Work is submitted as a closure that runs on tokio's blocking pool, so that no transaction is
/// ever held across an `.await`: [`Store::read`] for queries, [`Store::write`] for changes.
///
/// SQLite allows one writer at a time, so this process has exactly one writer connection,
/// taken in turn through an async lock: writers queue without occupying threads, instead of
/// contending inside SQLite, whose busy handler sleeps up to 100 ms per retry (under load that
/// meant second-long tail latencies). Reads run concurrently on the pool (WAL readers never
/// wait for the writer), at most `pool_size` at once, again queued in async code rather than
/// as parked threads. The busy timeout still covers other processes, such as the CLI, that
/// write to the same file.
#[derive(Clone)]
pub struct Store {
    readers: Pool<SqliteConnectionManager>,
    read_permits: Arc<Semaphore>,
    writer: Arc<tokio::sync::Mutex<Connection>>,
    wakers: Arc<Wakers>,
}

/// Applies the connection settings (DESIGN rule 8); the one place they are set.
fn configure(conn: &Connection, busy_timeout: Duration) -> rusqlite::Result<()> {
    // journal_mode returns a row, so it must go through execute_batch.
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA busy_timeout = {};",
        busy_timeout.as_millis()
    ))
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let busy_timeout = options.busy_timeout;
        let mut writer = Connection::open(path)?;
        configure(&writer, busy_timeout)?;
        in_write_tx(&mut writer, migrate)?;
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
            writer: Arc::new(tokio::sync::Mutex::new(writer)),
            wakers: Arc::new(Wakers::default()),
        })
    }

    /// The background workers' wake-up signals.
    pub fn wakers(&self) -> &Arc<Wakers> {
        &self.wakers
    }

    /// Runs a query closure with a reader connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
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
            f(&conn)
        })
        .await
    }

    /// Runs `f` in an IMMEDIATE write transaction on the blocking pool; commits if it returns
    /// `Ok`, rolls back otherwise.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let mut writer = self.writer.clone().lock_owned().await;
        let wakers = self.wakers.clone();
        blocking(move || {
            let (value, wake) = in_write_tx(&mut writer, f)?;
            // Here rather than after the await: the caller may be gone by then, and the
            // committed work must not wait for the worker's next timer.
            wakers.notify(wake);
            Ok(value)
        })
        .await
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
        F: FnOnce(&Connection, AuthContext) -> Result<T, StoreError> + Send + 'static,
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
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.readers.get()?;
        f(&conn)
    }

    /// [`Store::write`] on the current thread, for the command-line tools. Must not be called
    /// from async code (it would block the executor, and tokio refuses).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut writer = self.writer.blocking_lock();
        // Wake-ups are for this process's workers; the CLI has none (a running server's
        // workers find the work on their next pass).
        in_write_tx(&mut writer, f).map(|(value, _)| value)
    }

    /// Moves the write-ahead log into the main file, so that a stopped server leaves one
    /// self-contained file behind.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        let writer = self.writer.clone().lock_owned().await;
        blocking(move || Ok(writer.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?)).await
    }
}

/// IMMEDIATE, because deferred transactions that read and then write can fail with
/// SQLITE_BUSY whatever the busy timeout. Returns the value and the workers to wake.
fn in_write_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Tx<'_>) -> Result<T, StoreError>,
) -> Result<(T, WakeSet), StoreError> {
    let tx = Tx {
        tx: conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
        wake: Cell::new(WakeSet::default()),
    };
    let value = f(&tx)?;
    let wake = tx.wake.get();
    tx.tx.commit()?;
    Ok((value, wake))
}

/// A background worker that a write can give work to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Worker {
    /// The webhook delivery worker.
    Webhooks,
}

/// Which workers to wake after a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct WakeSet {
    webhooks: bool,
}

/// The background workers' wake-up signals. A worker waits on its `Notify`; a write that
/// queued work for it notifies it right after the commit, so queued work starts at once
/// instead of at the next poll.
#[derive(Debug, Default)]
pub struct Wakers {
    /// New webhook deliveries.
    pub webhooks: Notify,
}

impl Wakers {
    fn notify(&self, set: WakeSet) {
        if set.webhooks {
            self.webhooks.notify_one();
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
    /// Marks `worker` to be woken after this transaction commits.
    pub fn wake_after_commit(&self, worker: Worker) {
        let mut set = self.wake.get();
        match worker {
            Worker::Webhooks => set.webhooks = true,
        }
        self.wake.set(set);
    }
}

impl<'c> Deref for Tx<'c> {
    type Target = Transaction<'c>;
    fn deref(&self) -> &Transaction<'c> {
        &self.tx
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
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > supported {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported,
        });
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", version)?;
        log::info!("database schema migrated to version {version}");
    }
    Ok(())
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
                Ok(c.query_row(
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
