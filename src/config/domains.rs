//! `[domains]`: the records custom domains publish and how they are verified.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail, validate_dkim_selector};
use crate::domain::custom_domain::DkimAlgorithm;

/// `[domains]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainsConfig {
    /// The host custom domains point their MX record at; empty means `smtp.hostname`.
    pub mail_host: String,
    /// Where their mail leaves from, for the SPF record: `ip4:`/`ip6:`/`a:`/`mx:`/`include:`
    /// mechanisms, bare IP addresses or host names; empty means `a:<outbound.ehlo_hostname>`
    /// (right for `direct` mode; with a relay, list what its provider says to include).
    pub spf_senders: Vec<String>,
    /// The start of the DKIM selectors of custom domains: each gets
    /// `<dkim_selector>-<6 random characters>`.
    pub dkim_selector: String,
    /// `rsa` (2048 bits, the widely supported choice) or `ed25519`.
    pub dkim_algorithm: DkimAlgorithm,
    /// Hours a domain has to publish its records before its pending status turns `failed`.
    pub verification_hours: u64,
    /// Seconds between automatic re-checks of pending domains.
    pub recheck_interval_secs: u64,
    /// Whether pending domains are re-checked in the background at all (`fixture` turns it
    /// off: tests check on request).
    pub background_checks: bool,
    /// Domains one account may have.
    pub max_per_account: u32,
}

impl Default for DomainsConfig {
    fn default() -> Self {
        Self {
            mail_host: String::new(),
            spf_senders: Vec::new(),
            dkim_selector: "agentsend".to_owned(),
            dkim_algorithm: DkimAlgorithm::Rsa,
            verification_hours: 72,
            recheck_interval_secs: 600,
            background_checks: true,
            max_per_account: 50,
        }
    }
}

impl DomainsConfig {
    /// Checks the values that their types alone cannot (the records themselves are checked by
    /// [`Config::validate`](super::Config::validate), as they depend on `[smtp]` and `[outbound]`).
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        validate_dkim_selector("domains.dkim_selector", &self.dkim_selector)?;
        if self.verification_hours == 0 || self.recheck_interval_secs == 0 {
            return fail(
                "domains",
                "verification_hours and recheck_interval_secs must be at least 1",
            );
        }
        Ok(())
    }
}
