//! What the SPF, DKIM and DMARC checks of a received message found (RFC 7208, 6376, 7489), as
//! stored on the message and shown to clients as `authResults`.

use serde::{Deserialize, Serialize};

/// The results of one message's checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResults {
    /// SPF of the `MAIL FROM` domain (or of the HELO name for the null sender).
    pub spf: SpfCheck,
    /// One entry per `DKIM-Signature` header; empty when the message is not signed.
    pub dkim: Vec<DkimCheck>,
    /// DMARC of the `From` header's domain, combining the two.
    pub dmarc: DmarcCheck,
}

/// The SPF check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpfCheck {
    /// `pass`, `fail`, `softfail`, `neutral`, `none`, `temperror` or `permerror`.
    pub result: String,
    /// The domain checked.
    pub domain: String,
}

/// One DKIM signature's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimCheck {
    /// `pass`, `fail`, `neutral`, `temperror` or `permerror`.
    pub result: String,
    /// The signing domain (`d=`), when the signature could be read.
    pub domain: Option<String>,
    /// The selector (`s=`), when the signature could be read.
    pub selector: Option<String>,
    /// Why it did not pass.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The DMARC check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DmarcCheck {
    /// `pass`, `fail`, `none` (no DMARC record), `temperror` or `permerror`.
    pub result: String,
    /// The `From` domain it applies to.
    pub domain: String,
    /// The domain owner's policy for failing mail: `none`, `quarantine` or `reject` (`none`
    /// without a record).
    pub policy: String,
}
