//! `[http]`: the HTTP API listener, its body limits, timeouts and connection limits.

use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address the API listens on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest JSON request body in bytes (4 MiB, as the hosted service has it).
    pub json_body_limit: usize,
    /// Largest multipart request body in bytes (11 MiB, as the hosted service has it).
    pub multipart_body_limit: usize,
    /// Take the client address from `Forwarded` / `X-Forwarded-For` (only behind a proxy
    /// you control); it keys the rate limit of unauthenticated requests.
    pub trust_proxy_headers: bool,
    /// Seconds in-flight requests get to finish on shutdown.
    pub shutdown_timeout_secs: u64,
    /// Seconds a client has to send a request's head (line and headers), counted from the
    /// connection or from the previous response; later: `408` and the connection closed.
    pub header_timeout_secs: u64,
    /// Seconds an idle keep-alive connection stays open.
    pub keep_alive_secs: u64,
    /// Seconds a request body with a verified API key may take to arrive, plus a second for
    /// every `min_body_rate` bytes received; a body that falls behind gets `408`.
    pub body_timeout_secs: u64,
    /// The same for requests without a verified key (public routes, unknown keys): such a
    /// client never holds a connection long.
    pub unauthenticated_body_timeout_secs: u64,
    /// Bytes per second that extend a body's time beyond its timeout (large uploads).
    pub min_body_rate: u64,
    /// Connections open at once, in all; past it new ones wait in the listen queue.
    pub max_connections: usize,
    /// Connections open at once from one client (an IPv4 address or an IPv6 /64); more are
    /// closed at once. Not applied with `trust_proxy_headers` (the proxy is the one client).
    pub max_connections_per_ip: usize,
    /// The server's address as clients reach it (`https://mail.example.com`, behind a proxy),
    /// used in links it hands out; empty means `http://` and the address it listens on.
    pub public_url: String,
    /// Serve the web interface at `/` and `/ui/` (off: those paths are `404` like any
    /// unknown route).
    pub ui: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            workers: 0,
            json_body_limit: 4 * 1024 * 1024,
            multipart_body_limit: 11 * 1024 * 1024,
            trust_proxy_headers: false,
            shutdown_timeout_secs: 30,
            header_timeout_secs: 10,
            keep_alive_secs: 5,
            body_timeout_secs: 30,
            unauthenticated_body_timeout_secs: 5,
            min_body_rate: 16 * 1024,
            max_connections: 10_000,
            max_connections_per_ip: 256,
            public_url: String::new(),
            ui: true,
        }
    }
}

impl HttpConfig {
    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if self.json_body_limit < 1024 {
            return fail("http.json_body_limit", "must be at least 1024 bytes");
        }
        if self.multipart_body_limit < 1024 {
            return fail("http.multipart_body_limit", "must be at least 1024 bytes");
        }
        if self.header_timeout_secs == 0
            || self.body_timeout_secs == 0
            || self.unauthenticated_body_timeout_secs == 0
        {
            return fail(
                "http",
                "the header and body timeouts must be at least 1 second",
            );
        }
        if self.max_connections == 0 || self.max_connections_per_ip == 0 {
            return fail("http", "the connection limits must be at least 1");
        }
        if !self.public_url.is_empty() {
            let ok = url::Url::parse(&self.public_url).is_ok_and(|u| {
                matches!(u.scheme(), "http" | "https")
                    && u.host().is_some()
                    && u.query().is_none()
                    && u.fragment().is_none()
            });
            if !ok {
                return fail(
                    "http.public_url",
                    "must be an http:// or https:// URL without query or fragment",
                );
            }
        }
        Ok(())
    }
}
