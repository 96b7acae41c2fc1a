//! Health checks and housekeeping.

use super::Db;
use super::Failure;

/// Proves the database answers (for `GET /health`).
pub fn ping(conn: &Db) -> Result<(), Failure> {
    conn.sql()
        .prepare_cached("SELECT 1")?
        .query_row([], |_| Ok(()))?;
    Ok(())
}
