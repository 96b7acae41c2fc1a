//! Outgoing mail: what a send needs, storing an accepted message with its recipients and its
//! send job, and recording how each recipient's delivery went.

use crate::domain::Refusal;
use rusqlite::{OptionalExtension, params};

use super::Db;
use super::codec::Body;
use super::search::{self, Document};
use super::{Failure, Queue, Tx, accounts, attachments, inboxes, jobs, messages};
use crate::domain::Plan;
use crate::domain::Resource;
use crate::domain::message::{AttachmentMeta, Message, MessageStatus};
use crate::domain::outbound::{
    MAX_ATTACHMENTS_BYTES, Parent, RecipientKind, RecipientOutcome, RecipientStatus,
};
use crate::domain::reading::Reading;
use crate::domain::reply::{forwarded_filename, reply_references};
use crate::domain::{AccountId, AttachmentId, Inbox, InboxId, MessageId, ThreadId, Timestamp};

/// The job kind of a send.
pub const SEND_JOB: &str = "send";

/// The thread a send joins, and what its headers need.
#[derive(Debug, Clone)]
pub struct ThreadRef {
    /// The thread.
    pub id: ThreadId,
    /// `In-Reply-To`: the Message-ID of the message replied to, if it has one.
    pub in_reply_to: Option<String>,
    /// `References`, oldest first.
    pub references: Vec<String>,
}

/// A message forwarded as an attachment.
#[derive(Debug, Clone)]
pub struct Forwarded {
    /// `<subject>.eml`.
    pub filename: String,
    /// Its exact bytes.
    pub raw: Vec<u8>,
}

/// What composing a message needs from the database.
#[derive(Debug, Clone)]
pub struct SendContext {
    /// The sending inbox.
    pub inbox: Inbox,
    /// The thread replied in.
    pub thread: Option<ThreadRef>,
    /// Attachments with their bytes, in the order asked for.
    pub attachments: Vec<(AttachmentMeta, Vec<u8>)>,
    /// The original of a forward that carries it as an attachment.
    pub forwarded: Option<Forwarded>,
}

/// What the send rules look at ([`crate::limits`]): the messages accepted today (UTC) from
/// the inbox and from its account, the account's daily limit, and its sends ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendUsage {
    /// Accepted today from the inbox.
    pub inbox_today: u64,
    /// Accepted today from the whole account.
    pub account_today: u64,
    /// The account's daily limit.
    pub account_daily_limit: u64,
    /// Accepted from the account ever.
    pub account_total: u64,
}

/// The usage of `inbox_id` and its account, from the per-day counters kept on both rows.
pub fn send_usage(conn: &Db, inbox_id: InboxId, now: Timestamp) -> Result<SendUsage, Failure> {
    let (inbox_today, account_today, account_daily_limit, account_total): (i64, i64, i64, i64) =
        conn.sql()
            .prepare_cached(
                "SELECT CASE WHEN i.accepted_day = ?2 THEN i.accepted_today ELSE 0 END,
                        CASE WHEN a.accepted_day = ?2 THEN a.accepted_today ELSE 0 END,
                        a.daily_send_limit, a.total_accepted
                 FROM inboxes i JOIN accounts a ON a.id = i.account_id WHERE i.id = ?1",
            )?
            .query_row(params![inbox_id, now.utc_day()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
    Ok(SendUsage {
        inbox_today: super::count(inbox_today),
        account_today: super::count(account_today),
        account_daily_limit: super::count(account_daily_limit),
        account_total: super::count(account_total),
    })
}

/// The first of `addresses` that is not an inbox receiving here, if any.
pub fn first_external<'a>(
    conn: &Db,
    addresses: impl IntoIterator<Item = &'a str>,
) -> Result<Option<&'a str>, Failure> {
    for address in addresses {
        if inboxes::find_receiving_inbox(conn, &address.to_lowercase())?.is_none() {
            return Ok(Some(address));
        }
    }
    Ok(None)
}

/// Counts an accepted send on the inbox and its account for today.
fn count_accepted(
    tx: &Tx<'_>,
    inbox_id: InboxId,
    account_id: AccountId,
    now: Timestamp,
) -> Result<(), Failure> {
    const TODAY: &str =
        "accepted_today = CASE WHEN accepted_day = ?2 THEN accepted_today + 1 ELSE 1 END,
             accepted_day = ?2 WHERE id = ?1";
    let day = now.utc_day();
    tx.sql()
        .prepare_cached(&format!("UPDATE inboxes SET {TODAY}"))?
        .execute(params![inbox_id, day])?;
    tx.sql()
        .prepare_cached(&format!(
            "UPDATE accounts SET total_accepted = total_accepted + 1, {TODAY}"
        ))?
        .execute(params![account_id, day])?;
    Ok(())
}

/// Checks what the store can check before composing (the thread or message answered, the
/// attachments) and loads what composing needs. The send rules ([`crate::limits`]) are the
/// caller's.
pub fn send_context(
    conn: &Db,
    inbox: Inbox,
    parent: Option<Parent>,
    attachment_ids: &[AttachmentId],
) -> Result<SendContext, Failure> {
    let account_id = inbox.account_id;
    let mut forwarded = None;
    let thread = match parent {
        None => None,
        Some(Parent::Thread(id)) => Some(thread_reply(conn, &inbox, id)?),
        Some(Parent::Message(id)) => {
            let m = parent_message(conn, &inbox, id)?;
            Some(ThreadRef {
                id: m.thread_id,
                references: reply_references(
                    &m.references,
                    m.in_reply_to.as_deref(),
                    m.message_id_header.as_deref(),
                ),
                in_reply_to: m.message_id_header,
            })
        }
        Some(Parent::Forward {
            message,
            attach_original,
        }) => {
            let m = parent_message(conn, &inbox, message)?;
            if attach_original {
                forwarded = Some(Forwarded {
                    filename: forwarded_filename(&m.subject),
                    raw: messages::raw_message(conn, account_id, m.id)?,
                });
            }
            Some(ThreadRef {
                id: m.thread_id,
                in_reply_to: None,
                references: m.message_id_header.into_iter().collect(),
            })
        }
    };
    let mut total = forwarded
        .as_ref()
        .map_or(0, |f| u64::try_from(f.raw.len()).unwrap_or(u64::MAX));
    let mut attachments = Vec::with_capacity(attachment_ids.len());
    for id in attachment_ids {
        total = total.saturating_add(attachments::get(conn, account_id, *id)?.meta.size);
    }
    if total > MAX_ATTACHMENTS_BYTES {
        return Err(Failure::Refused(Refusal::AttachmentsTooLarge));
    }
    for id in attachment_ids {
        attachments.push(attachments::with_content(conn, account_id, *id)?);
    }
    Ok(SendContext {
        inbox,
        thread,
        attachments,
        forwarded,
    })
}

/// A reply in thread `id` of `inbox`, to its newest message that has a Message-ID.
fn thread_reply(conn: &Db, inbox: &Inbox, id: ThreadId) -> Result<ThreadRef, Failure> {
    let thread = messages::get_thread(conn, inbox.account_id, id)?;
    if thread.inbox_id != inbox.id {
        return Err(Failure::Refused(Refusal::ThreadInboxMismatch));
    }
    let last: Option<(String, Option<String>, String)> = conn
        .sql()
        .prepare_cached(
            "SELECT message_id_header, in_reply_to, references_headers FROM messages
             WHERE thread_id = ?1 AND message_id_header IS NOT NULL
             ORDER BY created_at DESC, rowid DESC LIMIT 1",
        )?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let Some((message_id, in_reply_to, references)) = last else {
        return Ok(ThreadRef {
            id,
            in_reply_to: None,
            references: Vec::new(),
        });
    };
    let references: Vec<String> = serde_json::from_str(&references)
        .map_err(|e| Failure::corrupt(format!("references: {e}")))?;
    Ok(ThreadRef {
        id,
        references: reply_references(&references, in_reply_to.as_deref(), Some(&message_id)),
        in_reply_to: Some(message_id),
    })
}

/// Message `id` of the account, which must be `inbox`'s: a reply or forward goes out from the
/// inbox that holds the original.
fn parent_message(conn: &Db, inbox: &Inbox, id: MessageId) -> Result<Message, Failure> {
    let m = messages::get_message(conn, inbox.account_id, id)?;
    if m.inbox_id != inbox.id {
        return Err(Failure::Refused(Refusal::ThreadInboxMismatch));
    }
    Ok(m)
}

/// A composed message, ready to store.
#[derive(Debug, Clone)]
pub struct NewOutbound<'a> {
    /// Sender account.
    pub account_id: AccountId,
    /// Sending inbox.
    pub inbox_id: InboxId,
    /// The thread replied in, or `None` for a new thread with `thread_subject`.
    pub thread_id: Option<ThreadId>,
    /// Subject of a new thread.
    pub thread_subject: &'a str,
    /// `Name <addr>` or `addr`.
    pub from: &'a str,
    /// `To`.
    pub to: &'a [String],
    /// `Cc`.
    pub cc: &'a [String],
    /// `Bcc` (envelope only; kept on the sender's copy).
    pub bcc: &'a [String],
    /// Subject.
    pub subject: &'a str,
    /// Text body.
    pub text: Option<&'a str>,
    /// HTML body.
    pub html: Option<&'a str>,
    /// Message-ID, without brackets.
    pub message_id: &'a str,
    /// In-Reply-To.
    pub in_reply_to: Option<&'a str>,
    /// References.
    pub references: &'a [String],
    /// Attachments sent with it.
    pub attachment_ids: &'a [AttachmentId],
    /// Envelope recipients with their field.
    pub recipients: &'a [(String, RecipientKind)],
    /// The exact bytes to send.
    pub raw: &'a [u8],
    /// The envelope sender for remote recipients: the message's own return path.
    pub return_path: &'a str,
    /// Its new content and searchable text.
    pub reading: &'a Reading,
}

/// Stores an accepted message (status `queued`), its recipients and its send job, in one
/// transaction, and counts it against the day's usage. The send rules ([`crate::limits`]) are
/// checked by the caller in the same transaction, where they cannot change underneath.
pub fn insert_outbound(
    tx: &Tx<'_>,
    m: &NewOutbound<'_>,
    now: Timestamp,
) -> Result<Message, Failure> {
    count_accepted(tx, m.inbox_id, m.account_id, now)?;
    let thread_id = match m.thread_id {
        Some(id) => id,
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
    let id = MessageId::new();
    let [extracted_text, extracted_html] = messages::extracted(m.reading, m.text, m.html);
    let list = |items: &[String]| serde_json::Value::from(items.to_vec()).to_string();
    tx.sql()
        .prepare_cached(
            "INSERT INTO messages (id, account_id, inbox_id, thread_id, direction, status,
             from_address, to_addresses, cc_addresses, bcc_addresses, subject, body_text,
             body_html, message_id_header, in_reply_to, references_headers, created_at,
             updated_at, return_path, extracted_text, extracted_html)
         VALUES (?1, ?2, ?3, ?4, 'outbound', 'queued', ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13,
             ?14, ?15, ?15, ?16, ?17, ?18)",
        )?
        .execute(params![
            id,
            m.account_id,
            m.inbox_id,
            thread_id,
            m.from,
            list(m.to),
            list(m.cc),
            list(m.bcc),
            m.subject,
            Body::of(m.text),
            Body::of(m.html),
            m.message_id,
            m.in_reply_to,
            list(m.references),
            now,
            m.return_path,
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
    messages::insert_raw(tx, id, &[m.raw])?;
    for (position, attachment) in m.attachment_ids.iter().enumerate() {
        // Checked again here: an unused upload may have expired since the message was composed.
        let linked = tx
            .sql()
            .prepare_cached(
                "INSERT INTO message_attachments (message_id, attachment_id, position)
                 SELECT ?1, id, ?3 FROM attachments WHERE id = ?2 AND account_id = ?4",
            )?
            .execute(params![
                id,
                attachment,
                i64::try_from(position).unwrap_or(0),
                m.account_id
            ])?;
        if linked == 0 {
            return Err(Failure::Refused(Refusal::NotFound(Resource::Attachment)));
        }
    }
    for (address, kind) in m.recipients {
        tx.sql()
            .prepare_cached(
                "INSERT INTO message_recipients (message_id, address, kind, updated_at)
             VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![id, address, kind.as_str(), now])?;
    }
    tx.sql()
        .prepare_cached(
            "UPDATE threads SET message_count = message_count + 1,
             last_message_at = max(last_message_at, ?2)
         WHERE id = ?1",
        )?
        .execute(params![thread_id, now])?;
    let payload = serde_json::json!({ "messageId": id }).to_string();
    jobs::enqueue(tx, SEND_JOB, &payload, now, Queue::Sends, now)?;
    messages::get_message(tx, m.account_id, id)
}

/// A message to send, as the send worker needs it.
#[derive(Debug, Clone)]
pub struct SendUnit {
    /// The message.
    pub message: Message,
    /// The sending inbox's address (the envelope sender of local deliveries).
    pub mail_from: String,
    /// The envelope sender of remote deliveries: the message's own return path (the inbox's
    /// address for messages sent before there were return paths).
    pub return_path: String,
    /// The exact bytes.
    pub raw: Vec<u8>,
    /// Recipients not yet done, with the inbox here that receives for each (if any).
    pub pending: Vec<(String, Option<(InboxId, AccountId)>)>,
    /// The sending account's plan (a sandbox may be limited to inboxes here).
    pub plan: Plan,
}

/// Whether a message still exists (a send's may be deleted while it is under way).
pub fn message_exists(conn: &Db, message_id: MessageId) -> Result<bool, Failure> {
    Ok(conn
        .sql()
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM messages WHERE id = ?1)")?
        .query_row([message_id], |r| r.get(0))?)
}

/// Loads a message to send, and which of its pending recipients are inboxes here; `None` when
/// it was deleted meanwhile.
pub fn load_send(conn: &Db, message_id: MessageId) -> Result<Option<SendUnit>, Failure> {
    let account_id: Option<AccountId> = conn
        .sql()
        .query_row(
            "SELECT account_id FROM messages WHERE id = ?1",
            [message_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(account_id) = account_id else {
        return Ok(None);
    };
    let plan = accounts::get_account(conn, account_id)?.plan;
    let message = messages::get_message(conn, account_id, message_id)?;
    let (mail_from, return_path): (String, Option<String>) = conn
        .sql()
        .prepare_cached(
            "SELECT i.address, m.return_path FROM messages m JOIN inboxes i ON i.id = m.inbox_id
             WHERE m.id = ?1",
        )?
        .query_row([message_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let return_path = return_path.unwrap_or_else(|| mail_from.clone());
    let raw = messages::raw_message(conn, account_id, message_id)?;
    let addresses: Vec<String> = conn
        .sql()
        .prepare_cached(
            "SELECT address FROM message_recipients WHERE message_id = ?1 AND status = 'pending'
             ORDER BY rowid",
        )?
        .query_map([message_id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let pending = addresses
        .into_iter()
        .map(|address| {
            let local = inboxes::find_receiving_inbox(conn, &address.to_lowercase())?;
            Ok((address, local))
        })
        .collect::<Result<_, Failure>>()?;
    Ok(Some(SendUnit {
        message,
        mail_from,
        return_path,
        raw,
        pending,
        plan,
    }))
}

/// Records where one recipient's delivery got.
pub fn set_recipient(
    tx: &Tx<'_>,
    message_id: MessageId,
    address: &str,
    status: RecipientStatus,
    route: Option<&str>,
    error: Option<&str>,
    now: Timestamp,
) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached(
            "UPDATE message_recipients
         SET status = ?3, route = coalesce(?4, route), last_error = ?5, updated_at = ?6
         WHERE message_id = ?1 AND address = ?2",
        )?
        .execute(params![
            message_id,
            address,
            status.as_str(),
            route,
            error,
            now
        ])?;
    Ok(())
}

/// Every recipient's status and route.
pub fn recipients(
    conn: &Db,
    message_id: MessageId,
) -> Result<Vec<(String, RecipientStatus, Option<String>)>, Failure> {
    let rows = conn
        .sql()
        .prepare_cached(
            "SELECT address, status, route FROM message_recipients WHERE message_id = ?1",
        )?
        .query_map([message_id], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(address, status, route)| {
            RecipientStatus::parse(&status)
                .map(|s| (address, s, route))
                .ok_or_else(|| Failure::corrupt(format!("recipient status {status:?}")))
        })
        .collect()
}

/// Each recipient of one of the account's messages and how far its delivery got, in the order
/// they were addressed (none for received mail).
pub fn recipient_outcomes(
    conn: &Db,
    account_id: AccountId,
    message_id: MessageId,
) -> Result<Vec<RecipientOutcome>, Failure> {
    let sql = conn.sql();
    let exists = sql
        .prepare_cached("SELECT 1 FROM messages WHERE id = ?1 AND account_id = ?2")?
        .query_row(params![message_id, account_id], |_| Ok(()))
        .optional()?;
    if exists.is_none() {
        return Err(Failure::Refused(Refusal::NotFound(Resource::Message)));
    }
    let rows = sql
        .prepare_cached(
            "SELECT address, kind, status, route, last_error, updated_at
             FROM message_recipients WHERE message_id = ?1 ORDER BY rowid",
        )?
        .query_map([message_id], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(address, kind, status, route, last_error, updated_at)| {
            Ok(RecipientOutcome {
                kind: RecipientKind::parse(&kind)
                    .ok_or_else(|| Failure::corrupt(format!("recipient kind {kind:?}")))?,
                status: RecipientStatus::parse(&status)
                    .ok_or_else(|| Failure::corrupt(format!("recipient status {status:?}")))?,
                address,
                route,
                last_error,
                updated_at,
            })
        })
        .collect()
}

/// Sets a message's status, delivery and error message.
pub fn set_status(
    tx: &Tx<'_>,
    message_id: MessageId,
    status: MessageStatus,
    delivery: Option<&str>,
    error: Option<&str>,
    now: Timestamp,
) -> Result<(), Failure> {
    tx.sql().prepare_cached(
        "UPDATE messages SET status = ?2, delivery = coalesce(?3, delivery), error_message = ?4,
             updated_at = ?5
         WHERE id = ?1",
    )?
    .execute(params![message_id, status.as_str(), delivery, error, now])?;
    Ok(())
}

/// The first hand-off of a message: sets `sent_at` and counts the send on the inbox and the
/// account (`sendsToday` per UTC day, `totalSent`). `false` if it was handed off before.
pub fn mark_handed_off(tx: &Tx<'_>, message: &Message, now: Timestamp) -> Result<bool, Failure> {
    let first = tx
        .sql()
        .prepare_cached("UPDATE messages SET sent_at = ?2 WHERE id = ?1 AND sent_at IS NULL")?
        .execute(params![message.id, now])?
        > 0;
    if first {
        let day = now.utc_day();
        // The same counting for the inbox and for the account across its inboxes.
        const COUNT: &str =
            "SET sends_today = CASE WHEN sends_day = ?2 THEN sends_today + 1 ELSE 1 END,
                 sends_day = ?2, total_sent = total_sent + 1 WHERE id = ?1";
        tx.sql()
            .prepare_cached(&format!("UPDATE inboxes {COUNT}"))?
            .execute(params![message.inbox_id, day])?;
        tx.sql()
            .prepare_cached(&format!("UPDATE accounts {COUNT}"))?
            .execute(params![message.account_id, day])?;
    }
    Ok(first)
}

/// Counts a bounce of this message on its inbox (once per message) and applies the
/// auto-suspension rule. Returns whether the inbox was suspended by it.
pub fn count_bounce(tx: &Tx<'_>, message: &Message, now: Timestamp) -> Result<bool, Failure> {
    tx.sql()
        .prepare_cached(
            "UPDATE inboxes SET bounce_count = bounce_count + 1, updated_at = ?2 WHERE id = ?1",
        )?
        .execute(params![message.inbox_id, now])?;
    inboxes::suspend_if_over_limits(tx, message.inbox_id, now)
}

/// Claims up to `max` due sends and marks their messages `sending` (a message's first attempt
/// moves it out of `queued`), in one transaction.
pub fn claim_sends(
    tx: &Tx<'_>,
    now: Timestamp,
    max: usize,
    lease: &jobs::Lease,
) -> Result<Vec<jobs::Job>, Failure> {
    let claimed = jobs::claim(tx, SEND_JOB, now, max, lease)?;
    for job in &claimed {
        tx.sql()
            .prepare_cached(
                "UPDATE messages SET status = 'sending', updated_at = ?2
             WHERE id = json_extract(?1, '$.messageId') AND status = 'queued'",
            )?
            .execute(params![job.payload, now])?;
    }
    Ok(claimed)
}
