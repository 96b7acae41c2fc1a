//! An authoritative DNS server on 127.0.0.1:0 (hickory-server), for MX lookups in tests.

use std::net::Ipv4Addr;
use std::sync::Arc;

use hickory_server::Server;
use hickory_server::proto::rr::rdata::{A, MX, SOA};
use hickory_server::proto::rr::{LowerName, Name, RData, Record};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};

/// A zone served on a loopback UDP port.
pub struct TestDns {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
}

impl TestDns {
    /// Serves `domain` with `MX 10 mx.<domain>` and `mx.<domain> A 127.0.0.1`.
    pub async fn serve_mx(domain: &str) -> Self {
        let origin = Name::from_ascii(format!("{domain}.")).unwrap();
        let mx = Name::from_ascii(format!("mx.{domain}.")).unwrap();
        let mut zone: InMemoryZoneHandler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny);
        let soa = SOA::new(
            mx.clone(),
            Name::from_ascii(format!("hostmaster.{domain}.")).unwrap(),
            1,
            3600,
            600,
            86400,
            60,
        );
        zone.upsert_mut(Record::from_rdata(origin.clone(), 60, RData::SOA(soa)), 1);
        zone.upsert_mut(
            Record::from_rdata(origin.clone(), 60, RData::MX(MX::new(10, mx.clone()))),
            1,
        );
        zone.upsert_mut(
            Record::from_rdata(mx, 60, RData::A(A(Ipv4Addr::LOCALHOST))),
            1,
        );
        let mut catalog = Catalog::new();
        catalog.upsert(LowerName::from(origin), vec![Arc::new(zone)]);
        let mut server = Server::new(catalog);
        let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        server.register_socket(socket);
        tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        Self { addr }
    }
}
