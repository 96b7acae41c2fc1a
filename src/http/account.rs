//! `/account` and `/account/api-keys`.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::List;
use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated, Paged};
use super::idempotency::{Idempotency, Reply};
use super::messages::Mailbox;
use crate::domain::account::AccountName;
use crate::domain::{
    Account, AccountId, ApiKey, ApiKeyId, EmailAddress, KeyName, Plan, Scopes, Timestamp,
    ValidationErrors,
};
use crate::state::AppState;
use crate::store::accounts::{self, NewKey};

/// An account on the wire.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AccountDto {
    #[schema(value_type = String, format = Uuid)]
    id: AccountId,
    name: String,
    email: String,
    /// `sandbox` or `free`.
    #[schema(example = "free")]
    plan: &'static str,
    /// Messages per UTC day across all the account's inboxes.
    daily_send_limit: u32,
    is_verified: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// Sandbox accounts: where a person claims the account (addition; null otherwise).
    claim_url: Option<String>,
    /// Sandbox accounts: when the sandbox stops accepting new inboxes and sends (addition).
    #[schema(value_type = Option<String>, format = DateTime)]
    sandbox_expires_at: Option<Timestamp>,
}

impl AccountDto {
    fn new(a: Account, state: &AppState) -> Self {
        let sandbox = a.plan == Plan::Sandbox;
        Self {
            claim_url: sandbox.then(|| state.claims.url(a.id)),
            sandbox_expires_at: sandbox.then(|| state.sandbox.limits.expires_at(a.created_at)),
            id: a.id,
            name: a.name,
            email: a.email,
            plan: a.plan.as_str(),
            daily_send_limit: a.daily_send_limit,
            is_verified: a.is_verified,
            created_at: a.created_at,
        }
    }
}

/// `PATCH /account` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateAccount {
    #[schema(value_type = Option<Label>)]
    name: Option<String>,
    #[schema(value_type = Option<Mailbox>)]
    email: Option<String>,
}

/// `POST /account/api-keys` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateApiKey {
    #[schema(value_type = Option<Label>)]
    name: Option<String>,
    /// What the key may do (default `read`, `send`, `manage`). Never more than the creating
    /// key has: `approve` only from a key that has it, or from the operator's command line.
    #[schema(value_type = Option<Vec<ScopeName>>, min_items = 1, max_items = 4)]
    scopes: Option<Vec<String>>,
}

/// A scope of an API key.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ScopeName {
    Read,
    Send,
    Manage,
    Approve,
}

/// A name or label: surrounding white space is trimmed, and what is left is 1–255 characters
/// without line breaks or NUL. (The pattern spells out Unicode white space, which is what is
/// trimmed.)
#[derive(ToSchema)]
#[schema(
    value_type = String,
    pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000](?:[^\r\n\u0000]{0,253}[^\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\u0000])?[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
)]
#[expect(dead_code, reason = "describes names for the OpenAPI document only")]
pub struct Label(String);

/// A new key: the only response that ever contains it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApiKeyDto {
    #[schema(value_type = String, format = Uuid)]
    id: ApiKeyId,
    /// The secret key; store it now.
    key: String,
    /// Its first 12 characters.
    prefix: String,
    name: Option<String>,
    /// What it may do.
    #[schema(value_type = Vec<ScopeName>)]
    scopes: Vec<&'static str>,
    message: &'static str,
}

/// A key as listed (never the secret).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyDto {
    #[schema(value_type = String, format = Uuid)]
    id: ApiKeyId,
    key_prefix: String,
    name: Option<String>,
    /// What it may do.
    #[schema(value_type = Vec<ScopeName>)]
    scopes: Vec<&'static str>,
    #[schema(value_type = Option<String>, format = DateTime)]
    last_used_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

impl From<ApiKey> for ApiKeyDto {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id,
            key_prefix: k.prefix,
            name: k.name,
            scopes: k.scopes.names(),
            last_used_at: k.last_used_at,
            expires_at: k.expires_at,
            created_at: k.created_at,
        }
    }
}

/// Get the authenticated account.
#[utoipa::path(get, path = "/account", tag = "Account", operation_id = "getAccount",
    responses((status = 200, description = "The account", body = AccountDto)))]
pub async fn get(auth: Authenticated, state: Data<AppState>) -> Result<impl Responder, ApiError> {
    let account = state
        .store
        .read_as(&auth.0, state.now(), |c, who| {
            accounts::get_account(c, who.account_id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::new(account, &state)))
}

/// Change the account's name or email.
#[utoipa::path(patch, path = "/account", tag = "Account", operation_id = "updateAccount",
    request_body = Option<UpdateAccount>,
    responses(
        (status = 200, description = "The updated account", body = AccountDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
    ))]
pub async fn update(
    auth: Authenticated,
    state: Data<AppState>,
    body: ApiJson<UpdateAccount>,
) -> Result<impl Responder, ApiError> {
    let body = body.into_inner();
    let mut errors = ValidationErrors::new();
    let name = body
        .name
        .and_then(|n| errors.check("name", AccountName::parse(&n)));
    let email = body
        .email
        .and_then(|e| errors.check("email", EmailAddress::parse(e.trim())));
    errors.into_result(())?;
    let now = state.now();
    let account = state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            accounts::update_account(tx, who.account_id, name.as_ref(), email.as_ref(), now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(AccountDto::new(account, &state)))
}

/// Create an API key for the account. The key is in this response only.
#[utoipa::path(post, path = "/account/api-keys", tag = "Account", operation_id = "createApiKey",
    request_body = Option<CreateApiKey>,
    responses(
        (status = 201, description = "The new key", body = CreatedApiKeyDto),
        (status = 400, description = "Invalid name or scopes", body = ErrorBody),
        (status = 403, description = "INSUFFICIENT_SCOPE: a scope the creating key does not have", body = ErrorBody),
    ))]
pub async fn create_key(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    body: ApiJson<CreateApiKey>,
) -> Result<Reply, ApiError> {
    let body = body.into_inner();
    let mut errors = ValidationErrors::new();
    let name = body
        .name
        .and_then(|n| errors.check("name", KeyName::parse(&n)));
    let scopes = match body.scopes {
        Some(names) => errors.check("scopes", Scopes::parse(&names)),
        None => Some(Scopes::DEFAULT),
    };
    let scopes = errors.into_result(scopes)?.unwrap_or(Scopes::DEFAULT);
    let now = state.now();
    Ok(state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            who.scopes.may_grant(scopes)?;
            let new = NewKey {
                name: name.as_ref(),
                expires_at: None,
                scopes,
            };
            let (key, secret) = accounts::create_api_key(tx, who.account_id, new, now)?;
            let created = CreatedApiKeyDto {
                id: key.id,
                key: secret.expose().to_owned(),
                prefix: key.prefix,
                name: key.name,
                scopes: key.scopes.names(),
                message: "Store this key now: it is shown only once.",
            };
            idempotency.keep(tx, Reply::json(StatusCode::CREATED, &created)?)
        })
        .await?)
}

/// List the account's keys that are not revoked, newest first.
#[utoipa::path(get, path = "/account/api-keys", tag = "Account", operation_id = "listApiKeys", params(super::PageParams),
    responses(
        (status = 200, description = "A page of keys", body = List<ApiKeyDto>),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
    ))]
pub async fn list_keys(
    auth: Authenticated,
    state: Data<AppState>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let page = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            accounts::list_api_keys(c, who.account_id, paging)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(ApiKeyDto::from))))
}

/// Revoke a key; it stops working with the next request.
#[utoipa::path(delete, path = "/account/api-keys/{id}", tag = "Account", operation_id = "revokeApiKey", params(super::IdParam),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such key", body = ErrorBody),
    ))]
pub async fn revoke_key(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<ApiKeyId>,
) -> Result<impl Responder, ApiError> {
    let (key_id, now) = (id.into_inner(), state.now());
    state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            accounts::revoke_api_key(tx, Some(who.account_id), key_id, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
