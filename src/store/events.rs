//! The event log: every event, in the order of a server-wide sequence number that is its id on
//! the event stream. Appended in the transaction that causes the event (so that nothing is
//! streamed that was not committed), read by sequence number.
//!
//! Sequence numbers are handed out by the single writer, so their order is the order of the
//! commits: a reader that has seen `n` has seen every event up to `n` that will ever exist.

use super::conn::Row;
use rusqlite::{OptionalExtension, params};

use super::sql::{bad_text, unsigned};
use super::{Db, Failure, Queue, Tx};
use crate::domain::webhook::EventName;
use crate::domain::{AccountId, EventId, InboxId, MessageId, Timestamp};

/// An event as the log holds it.
#[derive(Debug, Clone)]
pub struct Logged {
    /// Its sequence number (its id on the stream).
    pub seq: u64,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The inbox it concerns, if any (`domain.verified` has none).
    pub inbox_id: Option<InboxId>,
    /// The event's name.
    pub event: EventName,
    /// The webhook payload, `{"event", "data", "timestamp"}`.
    pub body: String,
}

/// Where the log stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Positions {
    /// The last sequence number handed out (0 before the first event).
    pub head: u64,
    /// The highest sequence number swept by retention or a fixture's reset (an event below it
    /// may still be kept for its webhook deliveries, but is no longer streamed): a client
    /// resuming from before it may have missed events.
    pub horizon: u64,
}

/// What [`append`] records besides the body.
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    /// The account.
    pub account_id: AccountId,
    /// The inbox concerned, if any.
    pub inbox_id: Option<InboxId>,
    /// The message concerned, if any.
    pub message_id: Option<MessageId>,
    /// The event's name.
    pub event: EventName,
    /// The webhook payload.
    pub body: &'a str,
}

/// Appends an event to the log and wakes its live readers once the transaction commits.
/// Returns its id (which webhook deliveries refer to) and its sequence number.
pub fn append(tx: &Tx<'_>, e: &NewEvent<'_>, now: Timestamp) -> Result<(EventId, u64), Failure> {
    let seq: u64 = tx
        .sql()
        .prepare_cached(
            "UPDATE event_sequence SET value = value + 1 WHERE name = 'head' RETURNING value",
        )?
        .query_row([], |r| unsigned(r, "value"))?;
    // Time-ordered, so that the id's index grows at its end like the log itself (a random id
    // would touch a random page of it with every event).
    let id = EventId::from(uuid::Uuid::now_v7());
    tx.sql()
        .prepare_cached(
            "INSERT INTO events (id, account_id, event, body, created_at, seq, inbox_id,
                                 message_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            id,
            e.account_id,
            e.event.as_str(),
            e.body,
            now,
            seq_param(seq),
            e.inbox_id,
            e.message_id
        ])?;
    tx.wake_after_commit(Queue::Events);
    Ok((id, seq))
}

fn logged_from_row(r: &Row<'_>) -> rusqlite::Result<Logged> {
    let name: String = r.get("event")?;
    Ok(Logged {
        seq: unsigned(r, "seq")?,
        account_id: r.get("account_id")?,
        inbox_id: r.get("inbox_id")?,
        // Only events of known names are written; an unknown one would be a corrupt row.
        event: EventName::parse(&name)
            .ok_or_else(|| bad_text(3, format!("unknown event name {name:?}")))?,
        body: r.get("body")?,
    })
}

fn seq_param(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// Up to `limit` events of every account after `after`, in order (what the live fan-out reads).
pub fn since(conn: &Db, after: u64, limit: usize) -> Result<Vec<Logged>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT seq, account_id, inbox_id, event, body FROM events
             WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )?
        .query_map(
            params![seq_param(after), i64::try_from(limit).unwrap_or(i64::MAX)],
            logged_from_row,
        )?
        .collect::<Result<_, _>>()?)
}

/// Up to `limit` of the account's events after `after`, in order (what a resuming client is
/// sent before the live events).
pub fn account_since(
    conn: &Db,
    account_id: AccountId,
    after: u64,
    limit: usize,
) -> Result<Vec<Logged>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT seq, account_id, inbox_id, event, body FROM events
             WHERE account_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
        )?
        .query_map(
            params![
                account_id,
                seq_param(after),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            logged_from_row,
        )?
        .collect::<Result<_, _>>()?)
}

/// The log's head and horizon.
pub fn positions(conn: &Db) -> Result<Positions, Failure> {
    let mut head = 0;
    let mut horizon = 0;
    let mut stmt = conn
        .sql()
        .prepare_cached("SELECT name, value FROM event_sequence")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get("name")?;
        let value = unsigned(&row, "value")?;
        match name.as_str() {
            "head" => head = value,
            _ => horizon = value,
        }
    }
    Ok(Positions { head, horizon })
}

/// The sequence number of the first event still logged about one of the account's messages.
pub fn first_of_message(
    conn: &Db,
    account_id: AccountId,
    message_id: MessageId,
) -> Result<Option<u64>, Failure> {
    // `account_id || ''`: by the message's index, not by walking the account's events (an
    // expression hides the column from the planner, on either engine).
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT seq FROM events WHERE message_id = ?1 AND account_id || '' = ?2 AND seq > 0
             ORDER BY seq LIMIT 1",
        )?
        .query_row(params![message_id, account_id], |r| unsigned(r, "seq"))
        .optional()?)
}

/// Events looked at by one janitor pass at most, so that a backlog of them never holds the
/// writer for long (the next pass goes on).
const PURGE_BATCH: i64 = 10_000;

/// Moves the horizon over the events recorded before `before` (oldest first, at most a batch
/// per call) and removes them, except those whose webhook deliveries are still kept: those go
/// with their deliveries ([`super::webhooks::purge_finished`]), and are no longer streamed.
/// Returns how many went.
pub fn purge(tx: &Tx<'_>, before: Timestamp) -> Result<usize, Failure> {
    let floor = seq_param(positions(tx)?.horizon);
    // Sequence numbers follow commit order and so, closely, time: the walk from the horizon
    // stops at the first event young enough to keep, having read only what it removes.
    let keep_from: Option<i64> = tx
        .sql()
        .prepare_cached(
            "SELECT seq FROM events WHERE seq > ?1 AND created_at >= ?2 ORDER BY seq LIMIT 1",
        )?
        .query_row(params![floor, before], |r| r.get(0))
        .optional()?;
    let last: Option<i64> = tx
        .sql()
        .prepare_cached(
            "SELECT max(seq) FROM (SELECT seq FROM events WHERE seq > ?1 AND seq < ?2
                                   ORDER BY seq LIMIT ?3) AS purged",
        )?
        .query_row(
            params![floor, keep_from.unwrap_or(i64::MAX), PURGE_BATCH],
            |r| r.get(0),
        )?;
    let Some(last) = last else {
        return Ok(0);
    };
    let removed = tx
        .sql()
        .prepare_cached(
            "DELETE FROM events WHERE seq > ?1 AND seq <= ?2
               AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
        )?
        .execute(params![floor, last])?;
    tx.sql()
        .prepare_cached("UPDATE event_sequence SET value = ?1 WHERE name = 'horizon'")?
        .execute([last])?;
    Ok(removed)
}

/// Removes events past the horizon (or `webhook.test` events older than `before`) that no
/// webhook delivery refers to any more: those the retention pass kept for their deliveries.
pub(super) fn purge_delivered(tx: &Tx<'_>, before: Timestamp) -> Result<usize, Failure> {
    let horizon = seq_param(positions(tx)?.horizon);
    let mut delete = tx.sql().prepare_cached(
        "DELETE FROM events WHERE (seq <= ?1 OR (seq IS NULL AND created_at < ?2))
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
    )?;
    Ok(delete.execute(params![horizon, before])?)
}

/// Forgets every logged event (a fixture's reset): the horizon moves to the head, so that a
/// client resuming from before the reset is told to resync; numbering goes on.
pub fn forget_all(tx: &Tx<'_>) -> Result<(), Failure> {
    tx.sql().execute_batch(
        "DELETE FROM events;
         UPDATE event_sequence SET value = (SELECT value FROM event_sequence WHERE name = 'head')
         WHERE name = 'horizon';",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn event(account_id: AccountId, inbox_id: Option<InboxId>) -> NewEvent<'static> {
        NewEvent {
            account_id,
            inbox_id,
            message_id: None,
            event: EventName::MessageReceived,
            body: "{}",
        }
    }

    #[test]
    fn numbers_go_on_after_every_event_is_purged_and_the_horizon_follows() {
        let (_dir, store) = crate::store::temporary();
        let t0 = Timestamp::from_millis(1_000_000);
        let new = crate::store::accounts::NewAccount {
            name: crate::domain::account::AccountName::parse("Events").unwrap(),
            email: crate::domain::EmailAddress::parse("events@example.com").unwrap(),
            plan: crate::domain::Plan::Free,
            daily_send_limit: 100,
        };
        let account = store
            .write_blocking(move |tx| Ok(crate::store::accounts::create_account(tx, &new, t0)?.id))
            .unwrap();
        store
            .write_blocking(move |tx| {
                for _ in 0..3 {
                    append(tx, &event(account, None), t0)?;
                }
                Ok(())
            })
            .unwrap();
        let later = t0.plus(Duration::from_secs(60));
        let purged = store.write_blocking(move |tx| purge(tx, later)).unwrap();
        assert_eq!(purged, 3);
        let (seq, positions) = store
            .write_blocking(move |tx| {
                let (_, seq) = append(tx, &event(account, None), later)?;
                Ok((seq, positions(tx)?))
            })
            .unwrap();
        assert_eq!(seq, 4, "a number is never handed out twice");
        assert_eq!(
            positions,
            Positions {
                head: 4,
                horizon: 3
            }
        );
        let read = store
            .read_blocking(|c| account_since(c, account, 0, 10))
            .unwrap();
        assert_eq!(read.iter().map(|e| e.seq).collect::<Vec<_>>(), [4]);
    }
}
