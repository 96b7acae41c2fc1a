//! Retention of mail past its age, and giving the freed space back to the file system
//! (incremental auto-vacuum).

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

use super::{Failure, Tx, messages};
use crate::domain::{AccountId, MessageId, Refusal, Resource, Timestamp};

/// Deletes up to `limit` messages older than their account's retention (`message_retention_days`,
/// else `default_days`; 0 keeps them), oldest first within each inbox, each as
/// [`messages::delete_message`] does (raw bytes, received attachments, labels, search entry,
/// thread counters). Messages still being sent stay. Returns how many went.
pub fn purge_messages(
    tx: &Tx<'_>,
    now: Timestamp,
    default_days: u64,
    limit: usize,
) -> Result<usize, Failure> {
    let default_days = i64::try_from(default_days).unwrap_or(i64::MAX);
    // Per inbox, so that each look-up is a seek on messages_inbox (inbox_id, created_at).
    let inboxes: Vec<(String, i64)> = tx
        .sql()
        .prepare_cached(
            "SELECT i.id, coalesce(a.message_retention_days, ?1) AS days
             FROM inboxes i JOIN accounts a ON a.id = i.account_id
             WHERE coalesce(a.message_retention_days, ?1) > 0",
        )?
        .query_map([default_days], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut doomed: Vec<(AccountId, MessageId)> = Vec::new();
    for (inbox, days) in inboxes {
        let left = limit.saturating_sub(doomed.len());
        if left == 0 {
            break;
        }
        let age = u64::try_from(days).unwrap_or(0).saturating_mul(86_400);
        let before = now.minus(std::time::Duration::from_secs(age));
        let mut rows = tx.sql().prepare_cached(
            "SELECT account_id, id FROM messages
             WHERE inbox_id = ?1 AND created_at < ?2 AND status NOT IN ('queued', 'sending')
             ORDER BY created_at LIMIT ?3",
        )?;
        let found = rows.query_map(
            params![inbox, before, i64::try_from(left).unwrap_or(i64::MAX)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for row in found {
            doomed.push(row?);
        }
    }
    for (account, id) in &doomed {
        messages::delete_message(tx, *account, *id)?;
    }
    Ok(doomed.len())
}

/// Sets an account's own message retention in days (`None`: the server's default; 0: kept
/// forever).
pub fn set_account_retention(
    tx: &Tx<'_>,
    account: AccountId,
    days: Option<u64>,
) -> Result<(), Failure> {
    let days = days.map(|d| i64::try_from(d).unwrap_or(i64::MAX));
    let changed = tx.sql().execute(
        "UPDATE accounts SET message_retention_days = ?2 WHERE id = ?1",
        params![account, days],
    )?;
    if changed == 0 {
        return Err(Failure::Refused(Refusal::NotFound(Resource::Account)));
    }
    Ok(())
}

/// An account's own message retention, if it has one.
pub fn account_retention(conn: &super::Db, account: AccountId) -> Result<Option<u64>, Failure> {
    let days: Option<Option<i64>> = conn
        .sql()
        .query_row(
            "SELECT message_retention_days FROM accounts WHERE id = ?1",
            [account],
            |r| r.get(0),
        )
        .optional()?;
    match days {
        None => Err(Failure::Refused(Refusal::NotFound(Resource::Account))),
        Some(days) => Ok(days.and_then(|d| u64::try_from(d).ok())),
    }
}

/// Free pages in the file (none on PostgreSQL, whose autovacuum gives space back itself).
pub fn free_pages(conn: &super::Db) -> Result<u64, Failure> {
    if conn.sql().engine() == super::Engine::Postgres {
        return Ok(0);
    }
    let free: i64 = conn
        .sql()
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
    Ok(u64::try_from(free).unwrap_or(0))
}

/// Gives up to `pages` free pages back to the file system (the file shrinks once the log is
/// checkpointed). Returns how many free pages are left.
pub fn incremental_vacuum(tx: &Tx<'_>, pages: u32) -> Result<u64, Failure> {
    // The pragma frees one page per step: it must be stepped to the end.
    let mut stmt = tx
        .sql()
        .prepare_cached(&format!("PRAGMA incremental_vacuum({pages})"))?;
    let mut rows = stmt.query([])?;
    while rows.next()?.is_some() {}
    free_pages(tx)
}

/// Turns incremental auto-vacuum on for a database file made before version 15 (a fresh one
/// gets it when it is created). SQLite only changes the mode of an existing file with a full
/// VACUUM, outside any transaction: this rewrites the file once, needs as much free disk
/// again, and holds the file for the time it takes, so the server does it at start-up, before
/// it serves.
pub fn enable_incremental_vacuum(path: &Path) -> Result<(), Failure> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    let mode: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?;
    if mode == AUTO_VACUUM_INCREMENTAL {
        return Ok(());
    }
    log::info!(
        "switching {} to incremental auto-vacuum (a one-time VACUUM of the whole file)",
        path.display()
    );
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
    Ok(())
}

/// `PRAGMA auto_vacuum`'s value for INCREMENTAL.
pub(super) const AUTO_VACUUM_INCREMENTAL: i64 = 2;
