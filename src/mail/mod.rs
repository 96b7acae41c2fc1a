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
