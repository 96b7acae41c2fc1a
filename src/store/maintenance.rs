//! Health checks and housekeeping, and a test fixture's reset.

use rusqlite::params;

use super::{Db, Failure, Tx};
use crate::domain::AccountId;

/// Proves the database answers (for `GET /health`).
pub fn ping(conn: &Db) -> Result<(), Failure> {
    conn.sql()
        .prepare_cached("SELECT 1")?
        .query_row([], |_| Ok(()))?;
    Ok(())
}

/// Empties the database back to one account and one of its keys (a test fixture's reset):
/// every other account and key, and every inbox, message, attachment, domain, webhook, event,
/// job, stored idempotent response and rate-limit counter, go; the account's usage counters
/// start again from zero. Settings (the link-signing secrets) stay.
pub fn reset_to(tx: &Tx<'_>, account_id: AccountId, key_hash: &str) -> Result<(), Failure> {
    // Children first, whatever the foreign keys cascade.
    tx.sql().execute_batch(
        "DELETE FROM webhook_attempts;
         DELETE FROM webhook_deliveries;
         DELETE FROM events;
         DELETE FROM webhooks;
         DELETE FROM message_attachments;
         DELETE FROM message_recipients;
         DELETE FROM message_raw;
         DELETE FROM messages;
         DELETE FROM threads;
         DELETE FROM attachment_pieces;
         DELETE FROM attachments;
         DELETE FROM inboxes;
         DELETE FROM domains;
         DELETE FROM jobs;
         DELETE FROM idempotency_keys;
         DELETE FROM rate_limit_windows;",
    )?;
    tx.sql().execute(
        "DELETE FROM api_keys WHERE NOT (account_id = ?1 AND key_hash = ?2)",
        params![account_id, key_hash],
    )?;
    tx.sql()
        .execute("DELETE FROM accounts WHERE id <> ?1", [account_id])?;
    tx.sql().execute(
        "UPDATE accounts SET accepted_today = 0, accepted_day = 0, total_accepted = 0
         WHERE id = ?1",
        [account_id],
    )?;
    Ok(())
}
