//! What can go wrong in the store: [`StoreError`], failures of the storage alone, and
//! [`Failure`], what a store operation ends with when it does not succeed (a rule refused it,
//! or the storage failed).

use crate::domain::Refusal;
use crate::domain::sandbox::ClaimRequired;

/// A failure of the storage: the database, its connections, the writer thread, or data that
/// cannot be read back. Never a business outcome (those are [`Refusal`]s).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A background job's lease ran out while its worker was at it, and another attempt took
    /// it over; this attempt's results are not recorded.
    #[error("the job was taken over by another attempt")]
    ClaimLost,
    /// SQLite rolled back the whole transaction by itself (a full disk, an I/O error): nothing
    /// more may be written in it.
    #[error("the transaction was rolled back: {0}")]
    TransactionLost(String),
    /// The database failed, or no connection could be had (the backend's own error, kept
    /// opaque: callers only report it).
    #[error("database: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
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

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(Box::new(e))
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        Self::Database(Box::new(e))
    }
}

/// Why a store operation did not succeed: a rule refused it, or the storage failed.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A rule of the service refused it (reported to the client as such).
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The storage failed (an internal error).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Something else failed inside the operation (a key that cannot be made, a value that
    /// cannot be serialized): an internal error that is not the storage's.
    #[error("{0}")]
    Internal(String),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<r2d2::Error> for Failure {
    fn from(e: r2d2::Error) -> Self {
        Self::Store(e.into())
    }
}

impl From<ClaimRequired> for Failure {
    fn from(e: ClaimRequired) -> Self {
        Self::Refused(e.into())
    }
}

impl Failure {
    /// A blocking task of the store that died, described by `what`.
    pub fn task(what: impl Into<String>) -> Self {
        Self::Store(StoreError::Task(what.into()))
    }

    /// A stored value that cannot be read back.
    pub fn corrupt(what: impl Into<String>) -> Self {
        Self::Store(StoreError::Corrupt(what.into()))
    }
}
