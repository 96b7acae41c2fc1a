//! Server-wide values generated once and kept in the database (so that, for example, links
//! signed before a restart stay valid after it).

use rusqlite::params;

use super::{Failure, Tx};

/// The value stored under `name`, storing `candidate` first if there is none yet.
pub fn get_or_insert(tx: &Tx<'_>, name: &str, candidate: &[u8]) -> Result<Vec<u8>, Failure> {
    tx.sql()
        .prepare_cached(
            "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![name, candidate])?;
    Ok(tx
        .sql()
        .prepare_cached("SELECT value FROM settings WHERE name = ?1")?
        .query_row([name], |r| r.get(0))?)
}
