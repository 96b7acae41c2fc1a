//! Health checks and housekeeping, and a test fixture's reset.

use rusqlite::params;

use super::accounts::NewAccount;
use super::{Db, Engine, Failure, Tx};
use crate::domain::{AccountId, Timestamp};

/// Proves the database answers (for `GET /health`).
pub fn ping(conn: &Db) -> Result<(), Failure> {
    conn.sql()
        .prepare_cached("SELECT 1")?
        .query_row([], |_| Ok(()))?;
    Ok(())
}

/// Background work waiting, for the metrics.
#[derive(Debug, Clone, Default)]
pub struct QueueStats {
    /// Jobs waiting or running, by kind.
    pub jobs: Vec<KindQueue>,
    /// Webhook deliveries waiting or under way.
    pub webhook_deliveries: i64,
    /// When the longest-waiting due delivery became due (unix ms).
    pub oldest_webhook_due: Option<i64>,
}

/// Jobs of one kind waiting or running.
#[derive(Debug, Clone)]
pub struct KindQueue {
    /// The kind (`send`, `draft-send`, `domain-check`, ...).
    pub kind: String,
    /// How many.
    pub queued: i64,
    /// When the longest-waiting due one became due (unix ms).
    pub oldest_due: Option<i64>,
}

/// How much background work waits (for the metrics).
pub fn queue_stats(conn: &Db, now: Timestamp) -> Result<QueueStats, Failure> {
    let jobs = conn
        .sql()
        .prepare_cached(
            "SELECT kind, count(*), min(CASE WHEN status = 'pending' AND run_at <= ?1
                                            THEN run_at END)
             FROM jobs WHERE status IN ('pending', 'running') GROUP BY kind",
        )?
        .query_map([now], |r| {
            Ok(KindQueue {
                kind: r.get(0)?,
                queued: r.get(1)?,
                oldest_due: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let (webhook_deliveries, oldest_webhook_due) = conn
        .sql()
        .prepare_cached(
            "SELECT count(*), min(CASE WHEN status = 'pending' AND next_attempt_at <= ?1
                                       THEN next_attempt_at END)
             FROM webhook_deliveries WHERE status IN ('pending', 'delivering')",
        )?
        .query_row([now], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(QueueStats {
        jobs,
        webhook_deliveries,
        oldest_webhook_due,
    })
}

/// The size of the database as its server reports it: PostgreSQL's; `None` for an SQLite
/// file, whose size is the file's.
pub fn reported_size(conn: &Db) -> Result<Option<u64>, Failure> {
    let sql = conn.sql();
    Ok(match sql.engine() {
        Engine::Sqlite => None,
        Engine::Postgres => {
            let bytes: i64 =
                sql.query_row("SELECT pg_database_size(current_database())", [], |r| {
                    r.get(0)
                })?;
            Some(u64::try_from(bytes).unwrap_or(0))
        }
    })
}

/// The schema version this build brings databases to.
pub fn supported_schema_version() -> i64 {
    i64::try_from(super::migrate::MIGRATIONS.len()).unwrap_or(i64::MAX)
}

/// The database's schema version: SQLite's `PRAGMA user_version`, or the `schema_version` table
/// on PostgreSQL (0 for an empty database).
pub fn schema_version(conn: &Db) -> Result<i64, Failure> {
    let sql = conn.sql();
    Ok(match sql.engine() {
        Engine::Sqlite => sql.query_row("PRAGMA user_version", [], |r| r.get(0))?,
        Engine::Postgres => {
            let exists: bool = sql.query_row(
                "SELECT to_regclass('schema_version') IS NOT NULL",
                [],
                |r| r.get(0),
            )?;
            if exists {
                sql.query_row("SELECT max(version) FROM schema_version", [], |r| r.get(0))?
            } else {
                0
            }
        }
    })
}

/// Proves the database takes writes (for `GET /ready`): a real change, so that a full disk or
/// a read-only file shows, not just the write lock.
pub fn probe_write(tx: &Tx<'_>, now: Timestamp) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached(
            "INSERT INTO settings (name, value) VALUES ('ready_probe', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )?
        .execute([now.as_secs().to_be_bytes()])?;
    Ok(())
}

/// Empties the database back to one account and one of its keys (a test fixture's reset):
/// every other account and key, and every inbox, message, attachment, domain, webhook, event,
/// job, stored idempotent response and rate-limit counter, go. The account is as `account`
/// describes again, with no usage; the key works again (not revoked, no expiry). Settings (the
/// link-signing secrets) stay.
pub fn reset_to(
    tx: &Tx<'_>,
    account_id: AccountId,
    account: &NewAccount,
    key_hash: &str,
) -> Result<(), Failure> {
    // Children first, whatever the foreign keys cascade.
    tx.sql().execute_batch(
        "DELETE FROM webhook_attempts;
         DELETE FROM webhook_deliveries;
         DELETE FROM webhooks;
         DELETE FROM message_attachments;
         DELETE FROM message_recipients;
         DELETE FROM message_raw;
         DELETE FROM messages;
         DELETE FROM threads;
         DELETE FROM attachment_pieces;
         DELETE FROM attachments;
         DELETE FROM sender_list_entries;
         DELETE FROM drafts;
         DELETE FROM inboxes;
         DELETE FROM domains;
         DELETE FROM jobs;
         DELETE FROM idempotency_keys;
         DELETE FROM rate_limit_windows;",
    )?;
    super::events::forget_all(tx)?;
    tx.sql().execute(
        "DELETE FROM api_keys WHERE NOT (account_id = ?1 AND key_hash = ?2)",
        params![account_id, key_hash],
    )?;
    tx.sql()
        .execute("DELETE FROM accounts WHERE id <> ?1", [account_id])?;
    tx.sql().execute(
        "UPDATE accounts SET name = ?2, email = ?3, plan = ?4, daily_send_limit = ?5,
             is_verified = 0, device_id = NULL, claim_token_hash = NULL, sends_today = 0,
             sends_day = 0, total_sent = 0, accepted_today = 0, accepted_day = 0,
             total_accepted = 0
         WHERE id = ?1",
        params![
            account_id,
            account.name.as_str(),
            account.email.as_str(),
            account.plan.as_str(),
            account.daily_send_limit
        ],
    )?;
    tx.sql().execute(
        "UPDATE api_keys SET name = 'default', last_used_at = NULL, expires_at = NULL,
             revoked_at = NULL
         WHERE key_hash = ?1",
        [key_hash],
    )?;
    Ok(())
}
