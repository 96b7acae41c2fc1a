//! The command line: `serve` (the default) and the operator's tools, which work directly on
//! the database file, also while the server runs (SQLite WAL allows it).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::app::{self, Application, Bootstrap, StartOptions};
use crate::backup;
use crate::config::{Config, DatabaseLocation, Loaded, Overrides};
use crate::dns::Dns;
use crate::doctor;
use crate::domain::account::AccountName;
use crate::domain::draft::Approver;
use crate::domain::{
    AccountId, ApiKeyId, ApiKeySecret, Clock, Credential, DraftId, EmailAddress, KeyName, Plan,
    Scopes, SystemClock, Timestamp,
};
use crate::fixture::{Fixture, FixtureOptions};
use crate::mcp::{self, McpServer};
use crate::seed::Seed;
use crate::store::accounts::{self, ClaimError, ClaimOf, NewAccount, NewKey};
use crate::store::retention;

/// AgentSend: an email API for AI agents, in one binary and one SQLite file.
#[derive(Debug, Parser)]
#[command(name = "agentsend", version = crate::VERSION)]
pub struct Cli {
    /// Configuration file (default: ./agentsend.toml when present).
    #[arg(long, global = true, env = "AGENTSEND_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// The database: an SQLite file, or a URL (sqlite://PATH, postgres://…); overrides
    /// database.path and database.url.
    #[arg(long, global = true, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
    /// Options for `serve` when no command is given.
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options of `serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address for the HTTP API (overrides http.listen), e.g. 127.0.0.1:3000; port 0 picks one.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Requests per rate-limit window (60 s by default) per account; 0 turns limiting off.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
    /// Address for the SMTP listener (overrides smtp.listen), e.g. 0.0.0.0:25; port 0 picks one.
    #[arg(long, value_name = "ADDR")]
    pub smtp_listen: Option<SocketAddr>,
    /// On a new database: the default account's API key instead of a random one (`ask_` and
    /// 40 characters of A-Z a-z 0-9 - _). Ignored once the database has an account.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// On a new database: accounts, keys, inboxes and webhooks to start with (JSON, or TOML
    /// for `.toml`). Ignored once the database has an account.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve(ServeArgs),
    /// Manage accounts.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Review drafts that need approval.
    #[command(subcommand)]
    Drafts(DraftsCommand),
    /// Run an ephemeral instance for tests: a temporary database, free loopback ports, rate
    /// limiting off, outbound mail in dry-run; prints one JSON line when ready and stops when
    /// its standard input closes.
    Fixture(FixtureArgs),
    /// Serve the MCP tools on standard input and output, for MCP clients that start a
    /// process: relayed to a running server (`--url`), or on a database of its own (`--db`
    /// or the configured one), running the whole server in this process.
    Mcp(McpArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Write a consistent copy of the database to PATH (a new file), also while the server
    /// runs: writers carry on meanwhile.
    Backup {
        /// The backup file to create.
        path: PathBuf,
    },
    /// Replace the database with a backup, the server stopped. The backup is checked first
    /// (an SQLite file, sound, an AgentSend schema no newer than this build's); the database it
    /// replaces is kept beside it as `<db>.before-restore-<time>`.
    Restore {
        /// The backup file.
        path: PathBuf,
    },
    /// Inspect the database file, or move it to PostgreSQL.
    #[command(subcommand)]
    Db(DbCommand),
    /// Check what a server on the internet needs: its host name and reverse DNS, the MX, SPF,
    /// DKIM and DMARC records of its domains, outbound port 25 and the STARTTLS certificate.
    /// Exits with 1 when a check fails.
    Doctor(DoctorArgs),
    /// Ask a running server's `/health`: exit 0 when it answers 200, else 1 (for container
    /// health checks, where there is no curl).
    Health(HealthArgs),
    /// Print the version.
    Version,
}

/// Options of `mcp`.
#[derive(Debug, Clone, Args)]
pub struct McpArgs {
    /// A running server's base URL (e.g. http://127.0.0.1:3000/): relay to its `/mcp`
    /// instead of opening a database here.
    #[arg(long, value_name = "URL", conflicts_with_all = ["listen", "smtp_listen"])]
    pub url: Option<url::Url>,
    /// The API key the tools act with. Needed with `--url`; on a database of its own, the
    /// default account's key when this start creates the database, else needed too.
    #[arg(
        long,
        env = "AGENTSEND_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// On a database of its own: the HTTP API's address (default 127.0.0.1:0).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// On a database of its own: the SMTP listener's address (default 127.0.0.1:0).
    #[arg(long, value_name = "ADDR")]
    pub smtp_listen: Option<SocketAddr>,
}

/// Options of `doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// The domain whose most preferred MX host the outbound check connects to.
    #[arg(long, value_name = "DOMAIN", default_value = "gmail.com")]
    pub probe_domain: String,
    /// Seconds the outbound connection and its greeting may take.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    pub timeout: u64,
    /// Print the findings as a JSON array of {check, status, subject, detail, fix}.
    #[arg(long)]
    pub json: bool,
}

/// Options of `health`.
#[derive(Debug, Clone, Args)]
pub struct HealthArgs {
    /// The URL to ask (default: `/health` on http.listen's port, on loopback when it listens
    /// on every address).
    #[arg(long, value_name = "URL")]
    pub url: Option<url::Url>,
}

/// Options of `fixture`.
#[derive(Debug, Clone, Args)]
pub struct FixtureArgs {
    /// The default account's API key (`ask_` and 40 characters of A-Z a-z 0-9 - _); random
    /// when not given.
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Also write the ready line to this file (written whole, then renamed into place; owner
    /// only; removed at exit).
    #[arg(long, value_name = "PATH")]
    pub ready_file: Option<PathBuf>,
    /// Stop when standard input closes, so that a test runner that dies never leaves a server
    /// behind (when stdin is a pipe, a socket or a terminal; with `/dev/null` or a file, only
    /// SIGTERM and SIGINT stop it).
    #[arg(
        long,
        value_name = "BOOL",
        default_value_t = true,
        num_args = 0..=1,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub exit_on_stdin_close: bool,
    /// Address for the HTTP API (default 127.0.0.1:0).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Address for the SMTP listener (default 127.0.0.1:0).
    #[arg(long, value_name = "ADDR")]
    pub smtp_listen: Option<SocketAddr>,
    /// Accounts, keys, inboxes and webhooks to start with (JSON, or TOML for `.toml`); a
    /// reset returns to them.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
}

/// `agentsend accounts ...`
#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create an account.
    Create {
        /// Owner's name.
        #[arg(long)]
        name: String,
        /// Owner's email address.
        #[arg(long)]
        email: String,
        /// Messages per UTC day across the account (default: limits.account_daily_send_limit).
        #[arg(long, value_name = "N")]
        daily_send_limit: Option<u32>,
    },
    /// List accounts.
    List,
    /// Show or set how long an account's messages are kept (its own retention, instead of
    /// retention.messages_days).
    Retention {
        /// The account's id.
        id: AccountId,
        /// Days its messages are kept (0: forever).
        #[arg(long, value_name = "DAYS", conflicts_with = "default")]
        messages_days: Option<u64>,
        /// Go back to the server's retention.messages_days.
        #[arg(long)]
        default: bool,
    },
    /// Claim a sandbox account on someone's behalf (as its claim page does): plan `free` with
    /// limits.account_daily_send_limit; its keys keep working.
    Claim {
        /// The account's id.
        id: AccountId,
        /// The owner's email address.
        #[arg(long)]
        email: String,
        /// The owner's name (default: keep the current one).
        #[arg(long)]
        name: Option<String>,
    },
}

/// `agentsend keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key and print it (once).
    Create {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: AccountId,
        /// A label for the key.
        #[arg(long)]
        name: Option<String>,
        /// Make the key stop working after this many days.
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u32>,
        /// What the key may do, comma-separated: read, send, manage, approve (default
        /// read,send,manage; only the operator and keys with `approve` can grant `approve`).
        #[arg(long, value_name = "SCOPES", value_delimiter = ',')]
        scopes: Option<Vec<String>>,
    },
    /// List an account's keys, revoked ones included.
    List {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: AccountId,
    },
    /// Revoke a key; it stops working with the next request.
    Revoke {
        /// The key's id (from `keys list`).
        key_id: ApiKeyId,
    },
}

/// `agentsend drafts ...`
#[derive(Debug, Subcommand)]
pub enum DraftsCommand {
    /// Approve a draft: a running server sends it at its `sendAt`, or at once (its scheduled
    /// sends look for new work at least every minute).
    Approve {
        /// The draft's id.
        id: DraftId,
        /// The revision reviewed (`drafts show`): a draft changed since is not approved.
        #[arg(long)]
        revision: Option<i64>,
    },
    /// Show a draft in full, to review it before approving it.
    Show {
        /// The draft's id.
        id: DraftId,
    },
    /// List an account's drafts, newest first.
    List {
        /// The account's id.
        #[arg(long, value_name = "ID")]
        account: AccountId,
        /// Only drafts waiting for an approval.
        #[arg(long)]
        pending: bool,
    },
}

/// `agentsend db ...`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Check the file's integrity (`PRAGMA integrity_check`) and report its sizes and rows;
    /// exits non-zero when it is damaged. Works while the server runs.
    Check,
    /// Copy the whole SQLite database (database.path, or --db PATH) into an empty PostgreSQL
    /// database, the server stopped, and verify the copy (row counts of every table, and
    /// sampled rows byte for byte). One PostgreSQL transaction: on any failure the target is
    /// left as it was. Refuses a target that already holds AgentSend rows. Then point
    /// database.url at the target.
    MigrateTo {
        /// The target: postgres://USER:PASSWORD@HOST:PORT/DATABASE (its schema is created if
        /// it has none; the user must own the tables or be a superuser).
        url: String,
    },
}

/// `agentsend config ...`
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate and print the effective configuration, secrets redacted.
    Check,
}

/// Runs the command line; errors are for the operator, printed by `main`.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let serve_args = match &cli.command {
        None => cli.serve.clone(),
        // `agentsend --listen X serve --rate-limit 0` works too; the later flag wins.
        Some(Command::Serve(args)) => ServeArgs {
            listen: args.listen.or(cli.serve.listen),
            rate_limit: args.rate_limit.or(cli.serve.rate_limit),
            smtp_listen: args.smtp_listen.or(cli.serve.smtp_listen),
            api_key: args.api_key.clone().or(cli.serve.api_key.clone()),
            seed: args.seed.clone().or(cli.serve.seed.clone()),
        },
        Some(_)
            if cli.serve.listen.is_some()
                || cli.serve.rate_limit.is_some()
                || cli.serve.smtp_listen.is_some()
                || cli.serve.api_key.is_some()
                || cli.serve.seed.is_some() =>
        {
            anyhow::bail!(
                "--listen, --rate-limit, --smtp-listen, --api-key and --seed only apply to \
                 `serve` (`fixture` has its own)"
            );
        }
        Some(_) => ServeArgs::default(),
    };
    if matches!(cli.command, Some(Command::Version)) {
        println!("agentsend {}", crate::VERSION);
        return Ok(());
    }
    let mut overrides = Overrides {
        listen: serve_args.listen,
        db: cli.db.clone(),
        rate_limit: serve_args.rate_limit,
        smtp_listen: serve_args.smtp_listen,
    };
    if let Some(Command::Mcp(args)) = &cli.command {
        if args.url.is_some() && cli.db.is_some() {
            anyhow::bail!("`mcp` takes --url (a running server) or --db (a database), not both");
        }
        // A process an MCP client starts must not fight a server for its ports.
        let loopback_any = SocketAddr::from(([127, 0, 0, 1], 0));
        overrides.listen = Some(args.listen.unwrap_or(loopback_any));
        overrides.smtp_listen = Some(args.smtp_listen.unwrap_or(loopback_any));
    }
    let Loaded {
        config,
        file,
        warnings,
    } = Config::load(cli.config.as_deref(), std::env::vars(), &overrides)?;
    init_logging(&config);
    for w in &warnings {
        log::warn!("{w}");
    }
    match cli.command {
        None | Some(Command::Serve(_)) => {
            let options = StartOptions {
                api_key: parse_api_key(serve_args.api_key.as_deref())?,
                seed: load_seed(serve_args.seed.as_deref(), &config)?,
                fixture_token: None,
            };
            serve(config, options)
        }
        Some(Command::Fixture(args)) => fixture(config, args),
        Some(Command::Mcp(args)) => mcp(config, args),
        Some(Command::Accounts(cmd)) => accounts_command(&config, cmd),
        Some(Command::Keys(cmd)) => keys_command(&config, cmd),
        Some(Command::Drafts(cmd)) => drafts_command(&config, cmd),
        Some(Command::Config(ConfigCommand::Check)) => {
            let source = file.map_or_else(
                || "built-in defaults".to_owned(),
                |f| f.display().to_string(),
            );
            println!("# effective configuration (from {source}, AGENTSEND_* variables and flags)");
            print!("{}", config.redacted_toml()?);
            Ok(())
        }
        Some(Command::Doctor(args)) => doctor(&config, &args),
        Some(Command::Health(args)) => health(&config, args.url),
        Some(Command::Version) => Ok(()),
        Some(Command::Backup { path }) => {
            let db = sqlite_file(&config, "backup")?;
            let b = backup::take_of_file(db, &path)?;
            println!(
                "backed up {} to {} ({} bytes in {} ms)",
                db.display(),
                b.path.display(),
                b.bytes,
                b.elapsed.as_millis()
            );
            Ok(())
        }
        Some(Command::Restore { path }) => {
            let db = sqlite_file(&config, "restore")?;
            let restored = backup::restore(db, &path, SystemClock.now())?;
            println!(
                "restored {} from {} (schema version {}; {})",
                db.display(),
                path.display(),
                restored.inspection.schema_version,
                row_summary(&restored.inspection)
            );
            if let Some(previous) = restored.previous {
                println!("the database it replaced is kept as {}", previous.display());
            }
            Ok(())
        }
        Some(Command::Db(DbCommand::Check)) => db_check(&config),
        Some(Command::Db(DbCommand::MigrateTo { url })) => db_migrate_to(&config, &url),
    }
}

fn doctor(config: &Config, args: &DoctorArgs) -> anyhow::Result<()> {
    // A missing database is not created here: doctor only reads.
    let exists = match config.database.location() {
        DatabaseLocation::Sqlite(path) => path.exists(),
        DatabaseLocation::Postgres(_) => true,
    };
    let domains = if exists {
        let store = app::open_store(config)?;
        Some(store.read_blocking(crate::store::domains::list_all_domains)?)
    } else {
        None
    };
    let options = doctor::Options {
        probe_domain: args.probe_domain.clone(),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let runtime = runtime()?;
    let findings = runtime.block_on(async {
        let dns = Dns::from_config(config)?;
        anyhow::Ok(doctor::run(config, &dns, domains.as_deref(), &options).await)
    })?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?;
    } else {
        for f in &findings {
            writeln!(
                out,
                "{:<4}  {:<8}  {}: {}",
                f.status.label(),
                f.check,
                f.subject,
                f.detail
            )?;
            if let Some(fix) = &f.fix {
                writeln!(out, "      fix: {fix}")?;
            }
        }
    }
    out.flush()?;
    let failed = findings
        .iter()
        .filter(|f| f.status == doctor::Status::Fail)
        .count();
    if failed > 0 {
        anyhow::bail!("{failed} check(s) failed");
    }
    Ok(())
}

fn health(config: &Config, url: Option<url::Url>) -> anyhow::Result<()> {
    let url = match url {
        Some(url) => url,
        None => {
            let listen = config.http.listen;
            let ip = match listen.ip() {
                std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
                    std::net::Ipv4Addr::LOCALHOST.into()
                }
                std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
                    std::net::Ipv6Addr::LOCALHOST.into()
                }
                ip => ip,
            };
            url::Url::parse(&format!(
                "http://{}/health",
                SocketAddr::new(ip, listen.port())
            ))?
        }
    };
    // reqwest is built without a default TLS provider (an https URL needs one).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = runtime()?;
    let status = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        anyhow::Ok(client.get(url.clone()).send().await?.status())
    });
    match status {
        Ok(status) if status == reqwest::StatusCode::OK => {
            println!("healthy: {url} answered {status}");
            Ok(())
        }
        Ok(status) => anyhow::bail!("unhealthy: {url} answered {status}"),
        Err(e) => anyhow::bail!("unhealthy: {url}: {e:#}"),
    }
}

fn init_logging(config: &Config) {
    let mut builder = env_logger::Builder::new();
    // rmcp reports every HTTP request's session at info; that is our request log's job.
    builder.filter_module("rmcp", log::LevelFilter::Warn);
    builder.filter_module("tracing::span", log::LevelFilter::Warn);
    builder.parse_filters(&config.log.level);
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
    builder.format_timestamp_millis();
    // A second initialisation (never in the binary) is harmless.
    let _ = builder.try_init();
}

/// The async runtime a command runs on.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn serve(config: Config, options: StartOptions) -> anyhow::Result<()> {
    let runtime = runtime()?;
    runtime.block_on(async {
        // Before anything starts, so that no early signal kills the process uncleanly.
        let stop = app::shutdown_signal()?;
        let app = Application::build_with_options(config, Arc::new(SystemClock), options).await?;
        if let Some(bootstrap) = app.bootstrap() {
            print_bootstrap(bootstrap, app.http_addr());
        }
        app.run_until(stop).await
    })
}

fn mcp(config: Config, args: McpArgs) -> anyhow::Result<()> {
    let key = parse_api_key(args.api_key.as_deref())?;
    let runtime = runtime()?;
    runtime.block_on(async {
        if let Some(url) = &args.url {
            let key = key.context("--url needs --api-key (or AGENTSEND_API_KEY)")?;
            return mcp::stdio::relay(url, &key).await;
        }
        let signal = app::shutdown_signal()?;
        let options = StartOptions {
            api_key: key.clone(),
            ..StartOptions::default()
        };
        let app = Application::build_with_options(config, Arc::new(SystemClock), options)
            .await
            .context("cannot open the database (is a server running on it? then use --url)")?;
        let key = key
            .or_else(|| app.bootstrap().map(|b| b.api_key.clone()))
            .context(
                "this database has accounts already: give --api-key (or AGENTSEND_API_KEY); \
                 `agentsend keys create --account ID` makes one",
            )?;
        let state = app.state().clone();
        let credential = Credential::Presented(key);
        state
            .store
            .verify(&credential, state.now())
            .await
            .map_err(|_| anyhow::anyhow!("the API key is not a live key of this database"))?;
        // Checked at every call, as over HTTP: a key revoked meanwhile stops working.
        let server = McpServer::acting_as(state, credential);
        let (done, finished) = tokio::sync::oneshot::channel();
        let session = tokio::spawn(async move {
            let result = mcp::stdio::serve(server).await;
            let _ = done.send(());
            result
        });
        app.run_until(async {
            tokio::select! {
                _ = finished => {}
                () = signal => {}
            }
        })
        .await?;
        session.abort();
        match session.await {
            Ok(result) => result,
            Err(_) => Ok(()),
        }
    })
}

fn fixture(config: Config, args: FixtureArgs) -> anyhow::Result<()> {
    let options = FixtureOptions {
        api_key: parse_api_key(args.api_key.as_deref())?,
        listen: args.listen,
        smtp_listen: args.smtp_listen,
        seed: load_seed(args.seed.as_deref(), &config)?,
    };
    let runtime = runtime()?;
    let result = runtime.block_on(async {
        let signal = app::shutdown_signal()?;
        let fixture = Fixture::start_with(config, options).await?;
        let line = serde_json::to_string(fixture.ready())?;
        if let Some(path) = &args.ready_file {
            write_whole(path, &format!("{line}\n"))
                .with_context(|| format!("cannot write --ready-file {}", path.display()))?;
        }
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{line}")?;
            out.flush()?;
        }
        let exit_on_stdin_close = args.exit_on_stdin_close && stdin_can_close();
        if args.exit_on_stdin_close && !exit_on_stdin_close {
            log::info!(
                "standard input is not a pipe or a terminal: the fixture runs until SIGTERM"
            );
        }
        let served = fixture
            .serve_until(async move {
                if exit_on_stdin_close {
                    tokio::select! {
                        () = signal => {}
                        () = stdin_closed() => log::info!("standard input closed: stopping"),
                    }
                } else {
                    signal.await;
                }
            })
            .await;
        if let Some(path) = &args.ready_file {
            let _ = std::fs::remove_file(path);
        }
        served
    });
    // The read of standard input cannot be cancelled; the runtime must not wait for it.
    runtime.shutdown_background();
    result
}

/// `--api-key`, checked.
fn parse_api_key(raw: Option<&str>) -> anyhow::Result<Option<ApiKeySecret>> {
    raw.map(|raw| {
        ApiKeySecret::parse(raw)
            .context("--api-key must be `ask_` followed by 40 characters of A-Z a-z 0-9 - _")
    })
    .transpose()
}

/// `--seed`, read and checked.
fn load_seed(path: Option<&std::path::Path>, config: &Config) -> anyhow::Result<Option<Seed>> {
    Ok(path
        .map(|path| Seed::load(path, &config.mail.shared_domain))
        .transpose()?)
}

/// Whether standard input is something that closes when whoever started us goes away: a pipe,
/// a socket or a terminal. `/dev/null` or a file "closes" at once; then only signals stop us.
fn stdin_can_close() -> bool {
    use std::io::IsTerminal;
    use std::os::fd::AsFd;
    use std::os::unix::fs::FileTypeExt;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return true;
    }
    stdin
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
        .is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_socket())
}

/// Completes when standard input reaches its end (or cannot be read).
async fn stdin_closed() {
    use tokio::io::AsyncReadExt;
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 1024];
    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
}

/// Writes `text` to `path` through a temporary file renamed into place, so that a reader never
/// sees half of it; readable by the owner only (it holds the keys).
fn write_whole(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&partial)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The first key goes to stdout, once, and never into the log.
fn print_bootstrap(b: &Bootstrap, addr: SocketAddr) {
    let key = b.api_key.expose();
    let line = "=".repeat(72);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{line}\nAgentSend created the default account {} on this first start.\n\
         Its API key is shown this once; store it now:\n\n    {key}\n\n\
         Try it:\n    curl -H \"Authorization: Bearer {key}\" http://{addr}/account\n{line}",
        b.account.id
    );
    let _ = out.flush();
}

/// The SQLite file that `command` works on; an error naming PostgreSQL's own tool when the
/// data is there.
fn sqlite_file<'c>(config: &'c Config, command: &str) -> anyhow::Result<&'c std::path::Path> {
    match config.database.location() {
        DatabaseLocation::Sqlite(path) => Ok(path),
        DatabaseLocation::Postgres(_) => anyhow::bail!(
            "`agentsend {command}` works on an SQLite file; this server's data is in PostgreSQL \
             ({}): use PostgreSQL's own tools (pg_dump, pg_restore, amcheck)",
            config.database.describe()
        ),
    }
}

/// `agentsend db check`.
fn db_check(config: &Config) -> anyhow::Result<()> {
    let db = sqlite_file(config, "db check")?;
    let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let i = crate::store::backup::inspect(db)?;
    println!("{}: ok (integrity_check)", db.display());
    println!(
        "schema version {} (this build: {})",
        i.schema_version,
        crate::store::maintenance::supported_schema_version()
    );
    println!(
        "file {} bytes, write-ahead log {} bytes; {} pages of {} bytes, {} free{}",
        size(db),
        size(&crate::store::wal_path(db)),
        i.page_count,
        i.page_size,
        i.freelist_count,
        if i.incremental_vacuum {
            " (incremental auto-vacuum)"
        } else {
            " (auto-vacuum off: the server switches it on at its next start)"
        }
    );
    println!("rows: {}", row_summary(&i));
    Ok(())
}

/// `agentsend db migrate-to`.
fn db_migrate_to(config: &Config, url: &str) -> anyhow::Result<()> {
    let m = crate::migrate_to::migrate_to(config, url)?;
    let c = &m.copied;
    println!(
        "copied {} to {} (schema version {}):",
        m.source.display(),
        m.target,
        c.schema_version
    );
    for t in &c.tables {
        println!(
            "  {:<20} {:>10} rows {:>14} bytes",
            t.table, t.rows, t.bytes
        );
    }
    println!(
        "  {:<20} {:>10} rows (rebuilt from the messages)",
        "message_search", c.indexed
    );
    println!(
        "total: {} rows, {} bytes in {:.1} s",
        c.tables.iter().map(|t| t.rows).sum::<u64>(),
        c.tables.iter().map(|t| t.bytes).sum::<u64>(),
        m.elapsed.as_secs_f64()
    );
    println!(
        "verified: row counts of {} tables equal; {} sampled rows (the first, the last and \
         every {}th of each table) equal byte for byte ({} bytes)",
        c.verified.tables,
        c.verified.sampled_rows,
        crate::store::copy::SAMPLE_EVERY,
        c.verified.sampled_bytes
    );
    println!(
        "the SQLite file is left in place; to serve from PostgreSQL, set database.url (or \
         AGENTSEND_DATABASE_URL) to the URL given"
    );
    Ok(())
}

fn row_summary(i: &crate::store::backup::Inspection) -> String {
    i.rows
        .iter()
        .map(|(table, n)| format!("{table} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn accounts_command(config: &Config, cmd: AccountsCommand) -> anyhow::Result<()> {
    let store = app::open_store(config)?;
    let now = SystemClock.now();
    match cmd {
        AccountsCommand::Create {
            name,
            email,
            daily_send_limit,
        } => {
            let new = NewAccount {
                name: AccountName::parse(&name).context("--name")?,
                email: EmailAddress::parse(email.trim()).context("--email")?,
                plan: Plan::Free,
                daily_send_limit: daily_send_limit
                    .unwrap_or(config.limits.account_daily_send_limit),
            };
            let account = store.write_blocking(move |c| accounts::create_account(c, &new, now))?;
            println!("created account {}", account.id);
            println!(
                "create its first API key with: agentsend keys create --account {}",
                account.id
            );
        }
        AccountsCommand::Claim { id, email, name } => {
            let email = EmailAddress::parse(email.trim()).context("--email")?;
            let name = name
                .map(|n| AccountName::parse(&n))
                .transpose()
                .context("--name")?;
            let limit = config.limits.account_daily_send_limit;
            let claimed = store.write_blocking(move |tx| {
                Ok(accounts::claim(
                    tx,
                    ClaimOf::Account(id),
                    name.as_ref(),
                    &email,
                    limit,
                    now,
                ))
            })?;
            match claimed {
                Ok(account) => println!(
                    "claimed account {} for {} (plan {}, daily send limit {})",
                    account.id,
                    account.email,
                    account.plan.as_str(),
                    account.daily_send_limit
                ),
                Err(ClaimError::AlreadyClaimed) => {
                    anyhow::bail!("account {id} is not a sandbox account (already claimed?)")
                }
                Err(ClaimError::Unknown) => anyhow::bail!("no account {id}"),
                Err(ClaimError::Store(e)) => return Err(e.into()),
            }
        }
        AccountsCommand::Retention {
            id,
            messages_days,
            default,
        } => {
            if messages_days.is_some_and(|d| d > crate::config::MAX_RETENTION_DAYS) {
                anyhow::bail!(
                    "--messages-days must be at most {}",
                    crate::config::MAX_RETENTION_DAYS
                );
            }
            if default || messages_days.is_some() {
                store.write_blocking(move |tx| {
                    retention::set_account_retention(tx, id, messages_days)
                })?;
            }
            let own = store.read_blocking(move |db| retention::account_retention(db, id))?;
            let days = own.unwrap_or(config.retention.messages_days);
            let kept = if days == 0 {
                "kept forever".to_owned()
            } else {
                format!("kept {days} days")
            };
            let source = if own.is_some() {
                "its own setting"
            } else {
                "retention.messages_days"
            };
            println!("account {id}: messages {kept} ({source})");
        }
        AccountsCommand::List => {
            let list = store.read_blocking(accounts::list_accounts)?;
            println!(
                "{:<36}  {:<8}  {:>11}  {:<24}  {:<24}  NAME",
                "ID", "PLAN", "DAILY LIMIT", "CREATED", "EMAIL"
            );
            for a in list {
                println!(
                    "{:<36}  {:<8}  {:>11}  {:<24}  {:<24}  {}",
                    a.id,
                    a.plan.as_str(),
                    a.daily_send_limit,
                    a.created_at,
                    a.email,
                    a.name
                );
            }
        }
    }
    Ok(())
}

fn keys_command(config: &Config, cmd: KeysCommand) -> anyhow::Result<()> {
    let store = app::open_store(config)?;
    let now = SystemClock.now();
    match cmd {
        KeysCommand::Create {
            account,
            name,
            expires_in_days,
            scopes,
        } => {
            let name = name
                .map(|n| KeyName::parse(&n))
                .transpose()
                .context("--name")?;
            let expires_at =
                expires_in_days.map(|d| now.plus(Duration::from_secs(u64::from(d) * 86_400)));
            let scopes = match scopes {
                Some(names) => {
                    Scopes::parse(&names).map_err(|e| anyhow::anyhow!("--scopes {e}"))?
                }
                None => Scopes::DEFAULT,
            };
            let (key, secret) = store.write_blocking(move |c| {
                let new = NewKey {
                    name: name.as_ref(),
                    expires_at,
                    scopes,
                };
                accounts::create_api_key(c, account, new, now)
            })?;
            println!(
                "created API key {} for account {account} with scopes {}",
                key.id,
                key.scopes.names().join(",")
            );
            println!(
                "the key is shown this once; store it now:\n\n    {}\n",
                secret.expose()
            );
        }
        KeysCommand::List { account } => {
            let keys = store.read_blocking(|c| accounts::list_all_api_keys(c, account))?;
            println!(
                "{:<36}  {:<12}  {:<24}  {:<24}  {:<24}  {:<24}  NAME",
                "ID", "PREFIX", "CREATED", "LAST USED", "STATE", "SCOPES"
            );
            for (k, revoked_at) in keys {
                let state = match (revoked_at, k.expires_at) {
                    (Some(t), _) => format!("revoked {t}"),
                    (None, Some(t)) if t <= now => format!("expired {t}"),
                    (None, Some(t)) => format!("expires {t}"),
                    (None, None) => "active".to_owned(),
                };
                println!(
                    "{:<36}  {:<12}  {:<24}  {:<24}  {:<24}  {:<24}  {}",
                    k.id,
                    k.prefix,
                    k.created_at,
                    k.last_used_at
                        .map_or_else(|| "never".to_owned(), |t: Timestamp| t.to_string()),
                    state,
                    k.scopes.names().join(","),
                    k.name.unwrap_or_default()
                );
            }
        }
        KeysCommand::Revoke { key_id } => {
            store.write_blocking(move |c| accounts::revoke_api_key(c, None, key_id, now))?;
            println!("revoked API key {key_id}");
        }
    }
    Ok(())
}

/// Where a draft stands with its approval.
fn approval(d: &crate::domain::draft::Draft) -> &'static str {
    match (d.requires_approval, d.approved_at) {
        (_, Some(_)) => "approved",
        (true, None) => "pending",
        (false, None) => "-",
    }
}

fn drafts_command(config: &Config, cmd: DraftsCommand) -> anyhow::Result<()> {
    let store = app::open_store(config)?;
    let now = SystemClock.now();
    match cmd {
        DraftsCommand::Approve { id, revision } => {
            let draft = store.write_blocking(move |tx| {
                crate::drafts::approve(tx, None, id, Approver::Operator, revision, now)
            })?;
            let when = draft
                .send_at
                .filter(|at| *at > now)
                .map_or_else(|| "now".to_owned(), |at| format!("at {at}"));
            println!("approved draft {id}; a running server sends it {when}");
        }
        DraftsCommand::Show { id } => {
            let draft = store
                .read_blocking(move |c| crate::store::drafts::find(c, id))?
                .with_context(|| format!("no draft {id}"))?;
            let c = &draft.content;
            let list = |l: &Option<Vec<String>>| l.as_deref().unwrap_or_default().join(", ");
            println!("draft     {} (revision {})", draft.id, draft.revision);
            println!("inbox     {}", draft.inbox_id);
            println!("status    {}", draft.status.as_str());
            println!("approval  {}", approval(&draft));
            println!("to        {}", list(&c.to));
            println!("cc        {}", list(&c.cc));
            println!("bcc       {}", list(&c.bcc));
            println!("subject   {}", c.subject.as_deref().unwrap_or_default());
            println!(
                "send at   {}",
                draft
                    .send_at
                    .map_or_else(|| "-".to_owned(), |t| t.to_string())
            );
            println!(
                "attached  {} file(s)",
                c.attachment_ids.as_deref().unwrap_or_default().len()
            );
            println!("\n{}", c.body_text.as_deref().unwrap_or_default());
            if let Some(html) = &c.body_html {
                println!("\n--- HTML ---\n{html}");
            }
        }
        DraftsCommand::List { account, pending } => {
            let drafts = store
                .read_blocking(|c| crate::store::drafts::list_for_operator(c, account, pending))?;
            println!(
                "{:<36}  {:<36}  {:<9}  {:<8}  {:<24}  {:<30}  SUBJECT",
                "ID", "INBOX", "STATUS", "APPROVAL", "SEND AT", "TO"
            );
            for d in drafts {
                let approval = approval(&d);
                println!(
                    "{:<36}  {:<36}  {:<9}  {:<8}  {:<24}  {:<30}  {}",
                    d.id,
                    d.inbox_id,
                    d.status.as_str(),
                    approval,
                    d.send_at.map_or_else(|| "-".to_owned(), |t| t.to_string()),
                    d.content.to.unwrap_or_default().join(","),
                    d.content.subject.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
