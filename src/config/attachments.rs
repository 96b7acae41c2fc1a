//! `[attachments]`: download-link lifetime and retention of unused uploads.

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[attachments]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsConfig {
    /// Seconds a presigned download link stays valid.
    pub link_ttl_secs: u64,
    /// Days an uploaded attachment that no message uses is kept.
    pub upload_retention_days: u64,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        Self {
            link_ttl_secs: 3600,
            upload_retention_days: 7,
        }
    }
}

impl AttachmentsConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.link_ttl_secs == 0 {
            return fail("attachments.link_ttl_secs", "must be at least 1");
        }
        if self.upload_retention_days == 0 {
            return fail("attachments.upload_retention_days", "must be at least 1");
        }
        Ok(())
    }
}
