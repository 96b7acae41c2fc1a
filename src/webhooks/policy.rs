//! Which addresses webhook deliveries may go to (as the hosted service restricts them). A webhook URL is chosen
//! by an API user, so without a guard any account could make the server send requests into
//! its own network: loopback services, RFC 1918 hosts, the cloud metadata endpoint. Targets are
//! checked on the *resolved* address at delivery time (a name can point anywhere, and can be
//! re-pointed after the webhook was created), and the connection goes to the address that was
//! checked, never to a second lookup.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::config::{Config, LoopbackPolicy};

/// A target address the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refused: {ip} is a {class} address; deliveries there need webhooks.allowed_networks to include it"
)]
pub struct Refused {
    /// The address.
    pub ip: IpAddr,
    /// What kind of address it is.
    pub class: &'static str,
}

/// The networks deliveries may reach besides the public internet.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    allowed: Vec<IpNet>,
}

impl NetworkPolicy {
    /// From `webhooks.allowed_networks`, plus loopback when `webhooks.allow_loopback` says so
    /// (`auto`: when the API itself listens on a loopback address, i.e. local development).
    pub fn from_config(config: &Config) -> Self {
        let mut allowed = config.webhooks.allowed_networks.clone();
        let loopback = match config.webhooks.allow_loopback {
            LoopbackPolicy::Auto => config.http.listen.ip().is_loopback(),
            LoopbackPolicy::Always => true,
            LoopbackPolicy::Never => false,
        };
        if loopback {
            allowed.extend(
                ["127.0.0.0/8", "::1/128"]
                    .iter()
                    .filter_map(|n| n.parse::<IpNet>().ok()),
            );
        }
        Self { allowed }
    }

    /// Whether deliveries may go to `ip`.
    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        // An IPv4-mapped address is the IPv4 address, for the allow-list too.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match non_public_class(ip) {
            None => Ok(()),
            Some(_) if self.allowed.iter().any(|net| net.contains(&ip)) => Ok(()),
            Some(class) => Err(Refused { ip, class }),
        }
    }

    /// Checks a URL whose host is an IP address (no lookup happens for those); host names
    /// pass here and are checked when resolved.
    pub fn check_url(&self, url: &Url) -> Result<(), Refused> {
        match url.host() {
            Some(Host::Ipv4(ip)) => self.check(IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.check(IpAddr::V6(ip)),
            Some(Host::Domain(_)) | None => Ok(()),
        }
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn non_public_class(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => v6_class(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(net)) & mask
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: [([u8; 4], u32, &str); 16] = [
        ([0, 0, 0, 0], 8, "unspecified"),
        ([10, 0, 0, 0], 8, "private"),
        ([100, 64, 0, 0], 10, "shared (CGNAT)"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([169, 254, 0, 0], 16, "link-local (cloud metadata)"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 0, 0, 0], 24, "IETF protocol"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay"),
        ([192, 168, 0, 0], 16, "private"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([240, 0, 0, 0], 4, "reserved"),
        ([255, 255, 255, 255], 32, "broadcast"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, class)| *class)
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    let embedded =
        |hi: u16, lo: u16| Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
    // Addresses that carry an IPv4 address are judged as that address: IPv4-mapped
    // (::ffff:0:0/96), IPv4-translated (::ffff:0:0:0/96), IPv4-compatible (::/96, deprecated),
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_class(v4);
    }
    if s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
        return v4_class(embedded(s[6], s[7]));
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if s[..6] == [0; 6] {
        return v4_class(embedded(s[6], s[7])).or(Some("IPv4-compatible"));
    }
    if s[..6] == [0x0064, 0xff9b, 0, 0, 0, 0] {
        return v4_class(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return v4_class(embedded(s[1], s[2]));
    }
    if s[0] == 0x0064 && s[1] == 0xff9b && s[2] == 0x0001 {
        // Local-use NAT64 (RFC 8215): translated by the operator's own gateway.
        return Some("local-use NAT64");
    }
    if s[0] & 0xfe00 == 0xfc00 {
        Some("unique-local")
    } else if s[0] & 0xffc0 == 0xfe80 {
        Some("link-local")
    } else if s[0] & 0xffc0 == 0xfec0 {
        Some("site-local")
    } else if s[0] & 0xff00 == 0xff00 {
        Some("multicast")
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Some("documentation")
    } else {
        None
    }
}

/// The DNS resolver of the delivery client: resolves with the system resolver and refuses the
/// whole name if any of its addresses is refused (a name with one public and one private
/// address could otherwise be steered to the private one).
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Arc<NetworkPolicy>,
}

impl PolicyResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<NetworkPolicy>) -> Self {
        Self { policy }
    }
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            for addr in &addrs {
                policy.check(addr.ip())?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn non_public_addresses_are_classified() {
        for (addr, class) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private"),
            ("172.31.255.255", "private"),
            ("192.168.1.1", "private"),
            ("169.254.169.254", "link-local (cloud metadata)"),
            ("100.64.0.1", "shared (CGNAT)"),
            ("0.0.0.0", "unspecified"),
            ("::", "unspecified"),
            ("::1", "loopback"),
            ("fd00::1", "unique-local"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("64:ff9b::a9fe:a9fe", "link-local (cloud metadata)"),
            ("::ffff:0:a00:1", "private"),
            ("::10.0.0.1", "private"),
            ("::8.8.8.8", "IPv4-compatible"),
            ("64:ff9b:1::1", "local-use NAT64"),
            ("2002:c0a8:0101::1", "private"),
            ("fec0::1", "site-local"),
        ] {
            assert_eq!(non_public_class(ip(addr)), Some(class), "{addr}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "2606:4700::1111",
            "100.128.0.1",
            "2002:0808:0808::1",
            "64:ff9b::808:808",
        ] {
            assert_eq!(non_public_class(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn loopback_is_allowed_automatically_only_when_the_api_listens_on_loopback() {
        let mut config = Config::default();
        let local = NetworkPolicy::from_config(&config);
        assert!(local.check(ip("127.0.0.1")).is_ok());
        assert!(local.check(ip("::1")).is_ok());
        assert!(local.check(ip("10.0.0.1")).is_err());

        config.http.listen = "0.0.0.0:3000".parse().unwrap();
        let public = NetworkPolicy::from_config(&config);
        let refused = public.check(ip("127.0.0.1")).unwrap_err();
        assert!(refused.to_string().contains("loopback"), "{refused}");

        config.webhooks.allowed_networks = vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let allowed = NetworkPolicy::from_config(&config);
        assert!(allowed.check(ip("127.0.0.1")).is_ok());
        assert!(allowed.check(ip("10.9.9.9")).is_ok());
        assert!(allowed.check(ip("::ffff:10.9.9.9")).is_ok());
        assert!(allowed.check(ip("192.168.0.1")).is_err());

        config.http.listen = "127.0.0.1:3000".parse().unwrap();
        config.webhooks.allowed_networks.clear();
        config.webhooks.allow_loopback = LoopbackPolicy::Never;
        assert!(
            NetworkPolicy::from_config(&config)
                .check(ip("127.0.0.1"))
                .is_err()
        );
    }

    #[test]
    fn ip_literal_urls_are_checked_and_names_left_for_resolution() {
        let mut config = Config::default();
        config.http.listen = "0.0.0.0:3000".parse().unwrap();
        let policy = NetworkPolicy::from_config(&config);
        assert!(
            policy
                .check_url(&Url::parse("http://169.254.169.254/latest").unwrap())
                .is_err()
        );
        assert!(
            policy
                .check_url(&Url::parse("http://[::1]:8080/").unwrap())
                .is_err()
        );
        assert!(
            policy
                .check_url(&Url::parse("https://hooks.example.com/").unwrap())
                .is_ok()
        );
        assert!(
            policy
                .check_url(&Url::parse("https://93.184.216.34/").unwrap())
                .is_ok()
        );
    }
}
