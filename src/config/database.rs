//! `[database]`: where the data lives (the SQLite file, or a PostgreSQL database that several
//! nodes share) and the connection pool.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, fail};

/// `[database]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://<path>` or `postgres://user:password@host:port/database?options`; empty
    /// means the SQLite file at `path`.
    pub url: String,
    /// The SQLite file; created with the schema if missing.
    pub path: PathBuf,
    /// PostgreSQL over TLS: a PEM file of certificate authorities to trust besides the
    /// usual public roots (a managed database's own CA); empty for none.
    pub ca_file: PathBuf,
    /// Pooled connections.
    pub pool_size: u32,
    /// Milliseconds a connection waits for a lock before giving up.
    pub busy_timeout_ms: u64,
    /// Seconds a finished background job (a send's hand-off, a domain check) is kept after it
    /// finished, for looking into what happened; the janitor deletes older ones.
    pub job_retention_secs: u64,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            path: PathBuf::from("agentsend.db"),
            ca_file: PathBuf::new(),
            pool_size: 16,
            busy_timeout_ms: 5000,
            job_retention_secs: 86_400,
        }
    }
}

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation<'a> {
    /// An SQLite file.
    Sqlite(&'a std::path::Path),
    /// A PostgreSQL database, by its connection URL.
    Postgres(&'a str),
}

impl DatabaseConfig {
    /// Where the data lives (after [`DatabaseConfig::adopt_url`]).
    pub fn location(&self) -> DatabaseLocation<'_> {
        if is_postgres(&self.url) {
            DatabaseLocation::Postgres(&self.url)
        } else {
            DatabaseLocation::Sqlite(&self.path)
        }
    }

    /// Takes an `sqlite://` URL's path as `path` (the one place the SQLite file is named).
    pub(super) fn adopt_url(&mut self) -> Result<(), ConfigError> {
        if self.url.is_empty() || is_postgres(&self.url) {
            return Ok(());
        }
        match self.url.strip_prefix("sqlite://") {
            Some(path) if !path.is_empty() => {
                self.path = PathBuf::from(path);
                Ok(())
            }
            Some(_) => fail(
                "database.url",
                "sqlite:// needs a file path (sqlite://agentsend.db)",
            ),
            None => fail(
                "database.url",
                "must start with sqlite:// or postgres:// (or be empty for database.path)",
            ),
        }
    }

    /// A safe description of where the data lives, for logs: the file, or the PostgreSQL
    /// URL without its password.
    pub fn describe(&self) -> String {
        match self.location() {
            DatabaseLocation::Sqlite(path) => path.display().to_string(),
            DatabaseLocation::Postgres(url) => redact_password(url),
        }
    }

    /// Checks the values that their types alone cannot.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=256).contains(&self.pool_size) {
            return fail("database.pool_size", "must be from 1 to 256");
        }
        if self.job_retention_secs == 0 {
            return fail("database.job_retention_secs", "must be at least 1");
        }
        if self.path.as_os_str().is_empty() {
            return fail("database.path", "must not be empty");
        }
        Ok(())
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// `url` with its password (in the user part or a `password=` option) replaced by `***`.
fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{hosts}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let options: Vec<&str> = query
                .split('&')
                .map(|o| {
                    if o.starts_with("password=") {
                        "password=***"
                    } else {
                        o
                    }
                })
                .collect();
            format!("{path}?{}", options.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_file_or_the_server_and_never_show_a_password() {
        let mut c = DatabaseConfig {
            url: "sqlite:///var/lib/agentsend/a.db".to_owned(),
            ..DatabaseConfig::default()
        };
        c.adopt_url().unwrap();
        assert_eq!(
            c.location(),
            DatabaseLocation::Sqlite(std::path::Path::new("/var/lib/agentsend/a.db"))
        );
        c.url = "postgres://agent:s3cret@db.internal:5432/agentsend?sslmode=require".to_owned();
        c.adopt_url().unwrap();
        assert!(matches!(c.location(), DatabaseLocation::Postgres(_)));
        assert_eq!(
            c.describe(),
            "postgres://agent:***@db.internal:5432/agentsend?sslmode=require"
        );
        c.url = "postgresql://db.internal/agentsend".to_owned();
        assert_eq!(c.describe(), "postgresql://db.internal/agentsend");
        c.url = "postgres://db.internal/agentsend?user=a&password=p@ss&sslmode=disable".to_owned();
        assert_eq!(
            c.describe(),
            "postgres://db.internal/agentsend?user=a&password=***&sslmode=disable"
        );
        for bad in ["mysql://x", "sqlite://", "agentsend.db"] {
            c.url = bad.to_owned();
            assert!(c.adopt_url().is_err(), "{bad}");
        }
    }
}
