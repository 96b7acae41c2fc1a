//! `[events]`: the event log and its live consumers (`GET /events`, `GET /ws`, waiting for a
//! message).

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[events]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Deprecated name of `retention.events_days` (still read, with a warning).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u64>,
    /// Seconds between heartbeats on an idle stream (an SSE comment, a WebSocket ping).
    pub heartbeat_secs: u64,
    /// Events a live subscriber may fall behind before it is disconnected (it resumes from
    /// its last event id). This bounds what the server holds for slow consumers.
    pub max_backlog: usize,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            retention_days: None,
            heartbeat_secs: 15,
            max_backlog: 1024,
        }
    }
}

impl EventsConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=3600).contains(&self.heartbeat_secs) {
            return fail("events.heartbeat_secs", "must be from 1 to 3600");
        }
        if !(16..=1_000_000).contains(&self.max_backlog) {
            return fail("events.max_backlog", "must be from 16 to 1000000");
        }
        Ok(())
    }
}
