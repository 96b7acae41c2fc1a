//! Allow and block lists of senders (per inbox, and account-wide where the inbox is NULL), and
//! the screening of a sender against them.

use super::conn::Row;
use rusqlite::params;

use super::page::{Order, page};
use super::sql::bad_text;
use super::{Db, Failure, Tx, count};
use crate::domain::sender_list::{EntryKind, ListEntry, ListName, Screening, SenderListEntry};
use crate::domain::{AccountId, InboxId, ListEntryId, Page, Paging, Refusal, Resource, Timestamp};

const COLUMNS: &str = "id, account_id, inbox_id, list, entry, kind, created_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<SenderListEntry> {
    let list: String = row.get("list")?;
    let kind: String = row.get("kind")?;
    Ok(SenderListEntry {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        inbox_id: row.get("inbox_id")?,
        list: ListName::from_stored(&list).ok_or_else(|| bad_text(3, list))?,
        entry: row.get("entry")?,
        kind: EntryKind::from_stored(&kind).ok_or_else(|| bad_text(5, kind))?,
        created_at: row.get("created_at")?,
    })
}

/// Adds `entry` to a list of the account (`inbox` `None`) or of one of its inboxes, which the
/// caller has checked exists. `ListEntryExists` when it is there already.
pub fn add(
    tx: &Tx<'_>,
    account_id: AccountId,
    inbox_id: Option<InboxId>,
    list: ListName,
    entry: &ListEntry,
    now: Timestamp,
) -> Result<SenderListEntry, Failure> {
    let id = ListEntryId::new();
    let inserted = tx
        .sql()
        .prepare_cached(
            "INSERT INTO sender_list_entries (id, account_id, inbox_id, list, entry, kind,
                 created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            id,
            account_id,
            inbox_id,
            list.as_str(),
            entry.as_str(),
            entry.kind().as_str(),
            now
        ])?;
    if inserted == 0 {
        return Err(Failure::Refused(Refusal::ListEntryExists {
            entry: entry.as_str().to_owned(),
        }));
    }
    Ok(tx
        .sql()
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sender_list_entries WHERE id = ?1"
        ))?
        .query_row([id], from_row)?)
}

/// One list of the account (`inbox` `None`) or of one of its inboxes, newest first.
pub fn list(
    conn: &Db,
    account_id: AccountId,
    inbox_id: Option<InboxId>,
    list: ListName,
    paging: Paging,
) -> Result<Page<SenderListEntry>, Failure> {
    let total: i64 = conn
        .sql()
        .prepare_cached(
            "SELECT count(*) FROM sender_list_entries
             WHERE account_id = ?1 AND inbox_id IS NOT DISTINCT FROM ?2 AND list = ?3",
        )?
        .query_row(params![account_id, inbox_id, list.as_str()], |r| r.get(0))?;
    page(
        conn,
        &format!(
            "SELECT {COLUMNS}, created_at, rowid FROM sender_list_entries
             WHERE account_id = ?1 AND inbox_id IS NOT DISTINCT FROM ?2 AND list = ?3"
        ),
        &Order::NEWEST,
        &[&account_id, &inbox_id, &list.as_str()],
        paging,
        count(total),
        from_row,
    )
}

/// Removes `entry` from a list; `NotFound` when it is not on it.
pub fn remove(
    tx: &Tx<'_>,
    account_id: AccountId,
    inbox_id: Option<InboxId>,
    list: ListName,
    entry: &ListEntry,
) -> Result<(), Failure> {
    let removed = tx
        .sql()
        .prepare_cached(
            "DELETE FROM sender_list_entries
             WHERE account_id = ?1 AND inbox_id IS NOT DISTINCT FROM ?2 AND list = ?3 AND entry = ?4",
        )?
        .execute(params![account_id, inbox_id, list.as_str(), entry.as_str()])?;
    if removed == 0 {
        return Err(Failure::Refused(Refusal::NotFound(Resource::ListEntry)));
    }
    Ok(())
}

/// What the lists of `inbox_id` and of its account say about a sender whose identities give
/// the entries `candidates` (see [`crate::domain::sender_list::candidates`]).
pub fn screen(
    conn: &Db,
    account_id: AccountId,
    inbox_id: InboxId,
    candidates: &[String],
) -> Result<Screening, Failure> {
    let candidates = serde_json::Value::from(candidates.to_vec()).to_string();
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT
               EXISTS (SELECT 1 FROM sender_list_entries
                       WHERE account_id = ?1 AND (inbox_id = ?2 OR inbox_id IS NULL)
                         AND list = 'block'
                         AND entry IN (SELECT value FROM json_each(?3))),
               EXISTS (SELECT 1 FROM sender_list_entries
                       WHERE account_id = ?1 AND (inbox_id = ?2 OR inbox_id IS NULL)
                         AND list = 'allow'),
               EXISTS (SELECT 1 FROM sender_list_entries
                       WHERE account_id = ?1 AND (inbox_id = ?2 OR inbox_id IS NULL)
                         AND list = 'allow'
                         AND entry IN (SELECT value FROM json_each(?3)))",
        )?
        .query_row(params![account_id, inbox_id, candidates], |r| {
            Ok(Screening {
                blocked: r.get(0)?,
                allow_list: r.get(1)?,
                allowed: r.get(2)?,
            })
        })?)
}

/// The first of `addresses` (in order) that the block list of `inbox_id` or of its account
/// names, if any.
pub fn first_blocked<'a>(
    conn: &Db,
    account_id: AccountId,
    inbox_id: InboxId,
    addresses: impl IntoIterator<Item = &'a str>,
) -> Result<Option<&'a str>, Failure> {
    // Most inboxes have no block list: one query says so.
    let any: bool = conn
        .sql()
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sender_list_entries
                            WHERE account_id = ?1 AND (inbox_id = ?2 OR inbox_id IS NULL)
                              AND list = 'block')",
        )?
        .query_row(params![account_id, inbox_id], |r| r.get(0))?;
    if !any {
        return Ok(None);
    }
    for address in addresses {
        let candidates = crate::domain::sender_list::candidates([address]);
        if screen(conn, account_id, inbox_id, &candidates)?.blocked {
            return Ok(Some(address));
        }
    }
    Ok(None)
}
