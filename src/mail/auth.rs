//! SPF, DKIM and DMARC checks of mail received over SMTP (mail-auth, over the configured
//! resolver), so that an agent can tell a forged sender from a real one.

use std::net::IpAddr;

use mail_auth::dkim::DkimError;
use mail_auth::dmarc::Policy;
use mail_auth::spf::verify::SpfParameters;
use mail_auth::{
    AuthenticatedMessage, DkimOutput, DkimResult, DmarcResult, Error, SpfOutput, SpfResult,
    dmarc::verify::DmarcParameters,
};

use crate::dns::Dns;
use crate::domain::auth_results::{AuthResults, DkimCheck, DmarcCheck, SpfCheck};

/// What the SMTP session knows about the sender.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// The client's address.
    pub ip: IpAddr,
    /// Its EHLO/HELO name.
    pub helo: &'a str,
    /// `MAIL FROM` (empty for the null sender).
    pub mail_from: &'a str,
}

/// Signatures checked per message, at most (each costs a hash of the signed headers, and a
/// sender could add thousands).
pub const MAX_SIGNATURES: usize = 5;

/// The name an `Authentication-Results` field claiming this server's results is renamed to.
pub const UNTRUSTED_RESULTS: &str = "X-Untrusted-Authentication-Results";

/// Checks `raw` as received from `sender` by `hostname`, the first [`MAX_SIGNATURES`]
/// signatures only. Bounded in time: lookups that do not finish within a few DNS timeouts give
/// `temperror` results instead of holding the message. CPU-bound for large messages (the body
/// hash): call it off the async threads.
pub async fn check(dns: &Dns, hostname: &str, sender: Sender<'_>, raw: &[u8]) -> AuthResults {
    let mut message = AuthenticatedMessage::parse(raw);
    if let Some(message) = &mut message {
        message.dkim_headers.truncate(MAX_SIGNATURES);
    }
    let limit = dns.timeout() * 3;
    let checks = checks(dns, hostname, sender, message.as_ref());
    match tokio::time::timeout(limit, checks).await {
        Ok(results) => results,
        Err(_) => timed_out(sender, message.as_ref()),
    }
}

/// The domain SPF is checked for: that of `MAIL FROM`, or the HELO name for the null sender.
fn spf_domain(sender: Sender<'_>) -> &str {
    match sender.mail_from.rsplit_once('@') {
        Some((_, domain)) if !domain.is_empty() => domain,
        _ => sender.helo,
    }
}

async fn checks(
    dns: &Dns,
    hostname: &str,
    sender: Sender<'_>,
    message: Option<&AuthenticatedMessage<'_>>,
) -> AuthResults {
    let verifier = dns.authenticator();
    let spf_params = if sender.mail_from.is_empty() {
        SpfParameters::verify_ehlo(sender.ip, sender.helo, hostname)
    } else {
        SpfParameters::verify_mail_from(sender.ip, sender.helo, hostname, sender.mail_from)
    };
    // SPF and DKIM at once; DMARC needs both.
    let (spf, dkim) = tokio::join!(verifier.verify_spf(spf_params), async {
        match message {
            Some(message) => verifier.verify_dkim(message).await,
            None => Vec::new(),
        }
    });
    let spf_check = SpfCheck {
        result: spf_result(&spf).to_owned(),
        domain: spf.domain().to_owned(),
    };
    let Some(message) = message else {
        // Not even headers to check: nothing signed, no From domain.
        return AuthResults {
            spf: spf_check,
            dkim: Vec::new(),
            dmarc: DmarcCheck {
                result: "permerror".to_owned(),
                domain: String::new(),
                policy: "none".to_owned(),
            },
        };
    };
    let dmarc = verifier
        .verify_dmarc(DmarcParameters::new(
            message,
            &dkim,
            spf_domain(sender),
            &spf,
        ))
        .await;
    AuthResults {
        spf: spf_check,
        dkim: dkim.iter().map(dkim_check).collect(),
        dmarc: DmarcCheck {
            result: dmarc_result(&dmarc.result()).to_owned(),
            domain: dmarc.domain().to_owned(),
            policy: match dmarc.policy() {
                Policy::Quarantine => "quarantine",
                Policy::Reject => "reject",
                Policy::None | Policy::Unspecified => "none",
            }
            .to_owned(),
        },
    }
}

/// Results when DNS did not answer in time: `temperror` for SPF, DMARC and each signature.
fn timed_out(sender: Sender<'_>, message: Option<&AuthenticatedMessage<'_>>) -> AuthResults {
    let temperror = "temperror".to_owned();
    AuthResults {
        spf: SpfCheck {
            result: temperror.clone(),
            domain: spf_domain(sender).to_owned(),
        },
        dkim: message
            .map(|m| {
                m.dkim_headers
                    .iter()
                    .map(|h| DkimCheck {
                        result: temperror.clone(),
                        domain: Some(h.header.d.clone()),
                        selector: Some(h.header.s.clone()),
                        reason: Some("DNS did not answer in time".to_owned()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        dmarc: DmarcCheck {
            result: temperror,
            domain: message
                .and_then(|m| m.from().rsplit_once('@'))
                .map(|(_, domain)| domain.to_ascii_lowercase())
                .unwrap_or_default(),
            policy: "none".to_owned(),
        },
    }
}

/// Renames the `Authentication-Results` fields of the header that claim to come from
/// `authserv_id` (this server) to [`UNTRUSTED_RESULTS`]: the sender wrote them, and an agent
/// reading the raw message must not mistake them for ours (RFC 8601 §5).
pub fn rename_forged_results(raw: Vec<u8>, authserv_id: &str) -> Vec<u8> {
    const NAME: &[u8] = b"authentication-results:";
    let header_end = memchr::memmem::find(&raw, b"\r\n\r\n")
        .or_else(|| memchr::memmem::find(&raw, b"\n\n"))
        .unwrap_or(raw.len());
    let mut forged = Vec::new();
    let mut start = 0;
    while start < header_end {
        let end = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |i| start + i + 1);
        let line = &raw[start..end];
        if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            // The authserv-id: the value's first word, before any ';' or comment.
            let value = String::from_utf8_lossy(&line[NAME.len()..]);
            let id = value
                .trim_start()
                .split(|c: char| c == ';' || c == '(' || c.is_whitespace())
                .next()
                .unwrap_or("");
            if id.eq_ignore_ascii_case(authserv_id) {
                forged.push(start);
            }
        }
        start = end;
    }
    if forged.is_empty() {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len() + forged.len() * 12);
    let mut copied = 0;
    for at in forged {
        out.extend_from_slice(&raw[copied..at]);
        out.extend_from_slice(UNTRUSTED_RESULTS.as_bytes());
        copied = at + NAME.len() - 1; // keep the colon
    }
    out.extend_from_slice(&raw[copied..]);
    out
}

fn spf_result(spf: &SpfOutput) -> &'static str {
    match spf.result() {
        SpfResult::Pass => "pass",
        SpfResult::Fail => "fail",
        SpfResult::SoftFail => "softfail",
        SpfResult::Neutral => "neutral",
        SpfResult::TempError => "temperror",
        SpfResult::PermError => "permerror",
        SpfResult::None => "none",
    }
}

fn dkim_check(output: &DkimOutput<'_>) -> DkimCheck {
    let (result, reason) = match output.result() {
        DkimResult::Pass => ("pass", None),
        // mail-auth calls a body changed in transit "neutral"; RFC 6376 §6.1.3 and RFC 8601
        // call it a failure, which is what it tells an agent.
        DkimResult::Neutral(e @ Error::Dkim(DkimError::FailedBodyHashMatch)) => {
            ("fail", Some(e.to_string()))
        }
        DkimResult::Neutral(e) => ("neutral", Some(e.to_string())),
        DkimResult::Fail(e) => ("fail", Some(e.to_string())),
        DkimResult::PermError(e) => ("permerror", Some(e.to_string())),
        DkimResult::TempError(e) => ("temperror", Some(e.to_string())),
        DkimResult::None => ("none", None),
    };
    DkimCheck {
        result: result.to_owned(),
        domain: output.signature().map(|s| s.d.clone()),
        selector: output.signature().map(|s| s.s.clone()),
        reason,
    }
}

fn dmarc_result(result: &DmarcResult) -> &'static str {
    match result {
        DmarcResult::Pass => "pass",
        DmarcResult::Fail(_) => "fail",
        DmarcResult::TempError(_) => "temperror",
        DmarcResult::PermError(_) => "permerror",
        DmarcResult::None => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_claiming_to_be_ours_are_renamed_and_others_kept() {
        let raw = b"Received: from x\r\n\
AUTHENTICATION-RESULTS: MX.Example.NET;\r\n\tdkim=pass header.d=bank.example\r\n\
Authentication-Results: mx.google.com; spf=pass\r\n\
Authentication-Results:mx.example.net (forged); dmarc=pass\r\n\
Subject: hi\r\n\r\n\
Authentication-Results: mx.example.net; in the body\r\n";
        let renamed =
            String::from_utf8(rename_forged_results(raw.to_vec(), "mx.example.net")).unwrap();
        assert_eq!(
            renamed,
            "Received: from x\r\n\
X-Untrusted-Authentication-Results: MX.Example.NET;\r\n\tdkim=pass header.d=bank.example\r\n\
Authentication-Results: mx.google.com; spf=pass\r\n\
X-Untrusted-Authentication-Results:mx.example.net (forged); dmarc=pass\r\n\
Subject: hi\r\n\r\n\
Authentication-Results: mx.example.net; in the body\r\n"
        );
        let clean = b"Subject: hi\r\n\r\nbody".to_vec();
        assert_eq!(
            rename_forged_results(clean.clone(), "mx.example.net"),
            clean
        );
    }
}
