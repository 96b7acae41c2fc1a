//! Typed configuration. Precedence, lowest first: built-in defaults < config file
//! (`--config PATH`, else `./agentsend.toml` when present) < `AGENTSEND_<SECTION>_<KEY>`
//! environment variables < command-line flags. Unknown keys and bad values are errors.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::DomainName;
use crate::domain::custom_domain::DnsSetup;

mod attachments;
mod backup;
mod database;
mod dns;
mod domains;
mod events;
mod http;
mod idempotency;
mod limits;
mod logging;
mod mail;
mod metrics;
mod outbound;
mod retention;
mod sandbox;
mod smtp;
mod webhooks;

pub use attachments::AttachmentsConfig;
pub use backup::BackupConfig;
pub use database::{DatabaseConfig, DatabaseLocation};
pub use dns::{CheckInbound, DnsConfig};
pub use domains::DomainsConfig;
pub use events::EventsConfig;
pub use http::HttpConfig;
pub use idempotency::IdempotencyConfig;
pub use limits::LimitsConfig;
pub use logging::LogConfig;
pub use mail::MailConfig;
pub use metrics::MetricsConfig;
pub use outbound::{OutboundConfig, OutboundMode, RelaySecurity};
pub use retention::{MAX_DAYS as MAX_RETENTION_DAYS, RetentionConfig};
pub use sandbox::{AutoProvision, SandboxConfig};
pub use smtp::SmtpConfig;
pub use webhooks::{LoopbackPolicy, WebhooksConfig};

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
    /// The event log and its live consumers (SSE, WebSocket, waiting for a message).
    pub events: EventsConfig,
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
    /// How long mail, events and webhook deliveries are kept.
    pub retention: RetentionConfig,
    /// Scheduled backups.
    pub backup: BackupConfig,
    /// Prometheus metrics.
    pub metrics: MetricsConfig,
    /// Logging.
    pub log: LogConfig,
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
        let mut warnings = apply_env(&mut table, env)?;
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
        warnings.extend(config.adopt_deprecated()?);
        if let Some(listen) = overrides.listen {
            config.http.listen = listen;
        }
        if let Some(db) = &overrides.db {
            // A URL names the database whatever its engine; anything else is an SQLite file.
            match db.to_str().filter(|s| s.contains("://")) {
                Some(url) => url.clone_into(&mut config.database.url),
                None => {
                    config.database.path.clone_from(db);
                    config.database.url.clear();
                }
            }
        }
        if let Some(limit) = overrides.rate_limit {
            config.limits.rate_limit = limit;
        }
        if let Some(listen) = overrides.smtp_listen {
            config.smtp.listen = listen;
        }
        config.database.adopt_url()?;
        config.validate()?;
        Ok(Loaded {
            config,
            file,
            warnings,
        })
    }

    /// Parses a configuration file's text on its own (no environment, no flags) and validates it.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let mut config: Config =
            toml::from_str(text).map_err(|e| ConfigError(format!("invalid configuration: {e}")))?;
        config.adopt_deprecated()?;
        config.validate()?;
        Ok(config)
    }

    /// Moves the values of renamed settings to their new names (`events.retention_days` is
    /// `retention.events_days` now, `webhooks.retention_days` `retention.deliveries_days`),
    /// with a warning each; setting both names to different values is an error.
    fn adopt_deprecated(&mut self) -> Result<Vec<String>, ConfigError> {
        let defaults = RetentionConfig::default();
        let mut warnings = Vec::new();
        for (old, value, new, target, default) in [
            (
                "events.retention_days",
                self.events.retention_days.take(),
                "retention.events_days",
                &mut self.retention.events_days,
                defaults.events_days,
            ),
            (
                "webhooks.retention_days",
                self.webhooks.retention_days.take(),
                "retention.deliveries_days",
                &mut self.retention.deliveries_days,
                defaults.deliveries_days,
            ),
        ] {
            let Some(days) = value else { continue };
            if *target != default && *target != days {
                return Err(ConfigError(format!(
                    "{old} (deprecated) and {new} disagree; set {new} only"
                )));
            }
            *target = days;
            warnings.push(format!("{old} is deprecated; use {new}"));
        }
        Ok(warnings)
    }

    /// Checks the values that their types alone cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.http.validate()?;
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
        self.mail.validate()?;
        self.attachments.validate()?;
        self.domains.validate()?;
        self.dns.validate()?;
        if let Err(why) = self.dns_setup() {
            return fail("domains", &why);
        }
        self.sandbox.validate()?;
        self.database.validate()?;
        self.limits.validate()?;
        self.idempotency.validate()?;
        self.smtp.validate()?;
        self.outbound.validate()?;
        self.webhooks.validate()?;
        self.events.validate()?;
        self.retention.validate()?;
        self.backup.validate()?;
        if self.backup.scheduled()
            && matches!(self.database.location(), DatabaseLocation::Postgres(_))
        {
            return fail(
                "backup.dir",
                "scheduled backups copy the SQLite file; with database.url on PostgreSQL use its \
                 own backups (pg_dump, base backups) and leave backup.dir empty",
            );
        }
        self.metrics.validate()?;
        self.log.validate()
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
        || key == "token"
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

/// A failed check: `key: why`.
fn fail(key: &str, why: &str) -> Result<(), ConfigError> {
    Err(ConfigError(format!("{key}: {why}")))
}

/// Checks a DKIM selector setting (`mail.dkim_selector`, `domains.dkim_selector`).
fn validate_dkim_selector(key: &str, selector: &str) -> Result<(), ConfigError> {
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
        let text = include_str!("../../agentsend.toml");
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

    #[test]
    fn forwards_are_carried_as_configured_and_a_bad_mode_is_an_error() {
        use crate::domain::reply::ForwardMode;
        let c = load_text(
            "[outbound]\nforward_as = \"inline\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.config.outbound.forward_as, ForwardMode::Inline);
        let c = load_text(
            "",
            &[("AGENTSEND_OUTBOUND_FORWARD_AS", "inline")],
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(c.config.outbound.forward_as, ForwardMode::Inline);
        let e = load_text(
            "[outbound]\nforward_as = \"quoted\"\n",
            &[],
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(e.to_string().contains("forward_as"), "{e}");
    }

    #[test]
    fn renamed_retention_settings_are_still_read_with_a_warning() {
        let o = Overrides::default();
        let loaded = load_text(
            "[events]\nretention_days = 3\n[webhooks]\nretention_days = 9\n",
            &[],
            &o,
        )
        .unwrap();
        assert_eq!(loaded.config.retention.events_days, 3);
        assert_eq!(loaded.config.retention.deliveries_days, 9);
        assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("use retention.events_days"));
        // Rendered under the new names only.
        let rendered = loaded.config.redacted_toml().unwrap();
        assert!(!rendered.contains("[events]\nretention_days"), "{rendered}");

        let e = load_text(
            "[events]\nretention_days = 3\n[retention]\nevents_days = 4\n",
            &[],
            &o,
        )
        .unwrap_err();
        assert!(e.to_string().contains("disagree"), "{e}");
        let e = load_text("[retention]\nevents_days = 0\n", &[], &o).unwrap_err();
        assert!(e.to_string().contains("retention.events_days"), "{e}");
        let loaded = load_text("", &[("AGENTSEND_RETENTION_MESSAGES_DAYS", "90")], &o).unwrap();
        assert_eq!(loaded.config.retention.messages_days, 90);
        let e = load_text("[metrics]\ntoken = \"short\"\n", &[], &o).unwrap_err();
        assert!(e.to_string().contains("metrics.token"), "{e}");
    }
}
