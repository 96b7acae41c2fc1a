//! `[sandbox]`: auto-provisioned sandbox accounts and their limits.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[sandbox]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// `POST /auth/auto-provision`: `auto` (on when the API listens on loopback and is not
    /// behind a proxy), `enabled`, `disabled`.
    pub auto_provision: AutoProvision,
    /// Provisioning calls per client IP per window; 0 means no limit of its own.
    pub provision_limit: u32,
    /// The provisioning window in seconds.
    pub provision_window_secs: u64,
    /// Inboxes a sandbox account may create (deleted ones count).
    pub max_inboxes: u32,
    /// Messages a sandbox account may send in total.
    pub max_sends: u32,
    /// Days after creation a sandbox account may create inboxes and send.
    pub lifetime_days: u64,
    /// A sandbox account's daily send limit.
    pub daily_send_limit: u32,
    /// Whether sandbox accounts may send to addresses that are not inboxes on this server.
    pub external_recipients: bool,
    /// Whether sandbox accounts may create webhooks.
    pub webhooks: bool,
    /// Whether sandbox accounts may add custom domains.
    pub custom_domains: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            auto_provision: AutoProvision::Auto,
            provision_limit: 10,
            provision_window_secs: 3600,
            max_inboxes: 1,
            max_sends: 50,
            lifetime_days: 7,
            daily_send_limit: 50,
            external_recipients: false,
            webhooks: false,
            custom_domains: false,
        }
    }
}

impl SandboxConfig {
    /// The limits as the checks use them.
    pub fn limits(&self) -> crate::domain::sandbox::SandboxLimits {
        crate::domain::sandbox::SandboxLimits {
            max_inboxes: u64::from(self.max_inboxes),
            max_sends: u64::from(self.max_sends),
            lifetime: std::time::Duration::from_secs(self.lifetime_days.saturating_mul(86_400)),
            external_recipients: self.external_recipients,
            webhooks: self.webhooks,
            custom_domains: self.custom_domains,
        }
    }

    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.provision_window_secs == 0 {
            return fail("sandbox.provision_window_secs", "must be at least 1");
        }
        Ok(())
    }
}

/// Whether agents may provision sandbox accounts for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoProvision {
    /// Enabled when the API listens on a loopback address (local development).
    Auto,
    /// Always enabled.
    Enabled,
    /// Never enabled.
    Disabled,
}
