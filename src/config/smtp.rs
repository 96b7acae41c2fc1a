//! `[smtp]`: the SMTP listener that receives mail.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};
use crate::domain::DomainName;
use crate::domain::sender_list::NotAllowed;

/// `[smtp]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Address the SMTP listener binds; port 25 on a server. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// This server's name in the greeting, EHLO reply and `Received` headers (its MX name).
    pub hostname: String,
    /// Largest message in bytes, announced with `SIZE`; larger ones get `552`.
    pub max_message_size: usize,
    /// Recipients per transaction; more get `452`.
    pub max_recipients: usize,
    /// Longest command line in octets, CRLF included (RFC 5321 §4.5.3.1.4: 512).
    pub max_command_line: usize,
    /// Seconds a whole command line may take to arrive, counted from the server being ready
    /// for it (a trickle of bytes does not extend it), before the session is closed with `421`.
    pub idle_timeout_secs: u64,
    /// Seconds the whole `DATA` phase may take (RFC 5321 §4.5.3.2.6 suggests 10 minutes).
    pub data_timeout_secs: u64,
    /// Bytes per second the message data must average once DATA has run for 30 s (or the idle
    /// timeout, if shorter); slower clients are closed with `421`. 0: no floor.
    pub min_data_rate: u64,
    /// Sessions at once; more are turned away with `421`.
    pub max_sessions: usize,
    /// Sessions at once from one client (an IPv4 address or an IPv6 /64).
    pub max_sessions_per_ip: usize,
    /// PEM certificate chain for STARTTLS; empty disables STARTTLS.
    pub tls_certificate: PathBuf,
    /// PEM private key for STARTTLS.
    pub tls_private_key: PathBuf,
    /// Mail from a sender that the allow list of the recipient inbox (or of its account) does
    /// not name: `refuse` (`550 5.7.1`, like a blocked sender) or `store` (accepted and kept
    /// without a `message.received` event, labelled `blocked` instead of `unread`).
    pub not_allowed: NotAllowed,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 2525)),
            hostname: "localhost".to_owned(),
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_command_line: 512,
            idle_timeout_secs: 300,
            data_timeout_secs: 600,
            min_data_rate: 1024,
            max_sessions: 100,
            max_sessions_per_ip: 10,
            tls_certificate: PathBuf::new(),
            tls_private_key: PathBuf::new(),
            not_allowed: NotAllowed::Refuse,
        }
    }
}

impl SmtpConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if DomainName::parse(&self.hostname).is_err() {
            return fail("smtp.hostname", "must be a host name");
        }
        if self.max_message_size < 1024
            || self.max_recipients == 0
            || self.max_sessions == 0
            || self.max_sessions_per_ip == 0
        {
            return fail(
                "smtp",
                "max_message_size must be at least 1024, the recipient and session limits at least 1",
            );
        }
        if !(512..=65_536).contains(&self.max_command_line) {
            return fail("smtp.max_command_line", "must be from 512 to 65536");
        }
        if self.idle_timeout_secs == 0 || self.data_timeout_secs == 0 {
            return fail("smtp", "timeouts must be at least 1 second");
        }
        if self.tls_certificate.as_os_str().is_empty()
            != self.tls_private_key.as_os_str().is_empty()
        {
            return fail(
                "smtp.tls_certificate",
                "set both tls_certificate and tls_private_key, or neither",
            );
        }
        Ok(())
    }
}
