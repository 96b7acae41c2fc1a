//! Webhooks: event payloads, the one emission API, signing, the network policy for targets and
//! the delivery worker.
//!
//! Every feature that has something to tell an account calls [`emit`] inside its own write
//! transaction; the event and one delivery row per interested webhook are committed with the
//! change that caused them, and the worker is woken as the transaction commits.

pub mod events;
pub mod policy;
pub mod signing;
pub mod worker;

use crate::domain::webhook::{Delivery, EventName};
use crate::domain::{AccountId, Timestamp, WebhookId};
use crate::store::{Failure, Tx, webhooks as store};

pub use events::Event;

/// Records `event` for the account and queues a delivery to every active webhook that wants it.
/// Returns how many deliveries were queued.
pub fn emit(
    tx: &Tx<'_>,
    account_id: AccountId,
    event: &Event,
    now: Timestamp,
) -> Result<usize, Failure> {
    let body = event.body(now)?;
    store::queue_event(tx, account_id, event.name(), &body, now)
}

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
