//! Health checks and housekeeping.

use super::Db;
use super::StoreError;

/// Proves the database answers (for `GET /health`).
pub fn ping(conn: &Db) -> Result<(), StoreError> {
    conn.sql()
        .prepare_cached("SELECT 1")?
        .query_row([], |_| Ok(()))?;
    Ok(())
}
