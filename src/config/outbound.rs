//! `[outbound]`: how mail is sent (dry run, smarthost relay or direct MX), and retries.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};
use crate::domain::DomainName;
use crate::domain::reply::ForwardMode;

/// `[outbound]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Where mail to addresses that are not inboxes here goes: `dry-run` (nowhere; recorded as
    /// sent), `relay` (a smarthost) or `direct` (the recipient domain's MX).
    pub mode: OutboundMode,
    /// Name given in EHLO to relays and MX hosts (in `direct` mode, the host named in SPF).
    pub ehlo_hostname: String,
    /// Send each message with a return path of its own (VERP, `bounces+<token>@<domain>`) as
    /// its envelope sender, so that delivery reports about it can be trusted. Off: the inbox's
    /// address, for relays that insist on it; reports then change no status.
    pub verp: bool,
    /// Waits before each retry of a temporary failure, in milliseconds; attempts are one more
    /// than the entries.
    pub retry_schedule_ms: Vec<u64>,
    /// Seconds allowed for connecting and for each SMTP command.
    pub timeout_secs: u64,
    /// Messages sent at once.
    pub concurrency: usize,
    /// Seconds a claimed send belongs to its worker before it is taken up again.
    pub lease_secs: u64,
    /// `relay`: the smarthost.
    pub relay_host: String,
    /// `relay`: its port.
    pub relay_port: u16,
    /// `relay`: `starttls` (required), `tls` (implicit, port 465) or `none`.
    pub relay_security: RelaySecurity,
    /// `relay`: user name for AUTH; empty means no AUTH.
    pub relay_username: String,
    /// `relay`: password for AUTH.
    pub relay_password: String,
    /// `direct`: the port MX hosts are contacted on (25; tests use another).
    pub direct_port: u16,
    /// How `POST /messages/{id}/forward` carries the original when the request does not say:
    /// `attachment` (its exact bytes as a `message/rfc822` part) or `inline` (its headers and
    /// text quoted under the note, its attachments attached again).
    pub forward_as: ForwardMode,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            mode: OutboundMode::DryRun,
            ehlo_hostname: "localhost".to_owned(),
            verp: true,
            retry_schedule_ms: vec![60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000],
            timeout_secs: 60,
            concurrency: 16,
            lease_secs: 900,
            relay_host: String::new(),
            relay_port: 587,
            relay_security: RelaySecurity::Starttls,
            relay_username: String::new(),
            relay_password: String::new(),
            direct_port: 25,
            forward_as: ForwardMode::Attachment,
        }
    }
}

impl OutboundConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if DomainName::parse(&self.ehlo_hostname).is_err() {
            return fail("outbound.ehlo_hostname", "must be a host name");
        }
        if self.retry_schedule_ms.contains(&0) || self.retry_schedule_ms.len() > 50 {
            return fail(
                "outbound.retry_schedule_ms",
                "must be at most 50 waits of at least 1 ms",
            );
        }
        if self.timeout_secs == 0
            || self.concurrency == 0
            || self.lease_secs <= self.timeout_secs * 3
        {
            return fail(
                "outbound",
                "timeout_secs and concurrency must be at least 1, lease_secs more than 3 x timeout_secs",
            );
        }
        if self.mode == OutboundMode::Relay && self.relay_host.trim().is_empty() {
            return fail("outbound.relay_host", "is required in relay mode");
        }
        Ok(())
    }
}

/// How outgoing mail leaves the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutboundMode {
    /// It does not: remote recipients are recorded as sent.
    DryRun,
    /// Through a smarthost.
    Relay,
    /// Straight to each recipient domain's MX.
    Direct,
}

/// TLS with the smarthost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelaySecurity {
    /// STARTTLS, required.
    Starttls,
    /// Implicit TLS.
    Tls,
    /// Plain text (a relay on the same host or network).
    None,
}
