//! `[webhooks]`: webhook delivery attempts, concurrency and allowed targets.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[webhooks]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry in milliseconds; it doubles with every further retry.
    pub retry_base_ms: u64,
    /// Total time allowed for one attempt (connect, send, response headers and body).
    pub timeout_ms: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Deliveries in flight at once to any one webhook, so a slow endpoint cannot hold every
    /// slot.
    pub per_webhook_concurrency: usize,
    /// How long a claimed delivery belongs to its worker; a claim older than this (the
    /// process died mid-attempt) is attempted again. At least `timeout_ms` + 1000.
    pub lease_ms: u64,
    /// Non-public networks (CIDR) deliveries may go to, e.g. `["10.0.0.0/8"]`.
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// Loopback targets: `auto` (allowed when the API listens on loopback), `always`, `never`.
    pub allow_loopback: LoopbackPolicy,
    /// Deprecated name of `retention.deliveries_days` (still read, with a warning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u64>,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_base_ms: 10_000,
            timeout_ms: 30_000,
            concurrency: 32,
            per_webhook_concurrency: 4,
            lease_ms: 60_000,
            allowed_networks: Vec::new(),
            allow_loopback: LoopbackPolicy::Auto,
            retention_days: None,
        }
    }
}

impl WebhooksConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=100).contains(&self.max_attempts) {
            return fail("webhooks.max_attempts", "must be from 1 to 100");
        }
        if self.retry_base_ms == 0 {
            return fail("webhooks.retry_base_ms", "must be at least 1");
        }
        if self.timeout_ms < 10 {
            return fail("webhooks.timeout_ms", "must be at least 10");
        }
        // The margin covers recording the attempt after the receiver answered.
        if self.lease_ms < self.timeout_ms.saturating_add(1000) {
            return fail(
                "webhooks.lease_ms",
                "must be at least webhooks.timeout_ms + 1000",
            );
        }
        if self.concurrency == 0 || self.per_webhook_concurrency == 0 {
            return fail(
                "webhooks.concurrency",
                "both concurrency settings must be at least 1",
            );
        }
        Ok(())
    }
}

/// Whether webhook deliveries may go to loopback addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoopbackPolicy {
    /// Allowed when the API itself listens on a loopback address (local development).
    Auto,
    /// Always allowed.
    Always,
    /// Never allowed.
    Never,
}
