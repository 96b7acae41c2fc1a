//! Mail: parsing inbound MIME, the one ingestion path from raw bytes to stored messages, and
//! the SMTP listener.

pub mod auth;
pub mod compose;
pub mod dkim;
pub mod ingest;
pub mod outbound;
pub mod parse;
pub mod send;
pub mod smtp;

use crate::store::Failure;

/// What goes wrong in handling mail itself, apart from the store.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A message could not be built.
    #[error("composing a message: {0}")]
    Compose(String),
    /// A message could not be signed.
    #[error("DKIM signing: {0}")]
    Signing(String),
    /// The blocking task that parses and checks a message died.
    #[error("the message task failed: {0}")]
    Task(String),
    /// The store refused the change or failed.
    #[error(transparent)]
    Store(#[from] Failure),
}

impl From<crate::store::StoreError> for MailError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Store(e.into())
    }
}
