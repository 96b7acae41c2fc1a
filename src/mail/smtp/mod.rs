//! The SMTP listener: accepts connections (at most `smtp.max_sessions` at once, and
//! `smtp.max_sessions_per_ip` from one client: an IPv4 address or an IPv6 /64), serves each
//! with a [`session::Session`], upgrades to TLS on STARTTLS when a certificate is configured,
//! and stops with the rest of the server.

pub mod data;
pub mod replies;
pub mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use self::session::{Backend, Ending, Lookup, Session, SessionConfig};
use crate::budget::MemoryBudget;
use crate::config::SmtpConfig;
use crate::domain::outbound::RETURN_PATH_PREFIX;
use crate::domain::sender_list;
use crate::mail::MailError;
use crate::mail::ingest::{Delivery, Envelope, Ingest, Recipient};
use crate::metrics::Metrics;
use crate::net::{ClientSlot, PerClient};
use crate::store::{Failure, inboxes, messages, sender_lists};

/// Sessions still running at shutdown get this long to notice and say goodbye.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// A TLS handshake must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The real backend: inboxes from the store, delivery through [`Ingest::ingest`].
#[derive(Clone)]
pub struct StoreBackend {
    ingest: Ingest,
}

impl Backend for StoreBackend {
    fn recipient(
        &self,
        address: &str,
        mail_from: &str,
    ) -> impl Future<Output = Result<Lookup, Failure>> + Send {
        let store = self.ingest.store().clone();
        let address = address.to_owned();
        // The envelope sender is all RCPT knows of the sender: its block lists are checked now,
        // allow lists at the end of DATA, where the `From` header can also let it in.
        let senders = sender_list::candidates([mail_from]);
        async move {
            let lookup = address.clone();
            let found = store
                .read(move |c| {
                    if let Some((inbox, account)) = inboxes::find_receiving_inbox(c, &lookup)? {
                        let blocked = !senders.is_empty()
                            && sender_lists::screen(c, account, inbox, &senders)?.blocked;
                        return Ok(Some((inbox, account, None, blocked)));
                    }
                    // A message's own return path: delivery reports about it come back here
                    // (whoever relays them: no list applies).
                    if !lookup.starts_with(RETURN_PATH_PREFIX) {
                        return Ok(None);
                    }
                    Ok(messages::return_path_owner(c, &lookup)?
                        .map(|(message, inbox, account)| (inbox, account, Some(message), false)))
                })
                .await?;
            Ok(match found {
                None => Lookup::Unknown,
                Some((.., true)) => Lookup::Blocked,
                Some((inbox_id, account_id, report_for, false)) => Lookup::Found(Recipient {
                    address,
                    inbox_id,
                    account_id,
                    report_for,
                }),
            })
        }
    }

    fn deliver(
        &self,
        envelope: Envelope,
        raw: Vec<u8>,
    ) -> impl Future<Output = Result<Delivery, MailError>> + Send {
        let ingest = self.ingest.clone();
        async move { ingest.ingest(envelope, raw).await }
    }
}

struct Shared {
    backend: StoreBackend,
    config: SessionConfig,
    tls: Option<TlsAcceptor>,
}

/// A bound listener, not yet serving.
pub struct SmtpServer {
    listener: std::net::TcpListener,
    addr: SocketAddr,
    max_sessions: usize,
    max_per_ip: usize,
    shared: Arc<Shared>,
}

impl SmtpServer {
    /// Binds `smtp.listen` and loads the STARTTLS certificate, if configured; accepted mail
    /// goes to `ingest`, and messages being received are counted in `memory`.
    pub fn bind(
        config: &SmtpConfig,
        ingest: Ingest,
        memory: MemoryBudget,
        metrics: Metrics,
    ) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(config.listen)
            .with_context(|| format!("cannot listen for SMTP on {}", config.listen))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let tls = tls_acceptor(config)?;
        let session = SessionConfig {
            hostname: config.hostname.clone(),
            max_message_size: config.max_message_size,
            max_recipients: config.max_recipients,
            max_command_line: config.max_command_line,
            idle_timeout: Duration::from_secs(config.idle_timeout_secs),
            data_timeout: Duration::from_secs(config.data_timeout_secs),
            min_data_rate: config.min_data_rate,
            starttls: tls.is_some(),
            memory,
            metrics,
        };
        Ok(Self {
            listener,
            addr,
            max_sessions: config.max_sessions,
            max_per_ip: config.max_sessions_per_ip,
            shared: Arc::new(Shared {
                backend: StoreBackend { ingest },
                config: session,
                tls,
            }),
        })
    }

    /// The bound address (the real port when configured with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Accepts and serves connections until `shutdown`; then sessions are told (421) and
    /// given a moment to finish.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> anyhow::Result<()> {
        let listener = TcpListener::from_std(self.listener)?;
        let slots = Arc::new(Semaphore::new(self.max_sessions));
        let per_ip = PerClient::new();
        let mut sessions = JoinSet::new();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                Some(_) = sessions.join_next() => {}
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let ip_slot = per_ip.enter(peer.ip(), self.max_per_ip);
                        match (slots.clone().try_acquire_owned(), ip_slot) {
                            (Ok(slot), Some(ip_slot)) => {
                                let shared = self.shared.clone();
                                let shutdown = shutdown.clone();
                                sessions.spawn(serve(stream, peer, shared, shutdown, (slot, ip_slot)));
                            }
                            _ => {
                                tokio::spawn(turn_away(stream));
                            }
                        }
                    }
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        log::error!("accepting an SMTP connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
            }
        }
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while sessions.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            sessions.abort_all();
        }
        Ok(())
    }
}

async fn turn_away(mut stream: TcpStream) {
    let _ = stream
        .write_all(b"421 4.3.2 Too many connections, try again later\r\n")
        .await;
    let _ = stream.shutdown().await;
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    _slots: (OwnedSemaphorePermit, ClientSlot),
) {
    shared.config.metrics.smtp_session();
    let _ = stream.set_nodelay(true);
    let ip = Some(peer.ip());
    let plain = Session::new(
        stream,
        &shared.backend,
        &shared.config,
        ip,
        false,
        shutdown.clone(),
    );
    let stream = match plain.run().await {
        Ok(Ending::Closed) => return,
        Ok(Ending::StartTls(stream)) => stream,
        Err(e) => {
            log::debug!("SMTP session with {peer} ended: {e}");
            return;
        }
    };
    let Some(acceptor) = &shared.tls else {
        return;
    };
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            log::debug!("TLS handshake with {peer} failed: {e}");
            return;
        }
        Err(_) => return,
    };
    let secure = Session::new(tls, &shared.backend, &shared.config, ip, true, shutdown);
    if let Err(e) = secure.run().await {
        log::debug!("SMTP session with {peer} ended: {e}");
    }
}

fn tls_acceptor(config: &SmtpConfig) -> anyhow::Result<Option<TlsAcceptor>> {
    if config.tls_certificate.as_os_str().is_empty() {
        return Ok(None);
    }
    let certs = CertificateDer::pem_file_iter(&config.tls_certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("cannot read {}", config.tls_certificate.display()))?;
    let key = PrivateKeyDer::from_pem_file(&config.tls_private_key)
        .with_context(|| format!("cannot read {}", config.tls_private_key.display()))?;
    let server = starttls_config(certs, key)
        .context("the STARTTLS certificate and key do not fit together")?;
    Ok(Some(TlsAcceptor::from(Arc::new(server))))
}

/// The TLS side of STARTTLS for this certificate chain and key; an error when the key is not
/// the certificate's (also used by `agentsend doctor`).
pub fn starttls_config(
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<rustls::ServerConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
}
