//! The one start-up path, shared by `agentsend serve` and the tests: open the database, create
//! the default account on first start, bind the listeners (port 0 allowed, real port
//! reported), then run and supervise everything until shutdown.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use anyhow::Context;
use tokio::sync::watch;

use crate::config::Config;
use crate::domain::account::AccountName;
use crate::domain::{Account, ApiKeySecret, Clock, EmailAddress, Plan, SystemClock};
use crate::state::AppState;
use crate::store::accounts::{self, NewAccount};
use crate::store::{Store, StoreError, StoreOptions};
use crate::{http, jobs};

/// The account created on first start, with its key (to print once).
#[derive(Debug, Clone)]
pub struct Bootstrap {
    /// The account.
    pub account: Account,
    /// Its first API key.
    pub api_key: ApiKeySecret,
}

/// A built server, listening but not yet serving.
pub struct Application {
    server: actix_web::dev::Server,
    http_addr: SocketAddr,
    state: AppState,
    bootstrap: Option<Bootstrap>,
}

/// Opens the configured database (also used by the administration commands).
pub fn open_store(config: &Config) -> Result<Store, StoreError> {
    Store::open(
        &config.database.path,
        &StoreOptions {
            pool_size: config.database.pool_size,
            busy_timeout: Duration::from_millis(config.database.busy_timeout_ms),
        },
    )
}

impl Application {
    /// Builds with the system clock.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// Builds with the given clock (tests move time forward with a manual one).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let store = open_store(&config).with_context(|| {
            format!(
                "cannot open the database {}",
                config.database.path.display()
            )
        })?;
        let default_account = NewAccount {
            name: AccountName::parse("Default account")?,
            email: EmailAddress::parse(&format!("admin@{}", config.mail.shared_domain))?,
            plan: Plan::Free,
            daily_send_limit: config.limits.account_daily_send_limit,
        };
        let now = clock.now();
        let bootstrap = store
            .write(move |c| accounts::bootstrap(c, &default_account, now))
            .await?
            .map(|(account, api_key)| Bootstrap { account, api_key });

        let listener = TcpListener::bind(config.http.listen)
            .with_context(|| format!("cannot listen on {}", config.http.listen))?;
        let http_addr = listener.local_addr()?;
        let workers = match config.http.workers {
            0 => std::thread::available_parallelism().map_or(2, |n| n.get()),
            n => n,
        };
        let shutdown_timeout = config.http.shutdown_timeout_secs;
        let state = AppState {
            config: Arc::new(config),
            store,
            clock,
        };
        let app_state = state.clone();
        let server = HttpServer::new(move || http::app(app_state.clone()))
            .listen(listener)?
            .workers(workers)
            // Signals are handled in `run`, which stops every task, not just HTTP.
            .disable_signals()
            .shutdown_timeout(shutdown_timeout)
            .run();
        Ok(Self {
            server,
            http_addr,
            state,
            bootstrap,
        })
    }

    /// The address the HTTP API is bound to (the real port when configured with port 0).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The default account and key, when this start created them.
    pub fn bootstrap(&self) -> Option<&Bootstrap> {
        self.bootstrap.as_ref()
    }

    /// The shared state (for tests that drive background work directly).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `stop` completes, then shuts down gracefully: in-flight requests finish
    /// (up to the configured timeout), background tasks stop, and the database is
    /// checkpointed so that one self-contained file is left.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Self {
            server,
            state,
            http_addr,
            ..
        } = self;
        log::info!(
            "AgentSend {} listening on http://{http_addr} (database {})",
            env!("CARGO_PKG_VERSION"),
            state.config.database.path.display()
        );
        let handle = server.handle();
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let janitor = tokio::spawn(jobs::run_janitor(state.clone(), shutdown_rx));
        let mut server = tokio::spawn(server);

        let server_result = tokio::select! {
            () = stop => {
                log::info!("shutting down: finishing in-flight requests");
                handle.stop(true).await;
                server.await
            }
            result = &mut server => {
                log::error!("the HTTP server stopped unexpectedly");
                result
            }
        };
        // The receiver may already be gone if the janitor ended; nothing to tell it then.
        let _ = shutdown_tx.send(true);
        if let Err(e) = janitor.await {
            log::error!("janitor task failed: {e}");
        }
        server_result
            .context("HTTP server task failed")?
            .context("HTTP server failed")?;
        state.store.checkpoint().await?;
        log::info!("stopped");
        Ok(())
    }
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
