//! Ephemeral instances for other projects' tests: a server on a database of its own in a
//! temporary directory, HTTP and SMTP on free ports of 127.0.0.1, rate limiting off, outbound
//! mail in `dry-run`, no background DNS re-checks, and a default account whose key is known.
//! `agentsend fixture` prints the [`Ready`] line and serves until its standard input closes;
//! [`Fixture::start`] is the same inside a Rust test.
//!
//! The directory goes when the fixture stops. One whose process was killed outright is
//! removed by the next fixture that starts: each directory holds a file its fixture keeps
//! locked while it lives (the kernel drops the lock when the process dies, however it dies).

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::{Application, StartOptions};
use crate::config::Config;
use crate::domain::{ApiKeySecret, SystemClock, random};
use crate::seed::Seed;

/// The prefix of fixture directories in the system's temporary directory.
const DIR_PREFIX: &str = "agentsend-fixture-";
/// The file in a fixture directory that its fixture keeps locked while it lives.
const OWNER_FILE: &str = "owner.lock";

/// What a test needs to reach a fixture: printed as one JSON line when it is ready.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    /// The HTTP API, e.g. `http://127.0.0.1:41234`.
    pub http: String,
    /// The SMTP listener, e.g. `127.0.0.1:41235`.
    pub smtp: String,
    /// The default account's API key.
    pub api_key: String,
    /// The default account's id.
    pub account_id: String,
    /// The seeded inboxes' ids, by address.
    pub inboxes: BTreeMap<String, String>,
    /// The bearer token of `POST /_fixture/reset` and `GET /_fixture/outbox`.
    pub fixture_token: String,
}

/// How to start a fixture.
#[derive(Debug, Clone, Default)]
pub struct FixtureOptions {
    /// The default account's key (a random one if `None`).
    pub api_key: Option<ApiKeySecret>,
    /// The HTTP address (default `127.0.0.1:0`).
    pub listen: Option<SocketAddr>,
    /// The SMTP address (default `127.0.0.1:0`).
    pub smtp_listen: Option<SocketAddr>,
    /// What to create before ready (and return to on reset).
    pub seed: Option<Seed>,
}

/// A running fixture. Stop it with [`Fixture::shutdown`]; dropping it stops it too, without
/// waiting.
pub struct Fixture {
    ready: Ready,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
    dir: Option<tempfile::TempDir>,
    /// The locked owner file: the directory is in use while it is held.
    _owner: std::fs::File,
}

impl Fixture {
    /// Starts a fixture on the built-in defaults.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Config::default(), FixtureOptions::default()).await
    }

    /// Starts a fixture from `config`, with what makes it a fixture applied over it.
    pub async fn start_with(config: Config, options: FixtureOptions) -> anyhow::Result<Self> {
        let (dir, owner) = fixture_dir()?;
        let config = fixture_config(config, dir.path(), &options);
        let token = random::url_safe_token::<24>();
        let start = StartOptions {
            api_key: options.api_key,
            fixture_token: Some(token.clone()),
            seed: options.seed,
        };
        let app = Application::build_with_options(config, Arc::new(SystemClock), start).await?;
        let bootstrap = app
            .bootstrap()
            .context("a fixture's fresh database has a default account")?;
        let ready = Ready {
            http: format!("http://{}", app.http_addr()),
            smtp: app.smtp_addr().to_string(),
            api_key: bootstrap.api_key.expose().to_owned(),
            account_id: bootstrap.account.id.to_string(),
            inboxes: bootstrap.seeded_inboxes.clone(),
            fixture_token: token,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            ready,
            stop: Some(stop),
            task: Some(task),
            dir: Some(dir),
            _owner: owner,
        })
    }

    /// Where to reach it.
    pub fn ready(&self) -> &Ready {
        &self.ready
    }

    /// The HTTP API's base URL.
    pub fn http(&self) -> &str {
        &self.ready.http
    }

    /// The SMTP listener's address.
    pub fn smtp(&self) -> &str {
        &self.ready.smtp
    }

    /// The default account's API key.
    pub fn api_key(&self) -> &str {
        &self.ready.api_key
    }

    /// The database file (for tests that look inside).
    pub fn db_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("agentsend.db"))
    }

    /// Serves until `stop` completes, then stops as [`Fixture::shutdown`] does. If the server
    /// stops by itself first (a component failed), its error is returned.
    pub async fn serve_until(mut self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        let Some(mut task) = self.task.take() else {
            return self.shutdown().await;
        };
        tokio::select! {
            result = &mut task => {
                if let Some(dir) = self.dir.take() {
                    let _ = dir.close();
                }
                result.context("the fixture's server task failed")??;
                anyhow::bail!("the server stopped by itself")
            }
            () = stop => {}
        }
        self.task = Some(task);
        self.shutdown().await
    }

    /// Stops the server gracefully and removes its directory.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = match self.task.take() {
            Some(task) => task.await.context("the fixture's server task failed")?,
            None => Ok(()),
        };
        if let Some(dir) = self.dir.take() {
            dir.close().context("removing the fixture's directory")?;
        }
        result
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// `config` with what makes a fixture: its own database in `dir`, loopback ports picked by
/// the system unless given, no rate limiting, outbound mail in `dry-run`, no background DNS
/// re-checks, one HTTP worker thread unless configured.
pub fn fixture_config(mut config: Config, dir: &Path, options: &FixtureOptions) -> Config {
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    config.database.path = dir.join("agentsend.db");
    config.http.listen = options.listen.unwrap_or(loopback);
    config.smtp.listen = options.smtp_listen.unwrap_or(loopback);
    config.limits.rate_limit = 0;
    config.outbound.mode = crate::config::OutboundMode::DryRun;
    config.domains.background_checks = false;
    // One HTTP worker thread is plenty for a test and saves memory per fixture.
    if config.http.workers == 0 {
        config.http.workers = 1;
    }
    config
}

/// A new fixture directory and its locked owner file, after removing the directories whose
/// fixture is gone.
pub fn fixture_dir() -> anyhow::Result<(tempfile::TempDir, std::fs::File)> {
    let tmp = std::env::temp_dir();
    remove_orphans(&tmp);
    let dir = tempfile::Builder::new()
        .prefix(DIR_PREFIX)
        .tempdir_in(&tmp)
        .with_context(|| format!("cannot create a fixture directory in {}", tmp.display()))?;
    // Locked under another name, then renamed: the owner file is never seen unlocked.
    let partial = dir.path().join("owner.partial");
    let owner = std::fs::File::create(&partial)
        .and_then(|file| {
            file.try_lock().map_err(std::io::Error::other)?;
            std::fs::rename(&partial, dir.path().join(OWNER_FILE))?;
            Ok(file)
        })
        .context("cannot lock the fixture directory")?;
    Ok((dir, owner))
}

/// Removes fixture directories in `tmp` whose owner file nobody holds locked: their fixture
/// was killed before it could clean up. A directory being set up has no owner file yet and is
/// left alone.
fn remove_orphans(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let is_fixture = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(DIR_PREFIX));
        if !is_fixture {
            continue;
        }
        let Ok(owner) = std::fs::File::open(path.join(OWNER_FILE)) else {
            continue;
        };
        if owner.try_lock().is_ok() {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}
