//! Webhooks: event payloads, signing, the network policy for targets and the delivery worker.
//!
//! Events are recorded by [`crate::events::emit`], which queues one delivery row per
//! interested webhook in the same transaction; the worker is woken as the transaction commits.

pub mod events;
pub mod policy;
pub mod signing;
pub mod worker;

use crate::domain::webhook::{Delivery, EventName};
use crate::domain::{AccountId, Timestamp, WebhookId};
use crate::store::{Failure, Tx, webhooks as store};

pub use events::Event;

/// Queues a signed `webhook.test` delivery to one webhook.
pub fn queue_test(
    tx: &Tx<'_>,
    account_id: AccountId,
    webhook_id: WebhookId,
    now: Timestamp,
) -> Result<Delivery, Failure> {
    let body = events::test_body(webhook_id, now)?;
    store::queue_test(tx, account_id, webhook_id, &body, now)
}

/// The event names, for documentation and validation messages.
pub fn subscribable_events() -> impl Iterator<Item = &'static str> {
    EventName::SUBSCRIBABLE.into_iter().map(EventName::as_str)
}
