//! `/webhooks`.

use actix_web::http::StatusCode;
use actix_web::web::{Data, Path};
use actix_web::{HttpResponse, Responder};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use super::extract::{ApiJson, Authenticated, Paged};
use super::idempotency::{Idempotency, Reply};
use super::{List, double_option};
use crate::domain::webhook::{
    Attempt, Delivery, EventFilter, Webhook, WebhookDescription, WebhookSecret, WebhookUrl,
};
use crate::domain::{DeliveryId, EventId, Timestamp, ValidationErrors, WebhookId};
use crate::state::AppState;
use crate::store::webhooks::{self as store, NewWebhook, WebhookChanges};
use crate::webhooks;

/// A webhook on the wire (never with its secret, except in [`CreatedWebhookDto`]).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDto {
    #[schema(value_type = String, format = Uuid)]
    id: WebhookId,
    url: String,
    description: Option<String>,
    /// Subscribed events; `[]` means every event.
    #[schema(example = json!(["message.received"]))]
    events: Vec<&'static str>,
    is_active: bool,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
}

impl From<Webhook> for WebhookDto {
    fn from(w: Webhook) -> Self {
        Self {
            id: w.id,
            url: w.url,
            description: w.description,
            events: w.events.names(),
            is_active: w.is_active,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// A webhook with its signing secret: the create and rotate responses only.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhookDto {
    #[serde(flatten)]
    webhook: WebhookDto,
    /// `whsec_` + 48 hex characters. Shown only now.
    secret: String,
}

impl CreatedWebhookDto {
    /// The webhook just created from `new`, with its secret.
    pub(crate) fn new(webhook: Webhook, new: &NewWebhook) -> Self {
        Self {
            webhook: webhook.into(),
            secret: new.secret.expose().to_owned(),
        }
    }
}

/// One attempt in the delivery log.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttemptDto {
    attempt: u32,
    status_code: Option<u16>,
    duration_ms: u64,
    /// First 1 KB of the response body.
    response: Option<String>,
    error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
}

impl From<Attempt> for AttemptDto {
    fn from(a: Attempt) -> Self {
        Self {
            attempt: a.attempt,
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            response: a.response,
            error: a.error,
            created_at: a.created_at,
        }
    }
}

/// A delivery of one event to one webhook.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryDto {
    /// Also the `webhook-id` header of every attempt.
    #[schema(value_type = String, format = Uuid)]
    id: DeliveryId,
    #[schema(value_type = String, format = Uuid)]
    webhook_id: WebhookId,
    #[schema(value_type = String, format = Uuid)]
    event_id: EventId,
    #[schema(example = "message.received")]
    event: String,
    /// `pending`, `delivering`, `succeeded` or `failed`.
    #[schema(example = "succeeded")]
    status: &'static str,
    /// Attempts made so far.
    attempts: u32,
    last_status_code: Option<u16>,
    last_error: Option<String>,
    /// First 1 KB of the last response body.
    last_response: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    next_attempt_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    updated_at: Timestamp,
    /// Every attempt, oldest first.
    attempt_log: Vec<AttemptDto>,
}

impl From<Delivery> for DeliveryDto {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            webhook_id: d.webhook_id,
            event_id: d.event_id,
            event: d.event,
            status: d.status.as_str(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            last_response: d.last_response,
            next_attempt_at: d.next_attempt_at,
            created_at: d.created_at,
            updated_at: d.updated_at,
            attempt_log: d.attempt_log.into_iter().map(AttemptDto::from).collect(),
        }
    }
}

/// `POST /webhooks` body.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateWebhook {
    /// An absolute `http` or `https` URL, at most 2048 characters, whose host is a host name
    /// (letters, digits and hyphens) or an IP address that deliveries may go to (public, or
    /// allowed by the operator). Surrounding white space (then control characters) is ignored.
    /// The pattern gives the usual form; user info, IP addresses and internationalised names
    /// are accepted too.
    #[schema(value_type = String, max_length = 2048, pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[\u0000-\u0020]*[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,2}(?::[1-9][0-9]{0,3})?(?:[/?#][\s\S]{0,1900})?[\u0000-\u0020]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$")]
    url: Option<String>,
    /// At most 500 characters; blank means none.
    #[schema(max_length = 500, pattern = r"^[^\u0000]*$")]
    description: Option<String>,
    /// Events to receive; omitted or `[]` means all.
    #[schema(value_type = Option<Vec<EventNameDoc>>)]
    events: Option<Vec<String>>,
}

impl CreateWebhook {
    /// The webhook to create, checked (with a new secret).
    pub(crate) fn into_new(self, state: &AppState) -> Result<NewWebhook, ApiError> {
        let mut errors = ValidationErrors::new();
        let url = match self.url {
            Some(raw) => parse_url(state, &mut errors, &raw),
            None => {
                errors.add("url", "is required");
                None
            }
        };
        let description = parse_description(&mut errors, self.description);
        let events = parse_events(&mut errors, self.events).unwrap_or_default();
        let url = errors
            .into_result(url)?
            .ok_or_else(|| ApiError::invalid_field("url", "is required"))?;
        Ok(NewWebhook {
            url,
            description,
            events,
            secret: WebhookSecret::generate(),
        })
    }
}

/// An event a webhook can subscribe to, for the OpenAPI document.
#[derive(ToSchema)]
#[schema(as = EventName)]
pub enum EventNameDoc {
    #[schema(rename = "message.received")]
    MessageReceived,
    #[schema(rename = "message.sent")]
    MessageSent,
    #[schema(rename = "message.delivered")]
    MessageDelivered,
    #[schema(rename = "message.bounced")]
    MessageBounced,
    #[schema(rename = "message.complained")]
    MessageComplained,
    #[schema(rename = "message.updated")]
    MessageUpdated,
    #[schema(rename = "domain.verified")]
    DomainVerified,
}

/// `PUT /webhooks/{id}` body; omitted fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWebhook {
    /// As when creating.
    #[schema(
        max_length = 2048,
        pattern = r"^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[\u0000-\u0020]*[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?){0,2}(?::[1-9][0-9]{0,3})?(?:[/?#][\s\S]{0,1900})?[\u0000-\u0020]*[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    url: Option<String>,
    /// At most 500 characters; `null` or blank removes it.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 500, pattern = r"^[^\u0000]*$")]
    description: Option<Option<String>>,
    /// Events to receive; `[]` means all.
    #[schema(value_type = Option<Vec<EventNameDoc>>)]
    events: Option<Vec<String>>,
    is_active: Option<bool>,
    /// `true` replaces the secret; the new one is in this response only.
    rotate_secret: Option<bool>,
}

/// Parses a URL and refuses an IP literal the delivery policy would refuse anyway.
fn parse_url(state: &AppState, errors: &mut ValidationErrors, raw: &str) -> Option<WebhookUrl> {
    let url = errors.check("url", WebhookUrl::parse(raw))?;
    errors.check("url", state.network_policy.check_url(url.url()))?;
    Some(url)
}

fn parse_events(errors: &mut ValidationErrors, names: Option<Vec<String>>) -> Option<EventFilter> {
    errors.check("events", EventFilter::parse(&names?))
}

fn parse_description(
    errors: &mut ValidationErrors,
    raw: Option<String>,
) -> Option<WebhookDescription> {
    errors
        .check("description", WebhookDescription::parse(&raw?))
        .flatten()
}

/// Create a webhook. The response carries the signing secret, once.
#[utoipa::path(post, path = "/webhooks", tag = "Webhooks", operation_id = "createWebhook",
    request_body = CreateWebhook,
    responses(
        (status = 201, description = "Webhook created, with its secret", body = CreatedWebhookDto),
        (status = 400, description = "Invalid URL, description or event", body = ErrorBody),
        (status = 402, description = "CLAIM_REQUIRED: sandbox accounts have no webhooks", body = ErrorBody),
    ))]
pub async fn create(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    body: ApiJson<CreateWebhook>,
) -> Result<Reply, ApiError> {
    let new = body.into_inner().into_new(&state)?;
    let now = state.now();
    let limits = state.limits.clone();
    Ok(state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            limits.may_create_webhook(tx, who.account_id, now)?;
            let webhook = store::create_webhook(tx, who.account_id, &new, now)?;
            let created = CreatedWebhookDto::new(webhook, &new);
            idempotency.keep(tx, Reply::json(StatusCode::CREATED, &created)?)
        })
        .await?)
}

/// List the account's webhooks, newest first.
#[utoipa::path(get, path = "/webhooks", tag = "Webhooks", operation_id = "listWebhooks", params(super::PageParams),
    responses(
        (status = 200, description = "A page of webhooks", body = List<WebhookDto>),
        (status = 400, description = "Bad paging parameters", body = ErrorBody),
    ))]
pub async fn list(
    auth: Authenticated,
    state: Data<AppState>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let page = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            store::list_webhooks(c, who.account_id, paging)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(WebhookDto::from))))
}

/// Get a webhook.
#[utoipa::path(get, path = "/webhooks/{id}", tag = "Webhooks", operation_id = "getWebhook", params(super::IdParam),
    responses(
        (status = 200, description = "The webhook", body = WebhookDto),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn get(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<WebhookId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let webhook = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            store::get_webhook(c, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(WebhookDto::from(webhook)))
}

/// Change a webhook; `rotateSecret: true` issues a new secret, returned in this response only.
#[utoipa::path(put, path = "/webhooks/{id}", tag = "Webhooks", operation_id = "updateWebhook",
    params(super::IdParam), request_body = Option<UpdateWebhook>,
    responses(
        (status = 200, description = "The updated webhook (with `secret` after a rotation)", body = WebhookDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn update(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<WebhookId>,
    body: ApiJson<UpdateWebhook>,
) -> Result<impl Responder, ApiError> {
    let body = body.into_inner();
    let mut errors = ValidationErrors::new();
    let changes = WebhookChanges {
        url: body
            .url
            .and_then(|raw| parse_url(&state, &mut errors, &raw)),
        description: body
            .description
            .map(|d| d.and_then(|d| parse_description(&mut errors, Some(d)))),
        events: parse_events(&mut errors, body.events),
        is_active: body.is_active,
        secret: body
            .rotate_secret
            .unwrap_or(false)
            .then(WebhookSecret::generate),
    };
    let changes = errors.into_result(changes)?;
    let (id, now) = (id.into_inner(), state.now());
    let (webhook, secret) = state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            let webhook = store::update_webhook(tx, who.account_id, id, &changes, now)?;
            Ok((webhook, changes.secret))
        })
        .await?;
    Ok(match secret {
        Some(secret) => HttpResponse::Ok().json(CreatedWebhookDto {
            webhook: webhook.into(),
            secret: secret.expose().to_owned(),
        }),
        None => HttpResponse::Ok().json(WebhookDto::from(webhook)),
    })
}

/// Delete a webhook; deliveries not yet made are dropped.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "Webhooks", operation_id = "deleteWebhook", params(super::IdParam),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn delete(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<WebhookId>,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    state
        .store
        .write_as(&auth.0, state.now(), move |tx, who| {
            store::delete_webhook(tx, who.account_id, id)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The webhook's delivery log, newest first, with every attempt.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "Webhooks", operation_id = "listWebhookDeliveries",
    params(super::IdParam, super::PageParams),
    responses(
        (status = 200, description = "A page of deliveries", body = List<DeliveryDto>),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn deliveries(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<WebhookId>,
    Paged(paging): Paged,
) -> Result<impl Responder, ApiError> {
    let id = id.into_inner();
    let page = state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            store::list_deliveries(c, who.account_id, id, paging)
        })
        .await?;
    Ok(HttpResponse::Ok().json(List::from(page.map(DeliveryDto::from))))
}

/// Queue a signed `webhook.test` delivery to this webhook.
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "Webhooks", operation_id = "testWebhook", params(super::IdParam),
    responses(
        (status = 202, description = "The queued delivery", body = DeliveryDto),
        (status = 400, description = "The webhook is inactive", body = ErrorBody),
        (status = 404, description = "No such webhook", body = ErrorBody),
    ))]
pub async fn test(
    auth: Authenticated,
    state: Data<AppState>,
    idempotency: Idempotency,
    id: Path<WebhookId>,
) -> Result<Reply, ApiError> {
    let (id, now) = (id.into_inner(), state.now());
    Ok(state
        .store
        .write_as(&auth.0, now, move |tx, who| {
            let delivery = webhooks::queue_test(tx, who.account_id, id, now)?;
            idempotency.keep(
                tx,
                Reply::json(StatusCode::ACCEPTED, &DeliveryDto::from(delivery))?,
            )
        })
        .await?)
}
