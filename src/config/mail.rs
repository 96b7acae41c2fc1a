//! `[mail]`: the shared domain, its DKIM key and trusted feedback-loop senders.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{ConfigError, fail, validate_dkim_selector};
use crate::domain::DomainName;

/// `[mail]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Domain of inboxes created without a custom domain.
    #[serde(
        serialize_with = "serialize_display",
        deserialize_with = "deserialize_domain"
    )]
    pub shared_domain: DomainName,
    /// PEM private key (RSA or Ed25519) that signs mail from the shared domain with DKIM;
    /// empty: not signed.
    pub dkim_private_key: PathBuf,
    /// DKIM selector of that key (`<selector>._domainkey.<shared_domain>`).
    pub dkim_selector: String,
    /// Domains of feedback loops (mailbox providers that send ARF complaints about mail their
    /// users marked as spam) to trust: a complaint signed by one of them (DKIM `pass`, which
    /// needs `dns.check_inbound`) counts when it names a message by its Message-ID alone.
    pub feedback_loop_senders: Vec<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            // RFC 6761 reserves .localhost: addresses on it can never leak onto the internet.
            shared_domain: DomainName::parse("agentsend.localhost")
                .unwrap_or_else(|e| unreachable!("default shared domain is valid: {e}")),
            dkim_private_key: PathBuf::new(),
            dkim_selector: "agentsend".to_owned(),
            feedback_loop_senders: Vec::new(),
        }
    }
}

impl MailConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(bad) = self
            .feedback_loop_senders
            .iter()
            .find(|d| DomainName::parse(d).is_err())
        {
            return fail(
                "mail.feedback_loop_senders",
                &format!("{bad:?} is not a domain name"),
            );
        }
        validate_dkim_selector("mail.dkim_selector", &self.dkim_selector)
    }
}

fn serialize_display<S: Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn deserialize_domain<'de, D: Deserializer<'de>>(d: D) -> Result<DomainName, D::Error> {
    let s = String::deserialize(d)?;
    DomainName::parse(&s).map_err(|e| serde::de::Error::custom(format!("`{s}` {e}")))
}
