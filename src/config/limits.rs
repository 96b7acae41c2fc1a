//! `[limits]`: rate limits, default daily send limits and the memory budget.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[limits]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per window per account (per client IP when unauthenticated); 0 disables.
    pub rate_limit: u32,
    /// Length of the fixed rate-limit window in seconds.
    pub rate_limit_window_secs: u64,
    /// Default `dailySendLimit` of a new inbox (capped by its account's limit).
    pub inbox_daily_send_limit: u32,
    /// `dailySendLimit` of accounts created by the operator.
    pub account_daily_send_limit: u32,
    /// Bytes of incoming messages (SMTP) and uploads held in memory at once, across all
    /// clients; past it clients are asked to retry later.
    pub max_buffered_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            rate_limit: 100,
            rate_limit_window_secs: 60,
            inbox_daily_send_limit: 100,
            account_daily_send_limit: 1000,
            max_buffered_bytes: 128 * 1024 * 1024,
        }
    }
}

impl LimitsConfig {
    /// Checks the values that their types alone cannot (`max_buffered_bytes` is checked
    /// against `[smtp]` by [`Config::validate`](super::Config::validate)).
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.rate_limit_window_secs == 0 {
            return fail("limits.rate_limit_window_secs", "must be at least 1");
        }
        Ok(())
    }
}
