//! What can go wrong in the store.

use crate::domain::ValidationErrors;

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
