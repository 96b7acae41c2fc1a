//! Accounts, their API keys, and who a request is authenticated as.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::ids::{AccountId, ApiKeyId};
use super::scope::{Scope, Scopes};
use super::time::Timestamp;
use super::validation::has_line_breaks_or_nul;
use super::{EmailAddress, Refusal, random};

/// What an account may do. Operator-created accounts are `free`; auto-provisioned ones start as
/// `sandbox` until a person claims them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// Auto-provisioned and not yet claimed.
    Sandbox,
    /// A normal account.
    Free,
}

impl Plan {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Sandbox => "sandbox",
            Plan::Free => "free",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sandbox" => Some(Plan::Sandbox),
            "free" => Some(Plan::Free),
            _ => None,
        }
    }
}

/// An account record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Id.
    pub id: AccountId,
    /// Owner's name.
    pub name: String,
    /// Owner's email address.
    pub email: String,
    /// Plan.
    pub plan: Plan,
    /// Messages per UTC day across all of the account's inboxes.
    pub daily_send_limit: u32,
    /// Whether an operator has verified the owner.
    pub is_verified: bool,
    /// Creation time.
    pub created_at: Timestamp,
}

/// An account's name: 1–255 characters, no line breaks or NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountName(String);

/// Why a name (of an account or a key) is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 1 to 255 characters without line breaks")]
pub struct InvalidName;

fn parse_name(raw: &str) -> Result<String, InvalidName> {
    let s = raw.trim();
    if s.is_empty() || s.chars().count() > 255 || has_line_breaks_or_nul(s) {
        return Err(InvalidName);
    }
    Ok(s.to_owned())
}

impl AccountName {
    /// Trims and validates.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        parse_name(raw).map(Self)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An account owner's email: any valid mailbox.
pub type AccountEmail = EmailAddress;

/// The `deviceId` an agent provisions its sandbox account with: 8–128 characters from
/// `[A-Za-z0-9._:-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceId(String);

/// Why a device id is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 8 to 128 characters from A-Z, a-z, 0-9, '.', '_', ':' and '-'")]
pub struct InvalidDeviceId;

impl DeviceId {
    /// Validates (no trimming: the id is an opaque token).
    pub fn parse(raw: &str) -> Result<Self, InvalidDeviceId> {
        let ok = (8..=128).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidDeviceId)
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An API key's label: 1–255 characters, no line breaks or NUL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyName(String);

impl KeyName {
    /// Trims and validates.
    pub fn parse(raw: &str) -> Result<Self, InvalidName> {
        parse_name(raw).map(Self)
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An API key record (never the secret itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Id.
    pub id: ApiKeyId,
    /// Owner.
    pub account_id: AccountId,
    /// The first 12 characters of the key, for recognising it.
    pub prefix: String,
    /// Optional label.
    pub name: Option<String>,
    /// What it may do.
    pub scopes: Scopes,
    /// Last time a request authenticated with it (updated at most once a minute).
    pub last_used_at: Option<Timestamp>,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
}

/// The secret API key string: `ask_` and 40 characters of `[A-Za-z0-9_-]`. It is
/// shown once when created; only its SHA-256 is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// Length of the display prefix.
    pub const PREFIX_LEN: usize = 12;

    /// A new random key (240 bits of entropy).
    pub fn generate() -> Self {
        Self(format!("ask_{}", random::url_safe_token::<30>()))
    }

    /// Accepts a presented key only when it has the key format, so that junk never reaches
    /// the database.
    pub fn parse(raw: &str) -> Option<Self> {
        let rest = raw.strip_prefix("ask_")?;
        let ok = rest.len() == 40
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    /// The key, to show to its owner exactly once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// SHA-256 hex: what is stored and looked up.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The display prefix.
    pub fn prefix(&self) -> String {
        self.0.chars().take(Self::PREFIX_LEN).collect()
    }
}

/// Never prints the key itself.
impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({}…)", self.prefix())
    }
}

/// What a request presented to prove who it is: a key not yet looked up, or one already
/// verified earlier in the same request (so it is looked up once per request).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A well-formed key, still to be checked against the database.
    Presented(ApiKeySecret),
    /// A key already checked in this request.
    Verified(AuthContext),
}

/// Who a request is authenticated as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthContext {
    /// The account every resource of the request is scoped to.
    pub account_id: AccountId,
    /// The key used.
    pub key_id: ApiKeyId,
    /// What the key may do.
    pub scopes: Scopes,
}

/// A request's credential with the scopes its operation needs (none: any valid key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key, presented or verified.
    pub credential: Credential,
    /// The scopes the operation needs, every one of them.
    pub needs: &'static [Scope],
}

impl Caller {
    /// `credential` doing something that needs `scopes`.
    pub fn needing(credential: Credential, scopes: &'static [Scope]) -> Self {
        Self {
            credential,
            needs: scopes,
        }
    }

    /// Passes when the verified key has every scope this call needs.
    pub fn allowed(&self, who: &AuthContext) -> Result<(), Refusal> {
        self.needs
            .iter()
            .try_for_each(|scope| who.scopes.require(*scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_short_safe_tokens() {
        for ok in ["abcdefgh", "device-1:host.local_x", &"a".repeat(128)] {
            assert!(DeviceId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "short",
            &"a".repeat(129),
            "has space1",
            "newline\nxx",
            "ünïcödé1",
            "a/b/c/d/e",
        ] {
            assert!(DeviceId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn generated_keys_have_the_documented_format_and_parse_back() {
        let key = ApiKeySecret::generate();
        assert_eq!(key.expose().len(), 44);
        assert!(key.expose().starts_with("ask_"));
        assert_eq!(ApiKeySecret::parse(key.expose()), Some(key.clone()));
        assert_eq!(key.prefix().len(), 12);
        assert_eq!(key.hash().len(), 64);
        assert!(!format!("{key:?}").contains(key.expose()));
    }

    #[test]
    fn malformed_keys_are_not_keys() {
        for bad in [
            "",
            "ask_",
            "sk_live_x",
            &format!("ask_{}", "a".repeat(39)),
            &format!("ask_{}!", "a".repeat(39)),
        ] {
            assert!(ApiKeySecret::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(KeyName::parse("  ci  ").unwrap().as_str(), "ci");
        assert!(KeyName::parse("").is_err());
        assert!(KeyName::parse("   ").is_err());
        assert!(KeyName::parse("a\nb").is_err());
        assert!(KeyName::parse(&"é".repeat(255)).is_ok());
        assert!(AccountName::parse(&"x".repeat(256)).is_err());
    }
}
