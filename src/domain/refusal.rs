//! Business outcomes: requests the rules refuse. They are not failures of the server; each
//! has its own API error code.

use super::ValidationErrors;
use super::sandbox::ClaimRequired;

/// Which kind of resource was not found (each maps to its own API error code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// An account.
    Account,
    /// An API key.
    ApiKey,
    /// An inbox.
    Inbox,
    /// A custom domain.
    Domain,
    /// A webhook.
    Webhook,
    /// A message.
    Message,
    /// A thread.
    Thread,
    /// An attachment.
    Attachment,
    /// An entry of an allow or block list.
    ListEntry,
    /// A draft.
    Draft,
}

/// A request refused by a rule of the service (a limit, a state, a name taken), as opposed
/// to a failure of the server.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No such resource in this account.
    #[error("{0:?} not found")]
    NotFound(Resource),
    /// The address is used by another inbox, possibly a deleted one.
    #[error("address already taken")]
    AddressTaken,
    /// An inbox address names a domain other than the one the inbox is created on.
    #[error("address must be on {expected}")]
    InvalidInboxDomain {
        /// The domain the address must use.
        expected: String,
    },
    /// The API key is unknown, revoked or expired.
    #[error("invalid or missing API key")]
    Unauthorized,
    /// The account has this domain already, or another account has it verified.
    #[error("domain exists")]
    DomainExists {
        /// Another account holds it.
        elsewhere: bool,
    },
    /// The account has as many domains as it may.
    #[error("domain limit of {limit} reached")]
    DomainLimitReached {
        /// The limit.
        limit: u32,
    },
    /// Inboxes still use the domain.
    #[error("domain in use by {inboxes} inboxes")]
    DomainInUse {
        /// How many.
        inboxes: u64,
    },
    /// The custom domain is not verified for sending.
    #[error("domain not verified")]
    DomainNotVerified,
    /// The inbox is suspended and may not send.
    #[error("inbox suspended")]
    InboxSuspended,
    /// The thread belongs to another inbox.
    #[error("thread of another inbox")]
    ThreadInboxMismatch,
    /// A sandbox account reached one of its limits.
    #[error(transparent)]
    ClaimRequired(#[from] ClaimRequired),
    /// The inbox or the account has sent its daily quota.
    #[error("daily send limit reached")]
    DailySendLimitReached,
    /// The request's `Idempotency-Key` reservation was taken over (the request ran so long
    /// that it counted as abandoned); its change is rolled back.
    #[error("the idempotency key was taken over")]
    IdempotencyKeyLost,
    /// The attachments of a send are too large together.
    #[error("attachments too large")]
    AttachmentsTooLarge,
    /// The list has that entry already.
    #[error("the list has {entry} already")]
    ListEntryExists {
        /// The entry, as stored.
        entry: String,
    },
    /// A recipient of a send is on the block list of the inbox or its account.
    #[error("{field}: {address} is blocked")]
    RecipientBlocked {
        /// The request field it is in: `to`, `cc` or `bcc`.
        field: &'static str,
        /// The address.
        address: String,
    },
    /// The API key lacks the scope the operation needs.
    #[error("the API key lacks the {0} scope")]
    MissingScope(super::Scope),
    /// The draft needs a person's approval, and the key may not give it.
    #[error("the draft needs approval")]
    ApprovalRequired,
    /// The draft was sent already: it can no longer be changed, approved or sent.
    #[error("the draft was sent already")]
    DraftAlreadySent,
    /// The draft changed between reading it and sending it; nothing was sent.
    #[error("the draft changed while it was being sent")]
    DraftChanged,
    /// An approval named a revision of the draft that is no longer its current one.
    #[error("the draft is at revision {0}, not the one reviewed")]
    DraftNotAsReviewed(i64),
    /// A value breaks a rule that depends on stored state (e.g. a limit above the account's).
    #[error("invalid: {}", .0.summary())]
    Invalid(ValidationErrors),
}
