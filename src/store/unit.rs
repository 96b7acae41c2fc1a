//! The unit of work: a write transaction ([`Tx`]) and the database as reads see it ([`Db`]).
//! Callers outside the store hold these and pass them to store functions; the SQLite
//! connection inside is only reachable from the store.

use std::cell::Cell;
use std::ops::Deref;

use ref_cast::RefCast;
use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::wake::{Queue, WakeSet};
use super::{Failure, StoreError};

/// Runs `f` in an IMMEDIATE transaction on `conn` directly (schema migration at open, before
/// the writer thread exists).
pub(super) fn in_write_tx<T>(
    conn: &mut Connection,
    f: impl FnOnce(&Tx<'_>) -> Result<T, Failure>,
) -> Result<T, Failure> {
    let tx = Tx {
        tx: conn.transaction_with_behavior(TransactionBehavior::Immediate)?,
        wake: Cell::new(WakeSet::default()),
    };
    let value = f(&tx)?;
    tx.tx.commit()?;
    Ok(value)
}

/// A write transaction: rusqlite's [`Transaction`] plus the queues to wake once it commits
/// (waking them earlier would let them look before the rows are visible).
pub struct Tx<'c> {
    pub(super) tx: Transaction<'c>,
    pub(super) wake: Cell<WakeSet>,
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

    /// Marks `queue` to be woken after this transaction commits.
    pub fn wake_after_commit(&self, queue: Queue) {
        self.wake.set(self.wake.get().with(queue));
    }
}

impl Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        Db::ref_cast(&self.tx)
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

    pub(super) fn of(conn: &Connection) -> &Db {
        Db::ref_cast(conn)
    }
}
