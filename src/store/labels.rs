//! Message labels: read per message, changed per message or per thread. System labels are set
//! by triggers (migration 11) whichever path stores or bounces a message; the counts of each
//! inbox's and thread's labels are kept by triggers too.

use rusqlite::{OptionalExtension, params};

use super::{Db, Failure, Tx};
use crate::domain::label::{MAX_PER_MESSAGE, UNREAD};
use crate::domain::{
    AccountId, InboxId, LabelChange, LabelsChanged, MessageId, Refusal, Resource, ThreadId,
    ValidationErrors,
};

/// Labels of each message in `ids` (one query), sorted by name, in the order of `ids`.
pub(super) fn of_messages(conn: &Db, ids: &[MessageId]) -> Result<Vec<Vec<String>>, Failure> {
    let mut labels = vec![Vec::new(); ids.len()];
    if ids.is_empty() {
        return Ok(labels);
    }
    let json =
        serde_json::Value::from(ids.iter().map(|m| m.to_string()).collect::<Vec<_>>()).to_string();
    let mut stmt = conn.sql().prepare_cached(
        "SELECT m.id, l.label FROM messages m
         JOIN message_labels l ON l.message_row = m.rowid
         WHERE m.id IN (SELECT value FROM json_each(?1))
         ORDER BY l.label",
    )?;
    let rows = stmt.query_map([json], |r| Ok((r.get::<_, MessageId>(0)?, r.get(1)?)))?;
    for row in rows {
        let (id, label) = row?;
        if let Some(i) = ids.iter().position(|m| *m == id) {
            labels[i].push(label);
        }
    }
    Ok(labels)
}

/// The labels any message of a thread carries, sorted, and how many of its messages are unread.
pub(super) fn of_thread(conn: &Db, thread_id: ThreadId) -> Result<(Vec<String>, u64), Failure> {
    let mut labels = Vec::new();
    let mut unread = 0;
    let mut stmt = conn.sql().prepare_cached(
        "SELECT part, n FROM list_counts WHERE list = 'thread_labels' AND owner = ?1 AND n > 0
         ORDER BY part",
    )?;
    let rows = stmt.query_map([thread_id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (label, n) = row?;
        if label == UNREAD {
            unread = super::count(n);
        }
        labels.push(label);
    }
    Ok((labels, unread))
}

/// The message's row, inbox, thread and time, if the account has it.
fn locate(
    conn: &Db,
    account_id: AccountId,
    id: MessageId,
) -> Result<(i64, InboxId, ThreadId, i64), Failure> {
    conn.sql()
        .prepare_cached(
            "SELECT rowid, inbox_id, thread_id, created_at FROM messages
             WHERE id = ?1 AND account_id = ?2",
        )?
        .query_row(params![id, account_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Message)))
}

/// What [`change`] did to a message, and where the message is.
#[derive(Debug, Clone)]
pub struct Relabelled {
    /// The message's inbox.
    pub inbox_id: InboxId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// What changed.
    pub changes: LabelsChanged,
}

/// Applies `change` to one of the account's messages: what it did, and the message's labels
/// after it. Refused, with nothing changed, when the message would carry more than
/// [`MAX_PER_MESSAGE`] labels.
pub fn change(
    tx: &Tx<'_>,
    account_id: AccountId,
    id: MessageId,
    change: &LabelChange,
) -> Result<Relabelled, Failure> {
    let (row, inbox_id, thread_id, created_at) = locate(tx, account_id, id)?;
    let mut done = LabelsChanged::default();
    for label in change.remove() {
        let n = tx
            .sql()
            .prepare_cached("DELETE FROM message_labels WHERE message_row = ?1 AND label = ?2")?
            .execute(params![row, label.as_str()])?;
        if n > 0 {
            done.removed.push(label.to_string());
        }
    }
    for label in change.add() {
        let n = tx
            .sql()
            .prepare_cached(
                "INSERT INTO message_labels
                     (message_row, label, inbox_id, thread_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![
                row,
                label.as_str(),
                inbox_id,
                thread_id,
                created_at
            ])?;
        if n > 0 {
            done.added.push(label.to_string());
        }
    }
    done.labels = tx
        .sql()
        .prepare_cached("SELECT label FROM message_labels WHERE message_row = ?1 ORDER BY label")?
        .query_map([row], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if done.labels.len() > MAX_PER_MESSAGE {
        return Err(Failure::Refused(Refusal::Invalid(
            ValidationErrors::single(
                "addLabels",
                format!(
                    "a message carries at most {MAX_PER_MESSAGE} labels; this one would carry {}",
                    done.labels.len()
                ),
            ),
        )));
    }
    Ok(Relabelled {
        inbox_id,
        thread_id,
        changes: done,
    })
}

/// The messages of one of the account's threads, oldest first (what a thread-wide change
/// applies to).
pub fn thread_members(
    conn: &Db,
    account_id: AccountId,
    thread_id: ThreadId,
) -> Result<Vec<MessageId>, Failure> {
    super::messages::get_thread(conn, account_id, thread_id)?;
    Ok(conn
        .sql()
        .prepare_cached("SELECT id FROM messages WHERE thread_id = ?1 ORDER BY created_at, rowid")?
        .query_map([thread_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}
