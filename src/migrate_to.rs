//! `agentsend db migrate-to <postgres://URL>`: moves an SQLite database into an empty
//! PostgreSQL database, the server stopped. The copy and its verification are the store's
//! ([`crate::store::copy`]); this opens both ends and holds the file's server lock meanwhile,
//! so that a running server makes the command fail and a running copy keeps a server from
//! starting.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::app;
use crate::config::{Config, DatabaseLocation};
use crate::store::ServeLock;
use crate::store::backup as store_backup;
use crate::store::copy::{self, Copied};

/// What a migration did.
#[derive(Debug, Clone)]
pub struct Migrated {
    /// The SQLite file copied.
    pub source: PathBuf,
    /// The PostgreSQL database, its password left out.
    pub target: String,
    /// What was copied and verified.
    pub copied: Copied,
    /// How long it took, opening both databases included.
    pub elapsed: Duration,
}

/// Copies the SQLite database `config` names into the empty PostgreSQL database at `url`
/// (created with the schema if it has none) and verifies the copy; see [`copy`].
pub fn migrate_to(config: &Config, url: &str) -> anyhow::Result<Migrated> {
    let mut target = config.clone();
    target.database.url = url.to_owned();
    target.database.pool_size = 2;
    if !matches!(target.database.location(), DatabaseLocation::Postgres(_)) {
        anyhow::bail!(
            "`db migrate-to` takes a PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
        );
    }
    let source = match config.database.location() {
        DatabaseLocation::Sqlite(path) => path.to_path_buf(),
        DatabaseLocation::Postgres(_) => anyhow::bail!(
            "`db migrate-to` copies an SQLite database, and the configured one is already \
             PostgreSQL ({}); name the SQLite file with --db PATH",
            config.database.describe()
        ),
    };
    if !source.is_file() {
        anyhow::bail!(
            "{}: no such SQLite database (name it with --db PATH or database.path)",
            source.display()
        );
    }
    let started = Instant::now();
    let _lock = ServeLock::acquire(&source)
        .map_err(|why| anyhow::anyhow!("{why}; stop the server before migrating its database"))?;
    // An SQLite file of ours that this build can read (a newer schema, a foreign or damaged
    // file are refused here, before anything is opened for writing).
    store_backup::inspect(&source)?;
    let from =
        app::open_store(config).with_context(|| format!("cannot open {}", source.display()))?;
    let to = app::open_store(&target)
        .with_context(|| format!("cannot open {}", target.database.describe()))?;
    let copied = copy::copy_to_postgres(&from, &to)?;
    Ok(Migrated {
        source,
        target: target.database.describe(),
        copied,
        elapsed: started.elapsed(),
    })
}
