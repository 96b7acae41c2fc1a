//! The unit of work: a write transaction ([`Tx`]) and the database as reads see it ([`Db`]).
//! Callers outside the store hold these and pass them to store functions; the connection
//! inside is only reachable from the store.

use std::cell::Cell;
use std::ops::Deref;

use super::conn::{Engine, Sql};
use super::wake::{Queue, WakeSet};
use super::{Failure, StoreError};

/// Every write transaction on PostgreSQL takes this transaction-level advisory lock first:
/// writes of all nodes then run one at a time, as SQLite runs them, so every operation keeps
/// the semantics it has on SQLite (checks then changes, counters, sequences). Each node's
/// writer thread runs one such transaction per write (see `writer.rs`).
pub(super) const WRITE_LOCK: i64 = 0x6167_656e_7473_656e; // "agentsen"

/// PostgreSQL's notification channel for wake-ups across nodes (see `postgres.rs`).
pub(super) const WAKE_CHANNEL: &str = "agentsend_wake";

/// The session-level advisory lock a node holds while it makes a janitor pass (see
/// [`super::Store::one_node_at_a_time`]).
pub(super) const JANITOR_LOCK: i64 = 0x6167_656e_7473_6a6e; // "agentsjn"

/// The session-level advisory lock a node holds while it checks and migrates the schema.
pub(super) const MIGRATION_LOCK: i64 = 0x6167_656e_7473_6d67; // "agentsmg"

/// Runs `f` in a write transaction on `sql` directly (schema migration at open, before the
/// writer thread exists).
pub(super) fn in_write_tx<T>(
    sql: Sql<'_>,
    f: impl FnOnce(&Tx<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let tx = Tx::begin(sql)?;
    let value = f(&tx)?;
    tx.commit()?;
    Ok(value)
}

/// A write transaction, plus the queues to wake once it commits (waking them earlier would
/// let them look before the rows are visible). Rolled back if dropped before
/// [`Tx::commit`].
pub struct Tx<'c> {
    db: Db<'c>,
    pub(super) wake: Cell<WakeSet>,
    open: Cell<bool>,
}

impl<'c> Tx<'c> {
    /// Begins a write transaction: SQLite's IMMEDIATE one (the write lock from the start), or
    /// PostgreSQL's with the [`WRITE_LOCK`].
    pub(super) fn begin(sql: Sql<'c>) -> Result<Tx<'c>, StoreError> {
        match sql.engine() {
            Engine::Sqlite => sql.execute_batch("BEGIN IMMEDIATE")?,
            Engine::Postgres => sql.execute_batch(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK})"
            ))?,
        }
        Ok(Tx {
            db: Db(sql),
            wake: Cell::new(WakeSet::default()),
            open: Cell::new(true),
        })
    }

    /// Commits it. On PostgreSQL the queues it wakes are also announced to every node
    /// ([`WAKE_CHANNEL`]), with the commit (a NOTIFY is delivered when its transaction
    /// commits, and never if it rolls back).
    pub(super) fn commit(self) -> Result<(), StoreError> {
        let wake = self.wake.get();
        if self.db.sql().engine() == Engine::Postgres && !wake.is_empty() {
            self.db.sql().execute(
                "SELECT pg_notify(?1, ?2)",
                [WAKE_CHANNEL, &wake.to_payload()],
            )?;
        }
        self.open.set(false);
        Ok(self.db.sql().execute_batch("COMMIT")?)
    }

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
        if result.is_err() && !self.sql().in_transaction() {
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

    /// Marks `queue` to be woken after this transaction commits.
    pub fn wake_after_commit(&self, queue: Queue) {
        self.wake.set(self.wake.get().with(queue));
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open.get()
            && self.db.sql().in_transaction()
            && let Err(e) = self.db.sql().execute_batch("ROLLBACK")
        {
            log::warn!("rolling back a transaction failed: {e}");
        }
    }
}

impl<'c> Deref for Tx<'c> {
    type Target = Db<'c>;
    fn deref(&self) -> &Db<'c> {
        &self.db
    }
}

/// The database as the store's functions read it: a reader connection ([`Store::read`]) or a
/// write transaction (a [`Tx`] derefs to it). Callers outside the store pass it on to store
/// functions; only the store itself reaches the connection inside.
///
/// [`Store::read`]: super::Store::read
pub struct Db<'c>(Sql<'c>);

impl<'c> Db<'c> {
    /// The connection (store code only).
    pub(in crate::store) fn sql(&self) -> &Sql<'c> {
        &self.0
    }

    pub(super) fn of(sql: Sql<'c>) -> Db<'c> {
        Db(sql)
    }
}
