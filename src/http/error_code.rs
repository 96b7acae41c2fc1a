//! The API's error codes: the one list of what `error.code` may be, each with its HTTP
//! status. The OpenAPI document lists them (the `ErrorCode` schema).

use actix_web::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

/// A stable, machine-readable error code (`error.code` in the envelope).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The request body, query or path is invalid; `details` lists the fields.
    ValidationError,
    /// The inbox address is neither a local part nor a full address.
    InvalidInboxAddress,
    /// The inbox address's local part is not allowed.
    InvalidInboxLocalPart,
    /// The inbox address's domain is invalid or not the inbox's domain.
    InvalidInboxDomain,
    /// The custom domain is not verified for this use yet.
    DomainNotVerified,
    /// The thread belongs to another inbox.
    ThreadInboxMismatch,
    /// The attachments of a send are too large together.
    AttachmentsTooLarge,
    /// A recipient of a send is on the block list of the inbox or its account.
    RecipientBlocked,
    /// An upload is larger than the attachment limit.
    AttachmentTooLarge,
    /// The API key is missing, unknown, revoked or expired.
    Unauthorized,
    /// A sandbox account reached a limit; a person must claim it (`claimUrl`).
    ClaimRequired,
    /// The API key lacks the scope the operation needs (the message names it).
    InsufficientScope,
    /// The draft needs a person's approval: only a key with the `approve` scope (or the
    /// operator's command line) may send it.
    ApprovalRequired,
    /// The inbox is suspended and may not send.
    InboxSuspended,
    /// The account has as many custom domains as it may.
    DomainLimitReached,
    /// A download link's signature does not check out.
    InvalidSignature,
    /// No such endpoint, account or API key.
    NotFound,
    /// No inbox with that id in this account.
    InboxNotFound,
    /// No custom domain with that id in this account.
    DomainNotFound,
    /// No webhook with that id in this account.
    WebhookNotFound,
    /// No message with that id in this account.
    MessageNotFound,
    /// No thread with that id in this account.
    ThreadNotFound,
    /// No attachment with that id in this account.
    AttachmentNotFound,
    /// No draft with that id in this account (or in that inbox).
    DraftNotFound,
    /// The endpoint does not support the HTTP method.
    MethodNotAllowed,
    /// The request body did not arrive in time.
    RequestTimeout,
    /// The inbox address is used by another inbox.
    AddressTaken,
    /// The account has the domain already, or another account verified it.
    DomainExists,
    /// Inboxes still use the custom domain.
    DomainInUse,
    /// A request with the same Idempotency-Key is still running.
    IdempotencyKeyInUse,
    /// The allow or block list has that entry already.
    ListEntryExists,
    /// The draft was sent already: it can no longer be changed, approved or sent.
    DraftAlreadySent,
    /// The draft changed while it was being sent; nothing was sent (retry).
    DraftChanged,
    /// The download link has expired.
    LinkExpired,
    /// The request body is larger than allowed.
    PayloadTooLarge,
    /// The request body is not of a supported content type.
    UnsupportedMediaType,
    /// The client does not accept any type the endpoint can answer with.
    NotAcceptable,
    /// The Idempotency-Key was used with a different request.
    IdempotencyKeyReused,
    /// Too many requests; retry after `Retry-After` seconds.
    RateLimitExceeded,
    /// The inbox or the account has sent its daily quota.
    DailySendLimitReached,
    /// An unexpected error; nothing about it is disclosed.
    InternalError,
    /// The server is at capacity; retry after `Retry-After` seconds.
    ServerBusy,
    /// A component of the server has stopped (`/health`).
    ServiceUnavailable,
}

impl ErrorCode {
    /// Every code.
    pub const ALL: [ErrorCode; 43] = [
        ErrorCode::ValidationError,
        ErrorCode::InvalidInboxAddress,
        ErrorCode::InvalidInboxLocalPart,
        ErrorCode::InvalidInboxDomain,
        ErrorCode::DomainNotVerified,
        ErrorCode::ThreadInboxMismatch,
        ErrorCode::AttachmentsTooLarge,
        ErrorCode::RecipientBlocked,
        ErrorCode::AttachmentTooLarge,
        ErrorCode::Unauthorized,
        ErrorCode::ClaimRequired,
        ErrorCode::InsufficientScope,
        ErrorCode::ApprovalRequired,
        ErrorCode::InboxSuspended,
        ErrorCode::DomainLimitReached,
        ErrorCode::InvalidSignature,
        ErrorCode::NotFound,
        ErrorCode::InboxNotFound,
        ErrorCode::DomainNotFound,
        ErrorCode::WebhookNotFound,
        ErrorCode::MessageNotFound,
        ErrorCode::ThreadNotFound,
        ErrorCode::AttachmentNotFound,
        ErrorCode::DraftNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::RequestTimeout,
        ErrorCode::AddressTaken,
        ErrorCode::DomainExists,
        ErrorCode::DomainInUse,
        ErrorCode::IdempotencyKeyInUse,
        ErrorCode::ListEntryExists,
        ErrorCode::DraftAlreadySent,
        ErrorCode::DraftChanged,
        ErrorCode::LinkExpired,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::NotAcceptable,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::RateLimitExceeded,
        ErrorCode::DailySendLimitReached,
        ErrorCode::InternalError,
        ErrorCode::ServerBusy,
        ErrorCode::ServiceUnavailable,
    ];

    /// The code as sent.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::InvalidInboxAddress => "INVALID_INBOX_ADDRESS",
            ErrorCode::InvalidInboxLocalPart => "INVALID_INBOX_LOCAL_PART",
            ErrorCode::InvalidInboxDomain => "INVALID_INBOX_DOMAIN",
            ErrorCode::DomainNotVerified => "DOMAIN_NOT_VERIFIED",
            ErrorCode::ThreadInboxMismatch => "THREAD_INBOX_MISMATCH",
            ErrorCode::AttachmentsTooLarge => "ATTACHMENTS_TOO_LARGE",
            ErrorCode::RecipientBlocked => "RECIPIENT_BLOCKED",
            ErrorCode::AttachmentTooLarge => "ATTACHMENT_TOO_LARGE",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::ClaimRequired => "CLAIM_REQUIRED",
            ErrorCode::InboxSuspended => "INBOX_SUSPENDED",
            ErrorCode::InsufficientScope => "INSUFFICIENT_SCOPE",
            ErrorCode::ApprovalRequired => "APPROVAL_REQUIRED",
            ErrorCode::DomainLimitReached => "DOMAIN_LIMIT_REACHED",
            ErrorCode::InvalidSignature => "INVALID_SIGNATURE",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InboxNotFound => "INBOX_NOT_FOUND",
            ErrorCode::DomainNotFound => "DOMAIN_NOT_FOUND",
            ErrorCode::WebhookNotFound => "WEBHOOK_NOT_FOUND",
            ErrorCode::MessageNotFound => "MESSAGE_NOT_FOUND",
            ErrorCode::ThreadNotFound => "THREAD_NOT_FOUND",
            ErrorCode::AttachmentNotFound => "ATTACHMENT_NOT_FOUND",
            ErrorCode::DraftNotFound => "DRAFT_NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::RequestTimeout => "REQUEST_TIMEOUT",
            ErrorCode::AddressTaken => "ADDRESS_TAKEN",
            ErrorCode::DomainExists => "DOMAIN_EXISTS",
            ErrorCode::DomainInUse => "DOMAIN_IN_USE",
            ErrorCode::IdempotencyKeyInUse => "IDEMPOTENCY_KEY_IN_USE",
            ErrorCode::ListEntryExists => "LIST_ENTRY_EXISTS",
            ErrorCode::DraftAlreadySent => "DRAFT_ALREADY_SENT",
            ErrorCode::DraftChanged => "DRAFT_CHANGED",
            ErrorCode::LinkExpired => "LINK_EXPIRED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::NotAcceptable => "NOT_ACCEPTABLE",
            ErrorCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::DailySendLimitReached => "DAILY_SEND_LIMIT_REACHED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::ServerBusy => "SERVER_BUSY",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// The HTTP status a response with this code has.
    pub const fn status(self) -> StatusCode {
        match self {
            ErrorCode::ValidationError => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInboxAddress => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInboxLocalPart => StatusCode::BAD_REQUEST,
            ErrorCode::InvalidInboxDomain => StatusCode::BAD_REQUEST,
            ErrorCode::DomainNotVerified => StatusCode::BAD_REQUEST,
            ErrorCode::ThreadInboxMismatch => StatusCode::BAD_REQUEST,
            ErrorCode::AttachmentsTooLarge => StatusCode::BAD_REQUEST,
            ErrorCode::RecipientBlocked => StatusCode::BAD_REQUEST,
            ErrorCode::AttachmentTooLarge => StatusCode::BAD_REQUEST,
            ErrorCode::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorCode::ClaimRequired => StatusCode::PAYMENT_REQUIRED,
            ErrorCode::InboxSuspended => StatusCode::FORBIDDEN,
            ErrorCode::InsufficientScope => StatusCode::FORBIDDEN,
            ErrorCode::ApprovalRequired => StatusCode::FORBIDDEN,
            ErrorCode::DomainLimitReached => StatusCode::FORBIDDEN,
            ErrorCode::InvalidSignature => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::InboxNotFound => StatusCode::NOT_FOUND,
            ErrorCode::DomainNotFound => StatusCode::NOT_FOUND,
            ErrorCode::WebhookNotFound => StatusCode::NOT_FOUND,
            ErrorCode::MessageNotFound => StatusCode::NOT_FOUND,
            ErrorCode::ThreadNotFound => StatusCode::NOT_FOUND,
            ErrorCode::AttachmentNotFound => StatusCode::NOT_FOUND,
            ErrorCode::DraftNotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::AddressTaken => StatusCode::CONFLICT,
            ErrorCode::DomainExists => StatusCode::CONFLICT,
            ErrorCode::DomainInUse => StatusCode::CONFLICT,
            ErrorCode::IdempotencyKeyInUse => StatusCode::CONFLICT,
            ErrorCode::ListEntryExists => StatusCode::CONFLICT,
            ErrorCode::DraftAlreadySent => StatusCode::CONFLICT,
            ErrorCode::DraftChanged => StatusCode::CONFLICT,
            ErrorCode::LinkExpired => StatusCode::GONE,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ErrorCode::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::RateLimitExceeded => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::DailySendLimitReached => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServerBusy => StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_code_is_sent_as_its_name_and_listed_once() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
            assert!(code.status().is_client_error() || code.status().is_server_error());
        }
    }
}
