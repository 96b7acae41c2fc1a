//! Connection limits per client. A client is an IPv4 address or an IPv6 /64: one host can
//! have a whole /64 to itself, so counting single IPv6 addresses would not limit it at all.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// When data that began arriving at `started` and has brought `received` bytes falls behind:
/// it gets `grace`, and a second more for every `min_rate` bytes received (0: `grace` only).
/// A client trickling a byte now and then cannot hold its connection past that.
pub fn rate_deadline(started: Instant, grace: Duration, received: u64, min_rate: u64) -> Instant {
    let earned = match min_rate {
        0 => Duration::ZERO,
        rate => Duration::from_secs_f64(received as f64 / rate as f64),
    };
    started + grace + earned
}

/// The network a connection limit counts `ip` in: IPv4 addresses (also IPv4-mapped IPv6 ones)
/// alone, IPv6 addresses by their /64.
pub fn client_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// Open connections per client network, each counted while its [`ClientSlot`] lives.
#[derive(Debug, Default)]
pub struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One connection's place in [`PerClient`], given back when dropped.
#[derive(Debug)]
pub struct ClientSlot {
    network: IpAddr,
    counts: Arc<PerClient>,
}

impl PerClient {
    /// A new, shared counter.
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    /// Counts a connection from `ip`, unless its network has `max` already (`None`).
    pub fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<ClientSlot> {
        let network = client_network(ip);
        let mut counts = self.0.lock().ok()?;
        let n = counts.entry(network).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(ClientSlot {
            network,
            counts: self.clone(),
        })
    }

    /// Connections counted for `ip`'s network now.
    pub fn count(&self, ip: IpAddr) -> usize {
        self.0
            .lock()
            .map_or(0, |c| c.get(&client_network(ip)).copied().unwrap_or(0))
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.0.lock()
            && let Some(n) = counts.get_mut(&self.network)
        {
            *n -= 1;
            if *n == 0 {
                counts.remove(&self.network);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_network(a), client_network(b));
        assert_ne!(client_network(a), client_network(c));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(
            client_network(mapped),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn slots_are_capped_per_network_and_given_back() {
        let per = PerClient::new();
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        let first = per.enter(a, 2).unwrap();
        let _second = per.enter(b, 2).unwrap();
        assert!(per.enter(a, 2).is_none(), "the /64 is full");
        assert!(per.enter("192.0.2.1".parse().unwrap(), 2).is_some());
        drop(first);
        assert_eq!(per.count(b), 1);
        assert!(per.enter(b, 2).is_some());
    }
}
