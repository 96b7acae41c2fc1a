//! `/inboxes/{id}/lists/{allow|block}` and `/account/lists/{allow|block}`: allow and block
//! lists of senders. Another value than `allow` or `block` is not a route (`404`).

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::List;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated, Paged};
use super::idempotency::{Idempotency, Reply};
use crate::domain::sender_list::{ListEntry, ListName, SenderListEntry};
use crate::domain::{InboxId, ListEntryId, Paging, Timestamp};
use crate::state::AppState;
use crate::store::{inboxes, sender_lists as store};

/// An entry of an allow or block list on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListEntryDto {
    #[schema(value_type = String, format = Uuid)]
    id: ListEntryId,
    /// The inbox whose list it is on; `null` on the account-wide lists.
    #[schema(value_type = Option<String>, format = Uuid)]
    inbox_id: Option<InboxId>,
    #[schema(value_type = ListNameDoc)]
    list: &'static str,
    /// The address or domain, lower case. A domain also covers its subdomains.
    #[schema(example = "bob@example.com")]
    entry: String,
    #[schema(value_type = EntryKindDoc)]
    kind: &'static str,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

impl From<SenderListEntry> for ListEntryDto {
    fn from(e: SenderListEntry) -> Self {
        Self {
            id: e.id,
            inbox_id: e.inbox_id,
            list: e.list.as_str(),
            entry: e.entry,
            kind: e.kind.as_str(),
            created_at: e.created_at,
        }
    }
}

/// Which list, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(as = ListName, rename_all = "lowercase")]
pub enum ListNameDoc {
    /// Only these senders, when the list is not empty.
    Allow,
    /// Never these senders.
    Block,
}

/// What an entry names, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(as = ListEntryKind, rename_all = "lowercase")]
pub enum EntryKindDoc {
    /// One address.
    Address,
    /// A domain and its subdomains.
    Domain,
}

/// `POST /inboxes/{id}/lists/{list}` and `POST /account/lists/{list}` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct AddEntry {
    /// An address such as `bob@example.com` or a domain such as `example.com` (which also
    /// covers its subdomains), at most 254 characters; stored in lower case. The pattern gives
    /// the usual short forms; any RFC 5321 mailbox (longer parts, other characters, quoted
    /// local parts, address literals such as `user@[192.0.2.1]`) and any host name are
    /// accepted too.
    #[schema(value_type = String, max_length = 254, pattern = r"^(?:[A-Za-z0-9_+-]{1,20}(?:\.[A-Za-z0-9_+-]{1,20}){0,2}@)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?){0,4}$", example = "bob@example.com")]
    entry: Option<String>,
}

/// The list in the path, for the OpenAPI document.
#[derive(Debug, IntoParams)]
#[expect(dead_code, reason = "describes the path for the OpenAPI document only")]
#[into_params(parameter_in = Path)]
pub struct ListParam {
    /// `allow` or `block`; any other value is not a route (`404`).
    #[param(value_type = ListNameDoc)]
    list: String,
}

/// The entry in the path, for the OpenAPI document.
#[derive(Debug, IntoParams)]
#[expect(dead_code, reason = "describes the path for the OpenAPI document only")]
#[into_params(parameter_in = Path)]
pub struct EntryParam {
    /// The address or domain to remove, URL-encoded; case does not matter. The pattern gives
    /// the usual short forms, as for adding; anything that is not an address or a domain is
    /// `400 VALIDATION_ERROR`.
    #[param(
        max_length = 254,
        pattern = r"^(?:[A-Za-z0-9_+-]{1,20}(?:\.[A-Za-z0-9_+-]{1,20}){0,2}@)?[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,20}[A-Za-z0-9])?){0,4}$"
    )]
    entry: String,
}

/// The body's entry, validated (`400` naming `entry` otherwise).
fn body_entry(body: AddEntry) -> Result<ListEntry, ApiError> {
    let raw = body
        .entry
        .ok_or_else(|| ApiError::invalid_field("entry", "is required"))?;
    ListEntry::parse(&raw).map_err(|e| ApiError::invalid_field("entry", e.to_string()))
}

/// The path's entry, validated (`400` naming `entry` otherwise).
fn path_entry(raw: &str) -> Result<ListEntry, ApiError> {
    ListEntry::parse(raw).map_err(|e| ApiError::invalid_field("entry", e.to_string()))
}

/// Lists one list of the account (`inbox` `None`) or of one of its inboxes.
async fn list_of(
    auth: Authenticated,
    state: Data<AppState>,
    inbox: Option<InboxId>,
    list: ListName,
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    let page = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            if let Some(inbox) = inbox {
                inboxes::exists(c, who.account_id, inbox)?;
            }
            store::list(c, who.account_id, inbox, list, paging)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(ListEntryDto::from))))
}

/// Adds an entry to one list of the account (`inbox` `None`) or of one of its inboxes.
async fn add_to(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    inbox: Option<InboxId>,
    list: ListName,
    body: AddEntry,
) -> Result<Reply, ApiError> {
    let entry = body_entry(body)?;
    let now = state.now();
    Ok(state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            if let Some(inbox) = inbox {
                inboxes::exists(tx, who.account_id, inbox)?;
            }
            let added = store::add(tx, who.account_id, inbox, list, &entry, now)?;
            idempotency.keep(
                tx,
                Reply::json(StatusCode::CREATED, &ListEntryDto::from(added))?,
            )
        })
        .await?)
}

/// Removes an entry from one list of the account (`inbox` `None`) or of one of its inboxes.
async fn remove_from(
    auth: Authenticated,
    state: Data<AppState>,
    inbox: Option<InboxId>,
    list: ListName,
    entry: &str,
) -> Result<HttpResponse, ApiError> {
    let entry = path_entry(entry)?;
    state
        .store
        .write_as(&auth.0, state.now(), move |tx, who| {
            if let Some(inbox) = inbox {
                inboxes::exists(tx, who.account_id, inbox)?;
            }
            store::remove(tx, who.account_id, inbox, list, &entry)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// List an inbox's allow or block list, newest first. The account-wide lists apply too; they
/// are listed at `/account/lists/{list}`.
#[utoipa::path(get, path = "/inboxes/{id}/lists/{list}", tag = "Sender lists",
    operation_id = "listInboxSenderList", params(super::IdParam, ListParam, super::PageParams),
    responses(
        (status = 200, description = "A page of entries", body = List<ListEntryDto>),
        (status = 404, description = "No such inbox, or the list is neither allow nor block", body = ErrorBody),
    ))]
pub async fn list_inbox(
    auth: Authenticated,
    state: Data<AppState>,
    path: Path<(InboxId, ListName)>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let (inbox, list) = path.into_inner();
    list_of(auth, state, Some(inbox), list, paging).await
}

/// Add an address or a domain to an inbox's allow or block list.
#[utoipa::path(post, path = "/inboxes/{id}/lists/{list}", tag = "Sender lists",
    operation_id = "addInboxSenderListEntry", params(super::IdParam, ListParam),
    request_body = AddEntry,
    responses(
        (status = 201, description = "The entry", body = ListEntryDto),
        (status = 400, description = "VALIDATION_ERROR: the entry is not an address or a domain", body = ErrorBody),
        (status = 404, description = "No such inbox, or the list is neither allow nor block", body = ErrorBody),
        (status = 409, description = "LIST_ENTRY_EXISTS: the list has the entry already", body = ErrorBody),
    ))]
pub async fn add_inbox(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    path: Path<(InboxId, ListName)>,
    body: ApiJson<AddEntry>,
) -> Result<Reply, ApiError> {
    let (inbox, list) = path.into_inner();
    add_to(
        auth,
        state,
        idempotency,
        Some(inbox),
        list,
        body.into_inner(),
    )
    .await
}

/// Remove an address or a domain from an inbox's allow or block list.
#[utoipa::path(delete, path = "/inboxes/{id}/lists/{list}/{entry}", tag = "Sender lists",
    operation_id = "removeInboxSenderListEntry", params(super::IdParam, ListParam, EntryParam),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "VALIDATION_ERROR: the entry is not an address or a domain", body = ErrorBody),
        (status = 404, description = "No such inbox, the entry is not on the list, or the list is neither allow nor block", body = ErrorBody),
    ))]
pub async fn remove_inbox(
    auth: Authenticated,
    state: Data<AppState>,
    path: Path<(InboxId, ListName, String)>,
) -> Result<impl Responder, ApiError> {
    let (inbox, list, entry) = path.into_inner();
    remove_from(auth, state, Some(inbox), list, &entry).await
}

/// List the account's allow or block list, newest first: it applies to every inbox of the
/// account, together with the inbox's own.
#[utoipa::path(get, path = "/account/lists/{list}", tag = "Sender lists",
    operation_id = "listAccountSenderList", params(ListParam, super::PageParams),
    responses(
        (status = 200, description = "A page of entries", body = List<ListEntryDto>),
        (status = 404, description = "NOT_FOUND: the list is neither allow nor block", body = ErrorBody),
    ))]
pub async fn list_account(
    auth: Authenticated,
    state: Data<AppState>,
    list: Path<ListName>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    list_of(auth, state, None, list.into_inner(), paging).await
}

/// Add an address or a domain to the account's allow or block list.
#[utoipa::path(post, path = "/account/lists/{list}", tag = "Sender lists",
    operation_id = "addAccountSenderListEntry", params(ListParam), request_body = AddEntry,
    responses(
        (status = 201, description = "The entry", body = ListEntryDto),
        (status = 400, description = "VALIDATION_ERROR: the entry is not an address or a domain", body = ErrorBody),
        (status = 404, description = "NOT_FOUND: the list is neither allow nor block", body = ErrorBody),
        (status = 409, description = "LIST_ENTRY_EXISTS: the list has the entry already", body = ErrorBody),
    ))]
pub async fn add_account(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    list: Path<ListName>,
    body: ApiJson<AddEntry>,
) -> Result<Reply, ApiError> {
    add_to(
        auth,
        state,
        idempotency,
        None,
        list.into_inner(),
        body.into_inner(),
    )
    .await
}

/// Remove an address or a domain from the account's allow or block list.
#[utoipa::path(delete, path = "/account/lists/{list}/{entry}", tag = "Sender lists",
    operation_id = "removeAccountSenderListEntry", params(ListParam, EntryParam),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "VALIDATION_ERROR: the entry is not an address or a domain", body = ErrorBody),
        (status = 404, description = "The entry is not on the list, or the list is neither allow nor block", body = ErrorBody),
    ))]
pub async fn remove_account(
    auth: Authenticated,
    state: Data<AppState>,
    path: Path<(ListName, String)>,
) -> Result<impl Responder, ApiError> {
    let (list, entry) = path.into_inner();
    remove_from(auth, state, None, list, &entry).await
}
