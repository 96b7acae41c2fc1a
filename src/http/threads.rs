//! `/inboxes/{id}/threads` and `/threads/{id}`.

use actix_web::web::{Data, Path, Query};
use actix_web::{HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::List;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated, Paged};
use super::messages::{MessageDto, TextQuery, UpdateLabels, label_filter};
use crate::domain::message::Thread;
use crate::domain::{AccountId, InboxId, Label, ThreadId, Timestamp, ValidationErrors};
use crate::labels;
use crate::state::AppState;
use crate::store::{messages, search};

/// A thread on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ThreadDto {
    #[schema(value_type = String, format = Uuid)]
    id: ThreadId,
    /// The owning account.
    #[schema(value_type = String, format = Uuid)]
    account_id: AccountId,
    #[schema(value_type = String, format = Uuid)]
    inbox_id: InboxId,
    /// Normalised: reply and forward prefixes stripped.
    subject: String,
    message_count: u64,
    #[schema(value_type = String, format = DateTime)]
    last_message_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// The labels any of its messages carries, sorted.
    labels: Vec<String>,
    /// How many of its messages are `unread`.
    unread_count: u64,
}

impl From<Thread> for ThreadDto {
    fn from(t: Thread) -> Self {
        Self {
            id: t.id,
            account_id: t.account_id,
            inbox_id: t.inbox_id,
            subject: t.subject,
            message_count: t.message_count,
            last_message_at: t.last_message_at,
            created_at: t.created_at,
            labels: t.labels,
            unread_count: t.unread_count,
        }
    }
}

/// `?label=` of the thread list and of a thread's messages.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelFilter {
    /// Only what carries this label: messages with it, threads with a message with it.
    #[param(value_type = Option<String>, pattern = r"^[a-z0-9_.:-]{1,64}$")]
    label: Option<String>,
}

impl LabelFilter {
    fn parse(&self, errors: &mut ValidationErrors) -> Option<Label> {
        label_filter(self.label.as_deref(), errors)
    }
}

/// List an inbox's threads, most recently active first; only those with a message that
/// matches `q` or carries `label`, when given (`total` then counts at most 1,000 with `q`).
#[utoipa::path(get, path = "/inboxes/{id}/threads", tag = "Threads", operation_id = "listThreads",
    params(super::IdParam, super::PageParams, TextQuery, LabelFilter),
    responses(
        (status = 200, description = "A page of threads", body = List<ThreadDto>),
        (status = 400, description = "Bad paging, label or query (with the position of the mistake)", body = ErrorBody),
        (status = 404, description = "No such inbox", body = ErrorBody),
    ))]
pub async fn list(
    auth: Authenticated,
    state: Data<AppState>,
    inbox: Path<InboxId>,
    Paged(paging): Paged,
    text: Query<TextQuery>,
    filter: Query<LabelFilter>,
) -> Result<impl Responder, ApiError> {
    let mut errors = ValidationErrors::new();
    let (text, label) = (text.words(&mut errors), filter.parse(&mut errors));
    errors.into_result(()).map_err(ApiError::validation)?;
    let (inbox, now) = (inbox.into_inner(), state.now());
    let page = state
        .store
        .read_as(&auth.0, now, move |c, who| {
            search::find_threads(
                c,
                who.account_id,
                inbox,
                text.as_ref(),
                label.as_ref(),
                paging,
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(ThreadDto::from))))
}

/// Get a thread.
#[utoipa::path(get, path = "/threads/{id}", tag = "Threads", operation_id = "getThread", params(super::IdParam),
    responses(
        (status = 200, description = "The thread", body = ThreadDto),
        (status = 404, description = "No such thread", body = ErrorBody),
    ))]
pub async fn get(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<ThreadId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let thread = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            messages::get_thread(c, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ThreadDto::from(thread)))
}

/// A thread's messages, oldest first (only those with `label`, when given).
#[utoipa::path(get, path = "/threads/{id}/messages", tag = "Threads", operation_id = "listThreadMessages",
    params(super::IdParam, super::PageParams, LabelFilter),
    responses(
        (status = 200, description = "A page of messages", body = List<MessageDto>),
        (status = 400, description = "Bad paging or label", body = ErrorBody),
        (status = 404, description = "No such thread", body = ErrorBody),
    ))]
pub async fn messages(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<ThreadId>,
    Paged(paging): Paged,
    filter: Query<LabelFilter>,
) -> Result<impl Responder, ApiError> {
    let mut errors = ValidationErrors::new();
    let label = filter.parse(&mut errors);
    errors.into_result(()).map_err(ApiError::validation)?;
    let id = id.into_inner();
    let page = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            messages::thread_messages(c, who.account_id, id, label.as_ref(), paging)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(MessageDto::from))))
}

/// Add or take away labels on every message of a thread (a `message.updated` event for each
/// message that changed).
#[utoipa::path(patch, path = "/threads/{id}", tag = "Threads", operation_id = "updateThread",
    params(super::IdParam), request_body = Option<UpdateLabels>,
    responses(
        (status = 200, description = "The thread with its labels", body = ThreadDto),
        (status = 400, description = "Invalid label, a label in both lists, `read` and `unread` together, or more than 50 labels on a message", body = ErrorBody),
        (status = 404, description = "No such thread", body = ErrorBody),
    ))]
pub async fn update(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<ThreadId>,
    body: ApiJson<UpdateLabels>,
) -> Result<impl Responder, ApiError> {
    let change = body.into_inner().parse()?;
    let (id, now) = (id.into_inner(), state.now());
    let thread = state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            labels::relabel_thread(tx, who.account_id, id, &change, now)?;
            messages::get_thread(tx, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ThreadDto::from(thread)))
}
