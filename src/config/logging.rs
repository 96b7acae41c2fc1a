//! `[log]`: the log filter.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// env_logger filter, e.g. `info` or `agentsend=debug,actix_web=warn`; `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
        }
    }
}

impl LogConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        validate_log_filter(&self.level).or_else(|why| fail("log.level", &why))
    }
}

fn validate_log_filter(filter: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        // env_logger would read a bare word as a module name and silence everything else, so
        // `level = "loud"` is far more likely a typo than a wish: only levels and
        // `module=level` pairs are accepted.
        let (module, level) = directive.rsplit_once('=').unwrap_or(("", directive));
        let module_ok = module
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
        if !module_ok || !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "`{directive}` is not a log directive (use a level such as info, or module=level)"
            ));
        }
    }
    Ok(())
}
