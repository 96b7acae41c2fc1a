//! Inboxes.

use super::address::{DomainName, LocalPart};
use super::ids::{AccountId, DomainId, InboxId};
use super::random;
use super::time::Timestamp;
use super::validation::has_line_breaks_or_nul;

/// Lifecycle of an inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxStatus {
    /// Sends and receives.
    Active,
    /// Receives but may not send (bounce or complaint rate too high).
    Suspended,
    /// Soft-deleted: hidden, refuses mail, address still reserved.
    Deleted,
}

impl InboxStatus {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            InboxStatus::Active => "active",
            InboxStatus::Suspended => "suspended",
            InboxStatus::Deleted => "deleted",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "active" => Some(InboxStatus::Active),
            "suspended" => Some(InboxStatus::Suspended),
            "deleted" => Some(InboxStatus::Deleted),
            _ => None,
        }
    }
}

/// An inbox record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbox {
    /// Id.
    pub id: InboxId,
    /// Owner.
    pub account_id: AccountId,
    /// Full lower-case address.
    pub address: String,
    /// Display name used in `From`.
    pub display_name: Option<String>,
    /// Custom domain, or `None` for the shared domain.
    pub domain_id: Option<DomainId>,
    /// Status.
    pub status: InboxStatus,
    /// Messages per UTC day.
    pub daily_send_limit: u32,
    /// Messages sent since 00:00 UTC today.
    pub sends_today: u32,
    /// Messages sent ever.
    pub total_sent: u64,
    /// Permanent delivery failures.
    pub bounce_count: u64,
    /// Spam complaints.
    pub complaint_count: u64,
    /// Its mail goes out from a verified domain: the server's shared domain, or a custom
    /// domain verified for sending.
    pub is_verified: bool,
    /// Received messages labelled `unread`.
    pub unread_count: u64,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
}

/// A display name: at most 255 characters, no CR, LF or NUL (it becomes part of `From`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

/// Why a display name is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be at most 255 characters without line breaks")]
pub struct InvalidDisplayName;

impl DisplayName {
    /// Validates a display name. An empty or all-blank name means "no display name".
    pub fn parse(raw: &str) -> Result<Option<Self>, InvalidDisplayName> {
        if raw.chars().count() > 255 || has_line_breaks_or_nul(raw) {
            return Err(InvalidDisplayName);
        }
        let trimmed = raw.trim();
        Ok((!trimmed.is_empty()).then(|| Self(trimmed.to_owned())))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A daily send limit: messages per UTC day, 0 (sending disabled) up to the account's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DailySendLimit(u32);

/// Why a daily send limit is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be an integer from 0 to {max} (the account's daily send limit)")]
pub struct InvalidDailySendLimit {
    /// The account's own limit.
    pub max: u32,
}

impl DailySendLimit {
    /// Checks `value` against the account's limit: an account cannot lift its own quota.
    pub fn parse(value: i64, account_limit: u32) -> Result<Self, InvalidDailySendLimit> {
        match u32::try_from(value) {
            Ok(v) if v <= account_limit => Ok(Self(v)),
            _ => Err(InvalidDailySendLimit { max: account_limit }),
        }
    }

    /// The limit.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// How the address of a new inbox is chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddressRequest {
    /// `agent-<8 random>` or `<prefix>-<8 random>`.
    Generated {
        /// Lower-cased prefix, already checked to fit a local part.
        prefix: Option<String>,
    },
    /// Exactly this local part.
    Exact(LocalPart),
}

impl AddressRequest {
    /// Validates a prefix: with the `-` and 8 random characters appended it must still be a
    /// valid local part.
    pub fn generated_with_prefix(prefix: &str) -> Result<Self, super::address::AddressError> {
        let sample = format!("{prefix}-{}", "a".repeat(8));
        let local = LocalPart::parse(&sample)?;
        let prefix = local.as_str()[..prefix.len()].to_owned();
        Ok(AddressRequest::Generated {
            prefix: Some(prefix),
        })
    }

    /// The local part to try: fresh randomness on every call, so a caller can retry on a
    /// collision.
    pub fn local_part(&self) -> LocalPart {
        match self {
            AddressRequest::Exact(local) => local.clone(),
            AddressRequest::Generated { prefix } => {
                let prefix = prefix.as_deref().unwrap_or("agent");
                // The prefix was validated against a sample of this exact shape.
                let s = format!("{prefix}-{}", random::lower_alnum(8));
                LocalPart::parse(&s).unwrap_or_else(|_| {
                    LocalPart::parse(&format!("agent-{}", random::lower_alnum(8)))
                        .unwrap_or_else(|e| unreachable!("generated local part is valid: {e}"))
                })
            }
        }
    }
}

/// Where a new inbox's address lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxDomain {
    /// The server's shared domain.
    Shared(DomainName),
    /// An account's custom domain, which must be verified for sending.
    Custom(DomainId),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_refuse_line_breaks_and_blank_means_none() {
        assert_eq!(
            DisplayName::parse("  Ada  ").unwrap().unwrap().as_str(),
            "Ada"
        );
        assert_eq!(DisplayName::parse("   ").unwrap(), None);
        assert!(DisplayName::parse("Ada\r\nBcc: x@y").is_err());
        assert!(DisplayName::parse("nul\0").is_err());
        assert!(DisplayName::parse(&"ß".repeat(256)).is_err());
    }

    #[test]
    fn daily_send_limit_cannot_exceed_the_account_limit() {
        assert_eq!(DailySendLimit::parse(0, 100).unwrap().get(), 0);
        assert_eq!(DailySendLimit::parse(100, 100).unwrap().get(), 100);
        assert!(DailySendLimit::parse(101, 100).is_err());
        assert!(DailySendLimit::parse(-1, 100).is_err());
    }

    #[test]
    fn generated_addresses_use_the_prefix_and_eight_random_characters() {
        let req = AddressRequest::generated_with_prefix("Support").unwrap();
        let local = req.local_part();
        assert!(local.as_str().starts_with("support-"), "{local}");
        assert_eq!(local.as_str().len(), "support-".len() + 8);
        assert_ne!(req.local_part(), req.local_part());
        let plain = AddressRequest::Generated { prefix: None }.local_part();
        assert!(plain.as_str().starts_with("agent-"));
        assert!(AddressRequest::generated_with_prefix("-bad").is_err());
        assert!(AddressRequest::generated_with_prefix(&"p".repeat(56)).is_err());
        assert!(AddressRequest::generated_with_prefix(&"p".repeat(55)).is_ok());
    }
}
