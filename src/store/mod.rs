//! The only module that holds SQL, and the only one that knows the database is SQLite. Plain
//! functions taking a [`Db`] (reads) or a [`Tx`] (writes), one module per resource, and
//! [`Store::read`] / [`Store::write`] to call them on the blocking pool or the writer thread.
//! See `docs/architecture.md`.

pub mod accounts;
pub mod attachments;
pub mod backup;
mod checkpointer;
mod codec;
mod conn;
pub mod copy;
pub mod domains;
pub mod drafts;
mod error;
pub mod events;
pub mod idempotency;
pub mod inboxes;
pub mod jobs;
pub mod labels;
mod lock;
pub mod maintenance;
pub mod messages;
mod migrate;
pub mod outbound;
mod page;
mod pool;
mod postgres;
pub mod rate_limits;
pub mod retention;
pub mod search;
pub mod sender_lists;
pub mod settings;
mod sql;
mod unit;
mod wake;
pub mod webhooks;
mod writer;

pub use conn::Engine;
pub use error::{Failure, StoreError};
pub use lock::ServeLock;
pub use unit::{Db, Tx};
pub use wake::{Queue, Wake, Wakers};
pub use writer::WriterMetrics;

use crate::domain::Refusal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::Sender;
use std::time::Duration;

use r2d2::Pool;
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;

use conn::Sql;
use pool::Readers;
use rusqlite::config::DbConfig;
use tokio::sync::{Semaphore, oneshot};

use crate::domain::{AuthContext, Caller, Credential, Timestamp};

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
    readers: Readers,
    read_permits: Arc<Semaphore>,
    writer: Sender<writer::Command>,
    writer_alive: Arc<AtomicBool>,
    writer_stopped: tokio::sync::watch::Receiver<()>,
    wakers: Arc<Wakers>,
    writer_metrics: Arc<std::sync::OnceLock<WriterMetrics>>,
}

/// The write-ahead log beside the database file `db` (SQLite names it `<db>-wal`).
pub fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    name.into()
}

/// Applies the connection settings; the one place they are set.
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
    pub fn open(path: &Path, options: &StoreOptions) -> Result<Store, Failure> {
        let busy_timeout = options.busy_timeout;
        let conn = Connection::open(path)?;
        // A new file gives freed pages back to the file system when the janitor asks
        // (retention); SQLite only takes this before the file is initialised (before WAL mode
        // is set). Older files are switched by the server at start-up
        // (`retention::enable_incremental_vacuum`).
        let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if tables == 0 {
            conn.pragma_update(None, "auto_vacuum", "INCREMENTAL")?;
        }
        configure(&conn, busy_timeout)?;
        // The writer's commits are fsynced: once a write has reported success (an SMTP 250,
        // a 202 for a send) it survives a power cut, not only a crash of this process. With
        // group commit the cost is shared by the writes committed together.
        conn.pragma_update(None, "synchronous", "FULL")?;
        // The checkpointer thread moves the log into the file, not the writer (see there).
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        unit::in_write_tx(Sql::Lite(&conn), migrate::migrate)?;
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
        Store::start(
            conn::Connection::Lite(conn),
            Readers::Lite(readers),
            options,
            Some(path),
        )
    }

    /// Starts the writer thread (and for a file its checkpointer) on a migrated database.
    fn start(
        writer_conn: conn::Connection,
        readers: Readers,
        options: &StoreOptions,
        file: Option<&Path>,
    ) -> Result<Store, Failure> {
        let wakers = Arc::new(Wakers::default());
        let writer_alive = Arc::new(AtomicBool::new(false));
        let commits = Arc::new(checkpointer::Commits::default());
        let (stopped, writer_stopped) = tokio::sync::watch::channel(());
        let writer_metrics = Arc::new(std::sync::OnceLock::new());
        let writer = writer::spawn(
            writer_conn,
            wakers.clone(),
            commits.clone(),
            writer_alive.clone(),
            stopped,
            writer_metrics.clone(),
        )
        .map_err(|e| Failure::task(format!("cannot start the writer thread: {e}")))?;
        if let Some(path) = file {
            let busy_timeout = options.busy_timeout;
            checkpointer::spawn(
                path,
                move |c| configure(c, busy_timeout),
                commits,
                writer_alive.clone(),
            )?;
        }
        Ok(Store {
            readers,
            read_permits: Arc::new(Semaphore::new(options.pool_size as usize)),
            writer,
            writer_alive,
            writer_stopped,
            wakers,
            writer_metrics,
        })
    }

    /// Opens the PostgreSQL database at `url` (a `postgres://` URL), creating the schema in an
    /// empty database or bringing it up to date. Several nodes may open the same database.
    /// `ca_file` (PEM) adds certificate authorities to trust for TLS besides the usual roots.
    pub fn open_postgres(
        url: &str,
        options: &StoreOptions,
        ca_file: Option<&Path>,
    ) -> Result<Store, Failure> {
        let config: ::postgres::Config = url
            .parse()
            .map_err(|e| Failure::Store(StoreError::Database(Box::new(e))))?;
        let manager = postgres::PgManager::new(config, ca_file)
            .map_err(|e| Failure::Store(StoreError::Database(e.into())))?;
        // The synchronous client runs a runtime of its own for each connection, which cannot
        // be started inside the server's: connections are made on a thread of their own.
        let options = options.clone();
        std::thread::spawn(move || Store::start_postgres(&manager, &options))
            .join()
            .map_err(|_| Failure::task("opening the PostgreSQL database panicked"))?
    }

    fn start_postgres(
        manager: &postgres::PgManager,
        options: &StoreOptions,
    ) -> Result<Store, Failure> {
        let writer_conn = manager.open().map_err(pg_failure)?;
        {
            // One node migrates at a time; the others wait for it and find the schema current.
            let sql = Sql::Pg(&writer_conn);
            sql.execute_batch(&format!(
                "SELECT pg_advisory_lock({})",
                unit::MIGRATION_LOCK
            ))?;
            let migrated = unit::in_write_tx(sql, migrate::migrate);
            sql.execute_batch(&format!(
                "SELECT pg_advisory_unlock({})",
                unit::MIGRATION_LOCK
            ))?;
            migrated?;
        }
        let readers = Pool::builder()
            .max_size(options.pool_size)
            // A check on every checkout costs a round trip per read; a connection the server
            // closed is found by `has_broken` and replaced instead.
            .test_on_check_out(false)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .build(manager.clone())?;
        let store = Store::start(
            conn::Connection::Pg(Box::new(writer_conn)),
            Readers::Pg(readers, Box::new(manager.clone())),
            options,
            None,
        )?;
        postgres::listen(manager.clone(), Arc::downgrade(&store.wakers))
            .map_err(|e| Failure::task(format!("cannot start the wake-up listener: {e}")))?;
        Ok(store)
    }

    /// Runs `work` unless another node sharing the database is running its own at the moment:
    /// `None` then, and `work` is dropped unstarted. On SQLite one server owns the file (see
    /// [`ServeLock`]), so it always runs. On PostgreSQL a session advisory lock marks the turn,
    /// on a connection of its own (outside the readers' pool) that closes with the turn: a node
    /// whose work panics, is dropped unfinished or dies with the node gives the turn back as
    /// its session ends. There is one such turn, the janitor's pass (`unit::JANITOR_LOCK`).
    pub async fn one_node_at_a_time<T>(
        &self,
        work: impl Future<Output = T>,
    ) -> Result<Option<T>, Failure> {
        let Readers::Pg(_, manager) = &self.readers else {
            return Ok(Some(work.await));
        };
        let manager = postgres::PgManager::clone(manager);
        let turn = blocking(move || {
            let session = manager.open().map_err(pg_failure)?;
            let mine: bool = Sql::Pg(&session).query_row(
                "SELECT pg_try_advisory_lock(?1)",
                [unit::JANITOR_LOCK],
                |r| r.get(0),
            )?;
            Ok(mine.then_some(session))
        })
        .await?;
        let Some(session) = turn else {
            return Ok(None);
        };
        let done = work.await;
        // Unlocked before it closes, so that a node asking next finds it free at once.
        blocking(move || {
            let unlock = format!("SELECT pg_advisory_unlock({})", unit::JANITOR_LOCK);
            Ok(Sql::Pg(&session).execute_batch(&unlock)?)
        })
        .await?;
        Ok(Some(done))
    }

    /// The database engine behind this store.
    pub fn engine(&self) -> Engine {
        match self.readers {
            Readers::Lite(_) => Engine::Sqlite,
            Readers::Pg(..) => Engine::Postgres,
        }
    }

    /// Reports the writer's queue and commit batches to these metrics from now on.
    pub fn attach_metrics(&self, metrics: WriterMetrics) {
        // Attached once, at start-up; a second call changes nothing.
        let _ = self.writer_metrics.set(metrics);
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
    pub async fn read<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Db) -> Result<T, Failure> + Send + 'static,
    {
        let permit = self
            .read_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Failure::task(e.to_string()))?;
        let readers = self.readers.clone();
        blocking(move || {
            let _permit = permit;
            let conn = readers.get()?;
            f(&Db::of(conn.sql()))
        })
        .await
    }

    /// Runs `f` in a write transaction on the writer thread; its changes are committed if it
    /// returns `Ok` (and the result comes back only once they are), rolled back otherwise.
    pub async fn write<T, F>(&self, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>) -> Result<T, Failure> + Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        self.submit(writer::Command::Write(Box::new(writer::Job::new(f, reply))))?;
        result.await.map_err(|_| writer_gone())?
    }

    fn submit(&self, command: writer::Command) -> Result<(), Failure> {
        let metrics = self.writer_metrics.get();
        if let (Some(m), writer::Command::Write(_)) = (metrics, &command) {
            m.queued.inc();
        }
        self.writer.send(command).map_err(|_| {
            if let Some(m) = metrics {
                m.queued.dec();
            }
            writer_gone()
        })
    }

    /// Verifies `credential` alone (any live key; no scope needed).
    pub async fn verify(
        &self,
        credential: &Credential,
        now: Timestamp,
    ) -> Result<AuthContext, Failure> {
        let caller = Caller::needing(credential.clone(), &[]);
        self.read_as(&caller, now, |_, who| Ok(who)).await
    }

    /// [`Store::read`] for a request: verifies the credential and runs `f` as that account,
    /// in the same database call (one trip to the blocking pool per request).
    pub async fn read_as<T, F>(&self, who: &Caller, now: Timestamp, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Db, AuthContext) -> Result<T, Failure> + Send + 'static,
    {
        let who = who.clone();
        let (verified, value) = self
            .read(move |conn| {
                let verified = accounts::verify(conn, &who.credential, now)?;
                who.allowed(&verified.context)?;
                Ok((verified, f(conn, verified.context)?))
            })
            .await?;
        self.touch(verified, now).await;
        Ok(value)
    }

    /// [`Store::write`] for a request: verifies the credential and runs `f` as that account,
    /// in the same transaction.
    pub async fn write_as<T, F>(&self, who: &Caller, now: Timestamp, f: F) -> Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Tx<'_>, AuthContext) -> Result<T, Failure> + Send + 'static,
    {
        let caller = who.clone();
        self.write(move |tx| {
            let who = accounts::verify_and_touch(tx, &caller.credential, now)?
                .ok_or(Failure::Refused(Refusal::Unauthorized))?;
            caller.allowed(&who)?;
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
        f: impl FnOnce(&Db) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let conn = self.readers.get()?;
        f(&Db::of(conn.sql()))
    }

    /// [`Store::write`] for the command-line tools, which have no async runtime. Must not be
    /// called from async code (it blocks the thread until the write is committed).
    pub fn write_blocking<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure>
    where
        T: Send + 'static,
    {
        let (reply, result) = oneshot::channel();
        self.submit(writer::Command::Write(Box::new(writer::Job::new(f, reply))))?;
        result.blocking_recv().map_err(|_| writer_gone())?
    }

    /// Runs `sql` (SQLite's text, `?N` parameters) as one write on either engine, outside the
    /// store's operations; the number of rows it changed. For test suites and tools that set
    /// up or look at a row the API does not reach; never used by the server itself. Blocks
    /// the thread (see [`Store::write_blocking`]).
    #[doc(hidden)]
    pub fn execute_raw_blocking(
        &self,
        sql: &str,
        params: Vec<rusqlite::types::Value>,
    ) -> Result<usize, Failure> {
        let sql = sql.to_owned();
        self.write_blocking(move |tx| {
            if params.is_empty() {
                tx.sql().execute_batch(&sql)?;
                return Ok(0);
            }
            let values: Vec<&dyn rusqlite::ToSql> =
                params.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
            Ok(tx.sql().execute(&sql, values.as_slice())?)
        })
    }

    /// Runs the query `sql` (SQLite's text) on either engine and returns its rows: the
    /// counterpart of [`Store::execute_raw_blocking`].
    #[doc(hidden)]
    pub fn query_raw_blocking(
        &self,
        sql: &str,
        params: Vec<rusqlite::types::Value>,
    ) -> Result<Vec<Vec<rusqlite::types::Value>>, Failure> {
        self.read_blocking(|db| {
            let values: Vec<&dyn rusqlite::ToSql> =
                params.iter().map(|v| v as &dyn rusqlite::ToSql).collect();
            let mut statement = db.sql().prepare(sql)?;
            let columns = statement.column_count();
            let rows = statement
                .query_map(values.as_slice(), |row| {
                    (0..columns)
                        .map(|i| row.get::<_, rusqlite::types::Value>(i))
                        .collect::<rusqlite::Result<Vec<_>>>()
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    /// Moves the write-ahead log into the main file (after the writes queued before it), so
    /// that a stopped server leaves one self-contained file behind.
    pub async fn checkpoint(&self) -> Result<(), Failure> {
        let (reply, result) = oneshot::channel();
        self.submit(writer::Command::Checkpoint(reply))?;
        Ok(result.await.map_err(|_| writer_gone())??)
    }
}

fn pg_failure(e: ::postgres::Error) -> Failure {
    Failure::Store(StoreError::Database(Box::new(postgres::PgError(e))))
}

fn writer_gone() -> Failure {
    Failure::task("the writer thread has stopped")
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::task(e.to_string()))?
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
    use super::migrate::MIGRATIONS;
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
            Err::<(), _>(Failure::Refused(Refusal::AddressTaken))
        });
        let panicking = store.write(|_tx| -> Result<(), Failure> { panic!("boom") });
        let (a, f, p, b) = tokio::join!(insert("a"), failing, panicking, insert("b"));
        assert!(a.is_ok() && b.is_ok());
        assert!(matches!(f, Err(Failure::Refused(Refusal::AddressTaken))));
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
    fn version_7_gives_every_pending_domain_a_check_job_and_settled_ones_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let account = crate::domain::AccountId::new();
        let (pending, verified) = (
            crate::domain::DomainId::new(),
            crate::domain::DomainId::new(),
        );
        {
            let conn = Connection::open(&path).unwrap();
            for m in &MIGRATIONS[..6] {
                conn.execute_batch(m.sql).unwrap();
            }
            conn.pragma_update(None, "user_version", 6).unwrap();
            conn.execute(
                "INSERT INTO accounts (id, name, email, plan, daily_send_limit, created_at,
                     updated_at)
                 VALUES (?1, 'A', 'a@example.com', 'free', 10, 0, 0)",
                [account],
            )
            .unwrap();
            for (id, name, sending, receiving) in [
                (pending, "p.example", "pending_dkim", "verified"),
                (verified, "v.example", "verified", "verified"),
            ] {
                conn.execute(
                    "INSERT INTO domains (id, account_id, domain, verification_token, dkim_selector,
                         dkim_algorithm, dkim_private_key, dkim_public_key, sending_status,
                         receiving_status, last_checked_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 't', 's', 'rsa', x'00', 'k', ?4, ?5, 5000, 0, 0)",
                    rusqlite::params![id, account, name, sending, receiving],
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
        let jobs: Vec<(String, String, i64)> = store
            .read_blocking(|db| {
                let mut stmt = db
                    .sql()
                    .prepare("SELECT kind, payload, run_at FROM jobs WHERE status = 'pending'")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
            .unwrap();
        assert_eq!(
            jobs,
            [(
                domains::DOMAIN_CHECK_JOB.to_owned(),
                domains::DomainCheckJob::of(account, pending),
                5000
            )]
        );
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
            Err(Failure::Store(StoreError::SchemaTooNew { found: 99, .. }))
        ));
    }
}
