//! `agentsend doctor`: what a server on the internet needs, checked from where it runs. Each
//! check is a function returning [`Finding`]s; the command line prints them. Every lookup goes
//! through the configured resolver ([`Dns`], bounded by `dns.timeout_secs`) and every
//! connection has a deadline, so a run always ends.
//!
//! The records a domain must publish are the ones the API tells its owner to publish
//! ([`DnsSetup`]), compared the way domain verification compares them
//! ([`dkim_record_matches`]).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::{Dmarc, Policy};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::config::{Config, OutboundMode, RelaySecurity};
use crate::dns::Dns;
use crate::domain::custom_domain::{
    DnsRecord, DnsSetup, Domain, ReceivingStatus, SendingStatus, dkim_record_matches,
};
use crate::mail::dkim::DkimKey;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// As it should be.
    Ok,
    /// Works, but something will bite (a certificate about to expire, STARTTLS off).
    Warn,
    /// Mail will not flow, or will be refused or marked as spam.
    Fail,
    /// Not checked, and why.
    Info,
}

impl Status {
    /// The label printed in front of a finding.
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "OK",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
            Self::Info => "INFO",
        }
    }
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The check: `hostname`, `ptr`, `mx`, `spf`, `dkim`, `dmarc`, `outbound`, `tls`.
    pub check: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was checked (a host name, an address, a domain, a file).
    pub subject: String,
    /// What was found.
    pub detail: String,
    /// For a warning or failure: what to publish or change.
    pub fix: Option<String>,
}

impl Finding {
    fn new(check: &'static str, status: Status, subject: &str, detail: String) -> Self {
        Self {
            check,
            status,
            subject: subject.to_owned(),
            detail,
            fix: None,
        }
    }

    fn ok(check: &'static str, subject: &str, detail: String) -> Self {
        Self::new(check, Status::Ok, subject, detail)
    }

    fn info(check: &'static str, subject: &str, detail: String) -> Self {
        Self::new(check, Status::Info, subject, detail)
    }

    fn warn(check: &'static str, subject: &str, detail: String, fix: String) -> Self {
        Self::new(check, Status::Warn, subject, detail).with_fix(fix)
    }

    fn fail(check: &'static str, subject: &str, detail: String, fix: String) -> Self {
        Self::new(check, Status::Fail, subject, detail).with_fix(fix)
    }

    fn with_fix(mut self, fix: String) -> Self {
        self.fix = Some(fix);
        self
    }
}

/// What `doctor` is run with besides the configuration.
#[derive(Debug, Clone)]
pub struct Options {
    /// The domain whose MX the outbound check connects to.
    pub probe_domain: String,
    /// How long the outbound connection (connecting and the greeting) may take.
    pub timeout: Duration,
}

/// Runs every check: host names and reverse DNS, the records of `domains` (custom domains
/// from the database; `None` when there is no database yet) and of the shared domain,
/// outbound port 25, and STARTTLS.
pub async fn run(
    config: &Config,
    dns: &Dns,
    domains: Option<&[Domain]>,
    options: &Options,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    let domains = domains.unwrap_or_else(|| {
        findings.push(Finding::info(
            "domain",
            &config.database.path.display().to_string(),
            "no database yet: no custom domains to check".to_owned(),
        ));
        &[]
    });
    let mut hosts = vec![config.smtp.hostname.to_ascii_lowercase()];
    if !config
        .outbound
        .ehlo_hostname
        .eq_ignore_ascii_case(&hosts[0])
    {
        hosts.push(config.outbound.ehlo_hostname.to_ascii_lowercase());
    }
    for host in &hosts {
        findings.extend(check_hostname(dns, host).await);
    }
    match config.dns_setup() {
        Ok(setup) => {
            for domain in domains {
                findings.extend(check_custom_domain(dns, &setup, domain).await);
            }
            findings.extend(check_shared_domain(config, dns, &setup).await);
        }
        // `Config::load` validated it; only a configuration built in code gets here.
        Err(e) => findings.push(Finding::fail(
            "mx",
            "[domains]",
            format!("the records domains publish cannot be made: {e}"),
            "fix domains.mail_host and domains.spf_senders".to_owned(),
        )),
    }
    findings.push(check_outbound(config, dns, options).await);
    findings.extend(check_tls(config, time::OffsetDateTime::now_utc()));
    findings
}

/// Names that never reach the internet (RFC 6761 reserves `localhost` and `.localhost`).
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Addresses that others on the internet cannot reach.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                // Carrier-grade NAT (RFC 6598).
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// A host name of this server: it has A/AAAA records, and each address has a PTR record whose
/// name resolves back to it (forward-confirmed reverse DNS), which many receivers require of a
/// sending host before they accept its mail.
pub async fn check_hostname(dns: &Dns, host: &str) -> Vec<Finding> {
    if is_local_name(host) {
        return vec![Finding::fail(
            "hostname",
            host,
            "a local name: other mail servers cannot find or trust this server by it".to_owned(),
            "set smtp.hostname to your server's public name (and outbound.ehlo_hostname, if \
             you set it), e.g. mx.example.com"
                .to_owned(),
        )];
    }
    let addresses = match dns.addresses_now(host).await {
        Ok(addresses) if addresses.is_empty() => {
            return vec![Finding::fail(
                "hostname",
                host,
                "no A or AAAA record".to_owned(),
                format!(
                    "publish {host}. A <your server's public IPv4 address> (and AAAA for IPv6)"
                ),
            )];
        }
        Ok(addresses) => addresses,
        Err(e) => {
            return vec![Finding::fail(
                "hostname",
                host,
                format!("cannot look up its addresses: {e}"),
                "check dns.nameservers (or /etc/resolv.conf) and that the name exists".to_owned(),
            )];
        }
    };
    let listed = addresses
        .iter()
        .map(IpAddr::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let mut findings = vec![Finding::ok(
        "hostname",
        host,
        format!("resolves to {listed}"),
    )];
    for ip in addresses {
        if is_private(ip) {
            findings.push(Finding::warn(
                "hostname",
                host,
                format!("{ip} is not a public address"),
                format!("publish {host}. with your server's public address"),
            ));
        }
        findings.push(check_ptr(dns, host, ip).await);
    }
    findings
}

/// The PTR record of `ip`, confirmed by a forward lookup of the name it gives.
async fn check_ptr(dns: &Dns, host: &str, ip: IpAddr) -> Finding {
    let subject = ip.to_string();
    let ask = format!(
        "ask whoever runs {ip} (your hosting provider's control panel) to set its reverse DNS \
         (PTR) to {host}"
    );
    let names = match dns.ptr_now(ip).await {
        Ok(names) if names.is_empty() => {
            return Finding::fail(
                "ptr",
                &subject,
                "no PTR record (reverse DNS)".to_owned(),
                ask,
            );
        }
        Ok(names) => names,
        Err(e) => {
            return Finding::fail("ptr", &subject, format!("cannot look up its PTR: {e}"), ask);
        }
    };
    let mut confirmed = Vec::new();
    for name in &names {
        if dns
            .addresses_now(name)
            .await
            .is_ok_and(|addresses| addresses.contains(&ip))
        {
            confirmed.push(name.as_str());
        }
    }
    let listed = names.join(", ");
    if confirmed.contains(&host) {
        Finding::ok(
            "ptr",
            &subject,
            format!("PTR {host}, which resolves back to {ip}"),
        )
    } else if let Some(other) = confirmed.first() {
        Finding::warn(
            "ptr",
            &subject,
            format!("PTR {other} resolves back to {ip} but is not {host}"),
            format!("{ask}, or use {other} as smtp.hostname"),
        )
    } else {
        Finding::fail(
            "ptr",
            &subject,
            format!("PTR {listed} does not resolve back to {ip} (not forward-confirmed)"),
            format!(
                "{ask}, and publish {host}. {} {ip}",
                if ip.is_ipv4() { "A" } else { "AAAA" }
            ),
        )
    }
}

/// A record in zone-file syntax, for a fix line.
fn zone_line(record: &DnsRecord) -> String {
    format!("{}. IN {} {}", record.name, record.kind, record.zone_data())
}

/// The DKIM key a domain signs with: where its record goes and what it holds.
struct DkimExpected {
    name: String,
    record: DnsRecord,
    algorithm: String,
    public_key: String,
}

/// A custom domain's MX, SPF, DKIM and DMARC records, as the API told its owner to publish
/// them. Domains whose verification failed on both sides are skipped.
pub async fn check_custom_domain(dns: &Dns, setup: &DnsSetup, domain: &Domain) -> Vec<Finding> {
    let name = domain.name.as_str();
    if domain.sending_status == SendingStatus::Failed
        && domain.receiving_status == ReceivingStatus::Failed
    {
        return vec![Finding::info(
            "domain",
            name,
            "skipped: its verification failed (delete it or add it again)".to_owned(),
        )];
    }
    let records = setup.records(domain);
    let dkim = records
        .iter()
        .find(|r| r.purpose == "dkim")
        .map(|record| DkimExpected {
            name: domain.dkim_name(),
            record: record.clone(),
            algorithm: domain.dkim_algorithm.as_str().to_owned(),
            public_key: domain.dkim_public_key.clone(),
        });
    let by_purpose = |purpose| records.iter().find(|r| r.purpose == purpose);
    let mut findings = Vec::new();
    if let Some(mx) = by_purpose("mx") {
        findings.push(check_mx(dns, name, mx).await);
    }
    if let Some(spf) = by_purpose("spf") {
        findings.push(check_spf(dns, name, spf).await);
    }
    if let Some(dkim) = &dkim {
        findings.push(check_dkim(dns, dkim).await);
    }
    if let Some(dmarc) = by_purpose("dmarc") {
        findings.push(check_dmarc(dns, dmarc).await);
    }
    findings
}

/// The shared domain (`mail.shared_domain`): MX, SPF, DMARC, and DKIM when
/// `mail.dkim_private_key` is set.
pub async fn check_shared_domain(config: &Config, dns: &Dns, setup: &DnsSetup) -> Vec<Finding> {
    let name = config.mail.shared_domain.as_str();
    if is_local_name(name) {
        return vec![Finding::warn(
            "domain",
            name,
            "mail.shared_domain is a local name: inboxes without a custom domain cannot receive \
             mail from the internet"
                .to_owned(),
            "set mail.shared_domain to a domain you own (or use custom domains only)".to_owned(),
        )];
    }
    let mut findings = vec![
        check_mx(dns, name, &setup.mx_record(name)).await,
        check_spf(dns, name, &setup.spf_record(name)).await,
    ];
    let key_path = &config.mail.dkim_private_key;
    if key_path.as_os_str().is_empty() {
        findings.push(Finding::warn(
            "dkim",
            name,
            "mail from the shared domain is not DKIM-signed (mail.dkim_private_key is not set)"
                .to_owned(),
            format!(
                "set mail.dkim_private_key to a PEM key (e.g. `openssl genpkey -algorithm RSA \
                 -pkeyopt rsa_keygen_bits:2048`) and publish the record `doctor` then shows at \
                 {}._domainkey.{name}",
                config.mail.dkim_selector
            ),
        ));
    } else {
        match shared_dkim_key(key_path, name, &config.mail.dkim_selector) {
            Ok(key) => {
                let (record_name, value) = key.dns_record();
                let expected = DkimExpected {
                    name: record_name.clone(),
                    record: DnsRecord {
                        kind: "TXT",
                        name: record_name,
                        value,
                        priority: None,
                        purpose: "dkim",
                        required: true,
                    },
                    algorithm: key.algorithm().to_owned(),
                    public_key: key.public_key_base64(),
                };
                findings.push(check_dkim(dns, &expected).await);
            }
            Err(e) => findings.push(Finding::fail(
                "dkim",
                name,
                format!("mail.dkim_private_key {}: {e}", key_path.display()),
                "point mail.dkim_private_key at a readable PEM RSA or Ed25519 key".to_owned(),
            )),
        }
    }
    findings.push(check_dmarc(dns, &setup.dmarc_record(name)).await);
    findings
}

fn shared_dkim_key(path: &Path, domain: &str, selector: &str) -> Result<DkimKey, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    DkimKey::from_pem(&pem, domain, selector)
}

/// The domain's MX points at this server's mail host.
async fn check_mx(dns: &Dns, domain: &str, expected: &DnsRecord) -> Finding {
    let fix = format!("publish {}", zone_line(expected));
    match dns.mx_now(domain).await {
        Ok(hosts) if hosts.contains(&expected.value) => {
            Finding::ok("mx", domain, format!("MX points at {}", expected.value))
        }
        Ok(hosts) if hosts.is_empty() => Finding::fail(
            "mx",
            domain,
            "no MX record: mail for it is not delivered here".to_owned(),
            fix,
        ),
        Ok(hosts) => Finding::fail(
            "mx",
            domain,
            format!(
                "MX points at {}, not at {}",
                hosts.join(", "),
                expected.value
            ),
            format!("{fix} (and remove the MX records that point elsewhere)"),
        ),
        Err(e) => Finding::fail("mx", domain, format!("cannot look up its MX: {e}"), fix),
    }
}

/// The terms of an SPF record after `v=spf1`, lower case, `/32` and `/128` dropped (the same
/// single address).
fn spf_terms(record: &str) -> Vec<String> {
    record
        .split_whitespace()
        .skip(1)
        .map(|t| {
            let t = t.to_ascii_lowercase();
            let t = t.strip_prefix('+').unwrap_or(&t).to_owned();
            if t.starts_with("ip4:") && t.ends_with("/32") {
                t.trim_end_matches("/32").to_owned()
            } else if t.starts_with("ip6:") && t.ends_with("/128") {
                t.trim_end_matches("/128").to_owned()
            } else {
                t
            }
        })
        .collect()
}

/// The domain has one SPF record, and it names every sender the server tells domains to
/// authorise (`domains.spf_senders`, else `a:<outbound.ehlo_hostname>`). The mechanisms are
/// compared as written: a sender authorised only through another `include:` is reported.
async fn check_spf(dns: &Dns, domain: &str, expected: &DnsRecord) -> Finding {
    let publish = format!("publish {}", zone_line(expected));
    let values = match dns.txt_now(domain).await {
        Ok(values) => values,
        Err(e) => {
            return Finding::fail(
                "spf",
                domain,
                format!("cannot look up its TXT: {e}"),
                publish,
            );
        }
    };
    let spf: Vec<&String> = values
        .iter()
        .filter(|v| {
            let v = v.trim_start().to_ascii_lowercase();
            v == "v=spf1" || v.starts_with("v=spf1 ")
        })
        .collect();
    match spf.as_slice() {
        [] => Finding::fail("spf", domain, "no SPF record".to_owned(), publish),
        [one] => {
            let published = spf_terms(one);
            let missing: Vec<String> = spf_terms(&expected.value)
                .into_iter()
                .filter(|t| !t.ends_with("all") && !published.contains(t))
                .collect();
            if missing.is_empty() {
                Finding::ok("spf", domain, format!("\"{one}\" authorises this server"))
            } else {
                Finding::fail(
                    "spf",
                    domain,
                    format!("\"{one}\" does not name {}", missing.join(" ")),
                    format!(
                        "{publish} (or add {} to the existing record)",
                        missing.join(" ")
                    ),
                )
            }
        }
        several => Finding::fail(
            "spf",
            domain,
            format!(
                "{} SPF records: receivers treat that as an error (RFC 7208 §4.5)",
                several.len()
            ),
            format!("{publish}, as the only SPF record"),
        ),
    }
}

/// The DKIM record at the selector publishes the key mail is signed with.
async fn check_dkim(dns: &Dns, expected: &DkimExpected) -> Finding {
    let subject = expected.name.as_str();
    let publish = format!("publish {}", zone_line(&expected.record));
    match dns.txt_now(subject).await {
        Ok(values) if values.is_empty() => {
            Finding::fail("dkim", subject, "no DKIM record".to_owned(), publish)
        }
        Ok(values)
            if values
                .iter()
                .any(|v| dkim_record_matches(v, &expected.algorithm, &expected.public_key)) =>
        {
            Finding::ok(
                "dkim",
                subject,
                format!(
                    "publishes the {} key mail is signed with",
                    expected.algorithm
                ),
            )
        }
        Ok(_) => Finding::fail(
            "dkim",
            subject,
            "the record does not match the key mail is signed with: signatures will fail"
                .to_owned(),
            format!("{publish} (replacing the record there)"),
        ),
        Err(e) => Finding::fail("dkim", subject, format!("cannot look it up: {e}"), publish),
    }
}

/// A DMARC record exists at `_dmarc.<domain>` and parses, with a policy (`p=`).
async fn check_dmarc(dns: &Dns, expected: &DnsRecord) -> Finding {
    let subject = expected.name.as_str();
    let publish = format!(
        "publish {} (p=none monitors; tighten to quarantine or reject once mail passes)",
        zone_line(expected)
    );
    let values = match dns.txt_now(subject).await {
        Ok(values) => values,
        Err(e) => {
            return Finding::fail("dmarc", subject, format!("cannot look it up: {e}"), publish);
        }
    };
    let dmarc: Vec<&String> = values
        .iter()
        .filter(|v| v.trim_start().to_ascii_lowercase().starts_with("v=dmarc1"))
        .collect();
    let [record] = dmarc.as_slice() else {
        let detail = if dmarc.is_empty() {
            "no DMARC record: many receivers distrust or refuse mail from domains without one"
                .to_owned()
        } else {
            format!("{} DMARC records: receivers ignore them all", dmarc.len())
        };
        return Finding::fail("dmarc", subject, detail, publish);
    };
    match Dmarc::parse(record.as_bytes()) {
        Ok(parsed) => {
            let policy = match parsed.p {
                Policy::None => "none",
                Policy::Quarantine => "quarantine",
                Policy::Reject => "reject",
                Policy::Unspecified => {
                    return Finding::fail(
                        "dmarc",
                        subject,
                        format!("\"{record}\" has no policy (p=)"),
                        publish,
                    );
                }
            };
            Finding::ok("dmarc", subject, format!("policy p={policy}"))
        }
        Err(e) => Finding::fail(
            "dmarc",
            subject,
            format!("\"{record}\" does not parse: {e}"),
            publish,
        ),
    }
}

/// Whether mail can leave: in `direct` mode a TCP connection to the most preferred MX of the
/// probe domain on `outbound.direct_port` (many providers block port 25), in `relay` mode to
/// the relay; either must greet with `220` within the timeout.
pub async fn check_outbound(config: &Config, dns: &Dns, options: &Options) -> Finding {
    let outbound = &config.outbound;
    match outbound.mode {
        OutboundMode::DryRun => Finding::info(
            "outbound",
            "dry-run",
            "skipped: outbound.mode is dry-run (mail to other servers is recorded, not sent)"
                .to_owned(),
        ),
        OutboundMode::Relay => {
            let subject = format!("{}:{}", outbound.relay_host, outbound.relay_port);
            let fix = "check outbound.relay_host and relay_port, and that the firewall lets \
                       this server reach them"
                .to_owned();
            let addresses = match host_addresses(dns, &outbound.relay_host).await {
                Ok(addresses) => addresses,
                Err(e) => return Finding::fail("outbound", &subject, e, fix),
            };
            // Implicit TLS greets only after the handshake: connecting is what can be seen.
            let greet = outbound.relay_security != RelaySecurity::Tls;
            connect_and_greet(
                &subject,
                &addresses,
                outbound.relay_port,
                greet,
                options,
                fix,
            )
            .await
        }
        OutboundMode::Direct => {
            let probe = options.probe_domain.as_str();
            let blocked = format!(
                "open outbound TCP port {} (many cloud providers block port 25 until asked), \
                 or send through a relay (outbound.mode = \"relay\")",
                outbound.direct_port
            );
            let host = match dns.mx_now(probe).await {
                Ok(hosts) => match hosts.into_iter().next() {
                    Some(host) => host,
                    None => {
                        return Finding::fail(
                            "outbound",
                            probe,
                            "the probe domain has no MX record".to_owned(),
                            "give --probe-domain a domain that receives mail".to_owned(),
                        );
                    }
                },
                Err(e) => {
                    return Finding::fail(
                        "outbound",
                        probe,
                        format!("cannot look up its MX: {e}"),
                        "check dns.nameservers (or /etc/resolv.conf)".to_owned(),
                    );
                }
            };
            let subject = format!("{host}:{} (MX of {probe})", outbound.direct_port);
            let addresses = match host_addresses(dns, &host).await {
                Ok(addresses) => addresses,
                Err(e) => return Finding::fail("outbound", &subject, e, blocked),
            };
            connect_and_greet(
                &subject,
                &addresses,
                outbound.direct_port,
                true,
                options,
                blocked,
            )
            .await
        }
    }
}

/// The addresses of `host` (or `host` itself when it is an address).
async fn host_addresses(dns: &Dns, host: &str) -> Result<Vec<IpAddr>, String> {
    if let Ok(ip) = host.trim_start_matches('[').trim_end_matches(']').parse() {
        return Ok(vec![ip]);
    }
    match dns.addresses_now(host).await {
        Ok(addresses) if addresses.is_empty() => Err(format!("{host} has no A or AAAA record")),
        Ok(addresses) => Ok(addresses),
        Err(e) => Err(format!("cannot look up {host}: {e}")),
    }
}

/// Connects to the first address that answers, and reads the SMTP greeting when `greet`.
async fn connect_and_greet(
    subject: &str,
    addresses: &[IpAddr],
    port: u16,
    greet: bool,
    options: &Options,
    fix: String,
) -> Finding {
    let mut errors = Vec::new();
    for ip in addresses {
        let addr = SocketAddr::new(*ip, port);
        match tokio::time::timeout(options.timeout, greeting(addr, greet)).await {
            Ok(Ok(line)) => {
                return Finding::ok("outbound", subject, format!("{addr} answered: {line}"));
            }
            Ok(Err(e)) => errors.push(format!("{addr}: {e}")),
            Err(_) => errors.push(format!(
                "{addr}: no answer within {} s",
                options.timeout.as_secs_f32()
            )),
        }
    }
    Finding::fail("outbound", subject, errors.join("; "), fix)
}

/// Connects to `addr`; when `greet`, reads the (possibly multi-line) greeting, which must be
/// `220`, and says QUIT.
async fn greeting(addr: SocketAddr, greet: bool) -> Result<String, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    if !greet {
        return Ok("connected".to_owned());
    }
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        line.clear();
        // A line of a greeting is short; a peer that sends no newline meets the timeout.
        let read = reader
            .read_line(&mut line)
            .await
            .map_err(|e| format!("cannot read the greeting: {e}"))?;
        if read == 0 {
            return Err("closed the connection without a greeting".to_owned());
        }
        let text = line.trim_end().to_owned();
        if !text.starts_with("220") {
            return Err(format!("greeted with {text:?}, not 220"));
        }
        // `220-` continues the greeting (RFC 5321 §4.2.1).
        if text.as_bytes().get(3) != Some(&b'-') {
            let _ = reader.get_mut().write_all(b"QUIT\r\n").await;
            return Ok(text);
        }
    }
}

/// Days before expiry from which a certificate is reported.
const EXPIRY_WARNING_DAYS: i64 = 21;

/// The STARTTLS certificate and key: they load together, the certificate is valid at `now`
/// (and for 21 days more), and its names cover `smtp.hostname` and the mail host.
pub fn check_tls(config: &Config, now: time::OffsetDateTime) -> Vec<Finding> {
    let smtp = &config.smtp;
    if smtp.tls_certificate.as_os_str().is_empty() {
        return vec![Finding::warn(
            "tls",
            "smtp",
            "STARTTLS is off: many servers send only over TLS, and others mark plain-text \
             mail"
                .to_owned(),
            format!(
                "set smtp.tls_certificate and smtp.tls_private_key to PEM files of a \
                 certificate for {} (e.g. from Let's Encrypt)",
                smtp.hostname
            ),
        )];
    }
    let subject = smtp.tls_certificate.display().to_string();
    let certs = match CertificateDer::pem_file_iter(&smtp.tls_certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
    {
        Ok(certs) if certs.is_empty() => {
            return vec![Finding::fail(
                "tls",
                &subject,
                "no certificate in the file".to_owned(),
                "point smtp.tls_certificate at the PEM certificate chain".to_owned(),
            )];
        }
        Ok(certs) => certs,
        Err(e) => {
            return vec![Finding::fail(
                "tls",
                &subject,
                format!("cannot read the certificate chain: {e}"),
                "point smtp.tls_certificate at a readable PEM certificate chain".to_owned(),
            )];
        }
    };
    let mut findings = match x509_parser::parse_x509_certificate(&certs[0]) {
        Ok((_, cert)) => {
            let mut names = vec![smtp.hostname.to_ascii_lowercase()];
            if let Ok(setup) = config.dns_setup()
                && setup.mail_host.as_str() != names[0]
            {
                names.push(setup.mail_host.to_string());
            }
            vec![
                check_validity(&subject, &cert, now),
                check_names(&subject, &cert, &names),
            ]
        }
        Err(e) => vec![Finding::fail(
            "tls",
            &subject,
            format!("the first certificate does not parse: {e}"),
            "point smtp.tls_certificate at a PEM certificate chain, the server's own first"
                .to_owned(),
        )],
    };
    findings.push(check_key(config, certs));
    findings
}

fn check_validity(
    subject: &str,
    cert: &x509_parser::certificate::X509Certificate<'_>,
    now: time::OffsetDateTime,
) -> Finding {
    let validity = cert.validity();
    let (from, until) = (validity.not_before, validity.not_after);
    let renew = "renew the certificate (e.g. certbot renew) and restart the server".to_owned();
    let now_ts = now.unix_timestamp();
    if now_ts < from.timestamp() {
        return Finding::fail("tls", subject, format!("not valid before {from}"), renew);
    }
    if now_ts > until.timestamp() {
        return Finding::fail("tls", subject, format!("expired on {until}"), renew);
    }
    let days = (until.timestamp() - now_ts) / 86_400;
    if days < EXPIRY_WARNING_DAYS {
        Finding::warn(
            "tls",
            subject,
            format!("expires in {days} days ({until})"),
            renew,
        )
    } else {
        Finding::ok("tls", subject, format!("valid until {until} ({days} days)"))
    }
}

/// Whether a certificate name (perhaps `*.example.com`) covers `host` (RFC 6125 §6.4.3: a
/// wildcard stands for one whole leftmost label).
fn name_covers(pattern: &str, host: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(_, parent)| parent == rest),
        None => pattern == host,
    }
}

fn check_names(
    subject: &str,
    cert: &x509_parser::certificate::X509Certificate<'_>,
    hosts: &[String],
) -> Finding {
    use x509_parser::extensions::GeneralName;
    let mut names: Vec<String> = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    if names.is_empty() {
        // Without subject alternative names, clients fall back to the common name.
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok().map(str::to_owned)),
        );
    }
    let uncovered: Vec<&str> = hosts
        .iter()
        .filter(|h| !names.iter().any(|n| name_covers(n, h)))
        .map(String::as_str)
        .collect();
    if uncovered.is_empty() {
        Finding::ok("tls", subject, format!("names {}", names.join(", ")))
    } else {
        Finding::fail(
            "tls",
            subject,
            format!(
                "names {} but not {}",
                if names.is_empty() {
                    "nothing".to_owned()
                } else {
                    names.join(", ")
                },
                uncovered.join(", ")
            ),
            format!(
                "get a certificate whose subject alternative names include {}",
                uncovered.join(" and ")
            ),
        )
    }
}

/// The private key loads and belongs to the certificate (rustls compares their public keys).
fn check_key(config: &Config, certs: Vec<CertificateDer<'static>>) -> Finding {
    let path = &config.smtp.tls_private_key;
    let subject = path.display().to_string();
    let key = match PrivateKeyDer::from_pem_file(path) {
        Ok(key) => key,
        Err(e) => {
            return Finding::fail(
                "tls",
                &subject,
                format!("cannot read the private key: {e}"),
                "point smtp.tls_private_key at the certificate's PEM private key".to_owned(),
            );
        }
    };
    match crate::mail::smtp::starttls_config(certs, key) {
        Ok(_) => Finding::ok(
            "tls",
            &subject,
            "the private key loads with the certificate".to_owned(),
        ),
        Err(e) => Finding::fail(
            "tls",
            &subject,
            format!("the key does not load with the certificate: {e}"),
            "point smtp.tls_private_key at the key of smtp.tls_certificate".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_names_and_private_addresses() {
        assert!(is_local_name("localhost") && is_local_name("mx.agentsend.localhost."));
        assert!(!is_local_name("mx.example.com"));
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["203.0.113.5", "2001:db8::1"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn spf_terms_compare_single_addresses_and_case() {
        assert_eq!(
            spf_terms("v=spf1 +IP4:203.0.113.5/32 a:MX.example.com ip6:2001:db8::1/128 ~all"),
            [
                "ip4:203.0.113.5",
                "a:mx.example.com",
                "ip6:2001:db8::1",
                "~all"
            ]
        );
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_covers("*.example.com", "mx.example.com"));
        assert!(!name_covers("*.example.com", "a.mx.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(name_covers("MX.example.com", "mx.example.com"));
    }
}
