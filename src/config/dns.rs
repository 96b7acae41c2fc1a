//! `[dns]`: the DNS resolver and whether inbound mail is checked (SPF, DKIM, DMARC).

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[dns]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// DNS servers as `ip:port`; empty means the system's resolver (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Seconds to wait for one answer.
    pub timeout_secs: u64,
    /// Check SPF, DKIM and DMARC of mail received over SMTP and record the results on the
    /// message (`authResults`): a few (cached) DNS lookups per message. `auto`: only when the
    /// SMTP listener is not on loopback (mail from the internet, not from local tools).
    pub check_inbound: CheckInbound,
}

/// Whether mail received over SMTP is checked (SPF, DKIM, DMARC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckInbound {
    /// When the SMTP listener is not bound to a loopback address.
    Auto,
    /// Always.
    Enabled,
    /// Never.
    Disabled,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout_secs: 5,
            check_inbound: CheckInbound::Auto,
        }
    }
}

impl DnsConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.timeout_secs == 0 {
            return fail("dns.timeout_secs", "must be at least 1");
        }
        Ok(())
    }
}
