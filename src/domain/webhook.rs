//! Webhooks: subscriptions, event names, secrets and the delivery log.

use std::fmt;

use url::Url;

use super::address::DomainName;
use super::ids::{AccountId, DeliveryId, EventId, WebhookId};
use super::random;
use super::time::Timestamp;

/// The events a webhook can subscribe to, plus `webhook.test` (sent on request only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventName {
    /// Mail arrived in an inbox.
    MessageReceived,
    /// An outbound message was handed off.
    MessageSent,
    /// An outbound message reached its recipients' server (or a local inbox).
    MessageDelivered,
    /// An outbound message was rejected permanently.
    MessageBounced,
    /// A recipient marked an outbound message as spam.
    MessageComplained,
    /// A message's labels changed.
    MessageUpdated,
    /// A custom domain became verified for sending.
    DomainVerified,
    /// `POST /webhooks/{id}/test`.
    WebhookTest,
}

impl EventName {
    /// Every event a webhook can subscribe to.
    pub const SUBSCRIBABLE: [EventName; 7] = [
        EventName::MessageReceived,
        EventName::MessageSent,
        EventName::MessageDelivered,
        EventName::MessageBounced,
        EventName::MessageComplained,
        EventName::MessageUpdated,
        EventName::DomainVerified,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::MessageReceived => "message.received",
            EventName::MessageSent => "message.sent",
            EventName::MessageDelivered => "message.delivered",
            EventName::MessageBounced => "message.bounced",
            EventName::MessageComplained => "message.complained",
            EventName::MessageUpdated => "message.updated",
            EventName::DomainVerified => "domain.verified",
            EventName::WebhookTest => "webhook.test",
        }
    }

    /// Parses any event name, `webhook.test` included (for stored rows).
    pub fn parse(s: &str) -> Option<Self> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([EventName::WebhookTest])
            .find(|e| e.as_str() == s)
    }

    /// Parses a name a webhook may subscribe to.
    pub fn parse_subscribable(s: &str) -> Option<Self> {
        Self::SUBSCRIBABLE.into_iter().find(|e| e.as_str() == s)
    }
}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A webhook's subscription: the events it wants, `[]` meaning all of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter(Vec<EventName>);

/// Why a list of event names is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown event `{0}`; use message.received, message.sent, message.delivered, message.bounced, message.complained, message.updated or domain.verified"
)]
pub struct UnknownEvent(pub String);

impl EventFilter {
    /// Validates names; duplicates are dropped, order is kept.
    pub fn parse(names: &[String]) -> Result<Self, UnknownEvent> {
        let mut events = Vec::new();
        for name in names {
            let event =
                EventName::parse_subscribable(name).ok_or_else(|| UnknownEvent(name.clone()))?;
            if !events.contains(&event) {
                events.push(event);
            }
        }
        Ok(Self(events))
    }

    /// From stored names (unknown ones are skipped: a newer server may have written them).
    pub fn from_stored(names: &[String]) -> Self {
        Self(names.iter().filter_map(|n| EventName::parse(n)).collect())
    }

    /// The names, as stored and sent.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.as_str()).collect()
    }
}

/// A webhook target: an `http` or `https` URL with a host, at most 2048 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

/// Why a URL cannot be a webhook target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidWebhookUrl(&'static str);

impl WebhookUrl {
    /// Longest accepted URL.
    pub const MAX_LEN: usize = 2048;

    /// Validates a URL.
    pub fn parse(raw: &str) -> Result<Self, InvalidWebhookUrl> {
        if raw.chars().count() > Self::MAX_LEN {
            return Err(InvalidWebhookUrl("must be at most 2048 characters"));
        }
        let url = Url::parse(raw.trim())
            .map_err(|_| InvalidWebhookUrl("must be an absolute http or https URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(InvalidWebhookUrl("must use http or https"));
        }
        match url.host() {
            None => return Err(InvalidWebhookUrl("must name a host")),
            // The URL parser keeps characters such as `*` or `_` in a host name; no such name
            // resolves, so deliveries could never be made.
            Some(url::Host::Domain(name)) if DomainName::parse(name).is_err() => {
                return Err(InvalidWebhookUrl(
                    "must name a host: letters, digits and hyphens in dot-separated labels",
                ));
            }
            Some(_) => {}
        }
        Ok(Self(url))
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// The URL as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// A webhook's signing secret: `whsec_` and 48 lowercase hex characters. Shown to
/// its owner when created or rotated, never listed.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A new random secret (192 bits).
    pub fn generate() -> Self {
        Self(format!("whsec_{}", hex::encode(random::bytes::<24>())))
    }

    /// A secret given by someone (a seed file): the format of generated ones.
    pub fn parse(raw: &str) -> Option<Self> {
        let hex = raw.strip_prefix("whsec_")?;
        let ok = hex.len() == 48
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(raw.to_owned()))
    }

    /// A stored secret.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// The secret, for its owner's eyes and for signing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Never prints the secret.
impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// A free-text description: at most 500 characters, no NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDescription(String);

/// Why a description is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most 500 characters")]
pub struct InvalidDescription;

impl WebhookDescription {
    /// Validates; an empty or blank description means none.
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidDescription> {
        if raw.chars().count() > 500 || raw.contains('\0') {
            return Err(InvalidDescription);
        }
        let trimmed = raw.trim();
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A webhook record (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Id.
    pub id: WebhookId,
    /// Owner.
    pub account_id: AccountId,
    /// Target.
    pub url: String,
    /// Description.
    pub description: Option<String>,
    /// Subscribed events (`[]` = all).
    pub events: EventFilter,
    /// Whether deliveries are made.
    pub is_active: bool,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// An attempt is under way.
    Delivering,
    /// The receiver answered 2xx.
    Succeeded,
    /// Out of attempts, refused, or the webhook is gone or inactive.
    Failed,
}

impl DeliveryStatus {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivering => "delivering",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivering,
            DeliveryStatus::Succeeded,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// One attempt of a delivery, as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1-based attempt number.
    pub attempt: u32,
    /// HTTP status, if the receiver answered.
    pub status_code: Option<u16>,
    /// How long the attempt took.
    pub duration_ms: u64,
    /// The first 1 KB of the response body.
    pub response: Option<String>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// When it finished.
    pub created_at: Timestamp,
}

/// A delivery with its attempts, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Id (the `webhook-id` header).
    pub id: DeliveryId,
    /// The webhook.
    pub webhook_id: WebhookId,
    /// The event.
    pub event_id: EventId,
    /// The event's name.
    pub event: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts started.
    pub attempts: u32,
    /// Status of the last answer.
    pub last_status_code: Option<u16>,
    /// Error of the last attempt.
    pub last_error: Option<String>,
    /// First 1 KB of the last response body.
    pub last_response: Option<String>,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<Timestamp>,
    /// Queued at.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Every attempt, oldest first.
    pub attempt_log: Vec<Attempt>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_or_https_with_a_host_and_not_too_long() {
        assert!(WebhookUrl::parse("https://example.com/hooks?x=1").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/h").is_ok());
        assert!(WebhookUrl::parse("https://xn--bcher-kva.example/a*b").is_ok());
        for bad in [
            "",
            "example.com/hook",
            "ftp://example.com/",
            "file:///etc/passwd",
            "https://",
            "javascript:alert(1)",
            "https://a*b.example/",
            "https://under_score.example/",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(WebhookUrl::parse(&long).is_err());
    }

    #[test]
    fn filters_accept_only_subscribable_events_and_drop_duplicates() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let f = EventFilter::parse(&names(&[
            "message.sent",
            "message.received",
            "message.sent",
        ]))
        .unwrap();
        assert_eq!(f.names(), ["message.sent", "message.received"]);
        assert!(EventFilter::parse(&names(&["message.opened"])).is_err());
        assert!(EventFilter::parse(&names(&["webhook.test"])).is_err());
        assert_eq!(EventFilter::parse(&[]).unwrap().names(), Vec::<&str>::new());
    }

    #[test]
    fn secrets_are_whsec_and_48_lowercase_hex() {
        let s = WebhookSecret::generate();
        let hex = s.expose().strip_prefix("whsec_").unwrap();
        assert_eq!(hex.len(), 48);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert!(!format!("{s:?}").contains(hex));
    }
}
