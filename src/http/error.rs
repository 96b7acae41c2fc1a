//! The one error type at the HTTP edge and its envelope,
//! `{"error": {"code", "message", "status", "details"?}}`.

use crate::domain::Refusal;
use crate::http::error_code::ErrorCode;
use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Resource;
use crate::domain::ValidationErrors;
use crate::domain::links::LinkError;
use crate::mail::MailError;
use crate::store::Failure;

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    message: Cow<'static, str>,
    details: Option<ValidationErrors>,
    retry_after: Option<u64>,
    claim_url: Option<String>,
}

/// The error envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    error: ErrorObject,
}

/// The error object inside the envelope.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorObject {
    /// Stable machine-readable code, e.g. `INBOX_NOT_FOUND`.
    code: ErrorCode,
    /// Human-readable explanation.
    message: String,
    /// The HTTP status, repeated.
    #[schema(example = 400)]
    status: u16,
    /// For validation errors: messages per request field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    details: Option<std::collections::BTreeMap<String, Vec<String>>>,
    /// For `402 CLAIM_REQUIRED`: where a person claims the sandbox account.
    #[serde(skip_serializing_if = "Option::is_none")]
    claim_url: Option<String>,
}

impl ApiError {
    /// An error with a code (which fixes its status) and a message.
    pub fn new(code: ErrorCode, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            claim_url: None,
        }
    }

    /// `400 VALIDATION_ERROR` with per-field details.
    pub fn validation(errors: ValidationErrors) -> Self {
        let mut e = Self::new(ErrorCode::ValidationError, errors.summary());
        e.details = Some(errors);
        e
    }

    /// The same error with `details`: messages by field, or by component for `/health`.
    pub fn with_details(mut self, details: ValidationErrors) -> Self {
        self.details = Some(details);
        self
    }

    /// `400 VALIDATION_ERROR` about one field.
    pub fn invalid_field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(ValidationErrors::single(field, message))
    }

    /// `400 VALIDATION_ERROR` without field details.
    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::ValidationError, message)
    }

    /// `401 UNAUTHORIZED`, with the hosted service's exact message.
    pub fn unauthorized() -> Self {
        Self::new(ErrorCode::Unauthorized, "Invalid or missing API key")
    }

    /// `403 INVALID_SIGNATURE` or `410 LINK_EXPIRED` for a signed link (`what`) refused with
    /// `e`, telling how to get a good one (`remedy`).
    pub fn link_refused(e: LinkError, what: &str, remedy: &str) -> Self {
        match e {
            LinkError::Invalid => Self::new(
                ErrorCode::InvalidSignature,
                format!("This {what} is not valid; {remedy}."),
            ),
            LinkError::Expired => Self::new(
                ErrorCode::LinkExpired,
                format!("This {what} has expired; {remedy}."),
            ),
        }
    }

    /// `404 NOT_FOUND` for a path no route matches.
    pub fn route_not_found() -> Self {
        Self::new(ErrorCode::NotFound, "No such endpoint.")
    }

    /// `405 METHOD_NOT_ALLOWED`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            ErrorCode::MethodNotAllowed,
            "This endpoint does not support that HTTP method.",
        )
    }

    /// `413 PAYLOAD_TOO_LARGE`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            ErrorCode::PayloadTooLarge,
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    }

    /// `408 REQUEST_TIMEOUT`: the body did not arrive in time (see `http::conn`).
    pub fn request_timeout() -> Self {
        Self::new(
            ErrorCode::RequestTimeout,
            "The request body did not arrive in time.",
        )
    }

    /// `415 UNSUPPORTED_MEDIA_TYPE`.
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            ErrorCode::UnsupportedMediaType,
            format!("The request body must be sent as {expected}."),
        )
    }

    /// `409 IDEMPOTENCY_KEY_IN_USE`: a request with the key is still running.
    pub fn idempotency_key_in_use() -> Self {
        Self::new(
            ErrorCode::IdempotencyKeyInUse,
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        )
    }

    /// `429 RATE_LIMIT_EXCEEDED` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            ErrorCode::RateLimitExceeded,
            format!("Rate limit exceeded. Try again in {retry_after_secs} seconds."),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// `503 SERVER_BUSY` with `Retry-After`: too much data arriving at once for the memory
    /// budget (`limits.max_buffered_bytes`).
    pub fn busy() -> Self {
        let mut e = Self::new(
            ErrorCode::ServerBusy,
            "The server is receiving too much data at once; retry in a few seconds.",
        );
        e.retry_after = Some(5);
        e
    }

    /// `500 INTERNAL_ERROR`. The cause is logged here and never sent to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        log::error!("internal error: {cause}");
        Self::new(ErrorCode::InternalError, "An unexpected error occurred")
    }

    /// The error object (`{"code", "message", "status", …}`) on its own, for an error frame on
    /// a WebSocket.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.body().error).unwrap_or_default()
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code.as_str()
    }

    /// The envelope, as sent.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                code: self.code,
                message: self.message.to_string(),
                status: self.code.status().as_u16(),
                details: self.details.as_ref().map(|d| d.fields().clone()),
                claim_url: self.claim_url.clone(),
            },
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.code.status().as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.code.status());
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from(secs)));
        }
        res.json(self.body())
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::validation(errors)
    }
}

/// A mail failure: the store's part as such, the rest internal.
impl From<MailError> for ApiError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Store(failure) => failure.into(),
            e @ (MailError::Compose(_) | MailError::Signing(_) | MailError::Task(_)) => {
                Self::internal(e)
            }
        }
    }
}

/// The one place where a store condition becomes an HTTP status.
impl From<Failure> for ApiError {
    fn from(e: Failure) -> Self {
        match e {
            Failure::Refused(Refusal::NotFound(resource)) => {
                let (code, message) = match resource {
                    Resource::Account => (ErrorCode::NotFound, "No account found with that ID."),
                    Resource::ApiKey => (ErrorCode::NotFound, "No API key found with that ID."),
                    Resource::Inbox => (ErrorCode::InboxNotFound, "No inbox found with that ID."),
                    Resource::Domain => {
                        (ErrorCode::DomainNotFound, "No domain found with that ID.")
                    }
                    Resource::Webhook => {
                        (ErrorCode::WebhookNotFound, "No webhook found with that ID.")
                    }
                    Resource::Message => {
                        (ErrorCode::MessageNotFound, "No message found with that ID.")
                    }
                    Resource::Thread => {
                        (ErrorCode::ThreadNotFound, "No thread found with that ID.")
                    }
                    Resource::Attachment => (
                        ErrorCode::AttachmentNotFound,
                        "No attachment found with that ID.",
                    ),
                    Resource::ListEntry => (ErrorCode::NotFound, "That entry is not on the list."),
                    Resource::Draft => (ErrorCode::DraftNotFound, "No draft found with that ID."),
                };
                Self::new(code, message)
            }
            Failure::Refused(Refusal::Unauthorized) => Self::unauthorized(),
            Failure::Refused(Refusal::AddressTaken) => Self::new(
                ErrorCode::AddressTaken,
                "That address is already in use (addresses of deleted inboxes stay reserved).",
            ),
            Failure::Refused(Refusal::InvalidInboxDomain { expected }) => Self::new(
                ErrorCode::InvalidInboxDomain,
                format!("The address must be on the domain {expected}."),
            ),
            Failure::Refused(Refusal::DomainNotVerified) => Self::new(
                ErrorCode::DomainNotVerified,
                "The domain must be verified for sending before inboxes can use it.",
            ),
            Failure::Refused(Refusal::DomainExists { elsewhere: false }) => Self::new(
                ErrorCode::DomainExists,
                "This account already has that domain.",
            ),
            Failure::Refused(Refusal::DomainExists { elsewhere: true }) => Self::new(
                ErrorCode::DomainExists,
                "That domain is verified by another account.",
            ),
            Failure::Refused(Refusal::DomainLimitReached { limit }) => Self::new(
                ErrorCode::DomainLimitReached,
                format!("An account can have {limit} domains; delete one first."),
            ),
            Failure::Refused(Refusal::DomainInUse { inboxes }) => Self::new(
                ErrorCode::DomainInUse,
                format!(
                    "{inboxes} inbox{} still use{} this domain; delete {} first.",
                    if inboxes == 1 { "" } else { "es" },
                    if inboxes == 1 { "s" } else { "" },
                    if inboxes == 1 { "it" } else { "them" }
                ),
            ),
            Failure::Refused(Refusal::Invalid(errors)) => Self::validation(errors),
            Failure::Refused(Refusal::IdempotencyKeyLost) => Self::idempotency_key_in_use(),
            Failure::Refused(Refusal::MissingScope(scope)) => Self::new(
                ErrorCode::InsufficientScope,
                format!("This API key does not have the `{scope}` scope this needs."),
            ),
            Failure::Refused(Refusal::ApprovalRequired) => Self::new(
                ErrorCode::ApprovalRequired,
                "This draft needs approval: only a key with the `approve` scope, or the operator \
                 (`agentsend drafts approve`), can send it.",
            ),
            Failure::Refused(Refusal::DraftAlreadySent) => Self::new(
                ErrorCode::DraftAlreadySent,
                "This draft was sent already; it can no longer be changed, approved or sent.",
            ),
            Failure::Refused(Refusal::DraftNotAsReviewed(current)) => Self::new(
                ErrorCode::DraftChanged,
                format!(
                    "The draft changed since the revision you reviewed (it is at revision \
                     {current} now); nothing was approved. Review it again."
                ),
            ),
            Failure::Refused(Refusal::DraftChanged) => Self::new(
                ErrorCode::DraftChanged,
                "The draft changed while it was being sent; nothing was sent. Try again.",
            ),
            Failure::Refused(Refusal::InboxSuspended) => Self::new(
                ErrorCode::InboxSuspended,
                "This inbox is suspended and cannot send: its bounce or complaint rate is too high.",
            ),
            Failure::Refused(Refusal::ThreadInboxMismatch) => Self::new(
                ErrorCode::ThreadInboxMismatch,
                "The thread belongs to another inbox.",
            ),
            Failure::Refused(Refusal::ClaimRequired(refusal)) => {
                let mut e = Self::new(ErrorCode::ClaimRequired, refusal.to_string());
                e.claim_url = Some(refusal.claim_url);
                e
            }
            // No Retry-After: the reset is hours away, and SDKs sleep for whatever it says.
            Failure::Refused(Refusal::DailySendLimitReached) => Self::new(
                ErrorCode::DailySendLimitReached,
                "The daily send limit is reached; it resets at 00:00 UTC.",
            ),
            Failure::Refused(Refusal::ListEntryExists { entry }) => Self::new(
                ErrorCode::ListEntryExists,
                format!("The list has {entry} already."),
            ),
            Failure::Refused(Refusal::RecipientBlocked { field, address }) => {
                let message = format!("{address} is on this inbox's or account's block list");
                let mut e = Self::new(ErrorCode::RecipientBlocked, format!("{field}: {message}."));
                e.details = Some(ValidationErrors::single(field, message));
                e
            }
            Failure::Refused(Refusal::AttachmentsTooLarge) => Self::new(
                ErrorCode::AttachmentsTooLarge,
                "The attachments add up to more than 25 MB.",
            ),
            e @ (Failure::Store(_) | Failure::Internal(_)) => Self::internal(e),
        }
    }
}
