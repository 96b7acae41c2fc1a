//! `[retention]`: how long mail, events and webhook deliveries are kept.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[retention]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days a message (with its raw bytes, its received attachments and its place in its
    /// thread) is kept after it was received or sent; 0 keeps mail forever. An account may
    /// have its own (`agentsend accounts retention`). Messages still being sent are kept.
    pub messages_days: u64,
    /// Days an event stays in the log (a client can resume a stream from it). Events whose
    /// webhook deliveries are not finished stay until they are.
    pub events_days: u64,
    /// Days finished webhook deliveries (and their attempts) stay in the delivery log.
    pub deliveries_days: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            messages_days: 0,
            events_days: 7,
            deliveries_days: 30,
        }
    }
}

impl RetentionConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.events_days == 0 {
            return fail("retention.events_days", "must be at least 1");
        }
        if self.deliveries_days == 0 {
            return fail("retention.deliveries_days", "must be at least 1");
        }
        for (key, days) in [
            ("retention.messages_days", self.messages_days),
            ("retention.events_days", self.events_days),
            ("retention.deliveries_days", self.deliveries_days),
        ] {
            if days > MAX_DAYS {
                return fail(key, "must be at most 36500 (100 years)");
            }
        }
        Ok(())
    }
}

/// The longest retention that can be set, in days (so that ages never overflow).
pub const MAX_DAYS: u64 = 36_500;
