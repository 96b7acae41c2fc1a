//! `/inboxes`.

use crate::http::error_code::ErrorCode;
use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated, Paged};
use super::idempotency::{Idempotency, Reply};
use super::{List, double_option};
use crate::config::Config;
use crate::domain::inbox::{AddressRequest, InboxDomain};
use crate::domain::{
    AccountId, DisplayName, DomainId, DomainName, Inbox, InboxId, LocalPart, Timestamp,
    ValidationErrors,
};
use crate::state::AppState;
use crate::store::inboxes::{self, InboxChanges, NewInbox};

/// An inbox on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboxDto {
    #[schema(value_type = String, format = Uuid)]
    id: InboxId,
    /// The owning account.
    #[schema(value_type = String, format = Uuid)]
    account_id: AccountId,
    /// The full address.
    #[schema(example = "agent-k3x9q2ab@agentsend.localhost")]
    address: String,
    display_name: Option<String>,
    /// `null` for the server's shared domain.
    #[schema(value_type = Option<String>, format = Uuid)]
    domain_id: Option<DomainId>,
    /// `active`, `suspended` or `deleted`.
    #[schema(example = "active")]
    status: &'static str,
    daily_send_limit: u32,
    /// Resets at 00:00 UTC.
    sends_today: u32,
    total_sent: u64,
    bounce_count: u64,
    complaint_count: u64,
    /// Mail from this inbox goes out from a verified domain: `true` on the server's shared
    /// domain, and on a custom domain once it is verified for sending.
    is_verified: bool,
    /// Received messages labelled `unread`.
    unread_count: u64,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Inbox> for InboxDto {
    fn from(i: Inbox) -> Self {
        Self {
            id: i.id,
            account_id: i.account_id,
            address: i.address,
            display_name: i.display_name,
            domain_id: i.domain_id,
            status: i.status.as_str(),
            daily_send_limit: i.daily_send_limit,
            sends_today: i.sends_today,
            total_sent: i.total_sent,
            bounce_count: i.bounce_count,
            complaint_count: i.complaint_count,
            is_verified: i.is_verified,
            unread_count: i.unread_count,
            created_at: i.created_at,
            updated_at: i.updated_at,
        }
    }
}

/// `POST /inboxes` body; every field is optional.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateInbox {
    /// A local part (`support`; lower-cased, letters, digits, `.`, `_` and `-`, no two dots in
    /// a row) or a full address on the shared domain or on `domainId` (not together with
    /// `prefix`). Without it an address `agent-<8 random>` is generated.
    #[schema(pattern = r"^(?!.*\.\.)[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$")]
    address: Option<String>,
    /// Shown in `From`; at most 255 characters, no line breaks; blank means none.
    #[schema(max_length = 255, pattern = r"^[^\r\n\u0000]*$")]
    display_name: Option<String>,
    /// A custom domain verified for sending.
    #[schema(value_type = Option<String>, format = Uuid)]
    domain_id: Option<DomainId>,
    /// Generated address `<prefix>-<8 random>` instead of `agent-<8 random>` (not together with
    /// `address`).
    #[schema(pattern = r"^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,54}$")]
    prefix: Option<String>,
    /// Messages per UTC day, 0 up to the account's own `dailySendLimit` (`GET /account`; more
    /// is `400 VALIDATION_ERROR`). Default: the server's per-inbox default, at most that.
    #[serde(default, deserialize_with = "super::whole_number")]
    #[schema(minimum = 0)]
    daily_send_limit: Option<i64>,
}

fn invalid(code: ErrorCode, message: String) -> ApiError {
    ApiError::new(code, message)
}

impl CreateInbox {
    pub(crate) fn into_new_inbox(self, config: &Config) -> Result<NewInbox, ApiError> {
        let (address, requested_domain) = match (self.address, self.prefix) {
            (Some(_), Some(_)) => {
                return Err(ApiError::invalid_field(
                    "prefix",
                    "give either address or prefix, not both",
                ));
            }
            (Some(address), None) => parse_address(address.trim())?,
            (None, Some(prefix)) => {
                let generated =
                    AddressRequest::generated_with_prefix(prefix.trim()).map_err(|e| {
                        ApiError::invalid_field(
                            "prefix",
                            format!("with '-' and 8 random characters appended, the address {e}"),
                        )
                    })?;
                (generated, None)
            }
            (None, None) => (AddressRequest::Generated { prefix: None }, None),
        };
        let mut errors = ValidationErrors::new();
        let display_name = self
            .display_name
            .and_then(|d| errors.check("displayName", DisplayName::parse(&d)))
            .flatten();
        errors.into_result(())?;
        Ok(NewInbox {
            address,
            domain: match self.domain_id {
                Some(id) => InboxDomain::Custom(id),
                None => InboxDomain::Shared(config.mail.shared_domain.clone()),
            },
            requested_domain,
            display_name,
            daily_send_limit: self.daily_send_limit,
            default_daily_send_limit: config.limits.inbox_daily_send_limit,
        })
    }
}

/// A local part alone, or a full address whose domain the store checks against the inbox's.
fn parse_address(raw: &str) -> Result<(AddressRequest, Option<String>), ApiError> {
    let (local, domain) = match raw.rsplit_once('@') {
        Some((local, domain)) => (local, Some(domain)),
        None => (raw, None),
    };
    if local.is_empty() || local.contains('@') || domain == Some("") {
        return Err(invalid(ErrorCode::InvalidInboxAddress,
            "The address must be a local part such as `support` or a full address such as `support@example.com`.".to_owned(),
        ));
    }
    let local = LocalPart::parse(local).map_err(|e| {
        invalid(
            ErrorCode::InvalidInboxLocalPart,
            format!("The local part {e}."),
        )
    })?;
    let domain = match domain {
        Some(d) => Some(
            DomainName::parse(d)
                .map_err(|e| invalid(ErrorCode::InvalidInboxDomain, format!("The domain {e}.")))?
                .to_string(),
        ),
        None => None,
    };
    Ok((AddressRequest::Exact(local), domain))
}

/// `PATCH /inboxes/{id}` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateInbox {
    /// New display name (at most 255 characters, no line breaks); `null` or blank removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 255, pattern = r"^[^\r\n\u0000]*$")]
    display_name: Option<Option<String>>,
    /// Messages per UTC day, 0 up to the account's own `dailySendLimit` (more is `400`).
    #[serde(default, deserialize_with = "super::whole_number")]
    #[schema(minimum = 0)]
    daily_send_limit: Option<i64>,
}

impl UpdateInbox {
    fn into_changes(self) -> Result<InboxChanges, ApiError> {
        let mut errors = ValidationErrors::new();
        let display_name = match self.display_name {
            Some(Some(d)) => errors.check("displayName", DisplayName::parse(&d)),
            Some(None) => Some(None),
            None => None,
        };
        errors
            .into_result(InboxChanges {
                display_name,
                daily_send_limit: self.daily_send_limit,
            })
            .map_err(ApiError::from)
    }
}

/// Create an inbox.
#[utoipa::path(post, path = "/inboxes", tag = "Inboxes", operation_id = "createInbox",
    request_body = Option<CreateInbox>,
    responses(
        (status = 201, description = "Inbox created", body = InboxDto),
        (status = 400, description = "Invalid address, local part, domain or field; `address` and `prefix` together", body = ErrorBody),
        (status = 402, description = "CLAIM_REQUIRED: a sandbox account has its inbox already", body = ErrorBody),
        (status = 404, description = "Unknown domainId", body = ErrorBody),
        (status = 409, description = "Address taken (ADDRESS_TAKEN)", body = ErrorBody),
    ))]
pub async fn create(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    body: ApiJson<CreateInbox>,
) -> Result<Reply, ApiError> {
    let new = body.into_inner().into_new_inbox(&state.config)?;
    let now = state.now();
    let limits = state.limits.clone();
    Ok(state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            limits.may_create_inbox(tx, who.account_id, now)?;
            let inbox = inboxes::create_inbox(tx, who.account_id, &new, now)?;
            idempotency.keep(
                tx,
                Reply::json(StatusCode::CREATED, &InboxDto::from(inbox))?,
            )
        })
        .await?)
}

/// List the account's active and suspended inboxes, newest first.
#[utoipa::path(get, path = "/inboxes", tag = "Inboxes", operation_id = "listInboxes", params(super::PageParams),
    responses(
        (status = 200, description = "A page of inboxes", body = List<InboxDto>),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
    ))]
pub async fn list(
    auth: Authenticated,
    state: Data<AppState>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let now = state.now();
    let page = state
        .store
        .read_as(&auth.0, now, move |c, who| {
            inboxes::list_inboxes(c, who.account_id, paging, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(InboxDto::from))))
}

/// Get an inbox.
#[utoipa::path(get, path = "/inboxes/{id}", tag = "Inboxes", operation_id = "getInbox", params(super::IdParam),
    responses(
        (status = 200, description = "The inbox", body = InboxDto),
        (status = 404, description = "No such inbox (or deleted)", body = ErrorBody),
    ))]
pub async fn get(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<InboxId>,
) -> Result<impl Responder, ApiError> {
    let (id, now) = (id.into_inner(), state.now());
    let inbox = state
        .store
        .read_as(&auth.0, now, move |c, who| {
            inboxes::get_inbox(c, who.account_id, id, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InboxDto::from(inbox)))
}

/// Change an inbox's display name or daily send limit.
#[utoipa::path(patch, path = "/inboxes/{id}", tag = "Inboxes", operation_id = "updateInbox",
    params(super::IdParam), request_body = Option<UpdateInbox>,
    responses(
        (status = 200, description = "The updated inbox", body = InboxDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such inbox", body = ErrorBody),
    ))]
pub async fn update(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<InboxId>,
    body: ApiJson<UpdateInbox>,
) -> Result<impl Responder, ApiError> {
    let changes = body.into_inner().into_changes()?;
    let (id, now) = (id.into_inner(), state.now());
    let inbox = state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            inboxes::update_inbox(tx, who.account_id, id, &changes, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InboxDto::from(inbox)))
}

/// Delete an inbox (soft: its address stays reserved and inbound mail to it is refused).
#[utoipa::path(delete, path = "/inboxes/{id}", tag = "Inboxes", operation_id = "deleteInbox", params(super::IdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such inbox", body = ErrorBody),
    ))]
pub async fn delete(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<InboxId>,
) -> Result<impl Responder, ApiError> {
    let (id, now) = (id.into_inner(), state.now());
    state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            inboxes::delete_inbox(tx, who.account_id, id, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
