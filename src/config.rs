//! Typed configuration. Precedence, lowest first: built-in defaults < config file
//! (`--config PATH`, else `./agentsend.toml` when present) < `AGENTSEND_<SECTION>_<KEY>`
//! environment variables < command-line flags. Unknown keys and bad values are errors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::DomainName;
use crate::domain::custom_domain::{DkimAlgorithm, DnsSetup};

/// The whole configuration; every field has a default.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The HTTP API.
    pub http: HttpConfig,
    /// The SQLite file.
    pub database: DatabaseConfig,
    /// Mail addressing.
    pub mail: MailConfig,
    /// Request and sending limits.
    pub limits: LimitsConfig,
    /// `Idempotency-Key` handling.
    pub idempotency: IdempotencyConfig,
    /// Webhook deliveries.
    pub webhooks: WebhooksConfig,
    /// The SMTP listener (receiving mail).
    pub smtp: SmtpConfig,
    /// Sending mail.
    pub outbound: OutboundConfig,
    /// Uploaded attachments and download links.
    pub attachments: AttachmentsConfig,
    /// Auto-provisioned sandbox accounts and their limits.
    pub sandbox: SandboxConfig,
    /// The DNS resolver (MX lookups, domain verification, SPF/DKIM/DMARC checks).
    pub dns: DnsConfig,
    /// Custom domains: the records they publish and how they are verified.
    pub domains: DomainsConfig,
    /// Logging.
    pub log: LogConfig,
}

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address the API listens on; port 0 picks a free port.
    pub listen: SocketAddr,
    /// HTTP worker threads; 0 means one per CPU core.
    pub workers: usize,
    /// Largest JSON request body in bytes (SPEC: 4 MiB).
    pub json_body_limit: usize,
    /// Largest multipart request body in bytes (SPEC: 11 MiB).
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
        }
    }
}

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// The SQLite file; created with the schema if missing.
    pub path: PathBuf,
    /// Pooled connections.
    pub pool_size: u32,
    /// Milliseconds a connection waits for a lock before giving up.
    pub busy_timeout_ms: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            path: PathBuf::from("agentsend.db"),
            pool_size: 16,
            busy_timeout_ms: 5000,
        }
    }
}

/// `[mail]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MailConfig {
    /// Domain of inboxes created without a custom domain.
    #[serde(
        serialize_with = "serialize_display",
        deserialize_with = "deserialize_domain"
    )]
    pub shared_domain: DomainName,
    /// PEM private key (RSA or Ed25519) that signs mail from the shared domain with DKIM;
    /// empty: not signed.
    pub dkim_private_key: PathBuf,
    /// DKIM selector of that key (`<selector>._domainkey.<shared_domain>`).
    pub dkim_selector: String,
    /// Domains of feedback loops (mailbox providers that send ARF complaints about mail their
    /// users marked as spam) to trust: a complaint signed by one of them (DKIM `pass`, which
    /// needs `dns.check_inbound`) counts when it names a message by its Message-ID alone.
    pub feedback_loop_senders: Vec<String>,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            // RFC 6761 reserves .localhost: addresses on it can never leak onto the internet.
            shared_domain: DomainName::parse("agentsend.localhost")
                .unwrap_or_else(|e| unreachable!("default shared domain is valid: {e}")),
            dkim_private_key: PathBuf::new(),
            dkim_selector: "agentsend".to_owned(),
            feedback_loop_senders: Vec::new(),
        }
    }
}

/// `[limits]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Requests per window per account (per client IP when unauthenticated); 0 disables.
    pub rate_limit: u32,
    /// Length of the fixed rate-limit window in seconds.
    pub rate_limit_window_secs: u64,
    /// Default `dailySendLimit` of a new inbox (capped by its account's limit).
    pub inbox_daily_send_limit: u32,
    /// `dailySendLimit` of accounts created by the operator.
    pub account_daily_send_limit: u32,
    /// Bytes of incoming messages (SMTP) and uploads held in memory at once, across all
    /// clients; past it clients are asked to retry later.
    pub max_buffered_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            rate_limit: 100,
            rate_limit_window_secs: 60,
            inbox_daily_send_limit: 100,
            account_daily_send_limit: 1000,
            max_buffered_bytes: 128 * 1024 * 1024,
        }
    }
}

/// `[idempotency]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdempotencyConfig {
    /// Seconds a stored response is replayed for.
    pub window_secs: u64,
}

impl Default for IdempotencyConfig {
    fn default() -> Self {
        Self {
            window_secs: 24 * 3600,
        }
    }
}

/// `[smtp]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpConfig {
    /// Address the SMTP listener binds; port 25 on a server. Port 0 picks a free port.
    pub listen: SocketAddr,
    /// This server's name in the greeting, EHLO reply and `Received` headers (its MX name).
    pub hostname: String,
    /// Largest message in bytes, announced with `SIZE`; larger ones get `552`.
    pub max_message_size: usize,
    /// Recipients per transaction; more get `452`.
    pub max_recipients: usize,
    /// Longest command line in octets, CRLF included (RFC 5321 §4.5.3.1.4: 512).
    pub max_command_line: usize,
    /// Seconds a whole command line may take to arrive, counted from the server being ready
    /// for it (a trickle of bytes does not extend it), before the session is closed with `421`.
    pub idle_timeout_secs: u64,
    /// Seconds the whole `DATA` phase may take (RFC 5321 §4.5.3.2.6 suggests 10 minutes).
    pub data_timeout_secs: u64,
    /// Bytes per second the message data must average once DATA has run for 30 s (or the idle
    /// timeout, if shorter); slower clients are closed with `421`. 0: no floor.
    pub min_data_rate: u64,
    /// Sessions at once; more are turned away with `421`.
    pub max_sessions: usize,
    /// Sessions at once from one client (an IPv4 address or an IPv6 /64).
    pub max_sessions_per_ip: usize,
    /// PEM certificate chain for STARTTLS; empty disables STARTTLS.
    pub tls_certificate: PathBuf,
    /// PEM private key for STARTTLS.
    pub tls_private_key: PathBuf,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 2525)),
            hostname: "localhost".to_owned(),
            max_message_size: 25 * 1024 * 1024,
            max_recipients: 100,
            max_command_line: 512,
            idle_timeout_secs: 300,
            data_timeout_secs: 600,
            min_data_rate: 1024,
            max_sessions: 100,
            max_sessions_per_ip: 10,
            tls_certificate: PathBuf::new(),
            tls_private_key: PathBuf::new(),
        }
    }
}

/// `[outbound]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OutboundConfig {
    /// Where mail to addresses that are not inboxes here goes: `dry-run` (nowhere; recorded as
    /// sent), `relay` (a smarthost) or `direct` (the recipient domain's MX).
    pub mode: OutboundMode,
    /// Name given in EHLO to relays and MX hosts (in `direct` mode, the host named in SPF).
    pub ehlo_hostname: String,
    /// Send each message with a return path of its own (VERP, `bounces+<token>@<domain>`) as
    /// its envelope sender, so that delivery reports about it can be trusted. Off: the inbox's
    /// address, for relays that insist on it; reports then change no status.
    pub verp: bool,
    /// Waits before each retry of a temporary failure, in milliseconds; attempts are one more
    /// than the entries.
    pub retry_schedule_ms: Vec<u64>,
    /// Seconds allowed for connecting and for each SMTP command.
    pub timeout_secs: u64,
    /// Messages sent at once.
    pub concurrency: usize,
    /// Seconds a claimed send belongs to its worker before it is taken up again.
    pub lease_secs: u64,
    /// `relay`: the smarthost.
    pub relay_host: String,
    /// `relay`: its port.
    pub relay_port: u16,
    /// `relay`: `starttls` (required), `tls` (implicit, port 465) or `none`.
    pub relay_security: RelaySecurity,
    /// `relay`: user name for AUTH; empty means no AUTH.
    pub relay_username: String,
    /// `relay`: password for AUTH.
    pub relay_password: String,
    /// `direct`: the port MX hosts are contacted on (25; tests use another).
    pub direct_port: u16,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            mode: OutboundMode::DryRun,
            ehlo_hostname: "localhost".to_owned(),
            verp: true,
            retry_schedule_ms: vec![60_000, 300_000, 900_000, 3_600_000, 10_800_000, 21_600_000],
            timeout_secs: 60,
            concurrency: 16,
            lease_secs: 900,
            relay_host: String::new(),
            relay_port: 587,
            relay_security: RelaySecurity::Starttls,
            relay_username: String::new(),
            relay_password: String::new(),
            direct_port: 25,
        }
    }
}

/// How outgoing mail leaves the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutboundMode {
    /// It does not: remote recipients are recorded as sent.
    DryRun,
    /// Through a smarthost.
    Relay,
    /// Straight to each recipient domain's MX.
    Direct,
}

/// TLS with the smarthost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RelaySecurity {
    /// STARTTLS, required.
    Starttls,
    /// Implicit TLS.
    Tls,
    /// Plain text (a relay on the same host or network).
    None,
}

/// `[webhooks]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhooksConfig {
    /// Attempts per delivery, the first included.
    pub max_attempts: u32,
    /// Wait before the first retry in milliseconds; it doubles with every further retry.
    pub retry_base_ms: u64,
    /// Total time allowed for one attempt (connect, send, response headers and body).
    pub timeout_ms: u64,
    /// Deliveries in flight at once.
    pub concurrency: usize,
    /// Deliveries in flight at once to any one webhook, so a slow endpoint cannot hold every
    /// slot.
    pub per_webhook_concurrency: usize,
    /// How long a claimed delivery belongs to its worker; a claim older than this (the
    /// process died mid-attempt) is attempted again. At least `timeout_ms` + 1000.
    pub lease_ms: u64,
    /// Non-public networks (CIDR) deliveries may go to, e.g. `["10.0.0.0/8"]`.
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// Loopback targets: `auto` (allowed when the API listens on loopback), `always`, `never`.
    pub allow_loopback: LoopbackPolicy,
    /// Days finished deliveries stay in the delivery log.
    pub retention_days: u64,
}

impl Default for WebhooksConfig {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            retry_base_ms: 10_000,
            timeout_ms: 30_000,
            concurrency: 32,
            per_webhook_concurrency: 4,
            lease_ms: 60_000,
            allowed_networks: Vec::new(),
            allow_loopback: LoopbackPolicy::Auto,
            retention_days: 30,
        }
    }
}

/// `[attachments]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttachmentsConfig {
    /// Seconds a presigned download link stays valid.
    pub link_ttl_secs: u64,
    /// Days an uploaded attachment that no message uses is kept.
    pub upload_retention_days: u64,
}

impl Default for AttachmentsConfig {
    fn default() -> Self {
        Self {
            link_ttl_secs: 3600,
            upload_retention_days: 7,
        }
    }
}

/// `[sandbox]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// `POST /auth/auto-provision`: `auto` (on when the API listens on loopback and is not
    /// behind a proxy), `enabled`, `disabled`.
    pub auto_provision: AutoProvision,
    /// Provisioning calls per client IP per window; 0 means no limit of its own.
    pub provision_limit: u32,
    /// The provisioning window in seconds.
    pub provision_window_secs: u64,
    /// Inboxes a sandbox account may create (deleted ones count).
    pub max_inboxes: u32,
    /// Messages a sandbox account may send in total.
    pub max_sends: u32,
    /// Days after creation a sandbox account may create inboxes and send.
    pub lifetime_days: u64,
    /// A sandbox account's daily send limit.
    pub daily_send_limit: u32,
    /// Whether sandbox accounts may send to addresses that are not inboxes on this server.
    pub external_recipients: bool,
    /// Whether sandbox accounts may create webhooks.
    pub webhooks: bool,
    /// Whether sandbox accounts may add custom domains.
    pub custom_domains: bool,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            auto_provision: AutoProvision::Auto,
            provision_limit: 10,
            provision_window_secs: 3600,
            max_inboxes: 1,
            max_sends: 50,
            lifetime_days: 7,
            daily_send_limit: 50,
            external_recipients: false,
            webhooks: false,
            custom_domains: false,
        }
    }
}

impl SandboxConfig {
    /// The limits as the checks use them.
    pub fn limits(&self) -> crate::domain::sandbox::SandboxLimits {
        crate::domain::sandbox::SandboxLimits {
            max_inboxes: u64::from(self.max_inboxes),
            max_sends: u64::from(self.max_sends),
            lifetime: std::time::Duration::from_secs(self.lifetime_days.saturating_mul(86_400)),
            external_recipients: self.external_recipients,
            webhooks: self.webhooks,
            custom_domains: self.custom_domains,
        }
    }
}

/// `[dns]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DnsConfig {
    /// DNS servers as `ip:port`; empty means the system's resolver (`/etc/resolv.conf`).
    pub nameservers: Vec<SocketAddr>,
    /// Seconds to wait for one answer.
    pub timeout_secs: u64,
    /// Check SPF, DKIM and DMARC of mail received over SMTP and record the results on the
    /// message (`authResults`): a few (cached) DNS lookups per message. `auto`: only when the
    /// SMTP listener is not on loopback (mail from the internet, not from local tools).
    pub check_inbound: CheckInbound,
}

/// Whether mail received over SMTP is checked (SPF, DKIM, DMARC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckInbound {
    /// When the SMTP listener is not bound to a loopback address.
    Auto,
    /// Always.
    Enabled,
    /// Never.
    Disabled,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            nameservers: Vec::new(),
            timeout_secs: 5,
            check_inbound: CheckInbound::Auto,
        }
    }
}

/// `[domains]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DomainsConfig {
    /// The host custom domains point their MX record at; empty means `smtp.hostname`.
    pub mail_host: String,
    /// Where their mail leaves from, for the SPF record: `ip4:`/`ip6:`/`a:`/`mx:`/`include:`
    /// mechanisms, bare IP addresses or host names; empty means `a:<outbound.ehlo_hostname>`
    /// (right for `direct` mode; with a relay, list what its provider says to include).
    pub spf_senders: Vec<String>,
    /// The start of the DKIM selectors of custom domains: each gets
    /// `<dkim_selector>-<6 random characters>`.
    pub dkim_selector: String,
    /// `rsa` (2048 bits, the widely supported choice) or `ed25519`.
    pub dkim_algorithm: DkimAlgorithm,
    /// Hours a domain has to publish its records before its pending status turns `failed`.
    pub verification_hours: u64,
    /// Seconds between automatic re-checks of pending domains.
    pub recheck_interval_secs: u64,
    /// Domains one account may have.
    pub max_per_account: u32,
}

impl Default for DomainsConfig {
    fn default() -> Self {
        Self {
            mail_host: String::new(),
            spf_senders: Vec::new(),
            dkim_selector: "agentsend".to_owned(),
            dkim_algorithm: DkimAlgorithm::Rsa,
            verification_hours: 72,
            recheck_interval_secs: 600,
            max_per_account: 50,
        }
    }
}

/// Whether agents may provision sandbox accounts for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoProvision {
    /// Enabled when the API listens on a loopback address (local development).
    Auto,
    /// Always enabled.
    Enabled,
    /// Never enabled.
    Disabled,
}

/// Whether webhook deliveries may go to loopback addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LoopbackPolicy {
    /// Allowed when the API itself listens on a loopback address (local development).
    Auto,
    /// Always allowed.
    Always,
    /// Never allowed.
    Never,
}

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// env_logger filter, e.g. `info` or `agentsend=debug,actix_web=warn`; `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
        }
    }
}

fn serialize_display<S: Serializer, T: std::fmt::Display>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn deserialize_domain<'de, D: Deserializer<'de>>(d: D) -> Result<DomainName, D::Error> {
    let s = String::deserialize(d)?;
    DomainName::parse(&s).map_err(|e| serde::de::Error::custom(format!("`{s}` {e}")))
}

/// Values given on the command line; they win over everything else.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`
    pub listen: Option<SocketAddr>,
    /// `--db`
    pub db: Option<PathBuf>,
    /// `--rate-limit`
    pub rate_limit: Option<u32>,
    /// `--smtp-listen`
    pub smtp_listen: Option<SocketAddr>,
}

/// A configuration that cannot be used, with a message for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(String);

/// Environment variables that belong to AgentSend *clients* (SDK, MCP server); a developer may
/// well have them set in the shell that starts the server.
const CLIENT_VARIABLES: [&str; 3] = [
    "AGENTSEND_API_KEY",
    "AGENTSEND_BASE_URL",
    "AGENTSEND_CONFIG",
];

/// The loaded configuration and remarks to log once logging is set up.
#[derive(Debug)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Things worth a warning (e.g. an `AGENTSEND_*` variable that names no setting).
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads the layers in order. `file` is `--config`: when given it must exist; otherwise
    /// `./agentsend.toml` is read if present.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: &Overrides,
    ) -> Result<Loaded, ConfigError> {
        let (mut table, file) = match file {
            Some(path) => (read_file(path)?, Some(path.to_path_buf())),
            None => {
                let default = Path::new("agentsend.toml");
                if default.is_file() {
                    (read_file(default)?, Some(default.to_path_buf()))
                } else {
                    (toml::Table::new(), None)
                }
            }
        };
        let warnings = apply_env(&mut table, env)?;
        // The path of the bad value (`limits.rate_limit`) is what an operator needs to fix it.
        let mut config: Config = serde_path_to_error::deserialize(toml::Value::Table(table))
            .map_err(|e| {
                ConfigError(format!(
                    "invalid configuration ({}): {}: {}",
                    describe_sources(file.as_deref()),
                    e.path(),
                    e.inner().message()
                ))
            })?;
        if let Some(listen) = overrides.listen {
            config.http.listen = listen;
        }
        if let Some(db) = &overrides.db {
            config.database.path.clone_from(db);
        }
        if let Some(limit) = overrides.rate_limit {
            config.limits.rate_limit = limit;
        }
        if let Some(listen) = overrides.smtp_listen {
            config.smtp.listen = listen;
        }
        config.validate()?;
        Ok(Loaded {
            config,
            file,
            warnings,
        })
    }

    /// Parses a configuration file's text on its own (no environment, no flags) and validates it.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError(format!("invalid configuration: {e}")))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the values that their types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if self.http.json_body_limit < 1024 {
            return fail("http.json_body_limit", "must be at least 1024 bytes");
        }
        if self.http.multipart_body_limit < 1024 {
            return fail("http.multipart_body_limit", "must be at least 1024 bytes");
        }
        let h = &self.http;
        if h.header_timeout_secs == 0
            || h.body_timeout_secs == 0
            || h.unauthenticated_body_timeout_secs == 0
        {
            return fail(
                "http",
                "the header and body timeouts must be at least 1 second",
            );
        }
        if h.max_connections == 0 || h.max_connections_per_ip == 0 {
            return fail("http", "the connection limits must be at least 1");
        }
        if !self.http.public_url.is_empty() {
            let ok = url::Url::parse(&self.http.public_url).is_ok_and(|u| {
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
        let peak = crate::budget::MESSAGE_PEAK_FACTOR;
        if self.limits.max_buffered_bytes < peak * self.smtp.max_message_size
            || self.limits.max_buffered_bytes < peak * crate::domain::message::MAX_UPLOAD_SIZE
        {
            return fail(
                "limits.max_buffered_bytes",
                "must hold one message of smtp.max_message_size (and one 10 MiB upload) four \
                 times over: receiving, parsing and storing a message need that much at its peak",
            );
        }
        if let Some(bad) = self
            .mail
            .feedback_loop_senders
            .iter()
            .find(|d| DomainName::parse(d).is_err())
        {
            return fail(
                "mail.feedback_loop_senders",
                &format!("{bad:?} is not a domain name"),
            );
        }
        if self.attachments.link_ttl_secs == 0 {
            return fail("attachments.link_ttl_secs", "must be at least 1");
        }
        for (key, selector) in [
            ("mail.dkim_selector", &self.mail.dkim_selector),
            ("domains.dkim_selector", &self.domains.dkim_selector),
        ] {
            if selector.is_empty()
                || selector.len() > 63
                || !selector
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return fail(
                    key,
                    "must be a DNS label: 1 to 63 letters, digits and hyphens",
                );
            }
        }
        if self.dns.timeout_secs == 0 {
            return fail("dns.timeout_secs", "must be at least 1");
        }
        if self.domains.verification_hours == 0 || self.domains.recheck_interval_secs == 0 {
            return fail(
                "domains",
                "verification_hours and recheck_interval_secs must be at least 1",
            );
        }
        if let Err(why) = self.dns_setup() {
            return fail("domains", &why);
        }
        if self.sandbox.provision_window_secs == 0 {
            return fail("sandbox.provision_window_secs", "must be at least 1");
        }
        if self.attachments.upload_retention_days == 0 {
            return fail("attachments.upload_retention_days", "must be at least 1");
        }
        if !(1..=256).contains(&self.database.pool_size) {
            return fail("database.pool_size", "must be from 1 to 256");
        }
        if self.database.path.as_os_str().is_empty() {
            return fail("database.path", "must not be empty");
        }
        if self.limits.rate_limit_window_secs == 0 {
            return fail("limits.rate_limit_window_secs", "must be at least 1");
        }
        if self.idempotency.window_secs == 0 {
            return fail("idempotency.window_secs", "must be at least 1");
        }
        let smtp = &self.smtp;
        if DomainName::parse(&smtp.hostname).is_err() {
            return fail("smtp.hostname", "must be a host name");
        }
        if smtp.max_message_size < 1024
            || smtp.max_recipients == 0
            || smtp.max_sessions == 0
            || smtp.max_sessions_per_ip == 0
        {
            return fail(
                "smtp",
                "max_message_size must be at least 1024, the recipient and session limits at least 1",
            );
        }
        if !(512..=65_536).contains(&smtp.max_command_line) {
            return fail("smtp.max_command_line", "must be from 512 to 65536");
        }
        if smtp.idle_timeout_secs == 0 || smtp.data_timeout_secs == 0 {
            return fail("smtp", "timeouts must be at least 1 second");
        }
        if smtp.tls_certificate.as_os_str().is_empty()
            != smtp.tls_private_key.as_os_str().is_empty()
        {
            return fail(
                "smtp.tls_certificate",
                "set both tls_certificate and tls_private_key, or neither",
            );
        }
        let o = &self.outbound;
        if DomainName::parse(&o.ehlo_hostname).is_err() {
            return fail("outbound.ehlo_hostname", "must be a host name");
        }
        if o.retry_schedule_ms.contains(&0) || o.retry_schedule_ms.len() > 50 {
            return fail(
                "outbound.retry_schedule_ms",
                "must be at most 50 waits of at least 1 ms",
            );
        }
        if o.timeout_secs == 0 || o.concurrency == 0 || o.lease_secs <= o.timeout_secs * 3 {
            return fail(
                "outbound",
                "timeout_secs and concurrency must be at least 1, lease_secs more than 3 x timeout_secs",
            );
        }
        if o.mode == OutboundMode::Relay && o.relay_host.trim().is_empty() {
            return fail("outbound.relay_host", "is required in relay mode");
        }
        let w = &self.webhooks;
        if !(1..=100).contains(&w.max_attempts) {
            return fail("webhooks.max_attempts", "must be from 1 to 100");
        }
        if w.retry_base_ms == 0 {
            return fail("webhooks.retry_base_ms", "must be at least 1");
        }
        if w.timeout_ms < 10 {
            return fail("webhooks.timeout_ms", "must be at least 10");
        }
        // The margin covers recording the attempt after the receiver answered.
        if w.lease_ms < w.timeout_ms.saturating_add(1000) {
            return fail(
                "webhooks.lease_ms",
                "must be at least webhooks.timeout_ms + 1000",
            );
        }
        if w.concurrency == 0 || w.per_webhook_concurrency == 0 {
            return fail(
                "webhooks.concurrency",
                "both concurrency settings must be at least 1",
            );
        }
        validate_log_filter(&self.log.level).or_else(|why| fail("log.level", &why))
    }

    /// Whether mail received over SMTP gets SPF/DKIM/DMARC results (`dns.check_inbound`).
    pub fn checks_inbound_mail(&self) -> bool {
        match self.dns.check_inbound {
            CheckInbound::Enabled => true,
            CheckInbound::Disabled => false,
            CheckInbound::Auto => !self.smtp.listen.ip().is_loopback(),
        }
    }

    /// What custom domains publish: their MX target and SPF value (`[domains]`, defaulting to
    /// `smtp.hostname` and `outbound.ehlo_hostname`).
    pub fn dns_setup(&self) -> Result<DnsSetup, String> {
        let host = if self.domains.mail_host.is_empty() {
            &self.smtp.hostname
        } else {
            &self.domains.mail_host
        };
        let mail_host = DomainName::parse(host)
            .map_err(|e| format!("mail_host {host:?} is not a host name: {e}"))?;
        let spf = if self.domains.spf_senders.is_empty() {
            DnsSetup::spf_for(std::slice::from_ref(&self.outbound.ehlo_hostname))
        } else {
            DnsSetup::spf_for(&self.domains.spf_senders)
        }
        .map_err(|e| format!("spf_senders: {e}"))?;
        Ok(DnsSetup { mail_host, spf })
    }

    /// The effective configuration as TOML, with secret values replaced.
    pub fn redacted_toml(&self) -> Result<String, ConfigError> {
        let mut table = toml::Table::try_from(self)
            .map_err(|e| ConfigError(format!("cannot render the configuration: {e}")))?;
        redact(&mut table);
        toml::to_string_pretty(&table)
            .map_err(|e| ConfigError(format!("cannot render the configuration: {e}")))
    }
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
    text.parse::<toml::Table>()
        .map_err(|e| ConfigError(format!("invalid config file {}: {e}", path.display())))
}

fn describe_sources(file: Option<&Path>) -> String {
    match file {
        Some(p) => format!("{} and AGENTSEND_* variables", p.display()),
        None => "AGENTSEND_* variables".to_owned(),
    }
}

/// Overlays `AGENTSEND_<SECTION>_<KEY>` variables, e.g. `AGENTSEND_LIMITS_RATE_LIMIT=0` sets
/// `limits.rate_limit`. Values are typed after the setting's default (so `AGENTSEND_MAIL_
/// SHARED_DOMAIN=123.example` stays a string); variables naming no section are reported as
/// warnings, and a known section with an unknown key is an error.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Vec<String>, ConfigError> {
    let defaults = toml::Table::try_from(Config::default())
        .map_err(|e| ConfigError(format!("cannot render the defaults: {e}")))?;
    let vars: BTreeMap<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("AGENTSEND_") && !CLIENT_VARIABLES.contains(&k.as_str()))
        .collect();
    let mut warnings = Vec::new();
    for (var, raw) in vars {
        let rest = var["AGENTSEND_".len()..].to_ascii_lowercase();
        let section = defaults
            .iter()
            .filter_map(|(name, v)| v.as_table().map(|t| (name, t)))
            .find(|(name, _)| rest.starts_with(&format!("{name}_")));
        let Some((section_name, section_defaults)) = section else {
            warnings.push(format!("{var} does not name a setting; ignored"));
            continue;
        };
        let key = &rest[section_name.len() + 1..];
        let Some(default) = section_defaults.get(key) else {
            return Err(ConfigError(format!(
                "{var}: `{section_name}` has no setting `{key}`"
            )));
        };
        let value = typed_like(default, &raw).ok_or_else(|| {
            ConfigError(format!(
                "{var}: `{raw}` is not a valid {}",
                default.type_str()
            ))
        })?;
        let target = table
            .entry(section_name.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match target.as_table_mut() {
            Some(t) => {
                t.insert(key.to_owned(), value);
            }
            None => {
                return Err(ConfigError(format!(
                    "`{section_name}` in the config file must be a table"
                )));
            }
        }
    }
    Ok(warnings)
}

fn typed_like(default: &toml::Value, raw: &str) -> Option<toml::Value> {
    use toml::Value;
    let raw = raw.trim();
    match default {
        Value::String(_) => Some(Value::String(raw.to_owned())),
        Value::Integer(_) => raw.parse().ok().map(Value::Integer),
        Value::Float(_) => raw.parse().ok().map(Value::Float),
        Value::Boolean(_) => match raw.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(Value::Boolean(true)),
            "false" | "0" | "no" | "off" => Some(Value::Boolean(false)),
            _ => None,
        },
        Value::Array(_) => {
            let parsed = format!("v = {raw}").parse::<toml::Table>().ok();
            match parsed.and_then(|mut t| t.remove("v")) {
                Some(v @ Value::Array(_)) => Some(v),
                // A bare comma-separated list: each item a TOML value if it reads as one
                // (`60000,300000`), else a string (`127.0.0.1:53,10.0.0.1:53`).
                _ => Some(Value::Array(
                    raw.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|item| {
                            format!("v = {item}")
                                .parse::<toml::Table>()
                                .ok()
                                .and_then(|mut t| t.remove("v"))
                                .unwrap_or_else(|| Value::String(item.to_owned()))
                        })
                        .collect(),
                )),
            }
        }
        Value::Datetime(_) | Value::Table(_) => None,
    }
}

/// Names whose values are secrets, wherever they appear.
fn is_secret_key(key: &str) -> bool {
    key == "password"
        || key.ends_with("_password")
        || key.ends_with("secret")
        || key == "private_key"
}

fn redact(table: &mut toml::Table) {
    for (key, value) in table.iter_mut() {
        match value {
            toml::Value::Table(inner) => redact(inner),
            v if is_secret_key(key) => *v = toml::Value::String("<redacted>".to_owned()),
            _ => {}
        }
    }
}

fn validate_log_filter(filter: &str) -> Result<(), String> {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        // env_logger would read a bare word as a module name and silence everything else, so
        // `level = "loud"` is far more likely a typo than a wish: only levels and
        // `module=level` pairs are accepted.
        let (module, level) = directive.rsplit_once('=').unwrap_or(("", directive));
        let module_ok = module
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
        if !module_ok || !LEVELS.contains(&level.to_ascii_lowercase().as_str()) {
            return Err(format!(
                "`{directive}` is not a log directive (use a level such as info, or module=level)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn inbound_checks_are_automatic_off_loopback_and_custom_domain_records_follow_the_hosts() {
        let mut c = Config::default();
        assert!(!c.checks_inbound_mail());
        c.smtp.listen = "0.0.0.0:25".parse().unwrap();
        assert!(c.checks_inbound_mail());
        c.dns.check_inbound = CheckInbound::Disabled;
        assert!(!c.checks_inbound_mail());
        c.smtp.listen = "127.0.0.1:2525".parse().unwrap();
        c.dns.check_inbound = CheckInbound::Enabled;
        assert!(c.checks_inbound_mail());

        c.smtp.hostname = "mx.example.net".to_owned();
        c.outbound.ehlo_hostname = "out.example.net".to_owned();
        let setup = c.dns_setup().unwrap();
        assert_eq!(setup.mail_host.as_str(), "mx.example.net");
        assert_eq!(setup.spf, "v=spf1 a:out.example.net ~all");
        c.domains.spf_senders = vec!["not a host".to_owned()];
        assert!(c.validate().unwrap_err().to_string().contains("domains"));
    }

    fn load_text(text: &str, vars: &[(&str, &str)], o: &Overrides) -> Result<Loaded, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path), env(vars), o)
    }

    #[test]
    fn the_shipped_agentsend_toml_parses_and_matches_the_defaults() {
        let text = include_str!("../agentsend.toml");
        let shipped = Config::from_toml(text).unwrap();
        let defaults = Config::default();
        assert_eq!(
            toml::Table::try_from(&shipped).unwrap(),
            toml::Table::try_from(&defaults).unwrap(),
            "agentsend.toml documents the built-in defaults"
        );
    }

    #[test]
    fn layers_apply_in_order_defaults_file_env_flags() {
        let text = "[http]\nlisten = \"127.0.0.1:4000\"\n[limits]\nrate_limit = 5\n";
        let loaded = load_text(text, &[], &Overrides::default()).unwrap();
        assert_eq!(loaded.config.http.listen.port(), 4000);
        assert_eq!(loaded.config.limits.rate_limit, 5);
        assert_eq!(loaded.config.database.path, PathBuf::from("agentsend.db"));

        let vars = [
            ("AGENTSEND_LIMITS_RATE_LIMIT", "7"),
            ("AGENTSEND_HTTP_LISTEN", "127.0.0.1:5000"),
        ];
        let loaded = load_text(text, &vars, &Overrides::default()).unwrap();
        assert_eq!(loaded.config.limits.rate_limit, 7);
        assert_eq!(loaded.config.http.listen.port(), 5000);

        let flags = Overrides {
            rate_limit: Some(0),
            listen: Some("127.0.0.1:0".parse().unwrap()),
            db: Some(PathBuf::from("/tmp/x.db")),
            smtp_listen: Some("127.0.0.1:0".parse().unwrap()),
        };
        let loaded = load_text(text, &vars, &flags).unwrap();
        assert_eq!(loaded.config.limits.rate_limit, 0);
        assert_eq!(loaded.config.http.listen.port(), 0);
        assert_eq!(loaded.config.database.path, PathBuf::from("/tmp/x.db"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_that_name_them() {
        let e = load_text("[http]\nlisen = \"x\"\n", &[], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let e = load_text(
            "[mail]\nshared_domain = \"not a domain\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("not a domain"), "{e}");
        let e = load_text("[limits]\nrate_limit = -1\n", &[], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("rate_limit"), "{e}");
        let e = load_text(
            "",
            &[("AGENTSEND_LIMITS_RATE_LIMIT", "many")],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("AGENTSEND_LIMITS_RATE_LIMIT"), "{e}");
        let e = load_text("", &[("AGENTSEND_HTTP_LISEN", "x")], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("AGENTSEND_HTTP_LISEN"), "{e}");
        let e = load_text("[log]\nlevel = \"loud\"\n", &[], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("log.level"), "{e}");
        let missing = Config::load(
            Some(Path::new("/nonexistent/agentsend.toml")),
            env(&[]),
            &Overrides::default(),
        );
        assert!(missing.is_err());
    }

    #[test]
    fn client_variables_are_ignored_and_unknown_sections_only_warned_about() {
        let vars = [
            ("AGENTSEND_API_KEY", "ask_x"),
            ("AGENTSEND_BASE_URL", "http://localhost:3000"),
            ("AGENTSEND_SOMETHING", "1"),
        ];
        let loaded = load_text("", &vars, &Overrides::default()).unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].contains("AGENTSEND_SOMETHING"));
    }

    #[test]
    fn redaction_hides_secret_values() {
        let mut t: toml::Table =
            "[relay]\npassword = \"hunter2\"\nhost = \"smtp\"\n[a]\nsigning_secret = \"s\"\n"
                .parse()
                .unwrap();
        redact(&mut t);
        let s = t.to_string();
        assert!(!s.contains("hunter2") && !s.contains("\"s\""), "{s}");
        assert!(s.contains("smtp"));
    }
}
