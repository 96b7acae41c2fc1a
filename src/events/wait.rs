//! Waiting for the next message into an inbox: "send, then wait for the reply".

use std::time::Duration;

use serde::Deserialize;

use super::{Delivery, EventHub, LiveEvent, Topics};
use crate::domain::message::Message;
use crate::domain::webhook::EventName;
use crate::domain::{AccountId, InboxId, MessageId, Refusal, ThreadId};
use crate::store::{Failure, events as event_log, messages};

/// Where to start looking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFrom {
    /// Messages stored from now on.
    Now,
    /// Messages stored after this event.
    Event(u64),
    /// Messages stored after this message (one of the account's, sent or received).
    Message(MessageId),
}

/// How a wait ended.
#[derive(Debug)]
pub enum Waited {
    /// A matching message was stored.
    Message(Box<Message>),
    /// The time ran out first.
    TimedOut,
    /// The server is shutting down.
    ShuttingDown,
}

/// Which messages count; every given condition must hold.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    /// Part of the sender (`Name <address>`), any case.
    pub from: Option<String>,
    /// Part of the subject, any case.
    pub subject: Option<String>,
    /// The thread.
    pub thread_id: Option<ThreadId>,
}

/// The fields of a `message.received` payload the filter looks at.
#[derive(Deserialize)]
struct Payload {
    data: Received,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Received {
    message_id: MessageId,
    thread_id: ThreadId,
    from: String,
    subject: String,
}

fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

impl MessageFilter {
    /// The message the event announces, if it matches.
    fn matching(&self, e: &LiveEvent) -> Option<MessageId> {
        let Payload { data } = serde_json::from_str(&e.payload).ok()?;
        let from = self
            .from
            .as_deref()
            .is_none_or(|f| contains_ignoring_case(&data.from, f));
        let subject = self
            .subject
            .as_deref()
            .is_none_or(|s| contains_ignoring_case(&data.subject, s));
        let thread = self.thread_id.is_none_or(|t| t == data.thread_id);
        (from && subject && thread).then_some(data.message_id)
    }
}

impl EventHub {
    /// The first message received into the inbox after `from` that matches `filter`, as soon
    /// as it is stored, or how the wait ended without one. The inbox must be the
    /// account's (checked by the caller).
    pub async fn wait_for_message(
        &self,
        account_id: AccountId,
        inbox_id: InboxId,
        from: WaitFrom,
        filter: &MessageFilter,
        timeout: Duration,
    ) -> Result<Waited, Failure> {
        let after = match from {
            WaitFrom::Now => None,
            WaitFrom::Event(seq) => Some(seq),
            WaitFrom::Message(id) => Some(self.after_message(account_id, id).await?),
        };
        let topics = Topics::of(Some(&[EventName::MessageReceived]), Some(&[inbox_id]));
        let deadline = tokio::time::Instant::now() + timeout;
        let mut sub = self.subscribe(account_id, topics.clone(), after).await?;
        loop {
            let delivery = tokio::select! {
                d = sub.next() => d?,
                () = tokio::time::sleep_until(deadline) => return Ok(Waited::TimedOut),
                () = self.closed() => return Ok(Waited::ShuttingDown),
            };
            match delivery {
                Delivery::Events(events) => {
                    for e in events {
                        let Some(id) = filter.matching(&e) else {
                            continue;
                        };
                        match self
                            .store()
                            .read(move |c| messages::get_message(c, account_id, id))
                            .await
                        {
                            Ok(message) => return Ok(Waited::Message(Box::new(message))),
                            // Deleted since: the next one, then.
                            Err(Failure::Refused(Refusal::NotFound(_))) => {}
                            Err(e) => return Err(e),
                        }
                    }
                }
                // Not a client that reads slowly, but a burst: read on from the log.
                Delivery::Overflow { last } => {
                    sub = self
                        .subscribe(account_id, topics.clone(), Some(last))
                        .await?;
                }
                Delivery::Closed => return Ok(Waited::ShuttingDown),
            }
        }
    }

    /// The event id after which messages count as stored after message `id`: its first
    /// logged event; the log's head when it has none yet (a send still queued) or none any
    /// more (past retention), so that only what comes next counts.
    async fn after_message(&self, account_id: AccountId, id: MessageId) -> Result<u64, Failure> {
        self.store()
            .read(move |c| {
                // Not the account's message: 404, as for any other use of its id.
                messages::get_message(c, account_id, id)?;
                match event_log::first_of_message(c, account_id, id)? {
                    Some(seq) => Ok(seq),
                    None => Ok(event_log::positions(c)?.head),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::events::Logged;

    fn received(from: &str, subject: &str, thread: ThreadId) -> LiveEvent {
        let body = serde_json::json!({
            "event": "message.received",
            "data": {
                "messageId": MessageId::new(), "inboxId": InboxId::new(), "threadId": thread,
                "from": from, "to": [], "subject": subject, "direction": "inbound",
            },
            "timestamp": 0,
        });
        LiveEvent::from(Logged {
            seq: 1,
            account_id: AccountId::new(),
            inbox_id: None,
            event: EventName::MessageReceived,
            body: body.to_string(),
        })
    }

    #[test]
    fn filters_match_parts_of_sender_and_subject_in_any_case_and_the_exact_thread() {
        let thread = ThreadId::new();
        let e = Arc::new(received("Ada <ada@example.com>", "Re: Your Order", thread));
        let filter = |from: Option<&str>, subject: Option<&str>, thread_id| MessageFilter {
            from: from.map(str::to_owned),
            subject: subject.map(str::to_owned),
            thread_id,
        };
        assert!(filter(None, None, None).matching(&e).is_some());
        assert!(
            filter(Some("ADA@example.com"), Some("your order"), Some(thread))
                .matching(&e)
                .is_some()
        );
        assert!(filter(Some("bob@"), None, None).matching(&e).is_none());
        assert!(filter(None, Some("invoice"), None).matching(&e).is_none());
        assert!(
            filter(None, None, Some(ThreadId::new()))
                .matching(&e)
                .is_none()
        );
    }
}
