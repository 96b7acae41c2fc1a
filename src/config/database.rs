//! `[database]`: the SQLite file and its connection pool.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// The SQLite file; created with the schema if missing.
    pub path: PathBuf,
    /// Pooled connections.
    pub pool_size: u32,
    /// Milliseconds a connection waits for a lock before giving up.
    pub busy_timeout_ms: u64,
    /// Seconds a finished background job (a send's hand-off, a domain check) is kept after it
    /// finished, for looking into what happened; the janitor deletes older ones.
    pub job_retention_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("agentsend.db"),
            pool_size: 16,
            busy_timeout_ms: 5000,
            job_retention_secs: 86_400,
        }
    }
}

impl DatabaseConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=256).contains(&self.pool_size) {
            return fail("database.pool_size", "must be from 1 to 256");
        }
        if self.job_retention_secs == 0 {
            return fail("database.job_retention_secs", "must be at least 1");
        }
        if self.path.as_os_str().is_empty() {
            return fail("database.path", "must not be empty");
        }
        Ok(())
    }
}
