//! Typed resource ids, so that an `InboxId` can never be passed where a `MessageId` is meant.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a string is not an id: the wire format is a hyphenated UUID (36 characters).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a UUID such as 0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e")]
pub struct InvalidId;

/// Parses the hyphenated form only; `Uuid::try_parse` also takes braces, `urn:` and bare hex,
/// which the hosted API would reject as not-a-UUID.
fn parse_uuid(s: &str) -> Result<Uuid, InvalidId> {
    if s.len() != 36 {
        return Err(InvalidId);
    }
    Uuid::try_parse(s).map_err(|_| InvalidId)
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh random (v4) id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }

            /// The underlying UUID.
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, InvalidId> {
                parse_uuid(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Lower-case hyphenated, the wire format.
                self.0.hyphenated().fmt(f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

typed_id!(
    /// An account: the owner of every other resource.
    AccountId
);
typed_id!(
    /// An API key (its record, not the secret).
    ApiKeyId
);
typed_id!(
    /// An inbox.
    InboxId
);
typed_id!(
    /// A custom domain.
    DomainId
);
typed_id!(
    /// A message (inbound or outbound).
    MessageId
);
typed_id!(
    /// A conversation thread within an inbox.
    ThreadId
);
typed_id!(
    /// A stored attachment (uploaded, or a part of inbound mail).
    AttachmentId
);
typed_id!(
    /// A durable background job (an outgoing message to send, ...).
    JobId
);
typed_id!(
    /// A webhook subscription.
    WebhookId
);
typed_id!(
    /// An emitted event (one per occurrence, whatever the number of webhooks).
    EventId
);
typed_id!(
    /// One event's delivery to one webhook; also the Standard Webhooks `webhook-id`.
    DeliveryId
);
typed_id!(
    /// An entry of an allow or block list of senders.
    ListEntryId
);
typed_id!(
    /// A draft of a message, possibly scheduled.
    DraftId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_only_the_hyphenated_form_and_print_lower_case() {
        let id: InboxId = "0B6B4C1E-6A55-4F5E-9D43-8C1A2B3C4D5E".parse().unwrap();
        assert_eq!(id.to_string(), "0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e");
        assert!(
            "0b6b4c1e6a554f5e9d438c1a2b3c4d5e"
                .parse::<InboxId>()
                .is_err()
        );
        assert!(
            "{0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e}"
                .parse::<InboxId>()
                .is_err()
        );
        assert!("not-a-uuid".parse::<InboxId>().is_err());
        assert!("".parse::<InboxId>().is_err());
    }
}
