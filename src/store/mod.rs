//! The only module that holds SQL. Plain functions taking `&Connection` / `&Transaction`,
//! one file per table group, and [`Store::run`] to call them on the blocking pool.

pub mod accounts;
pub mod domains;
pub mod idempotency;
pub mod inboxes;
pub mod maintenance;
pub mod rate_limits;
mod sql;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::domain::ValidationErrors;

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
    /// Pooled connections.
    pub pool_size: u32,
    /// How long a connection waits on a lock.
    pub busy_timeout: Duration,
}

/// A pool of SQLite connections to one file.
///
/// Work is submitted as a closure that runs on tokio's blocking pool, so that no transaction is
/// ever held across an `.await`: [`Store::read`] for queries, [`Store::write`] for changes.
/// Writes run in an IMMEDIATE transaction (deferred read-then-write transactions can fail with
/// SQLITE_BUSY whatever the busy timeout) and, within this process, one at a time behind a
/// lock: waiting on a lock is a queue, whereas SQLite's busy handler sleeps up to 100 ms per
/// retry, which under load turned into second-long tail latencies. The busy timeout still
/// covers other processes (the CLI) writing to the same file.
#[derive(Clone)]
pub struct Store {
    pool: Pool<SqliteConnectionManager>,
    write_lock: Arc<Mutex<()>>,
}

impl Store {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Store, StoreError> {
        let busy_ms = options.busy_timeout.as_millis();
        // Every connection gets the same settings here and nowhere else (DESIGN rule 8).
        // journal_mode returns a row, so it must go through execute_batch.
        let manager = SqliteConnectionManager::file(path).with_init(move |c| {
            c.execute_batch(&format!(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = NORMAL;
                 PRAGMA foreign_keys = ON;
                 PRAGMA busy_timeout = {busy_ms};"
            ))
        });
        let pool = Pool::builder()
            .max_size(options.pool_size)
            // Open connections lazily but keep one ready; fail fast on a bad path.
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;
        let store = Store {
            pool,
            write_lock: Arc::new(Mutex::new(())),
        };
        store.write_blocking(migrate)?;
        Ok(store)
    }

    /// Runs a query closure with a pooled connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        blocking(move || store.read_blocking(f)).await
    }

    /// Runs `f` in a write transaction on the blocking pool; commits if it returns `Ok`.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        blocking(move || store.write_blocking(f)).await
    }

    /// [`Store::read`] on the current thread (for the command-line tools and start-up).
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = self.pool.get()?;
        f(&conn)
    }

    /// [`Store::write`] on the current thread (for the command-line tools and start-up).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.pool.get()?;
        // The guarded value is (), so a panic in another writer leaves nothing inconsistent
        // behind (its transaction was rolled back when it unwound): ignore the poison.
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// Moves the write-ahead log into the main file, so that a stopped server leaves one
    /// self-contained file behind.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let conn = self.pool.get()?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
        Ok(())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
}

fn migrate(tx: &Transaction<'_>) -> Result<(), StoreError> {
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
