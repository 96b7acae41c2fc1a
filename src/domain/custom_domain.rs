//! Custom domains: the name a client may add, the DNS records it must
//! publish, and how what DNS answered moves its statuses.

use std::net::IpAddr;

use serde::Serialize;

use super::{AccountId, DomainId, DomainName, Timestamp};

/// The kind of DKIM key made for a custom domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DkimAlgorithm {
    /// RSA, 2048 bits.
    Rsa,
    /// Ed25519 (RFC 8463).
    Ed25519,
}

impl DkimAlgorithm {
    /// The stored form, also the DKIM record's `k=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rsa => "rsa",
            Self::Ed25519 => "ed25519",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "rsa" => Some(Self::Rsa),
            "ed25519" => Some(Self::Ed25519),
            _ => None,
        }
    }
}

/// Sending status: `pending` → `pending_dkim` (verification TXT found) → `verified` (DKIM record
/// matches too); `failed` when the verification period ran out first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SendingStatus {
    /// Nothing found yet.
    Pending,
    /// The verification record is published; the DKIM record is not (or does not match).
    PendingDkim,
    /// Both are published.
    Verified,
    /// Not verified within the verification period.
    Failed,
}

impl SendingStatus {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::PendingDkim => "pending_dkim",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "pending_dkim" => Self::PendingDkim,
            "verified" => Self::Verified,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// Receiving status: `verified` once the domain's MX points at this server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReceivingStatus {
    /// The MX record is not found yet.
    Pending,
    /// The MX record points here.
    Verified,
    /// Not verified within the verification period.
    Failed,
}

impl ReceivingStatus {
    /// The stored and wire form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Failed => "failed",
        }
    }

    /// From the stored form.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => Self::Pending,
            "verified" => Self::Verified,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// A custom domain as stored (without its private key).
#[derive(Debug, Clone)]
pub struct Domain {
    /// Id.
    pub id: DomainId,
    /// Owner.
    pub account_id: AccountId,
    /// The name (lower-case A-label).
    pub name: DomainName,
    /// The value of the verification TXT record.
    pub verification_token: String,
    /// DKIM selector.
    pub dkim_selector: String,
    /// Key type.
    pub dkim_algorithm: DkimAlgorithm,
    /// The public key as published (`p=`), base64.
    pub dkim_public_key: String,
    /// Sending status.
    pub sending_status: SendingStatus,
    /// Receiving status.
    pub receiving_status: ReceivingStatus,
    /// When sending became verified.
    pub sending_verified_at: Option<Timestamp>,
    /// When receiving became verified.
    pub receiving_verified_at: Option<Timestamp>,
    /// When DNS was last looked at.
    pub last_checked_at: Option<Timestamp>,
    /// What the last check could not confirm, or why it could not look.
    pub last_check_error: Option<String>,
    /// Created.
    pub created_at: Timestamp,
    /// Last changed.
    pub updated_at: Timestamp,
}

/// The label of the verification TXT record, under the domain.
pub const VERIFICATION_LABEL: &str = "_agentsend";

/// The prefix of the verification TXT record's value.
pub const VERIFICATION_PREFIX: &str = "agentsend-verification=";

impl Domain {
    /// Whether a side still waits for its records (and so for checks).
    pub fn is_pending(&self) -> bool {
        matches!(
            self.sending_status,
            SendingStatus::Pending | SendingStatus::PendingDkim
        ) || self.receiving_status == ReceivingStatus::Pending
    }

    /// Where the verification TXT record goes.
    pub fn verification_name(&self) -> String {
        format!("{VERIFICATION_LABEL}.{}", self.name)
    }

    /// The verification TXT record's value.
    pub fn verification_value(&self) -> String {
        format!("{VERIFICATION_PREFIX}{}", self.verification_token)
    }

    /// Where the DKIM TXT record goes.
    pub fn dkim_name(&self) -> String {
        format!("{}._domainkey.{}", self.dkim_selector, self.name)
    }

    /// The DKIM TXT record's value.
    pub fn dkim_value(&self) -> String {
        dkim_record_value(self.dkim_algorithm.as_str(), &self.dkim_public_key)
    }
}

/// A DKIM key record's value (RFC 6376 §3.6.1): `v=DKIM1; k=<rsa|ed25519>; p=<base64 key>`.
pub fn dkim_record_value(algorithm: &str, public_key_base64: &str) -> String {
    format!("v=DKIM1; k={algorithm}; p={public_key_base64}")
}

/// Validates a domain a client wants to add: 3–255 characters as written, a host name of at
/// least two labels whose top-level label is not numeric, not an IP address, a URL or an email
/// address; non-ASCII names become IDNA A-labels (UTS #46). Lower-cased.
pub fn parse_custom_domain(raw: &str) -> Result<DomainName, String> {
    let length = raw.chars().count();
    if !(3..=255).contains(&length) {
        return Err("must be 3 to 255 characters".to_owned());
    }
    if raw.contains("://") || raw.contains('/') {
        return Err("must be a bare domain name such as example.com, not a URL".to_owned());
    }
    if raw.contains('@') {
        return Err("must be a domain name such as example.com, not an email address".to_owned());
    }
    let bare = raw.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Err("must be a domain name, not an IP address".to_owned());
    }
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain spaces".to_owned());
    }
    let ascii = if raw.is_ascii() {
        raw.to_owned()
    } else {
        idna::domain_to_ascii(raw)
            .map_err(|_| "is not a valid internationalised domain name".to_owned())?
    };
    let name = DomainName::parse(&ascii).map_err(|e| e.to_string())?;
    let labels: Vec<&str> = name.as_str().split('.').collect();
    if labels.len() < 2 {
        return Err("must have at least two labels, such as example.com".to_owned());
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must end in a top-level domain, not a number".to_owned());
    }
    Ok(name)
}

/// A DNS record to publish (`{type, name, value, priority?}`), with what it is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    /// `TXT` or `MX`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Fully qualified name, without the trailing dot.
    pub name: String,
    /// The record's value (for MX, the host).
    pub value: String,
    /// MX preference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<u16>,
    /// `verification`, `dkim`, `spf`, `mx` or `dmarc`.
    pub purpose: &'static str,
    /// `false` for records that are recommended but not checked (SPF, DMARC).
    pub required: bool,
}

impl DnsRecord {
    /// The record's data as a zone file writes it: `10 mx.example.com.` for MX, quoted strings
    /// of at most 255 bytes for TXT.
    pub fn zone_data(&self) -> String {
        match self.priority {
            Some(p) => format!("{p} {}.", self.value),
            None => txt_strings(&self.value),
        }
    }
}

/// What the records of every domain have in common: where its mail is received and sent from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsSetup {
    /// The MX target (this server's SMTP host name).
    pub mail_host: DomainName,
    /// The SPF record's value (`v=spf1 ... ~all`).
    pub spf: String,
}

impl DnsSetup {
    /// The SPF value allowing `senders`: `ip4:`/`ip6:`/`a:`/`mx:`/`include:` mechanisms, bare IP
    /// addresses (or networks) or host names (taken as `a:`).
    pub fn spf_for(senders: &[String]) -> Result<String, String> {
        let mut mechanisms = Vec::with_capacity(senders.len());
        for sender in senders {
            let s = sender.trim();
            // DNS names here may have underscores (`include:_spf.example.net`).
            let checked = |name: &str| {
                let ok = !name.is_empty()
                    && name.len() <= 253
                    && name.split('.').all(|label| {
                        (1..=63).contains(&label.len())
                            && label
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    });
                if ok {
                    Ok(())
                } else {
                    Err(format!("{sender:?} does not name a host"))
                }
            };
            let mechanism = if let Some((kind, value)) = s.split_once(':')
                && matches!(kind, "ip4" | "ip6" | "a" | "mx" | "include")
            {
                match kind {
                    "ip4" | "ip6" => {
                        let ip = value.split('/').next().unwrap_or(value);
                        let ok = match ip.parse::<IpAddr>() {
                            Ok(IpAddr::V4(_)) => kind == "ip4",
                            Ok(IpAddr::V6(_)) => kind == "ip6",
                            Err(_) => false,
                        };
                        if !ok {
                            return Err(format!("{sender:?} is not a valid {kind} mechanism"));
                        }
                    }
                    _ => checked(value)?,
                }
                s.to_owned()
            } else if let Ok(net) = s.parse::<ipnet::IpNet>() {
                match net {
                    ipnet::IpNet::V4(n) => format!("ip4:{n}"),
                    ipnet::IpNet::V6(n) => format!("ip6:{n}"),
                }
            } else if let Ok(ip) = s.parse::<IpAddr>() {
                match ip {
                    IpAddr::V4(ip) => format!("ip4:{ip}"),
                    IpAddr::V6(ip) => format!("ip6:{ip}"),
                }
            } else {
                checked(s)?;
                format!("a:{}", s.to_ascii_lowercase())
            };
            mechanisms.push(mechanism);
        }
        if mechanisms.is_empty() {
            return Err("no sending host given".to_owned());
        }
        Ok(format!("v=spf1 {} ~all", mechanisms.join(" ")))
    }

    /// The records `domain` publishes for sending: verification, DKIM (both checked), SPF and
    /// a DMARC policy (recommended).
    pub fn sending_records(&self, domain: &Domain) -> Vec<DnsRecord> {
        let txt = |name: String, value: String, purpose, required| DnsRecord {
            kind: "TXT",
            name,
            value,
            priority: None,
            purpose,
            required,
        };
        vec![
            txt(
                domain.verification_name(),
                domain.verification_value(),
                "verification",
                true,
            ),
            txt(domain.dkim_name(), domain.dkim_value(), "dkim", true),
            self.spf_record(domain.name.as_str()),
            self.dmarc_record(domain.name.as_str()),
        ]
    }

    /// The SPF TXT record at `domain` (recommended).
    pub fn spf_record(&self, domain: &str) -> DnsRecord {
        DnsRecord {
            kind: "TXT",
            name: domain.to_owned(),
            value: self.spf.clone(),
            priority: None,
            purpose: "spf",
            required: false,
        }
    }

    /// The DMARC TXT record of `domain` (recommended).
    pub fn dmarc_record(&self, domain: &str) -> DnsRecord {
        DnsRecord {
            kind: "TXT",
            name: format!("_dmarc.{domain}"),
            // Monitoring only: a stricter policy is the owner's call once mail passes.
            value: "v=DMARC1; p=none".to_owned(),
            priority: None,
            purpose: "dmarc",
            required: false,
        }
    }

    /// The MX record of `domain`: 10 to this server.
    pub fn mx_record(&self, domain: &str) -> DnsRecord {
        DnsRecord {
            kind: "MX",
            name: domain.to_owned(),
            value: self.mail_host.to_string(),
            priority: Some(10),
            purpose: "mx",
            required: true,
        }
    }

    /// Every record `domain` publishes: for sending, then for receiving.
    pub fn records(&self, domain: &Domain) -> Vec<DnsRecord> {
        let mut all = self.sending_records(domain);
        all.extend(self.receiving_records(domain));
        all
    }

    /// The record `domain` publishes for receiving: MX 10 to this server.
    pub fn receiving_records(&self, domain: &Domain) -> Vec<DnsRecord> {
        vec![self.mx_record(domain.name.as_str())]
    }
}

/// The records in zone-file syntax (RFC 1035 §5), ready to paste into a zone: absolute names,
/// TXT values split into quoted strings of at most 255 bytes.
pub fn zone_file(domain: &Domain, records: &[DnsRecord]) -> String {
    let mut out = format!(
        "; DNS records for {} (AgentSend). Required: the verification and DKIM TXT records \
         (sending) and the MX record (receiving); SPF and DMARC are recommended.\n",
        domain.name
    );
    for r in records {
        out.push_str(&format!(
            "{}.\t3600\tIN\t{}\t{}\n",
            r.name,
            r.kind,
            r.zone_data()
        ));
    }
    out
}

/// A TXT value as quoted strings of at most 255 bytes each (RFC 1035 §3.3.14).
pub fn txt_strings(value: &str) -> String {
    value
        .as_bytes()
        .chunks(255)
        .map(|chunk| {
            let text = String::from_utf8_lossy(chunk);
            format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What DNS answered for one name: the records, or why it could not say.
pub type Lookup<T> = Result<Vec<T>, String>;

/// What a DNS check found for a domain.
#[derive(Debug, Clone)]
pub struct DnsAnswers {
    /// TXT values (strings of a record joined) at the verification name.
    pub verification: Lookup<String>,
    /// TXT values at the DKIM name.
    pub dkim: Lookup<String>,
    /// MX hosts (lower case, no trailing dot) of the domain.
    pub mx: Lookup<String>,
}

/// The outcome of a check: what each side is now, and what is missing or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    /// New sending status.
    pub sending: SendingStatus,
    /// New receiving status.
    pub receiving: ReceivingStatus,
    /// What was not confirmed, and DNS failures; `None` when everything is verified.
    pub problems: Option<String>,
}

/// Whether a DKIM TXT value publishes `public_key` (tags compared, whitespace ignored, `k`
/// defaulting to `rsa` as RFC 6376 §3.6.1 says).
pub fn dkim_record_matches(value: &str, algorithm: &str, public_key: &str) -> bool {
    let mut k = "rsa".to_owned();
    let mut p = None;
    for tag in value.split(';') {
        let Some((name, v)) = tag.split_once('=') else {
            continue;
        };
        let v: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        match name.trim() {
            "v" if v != "DKIM1" => return false,
            "k" => k = v,
            "p" => p = Some(v),
            _ => {}
        }
    }
    k.eq_ignore_ascii_case(algorithm) && p.as_deref() == Some(public_key)
}

/// Moves a domain's statuses by what DNS answered at `now`. A side that DNS could not answer
/// for keeps its status; a verified side stays verified (a record gone missing is reported,
/// not acted on); a side still pending when `deadline` has passed becomes `failed`; a `failed`
/// side becomes verified if its records turn up after all. `receiving_claimed` is set when
/// another account already receives mail for this domain.
pub fn evaluate(
    domain: &Domain,
    answers: &DnsAnswers,
    mail_host: &DomainName,
    receiving_claimed: bool,
    now: Timestamp,
    deadline: Timestamp,
) -> CheckOutcome {
    let mut problems = Vec::new();
    let expired = now >= deadline;

    let found_token = match &answers.verification {
        Ok(values) => {
            let found = values
                .iter()
                .any(|v| v.trim() == domain.verification_value());
            if !found {
                problems.push(format!(
                    "TXT {} = \"{}\" not found",
                    domain.verification_name(),
                    domain.verification_value()
                ));
            }
            Some(found)
        }
        Err(e) => {
            problems.push(format!("looking up {}: {e}", domain.verification_name()));
            None
        }
    };
    let found_dkim = match &answers.dkim {
        Ok(values) => {
            let found = values.iter().any(|v| {
                dkim_record_matches(v, domain.dkim_algorithm.as_str(), &domain.dkim_public_key)
            });
            if !found {
                problems.push(if values.is_empty() {
                    format!("TXT {} (DKIM) not found", domain.dkim_name())
                } else {
                    format!(
                        "TXT {} (DKIM) does not match the key: publish the value shown",
                        domain.dkim_name()
                    )
                });
            }
            Some(found)
        }
        Err(e) => {
            problems.push(format!("looking up {}: {e}", domain.dkim_name()));
            None
        }
    };
    let sending = match (domain.sending_status, found_token, found_dkim) {
        (SendingStatus::Verified, ..) => SendingStatus::Verified,
        (_, Some(true), Some(true)) => SendingStatus::Verified,
        // The DKIM lookup failed: the token is enough for the first step, never for failing.
        (_, Some(true), None) => SendingStatus::PendingDkim,
        // The token lookup failed: no step back, and no failure on a lookup that did not work.
        (current, None, _) => current,
        (SendingStatus::Failed, ..) => SendingStatus::Failed,
        (_, Some(false), _) | (_, Some(true), Some(false)) if expired => SendingStatus::Failed,
        (_, Some(true), Some(false)) => SendingStatus::PendingDkim,
        (_, Some(false), _) => SendingStatus::Pending,
    };

    // An MX record says nothing about whose domain it is: the verification record proves it,
    // now or in an earlier check. Without that proof, any account that added the domain could
    // take over its mail.
    let owner = match found_token {
        Some(found) => Some(found),
        None => matches!(
            domain.sending_status,
            SendingStatus::PendingDkim | SendingStatus::Verified
        )
        .then_some(true),
    };
    let receiving = match &answers.mx {
        Ok(hosts) => {
            let points_here = hosts.iter().any(|h| h == mail_host.as_str());
            if !points_here {
                problems.push(format!("MX {} -> {} not found", domain.name, mail_host));
            } else if receiving_claimed {
                problems.push(format!(
                    "another account already receives mail for {}",
                    domain.name
                ));
            }
            match (domain.receiving_status, owner) {
                // A record gone missing later is reported above, not acted on.
                (ReceivingStatus::Verified, _) => ReceivingStatus::Verified,
                (_, Some(true)) if points_here && !receiving_claimed => ReceivingStatus::Verified,
                // Ownership unknown (the token lookup failed): no change.
                (current, None) => current,
                (current, _) if expired || current == ReceivingStatus::Failed => {
                    ReceivingStatus::Failed
                }
                _ => ReceivingStatus::Pending,
            }
        }
        Err(e) => {
            problems.push(format!("looking up the MX of {}: {e}", domain.name));
            domain.receiving_status
        }
    };
    CheckOutcome {
        sending,
        receiving,
        problems: (!problems.is_empty()).then(|| problems.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_clients_may_add() {
        for (raw, expected) in [
            ("Example.COM", "example.com"),
            ("mail.example.co.uk", "mail.example.co.uk"),
            ("bücher.example", "xn--bcher-kva.example"),
            ("example.com.", "example.com"),
        ] {
            assert_eq!(parse_custom_domain(raw).unwrap().as_str(), expected);
        }
        for raw in [
            "",
            "a",
            "-bad-.com",
            "exa mple.com",
            "https://example.com",
            "example.com/path",
            "192.168.1.1",
            "[::1]",
            "1.2.3.4",
            "user@example.com",
            "localhost",
            "com",
            &format!("{}.com", "a".repeat(300)),
            &format!("{}.com", ["a"; 130].join(".")),
        ] {
            assert!(parse_custom_domain(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn spf_records_from_senders() {
        let spf =
            |s: &[&str]| DnsSetup::spf_for(&s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            spf(&[
                "203.0.113.5",
                "2001:db8::/32",
                "mail.example.net",
                "include:_spf.relay.example"
            ])
            .unwrap(),
            "v=spf1 ip4:203.0.113.5 ip6:2001:db8::/32 a:mail.example.net include:_spf.relay.example ~all"
        );
        assert!(spf(&[]).is_err());
        assert!(spf(&["ip4:2001:db8::1"]).is_err());
        assert!(spf(&["bad host"]).is_err());
    }

    #[test]
    fn dkim_values_match_by_tag() {
        assert!(dkim_record_matches(
            "v=DKIM1; k=rsa; p=AB CD",
            "rsa",
            "ABCD"
        ));
        assert!(dkim_record_matches("p=ABCD", "rsa", "ABCD"));
        assert!(!dkim_record_matches(
            "v=DKIM1; k=ed25519; p=ABCD",
            "rsa",
            "ABCD"
        ));
        assert!(!dkim_record_matches(
            "v=DKIM1; k=rsa; p=ABCE",
            "rsa",
            "ABCD"
        ));
        assert!(!dkim_record_matches("v=DKIM1; k=rsa; p=", "rsa", "ABCD"));
    }

    #[test]
    fn long_txt_values_are_split_for_zone_files() {
        let value = "x".repeat(300);
        let split = txt_strings(&value);
        assert_eq!(
            split,
            format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))
        );
        assert_eq!(txt_strings("a\"b"), "\"a\\\"b\"");
    }
}
