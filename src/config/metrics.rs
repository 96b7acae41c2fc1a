//! `[metrics]`: Prometheus metrics at `GET /metrics`.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[metrics]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Collect metrics at all; false turns `/metrics` off (404) and saves the bookkeeping.
    pub enabled: bool,
    /// A listener of its own for `/metrics` (e.g. "127.0.0.1:9090"), separate from the API;
    /// empty: served on the API listener.
    pub listen: String,
    /// A bearer token `/metrics` requires (`Authorization: Bearer <token>`); a wrong or missing
    /// one gets 401. Empty: no token, and then `/metrics` is only served on a loopback API
    /// listener (or on the metrics listener): on a public one it answers 404.
    pub token: String,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: String::new(),
            token: String::new(),
        }
    }
}

impl MetricsConfig {
    /// The metrics listener's address, when it has one of its own.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }

    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !self.listen.is_empty() && self.listen_addr().is_none() {
            return fail(
                "metrics.listen",
                "must be an address such as 127.0.0.1:9090, or empty",
            );
        }
        if !self.token.is_empty() && self.token.len() < 16 {
            return fail("metrics.token", "must be at least 16 characters");
        }
        if self
            .token
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return fail(
                "metrics.token",
                "must not contain spaces or control characters",
            );
        }
        Ok(())
    }
}
