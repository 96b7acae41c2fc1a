//! The one start-up path, shared by `agentsend serve` and the tests: open the database, create
//! the default account on first start, bind the HTTP and SMTP listeners (port 0 allowed, real
//! ports reported), then run and supervise everything until shutdown.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use anyhow::Context;
use tokio::sync::watch;

use crate::budget::MemoryBudget;
use crate::config::{Config, DatabaseLocation};
use crate::custom_domains::{self, CustomDomains, DomainChecker, DomainChecks};
use crate::dns::Dns;
use crate::domain::account::AccountName;
use crate::domain::links::{ClaimLinks, DownloadLinks, ViewLinks};
use crate::domain::random;
use crate::domain::sandbox::SandboxPolicy;
use crate::domain::{
    Account, ApiKeySecret, BootId, Clock, EmailAddress, Plan, SystemClock, Timestamp,
};
use crate::drafts::{self, DraftWorker, Drafts, ScheduledSends};
use crate::events::EventHub;
use crate::limits::Limits;
use crate::mail::dkim::DkimKey;
use crate::mail::ingest::Ingest;
use crate::mail::outbound::{self, SendWorker, Sends};
use crate::mail::send::Sending;
use crate::mail::smtp::SmtpServer;
use crate::metrics::Metrics;
use crate::runner::{Leases, Runner, RunnerSettings};
use crate::seed::{Seed, SeedSetup};
use crate::state::{AppState, FixtureAccess};
use crate::store::accounts::{self, NewAccount};
use crate::store::{Engine, Failure, ServeLock, Store, StoreOptions};
use crate::store::{idempotency, jobs as jobs_store, webhooks as webhooks_store};
use crate::store::{retention, settings};
use crate::supervisor::{Components, Handles, Supervisor};
use crate::webhooks::policy::NetworkPolicy;
use crate::webhooks::worker::{Deliveries, DeliveryWorker};
use crate::{backup, http, jobs, mcp, webhooks};

/// The account created on first start, with its key (to print once).
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The account.
    pub account: Account,
    /// Its first API key.
    pub api_key: ApiKeySecret,
    /// The inboxes the seed created, their ids by address.
    pub seeded_inboxes: BTreeMap<String, String>,
}

/// What a start may be given besides the configuration.
#[derive(Default)]
pub struct StartOptions {
    /// The API key of the default account, when this start creates it (a fresh database);
    /// a random one otherwise.
    pub api_key: Option<ApiKeySecret>,
    /// A test fixture's token: turns on `/_fixture/*`, guarded by it (needs a fresh database,
    /// whose default account and key a reset keeps).
    pub fixture_token: Option<String>,
    /// What a fresh database starts with besides the default account (and a fixture's reset
    /// returns to).
    pub seed: Option<Seed>,
}

/// A built server, listening but not yet serving.
pub struct Application {
    server: actix_web::dev::Server,
    /// The metrics' own listener (`metrics.listen`), and its address.
    metrics_server: Option<(actix_web::dev::Server, SocketAddr)>,
    http_addr: SocketAddr,
    state: AppState,
    bootstrap: Option<Bootstrap>,
    webhook_worker: DeliveryWorker,
    send_worker: SendWorker,
    domain_checker: DomainChecker,
    draft_worker: DraftWorker,
    smtp: SmtpServer,
    tasks: Handles,
    lock: Option<ServeLock>,
}

/// Opens the configured database (also used by the administration commands).
pub fn open_store(config: &Config) -> Result<Store, Failure> {
    let options = StoreOptions {
        pool_size: config.database.pool_size,
        busy_timeout: Duration::from_millis(config.database.busy_timeout_ms),
    };
    match config.database.location() {
        DatabaseLocation::Sqlite(path) => Store::open(path, &options),
        DatabaseLocation::Postgres(url) => {
            let ca_file = &config.database.ca_file;
            let ca_file = (!ca_file.as_os_str().is_empty()).then_some(ca_file.as_path());
            Store::open_postgres(url, &options, ca_file)
        }
    }
}

/// The makers of the links this server hands out: under the configured public URL, else the
/// address the API is bound to (`localhost` when bound to every interface). Their keys are made
/// once and kept in the database, so links survive restarts.
async fn links(
    store: &Store,
    config: &Config,
    http_addr: SocketAddr,
) -> anyhow::Result<(DownloadLinks, ClaimLinks, ViewLinks)> {
    let base = if config.http.public_url.is_empty() {
        if http_addr.ip().is_unspecified() {
            format!("http://localhost:{}", http_addr.port())
        } else {
            format!("http://{http_addr}")
        }
    } else {
        config.http.public_url.clone()
    };
    let candidates = (
        random::bytes::<32>(),
        random::bytes::<32>(),
        random::bytes::<32>(),
    );
    let (download_key, claim_key, view_key) = store
        .write(move |tx| {
            Ok((
                settings::get_or_insert(tx, "attachment_link_key", &candidates.0)?,
                settings::get_or_insert(tx, "claim_link_key", &candidates.1)?,
                settings::get_or_insert(tx, "message_view_key", &candidates.2)?,
            ))
        })
        .await
        .context("cannot load the link keys")?;
    Ok((
        DownloadLinks::new(
            &base,
            download_key,
            Duration::from_secs(config.attachments.link_ttl_secs),
        ),
        ClaimLinks::new(&base, claim_key),
        ViewLinks::new(view_key, VIEW_TTL),
    ))
}

/// How long the web interface's signed view of a message's HTML stays valid (the interface
/// asks for a fresh one each time it shows a message).
const VIEW_TTL: Duration = Duration::from_secs(600);

/// Takes up what earlier runs of the server left half done when they died: claimed jobs and
/// webhook deliveries become due at once (rather than when their leases run out), and
/// `Idempotency-Key` reservations of requests that died with them are released (their changes
/// never committed), so that a retry runs at once instead of getting `409`s.
async fn take_over_orphans(store: &Store, me: &BootId, now: Timestamp) -> anyhow::Result<()> {
    let me = me.clone();
    let (jobs, deliveries, keys) = store
        .write(move |tx| {
            Ok((
                jobs_store::take_over_orphans(tx, &me, now)?,
                webhooks_store::take_over_orphans(tx, &me, now)?,
                idempotency::release_orphans(tx, &me)?,
            ))
        })
        .await
        .context("cannot take over the work of an earlier run")?;
    if jobs + deliveries + keys > 0 {
        log::warn!(
            "an earlier run stopped without finishing {jobs} jobs, {deliveries} webhook \
             deliveries and {keys} requests with an Idempotency-Key; taken up now"
        );
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard one (1,024 is a common soft default, far
/// below what the connection limits allow), and warns when even that cannot cover the
/// configured connections: past it, accepting fails for everyone, not just for the client that
/// is too greedy.
fn raise_fd_limit(config: &Config) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            log::warn!("cannot raise the open-file limit: {e}");
            return;
        }
    };
    // Connections, SMTP sessions, database connections, and a margin for the rest.
    let needed = config.http.max_connections
        + config.smtp.max_sessions
        + config.database.pool_size as usize
        + 256;
    if (limit as usize) < needed {
        log::warn!(
            "the open-file limit is {limit}, less than the {needed} the connection limits can \
             use; lower http.max_connections or raise the limit (LimitNOFILE= in a systemd unit)"
        );
    }
}

/// Scheduled sends of drafts under way at once.
const DRAFT_SEND_CONCURRENCY: usize = 4;

/// Custom domains checked at once in the background.
const DOMAIN_CHECK_CONCURRENCY: usize = 8;
/// A background domain check not recorded by then is taken up again (at least; longer when
/// the DNS timeout is).
const DOMAIN_CHECK_LEASE: Duration = Duration::from_secs(120);

/// The shared domain's DKIM key, if one is configured; its DNS record is logged.
fn shared_domain_dkim(config: &Config) -> anyhow::Result<Option<DkimKey>> {
    let path = &config.mail.dkim_private_key;
    if path.as_os_str().is_empty() {
        return Ok(None);
    }
    let pem = std::fs::read(path)
        .with_context(|| format!("cannot read mail.dkim_private_key {}", path.display()))?;
    let key = DkimKey::from_pem(
        &pem,
        config.mail.shared_domain.as_str(),
        &config.mail.dkim_selector,
    )
    .map_err(|e| anyhow::anyhow!("mail.dkim_private_key {}: {e}", path.display()))?;
    let (name, value) = key.dns_record();
    log::info!(
        "DKIM signing mail from {}; publish: {name}. IN TXT {}",
        key.domain(),
        crate::domain::custom_domain::txt_strings(&value)
    );
    Ok(Some(key))
}

impl Application {
    /// Builds with the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds with the given clock (tests move time forward with a manual one).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        Self::build_with_options(config, clock, StartOptions::default()).await
    }

    /// Builds with the given clock and start options.
    pub async fn build_with_options(
        config: Config,
        clock: Arc<dyn Clock>,
        options: StartOptions,
    ) -> anyhow::Result<Self> {
        // One server per SQLite file; any number of nodes share a PostgreSQL database.
        let lock = match config.database.location() {
            DatabaseLocation::Sqlite(path) => {
                Some(ServeLock::acquire(path).map_err(anyhow::Error::msg)?)
            }
            DatabaseLocation::Postgres(_) => None,
        };
        raise_fd_limit(&config);
        if config.backup.scheduled() {
            std::fs::create_dir_all(&config.backup.dir).with_context(|| {
                format!("cannot create backup.dir {}", config.backup.dir.display())
            })?;
        }
        if let DatabaseLocation::Sqlite(path) = config.database.location()
            && path.is_file()
        {
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || retention::enable_incremental_vacuum(&path))
                .await
                .context("the auto-vacuum switch panicked")?
                .context("cannot switch the database to incremental auto-vacuum")?;
        }
        let store = open_store(&config)
            .with_context(|| format!("cannot open the database {}", config.database.describe()))?;
        let default_account = NewAccount {
            name: AccountName::parse("Default account")?,
            email: EmailAddress::parse(&format!("admin@{}", config.mail.shared_domain))?,
            plan: Plan::Free,
            daily_send_limit: config.limits.account_daily_send_limit,
        };
        let reset_account = default_account.clone();
        let now = clock.now();
        let boot = BootId::new();
        // The only server on an SQLite file takes up at once what an earlier run of it left
        // claimed. Nodes sharing PostgreSQL cannot tell a dead node's claims from a live one's:
        // there a claim is taken over when its lease runs out.
        if store.engine() == Engine::Sqlite {
            take_over_orphans(&store, &boot, now).await?;
        }
        let (api_key, fixture_token) = (options.api_key, options.fixture_token);
        if let (Some(seed), Some(key)) = (&options.seed, &api_key)
            && seed.uses_key(key)
        {
            anyhow::bail!("the seed gives another account the default account's --api-key");
        }
        let key_given = api_key.is_some();

        let seed_setup = SeedSetup {
            shared_domain: config.mail.shared_domain.clone(),
            inbox_daily_send_limit: config.limits.inbox_daily_send_limit,
            account_daily_send_limit: config.limits.account_daily_send_limit,
        };
        let seed = options.seed;
        let (seed_for_start, setup) = (seed.clone(), seed_setup.clone());
        // The default account, its key and the seed, all or nothing, on a fresh database only.
        let bootstrap = store
            .write(move |c| {
                let Some((account, api_key)) =
                    accounts::bootstrap(c, &default_account, api_key.as_ref(), now)?
                else {
                    return Ok(None);
                };
                let inboxes = match &seed_for_start {
                    Some(seed) => seed.apply(c, account.id, &setup, now)?,
                    None => BTreeMap::new(),
                };
                Ok(Some(Bootstrap {
                    account,
                    api_key,
                    seeded_inboxes: inboxes,
                }))
            })
            .await?;
        if bootstrap.is_none() {
            if seed.is_some() {
                log::warn!("the database is not new: the seed file is not applied");
            }
            if key_given {
                log::warn!("the database is not new: --api-key is not applied");
            }
        }

        let listener = TcpListener::bind(config.http.listen)
            .with_context(|| format!("cannot listen on {}", config.http.listen))?;
        let http_addr = listener.local_addr()?;
        let workers = match config.http.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let shutdown_timeout = config.http.shutdown_timeout_secs;
        let network_policy = Arc::new(NetworkPolicy::from_config(&config));
        let (links, claims, views) = links(&store, &config, http_addr).await?;
        let claims = Arc::new(claims);
        let memory = MemoryBudget::new(config.limits.max_buffered_bytes);
        let dkim = shared_domain_dkim(&config)?.map(Arc::new);
        let dns = Dns::from_config(&config)?;
        let dns_setup = Arc::new(config.dns_setup().map_err(anyhow::Error::msg)?);
        let sandbox = Arc::new(SandboxPolicy {
            limits: config.sandbox.limits(),
            claims: claims.clone(),
        });
        let limits = Arc::new(Limits {
            sandbox: sandbox.clone(),
            max_domains_per_account: config.domains.max_per_account,
        });
        let fixture = match (fixture_token, &bootstrap) {
            (Some(token), Some(b)) => Some(Arc::new(FixtureAccess {
                token,
                account_id: b.account.id,
                account: reset_account,
                key_hash: b.api_key.hash(),
                seed: seed.map(|seed| (seed, seed_setup)),
            })),
            (Some(_), None) => anyhow::bail!("a fixture needs a fresh database"),
            (None, _) => None,
        };
        let ingest = Ingest::new(
            store.clone(),
            clock.clone(),
            config.smtp.hostname.clone(),
            config.mail.feedback_loop_senders.clone(),
            config.smtp.not_allowed,
            config.checks_inbound_mail().then(|| dns.clone()),
        );
        let sending = Sending::new(
            store.clone(),
            clock.clone(),
            config.mail.shared_domain.to_string(),
            dkim.clone(),
            limits.clone(),
            config.outbound.forward_as,
        );
        // The webhook client uses rustls with ring; the provider must be chosen before any
        // client is built (a no-op if it already was).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let metrics = if config.metrics.enabled {
            Metrics::new()?
        } else {
            Metrics::disabled()
        };
        if let Some(writer) = metrics.writer() {
            store.attach_metrics(writer);
        }
        let deliveries = Deliveries::new(
            store.clone(),
            config.webhooks.clone(),
            network_policy.clone(),
        )
        .context("cannot build the webhook HTTP client")?
        .with_metrics(metrics.clone());
        let webhook_worker = Runner::new(
            deliveries,
            Leases::new(
                boot.clone(),
                clock.clone(),
                Duration::from_millis(config.webhooks.lease_ms),
            ),
            RunnerSettings {
                concurrency: config.webhooks.concurrency,
                shutdown_grace: webhooks::worker::SHUTDOWN_GRACE,
            },
            store.wakers().clone(),
        );
        let sends = Sends::new(
            store.clone(),
            config.outbound.clone(),
            &dns,
            ingest.clone(),
            config.smtp.hostname.clone(),
            sandbox.clone(),
        )
        .context("cannot set up outgoing mail")?
        .with_metrics(metrics.clone());
        let send_worker = Runner::new(
            sends,
            Leases::new(
                boot.clone(),
                clock.clone(),
                Duration::from_secs(config.outbound.lease_secs),
            ),
            RunnerSettings {
                concurrency: config.outbound.concurrency,
                shutdown_grace: outbound::SHUTDOWN_GRACE,
            },
            store.wakers().clone(),
        );
        let smtp = SmtpServer::bind(&config.smtp, ingest, memory.clone(), metrics.clone())?;
        let domains = CustomDomains::new(
            store.clone(),
            clock.clone(),
            dns.clone(),
            dns_setup.clone(),
            config.domains.clone(),
            limits.clone(),
        );
        let domain_checker = Runner::new(
            DomainChecks::new(domains.clone()),
            // A check is three lookups at once, each of which may be tried twice.
            Leases::new(
                boot.clone(),
                clock.clone(),
                DOMAIN_CHECK_LEASE.max(Duration::from_secs(
                    config.dns.timeout_secs.saturating_mul(4),
                )),
            ),
            RunnerSettings {
                concurrency: DOMAIN_CHECK_CONCURRENCY,
                shutdown_grace: custom_domains::SHUTDOWN_GRACE,
            },
            store.wakers().clone(),
        );
        let drafts = Drafts::new(store.clone(), clock.clone(), sending.clone());
        let draft_worker = Runner::new(
            ScheduledSends::new(drafts.clone()),
            Leases::new(
                boot.clone(),
                clock.clone(),
                Duration::from_secs(config.outbound.lease_secs),
            ),
            RunnerSettings {
                concurrency: DRAFT_SEND_CONCURRENCY,
                shutdown_grace: drafts::SHUTDOWN_GRACE,
            },
            store.wakers().clone(),
        );
        let events = EventHub::start(store.clone(), clock.clone(), config.events.clone())
            .await
            .context("cannot read the event log")?;
        let state = AppState {
            events,
            config: Arc::new(config),
            store,
            clock,
            network_policy: network_policy.clone(),
            links: Arc::new(links),
            views: Arc::new(views),
            claims,
            sandbox,
            memory,
            dkim,
            dns,
            dns_setup,
            boot,
            sending,
            domains,
            drafts,
            limits,
            fixture,
            components: Components::new(),
            metrics,
        };
        let app_state = state.clone();
        let h = &state.config.http;
        // Behind a proxy every connection comes from the proxy: the per-client cap is its job.
        let gate = http::conn::ConnectionGate::new(
            (!h.trust_proxy_headers).then_some(h.max_connections_per_ip),
        );
        let mcp = mcp::transport(app_state.clone());
        let server = HttpServer::new(move || http::app(app_state.clone(), mcp.clone()))
            .on_connect(move |connection, data| gate.on_connect(connection, data))
            .client_request_timeout(Duration::from_secs(h.header_timeout_secs))
            .keep_alive(Duration::from_secs(h.keep_alive_secs))
            // actix counts per worker.
            .max_connections(h.max_connections.div_ceil(workers))
            .listen(listener)?
            .workers(workers)
            // Signals are handled in `run`, which stops every task, not just HTTP.
            .disable_signals()
            .shutdown_timeout(shutdown_timeout)
            .run();
        let metrics_server = match state.config.metrics.listen_addr() {
            Some(addr) => {
                let metrics_state = state.clone();
                let server = HttpServer::new(move || http::metrics::app(metrics_state.clone()))
                    .workers(1)
                    .disable_signals()
                    .shutdown_timeout(1)
                    .bind(addr)
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?;
                let bound = server.addrs().first().copied().unwrap_or(addr);
                Some((server.run(), bound))
            }
            None => None,
        };
        Ok(Self {
            server,
            metrics_server,
            http_addr,
            state,
            bootstrap,
            webhook_worker,
            send_worker,
            domain_checker,
            draft_worker,
            smtp,
            tasks: Handles::default(),
            lock,
        })
    }

    /// The address of the metrics' own listener, if it has one (`metrics.listen`).
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server.as_ref().map(|(_, addr)| *addr)
    }

    /// The address the HTTP API is bound to (the real port when configured with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The send worker (for tests and benchmarks that drive it directly; it also runs by
    /// itself once the application runs).
    pub fn send_worker(&self) -> &SendWorker {
        &self.send_worker
    }

    /// The background checks of custom domains (for tests that drive them directly; they
    /// also run by themselves once the application runs).
    pub fn domain_checker(&self) -> &DomainChecker {
        &self.domain_checker
    }

    /// The scheduled sends of drafts (for tests that drive them directly; they also run by
    /// themselves once the application runs).
    pub fn draft_worker(&self) -> &DraftWorker {
        &self.draft_worker
    }

    /// The address the SMTP listener is bound to.
    pub fn smtp_addr(&self) -> SocketAddr {
        self.smtp.local_addr()
    }

    /// The default account and key, when this start created them.
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    /// The shared state (for tests that drive background work directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The webhook delivery worker (for tests and benchmarks that drive it directly; it also
    /// runs by itself once the application runs).
    pub fn webhook_worker(&self) -> &DeliveryWorker {
        &self.webhook_worker
    }

    /// The running components, by name (`http`, `smtp`, `sends`, `drafts`, `webhooks`, `events`,
    /// `janitor`, `domain-checks`, `database`), once [`Application::run_until`] has started
    /// them: tests abort one to see the server notice.
    pub fn tasks(&self) -> Handles {
        self.tasks.clone()
    }

    /// Serves until `stop` completes, then shuts down gracefully: in-flight requests finish
    /// (up to the configured timeout), background tasks stop, and the database is
    /// checkpointed so that one self-contained file is left. If any component stops before
    /// that (see [`crate::supervisor`]), the rest are shut down the same way and the error is
    /// returned, so that the process exits non-zero.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            server,
            metrics_server,
            state,
            http_addr,
            webhook_worker,
            send_worker,
            domain_checker,
            draft_worker,
            smtp,
            tasks,
            lock,
            ..
        } = self;
        log::info!(
            "AgentSend {} listening on http://{http_addr} and smtp://{} (database {})",
            crate::VERSION,
            smtp.local_addr(),
            state.config.database.path.display()
        );
        let http = server.handle();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let mut supervisor = Supervisor::new(state.components.clone(), tasks.clone());
        supervisor.spawn(
            "janitor",
            infallible(jobs::run_janitor(state.clone(), shutdown_rx.clone())),
        );
        if state.config.backup.scheduled() {
            supervisor.spawn(
                "backups",
                infallible(backup::run_scheduled(state.clone(), shutdown_rx.clone())),
            );
        }
        if state.config.domains.background_checks {
            supervisor.spawn(
                "domain-checks",
                infallible(domain_checker.run(shutdown_rx.clone())),
            );
        }
        supervisor.spawn(
            "events",
            infallible(state.events.clone().run(shutdown_rx.clone())),
        );
        supervisor.spawn(
            "webhooks",
            infallible(webhook_worker.run(shutdown_rx.clone())),
        );
        supervisor.spawn("sends", infallible(send_worker.run(shutdown_rx.clone())));
        supervisor.spawn("drafts", infallible(draft_worker.run(shutdown_rx.clone())));
        supervisor.spawn("smtp", smtp.run(shutdown_rx));
        supervisor.spawn("http", async move {
            server.await.context("the HTTP server failed")
        });
        let metrics_http = metrics_server.map(|(server, addr)| {
            log::info!("metrics on http://{addr}/metrics");
            let handle = server.handle();
            supervisor.spawn("metrics", async move {
                server.await.context("the metrics listener failed")
            });
            handle
        });
        let store = state.store.clone();
        supervisor.spawn("database", async move {
            store.writer_stopped().await;
            anyhow::bail!("the database writer thread died")
        });

        let failure = tokio::select! {
            () = stop => None,
            ended = supervisor.next() => ended,
        };
        match &failure {
            None => log::info!("shutting down: finishing in-flight requests"),
            Some(ended) => supervisor.report_early_end(ended),
        }
        // Streams end first: the HTTP server waits for open connections.
        state.events.close();
        http.stop(true).await;
        if let Some(metrics) = metrics_http {
            metrics.stop(false).await;
        }
        // The receivers may already be gone; nothing to tell them then.
        let _ = shutdown_tx.send(true);
        // The writer outlives everything (the final checkpoint goes through it).
        tasks.abort("database");
        while let Some((name, result)) = supervisor.next().await {
            match result {
                Ok(()) => {}
                Err(_) if name == "database" => {}
                Err(e) => log::error!("{name} failed while shutting down: {e:#}"),
            }
        }
        let checkpoint = state.store.checkpoint().await;
        drop(lock);
        match failure {
            None => {
                checkpoint?;
                log::info!("stopped");
                Ok(())
            }
            // The component's failure is the news; a checkpoint that failed after it is logged.
            Some((name, result)) => {
                if let Err(e) = checkpoint {
                    log::error!("the final checkpoint failed: {e}");
                }
                Err(match result {
                    Ok(()) => anyhow::anyhow!("{name} stopped unexpectedly"),
                    Err(e) => e.context(format!("{name} stopped unexpectedly")),
                })
            }
        }
    }
}

/// A task that reports no errors of its own (it logs them), for the supervisor.
async fn infallible(task: impl Future<Output = ()>) -> anyhow::Result<()> {
    task.await;
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled, so a signal that arrives while the server is still starting
/// is not lost to the default action (which would kill the process uncleanly).
pub fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}
