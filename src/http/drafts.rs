//! `/inboxes/{id}/drafts`, `/drafts/{id}` and sending and approving drafts: thin handlers over
//! [`crate::drafts::Drafts`].

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::List;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated, Paged};
use super::idempotency::{Idempotency, Reply};
use super::messages::{Mailbox, MessageDto, queued};
use crate::domain::draft::{Draft, DraftEdit, DraftInput};
use crate::domain::{AccountId, AttachmentId, DraftId, InboxId, MessageId, ThreadId, Timestamp};
use crate::state::AppState;
use crate::store::Tx;

/// A draft on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DraftDto {
    #[schema(value_type = String, format = Uuid)]
    id: DraftId,
    #[schema(value_type = String, format = Uuid)]
    account_id: AccountId,
    #[schema(value_type = String, format = Uuid)]
    inbox_id: InboxId,
    to: Vec<String>,
    cc: Vec<String>,
    bcc: Vec<String>,
    subject: Option<String>,
    body_text: Option<String>,
    body_html: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    thread_id: Option<ThreadId>,
    #[schema(value_type = Vec<uuid::Uuid>)]
    attachment_ids: Vec<AttachmentId>,
    /// When it is sent by itself (once approved, if it needs approval).
    #[schema(value_type = Option<String>, format = DateTime)]
    send_at: Option<Timestamp>,
    /// Only a key with the `approve` scope, or the operator, may send or release it.
    requires_approval: bool,
    /// When its current content was approved (editing the content takes the approval away).
    #[schema(value_type = Option<String>, format = DateTime)]
    approved_at: Option<Timestamp>,
    /// The id of the API key that approved it, or `operator`.
    approved_by: Option<String>,
    /// Goes up with every change: pass it to approve so that only what was reviewed is.
    revision: i64,
    /// `draft`, `scheduled`, `sent` or `failed`.
    #[schema(example = "draft")]
    status: &'static str,
    /// The message it became, once sent.
    #[schema(value_type = Option<String>, format = Uuid)]
    message_id: Option<MessageId>,
    /// Why its scheduled send was refused (`failed`).
    error_message: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Draft> for DraftDto {
    fn from(d: Draft) -> Self {
        let c = d.content;
        Self {
            id: d.id,
            account_id: d.account_id,
            inbox_id: d.inbox_id,
            to: c.to.unwrap_or_default(),
            cc: c.cc.unwrap_or_default(),
            bcc: c.bcc.unwrap_or_default(),
            subject: c.subject,
            body_text: c.body_text,
            body_html: c.body_html,
            thread_id: c.thread_id,
            attachment_ids: c.attachment_ids.unwrap_or_default(),
            send_at: d.send_at,
            requires_approval: d.requires_approval,
            approved_at: d.approved_at,
            approved_by: d.approved_by.map(|a| a.as_string()),
            revision: d.revision,
            status: d.status.as_str(),
            message_id: d.message_id,
            error_message: d.error_message,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// The body of `POST` and `PATCH /inboxes/{id}/drafts…`. Each field given follows the rule of
/// a send; a draft may be unfinished until it is scheduled or sent. In a `PATCH`, a field left
/// out stays as it is; `null` clears a text (and cancels `sendAt`), `[]` empties a list.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DraftBody {
    /// Up to 50 recipient addresses (at least one to schedule or send it).
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    to: Option<Vec<String>>,
    /// Up to 50.
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    cc: Option<Vec<String>>,
    /// Up to 50.
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    bcc: Option<Vec<String>>,
    /// 1–998 characters, no line breaks (required to schedule or send it).
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>, max_length = 998, pattern = r"^[^\r\n\u0000]*$")]
    subject: Option<Option<String>>,
    /// At most 256,000 characters.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>, max_length = 256_000)]
    body_text: Option<Option<String>>,
    /// At most 256,000 characters.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>, max_length = 256_000)]
    body_html: Option<Option<String>>,
    /// Reply in this thread of the inbox.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>, format = Uuid)]
    thread_id: Option<Option<ThreadId>>,
    /// Up to 10 attachments of the account, 25 MB in all.
    #[schema(value_type = Option<Vec<uuid::Uuid>>, max_items = 10)]
    attachment_ids: Option<Vec<AttachmentId>>,
    /// Send it by itself then (RFC 3339): in the future and at most 30 days ahead; the draft
    /// must then be complete. `null` cancels the schedule.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    send_at: Option<Option<String>>,
    /// Only a key with the `approve` scope (or the operator) may then send or release it; only
    /// such a key may turn it off again.
    requires_approval: Option<bool>,
}

impl DraftBody {
    /// The change, checked against `now`.
    pub(crate) fn parse(self, now: Timestamp) -> Result<DraftEdit, ApiError> {
        let input = DraftInput {
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            subject: self.subject,
            body_text: self.body_text,
            body_html: self.body_html,
            thread_id: self.thread_id,
            attachment_ids: self.attachment_ids,
            send_at: self.send_at,
            requires_approval: self.requires_approval,
        };
        Ok(DraftEdit::parse(input, now)?)
    }
}

/// An inbox's id and one of its drafts' in the path, for the OpenAPI document.
#[derive(Debug, IntoParams)]
#[expect(dead_code, reason = "describes the path for the OpenAPI document only")]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct DraftPath {
    /// The inbox, a UUID.
    #[param(format = Uuid)]
    id: String,
    /// The draft, a UUID.
    #[param(format = Uuid)]
    draft_id: String,
}

/// Write a draft in an inbox; with `sendAt` it is sent then by itself.
#[utoipa::path(post, path = "/inboxes/{id}/drafts", tag = "Drafts", operation_id = "createDraft",
    params(super::IdParam), request_body = Option<DraftBody>,
    responses(
        (status = 201, description = "Draft created", body = DraftDto),
        (status = 400, description = "An invalid field, `sendAt` in the past or more than 30 days ahead, or a scheduled draft that is not a complete send", body = ErrorBody),
        (status = 404, description = "No such inbox", body = ErrorBody),
    ))]
pub async fn create(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    inbox: Path<InboxId>,
    body: ApiJson<DraftBody>,
) -> Result<Reply, ApiError> {
    let fields = body.into_inner().parse(state.drafts.now())?;
    let respond = move |tx: &Tx<'_>, draft| {
        idempotency.keep(
            tx,
            Reply::json(StatusCode::CREATED, &DraftDto::from(draft))?,
        )
    };
    Ok(state
        .drafts
        .create(&auth.0, inbox.into_inner(), fields, respond)
        .await?)
}

/// List an inbox's drafts, newest first.
#[utoipa::path(get, path = "/inboxes/{id}/drafts", tag = "Drafts", operation_id = "listDrafts",
    params(super::IdParam, super::PageParams),
    responses(
        (status = 200, description = "A page of drafts", body = List<DraftDto>),
        (status = 404, description = "No such inbox", body = ErrorBody),
    ))]
pub async fn list(
    auth: Authenticated,
    state: Data<AppState>,
    inbox: Path<InboxId>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let page = state
        .drafts
        .list(&auth.0, inbox.into_inner(), paging)
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(DraftDto::from))))
}

/// Get one of an inbox's drafts.
#[utoipa::path(get, path = "/inboxes/{id}/drafts/{draftId}", tag = "Drafts", operation_id = "getInboxDraft",
    params(DraftPath),
    responses(
        (status = 200, description = "The draft", body = DraftDto),
        (status = 404, description = "DRAFT_NOT_FOUND", body = ErrorBody),
    ))]
pub async fn get_in_inbox(
    auth: Authenticated,
    state: Data<AppState>,
    path: Path<(InboxId, DraftId)>,
) -> Result<impl Responder, ApiError> {
    let (inbox, id) = path.into_inner();
    let draft = state.drafts.get(&auth.0, Some(inbox), id).await?;
    Ok(HttpResponse::Ok().json(DraftDto::from(draft)))
}

/// Get a draft by its id alone.
#[utoipa::path(get, path = "/drafts/{id}", tag = "Drafts", operation_id = "getDraft",
    params(super::IdParam),
    responses(
        (status = 200, description = "The draft", body = DraftDto),
        (status = 404, description = "DRAFT_NOT_FOUND", body = ErrorBody),
    ))]
pub async fn get(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<DraftId>,
) -> Result<impl Responder, ApiError> {
    let draft = state.drafts.get(&auth.0, None, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(DraftDto::from(draft)))
}

/// Change a draft: its content (which takes an approval away), its schedule (`sendAt`, `null`
/// to cancel) or whether it needs approval.
#[utoipa::path(patch, path = "/inboxes/{id}/drafts/{draftId}", tag = "Drafts", operation_id = "updateDraft",
    params(DraftPath), request_body = Option<DraftBody>,
    responses(
        (status = 200, description = "The draft as changed", body = DraftDto),
        (status = 400, description = "An invalid field, `sendAt` in the past or more than 30 days ahead, or a scheduled draft that is not a complete send", body = ErrorBody),
        (status = 403, description = "APPROVAL_REQUIRED: only a key with `approve` may turn `requiresApproval` off", body = ErrorBody),
        (status = 404, description = "DRAFT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "DRAFT_ALREADY_SENT", body = ErrorBody),
    ))]
pub async fn update(
    auth: Authenticated,
    state: Data<AppState>,
    path: Path<(InboxId, DraftId)>,
    body: ApiJson<DraftBody>,
) -> Result<impl Responder, ApiError> {
    let (inbox, id) = path.into_inner();
    let edit = body.into_inner().parse(state.drafts.now())?;
    let draft = state.drafts.update(&auth.0, Some(inbox), id, edit).await?;
    Ok(HttpResponse::Ok().json(DraftDto::from(draft)))
}

/// Delete a draft; a scheduled send is cancelled (a sent draft's message stays).
#[utoipa::path(delete, path = "/inboxes/{id}/drafts/{draftId}", tag = "Drafts", operation_id = "deleteDraft",
    params(DraftPath),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "DRAFT_NOT_FOUND", body = ErrorBody),
    ))]
pub async fn delete(
    auth: Authenticated,
    state: Data<AppState>,
    path: Path<(InboxId, DraftId)>,
) -> Result<impl Responder, ApiError> {
    let (inbox, id) = path.into_inner();
    state.drafts.delete(&auth.0, Some(inbox), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Send a draft now, exactly as `POST /inboxes/{id}/messages` would (a schedule is cancelled).
/// A draft that needs approval and has none is sent only with a key that has the `approve`
/// scope, which then counts as its approval.
#[utoipa::path(post, path = "/drafts/{id}/send", tag = "Drafts", operation_id = "sendDraft",
    params(super::IdParam),
    responses(
        (status = 202, description = "Accepted and queued", body = MessageDto),
        (status = 400, description = "The draft is not a complete send, THREAD_INBOX_MISMATCH or ATTACHMENTS_TOO_LARGE", body = ErrorBody),
        (status = 402, description = "CLAIM_REQUIRED: a sandbox account's limit", body = ErrorBody),
        (status = 403, description = "APPROVAL_REQUIRED, or INBOX_SUSPENDED", body = ErrorBody),
        (status = 404, description = "No such draft, inbox, thread or attachment", body = ErrorBody),
        (status = 409, description = "DRAFT_ALREADY_SENT, or DRAFT_CHANGED while it was being sent", body = ErrorBody),
        (status = 429, description = "DAILY_SEND_LIMIT_REACHED (no Retry-After)", body = ErrorBody),
    ))]
pub async fn send(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    id: Path<DraftId>,
) -> Result<Reply, ApiError> {
    let respond = queued(idempotency);
    Ok(state.drafts.send(&auth.0, id.into_inner(), respond).await?)
}

/// `POST /drafts/{id}/approve` body (may be empty).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApproveDraft {
    /// The `revision` of the draft as reviewed: if it has changed since, nothing is approved
    /// (`409 DRAFT_CHANGED`). Without it, the current revision is approved.
    #[schema(minimum = 0)]
    revision: Option<i64>,
}

/// Approve a draft (a key with the `approve` scope): it is sent at its `sendAt`, or at once
/// when it has none or that time has passed. Any draft may be approved; editing its content
/// afterwards takes the approval away. Pass the `revision` you reviewed, so that a change
/// made meanwhile is not approved unseen.
#[utoipa::path(post, path = "/drafts/{id}/approve", tag = "Drafts", operation_id = "approveDraft",
    params(super::IdParam), request_body = Option<ApproveDraft>,
    responses(
        (status = 200, description = "The approved draft, scheduled", body = DraftDto),
        (status = 400, description = "The draft is not a complete send", body = ErrorBody),
        (status = 404, description = "DRAFT_NOT_FOUND", body = ErrorBody),
        (status = 409, description = "DRAFT_ALREADY_SENT, or DRAFT_CHANGED: it is no longer at the `revision` given", body = ErrorBody),
    ))]
pub async fn approve(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    id: Path<DraftId>,
    body: ApiJson<ApproveDraft>,
) -> Result<Reply, ApiError> {
    let reviewed = body.into_inner().revision;
    if reviewed.is_some_and(|r| r < 0) {
        return Err(ApiError::invalid_field("revision", "must be 0 or more"));
    }
    let respond = move |tx: &Tx<'_>, draft| {
        idempotency.keep(tx, Reply::json(StatusCode::OK, &DraftDto::from(draft))?)
    };
    Ok(state
        .drafts
        .approve(&auth.0, id.into_inner(), reviewed, respond)
        .await?)
}
