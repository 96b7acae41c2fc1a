//! `[idempotency]`: how long `Idempotency-Key` responses are replayed.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[idempotency]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencyConfig {
    /// Seconds a stored response is replayed for.
    pub window_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            window_secs: 24 * 3600,
        }
    }
}

impl IdempotencyConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.window_secs == 0 {
            return fail("idempotency.window_secs", "must be at least 1");
        }
        Ok(())
    }
}
