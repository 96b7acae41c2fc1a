//! The one error type at the HTTP edge and its envelope,
//! `{"error": {"code", "message", "status", "details"?}}` (SPEC §1.3).

use std::borrow::Cow;
use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::ValidationErrors;
use crate::store::{Resource, StoreError};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
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
    #[schema(example = "VALIDATION_ERROR")]
    code: &'static str,
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
    /// An error with a fixed code and message.
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            claim_url: None,
        }
    }

    /// `400 VALIDATION_ERROR` with per-field details.
    pub fn validation(errors: ValidationErrors) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
            errors.summary(),
        );
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
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// `401 UNAUTHORIZED`, with the hosted service's exact message.
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Invalid or missing API key",
        )
    }

    /// `404 NOT_FOUND` for a path no route matches.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such endpoint.")
    }

    /// `405 METHOD_NOT_ALLOWED`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "This endpoint does not support that HTTP method.",
        )
    }

    /// `413 PAYLOAD_TOO_LARGE`.
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    }

    /// `408 REQUEST_TIMEOUT`: the body did not arrive in time (see `http::conn`).
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "The request body did not arrive in time.",
        )
    }

    /// `415 UNSUPPORTED_MEDIA_TYPE`.
    pub fn unsupported_media_type(expected: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("The request body must be sent as {expected}."),
        )
    }

    /// `409 IDEMPOTENCY_KEY_IN_USE`: a request with the key is still running.
    pub fn idempotency_key_in_use() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_IN_USE",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        )
    }

    /// `429 RATE_LIMIT_EXCEEDED` with `Retry-After`.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_EXCEEDED",
            format!("Rate limit exceeded. Try again in {retry_after_secs} seconds."),
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// `503 SERVER_BUSY` with `Retry-After`: too much data arriving at once for the memory
    /// budget (`limits.max_buffered_bytes`).
    pub fn busy() -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_BUSY",
            "The server is receiving too much data at once; retry in a few seconds.",
        );
        e.retry_after = Some(5);
        e
    }

    /// `500 INTERNAL_ERROR`. The cause is logged here and never sent to the client.
    pub fn internal(cause: impl fmt::Display) -> Self {
        log::error!("internal error: {cause}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "An unexpected error occurred",
        )
    }

    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorObject {
                code: self.code,
                message: self.message.to_string(),
                status: self.status.as_u16(),
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
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
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

/// The one place where a store condition becomes an HTTP status.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        use StatusCode as S;
        match e {
            StoreError::NotFound(resource) => {
                let (code, message) = match resource {
                    Resource::Account => ("NOT_FOUND", "No account found with that ID."),
                    Resource::ApiKey => ("NOT_FOUND", "No API key found with that ID."),
                    Resource::Inbox => ("INBOX_NOT_FOUND", "No inbox found with that ID."),
                    Resource::Domain => ("DOMAIN_NOT_FOUND", "No domain found with that ID."),
                    Resource::Webhook => ("WEBHOOK_NOT_FOUND", "No webhook found with that ID."),
                    Resource::Message => ("MESSAGE_NOT_FOUND", "No message found with that ID."),
                    Resource::Thread => ("THREAD_NOT_FOUND", "No thread found with that ID."),
                    Resource::Attachment => {
                        ("ATTACHMENT_NOT_FOUND", "No attachment found with that ID.")
                    }
                };
                Self::new(S::NOT_FOUND, code, message)
            }
            StoreError::Unauthorized => Self::unauthorized(),
            StoreError::AddressTaken => Self::new(
                S::CONFLICT,
                "ADDRESS_TAKEN",
                "That address is already in use (addresses of deleted inboxes stay reserved).",
            ),
            StoreError::InvalidInboxDomain { expected } => Self::new(
                S::BAD_REQUEST,
                "INVALID_INBOX_DOMAIN",
                format!("The address must be on the domain {expected}."),
            ),
            StoreError::DomainNotVerified => Self::new(
                S::BAD_REQUEST,
                "DOMAIN_NOT_VERIFIED",
                "The domain must be verified for sending before inboxes can use it.",
            ),
            StoreError::DomainExists { elsewhere: false } => Self::new(
                S::CONFLICT,
                "DOMAIN_EXISTS",
                "This account already has that domain.",
            ),
            StoreError::DomainExists { elsewhere: true } => Self::new(
                S::CONFLICT,
                "DOMAIN_EXISTS",
                "That domain is verified by another account.",
            ),
            StoreError::DomainLimitReached { limit } => Self::new(
                S::FORBIDDEN,
                "DOMAIN_LIMIT_REACHED",
                format!("An account can have {limit} domains; delete one first."),
            ),
            StoreError::DomainInUse { inboxes } => Self::new(
                S::CONFLICT,
                "DOMAIN_IN_USE",
                format!(
                    "{inboxes} inbox{} still use{} this domain; delete {} first.",
                    if inboxes == 1 { "" } else { "es" },
                    if inboxes == 1 { "s" } else { "" },
                    if inboxes == 1 { "it" } else { "them" }
                ),
            ),
            StoreError::Invalid(errors) => Self::validation(errors),
            StoreError::IdempotencyKeyLost => Self::idempotency_key_in_use(),
            StoreError::InboxSuspended => Self::new(
                S::FORBIDDEN,
                "INBOX_SUSPENDED",
                "This inbox is suspended and cannot send: its bounce or complaint rate is too high.",
            ),
            StoreError::ThreadInboxMismatch => Self::new(
                S::BAD_REQUEST,
                "THREAD_INBOX_MISMATCH",
                "The thread belongs to another inbox.",
            ),
            StoreError::ClaimRequired(refusal) => {
                let mut e = Self::new(S::PAYMENT_REQUIRED, "CLAIM_REQUIRED", refusal.to_string());
                e.claim_url = Some(refusal.claim_url);
                e
            }
            // No Retry-After: the reset is hours away, and SDKs sleep for whatever it says.
            StoreError::DailySendLimitReached => Self::new(
                S::TOO_MANY_REQUESTS,
                "DAILY_SEND_LIMIT_REACHED",
                "The daily send limit is reached; it resets at 00:00 UTC.",
            ),
            StoreError::AttachmentsTooLarge => Self::new(
                S::BAD_REQUEST,
                "ATTACHMENTS_TOO_LARGE",
                "The attachments add up to more than 25 MB.",
            ),
            e @ (StoreError::Sqlite(_)
            | StoreError::Pool(_)
            | StoreError::Task(_)
            | StoreError::Corrupt(_)
            | StoreError::ClaimLost
            | StoreError::TransactionLost(_)
            | StoreError::SchemaTooNew { .. }) => Self::internal(e),
        }
    }
}
