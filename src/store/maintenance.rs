//! Health checks and housekeeping.

use rusqlite::Connection;

use super::StoreError;

/// Proves the database answers (for `GET /health`).
pub fn ping(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()))?;
    Ok(())
}
