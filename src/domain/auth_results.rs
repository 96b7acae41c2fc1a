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

impl AuthResults {
    /// Whether a DKIM signature by `domain` passed.
    pub fn dkim_passes_for(&self, domain: &str) -> bool {
        self.dkim.iter().any(|d| {
            d.result == "pass"
                && d.domain
                    .as_deref()
                    .is_some_and(|signer| signer.eq_ignore_ascii_case(domain))
        })
    }

    /// The results as an `Authentication-Results` header (RFC 8601) by `authserv_id` (this
    /// server's host name), CRLF-terminated and folded per method.
    pub fn header(&self, authserv_id: &str) -> String {
        let mut methods = vec![format!(
            "spf={} smtp.mailfrom={}",
            self.spf.result,
            token(&self.spf.domain)
        )];
        if self.dkim.is_empty() {
            methods.push("dkim=none".to_owned());
        }
        for d in &self.dkim {
            let mut m = format!("dkim={}", d.result);
            if let Some(domain) = &d.domain {
                m.push_str(&format!(" header.d={}", token(domain)));
            }
            if let Some(selector) = &d.selector {
                m.push_str(&format!(" header.s={}", token(selector)));
            }
            methods.push(m);
        }
        methods.push(format!(
            "dmarc={} header.from={}",
            self.dmarc.result,
            token(&self.dmarc.domain)
        ));
        format!(
            "Authentication-Results: {};\r\n\t{}\r\n",
            token(authserv_id),
            methods.join(";\r\n\t")
        )
    }
}

/// A value as an RFC 8601 property value: what came from the network is cut down to the
/// characters a domain or selector can have, so it cannot break the header.
fn token(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(255)
        .collect();
    if t.is_empty() {
        "unknown".to_owned()
    } else {
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_names_every_method_and_cannot_be_broken_by_its_values() {
        let results = AuthResults {
            spf: SpfCheck {
                result: "pass".to_owned(),
                domain: "sender.example".to_owned(),
            },
            dkim: vec![DkimCheck {
                result: "fail".to_owned(),
                domain: Some("sender.example\r\nX-Evil: 1".to_owned()),
                selector: Some("s1".to_owned()),
                reason: Some("body hash".to_owned()),
            }],
            dmarc: DmarcCheck {
                result: "fail".to_owned(),
                domain: "sender.example".to_owned(),
                policy: "reject".to_owned(),
            },
        };
        assert_eq!(
            results.header("mx.example.net"),
            "Authentication-Results: mx.example.net;\r\n\tspf=pass smtp.mailfrom=sender.example;\r\n\
             \tdkim=fail header.d=sender.exampleX-Evil1 header.s=s1;\r\n\
             \tdmarc=fail header.from=sender.example\r\n"
        );
    }
}
