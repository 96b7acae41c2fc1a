//! `/inboxes/{id}/messages`, `/messages/{id}` and the raw download.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderValue};
use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::List;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated, Paged};
use super::idempotency::{Idempotency, Reply};
use crate::domain::auth_results::AuthResults;
use crate::domain::message::{AttachmentMeta, Direction, Message, MessageStatus};
use crate::domain::outbound::{RecipientOutcome, SendFields, SendRequest};
use crate::domain::search::{MessageQuery, SearchOrder, SearchQuery};
use crate::domain::{
    AccountId, AttachmentId, InboxId, Label, LabelChange, MessageId, Page, ThreadId, Timestamp,
    ValidationErrors,
};
use crate::labels;
use crate::state::AppState;
use crate::store::{Failure, Tx};
use crate::store::{inboxes, messages, outbound, search};

/// An attachment as listed on a message.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentMetaDto {
    #[schema(value_type = String, format = Uuid)]
    id: AttachmentId,
    /// The same as `id`, for clients of the hosted API, which names it `key`.
    #[schema(value_type = String, format = Uuid)]
    key: AttachmentId,
    filename: String,
    content_type: String,
    size: u64,
}

impl From<AttachmentMeta> for AttachmentMetaDto {
    fn from(a: AttachmentMeta) -> Self {
        Self {
            id: a.id,
            key: a.id,
            filename: a.filename,
            content_type: a.content_type,
            size: a.size,
        }
    }
}

/// A message on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageDto {
    #[schema(value_type = String, format = Uuid)]
    id: MessageId,
    /// The owning account.
    #[schema(value_type = String, format = Uuid)]
    account_id: AccountId,
    #[schema(value_type = String, format = Uuid)]
    inbox_id: InboxId,
    #[schema(value_type = String, format = Uuid)]
    thread_id: ThreadId,
    /// `outbound` or `inbound`.
    #[schema(example = "inbound")]
    direction: &'static str,
    /// `Display Name <addr>` or a bare address.
    from_address: String,
    to_addresses: Vec<String>,
    cc_addresses: Vec<String>,
    /// Outbound only; `[]` on inbound mail.
    bcc_addresses: Vec<String>,
    subject: String,
    body_text: Option<String>,
    body_html: Option<String>,
    /// `queued`, `sending`, `sent`, `delivered`, `failed`, `bounced`, `complained`, `received`.
    #[schema(example = "received")]
    status: &'static str,
    /// Outbound: `email`, `dry-run` or `local`; inbound: null.
    delivery: Option<String>,
    attachments: Vec<AttachmentMetaDto>,
    /// The RFC 5322 Message-ID, with its angle brackets.
    #[schema(example = "<abc@example.com>")]
    message_id_header: Option<String>,
    in_reply_to: Option<String>,
    references_headers: Vec<String>,
    error_message: Option<String>,
    /// Always `null`: the hosted service's Amazon SES message id, which a self-hosted server
    /// does not have (`messageIdHeader` identifies the message on the wire).
    #[schema(value_type = Option<String>)]
    ses_message_id: Option<()>,
    /// Inbound mail received over SMTP: what the SPF, DKIM and DMARC checks found, as
    /// `{"spf": {"result", "domain"}, "dkim": [{"result", "domain", "selector", "reason"?}],
    /// "dmarc": {"result", "domain", "policy"}}`; `null` for outbound mail, local deliveries
    /// and when the checks are off. Results: `pass`, `fail`, `softfail` (SPF), `neutral`,
    /// `none`, `temperror`, `permerror`.
    #[schema(value_type = Option<Object>)]
    auth_results: Option<AuthResults>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    sent_at: Option<Timestamp>,
    /// The new content of `bodyText`: quoted replies, forwarded history and signatures taken
    /// out, worked out once when the message was stored; `null` without a text body.
    extracted_text: Option<String>,
    /// The new content of `bodyHtml`, the same way; `null` without an HTML body.
    extracted_html: Option<String>,
    /// Labels, sorted: system labels (`unread` or `read` on received mail, `sent`, `bounced`,
    /// `blocked`) and the account's own.
    labels: Vec<String>,
}

fn bracketed(id: String) -> String {
    format!("<{id}>")
}

impl From<Message> for MessageDto {
    fn from(m: Message) -> Self {
        Self {
            id: m.id,
            account_id: m.account_id,
            inbox_id: m.inbox_id,
            thread_id: m.thread_id,
            direction: m.direction.as_str(),
            from_address: m.from_address,
            to_addresses: m.to_addresses,
            cc_addresses: m.cc_addresses,
            bcc_addresses: m.bcc_addresses,
            subject: m.subject,
            body_text: m.body_text,
            body_html: m.body_html,
            status: m.status.as_str(),
            delivery: m.delivery,
            attachments: m.attachments.into_iter().map(Into::into).collect(),
            message_id_header: m.message_id_header.map(bracketed),
            in_reply_to: m.in_reply_to.map(bracketed),
            references_headers: m.references.into_iter().map(bracketed).collect(),
            error_message: m.error_message,
            ses_message_id: None,
            auth_results: m.auth_results,
            created_at: m.created_at,
            sent_at: m.sent_at,
            extracted_text: m.extracted_text,
            extracted_html: m.extracted_html,
            labels: m.labels,
        }
    }
}

/// `?q=`: full-text search words.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TextQuery {
    /// Full-text search over subject, addresses and body: words (all must match),
    /// `"a phrase"`, `prefix*`, `OR`, `NOT` or `-word`, parentheses, and `subject:`, `body:`,
    /// `address:` to look in one part only. 1–512 characters; a mistake is a 400 that says
    /// where it is.
    #[param(min_length = 1, max_length = 512)]
    pub(crate) q: Option<String>,
}

impl TextQuery {
    /// The words, checked (a mistake is recorded under `q`).
    pub(super) fn words(&self, errors: &mut ValidationErrors) -> Option<SearchQuery> {
        let q = self.q.as_deref()?;
        errors.check("q", SearchQuery::parse(q))
    }
}

/// A `label` filter, checked (a mistake is recorded under `label`).
pub(super) fn label_filter(raw: Option<&str>, errors: &mut ValidationErrors) -> Option<Label> {
    errors.check("label", Label::parse(raw?))
}

/// The query of `GET /messages/search`, for the OpenAPI document (`q` is required there).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes the query for the OpenAPI document only"
)]
pub struct SearchText {
    /// What to search for, in the syntax of `q` on the message list (1–512 characters).
    #[param(min_length = 1, max_length = 512)]
    q: String,
    /// Only this inbox's messages (default: every inbox of the account).
    #[param(value_type = Option<String>, format = Uuid, rename = "inboxId")]
    inbox_id: Option<String>,
}

/// The filters of the message lists and of the search. Every given condition must hold.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct MessageFilters {
    /// The sender (name or address) contains this, any case.
    #[param(min_length = 1, max_length = 254)]
    pub(crate) from: Option<String>,
    /// A To, Cc or Bcc recipient contains this, any case.
    #[param(min_length = 1, max_length = 254)]
    pub(crate) to: Option<String>,
    /// Stored at or after this time (RFC 3339, or a date: midnight UTC).
    #[param(value_type = Option<String>, format = DateTime)]
    pub(crate) after: Option<String>,
    /// Stored before this time (RFC 3339, or a date: midnight UTC).
    #[param(value_type = Option<String>, format = DateTime)]
    pub(crate) before: Option<String>,
    /// Only messages with (`true`) or without (`false`) attachments.
    #[param(value_type = Option<bool>)]
    pub(crate) has_attachment: Option<String>,
    /// Only messages with this label (a label no message has gives an empty list).
    #[param(value_type = Option<String>, pattern = r"^[a-z0-9_.:-]{1,64}$")]
    pub(crate) label: Option<String>,
    /// `inbound` or `outbound`.
    #[param(value_type = Option<DirectionName>)]
    pub(crate) direction: Option<String>,
    /// Only messages in this status.
    #[param(value_type = Option<StatusName>)]
    pub(crate) status: Option<String>,
    /// With `q`: `newest` (default) or `rank` (best match first; its `nextCursor` is a
    /// position in the ranking).
    #[param(value_type = Option<OrderName>)]
    pub(crate) order: Option<String>,
}

/// A message direction, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DirectionName {
    Inbound,
    Outbound,
}

/// A search order, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum OrderName {
    Newest,
    Rank,
}

impl MessageFilters {
    /// The filters and the words, checked; every invalid one is reported.
    pub(crate) fn parse(&self, text: &TextQuery) -> Result<MessageQuery, ApiError> {
        let mut errors = ValidationErrors::new();
        let mut q = MessageQuery {
            text: text.words(&mut errors),
            ..MessageQuery::default()
        };
        for (field, value, into) in [
            ("from", &self.from, &mut q.from),
            ("to", &self.to, &mut q.to),
        ] {
            if let Some(v) = value {
                if v.is_empty() || v.chars().count() > 254 {
                    errors.add(field, "must be 1 to 254 characters");
                } else {
                    *into = Some(v.clone());
                }
            }
        }
        for (field, value, into) in [
            ("after", &self.after, &mut q.after),
            ("before", &self.before, &mut q.before),
        ] {
            if let Some(v) = value {
                match Timestamp::parse_rfc3339(v) {
                    Some(t) => *into = Some(t),
                    None => errors.add(
                        field,
                        "must be an RFC 3339 date-time such as 2026-12-01T09:30:00Z, or a date",
                    ),
                }
            }
        }
        match self.has_attachment.as_deref() {
            None => {}
            Some("true") => q.has_attachment = Some(true),
            Some("false") => q.has_attachment = Some(false),
            Some(_) => errors.add("hasAttachment", "must be true or false"),
        }
        q.label = label_filter(self.label.as_deref(), &mut errors);
        match self.direction.as_deref() {
            None => {}
            Some(d) => match Direction::parse(d) {
                Some(d) => q.direction = Some(d),
                None => errors.add("direction", "must be inbound or outbound"),
            },
        }
        if let Some(status) = &self.status {
            match MessageStatus::parse(status) {
                Some(status) => q.status = Some(status),
                None => errors.add(
                    "status",
                    "must be one of queued, sending, sent, delivered, failed, bounced, complained, received",
                ),
            }
        }
        match self.order.as_deref() {
            None | Some("newest") => {}
            Some("rank") => q.order = SearchOrder::Rank,
            Some(_) => errors.add("order", "must be newest or rank"),
        }
        errors.into_result(q).map_err(ApiError::validation)
    }
}

/// A message status, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum StatusName {
    Queued,
    Sending,
    Sent,
    Delivered,
    Failed,
    Bounced,
    Complained,
    Received,
}

/// An email address: an RFC 5321 mailbox such as `ada@example.com`, at most 254 characters
/// (64 before the `@`). The pattern gives the usual form; quoted local parts and address
/// literals (`user@[192.0.2.1]`) are accepted too.
#[derive(ToSchema)]
#[schema(
    value_type = String,
    format = Email,
    max_length = 254,
    pattern = r"^(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)]
#[expect(
    dead_code,
    reason = "describes addresses for the OpenAPI document only"
)]
pub struct Mailbox(String);

/// `POST /inboxes/{id}/messages` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    /// 1–50 recipient addresses.
    #[schema(value_type = Vec<Mailbox>, min_items = 1, max_items = 50)]
    to: Option<Vec<String>>,
    /// Up to 50.
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    cc: Option<Vec<String>>,
    /// Up to 50; they get the message but are not listed in its headers.
    #[schema(value_type = Option<Vec<Mailbox>>, max_items = 50)]
    bcc: Option<Vec<String>>,
    /// 1–998 characters, no line breaks.
    #[schema(value_type = String, min_length = 1, max_length = 998, pattern = r"^[^\r\n\u0000]*$")]
    subject: Option<String>,
    /// At most 256,000 characters.
    #[schema(max_length = 256_000)]
    body_text: Option<String>,
    /// At most 256,000 characters.
    #[schema(max_length = 256_000)]
    body_html: Option<String>,
    /// Reply in this thread of the inbox (sets In-Reply-To and References).
    #[schema(value_type = Option<String>, format = Uuid)]
    thread_id: Option<ThreadId>,
    /// Up to 10 attachments of the account, 25 MB in all.
    #[schema(value_type = Option<Vec<uuid::Uuid>>, max_items = 10)]
    attachment_ids: Option<Vec<AttachmentId>>,
}

/// The answer to an accepted send (`202` with the message `queued`), kept for its
/// `Idempotency-Key` in the transaction that stores the message.
pub(super) fn queued(
    idempotency: Idempotency,
) -> impl FnOnce(&Tx<'_>, Message) -> Result<Reply, Failure> + Send + 'static {
    move |tx, message| {
        idempotency.keep(
            tx,
            Reply::json(StatusCode::ACCEPTED, &MessageDto::from(message))?,
        )
    }
}

impl SendMessage {
    /// The send, checked.
    pub(crate) fn into_request(self) -> Result<SendRequest, ApiError> {
        Ok(SendRequest::parse(SendFields {
            to: self.to,
            cc: self.cc,
            bcc: self.bcc,
            subject: self.subject,
            body_text: self.body_text,
            body_html: self.body_html,
            thread_id: self.thread_id,
            attachment_ids: self.attachment_ids,
        })?)
    }
}

/// Send a message from an inbox. Answers at once with the message `queued`; delivery follows
/// in the background (`message.sent`, `message.delivered` webhooks).
#[utoipa::path(post, path = "/inboxes/{id}/messages", tag = "Messages", operation_id = "sendMessage",
    params(super::IdParam), request_body = SendMessage,
    responses(
        (status = 202, description = "Accepted and queued", body = MessageDto),
        (status = 400, description = "Invalid field, THREAD_INBOX_MISMATCH or ATTACHMENTS_TOO_LARGE", body = ErrorBody),
        (status = 402, description = "CLAIM_REQUIRED: a sandbox account's limit", body = ErrorBody),
        (status = 403, description = "INBOX_SUSPENDED", body = ErrorBody),
        (status = 404, description = "No such inbox, thread or attachment", body = ErrorBody),
        (status = 429, description = "DAILY_SEND_LIMIT_REACHED (no Retry-After)", body = ErrorBody),
    ))]
pub async fn send(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    inbox: Path<InboxId>,
    body: ApiJson<SendMessage>,
) -> Result<Reply, ApiError> {
    let request = body.into_inner().into_request()?;
    let respond = queued(idempotency);
    Ok(state
        .sending
        .submit(&auth.0, inbox.into_inner(), request, respond)
        .await?)
}

/// List an inbox's messages, newest first; filtered, or searched with `q`, when asked.
/// Without `q`, filters other than `status` and `label` walk the inbox's messages. When
/// filtered by anything but `status` or `label` alone, `total` counts at most 1,000 matches.
#[utoipa::path(get, path = "/inboxes/{id}/messages", tag = "Messages", operation_id = "listMessages",
    params(super::IdParam, super::PageParams, TextQuery, MessageFilters),
    responses(
        (status = 200, description = "A page of messages", body = List<MessageDto>),
        (status = 400, description = "Bad paging, filter or query (with the position of the mistake)", body = ErrorBody),
        (status = 404, description = "No such inbox", body = ErrorBody),
    ))]
pub async fn list(
    auth: Authenticated,
    state: Data<AppState>,
    inbox: Path<InboxId>,
    Paged(paging): Paged,
    text: Query<TextQuery>,
    filters: Query<MessageFilters>,
) -> Result<impl Responder, ApiError> {
    let q = filters.parse(&text)?;
    let (inbox, now) = (inbox.into_inner(), state.now());
    let page = state
        .store
        .read_as(&auth.0, now, move |c, who| {
            messages::list_messages(c, who.account_id, inbox, &q, paging, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(MessageDto::from))))
}

/// `inboxId` of the search.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchScope {
    inbox_id: Option<String>,
}

/// Search the account's messages: full text (`q`, required) with the list filters. Newest
/// first, or best match first with `order=rank`. `total` counts at most 1,000 matches.
#[utoipa::path(get, path = "/messages/search", tag = "Messages", operation_id = "searchMessages",
    params(SearchText, super::PageParams, MessageFilters),
    responses(
        (status = 200, description = "A page of matching messages", body = List<MessageDto>),
        (status = 400, description = "Missing or bad query (with the position of the mistake), bad filter or paging", body = ErrorBody),
        (status = 404, description = "No such inbox", body = ErrorBody),
    ))]
pub async fn search(
    auth: Authenticated,
    state: Data<AppState>,
    Paged(paging): Paged,
    scope: Query<SearchScope>,
    text: Query<TextQuery>,
    filters: Query<MessageFilters>,
) -> Result<impl Responder, ApiError> {
    let mut q = filters.parse(&text)?;
    if q.text.is_none() {
        return Err(ApiError::invalid_field(
            "q",
            "is required: the words to search for",
        ));
    }
    if let Some(inbox) = &scope.inbox_id {
        q.inbox_id = Some(
            inbox
                .parse()
                .map_err(|_| ApiError::invalid_field("inboxId", "must be an inbox id"))?,
        );
    }
    let now = state.now();
    let page = state
        .store
        .read_as(&auth.0, now, move |c, who| {
            if let Some(inbox) = q.inbox_id {
                inboxes::exists(c, who.account_id, inbox)?;
            }
            search::find_messages(c, who.account_id, &q, paging)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(MessageDto::from))))
}

/// `PATCH /messages/{id}` and `PATCH /threads/{id}` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateLabels {
    /// Labels to add: 1–64 characters of `a-z 0-9 _ . : -`. `read` takes `unread` away and
    /// the other way round; `sent`, `bounced` and `blocked` are set by the server only.
    #[schema(value_type = Option<Vec<LabelName>>, max_items = 50)]
    add_labels: Option<Vec<String>>,
    /// Labels to take away (the same names).
    #[schema(value_type = Option<Vec<LabelName>>, max_items = 50)]
    remove_labels: Option<Vec<String>>,
}

/// A label a client may set.
#[derive(ToSchema)]
#[schema(
    value_type = String,
    min_length = 1,
    max_length = 64,
    pattern = r"^(?!(sent|bounced|blocked)$)[a-z0-9_.:-]{1,64}$"
)]
#[expect(dead_code, reason = "describes labels for the OpenAPI document only")]
pub struct LabelName(String);

impl UpdateLabels {
    /// The change, checked.
    pub(crate) fn parse(self) -> Result<LabelChange, ApiError> {
        LabelChange::parse(self.add_labels, self.remove_labels).map_err(ApiError::validation)
    }
}

/// Add or take away a message's labels (`message.updated` event when they change).
#[utoipa::path(patch, path = "/messages/{id}", tag = "Messages", operation_id = "updateMessage",
    params(super::IdParam), request_body = Option<UpdateLabels>,
    responses(
        (status = 200, description = "The message with its labels", body = MessageDto),
        (status = 400, description = "Invalid label, a label in both lists, `read` and `unread` together, or more than 50 labels on the message; nothing changed", body = ErrorBody),
        (status = 404, description = "No such message", body = ErrorBody),
    ))]
pub async fn update(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<MessageId>,
    body: ApiJson<UpdateLabels>,
) -> Result<impl Responder, ApiError> {
    let change = body.into_inner().parse()?;
    let (id, now) = (id.into_inner(), state.now());
    let message = state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            labels::relabel_message(tx, who.account_id, id, &change, now)?;
            messages::get_message(tx, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MessageDto::from(message)))
}

/// Get a message.
#[utoipa::path(get, path = "/messages/{id}", tag = "Messages", operation_id = "getMessage", params(super::IdParam),
    responses(
        (status = 200, description = "The message", body = MessageDto),
        (status = 404, description = "No such message", body = ErrorBody),
    ))]
pub async fn get(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<MessageId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let message = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            messages::get_message(c, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MessageDto::from(message)))
}

/// One recipient of an outbound message and how far its delivery got (an addition to the
/// hosted API).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientDto {
    address: String,
    /// `to`, `cc` or `bcc`.
    kind: &'static str,
    /// `pending` (not yet tried, or waiting for a retry), `sent` (handed to a relay or
    /// recorded in dry-run mode), `delivered` (accepted by the recipient's server or stored in
    /// a local inbox), `bounced` or `failed` (out of retries).
    status: &'static str,
    /// `email`, `local` or `dry-run`; `null` before the first attempt.
    route: Option<String>,
    /// Why the last attempt failed.
    last_error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<RecipientOutcome> for RecipientDto {
    fn from(r: RecipientOutcome) -> Self {
        Self {
            address: r.address,
            kind: r.kind.as_str(),
            status: r.status.as_str(),
            route: r.route,
            last_error: r.last_error,
            updated_at: r.updated_at,
        }
    }
}

/// Each recipient of a sent message and how far its delivery got, in the order addressed
/// (none for received mail). An addition to the hosted API.
#[utoipa::path(get, path = "/messages/{id}/recipients", tag = "Messages",
    operation_id = "listMessageRecipients", params(super::IdParam),
    responses(
        (status = 200, description = "The recipients, all on one page", body = List<RecipientDto>),
        (status = 404, description = "No such message", body = ErrorBody),
    ))]
pub async fn recipients(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<MessageId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let outcomes = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            outbound::recipient_outcomes(c, who.account_id, id)
        })
        .await?;
    let data: Vec<RecipientDto> = outcomes.into_iter().map(RecipientDto::from).collect();
    Ok(HttpResponse::Ok().json(List::from(Page {
        total: data.len() as u64,
        data,
        next: None,
    })))
}

/// The exact stored RFC 5322 bytes of a message.
#[utoipa::path(get, path = "/messages/{id}/raw", tag = "Messages", operation_id = "getRawMessage", params(super::IdParam),
    responses(
        (status = 200, description = "The message as stored", content_type = "message/rfc822", body = Vec<u8>),
        (status = 404, description = "No such message", body = ErrorBody),
    ))]
pub async fn raw(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<MessageId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let raw = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            messages::raw_message(c, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("message/rfc822")))
        .body(raw))
}

/// Delete a message (its thread's counters follow).
#[utoipa::path(delete, path = "/messages/{id}", tag = "Messages", operation_id = "deleteMessage", params(super::IdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such message", body = ErrorBody),
    ))]
pub async fn delete(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<MessageId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    state
        .store
        .write_as(&auth.0, state.now(), move |tx, who| {
            messages::delete_message(tx, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
