//! How remote recipients are reached: `dry-run`, a `relay` (smarthost, pooled connections) or
//! `direct` (MX lookup, opportunistic STARTTLS, per-recipient results).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::proto::rr::RData;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{AsyncSmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::{AsyncSmtpTransport, PoolConfig};
use lettre::{Address, AsyncTransport, Tokio1Executor};

use crate::config::{OutboundConfig, OutboundMode, RelaySecurity};
use crate::dns::Dns;

/// What became of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted by the recipient's own server or stored in a local inbox (`route`).
    Delivered(&'static str),
    /// Handed to a relay, or recorded in dry-run mode (`route`).
    Sent(&'static str),
    /// Refused for good.
    Bounced(String),
    /// A temporary failure: try again later.
    Retry(String),
}

impl Outcome {
    /// The outcome as a metrics label: `delivered`, `sent`, `bounced` or `retry`.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered(_) => "delivered",
            Outcome::Sent(_) => "sent",
            Outcome::Bounced(_) => "bounced",
            Outcome::Retry(_) => "retry",
        }
    }
}

/// The configured way out.
pub enum Transport {
    /// Nothing leaves the machine.
    DryRun,
    /// Through a smarthost.
    Relay(AsyncSmtpTransport<Tokio1Executor>),
    /// Straight to the recipients' MX hosts.
    Direct(Box<Direct>),
}

impl Transport {
    /// Builds the transport of `config.mode`; `direct` looks MX hosts up with `dns`.
    pub fn new(config: &OutboundConfig, dns: &Dns) -> anyhow::Result<Self> {
        let timeout = Duration::from_secs(config.timeout_secs);
        let hello = ClientId::Domain(config.ehlo_hostname.clone());
        Ok(match config.mode {
            OutboundMode::DryRun => Transport::DryRun,
            OutboundMode::Relay => {
                let host = config.relay_host.as_str();
                let builder = match config.relay_security {
                    RelaySecurity::Starttls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?
                    }
                    RelaySecurity::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
                    RelaySecurity::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
                    }
                };
                let mut builder = builder
                    .port(config.relay_port)
                    .timeout(Some(timeout))
                    .hello_name(hello)
                    .pool_config(
                        PoolConfig::new().max_size(u32::try_from(config.concurrency).unwrap_or(16)),
                    );
                if !config.relay_username.is_empty() {
                    builder = builder.credentials(Credentials::new(
                        config.relay_username.clone(),
                        config.relay_password.clone(),
                    ));
                }
                Transport::Relay(builder.build())
            }
            OutboundMode::Direct => Transport::Direct(Box::new(Direct {
                dns: dns.clone(),
                port: config.direct_port,
                hello,
                timeout,
            })),
        })
    }

    /// `recipients` (none of them an inbox here) in the batches they are sent in, one SMTP
    /// transaction each: all at once to a relay, one batch per domain in direct mode.
    pub fn batches(&self, recipients: Vec<String>) -> Vec<Vec<String>> {
        match self {
            Transport::DryRun | Transport::Relay(_) => vec![recipients],
            Transport::Direct(_) => {
                let mut by_domain: BTreeMap<String, Vec<String>> = BTreeMap::new();
                for r in recipients {
                    by_domain.entry(domain_of(&r)).or_default().push(r);
                }
                by_domain.into_values().collect()
            }
        }
    }

    /// Sends `raw` from `from` to one batch of [`Transport::batches`].
    pub async fn send(&self, from: &str, batch: &[String], raw: &[u8]) -> Vec<(String, Outcome)> {
        match self {
            Transport::DryRun => batch
                .iter()
                .map(|r| (r.clone(), Outcome::Sent("dry-run")))
                .collect(),
            Transport::Relay(relay) => relay_send(relay, from, batch, raw).await,
            Transport::Direct(direct) => {
                let domain = batch.first().map(|r| domain_of(r)).unwrap_or_default();
                direct.send_domain(&domain, from, batch, raw).await
            }
        }
    }
}

/// The bytes as handed to lettre, which ends the data with `CRLF . CRLF` itself: without our
/// final CRLF, so that what arrives is exactly the stored message.
fn data(raw: &[u8]) -> &[u8] {
    raw.strip_suffix(b"\r\n").unwrap_or(raw)
}

fn envelope(from: &str, to: &[String]) -> Result<lettre::address::Envelope, String> {
    let from: Address = from.parse().map_err(|e| format!("sender {from}: {e}"))?;
    let to = to
        .iter()
        .map(|r| {
            r.parse::<Address>()
                .map_err(|e| format!("recipient {r}: {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    lettre::address::Envelope::new(Some(from), to).map_err(|e| e.to_string())
}

fn classify(e: &lettre::transport::smtp::Error) -> Outcome {
    if e.is_permanent() {
        Outcome::Bounced(e.to_string())
    } else {
        Outcome::Retry(e.to_string())
    }
}

/// One transaction for all recipients; a relay refuses a transaction as a whole, so a permanent
/// refusal with several recipients is retried one recipient at a time to find whose it is.
async fn relay_send(
    relay: &AsyncSmtpTransport<Tokio1Executor>,
    from: &str,
    recipients: &[String],
    raw: &[u8],
) -> Vec<(String, Outcome)> {
    let all = |outcome: Outcome| {
        recipients
            .iter()
            .map(|r| (r.clone(), outcome.clone()))
            .collect::<Vec<_>>()
    };
    let env = match envelope(from, recipients) {
        Ok(env) => env,
        Err(e) if recipients.len() == 1 => return all(Outcome::Bounced(e)),
        Err(_) => return one_by_one(relay, from, recipients, raw).await,
    };
    match relay.send_raw(&env, data(raw)).await {
        Ok(_) => all(Outcome::Sent("email")),
        Err(e) if e.is_permanent() && recipients.len() > 1 => {
            one_by_one(relay, from, recipients, raw).await
        }
        Err(e) => all(classify(&e)),
    }
}

async fn one_by_one(
    relay: &AsyncSmtpTransport<Tokio1Executor>,
    from: &str,
    recipients: &[String],
    raw: &[u8],
) -> Vec<(String, Outcome)> {
    let mut out = Vec::with_capacity(recipients.len());
    for r in recipients {
        let outcome = match envelope(from, std::slice::from_ref(r)) {
            Err(e) => Outcome::Bounced(e),
            Ok(env) => match relay.send_raw(&env, data(raw)).await {
                Ok(_) => Outcome::Sent("email"),
                Err(e) => classify(&e),
            },
        };
        out.push((r.clone(), outcome));
    }
    out
}

/// Delivery to each recipient domain's MX hosts.
pub struct Direct {
    dns: Dns,
    port: u16,
    hello: ClientId,
    timeout: Duration,
}

/// The domain of an address, lower-cased.
fn domain_of(address: &str) -> String {
    address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .to_ascii_lowercase()
}

impl Direct {
    /// The hosts to try for `domain`, best first: its MX hosts by preference, or the domain
    /// itself when it has none (RFC 5321 §5.1). `Err` is the outcome for every recipient.
    async fn hosts(&self, domain: &str) -> Result<Vec<String>, Outcome> {
        if let Some(literal) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
            return Ok(vec![literal.trim_start_matches("IPv6:").to_owned()]);
        }
        match self.dns.resolver().mx_lookup(domain).await {
            Ok(lookup) => {
                let mut mx: Vec<(u16, String)> = lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                        _ => None,
                    })
                    .collect();
                mx.sort();
                // A null MX (RFC 7505): the domain accepts no mail.
                if mx.len() == 1 && mx[0].1.trim_end_matches('.').is_empty() {
                    return Err(Outcome::Bounced(format!(
                        "{domain} accepts no mail (null MX)"
                    )));
                }
                Ok(mx
                    .into_iter()
                    .map(|(_, host)| host.trim_end_matches('.').to_owned())
                    .collect())
            }
            Err(e) if e.is_no_records_found() || e.is_nx_domain() => {
                if e.is_nx_domain() {
                    Err(Outcome::Bounced(format!("{domain} does not exist")))
                } else {
                    Ok(vec![domain.to_owned()])
                }
            }
            Err(e) => Err(Outcome::Retry(format!(
                "looking up the MX of {domain}: {e}"
            ))),
        }
    }

    async fn addresses(&self, host: &str) -> Vec<IpAddr> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return vec![ip];
        }
        match self.dns.resolver().lookup_ip(host).await {
            Ok(ips) => ips.iter().collect(),
            Err(_) => Vec::new(),
        }
    }

    async fn send_domain(
        &self,
        domain: &str,
        from: &str,
        rcpts: &[String],
        raw: &[u8],
    ) -> Vec<(String, Outcome)> {
        let all = |outcome: Outcome| rcpts.iter().map(|r| (r.clone(), outcome.clone())).collect();
        let hosts = match self.hosts(domain).await {
            Ok(hosts) => hosts,
            Err(outcome) => return all(outcome),
        };
        let mut last_error = format!("no MX host of {domain} could be reached");
        for host in &hosts {
            for ip in self.addresses(host).await {
                match self.connect(host, SocketAddr::new(ip, self.port)).await {
                    Ok(mut conn) => {
                        let result = transaction(&mut conn, from, rcpts, raw).await;
                        let _ = conn.quit().await;
                        return result;
                    }
                    Err(e) => last_error = format!("{host} ({ip}): {e}"),
                }
            }
        }
        all(Outcome::Retry(last_error))
    }

    /// Connects and says EHLO; upgrades to TLS when offered. MX hosts are not authenticated
    /// (opportunistic TLS, RFC 7435): encryption without verification beats plain text, and a
    /// failed handshake falls back to plain text rather than not delivering.
    async fn connect(
        &self,
        host: &str,
        addr: SocketAddr,
    ) -> Result<AsyncSmtpConnection, lettre::transport::smtp::Error> {
        let mut conn =
            AsyncSmtpConnection::connect_tokio1(addr, Some(self.timeout), &self.hello, None, None)
                .await?;
        if conn.can_starttls() {
            let tls = TlsParameters::builder(host.to_owned())
                .dangerous_accept_invalid_certs(true)
                .build_rustls()?;
            if conn.starttls(tls, &self.hello).await.is_err() {
                conn = AsyncSmtpConnection::connect_tokio1(
                    addr,
                    Some(self.timeout),
                    &self.hello,
                    None,
                    None,
                )
                .await?;
            }
        }
        Ok(conn)
    }
}

/// MAIL, one RCPT per recipient (each answered on its own), DATA.
async fn transaction(
    conn: &mut AsyncSmtpConnection,
    from: &str,
    rcpts: &[String],
    raw: &[u8],
) -> Vec<(String, Outcome)> {
    let all = |outcome: Outcome| -> Vec<(String, Outcome)> {
        rcpts.iter().map(|r| (r.clone(), outcome.clone())).collect()
    };
    let sender = match from.parse::<Address>() {
        Ok(a) => a,
        Err(e) => return all(Outcome::Bounced(format!("sender {from}: {e}"))),
    };
    if let Err(e) = conn.command(Mail::new(Some(sender), vec![])).await {
        return all(classify(&e));
    }
    let mut out = Vec::with_capacity(rcpts.len());
    let mut accepted = Vec::new();
    for r in rcpts {
        match r.parse::<Address>() {
            Err(e) => out.push((r.clone(), Outcome::Bounced(format!("{r}: {e}")))),
            Ok(address) => match conn.command(Rcpt::new(address, vec![])).await {
                Ok(_) => accepted.push(r.clone()),
                Err(e) => out.push((r.clone(), classify(&e))),
            },
        }
    }
    if accepted.is_empty() {
        return out;
    }
    let outcome = match conn.command(Data).await {
        Err(e) => classify(&e),
        Ok(_) => match conn.message(data(raw)).await {
            Ok(_) => Outcome::Delivered("email"),
            Err(e) => classify(&e),
        },
    };
    out.extend(accepted.into_iter().map(|r| (r, outcome.clone())));
    out
}
