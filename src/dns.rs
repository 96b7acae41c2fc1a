//! The DNS resolver everything uses (`[dns]`): the configured nameservers (`ip:port`, so tests
//! can run their own) or the system's. Built once at start-up.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
use mail_auth::MessageAuthenticator;

use crate::config::{Config, OutboundMode};
use crate::domain::custom_domain::Lookup;

/// The resolver, twice: a caching one for mail (MX lookups, SPF/DKIM/DMARC checks of incoming
/// mail) and one that never caches, for domain verification, where a user who has just
/// published a record expects it to be seen.
#[derive(Clone)]
pub struct Dns {
    cached: Arc<MessageAuthenticator>,
    fresh: TokioResolver,
    timeout: Duration,
}

impl Dns {
    /// Builds both resolvers from `[dns]`. Without `dns.nameservers` and without a readable
    /// system configuration, start-up fails if mail needs DNS (`direct` mode, inbound checks);
    /// otherwise only domain verification does, and its checks report the failure.
    pub fn from_config(full: &Config) -> anyhow::Result<Self> {
        let config = &full.dns;
        let (servers, mut options) = if config.nameservers.is_empty() {
            match hickory_resolver::system_conf::read_system_conf() {
                Ok(system) => system,
                Err(e)
                    if full.outbound.mode == OutboundMode::Direct || full.checks_inbound_mail() =>
                {
                    return Err(anyhow::anyhow!(
                        "cannot read the system's DNS configuration ({e}); set dns.nameservers"
                    ));
                }
                Err(e) => {
                    log::warn!(
                        "cannot read the system's DNS configuration ({e}); domain verification \
                         will fail until dns.nameservers is set"
                    );
                    (
                        ResolverConfig::from_name_servers(Vec::new()),
                        ResolverOpts::default(),
                    )
                }
            }
        } else {
            let servers = config
                .nameservers
                .iter()
                .map(|addr| {
                    let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                    for connection in &mut server.connections {
                        connection.port = addr.port();
                    }
                    server
                })
                .collect();
            (
                ResolverConfig::from_name_servers(servers),
                ResolverOpts::default(),
            )
        };
        let timeout = Duration::from_secs(config.timeout_secs);
        options.timeout = timeout;
        options.attempts = 2;
        // "No such name" without an SOA record says nothing about how long it holds, and
        // would not be cached at all: every message from the same sender would ask again.
        let mut cached_options = options.clone();
        cached_options.negative_min_ttl = Some(Duration::from_secs(60));
        let cached = MessageAuthenticator::new(servers.clone(), cached_options)
            .context("cannot build the DNS resolver")?;
        options.cache_size = 0;
        options.positive_max_ttl = Some(Duration::ZERO);
        options.negative_max_ttl = Some(Duration::ZERO);
        let fresh = TokioResolver::builder_with_config(servers, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .context("cannot build the DNS resolver")?;
        Ok(Self {
            cached: Arc::new(cached),
            fresh,
            timeout,
        })
    }

    /// The caching resolver.
    pub fn resolver(&self) -> &TokioResolver {
        self.cached.resolver()
    }

    /// mail-auth's verifier over the caching resolver.
    pub fn authenticator(&self) -> &MessageAuthenticator {
        &self.cached
    }

    /// How long one lookup may take before it counts as failed.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The TXT records at `name` now (each record's strings joined); none if the name or the
    /// records do not exist; `Err` says why DNS could not answer.
    pub async fn txt_now(&self, name: &str) -> Lookup<String> {
        let lookup = self.fresh.txt_lookup(fqdn(name));
        match self.bounded(lookup).await {
            Ok(Ok(found)) => Ok(found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Ok(Err(e)) => none_or_failure(e),
            Err(timeout) => Err(timeout),
        }
    }

    /// The MX hosts of `name` now (lower case, without the trailing dot), most preferred
    /// (lowest preference value) first.
    pub async fn mx_now(&self, name: &str) -> Lookup<String> {
        let lookup = self.fresh.mx_lookup(fqdn(name));
        match self.bounded(lookup).await {
            Ok(Ok(found)) => {
                let mut hosts: Vec<(u16, String)> = found
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(mx) => Some((
                            mx.preference,
                            mx.exchange
                                .to_ascii()
                                .trim_end_matches('.')
                                .to_ascii_lowercase(),
                        )),
                        _ => None,
                    })
                    .collect();
                hosts.sort_by_key(|(preference, _)| *preference);
                Ok(hosts.into_iter().map(|(_, host)| host).collect())
            }
            Ok(Err(e)) => none_or_failure(e),
            Err(timeout) => Err(timeout),
        }
    }

    /// The IPv4 and IPv6 addresses of `name` now (A and AAAA records, in that order).
    pub async fn addresses_now(&self, name: &str) -> Lookup<IpAddr> {
        let (v4, v6) = tokio::join!(
            self.bounded(self.fresh.ipv4_lookup(fqdn(name))),
            self.bounded(self.fresh.ipv6_lookup(fqdn(name)))
        );
        let mut found = Vec::new();
        for lookup in [v4, v6] {
            match lookup {
                Ok(Ok(answer)) => {
                    found.extend(answer.answers().iter().filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    }))
                }
                Ok(Err(e)) => {
                    none_or_failure::<IpAddr>(e)?;
                }
                Err(timeout) => return Err(timeout),
            }
        }
        Ok(found)
    }

    /// The names the PTR records of `ip` give now (reverse DNS; lower case, without the
    /// trailing dot).
    pub async fn ptr_now(&self, ip: IpAddr) -> Lookup<String> {
        let lookup = self.fresh.reverse_lookup(Name::from(ip));
        match self.bounded(lookup).await {
            Ok(Ok(found)) => Ok(found
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::PTR(ptr) => {
                        Some(ptr.0.to_ascii().trim_end_matches('.').to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()),
            Ok(Err(e)) => none_or_failure(e),
            Err(timeout) => Err(timeout),
        }
    }

    /// Runs a lookup with an overall limit (the resolver's own timeout applies per attempt
    /// and per server).
    async fn bounded<T>(&self, lookup: impl Future<Output = T>) -> Result<T, String> {
        // Two attempts per server, and a little for the rest.
        let limit = self.timeout * 2 + Duration::from_millis(500);
        tokio::time::timeout(limit, lookup)
            .await
            .map_err(|_| format!("DNS timed out after {} s", limit.as_secs_f32().round()))
    }
}

/// An absolute name, so that no search domain is appended.
fn fqdn(name: &str) -> String {
    if name.ends_with('.') {
        name.to_owned()
    } else {
        format!("{name}.")
    }
}

/// "No such name" and "no such records" are answers (nothing published); anything else is a
/// failure to get one.
fn none_or_failure<T>(e: NetError) -> Lookup<T> {
    if e.is_no_records_found() || e.is_nx_domain() {
        Ok(Vec::new())
    } else {
        Err(format!("DNS failed: {e}"))
    }
}
