//! `/messages/{id}/reply` and `/messages/{id}/forward`: sends that answer or pass on a stored
//! message, accepted like `POST /inboxes/{id}/messages`.

use actix_web::web::{Data, Path};
use serde::Deserialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated};
use super::idempotency::{Idempotency, Reply};
use super::messages::{Mailbox, MessageDto, queued};
use crate::domain::reply::{ForwardFields, ForwardRequest, ReplyFields, ReplyRequest};
use crate::domain::{AttachmentId, MessageId};
use crate::state::AppState;

/// `POST /messages/{id}/reply` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplyMessage {
    /// At most 256,000 characters; this or `bodyHtml` is required.
    #[schema(max_length = 256_000)]
    body_text: Option<String>,
    /// At most 256,000 characters.
    #[schema(max_length = 256_000)]
    body_html: Option<String>,
    /// Also to the original's other `To` and its `Cc` (without this inbox). Default `false`.
    reply_all: Option<bool>,
    /// More copies, up to 50.
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    cc: Option<Vec<String>>,
    /// Up to 50; they get the reply but are not listed in its headers.
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    bcc: Option<Vec<String>>,
    /// Up to 10 attachments of the account, 25 MB in all.
    #[schema(value_type = Option<Vec<uuid::Uuid>>, max_items = 10)]
    attachment_ids: Option<Vec<AttachmentId>>,
}

/// Reply to a message, from its inbox and in its thread. A received message is answered to its
/// `Reply-To` (else its `From`), a sent one to its `To`; the subject gets `Re: ` and
/// `In-Reply-To` and `References` name the original. Accepted like a send: `message.sent` and
/// `message.delivered` follow.
#[utoipa::path(post, path = "/messages/{id}/reply", tag = "Messages", operation_id = "replyToMessage",
    params(super::IdParam), request_body = ReplyMessage,
    responses(
        (status = 202, description = "Accepted and queued", body = MessageDto),
        (status = 400, description = "Invalid field (or no address to reply to), ATTACHMENTS_TOO_LARGE or RECIPIENT_BLOCKED", body = ErrorBody),
        (status = 402, description = "CLAIM_REQUIRED: a sandbox account's limit", body = ErrorBody),
        (status = 403, description = "INBOX_SUSPENDED", body = ErrorBody),
        (status = 404, description = "No such message, its inbox is deleted, or no such attachment", body = ErrorBody),
        (status = 429, description = "DAILY_SEND_LIMIT_REACHED (no Retry-After)", body = ErrorBody),
    ))]
pub async fn reply(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    message: Path<MessageId>,
    body: ApiJson<ReplyMessage>,
) -> Result<Reply, ApiError> {
    let request = body.into_inner().into_request()?;
    let respond = queued(idempotency);
    Ok(state
        .sending
        .reply(&auth.0, message.into_inner(), request, respond)
        .await?)
}

impl ReplyMessage {
    /// The reply, checked.
    pub(crate) fn into_request(self) -> Result<ReplyRequest, ApiError> {
        Ok(ReplyRequest::parse(ReplyFields {
            body_text: self.body_text,
            body_html: self.body_html,
            reply_all: self.reply_all,
            cc: self.cc,
            bcc: self.bcc,
            attachment_ids: self.attachment_ids,
        })?)
    }
}

impl ForwardMessage {
    /// The forward, checked.
    pub(crate) fn into_request(self) -> Result<ForwardRequest, ApiError> {
        Ok(ForwardRequest::parse(ForwardFields {
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            body_text: self.body_text,
            body_html: self.body_html,
            attachment_ids: self.attachment_ids,
            mode: self.mode,
        })?)
    }
}

/// How a forward carries the original, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ForwardModeName {
    Attachment,
    Inline,
}

/// `POST /messages/{id}/forward` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForwardMessage {
    /// 1–50 recipient addresses.
    #[schema(value_type = Vec<Mailbox>, min_items = 1, max_items = 50)]
    to: Option<Vec<String>>,
    /// Up to 50.
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    cc: Option<Vec<String>>,
    /// Up to 50; they get the message but are not listed in its headers.
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    bcc: Option<Vec<String>>,
    /// A note above the original; at most 256,000 characters.
    #[schema(max_length = 256_000)]
    body_text: Option<String>,
    /// The note in HTML; at most 256,000 characters.
    #[schema(max_length = 256_000)]
    body_html: Option<String>,
    /// Up to 10 attachments of the account (with an inline forward, the original's count
    /// too), 25 MB in all (with the original when it is attached).
    #[schema(value_type = Option<Vec<uuid::Uuid>>, max_items = 10)]
    attachment_ids: Option<Vec<AttachmentId>>,
    /// `attachment`: the original's exact bytes as a `message/rfc822` part; `inline`: its
    /// headers and text quoted under the note, its attachments attached again. Default: the
    /// server's `[outbound] forward_as` (`attachment` unless configured).
    #[schema(value_type = Option<ForwardModeName>)]
    mode: Option<String>,
}

/// Forward a message, from its inbox. The forward stays in the original's thread here and
/// names it in `References` (not `In-Reply-To`); the subject gets `Fwd: `. Accepted like a
/// send: `message.sent` and `message.delivered` follow.
#[utoipa::path(post, path = "/messages/{id}/forward", tag = "Messages", operation_id = "forwardMessage",
    params(super::IdParam), request_body = ForwardMessage,
    responses(
        (status = 202, description = "Accepted and queued", body = MessageDto),
        (status = 400, description = "Invalid field, ATTACHMENTS_TOO_LARGE or RECIPIENT_BLOCKED", body = ErrorBody),
        (status = 402, description = "CLAIM_REQUIRED: a sandbox account's limit", body = ErrorBody),
        (status = 403, description = "INBOX_SUSPENDED", body = ErrorBody),
        (status = 404, description = "No such message, its inbox is deleted, or no such attachment", body = ErrorBody),
        (status = 429, description = "DAILY_SEND_LIMIT_REACHED (no Retry-After)", body = ErrorBody),
    ))]
pub async fn forward(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    message: Path<MessageId>,
    body: ApiJson<ForwardMessage>,
) -> Result<Reply, ApiError> {
    let request = body.into_inner().into_request()?;
    let respond = queued(idempotency);
    Ok(state
        .sending
        .forward(&auth.0, message.into_inner(), request, respond)
        .await?)
}
