//! The readers' connection pool, of either engine.

use r2d2::{Pool, PooledConnection};
use r2d2_sqlite::SqliteConnectionManager;

use super::conn::Sql;
use super::postgres::PgManager;

/// Pooled reader connections; on PostgreSQL with the pool's manager, for a session of its own
/// outside the pool (one that holds a lock for a while must not take a reader away).
#[derive(Clone)]
pub(super) enum Readers {
    Lite(Pool<SqliteConnectionManager>),
    Pg(Pool<PgManager>, Box<PgManager>),
}

/// A connection taken from [`Readers`] (back to the pool when dropped).
pub(super) enum Reader {
    Lite(PooledConnection<SqliteConnectionManager>),
    Pg(Box<PooledConnection<PgManager>>),
}

impl Readers {
    /// A connection, waiting for one to be free.
    pub(super) fn get(&self) -> Result<Reader, r2d2::Error> {
        Ok(match self {
            Readers::Lite(pool) => Reader::Lite(pool.get()?),
            Readers::Pg(pool, _) => Reader::Pg(Box::new(pool.get()?)),
        })
    }
}

impl Reader {
    pub(super) fn sql(&self) -> Sql<'_> {
        match self {
            Reader::Lite(c) => Sql::Lite(c),
            Reader::Pg(c) => Sql::Pg(c),
        }
    }
}
