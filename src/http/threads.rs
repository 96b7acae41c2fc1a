//! `/inboxes/{id}/threads` and `/threads/{id}`.

use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, Responder};
use serde::Serialize;
use utoipa::ToSchema;

use super::List;
use super::error::{ApiError, ErrorBody};
use super::extract::{Authenticated, Paged};
use super::messages::MessageDto;
use crate::domain::message::Thread;
use crate::domain::{AccountId, InboxId, ThreadId, Timestamp};
use crate::state::AppState;
use crate::store::messages;

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
        }
    }
}

/// List an inbox's threads, most recently active first.
#[utoipa::path(get, path = "/inboxes/{id}/threads", tag = "Threads", operation_id = "listThreads",
    params(super::IdParam, super::PageParams),
    responses(
        (status = 200, description = "A page of threads", body = List<ThreadDto>),
        (status = 404, description = "No such inbox", body = ErrorBody),
    ))]
pub async fn list(
    auth: Authenticated,
    state: Data<AppState>,
    inbox: Path<InboxId>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let (inbox, now) = (inbox.into_inner(), state.now());
    let page = state
        .store
        .read_as(&auth.0, now, move |c, who| {
            messages::list_threads(c, who.account_id, inbox, paging, now)
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

/// A thread's messages, oldest first.
#[utoipa::path(get, path = "/threads/{id}/messages", tag = "Threads", operation_id = "listThreadMessages",
    params(super::IdParam, super::PageParams),
    responses(
        (status = 200, description = "A page of messages", body = List<MessageDto>),
        (status = 404, description = "No such thread", body = ErrorBody),
    ))]
pub async fn messages(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<ThreadId>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let page = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            messages::thread_messages(c, who.account_id, id, paging)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(MessageDto::from))))
}
