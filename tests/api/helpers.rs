//! `TestApp`: a real server on 127.0.0.1:0 with a temporary database and a manual clock.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agentsend::app::Application;
use agentsend::config::Config;
use agentsend::custom_domains::DomainChecker;
use agentsend::domain::account::AccountName;
use agentsend::domain::{Clock, EmailAddress, ManualClock, Plan, SystemClock, Timestamp};
use agentsend::drafts::DraftWorker;
use agentsend::mail::outbound::SendWorker;
use agentsend::state::AppState;
use agentsend::store::Queue;
use agentsend::store::accounts::{self, NewAccount, NewKey};
use agentsend::store::domains::DOMAIN_CHECK_JOB;
use agentsend::store::drafts::DRAFT_SEND_JOB;
use agentsend::store::jobs;
use agentsend::supervisor::Handles;
use agentsend::webhooks::worker::DeliveryWorker;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::backend::Scratch;
use crate::dns::TestDns;

/// A running server and a client for it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// The SMTP listener.
    pub smtp: std::net::SocketAddr,
    /// The metrics' own listener, when configured (`metrics.listen`).
    pub metrics: Option<std::net::SocketAddr>,
    /// The default account's key (created on first start).
    pub key: String,
    /// The default account's id.
    pub account_id: String,
    /// The server's clock.
    clock: Arc<dyn Clock>,
    /// The same clock when it is a manual one (the default).
    manual: Option<Arc<ManualClock>>,
    /// The server's state, for setting up data the API cannot create.
    pub state: AppState,
    /// The webhook delivery worker, to drive it step by step.
    pub worker: DeliveryWorker,
    /// The send worker, to drive it step by step.
    pub sender: SendWorker,
    /// The background checks of custom domains, to drive them step by step.
    pub domain_checker: DomainChecker,
    /// The scheduled sends of drafts, to drive them step by step.
    pub drafter: DraftWorker,
    /// The supervised components, to make one die.
    pub tasks: Handles,
    /// The DNS server the app resolves with (unless the test configured another): tests
    /// publish records in it.
    pub dns: TestDns,
    client: reqwest::Client,
    config: Config,
    dir: Arc<Scratch>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A test configuration: loopback, port 0, a fresh database, rate limiting off.
pub fn test_config(scratch: &Scratch) -> Config {
    let mut config = Config::default();
    config.http.listen = "127.0.0.1:0".parse().unwrap();
    config.smtp.listen = "127.0.0.1:0".parse().unwrap();
    config.http.workers = 1;
    scratch.configure(&mut config);
    config.database.pool_size = 4;
    config.limits.rate_limit = 0;
    config
}

/// `config` resolving with a fresh [`TestDns`] of its own, so that no test depends on the
/// machine's DNS.
async fn with_dns(mut config: Config) -> (Config, TestDns) {
    let dns = TestDns::start().await;
    config.dns.nameservers = vec![dns.addr];
    (config, dns)
}

impl TestApp {
    /// A server with the test configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server with the test configuration changed by `f`.
    pub async fn spawn_with(f: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(Scratch::new());
        let (mut config, dns) = with_dns(test_config(&dir)).await;
        f(&mut config);
        let manual = Arc::new(ManualClock::new(SystemClock.now()));
        Self::start(config, dir, dns, manual.clone(), Some(manual), None).await
    }

    /// A server on the system clock, for tests of real timing (retry schedules, timeouts).
    pub async fn spawn_with_real_clock(f: impl FnOnce(&mut Config)) -> Self {
        let dir = Arc::new(Scratch::new());
        let (mut config, dns) = with_dns(test_config(&dir)).await;
        f(&mut config);
        Self::start(config, dir, dns, Arc::new(SystemClock), None, None).await
    }

    async fn start(
        config: Config,
        dir: Arc<Scratch>,
        dns: TestDns,
        clock: Arc<dyn Clock>,
        manual: Option<Arc<ManualClock>>,
        known: Option<(String, String)>,
    ) -> Self {
        install_crypto_provider();
        // The server's log, shown with a failing test's output (RUST_LOG picks the level).
        let _ = env_logger::builder().is_test(true).try_init();
        let app = Application::build_with_clock(config.clone(), clock.clone())
            .await
            .expect("server builds");
        let (key, account_id) = match (app.bootstrap(), known) {
            (Some(b), _) => (b.api_key.expose().to_owned(), b.account.id.to_string()),
            (None, Some(known)) => known,
            (None, None) => panic!("a fresh database must bootstrap an account"),
        };
        let base = format!("http://{}", app.http_addr());
        let smtp = app.smtp_addr();
        let metrics = app.metrics_addr();
        let state = app.state().clone();
        let worker = app.webhook_worker().clone();
        let sender = app.send_worker().clone();
        let domain_checker = app.domain_checker().clone();
        let drafter = app.draft_worker().clone();
        let tasks = app.tasks();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stop_rx.await;
        }));
        Self {
            base,
            smtp,
            metrics,
            key,
            account_id,
            clock,
            manual,
            state,
            worker,
            sender,
            domain_checker,
            drafter,
            tasks,
            dns,
            client: client(),
            config,
            dir,
            stop: Some(stop_tx),
            task: Some(task),
        }
    }

    /// Stops the server gracefully and starts a new one on the same database file and clock.
    pub async fn restart(mut self) -> Self {
        self.shutdown().await;
        self.second_node().await
    }

    /// Another server on this one's database and clock, with listeners of its own (a second
    /// node on PostgreSQL; on SQLite, only once this one has stopped); it finds the default
    /// account already there.
    pub async fn second_node(&self) -> Self {
        let known = Some((self.key.clone(), self.account_id.clone()));
        Self::start(
            self.config.clone(),
            self.dir.clone(),
            self.dns.clone(),
            self.clock.clone(),
            self.manual.clone(),
            known,
        )
        .await
    }

    /// Stops the server and waits until it has shut down cleanly.
    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().expect("clean shutdown");
        }
    }

    /// Waits for the server to stop by itself (without being asked to) and returns how
    /// `run_until` ended.
    pub async fn stopped(&mut self) -> anyhow::Result<()> {
        let task = self.task.take().expect("the server is running");
        tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the server stops")
            .unwrap()
    }

    /// The server's current time.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Moves the (manual) clock forward and wakes the background workers, which may now have
    /// work due.
    pub fn advance(&self, d: Duration) {
        self.manual
            .as_ref()
            .expect("advance needs a manual clock")
            .advance(d);
        for queue in Queue::ALL {
            self.state.store.wakers().wake(queue);
        }
    }

    /// Waits until no webhook delivery is due or under way, attempting due ones itself (the
    /// background worker may be attempting others at the same time).
    pub async fn settle_webhooks(&self) {
        eventually("webhook deliveries to settle", || async {
            self.worker.drain().await.unwrap();
            let now = self.now();
            let unsettled = self
                .state
                .store
                .read(move |c| agentsend::store::webhooks::unsettled(c, now))
                .await
                .unwrap();
            (unsettled == 0).then_some(())
        })
        .await;
    }

    /// Waits until no send is due or under way, processing due ones itself.
    pub async fn settle_sends(&self) {
        eventually("sends to settle", || async {
            self.sender.drain().await.unwrap();
            let now = self.now();
            let unsettled = self
                .state
                .store
                .read(move |c| agentsend::store::jobs::unsettled(c, "send", now))
                .await
                .unwrap();
            (unsettled == 0).then_some(())
        })
        .await;
    }

    /// Waits until no scheduled send of a draft is due or under way, running due ones itself,
    /// and then until the sends they made have settled.
    pub async fn settle_drafts(&self) {
        eventually("scheduled sends to settle", || async {
            self.drafter.drain().await.unwrap();
            let now = self.now();
            let unsettled = self
                .state
                .store
                .read(move |c| jobs::unsettled(c, DRAFT_SEND_JOB, now))
                .await
                .unwrap();
            (unsettled == 0).then_some(())
        })
        .await;
        self.settle_sends().await;
    }

    /// Waits until no background domain check is due or under way, running due ones itself.
    pub async fn settle_domain_checks(&self) {
        eventually("domain checks to settle", || async {
            self.domain_checker.drain().await.unwrap();
            let now = self.now();
            let unsettled = self
                .state
                .store
                .read(move |c| jobs::unsettled(c, DOMAIN_CHECK_JOB, now))
                .await
                .unwrap();
            (unsettled == 0).then_some(())
        })
        .await;
    }

    /// The database file (SQLite).
    pub fn db_path(&self) -> PathBuf {
        self.config.database.path.clone()
    }

    /// The server's database as the command line's `--db` names it: the SQLite file, or the
    /// PostgreSQL URL.
    pub fn db_arg(&self) -> String {
        if self.config.database.url.is_empty() {
            self.db_path().display().to_string()
        } else {
            self.config.database.url.clone()
        }
    }

    /// The test's own directory (the SQLite file's, and a working directory for commands).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// SQL on the server's database (either engine), for setting up or looking at data the
    /// API cannot reach. The server keeps running.
    pub fn sql(&self) -> crate::backend::TestSql {
        crate::backend::TestSql::new(self.state.store.clone())
    }

    /// A request with the default account's key.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(&self.key)
    }

    /// A request with the given key.
    pub fn request_as(&self, key: &str, method: Method, path: &str) -> RequestBuilder {
        self.anonymous(method, path).bearer_auth(key)
    }

    /// A request without a key.
    pub fn anonymous(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .timeout(Duration::from_secs(30))
    }

    /// `GET` with the default key.
    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.unwrap()
    }

    /// `POST` a JSON body with the default key.
    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `PATCH` a JSON body with the default key.
    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.request(Method::PATCH, path)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE` with the default key.
    pub async fn delete(&self, path: &str) -> Response {
        self.request(Method::DELETE, path).send().await.unwrap()
    }

    /// The stored raw bytes of `message` (`GET /messages/{id}/raw`).
    pub async fn raw(&self, message: &Value) -> Vec<u8> {
        let res = self
            .get(&format!(
                "/messages/{}/raw",
                message["id"].as_str().unwrap()
            ))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.bytes().await.unwrap().to_vec()
    }

    /// Creates an inbox and returns it.
    pub async fn create_inbox(&self, body: Value) -> Value {
        let res = self.post("/inboxes", &body).await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "creating an inbox with {body}"
        );
        res.json().await.unwrap()
    }

    /// Another account with its own key, made the way the operator's CLI makes them.
    pub async fn other_account(&self) -> (String, String) {
        let now = self.now();
        let (account, secret) = self
            .state
            .store
            .write(move |c| {
                let new = NewAccount {
                    name: AccountName::parse("Other").unwrap(),
                    email: EmailAddress::parse("other@example.com").unwrap(),
                    plan: Plan::Free,
                    daily_send_limit: 1000,
                };
                let account = accounts::create_account(c, &new, now)?;
                let (_, secret) = accounts::create_api_key(c, account.id, NewKey::PLAIN, now)?;
                Ok((account, secret))
            })
            .await
            .unwrap();
        (account.id.to_string(), secret.expose().to_owned())
    }

    /// A key of this account with just these scopes, made the way the operator's CLI makes
    /// them (so it may have `approve`).
    pub async fn key_with_scopes(&self, scopes: &[&str]) -> String {
        let now = self.now();
        let account: agentsend::domain::AccountId = self.account_id.parse().unwrap();
        let scopes = agentsend::domain::Scopes::parse(scopes).unwrap();
        let (_, secret) = self
            .state
            .store
            .write(move |c| {
                let new = NewKey {
                    scopes,
                    ..NewKey::PLAIN
                };
                accounts::create_api_key(c, account, new, now)
            })
            .await
            .unwrap();
        secret.expose().to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Status and JSON body of a response.
pub async fn json(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, value)
}

/// Asserts the error envelope `{"error": {"code", "message", "status"}}` and returns it.
pub async fn assert_error(res: Response, status: StatusCode, code: &str) -> Value {
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let (got, body) = json(res).await;
    assert_eq!(got, status, "status of {body}");
    assert_eq!(content_type.as_deref(), Some("application/json"));
    let error = &body["error"];
    assert_eq!(error["code"], code, "code of {body}");
    assert_eq!(error["status"], status.as_u16(), "status field of {body}");
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "message of {body}"
    );
    body
}

/// `2026-04-16T10:23:00.000Z`
pub fn is_iso_timestamp(v: &Value) -> bool {
    let Some(s) = v.as_str() else { return false };
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[23] == b'Z'
        && s[..4].bytes().all(|c| c.is_ascii_digit())
}

/// A fresh random UUID string.
pub fn random_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The TLS provider reqwest is built with must be chosen before the first client is built.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// An HTTP client for tests.
pub fn client() -> reqwest::Client {
    install_crypto_provider();
    reqwest::Client::new()
}

/// Whether an outside tool that part of a test needs is installed: `probe` (a command line)
/// exits successfully. When it does not, that part is skipped and a note goes to stderr past
/// the test harness's capture (`tools::` sums them up at the end of the list); with
/// `AGENTSEND_TEST_TOOLS=required` (set by `.ci/run`) a missing tool fails the test instead.
pub fn have_tool(what: &str, probe: &[&str]) -> bool {
    use std::io::Write;
    let found = tool_found(probe);
    if !found {
        assert!(
            std::env::var("AGENTSEND_TEST_TOOLS").as_deref() != Ok("required"),
            "{what} is required (AGENTSEND_TEST_TOOLS=required) but `{}` failed",
            probe.join(" ")
        );
        let _ = writeln!(
            std::io::stderr(),
            "note: skipped the checks that need {what} (`{}` failed); .ci/run installs it",
            probe.join(" ")
        );
    }
    found
}

/// Whether the command line `probe` runs and exits successfully.
pub fn tool_found(probe: &[&str]) -> bool {
    std::process::Command::new(probe[0])
        .args(&probe[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Waits (up to 10 s) until `check` returns something.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
