//! The event log and everything that reads it live.
//!
//! Every feature that has something to tell an account calls [`emit`] inside its own write
//! transaction: the event goes into the log with the next sequence number, and a delivery row
//! is queued for each interested webhook, all committed with the change that caused them.
//! After the commit the [`EventHub`] reads the new events once and fans them out in memory to
//! every live [`Subscription`]: the SSE stream, WebSocket clients and requests waiting for a
//! message. A subscription that resumes from an event id reads what it missed from the log
//! first, then switches to the live events without a gap or a repeat.

mod hub;
mod subscription;
mod topics;
mod wait;

pub use hub::{EventHub, KeyWatch};
pub use subscription::{Delivery, Reset, Subscription};
pub use topics::Topics;
pub use wait::{MessageFilter, WaitFrom, Waited};

use std::sync::Arc;

use crate::domain::webhook::EventName;
use crate::domain::{AccountId, InboxId, Timestamp};
use crate::store::events::{self as event_log, Logged, NewEvent};
use crate::store::{Failure, Tx, webhooks as deliveries};
use crate::webhooks::Event;

/// Records `event` for the account in the event log and queues a delivery to every active
/// webhook that wants it. Returns how many deliveries were queued.
pub fn emit(
    tx: &Tx<'_>,
    account_id: AccountId,
    event: &Event,
    now: Timestamp,
) -> Result<usize, Failure> {
    let body = event.body(now)?;
    let (event_id, _) = event_log::append(
        tx,
        &NewEvent {
            account_id,
            inbox_id: event.inbox_id(),
            message_id: event.message_id(),
            event: event.name(),
            body: &body,
        },
        now,
    )?;
    deliveries::queue_deliveries(tx, account_id, event.name(), event_id, now)
}

/// A logged event as live consumers get it, with its wire forms made once for all of them.
#[derive(Debug)]
pub struct LiveEvent {
    /// Its sequence number: the event id on every stream.
    pub seq: u64,
    /// The account it belongs to.
    pub account_id: AccountId,
    /// The inbox it concerns, if any.
    pub inbox_id: Option<InboxId>,
    /// Its name.
    pub name: EventName,
    /// The webhook payload, `{"event", "data", "timestamp"}`.
    pub payload: Arc<str>,
    /// Its Server-Sent Events record: `id`, `event` and `data` lines and the blank line.
    pub sse: Arc<str>,
    /// Its WebSocket frame: `{"type":"event","event_id","event_type","data"}`.
    pub ws: Arc<str>,
}

impl From<Logged> for LiveEvent {
    fn from(e: Logged) -> Self {
        let name = e.event.as_str();
        // The payload is one line of JSON (serde_json writes no newlines), so it is one `data`
        // line, and it can be embedded in the frame as it is.
        let sse = format!("id: {}\nevent: {name}\ndata: {}\n\n", e.seq, e.body);
        let ws = format!(
            r#"{{"type":"event","event_id":"{}","event_type":"{name}","data":{}}}"#,
            e.seq, e.body
        );
        Self {
            seq: e.seq,
            account_id: e.account_id,
            inbox_id: e.inbox_id,
            name: e.event,
            payload: e.body.into(),
            sse: sse.into(),
            ws: ws.into(),
        }
    }
}
