//! Event payloads: the body is `{"event": name, "data": {...}, "timestamp": ms}`.

use serde::Serialize;

use crate::domain::auth_results::AuthResults;
use crate::domain::webhook::EventName;
use crate::domain::{DomainId, InboxId, MessageId, ThreadId, Timestamp, WebhookId};
use crate::store::Failure;

/// `message.received`
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageReceived {
    /// The stored message.
    pub message_id: MessageId,
    /// The inbox it arrived in.
    pub inbox_id: InboxId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// Sender (`Name <addr>` or bare address).
    pub from: String,
    /// Recipients from the `To` header.
    pub to: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Always `inbound`.
    pub direction: &'static str,
    /// When it was stored.
    pub received_at: Timestamp,
    /// SPF/DKIM/DMARC results (mail received over SMTP), else `null`.
    pub auth_results: Option<AuthResults>,
    /// The new content of the text body (quoted history and signatures taken out).
    pub extracted_text: Option<String>,
    /// The new content of the HTML body.
    pub extracted_html: Option<String>,
}

/// `message.sent`
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSent {
    /// The message.
    pub message_id: MessageId,
    /// The sending inbox.
    pub inbox_id: InboxId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// `To` recipients.
    pub to: Vec<String>,
    /// `Cc` recipients.
    pub cc: Vec<String>,
    /// `Bcc` recipients.
    pub bcc: Vec<String>,
    /// Subject.
    pub subject: String,
    /// When it was handed off.
    pub sent_at: Timestamp,
}

/// `message.delivered`
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageDelivered {
    /// The message.
    pub message_id: MessageId,
    /// The sending inbox.
    pub inbox_id: InboxId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// Recipients whose server accepted it.
    pub recipients: Vec<String>,
}

/// `message.bounced`
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageBounced {
    /// The message.
    pub message_id: MessageId,
    /// The sending inbox.
    pub inbox_id: InboxId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// `Permanent` or `Transient`.
    pub bounce_type: String,
    /// Recipients that bounced.
    pub bounced_recipients: Vec<String>,
}

/// `message.complained`
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageComplained {
    /// The message.
    pub message_id: MessageId,
    /// The sending inbox.
    pub inbox_id: InboxId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// The ARF `Feedback-Type` (e.g. `abuse`).
    pub complaint_feedback_type: String,
}

/// `message.updated`: a message's labels changed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageUpdated {
    /// The message.
    pub message_id: MessageId,
    /// Its inbox.
    pub inbox_id: InboxId,
    /// Its thread.
    pub thread_id: ThreadId,
    /// All its labels now, sorted.
    pub labels: Vec<String>,
    /// Labels it gained.
    pub added_labels: Vec<String>,
    /// Labels it lost.
    pub removed_labels: Vec<String>,
}

/// `domain.verified`
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainVerified {
    /// The domain's id.
    pub domain_id: DomainId,
    /// The domain name.
    pub domain: String,
}

/// An event with its data.
#[derive(Debug, Clone)]
pub enum Event {
    /// `message.received`
    MessageReceived(MessageReceived),
    /// `message.sent`
    MessageSent(MessageSent),
    /// `message.delivered`
    MessageDelivered(MessageDelivered),
    /// `message.bounced`
    MessageBounced(MessageBounced),
    /// `message.complained`
    MessageComplained(MessageComplained),
    /// `message.updated`
    MessageUpdated(MessageUpdated),
    /// `domain.verified`
    DomainVerified(DomainVerified),
}

/// The body, field order as documented.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    event: &'static str,
    data: &'a T,
    timestamp: i64,
}

fn envelope<T: Serialize>(event: EventName, data: &T, now: Timestamp) -> Result<String, Failure> {
    serde_json::to_string(&Envelope {
        event: event.as_str(),
        data,
        timestamp: now.as_millis(),
    })
    .map_err(|e| Failure::Internal(format!("serialising an event: {e}")))
}

impl Event {
    /// The event's name.
    pub fn name(&self) -> EventName {
        match self {
            Event::MessageReceived(_) => EventName::MessageReceived,
            Event::MessageSent(_) => EventName::MessageSent,
            Event::MessageDelivered(_) => EventName::MessageDelivered,
            Event::MessageBounced(_) => EventName::MessageBounced,
            Event::MessageComplained(_) => EventName::MessageComplained,
            Event::MessageUpdated(_) => EventName::MessageUpdated,
            Event::DomainVerified(_) => EventName::DomainVerified,
        }
    }

    /// The inbox it concerns (`domain.verified` concerns none).
    pub fn inbox_id(&self) -> Option<InboxId> {
        match self {
            Event::MessageReceived(d) => Some(d.inbox_id),
            Event::MessageSent(d) => Some(d.inbox_id),
            Event::MessageDelivered(d) => Some(d.inbox_id),
            Event::MessageBounced(d) => Some(d.inbox_id),
            Event::MessageComplained(d) => Some(d.inbox_id),
            Event::MessageUpdated(d) => Some(d.inbox_id),
            Event::DomainVerified(_) => None,
        }
    }

    /// The message it concerns (`domain.verified` concerns none).
    pub fn message_id(&self) -> Option<MessageId> {
        match self {
            Event::MessageReceived(d) => Some(d.message_id),
            Event::MessageSent(d) => Some(d.message_id),
            Event::MessageDelivered(d) => Some(d.message_id),
            Event::MessageBounced(d) => Some(d.message_id),
            Event::MessageComplained(d) => Some(d.message_id),
            Event::MessageUpdated(d) => Some(d.message_id),
            Event::DomainVerified(_) => None,
        }
    }

    /// The exact body POSTed to webhooks.
    pub fn body(&self, now: Timestamp) -> Result<String, Failure> {
        let name = self.name();
        match self {
            Event::MessageReceived(d) => envelope(name, d, now),
            Event::MessageSent(d) => envelope(name, d, now),
            Event::MessageDelivered(d) => envelope(name, d, now),
            Event::MessageBounced(d) => envelope(name, d, now),
            Event::MessageComplained(d) => envelope(name, d, now),
            Event::MessageUpdated(d) => envelope(name, d, now),
            Event::DomainVerified(d) => envelope(name, d, now),
        }
    }
}

/// Data of a `webhook.test` event.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TestData {
    webhook_id: WebhookId,
    message: &'static str,
}

/// The body of a `webhook.test` delivery.
pub fn test_body(webhook_id: WebhookId, now: Timestamp) -> Result<String, Failure> {
    envelope(
        EventName::WebhookTest,
        &TestData {
            webhook_id,
            message: "This is a test event from AgentSend.",
        },
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_event_data_and_timestamp_in_that_order() {
        let event = Event::DomainVerified(DomainVerified {
            domain_id: "0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e".parse().unwrap(),
            domain: "example.com".to_owned(),
        });
        let body = event
            .body(Timestamp::from_millis(1_700_000_000_123))
            .unwrap();
        assert_eq!(
            body,
            r#"{"event":"domain.verified","data":{"domainId":"0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e","domain":"example.com"},"timestamp":1700000000123}"#
        );
    }
}
