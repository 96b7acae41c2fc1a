//! Consistent copies of the database file while it is in use, and the checks a file must pass
//! before it may replace the database.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{Db, Failure, maintenance};

/// Writes a consistent copy of the database to `dest` (which must not exist) with
/// `VACUUM INTO`: one read transaction, so writers carry on meanwhile (WAL readers never block
/// them) and the copy is the database as of its start, compacted. SQLite does not sync the
/// copy; the caller does.
pub fn copy_into(conn: &Db, dest: &Path) -> Result<(), Failure> {
    let dest = dest
        .to_str()
        .ok_or_else(|| Failure::task(format!("{} is not a UTF-8 path", dest.display())))?;
    conn.sql().execute("VACUUM INTO ?1", [dest])?;
    Ok(())
}

/// What a sound database file holds, as `agentsend db check` and `agentsend restore` report
/// it.
#[derive(Debug, Clone)]
pub struct Inspection {
    /// Its schema version (`PRAGMA user_version`).
    pub schema_version: i64,
    /// Page size in bytes.
    pub page_size: u64,
    /// Pages in the file.
    pub page_count: u64,
    /// Free pages (space that incremental vacuum gives back).
    pub freelist_count: u64,
    /// Whether incremental auto-vacuum is on.
    pub incremental_vacuum: bool,
    /// Rows of the main tables, by table.
    pub rows: Vec<(&'static str, u64)>,
}

/// The tables whose rows `db check` counts.
const COUNTED: [&str; 9] = [
    "accounts",
    "inboxes",
    "threads",
    "messages",
    "attachments",
    "events",
    "webhook_deliveries",
    "jobs",
    "drafts",
];

/// Why a file is not an AgentSend database that this build can use.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// Not an SQLite file at all.
    #[error("{0} is not an SQLite database")]
    NotSqlite(String),
    /// An SQLite file, but not one of ours.
    #[error("{0} is not an AgentSend database (it has no accounts table)")]
    Foreign(String),
    /// Made by a newer build.
    #[error(
        "{path} has schema version {found}, newer than this build's {supported}; use a newer \
         agentsend"
    )]
    TooNew {
        /// The file.
        path: String,
        /// Its version.
        found: i64,
        /// This build's.
        supported: i64,
    },
    /// Damaged.
    #[error("{path} is damaged: {problems}")]
    Corrupt {
        /// The file.
        path: String,
        /// What `integrity_check` found (the first few lines).
        problems: String,
    },
    /// Could not be read.
    #[error("cannot read {path}: {why}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
}

/// The first bytes of every SQLite 3 database file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// Opens `path` read-only and inspects it: integrity, schema version, sizes, row counts.
/// `Err` when it is not an AgentSend database this build can use; a damaged one is `Err`
/// too, with what `integrity_check` found.
pub fn inspect(path: &Path) -> Result<Inspection, Unusable> {
    let shown = path.display().to_string();
    let unreadable = |why: String| Unusable::Unreadable {
        path: shown.clone(),
        why,
    };
    let mut head = [0u8; 16];
    {
        use std::io::Read;
        let mut file = std::fs::File::open(path).map_err(|e| unreadable(e.to_string()))?;
        if file.read_exact(&mut head).is_err() || &head != MAGIC {
            return Err(Unusable::NotSqlite(shown));
        }
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| unreadable(e.to_string()))?;
    let corrupt = |e: rusqlite::Error| Unusable::Corrupt {
        path: shown.clone(),
        problems: e.to_string(),
    };
    let problems: Vec<String> = conn
        .prepare("PRAGMA integrity_check(20)")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(corrupt)?;
    let problems: Vec<String> = problems.into_iter().filter(|p| p != "ok").collect();
    if !problems.is_empty() {
        return Err(Unusable::Corrupt {
            path: shown,
            problems: problems.join("; "),
        });
    }
    let pragma = |name: &str| -> Result<i64, Unusable> {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .map_err(corrupt)
    };
    let schema_version = pragma("user_version")?;
    let supported = maintenance::supported_schema_version();
    if schema_version > supported {
        return Err(Unusable::TooNew {
            path: shown,
            found: schema_version,
            supported,
        });
    }
    let has_table = |name: &str| -> Result<bool, Unusable> {
        conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [name],
            |r| r.get(0),
        )
        .map_err(corrupt)
    };
    if schema_version == 0 || !has_table("accounts")? {
        return Err(Unusable::Foreign(shown));
    }
    let mut rows = Vec::new();
    for table in COUNTED {
        if has_table(table)? {
            let n: i64 = conn
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
                .map_err(corrupt)?;
            rows.push((table, u64::try_from(n).unwrap_or(0)));
        }
    }
    let unsigned = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok(Inspection {
        schema_version,
        page_size: unsigned(pragma("page_size")?),
        page_count: unsigned(pragma("page_count")?),
        freelist_count: unsigned(pragma("freelist_count")?),
        incremental_vacuum: pragma("auto_vacuum")? == super::retention::AUTO_VACUUM_INCREMENTAL,
        rows,
    })
}

/// Copies the database at `source` (with whatever its write-ahead log holds) into `dest`,
/// which must not exist: the restore's copy, made the same way as a backup.
pub fn copy_file(source: &Path, dest: &Path) -> Result<(), Failure> {
    let conn = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    copy_into(&Db::of(super::conn::Sql::Lite(&conn)), dest)
}
