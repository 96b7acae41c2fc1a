//! `agentsend db migrate-to`: the whole SQLite database copied into an empty PostgreSQL
//! database of the same schema version, in one PostgreSQL transaction, then verified in that
//! transaction before it commits (row counts of every table, and whole rows of a sample
//! compared byte for byte). A failure anywhere rolls everything back: the target is left as
//! it was.
//!
//! Rows are streamed from one SQLite read transaction (a consistent snapshot) and written in
//! multi-row `INSERT`s of at most [`BATCH_ROWS`] rows or about [`BATCH_BYTES`] bytes, so a
//! database of any size is copied in bounded memory. SQLite's `rowid` goes into PostgreSQL's
//! `rowid` identity column (labels and search refer to messages by it), and every identity
//! sequence is then set past the largest value copied.
//!
//! The counters and default labels that triggers keep are copied as they are, not made again:
//! the target's user triggers are disabled while the rows go in (`ALTER TABLE ... DISABLE
//! TRIGGER USER`, inside the transaction, so no other session ever sees them off), then
//! `list_counts` and `message_labels` are copied verbatim. This needs the tables' owner (the
//! user that created the schema; `migrate-to` creates it in an empty database) or a superuser.
//! Foreign keys stay checked, so tables go in the order they refer to each other.
//!
//! The full-text index is not copied (SQLite's FTS5 table and PostgreSQL's tsvectors differ):
//! it is built again from the copied messages, as migration 11 built it.

use std::collections::BTreeSet;

use rusqlite::types::{ToSql, Value};

use super::conn::Sql;
use super::search;
use super::{Db, Engine, Failure, Store, Tx, maintenance, messages};
use crate::domain::reading::Reading;

/// Rows per `INSERT` at most.
const BATCH_ROWS: usize = 500;

/// An `INSERT` is sent once its values reach this many bytes (attachment pieces are 256 KiB).
const BATCH_BYTES: usize = 8 << 20;

/// One row in this many is compared whole, besides the first and the last of each table.
pub const SAMPLE_EVERY: u64 = 50;

/// A table copied, with its primary key (the order rows are sampled in).
struct Table {
    name: &'static str,
    key: &'static [&'static str],
}

const fn table(name: &'static str, key: &'static [&'static str]) -> Table {
    Table { name, key }
}

/// Every table of the schema but the search index, each after those it refers to.
const TABLES: &[Table] = &[
    table("accounts", &["id"]),
    table("api_keys", &["id"]),
    table("domains", &["id"]),
    table("inboxes", &["id"]),
    table("threads", &["id"]),
    table("messages", &["id"]),
    table("message_recipients", &["message_id", "address"]),
    table("message_raw", &["message_id"]),
    table("attachments", &["id"]),
    table("attachment_pieces", &["attachment_id", "seq"]),
    table("message_attachments", &["message_id", "position"]),
    table("webhooks", &["id"]),
    table("events", &["id"]),
    table("event_sequence", &["name"]),
    table("webhook_deliveries", &["id"]),
    table("webhook_attempts", &["id"]),
    table("jobs", &["id"]),
    table("idempotency_keys", &["scope", "key"]),
    table("rate_limit_windows", &["bucket"]),
    table("settings", &["name"]),
    table("sender_list_entries", &["id"]),
    table("drafts", &["id"]),
    table("list_counts", &["list", "owner", "part"]),
    table("message_labels", &["message_row", "label"]),
];

/// The search index: SQLite's FTS5 table (and its shadow tables `message_search_*`).
const SEARCH: &str = "message_search";

/// Prefilled by PostgreSQL's schema; its rows are replaced by SQLite's.
const PREFILLED: &str = "event_sequence";

/// What one table's copy moved.
#[derive(Debug, Clone)]
pub struct TableCopy {
    /// The table.
    pub table: &'static str,
    /// Rows copied.
    pub rows: u64,
    /// Bytes of text and blob values copied (integers count 8).
    pub bytes: u64,
}

/// What the verification compared.
#[derive(Debug, Clone, Default)]
pub struct Verified {
    /// Tables whose row counts were found equal (the search index included).
    pub tables: usize,
    /// Rows compared whole, column by column.
    pub sampled_rows: u64,
    /// Bytes of the values in those rows.
    pub sampled_bytes: u64,
}

/// What [`copy_to_postgres`] did.
#[derive(Debug, Clone)]
pub struct Copied {
    /// The schema version of both databases.
    pub schema_version: i64,
    /// The tables, in the order they were copied.
    pub tables: Vec<TableCopy>,
    /// Messages put in the rebuilt search index.
    pub indexed: u64,
    /// What was compared after the copy.
    pub verified: Verified,
}

/// Copies everything in `source` (an SQLite store) into `target` (a PostgreSQL store whose
/// AgentSend tables must be empty) in one transaction of the target, and verifies the copy in
/// it before it commits. Refuses a target with rows; leaves it as it was on any failure. The
/// source must not change meanwhile (the caller holds its [`super::ServeLock`]); its rows are
/// read in one read transaction all the same. Blocks the thread (no async runtime).
pub fn copy_to_postgres(source: &Store, target: &Store) -> Result<Copied, Failure> {
    if source.engine() != Engine::Sqlite || target.engine() != Engine::Postgres {
        return Err(Failure::Internal(
            "the copy goes from an SQLite database to a PostgreSQL one".to_owned(),
        ));
    }
    let source = source.clone();
    target.write_blocking(move |tx| source.read_blocking(|db| copy_in_snapshot(db, tx)))
}

/// [`copy`] in one read transaction of the source.
fn copy_in_snapshot(src: &Db, tx: &Tx<'_>) -> Result<Copied, Failure> {
    let lite = src.sql().sqlite_only()?;
    lite.execute_batch("BEGIN")?;
    let copied = copy(src, lite, tx);
    // Read only: ending it can only fail if the connection is gone.
    if let Err(e) = lite.execute_batch("COMMIT") {
        log::warn!("ending the read transaction on the SQLite database failed: {e}");
    }
    copied
}

fn copy(src: &Db, lite: &rusqlite::Connection, tx: &Tx<'_>) -> Result<Copied, Failure> {
    let pg = *tx.sql();
    let schema_version = same_schema_version(src, tx)?;
    same_tables(lite)?;
    refuse_rows(pg)?;
    let mut columns = Vec::with_capacity(TABLES.len());
    for t in TABLES {
        columns.push(Columns::of(lite, pg, t.name)?);
    }
    for t in TABLES {
        pg.execute_batch(&format!("ALTER TABLE {} DISABLE TRIGGER USER", t.name))?;
    }
    pg.execute_batch(&format!("DELETE FROM {PREFILLED}"))?;
    let mut tables = Vec::with_capacity(TABLES.len());
    for (t, cols) in TABLES.iter().zip(&columns) {
        let copied = copy_table(lite, pg, t.name, cols)
            .map_err(|e| Failure::Internal(format!("copying {}: {e}", t.name)))?;
        log::info!(
            "copied {}: {} rows, {} bytes",
            t.name,
            copied.rows,
            copied.bytes
        );
        tables.push(copied);
    }
    for t in TABLES {
        pg.execute_batch(&format!("ALTER TABLE {} ENABLE TRIGGER USER", t.name))?;
    }
    for (t, cols) in TABLES.iter().zip(&columns) {
        for identity in &cols.identity {
            pg.query_row(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{t}', '{identity}'), max({identity}))
                     FROM {t}",
                    t = t.name
                ),
                [],
                |r| r.get::<_, Value>(0),
            )?;
        }
    }
    let indexed = rebuild_search(src, lite, tx)?;
    log::info!("built the search index of {indexed} messages");
    let verified = verify(lite, pg, &columns)?;
    Ok(Copied {
        schema_version,
        tables,
        indexed,
        verified,
    })
}

/// Both databases at the version this build supports (opening them migrated them there).
fn same_schema_version(src: &Db, tx: &Tx<'_>) -> Result<i64, Failure> {
    let supported = maintenance::supported_schema_version();
    let (from, to) = (
        maintenance::schema_version(src)?,
        maintenance::schema_version(tx)?,
    );
    if from != supported || to != supported {
        return Err(Failure::Internal(format!(
            "schema versions differ: the SQLite database is at {from}, the PostgreSQL one at \
             {to}, this build at {supported}"
        )));
    }
    Ok(supported)
}

/// The SQLite database has exactly the tables this copy knows (a table it did not know would
/// be left behind).
fn same_tables(lite: &rusqlite::Connection) -> Result<(), Failure> {
    let found: BTreeSet<String> = lite
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' \
             ESCAPE '\\'",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let found: BTreeSet<&str> = found
        .iter()
        .map(String::as_str)
        .filter(|n| *n != SEARCH && !n.starts_with(&format!("{SEARCH}_")))
        .collect();
    let known: BTreeSet<&str> = TABLES.iter().map(|t| t.name).collect();
    if found != known {
        return Err(Failure::Internal(format!(
            "the SQLite database's tables are not the ones this build copies (unknown: {}; \
             missing: {})",
            list(found.difference(&known)),
            list(known.difference(&found))
        )));
    }
    Ok(())
}

/// Refuses a target that already holds AgentSend rows (the prefilled event sequence and the
/// schema version aside): nothing is ever overwritten or merged.
fn refuse_rows(pg: Sql<'_>) -> Result<(), Failure> {
    let mut holding = Vec::new();
    for name in TABLES
        .iter()
        .map(|t| t.name)
        .filter(|n| *n != PREFILLED)
        .chain([SEARCH])
    {
        let any: i64 = pg.query_row(
            &format!("SELECT CASE WHEN EXISTS (SELECT 1 FROM {name}) THEN 1 ELSE 0 END"),
            [],
            |r| r.get(0),
        )?;
        if any != 0 {
            holding.push(name);
        }
    }
    if !holding.is_empty() {
        return Err(Failure::Internal(format!(
            "the PostgreSQL database already holds AgentSend data (rows in {}); migrate-to \
             copies into an empty database only and changed nothing: create a new database \
             (CREATE DATABASE ...) and name that one",
            holding.join(", ")
        )));
    }
    Ok(())
}

/// A table's columns as both databases have them.
struct Columns {
    /// Copied, in this order: SQLite's columns, and `rowid` when PostgreSQL has that column.
    names: Vec<String>,
    /// PostgreSQL's identity columns, whose sequences go past the copied values.
    identity: Vec<String>,
}

impl Columns {
    /// Checks that PostgreSQL's table has the same columns as SQLite's (plus the `rowid` it
    /// keeps SQLite's in).
    fn of(lite: &rusqlite::Connection, pg: Sql<'_>, table: &str) -> Result<Columns, Failure> {
        let mut names: Vec<String> = lite
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let target: Vec<(String, i64)> = pg
            .prepare(
                "SELECT column_name::text, CASE WHEN is_identity = 'YES' THEN 1 ELSE 0 END
                 FROM information_schema.columns
                 WHERE table_schema = current_schema() AND table_name = ?1
                 ORDER BY ordinal_position",
            )?
            .query_map([table], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        if target.iter().any(|(c, _)| c == "rowid") && !names.iter().any(|c| c == "rowid") {
            names.push("rowid".to_owned());
        }
        let ours: BTreeSet<&str> = names.iter().map(String::as_str).collect();
        let theirs: BTreeSet<&str> = target.iter().map(|(c, _)| c.as_str()).collect();
        if ours != theirs {
            return Err(Failure::Internal(format!(
                "the table {table} differs between the databases (columns only in SQLite: {}; \
                 only in PostgreSQL: {})",
                list(ours.difference(&theirs)),
                list(theirs.difference(&ours))
            )));
        }
        Ok(Columns {
            names,
            identity: target
                .into_iter()
                .filter(|(_, identity)| *identity != 0)
                .map(|(c, _)| c)
                .collect(),
        })
    }

    /// The column list, each quoted.
    fn list(&self) -> String {
        self.names
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Streams the rows of `table` into PostgreSQL in batches.
fn copy_table(
    lite: &rusqlite::Connection,
    pg: Sql<'_>,
    table: &'static str,
    cols: &Columns,
) -> Result<TableCopy, Failure> {
    let width = cols.names.len();
    let mut select = lite.prepare(&format!("SELECT {} FROM {table}", cols.list()))?;
    let mut rows = select.query([])?;
    let mut batch: Vec<Value> = Vec::with_capacity(BATCH_ROWS * width);
    let mut batch_bytes = 0;
    let mut copied = TableCopy {
        table,
        rows: 0,
        bytes: 0,
    };
    while let Some(row) = rows.next()? {
        for i in 0..width {
            let value: Value = row.get(i)?;
            batch_bytes += size(&value);
            batch.push(value);
        }
        if batch.len() >= BATCH_ROWS * width || batch_bytes >= BATCH_BYTES {
            insert(pg, table, cols, &batch)?;
            copied.rows += (batch.len() / width) as u64;
            copied.bytes += batch_bytes as u64;
            batch.clear();
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        insert(pg, table, cols, &batch)?;
        copied.rows += (batch.len() / width) as u64;
        copied.bytes += batch_bytes as u64;
    }
    Ok(copied)
}

/// One multi-row `INSERT` of `values` (whole rows, one after another).
fn insert(pg: Sql<'_>, table: &str, cols: &Columns, values: &[Value]) -> Result<(), Failure> {
    let width = cols.names.len();
    let rows: Vec<String> = (0..values.len() / width)
        .map(|r| {
            let params: Vec<String> = (1..=width).map(|c| format!("?{}", r * width + c)).collect();
            format!("({})", params.join(", "))
        })
        .collect();
    let statement = format!(
        "INSERT INTO {table} ({}) VALUES {}",
        cols.list(),
        rows.join(", ")
    );
    let params: Vec<&dyn ToSql> = values.iter().map(|v| v as &dyn ToSql).collect();
    pg.execute(&statement, params.as_slice())?;
    Ok(())
}

/// Puts every copied message in the search index, as the store does when it stores one: its
/// subject, addresses and body as text (HTML reduced to text).
fn rebuild_search(src: &Db, lite: &rusqlite::Connection, tx: &Tx<'_>) -> Result<u64, Failure> {
    let rows: Vec<i64> = lite
        .prepare("SELECT rowid FROM messages ORDER BY rowid")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for &row in &rows {
        let m = messages::by_row(src, row)?;
        let reading = Reading::of(m.body_text.as_deref(), m.body_html.as_deref());
        search::index_stored(tx, row, &m, &reading)?;
    }
    Ok(rows.len() as u64)
}

/// Compares the copy with its source: the row count of every table (and of the search index
/// with the messages'), and whole rows of every table (the first, the last and every
/// [`SAMPLE_EVERY`]th by primary key), value by value and byte for byte (a text in SQLite
/// equals the same bytes in a PostgreSQL `BYTEA`).
fn verify(
    lite: &rusqlite::Connection,
    pg: Sql<'_>,
    columns: &[Columns],
) -> Result<Verified, Failure> {
    let mut verified = Verified::default();
    let count_lite = |table: &str| -> Result<i64, Failure> {
        Ok(lite.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
    };
    let count_pg = |table: &str| -> Result<i64, Failure> {
        Ok(pg.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
    };
    for (t, cols) in TABLES.iter().zip(columns) {
        let (from, to) = (count_lite(t.name)?, count_pg(t.name)?);
        if from != to {
            return Err(mismatch(format!(
                "{}: {from} rows in SQLite, {to} in PostgreSQL",
                t.name
            )));
        }
        verified.tables += 1;
        let (rows, bytes) = compare_sample(lite, pg, t, cols)?;
        verified.sampled_rows += rows;
        verified.sampled_bytes += bytes;
    }
    let (messages, indexed) = (count_lite("messages")?, count_pg(SEARCH)?);
    if messages != indexed {
        return Err(mismatch(format!(
            "{SEARCH}: {indexed} messages indexed of {messages}"
        )));
    }
    verified.tables += 1;
    Ok(verified)
}

/// Compares the sampled rows of `t`; the rows and bytes compared.
fn compare_sample(
    lite: &rusqlite::Connection,
    pg: Sql<'_>,
    t: &Table,
    cols: &Columns,
) -> Result<(u64, u64), Failure> {
    let key = t.key.join(", ");
    let mut keys: Vec<Vec<Value>> = Vec::new();
    let mut last: Option<Vec<Value>> = None;
    {
        let mut select = lite.prepare(&format!("SELECT {key} FROM {} ORDER BY {key}", t.name))?;
        let mut rows = select.query([])?;
        let mut n: u64 = 0;
        while let Some(row) = rows.next()? {
            let k = (0..t.key.len())
                .map(|i| row.get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            if n.is_multiple_of(SAMPLE_EVERY) {
                keys.push(k);
                last = None;
            } else {
                last = Some(k);
            }
            n += 1;
        }
    }
    keys.extend(last);
    let by_key = format!(
        "SELECT {} FROM {} WHERE {}",
        cols.list(),
        t.name,
        t.key
            .iter()
            .enumerate()
            .map(|(i, k)| format!("{k} = ?{}", i + 1))
            .collect::<Vec<_>>()
            .join(" AND ")
    );
    let width = cols.names.len();
    let mut from_lite = lite.prepare(&by_key)?;
    let mut from_pg = pg.prepare(&by_key)?;
    let mut bytes = 0;
    for k in &keys {
        let params: Vec<&dyn ToSql> = k.iter().map(|v| v as &dyn ToSql).collect();
        let a: Vec<Value> = from_lite.query_row(params.as_slice(), |r| {
            (0..width).map(|i| r.get::<_, Value>(i)).collect()
        })?;
        let b: Vec<Value> = match from_pg.query_row(params.as_slice(), |r| {
            (0..width).map(|i| r.get::<_, Value>(i)).collect()
        }) {
            Ok(b) => b,
            Err(rusqlite::Error::QueryReturnedNoRows) => {
                return Err(mismatch(format!("{}: the row {k:?} is missing", t.name)));
            }
            Err(e) => return Err(e.into()),
        };
        for ((name, a), b) in cols.names.iter().zip(&a).zip(&b) {
            if !same(a, b) {
                return Err(mismatch(format!(
                    "{}.{name} of the row {k:?} differs between the databases",
                    t.name
                )));
            }
            bytes += size(a) as u64;
        }
    }
    Ok((keys.len() as u64, bytes))
}

/// Whether two values are the same: equal numbers, or equal bytes (text or blob alike).
fn same(a: &Value, b: &Value) -> bool {
    let bytes = |v: &Value| -> Option<Vec<u8>> {
        match v {
            Value::Text(t) => Some(t.as_bytes().to_vec()),
            Value::Blob(b) => Some(b.clone()),
            _ => None,
        }
    };
    match (bytes(a), bytes(b)) {
        (Some(a), Some(b)) => a == b,
        (None, None) => a == b,
        _ => false,
    }
}

/// The bytes a value takes (integers and reals 8, null 0).
fn size(v: &Value) -> usize {
    match v {
        Value::Null => 0,
        Value::Integer(_) | Value::Real(_) => 8,
        Value::Text(t) => t.len(),
        Value::Blob(b) => b.len(),
    }
}

fn mismatch(what: String) -> Failure {
    Failure::Internal(format!(
        "verification failed, nothing was committed: {what}"
    ))
}

fn list<'a>(names: impl Iterator<Item = &'a &'a str>) -> String {
    let names: Vec<&str> = names.copied().collect();
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_copy_knows_every_table_of_the_sqlite_schema() {
        let (_dir, store) = super::super::temporary();
        store
            .read_blocking(|db| same_tables(db.sql().sqlite_only()?))
            .unwrap();
    }

    #[test]
    fn text_and_blob_of_the_same_bytes_are_the_same() {
        assert!(same(&Value::Text("é".into()), &Value::Blob("é".into())));
        assert!(same(&Value::Integer(3), &Value::Integer(3)));
        assert!(!same(&Value::Integer(3), &Value::Text("3".into())));
        assert!(!same(&Value::Null, &Value::Blob(Vec::new())));
        assert!(same(&Value::Null, &Value::Null));
    }
}
