//! Drafts, and the job that sends a scheduled one: every change of a draft is saved with its
//! job brought in line in the same transaction (the old job dropped, a new one queued when the
//! draft is due to be sent), so that a job only ever sends the version of the draft it was
//! queued for.

use super::conn::Row;
use rusqlite::{OptionalExtension, params};

use super::page::{Order, page};
use super::sql::bad_text;
use super::{Db, Failure, Queue, Tx, count, jobs};
use crate::domain::draft::{Approver, Draft, DraftStatus};
use crate::domain::outbound::SendFields;
use crate::domain::{
    AccountId, DraftId, InboxId, JobId, Page, Paging, Refusal, Resource, Timestamp,
};

/// The kind of the jobs that send a scheduled draft.
pub const DRAFT_SEND_JOB: &str = "draft-send";

/// The payload of a draft's send job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DraftSendJob {
    /// The draft.
    pub draft_id: DraftId,
}

macro_rules! columns {
    () => {
        "id, account_id, inbox_id, created_by, to_addresses, cc_addresses, bcc_addresses, \
         subject, body_text, body_html, thread_id, attachment_ids, send_at, requires_approval, \
         approved_at, approved_by, status, message_id, error_message, revision, created_at, \
         updated_at"
    };
}

fn list_of<T: serde::de::DeserializeOwned>(r: &Row<'_>, i: usize) -> rusqlite::Result<Vec<T>> {
    let text: String = r.get(i)?;
    serde_json::from_str(&text).map_err(|e| bad_text(i, format!("a JSON list: {e}")))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<Draft> {
    let status: String = r.get(16)?;
    let approved_by: Option<String> = r.get(15)?;
    Ok(Draft {
        id: r.get(0)?,
        account_id: r.get(1)?,
        inbox_id: r.get(2)?,
        created_by: r.get(3)?,
        content: SendFields {
            to: Some(list_of(r, 4)?),
            cc: Some(list_of(r, 5)?),
            bcc: Some(list_of(r, 6)?),
            subject: r.get(7)?,
            body_text: r.get(8)?,
            body_html: r.get(9)?,
            thread_id: r.get(10)?,
            attachment_ids: Some(list_of(r, 11)?),
        },
        send_at: r.get(12)?,
        requires_approval: r.get(13)?,
        approved_at: r.get(14)?,
        approved_by: approved_by
            .map(|a| Approver::parse(&a).ok_or_else(|| bad_text(15, format!("approver {a:?}"))))
            .transpose()?,
        status: DraftStatus::parse(&status)
            .ok_or_else(|| bad_text(16, format!("draft status {status:?}")))?,
        message_id: r.get(17)?,
        error_message: r.get(18)?,
        revision: r.get(19)?,
        created_at: r.get(20)?,
        updated_at: r.get(21)?,
    })
}

fn json_list<T: serde::Serialize>(items: Option<&Vec<T>>) -> Result<String, Failure> {
    serde_json::to_string(items.map_or(&[][..], |v| v.as_slice()))
        .map_err(|e| Failure::Internal(format!("a draft's list: {e}")))
}

/// Stores a new draft (and queues its send when it is due to be sent).
pub fn insert(tx: &Tx<'_>, draft: &Draft, now: Timestamp) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached(
            "INSERT INTO drafts (id, account_id, inbox_id, created_by, created_at, updated_at,
                 revision)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6)",
        )?
        .execute(params![
            draft.id,
            draft.account_id,
            draft.inbox_id,
            draft.created_by,
            draft.created_at,
            draft.revision
        ])?;
    save(tx, draft, draft.revision, now)
}

/// Writes `draft` over the stored one, provided that is still at `revision` (else
/// [`Refusal::DraftChanged`]: someone changed it since it was read), and brings its send job
/// in line: the old one is dropped, and a new one queued when the draft is due to be sent.
pub fn save(tx: &Tx<'_>, draft: &Draft, revision: i64, now: Timestamp) -> Result<(), Failure> {
    let old_job: Option<Option<JobId>> = tx
        .sql()
        .prepare_cached("SELECT job_id FROM drafts WHERE id = ?1 AND revision = ?2")?
        .query_row(params![draft.id, revision], |r| r.get(0))
        .optional()?;
    let Some(old_job) = old_job else {
        return Err(Failure::Refused(Refusal::DraftChanged));
    };
    if let Some(job) = old_job {
        jobs::cancel(tx, job)?;
    }
    let job = match draft.due(now) {
        Some(due) => {
            let payload = serde_json::json!(DraftSendJob { draft_id: draft.id }).to_string();
            Some(jobs::enqueue(
                tx,
                DRAFT_SEND_JOB,
                &payload,
                due,
                Queue::Drafts,
                now,
            )?)
        }
        None => None,
    };
    let c = &draft.content;
    tx.sql()
        .prepare_cached(
            "UPDATE drafts SET to_addresses = ?2, cc_addresses = ?3, bcc_addresses = ?4,
                 subject = ?5, body_text = ?6, body_html = ?7, thread_id = ?8,
                 attachment_ids = ?9, send_at = ?10, requires_approval = ?11, approved_at = ?12,
                 approved_by = ?13, status = ?14, message_id = ?15, error_message = ?16,
                 job_id = ?17, revision = ?18, updated_at = ?19
             WHERE id = ?1",
        )?
        .execute(params![
            draft.id,
            json_list(c.to.as_ref())?,
            json_list(c.cc.as_ref())?,
            json_list(c.bcc.as_ref())?,
            c.subject,
            c.body_text,
            c.body_html,
            c.thread_id,
            json_list(c.attachment_ids.as_ref())?,
            draft.send_at,
            draft.requires_approval,
            draft.approved_at,
            draft.approved_by.map(Approver::as_string),
            draft.status.as_str(),
            draft.message_id,
            draft.error_message,
            job,
            draft.revision,
            draft.updated_at
        ])?;
    Ok(())
}

/// One of the account's drafts (of `inbox` when given).
pub fn get(
    conn: &Db,
    account_id: AccountId,
    inbox: Option<InboxId>,
    id: DraftId,
) -> Result<Draft, Failure> {
    conn.sql()
        .prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM drafts WHERE id = ?1 AND account_id = ?2 AND (CAST(?3 AS TEXT) IS NULL OR inbox_id = ?3)"
        ))?
        .query_row(params![id, account_id, inbox], from_row)
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Draft)))
}

/// Any account's draft (for the send worker and the operator).
pub fn find(conn: &Db, id: DraftId) -> Result<Option<Draft>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(concat!("SELECT ", columns!(), " FROM drafts WHERE id = ?1"))?
        .query_row([id], from_row)
        .optional()?)
}

/// A page of an inbox's drafts, newest first.
pub fn list(
    conn: &Db,
    account_id: AccountId,
    inbox_id: InboxId,
    paging: Paging,
) -> Result<Page<Draft>, Failure> {
    let total: i64 = conn.sql().query_row(
        "SELECT count(*) FROM drafts WHERE inbox_id = ?1 AND account_id = ?2",
        params![inbox_id, account_id],
        |r| r.get(0),
    )?;
    page(
        conn,
        concat!(
            "SELECT ",
            columns!(),
            ", created_at, rowid FROM drafts WHERE inbox_id = ?1 AND account_id = ?2"
        ),
        &Order::NEWEST,
        &[&inbox_id, &account_id],
        paging,
        count(total),
        from_row,
    )
}

/// An account's drafts for the operator, newest first: all, or only those waiting for an
/// approval (not sent, needing one, not approved).
pub fn list_for_operator(
    conn: &Db,
    account_id: AccountId,
    pending_only: bool,
) -> Result<Vec<Draft>, Failure> {
    let drafts = conn
        .sql()
        .prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM drafts WHERE account_id = ?1
               AND (?2 = 0 OR (requires_approval = 1 AND approved_at IS NULL AND status != 'sent'))
             ORDER BY created_at DESC, rowid DESC"
        ))?
        .query_map(params![account_id, pending_only], from_row)?
        .collect::<Result<_, _>>()?;
    Ok(drafts)
}

/// Deletes one of the account's drafts (of `inbox` when given) and its pending send.
pub fn delete(
    tx: &Tx<'_>,
    account_id: AccountId,
    inbox: Option<InboxId>,
    id: DraftId,
) -> Result<(), Failure> {
    let job: Option<Option<JobId>> = tx
        .sql()
        .prepare_cached(
            "DELETE FROM drafts WHERE id = ?1 AND account_id = ?2 AND (CAST(?3 AS TEXT) IS NULL OR inbox_id = ?3)
             RETURNING job_id",
        )?
        .query_row(params![id, account_id, inbox], |r| r.get(0))
        .optional()?;
    match job {
        None => Err(Failure::Refused(Refusal::NotFound(Resource::Draft))),
        Some(job) => job.map_or(Ok(()), |job| jobs::cancel(tx, job)),
    }
}
