//! Pure types: validated inputs, resource records and the clock. Nothing here knows about
//! actix-web or SQLite, so every rule in this module can be unit-tested on its own.

pub mod account;
pub mod address;
pub mod auth_results;
pub mod boot;
pub mod custom_domain;
pub mod draft;
pub mod extract;
pub mod html;
pub mod idempotency;
pub mod ids;
pub mod inbox;
pub mod label;
pub mod links;
pub mod message;
pub mod outbound;
pub mod paging;
pub mod random;
pub mod reading;
pub mod refusal;
pub mod reply;
pub mod sandbox;
pub mod scope;
pub mod search;
pub mod sender_list;
pub mod time;
pub mod validation;
pub mod webhook;

pub use account::{Account, ApiKey, ApiKeySecret, AuthContext, Caller, Credential, KeyName, Plan};
pub use address::{DomainName, EmailAddress, LocalPart};
pub use boot::BootId;
pub use idempotency::IdempotencyKey;
pub use ids::{
    AccountId, ApiKeyId, AttachmentId, DeliveryId, DomainId, DraftId, EventId, InboxId, JobId,
    ListEntryId, MessageId, ThreadId, WebhookId,
};
pub use inbox::{DailySendLimit, DisplayName, Inbox, InboxStatus};
pub use label::{Label, LabelChange, LabelsChanged};
pub use paging::{Cursor, Page, Paging};
pub use refusal::{Refusal, Resource};
pub use scope::{Scope, Scopes};
pub use time::{Clock, ManualClock, SystemClock, Timestamp};
pub use validation::ValidationErrors;
