//! Mail: parsing inbound MIME, the one ingestion path from raw bytes to stored messages, and
//! the SMTP listener.

pub mod ingest;
pub mod parse;
pub mod smtp;
