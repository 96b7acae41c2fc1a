//! An authoritative DNS server on 127.0.0.1:0 (hickory-server) for the whole name space: every
//! name it has no record for does not exist. Tests publish records while it serves.

use std::net::Ipv4Addr;
use std::sync::Arc;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, AAAA, MX, PTR, SOA, TXT};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};

/// A root zone served on a loopback UDP port.
#[derive(Clone)]
pub struct TestDns {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    zone: Arc<InMemoryZoneHandler>,
}

fn name(s: &str) -> Name {
    Name::from_ascii(format!("{}.", s.trim_end_matches('.'))).unwrap()
}

impl TestDns {
    /// Serves an empty root zone (every name is NXDOMAIN until published).
    pub async fn start() -> Self {
        let root = Name::root();
        let mut zone =
            InMemoryZoneHandler::empty(root.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        // A short negative TTL: records published later are not hidden by caches for long.
        let soa = SOA::new(
            name("ns.test"),
            name("hostmaster.test"),
            1,
            3600,
            600,
            86400,
            1,
        );
        zone.upsert_mut(Record::from_rdata(root.clone(), 1, RData::SOA(soa)), 1);
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::from(root), vec![zone.clone()]);
        let mut server = Server::new(catalog);
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        server.register_socket(socket);
        tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Self { addr, zone }
    }

    /// Serves `MX 10 mx.<domain>` and `mx.<domain> A 127.0.0.1`.
    pub async fn serve_mx(domain: &str) -> Self {
        let dns = Self::start().await;
        dns.set_mx(domain, &format!("mx.{domain}")).await;
        dns.set_a(&format!("mx.{domain}"), Ipv4Addr::LOCALHOST)
            .await;
        dns
    }

    async fn replace(&self, owner: &str, kind: RecordType, data: Vec<RData>) {
        let owner = name(owner);
        self.zone
            .records_mut()
            .await
            .remove(&RrKey::new(LowerName::from(&owner), kind));
        for rdata in data {
            self.zone
                .upsert(Record::from_rdata(owner.clone(), 1, rdata), 1)
                .await;
        }
    }

    /// Publishes these TXT records at `owner` (replacing any), each split into strings of
    /// at most 255 bytes as DNS requires.
    pub async fn set_txt(&self, owner: &str, values: &[&str]) {
        let data = values
            .iter()
            .map(|v| {
                let strings = v
                    .as_bytes()
                    .chunks(255)
                    .map(|c| String::from_utf8(c.to_vec()).unwrap())
                    .collect();
                RData::TXT(TXT::new(strings))
            })
            .collect();
        self.replace(owner, RecordType::TXT, data).await;
    }

    /// Publishes `MX 10 host` at `owner` (replacing any).
    pub async fn set_mx(&self, owner: &str, host: &str) {
        self.replace(
            owner,
            RecordType::MX,
            vec![RData::MX(MX::new(10, name(host)))],
        )
        .await;
    }

    /// Publishes an A record at `owner` (replacing any).
    pub async fn set_a(&self, owner: &str, ip: Ipv4Addr) {
        self.replace(owner, RecordType::A, vec![RData::A(A(ip))])
            .await;
    }

    /// Publishes an AAAA record at `owner` (replacing any).
    pub async fn set_aaaa(&self, owner: &str, ip: std::net::Ipv6Addr) {
        self.replace(owner, RecordType::AAAA, vec![RData::AAAA(AAAA(ip))])
            .await;
    }

    /// Publishes the PTR record of `ip` (reverse DNS), naming `host` (replacing any).
    pub async fn set_ptr(&self, ip: std::net::IpAddr, host: &str) {
        let owner = Name::from(ip).to_ascii();
        self.replace(&owner, RecordType::PTR, vec![RData::PTR(PTR(name(host)))])
            .await;
    }
}

/// A UDP "DNS server" that never answers, for timeouts.
pub async fn silent_dns() -> (std::net::SocketAddr, tokio::net::UdpSocket) {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    (socket.local_addr().unwrap(), socket)
}
