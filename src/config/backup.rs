//! `[backup]`: scheduled backups of the database file while the server runs.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[backup]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Directory for scheduled backups (`agentsend-<UTC time>.db`, each a consistent copy that
    /// `agentsend restore` takes); empty: no scheduled backups (`agentsend backup PATH` still
    /// works at any time).
    pub dir: PathBuf,
    /// Seconds between scheduled backups (the first one runs this long after start-up); also
    /// read as `interval`.
    #[serde(alias = "interval")]
    pub interval_secs: u64,
    /// Scheduled backups kept; older ones in `dir` are deleted after each new one.
    pub keep: usize,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::new(),
            interval_secs: 86_400,
            keep: 7,
        }
    }
}

impl BackupConfig {
    /// Whether backups are scheduled.
    pub fn scheduled(&self) -> bool {
        !self.dir.as_os_str().is_empty()
    }

    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.interval_secs < 60 {
            return fail("backup.interval_secs", "must be at least 60");
        }
        if self.keep == 0 {
            return fail("backup.keep", "must be at least 1");
        }
        Ok(())
    }
}
