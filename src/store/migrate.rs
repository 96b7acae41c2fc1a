//! The schema and its numbered migrations, applied when the store opens.

use super::{Engine, Failure, Tx, attachments, domains, maintenance, search};
use crate::store::StoreError;

/// One schema version: its SQL, then, for data that SQL alone cannot move well, a Rust step in
/// the same transaction.
pub(super) struct Migration {
    pub(super) sql: &'static str,
    then: Option<MigrationStep>,
}

/// A migration's Rust step.
type MigrationStep = fn(&Tx<'_>) -> Result<(), Failure>;

/// The schema and its numbered migrations: entry `i` brings a database to `user_version` i+1.
pub(super) const MIGRATIONS: &[Migration] = &[
    Migration {
        sql: include_str!("../../schema.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0002_attachment_pieces.sql"),
        then: Some(attachments::move_blobs_into_pieces),
    },
    Migration {
        sql: include_str!("../../migrations/0003_accepted_total.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0004_auth_results.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0005_claims_and_holders.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0006_return_paths.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0007_domain_check_jobs.sql"),
        then: Some(domains::queue_pending_checks),
    },
    Migration {
        sql: include_str!("../../migrations/0008_list_counts.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0009_compressed_blobs.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0010_event_log.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0011_reading.sql"),
        then: Some(search::index_existing),
    },
    Migration {
        sql: include_str!("../../migrations/0012_sender_lists.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0013_key_scopes.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0014_drafts.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0015_retention.sql"),
        then: None,
    },
    Migration {
        sql: include_str!("../../migrations/0016_unchanged_marker.sql"),
        then: None,
    },
];

/// PostgreSQL's schema: a new database starts at this version, with this SQL.
const POSTGRES_BASELINE: (i64, &str) = (
    16,
    include_str!("../../migrations/postgres/0016_schema.sql"),
);

/// PostgreSQL's migrations after its baseline, numbered as SQLite's: `(version, sql)`.
const POSTGRES_MIGRATIONS: &[(i64, &str)] = &[];

/// Brings the schema up to date, on either engine.
pub(super) fn migrate(tx: &Tx<'_>) -> Result<(), Failure> {
    let supported = maintenance::supported_schema_version();
    let current = maintenance::schema_version(tx)?;
    if current > supported {
        return Err(Failure::Store(StoreError::SchemaTooNew {
            found: current,
            supported,
        }));
    }
    match tx.sql().engine() {
        Engine::Sqlite => migrate_sqlite(tx, current),
        Engine::Postgres => migrate_postgres(tx, current),
    }
}

fn migrate_postgres(tx: &Tx<'_>, current: i64) -> Result<(), Failure> {
    let mut current = current;
    if current == 0 {
        let (version, sql) = POSTGRES_BASELINE;
        tx.sql().execute_batch(sql)?;
        log::info!("database schema created at version {version}");
        current = version;
    }
    for (version, sql) in POSTGRES_MIGRATIONS.iter().filter(|(v, _)| *v > current) {
        tx.sql().execute_batch(sql)?;
        tx.sql()
            .execute("UPDATE schema_version SET version = ?1", [version])?;
        log::info!("database schema migrated to version {version}");
    }
    Ok(())
}

fn migrate_sqlite(tx: &Tx<'_>, current: i64) -> Result<(), Failure> {
    for (version, migration) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.sql().execute_batch(migration.sql)?;
        if let Some(step) = migration.then {
            step(tx)?;
        }
        tx.sql()
            .sqlite_only()?
            .pragma_update(None, "user_version", version)?;
        log::info!("database schema migrated to version {version}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgresql_reaches_the_version_sqlite_does() {
        let last = POSTGRES_MIGRATIONS
            .last()
            .map_or(POSTGRES_BASELINE.0, |(v, _)| *v);
        assert_eq!(last, i64::try_from(MIGRATIONS.len()).unwrap());
        assert!(POSTGRES_BASELINE.1.contains(&format!(
            "INSERT INTO schema_version (version) VALUES ({})",
            POSTGRES_BASELINE.0
        )));
    }
}
