//! Messages, their raw bytes and attachments, and threads.

use super::conn::Row;
use crate::domain::Refusal;
use rusqlite::types::ToSql;
use rusqlite::{OptionalExtension, params};

use super::Db;
use super::attachments::{self, NewAttachment, Origin};
use super::codec::{self, Body};
use super::page::{Counted, Order, kept_total, page};
use super::search::{self, Document};
use super::sql::{bad_text, unsigned};
use super::{Failure, Tx, inboxes, labels};
use crate::domain::Resource;
use crate::domain::auth_results::AuthResults;
use crate::domain::extract::{unchanged_html, unchanged_text};
use crate::domain::message::{AttachmentMeta, Direction, Message, MessageStatus, Thread};
use crate::domain::reading::Reading;
use crate::domain::search::MessageQuery;
use crate::domain::{
    AccountId, AttachmentId, InboxId, Label, MessageId, Page, Paging, ThreadId, Timestamp,
};

/// An inbound message for one inbox, ready to store.
#[derive(Debug, Clone)]
pub struct NewInbound<'a> {
    /// Owner.
    pub account_id: AccountId,
    /// Inbox.
    pub inbox_id: InboxId,
    /// Sender for display.
    pub from: &'a str,
    /// `To`.
    pub to: &'a [String],
    /// `Cc`.
    pub cc: &'a [String],
    /// Subject.
    pub subject: &'a str,
    /// Text body.
    pub text: Option<&'a str>,
    /// HTML body.
    pub html: Option<&'a str>,
    /// Message-ID.
    pub message_id: Option<&'a str>,
    /// In-Reply-To.
    pub in_reply_to: Option<&'a str>,
    /// References, oldest first.
    pub references: &'a [String],
    /// Attachments.
    pub attachments: &'a [NewAttachment<'a>],
    /// The exact bytes to keep, in the pieces they come in (the headers this server adds,
    /// then the message as received): stored one after the other, never joined in memory.
    pub raw: &'a [&'a [u8]],
    /// The subject a new thread gets.
    pub thread_subject: &'a str,
    /// SPF/DKIM/DMARC results, when checked.
    pub auth_results: Option<&'a AuthResults>,
    /// Its new content and searchable text.
    pub reading: &'a Reading,
}

/// Stores a message's raw bytes, given in pieces that follow one another: compressed when that
/// pays (mail text shrinks two to three times), or else as they are. They are written into
/// the row in place (incremental blob I/O): binding them as a parameter would have SQLite
/// copy them first, and joining the pieces would copy them again, at up to 25 MiB a message.
pub fn insert_raw(tx: &Tx<'_>, message_id: MessageId, pieces: &[&[u8]]) -> Result<(), Failure> {
    let compressed = codec::compress(pieces);
    let (codec, pieces) = match &compressed {
        Some(bytes) => (codec::ZSTD, vec![bytes.as_slice()]),
        None => (codec::PLAIN, pieces.to_vec()),
    };
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    let Some(file) = tx.sql().sqlite() else {
        // PostgreSQL has no incremental blob I/O: the bytes go as one parameter.
        tx.sql().execute(
            "INSERT INTO message_raw (message_id, raw, codec) VALUES (?1, ?2, ?3)",
            params![message_id, pieces.concat(), codec],
        )?;
        return Ok(());
    };
    file.prepare_cached(
        "INSERT INTO message_raw (message_id, raw, codec) VALUES (?1, zeroblob(?2), ?3)",
    )?
    .execute(params![
        message_id,
        i64::try_from(len).unwrap_or(i64::MAX),
        codec
    ])?;
    let mut blob = file.blob_open(
        rusqlite::MAIN_DB,
        c"message_raw",
        c"raw",
        file.last_insert_rowid(),
        false,
    )?;
    let mut at = 0;
    for piece in &pieces {
        blob.write_at(piece, at)?;
        at += piece.len();
    }
    Ok(())
}

/// Where a received message was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stored {
    /// The message.
    pub message_id: MessageId,
    /// Its thread.
    pub thread_id: ThreadId,
}

fn json_list(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

/// The thread of the newest message in `inbox` whose Message-ID is one of `candidates`, tried
/// in order (In-Reply-To first, then References newest first, as the hosted service does). Only stored messages
/// are looked at, one lookup per candidate, so reference loops cannot make this spin.
pub fn find_thread(
    conn: &Db,
    inbox_id: InboxId,
    candidates: &[&str],
) -> Result<Option<ThreadId>, Failure> {
    let mut stmt = conn.sql().prepare_cached(
        "SELECT thread_id FROM messages WHERE inbox_id = ?1 AND message_id_header = ?2
         ORDER BY created_at DESC, rowid DESC LIMIT 1",
    )?;
    for id in candidates {
        if let Some(thread) = stmt
            .query_row(params![inbox_id, id], |r| r.get(0))
            .optional()?
        {
            return Ok(Some(thread));
        }
    }
    Ok(None)
}

/// Stores an inbound message in its thread (found or new) and updates the thread's counters.
pub fn insert_inbound(tx: &Tx<'_>, m: &NewInbound<'_>, now: Timestamp) -> Result<Stored, Failure> {
    let mut candidates: Vec<&str> = m.in_reply_to.into_iter().collect();
    candidates.extend(m.references.iter().rev().map(String::as_str));
    let thread_id = match find_thread(tx, m.inbox_id, &candidates)? {
        Some(thread) => thread,
        None => {
            let id = ThreadId::new();
            tx.sql().prepare_cached(
                "INSERT INTO threads (id, account_id, inbox_id, subject, last_message_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![id, m.account_id, m.inbox_id, m.thread_subject, now])?;
            id
        }
    };
    let message_id = MessageId::new();
    let [extracted_text, extracted_html] = extracted(m.reading, m.text, m.html);
    tx.sql()
        .prepare_cached(
            "INSERT INTO messages (id, account_id, inbox_id, thread_id, direction, status,
             from_address, to_addresses, cc_addresses, subject, body_text, body_html,
             message_id_header, in_reply_to, references_headers, auth_results, created_at,
             updated_at, extracted_text, extracted_html)
         VALUES (?1, ?2, ?3, ?4, 'inbound', 'received', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
             ?14, ?15, ?15, ?16, ?17)",
        )?
        .execute(params![
            message_id,
            m.account_id,
            m.inbox_id,
            thread_id,
            m.from,
            json_list(m.to),
            json_list(m.cc),
            m.subject,
            Body::of(m.text),
            Body::of(m.html),
            m.message_id,
            m.in_reply_to,
            json_list(m.references),
            m.auth_results
                .map(serde_json::to_string)
                .transpose()
                .map_err(|e| Failure::corrupt(format!("auth_results: {e}")))?,
            now,
            extracted_text,
            extracted_html
        ])?;
    search::index(
        tx,
        tx.sql().last_insert_rowid()?,
        &Document {
            subject: m.subject,
            from: m.from,
            to: m.to,
            cc: m.cc,
            body: &m.reading.body,
        },
    )?;
    insert_raw(tx, message_id, m.raw)?;
    for (position, a) in m.attachments.iter().enumerate() {
        let id = attachments::insert(tx, m.account_id, a, Origin::Inbound, now)?
            .meta
            .id;
        tx.sql()
            .prepare_cached(
                "INSERT INTO message_attachments (message_id, attachment_id, position)
             VALUES (?1, ?2, ?3)",
            )?
            .execute(params![
                message_id,
                id,
                i64::try_from(position).unwrap_or(i64::MAX)
            ])?;
    }
    tx.sql()
        .prepare_cached(
            "UPDATE threads SET message_count = message_count + 1,
             last_message_at = max(last_message_at, ?2)
         WHERE id = ?1",
        )?
        .execute(params![thread_id, now])?;
    Ok(Stored {
        message_id,
        thread_id,
    })
}

macro_rules! message_columns {
    () => {
        "id, account_id, inbox_id, thread_id, direction, status, delivery, from_address,
         to_addresses, cc_addresses, bcc_addresses, subject, body_text, body_html,
         message_id_header, in_reply_to, references_headers, error_message, auth_results,
         created_at, sent_at, extracted_text, extracted_html"
    };
}

/// The columns [`from_row`] reads.
pub(super) const COLUMNS: &str = message_columns!();

fn list_column(row: &Row<'_>, name: &str) -> rusqlite::Result<Vec<String>> {
    let text: String = row.get(name)?;
    serde_json::from_str(&text).map_err(|e| bad_text(0, format!("{name}: {e}")))
}

/// Reads a message row (its attachments and labels come from [`complete`]).
pub(super) fn from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    let body_text = Body::read(row.get_ref("body_text")?)?;
    let body_html = Body::read(row.get_ref("body_html")?)?;
    let extracted_text =
        Body::read_derived(row.get_ref("extracted_text")?, &body_text, unchanged_text)?;
    let extracted_html =
        Body::read_derived(row.get_ref("extracted_html")?, &body_html, unchanged_html)?;
    let direction: String = row.get("direction")?;
    let status: String = row.get("status")?;
    Ok(Message {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        inbox_id: row.get("inbox_id")?,
        thread_id: row.get("thread_id")?,
        direction: Direction::parse(&direction)
            .ok_or_else(|| bad_text(4, format!("direction {direction:?}")))?,
        status: MessageStatus::parse(&status)
            .ok_or_else(|| bad_text(5, format!("status {status:?}")))?,
        delivery: row.get("delivery")?,
        from_address: row.get("from_address")?,
        to_addresses: list_column(row, "to_addresses")?,
        cc_addresses: list_column(row, "cc_addresses")?,
        bcc_addresses: list_column(row, "bcc_addresses")?,
        subject: row.get("subject")?,
        body_text,
        body_html,
        message_id_header: row.get("message_id_header")?,
        in_reply_to: row.get("in_reply_to")?,
        references: list_column(row, "references_headers")?,
        error_message: row.get("error_message")?,
        auth_results: row
            .get::<_, Option<String>>("auth_results")?
            .map(|json| serde_json::from_str(&json))
            .transpose()
            .map_err(|e| bad_text(18, format!("auth_results: {e}")))?,
        attachments: Vec::new(),
        created_at: row.get("created_at")?,
        sent_at: row.get("sent_at")?,
        extracted_text,
        extracted_html,
        labels: Vec::new(),
    })
}

/// Fills in the attachments and labels of `messages` read by [`from_row`].
pub(super) fn complete(conn: &Db, messages: &mut [Message]) -> Result<(), Failure> {
    with_attachments(conn, messages)?;
    let ids: Vec<MessageId> = messages.iter().map(|m| m.id).collect();
    for (m, labels) in messages.iter_mut().zip(labels::of_messages(conn, &ids)?) {
        m.labels = labels;
    }
    Ok(())
}

/// Fills in the attachments of `messages` with one query.
fn with_attachments(conn: &Db, messages: &mut [Message]) -> Result<(), Failure> {
    if messages.is_empty() {
        return Ok(());
    }
    let ids = serde_json::Value::from(
        messages
            .iter()
            .map(|m| m.id.to_string())
            .collect::<Vec<_>>(),
    )
    .to_string();
    let mut stmt = conn.sql().prepare_cached(
        "SELECT ma.message_id, a.id, a.filename, a.content_type, a.size
         FROM message_attachments ma JOIN attachments a ON a.id = ma.attachment_id
         WHERE ma.message_id IN (SELECT value FROM json_each(?1))
         ORDER BY ma.position",
    )?;
    let rows = stmt.query_map([ids], |r| {
        Ok((
            r.get::<_, MessageId>(0)?,
            AttachmentMeta {
                id: r.get(1)?,
                filename: r.get(2)?,
                content_type: r.get(3)?,
                size: unsigned(r, "size")?,
            },
        ))
    })?;
    for row in rows {
        let (message_id, meta) = row?;
        if let Some(m) = messages.iter_mut().find(|m| m.id == message_id) {
            m.attachments.push(meta);
        }
    }
    Ok(())
}

/// One of the account's messages.
pub fn get_message(conn: &Db, account_id: AccountId, id: MessageId) -> Result<Message, Failure> {
    let message = conn
        .sql()
        .prepare_cached(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE id = ?1 AND account_id = ?2"
        ))?
        .query_row(params![id, account_id], from_row)
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Message)))?;
    let mut one = [message];
    complete(conn, &mut one)?;
    let [message] = one;
    Ok(message)
}

/// An inbox's messages that `q` selects (its `inbox_id` is set to `inbox_id`), newest first.
/// A list filtered by status alone (or not at all) walks the inbox's index with a kept total;
/// other filters go through [`search::find_messages`].
pub fn list_messages(
    conn: &Db,
    account_id: AccountId,
    inbox_id: InboxId,
    q: &MessageQuery,
    paging: Paging,
    now: Timestamp,
) -> Result<Page<Message>, Failure> {
    inboxes::get_inbox(conn, account_id, inbox_id, now)?;
    let by_status_only = MessageQuery {
        status: q.status,
        ..MessageQuery::default()
    };
    if *q != by_status_only {
        let q = MessageQuery {
            inbox_id: Some(inbox_id),
            ..q.clone()
        };
        return search::find_messages(conn, account_id, &q, paging);
    }
    let status = q.status.map(MessageStatus::as_str);
    let total = kept_total(conn, Counted::Messages, &inbox_id, status.as_slice())?;
    let (select, params): (&str, Vec<&dyn ToSql>) = match &status {
        None => (
            concat!(
                "SELECT ",
                message_columns!(),
                ", created_at, rowid FROM messages WHERE inbox_id = ?1"
            ),
            vec![&inbox_id],
        ),
        Some(status) => (
            concat!(
                "SELECT ",
                message_columns!(),
                ", created_at, rowid FROM messages WHERE inbox_id = ?1 AND status = ?2"
            ),
            vec![&inbox_id, status],
        ),
    };
    let mut page = page(
        conn,
        select,
        &Order::NEWEST,
        &params,
        paging,
        total,
        from_row,
    )?;
    complete(conn, &mut page.data)?;
    Ok(page)
}

/// A message's HTML body (`None`: it has none), whoever owns it: for a signed view, whose
/// signature is the authorisation.
pub fn html_body_unchecked(conn: &Db, id: MessageId) -> Result<Option<String>, Failure> {
    conn.sql()
        .prepare_cached("SELECT body_html FROM messages WHERE id = ?1")?
        .query_row([id], |r| Body::read(r.get_ref(0)?))
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Message)))
}

/// The exact stored bytes of one of the account's messages.
pub fn raw_message(conn: &Db, account_id: AccountId, id: MessageId) -> Result<Vec<u8>, Failure> {
    let (codec, raw) = conn
        .sql()
        .prepare_cached(
            "SELECT r.codec, r.raw FROM message_raw r JOIN messages m ON m.id = r.message_id
         WHERE m.id = ?1 AND m.account_id = ?2",
        )?
        .query_row(params![id, account_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Message)))?;
    codec::decompress(codec, raw)
}

/// A message that would have left the machine (a recipient handed to the `dry-run`
/// transport), for a test fixture's outbox.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    /// The message.
    pub message: Message,
    /// The recipients it was handed off for.
    pub recipients: Vec<String>,
    /// Its exact bytes.
    pub raw: Vec<u8>,
}

/// Every message handed to the `dry-run` transport, oldest first, in every account.
pub fn outbox(conn: &Db) -> Result<Vec<OutboxEntry>, Failure> {
    let rows: Vec<(AccountId, MessageId)> = conn
        .sql()
        .prepare(
            "SELECT m.account_id, m.id FROM messages m
             WHERE m.direction = 'outbound' AND EXISTS (
                 SELECT 1 FROM message_recipients r
                 WHERE r.message_id = m.id AND r.route = 'dry-run')
             ORDER BY m.created_at, m.rowid",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut entries = Vec::with_capacity(rows.len());
    for (account_id, id) in rows {
        let recipients = conn
            .sql()
            .prepare_cached(
                "SELECT address FROM message_recipients WHERE message_id = ?1 AND route = 'dry-run'
                 ORDER BY address",
            )?
            .query_map([id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        entries.push(OutboxEntry {
            message: get_message(conn, account_id, id)?,
            recipients,
            raw: raw_message(conn, account_id, id)?,
        });
    }
    Ok(entries)
}

/// Deletes a message with its raw bytes and inbound attachments, and keeps its thread's
/// counters right (a thread left empty is deleted).
pub fn delete_message(tx: &Tx<'_>, account_id: AccountId, id: MessageId) -> Result<(), Failure> {
    let thread_id: ThreadId = tx
        .sql()
        .query_row(
            "SELECT thread_id FROM messages WHERE id = ?1 AND account_id = ?2",
            params![id, account_id],
            |r| r.get(0),
        )
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Message)))?;
    let inbound_parts: Vec<AttachmentId> = tx
        .sql()
        .prepare(
            "SELECT a.id FROM message_attachments ma JOIN attachments a ON a.id = ma.attachment_id
             WHERE ma.message_id = ?1 AND a.origin = 'inbound'",
        )?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    tx.sql()
        .execute("DELETE FROM messages WHERE id = ?1", [id])?;
    // An inbound part lives with its message, unless another message (a send) uses it too.
    for attachment in inbound_parts {
        tx.sql().execute(
            "DELETE FROM attachments WHERE id = ?1
               AND NOT EXISTS (SELECT 1 FROM message_attachments WHERE attachment_id = ?1)",
            [attachment],
        )?;
    }
    let remaining: Option<(i64, Timestamp)> = tx
        .sql()
        .query_row(
            "SELECT count(*), max(created_at) FROM messages WHERE thread_id = ?1",
            [thread_id],
            |r| Ok((r.get(0)?, r.get::<_, Option<Timestamp>>(1)?)),
        )
        .map(|(n, last)| last.map(|last| (n, last)))?;
    match remaining {
        Some((n, last)) => {
            tx.sql().execute(
                "UPDATE threads SET message_count = ?2, last_message_at = ?3 WHERE id = ?1",
                params![thread_id, n, last],
            )?;
        }
        None => {
            tx.sql()
                .execute("DELETE FROM threads WHERE id = ?1", [thread_id])?;
        }
    }
    Ok(())
}

macro_rules! thread_columns {
    () => {
        "id, account_id, inbox_id, subject, message_count, last_message_at, created_at"
    };
}

/// The columns [`thread_from_row`] reads.
pub(super) const THREAD_COLUMNS: &str = thread_columns!();

/// Fills in a thread's labels and unread count.
pub(super) fn complete_thread(conn: &Db, thread: &mut Thread) -> Result<(), Failure> {
    (thread.labels, thread.unread_count) = labels::of_thread(conn, thread.id)?;
    Ok(())
}

/// Reads a thread row (its labels come from [`complete_thread`]).
pub(super) fn thread_from_row(row: &Row<'_>) -> rusqlite::Result<Thread> {
    Ok(Thread {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        inbox_id: row.get("inbox_id")?,
        subject: row.get("subject")?,
        message_count: unsigned(row, "message_count")?,
        last_message_at: row.get("last_message_at")?,
        created_at: row.get("created_at")?,
        labels: Vec::new(),
        unread_count: 0,
    })
}

/// One of the account's threads.
pub fn get_thread(conn: &Db, account_id: AccountId, id: ThreadId) -> Result<Thread, Failure> {
    conn.sql()
        .prepare_cached(concat!(
            "SELECT ",
            thread_columns!(),
            " FROM threads WHERE id = ?1 AND account_id = ?2"
        ))?
        .query_row(params![id, account_id], thread_from_row)
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Thread)))
        .and_then(|mut thread| {
            complete_thread(conn, &mut thread)?;
            Ok(thread)
        })
}

/// A thread's messages, oldest first; only those labelled `label`, when given.
pub fn thread_messages(
    conn: &Db,
    account_id: AccountId,
    thread_id: ThreadId,
    label: Option<&Label>,
    paging: Paging,
) -> Result<Page<Message>, Failure> {
    let thread = get_thread(conn, account_id, thread_id)?;
    let order = Order {
        descending: false,
        ..Order::NEWEST
    };
    let mut page = match label {
        None => page(
            conn,
            concat!(
                "SELECT ",
                message_columns!(),
                ", created_at, rowid FROM messages WHERE thread_id = ?1"
            ),
            &order,
            &[&thread_id],
            paging,
            thread.message_count,
            from_row,
        )?,
        Some(label) => {
            let total = kept_total(conn, Counted::ThreadLabels, &thread_id, &[label.as_str()])?;
            page(
                conn,
                concat!(
                    "SELECT ",
                    message_columns!(),
                    ", created_at, rowid FROM messages WHERE thread_id = ?1 AND EXISTS (
                         SELECT 1 FROM message_labels
                         WHERE message_row = messages.rowid AND label = ?2)"
                ),
                &order,
                &[&thread_id, &label.as_str()],
                paging,
                total,
                from_row,
            )?
        }
    };
    complete(conn, &mut page.data)?;
    Ok(page)
}

/// A message by its rowid, without attachments or labels.
pub(super) fn by_row(conn: &Db, row: i64) -> Result<Message, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE rowid = ?1"
        ))?
        .query_row([row], from_row)?)
}

/// The stored forms of a message's new content, derived from its text and HTML bodies.
pub(super) fn extracted<'a>(
    reading: &'a Reading,
    text: Option<&str>,
    html: Option<&str>,
) -> [Body<'a>; 2] {
    [
        Body::derived(reading.extracted_text.as_deref(), text, unchanged_text),
        Body::derived(reading.extracted_html.as_deref(), html, unchanged_html),
    ]
}

/// Records the new content of `message`, stored under `row`.
pub(super) fn set_reading(
    tx: &Tx<'_>,
    row: i64,
    message: &Message,
    reading: &Reading,
) -> Result<(), Failure> {
    let [extracted_text, extracted_html] = extracted(
        reading,
        message.body_text.as_deref(),
        message.body_html.as_deref(),
    );
    tx.sql()
        .prepare_cached(
            "UPDATE messages SET extracted_text = ?2, extracted_html = ?3 WHERE rowid = ?1",
        )?
        .execute(params![row, extracted_text, extracted_html])?;
    Ok(())
}

/// The outbound message whose own return path (VERP) is `address`, with the inbox that sent
/// it, when that inbox still receives mail: reports about the message come back there.
pub fn return_path_owner(
    conn: &Db,
    address: &str,
) -> Result<Option<(MessageId, InboxId, AccountId)>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT m.id, m.inbox_id, m.account_id FROM messages m
             JOIN inboxes i ON i.id = m.inbox_id
             WHERE m.return_path = ?1 AND i.status = 'active'",
        )?
        .query_row([address], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?)
}

/// An outbound message of `account_id` by its id.
pub fn outbound(
    conn: &Db,
    account_id: AccountId,
    id: MessageId,
) -> Result<Option<Message>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(concat!(
            "SELECT ",
            message_columns!(),
            " FROM messages WHERE id = ?1 AND account_id = ?2 AND direction = 'outbound'"
        ))?
        .query_row(params![id, account_id], from_row)
        .optional()?)
}

/// The outbound message of `account_id` with one of these return paths and one of these
/// Message-IDs (what a complaint quotes of the original's headers).
pub fn outbound_by_return_path(
    conn: &Db,
    account_id: AccountId,
    return_paths: &[String],
    message_ids: &[String],
) -> Result<Option<Message>, Failure> {
    let mut stmt = conn.sql().prepare_cached(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE return_path = ?1 AND account_id = ?2 AND direction = 'outbound'"
    ))?;
    for path in return_paths {
        let found = stmt
            .query_row(params![path.to_ascii_lowercase(), account_id], from_row)
            .optional()?;
        if let Some(m) = found.filter(|m| {
            m.message_id_header
                .as_ref()
                .is_some_and(|id| message_ids.contains(id))
        }) {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

/// The outbound message of `account_id` with one of these Message-IDs (newest first).
pub fn outbound_by_message_id(
    conn: &Db,
    account_id: AccountId,
    message_ids: &[String],
) -> Result<Option<Message>, Failure> {
    let mut stmt = conn.sql().prepare_cached(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages WHERE message_id_header = ?1 AND account_id = ?2
            AND direction = 'outbound' ORDER BY created_at DESC LIMIT 1"
    ))?;
    for id in message_ids {
        if let Some(m) = stmt
            .query_row(params![id, account_id], from_row)
            .optional()?
        {
            return Ok(Some(m));
        }
    }
    Ok(None)
}

/// What a report did to an outbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// A bounce.
    Bounce,
    /// A complaint.
    Complaint,
}

/// What marking a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reported {
    /// The message changed status (false: it was already bounced or complained about, and
    /// nothing was counted again).
    pub changed: bool,
    /// The inbox was suspended by this.
    pub suspended: bool,
}

/// Marks an outbound message bounced or complained and counts it on its inbox, once per
/// message however many reports arrive about it; suspends the inbox when, after at least 100
/// sends, bounces exceed 5 % or complaints 0.1 %.
pub fn mark_reported(
    tx: &Tx<'_>,
    message: &Message,
    kind: ReportKind,
    now: Timestamp,
) -> Result<Reported, Failure> {
    let (status, counter) = match kind {
        ReportKind::Bounce => ("bounced", "bounce_count"),
        ReportKind::Complaint => ("complained", "complaint_count"),
    };
    let changed = tx.sql().execute(
        "UPDATE messages SET status = ?2, updated_at = ?3
         WHERE id = ?1 AND status NOT IN ('bounced', 'complained')",
        params![message.id, status, now],
    )? > 0;
    if !changed {
        return Ok(Reported {
            changed,
            suspended: false,
        });
    }
    tx.sql().execute(
        &format!("UPDATE inboxes SET {counter} = {counter} + 1, updated_at = ?2 WHERE id = ?1"),
        params![message.inbox_id, now],
    )?;
    let suspended = inboxes::suspend_if_over_limits(tx, message.inbox_id, now)?;
    Ok(Reported { changed, suspended })
}
