//! Connection hygiene, so that a few hostile clients cannot take the API (or the process's
//! file descriptors and memory) from everyone else:
//! - each client (an IPv4 address or an IPv6 /64) may hold `http.max_connections_per_ip`
//!   connections; more are closed as soon as they are accepted ([`ConnectionGate`]);
//! - the request head must arrive within `http.header_timeout_secs` (actix's own timer) and the
//!   body within `http.body_timeout_secs` — `http.unauthenticated_body_timeout_secs` for a
//!   request without a verified key — or longer only while it keeps arriving at
//!   `http.min_body_rate` ([`limit_body`]); a body that falls behind ends in `408`.
//!
//! The total is bounded by actix's per-worker connection limit (set in `app.rs`).

use std::any::Any;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::dev::{Extensions, Payload, ServiceRequest};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::rt::net::TcpStream;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use crate::net::{PerClient, rate_deadline};

/// Counts connections per client and closes those over the cap.
#[derive(Clone)]
pub struct ConnectionGate {
    per_client: Arc<PerClient>,
    max_per_client: usize,
}

impl ConnectionGate {
    /// A gate allowing `max_per_client` connections per client; `None` means no per-client cap
    /// (behind a reverse proxy every connection comes from the proxy, which must do it).
    pub fn new(max_per_client: Option<usize>) -> Self {
        Self {
            per_client: PerClient::new(),
            max_per_client: max_per_client.unwrap_or(usize::MAX),
        }
    }

    /// actix's `on_connect` hook: the connection's slot lives in its extensions (given back
    /// when it closes); one over the cap is shut down before a byte of it is read.
    pub fn on_connect(&self, connection: &dyn Any, data: &mut Extensions) {
        let Some(stream) = connection.downcast_ref::<TcpStream>() else {
            return;
        };
        let Ok(peer) = stream.peer_addr() else {
            return;
        };
        match self.per_client.enter(peer.ip(), self.max_per_client) {
            Some(slot) => {
                data.insert(slot);
            }
            None => {
                log::debug!("closing a connection from {}: too many open", peer.ip());
                // Both ways: the dispatcher reads end-of-stream at once and closes it.
                let _ = socket2::SockRef::from(stream).shutdown(Shutdown::Both);
            }
        }
    }
}

/// How long a request body may take: `grace`, plus a second for every `min_rate` bytes that
/// have arrived (0: no extension).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline {
    /// Time any body gets, counted from when the request head was read.
    pub grace: Duration,
    /// Bytes per second that buy more time beyond it.
    pub min_rate: u64,
}

/// Puts `deadline` on the request's body: reading it fails with a timeout once the body falls
/// behind (see [`is_timeout`]). A request without a body (no `Content-Length` above zero, no
/// `Transfer-Encoding`) has nothing to wait for and is left as it is.
pub fn limit_body(req: &mut ServiceRequest, deadline: BodyDeadline) {
    let headers = req.headers();
    let has_body = headers.contains_key(TRANSFER_ENCODING)
        || headers
            .get(CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
    if !has_body {
        return;
    }
    let inner = req.take_payload();
    let started = Instant::now();
    let timed = TimedBody {
        inner,
        started,
        deadline,
        received: 0,
        timer: Box::pin(tokio::time::sleep_until(started + deadline.grace)),
        expired: false,
    };
    let boxed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(timed);
    req.set_payload(Payload::from(boxed));
}

/// Whether a body error is [`limit_body`]'s deadline.
pub fn is_timeout(e: &PayloadError) -> bool {
    matches!(e, PayloadError::Io(io) if io.kind() == io::ErrorKind::TimedOut)
}

struct TimedBody {
    inner: Payload,
    started: Instant,
    deadline: BodyDeadline,
    received: u64,
    timer: Pin<Box<Sleep>>,
    expired: bool,
}

impl Stream for TimedBody {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.expired {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.received = this.received.saturating_add(chunk.len() as u64);
                let (grace, rate) = (this.deadline.grace, this.deadline.min_rate);
                let due = rate_deadline(this.started, grace, this.received, rate);
                this.timer.as_mut().reset(due);
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.expired = true;
                    Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request body arrived too slowly",
                    )))))
                }
                Poll::Pending => Poll::Pending,
            },
            other => other,
        }
    }
}
