//! The connection as the store's functions see it: [`Sql`], with the few calls they make
//! (execute, query a row, prepare a statement, map rows), on either engine. SQLite runs them
//! as they are; on PostgreSQL each statement's text is translated once (see
//! [`super::postgres`]) and values cross through SQLite's own value types, so that one set of
//! store functions, one set of `FromSql`/`ToSql` conversions and one error type serve both.
//!
//! Errors stay `rusqlite::Error`: a PostgreSQL error travels inside it as
//! [`rusqlite::Error::UserFunctionError`] (see [`super::postgres::error`]), so the store's
//! signatures and error handling do not depend on the engine.

use rusqlite::types::{FromSql, ToSql, ValueRef};

use super::postgres::{PgConn, PgRow, PgRows};

/// The result of a statement.
pub(in crate::store) type Result<T> = rusqlite::Result<T>;

/// Which database engine a connection talks to (for the few statements that differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// The embedded default: one file.
    Sqlite,
    /// A PostgreSQL server, shared by several nodes.
    Postgres,
}

/// A connection of either engine.
#[derive(Clone, Copy)]
pub(in crate::store) enum Sql<'c> {
    Lite(&'c rusqlite::Connection),
    Pg(&'c PgConn),
}

impl<'c> Sql<'c> {
    /// The engine behind it.
    pub(in crate::store) fn engine(&self) -> Engine {
        match self {
            Sql::Lite(_) => Engine::Sqlite,
            Sql::Pg(_) => Engine::Postgres,
        }
    }

    /// The SQLite connection, for what only SQLite has (pragmas, blob handles, backups).
    pub(in crate::store) fn sqlite(&self) -> Option<&'c rusqlite::Connection> {
        match self {
            Sql::Lite(c) => Some(c),
            Sql::Pg(_) => None,
        }
    }

    /// The SQLite connection for code that only ever runs on SQLite (its schema's migration
    /// steps, backups); an error on PostgreSQL.
    pub(in crate::store) fn sqlite_only(&self) -> Result<&'c rusqlite::Connection> {
        self.sqlite().ok_or_else(|| {
            rusqlite::Error::UserFunctionError("an SQLite-only operation on PostgreSQL".into())
        })
    }

    /// Runs one statement; the number of rows it changed.
    pub(in crate::store) fn execute<P: Params>(&self, sql: &str, params: P) -> Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    /// Runs statements separated by semicolons, without parameters.
    pub(in crate::store) fn execute_batch(&self, sql: &str) -> Result<()> {
        match self {
            Sql::Lite(c) => c.execute_batch(sql),
            Sql::Pg(c) => c.execute_batch(sql),
        }
    }

    /// Runs a query and maps its first row; `QueryReturnedNoRows` if it has none.
    pub(in crate::store) fn query_row<T, P, F>(&self, sql: &str, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    /// A statement, compiled once per connection and kept.
    pub(in crate::store) fn prepare_cached(&self, sql: &str) -> Result<Statement<'c>> {
        Ok(Statement(match self {
            Sql::Lite(c) => Prepared::Lite(c.prepare_cached(sql)?),
            Sql::Pg(c) => Prepared::Pg(c, c.prepare(sql)?),
        }))
    }

    /// [`Sql::prepare_cached`], for a statement run once in a while.
    pub(in crate::store) fn prepare(&self, sql: &str) -> Result<Statement<'c>> {
        self.prepare_cached(sql)
    }

    /// The key of the row the last `INSERT` on this connection added: SQLite's `rowid`, or on
    /// PostgreSQL the value the last identity column (or sequence) handed out (the tables the
    /// store asks this of have a `rowid` identity column there).
    pub(in crate::store) fn last_insert_rowid(&self) -> Result<i64> {
        match self {
            Sql::Lite(c) => Ok(c.last_insert_rowid()),
            Sql::Pg(_) => self.query_row("SELECT lastval()", [], |r| r.get(0)),
        }
    }

    /// Whether a transaction is open (SQLite ends one by itself on some errors; PostgreSQL's
    /// stays open, aborted, until it is rolled back).
    pub(in crate::store) fn in_transaction(&self) -> bool {
        match self {
            Sql::Lite(c) => !c.is_autocommit(),
            Sql::Pg(c) => !c.is_closed(),
        }
    }
}

/// A compiled statement.
pub(in crate::store) struct Statement<'c>(Prepared<'c>);

enum Prepared<'c> {
    Lite(rusqlite::CachedStatement<'c>),
    Pg(&'c PgConn, postgres::Statement),
}

impl Statement<'_> {
    /// Runs it; the number of rows changed.
    pub(in crate::store) fn execute<P: Params>(&mut self, params: P) -> Result<usize> {
        let values = params.values();
        match &mut self.0 {
            Prepared::Lite(s) => s.execute(&values[..]),
            Prepared::Pg(c, s) => c.execute(s, &values),
        }
    }

    /// Runs it and maps the first row; `QueryReturnedNoRows` if there is none.
    pub(in crate::store) fn query_row<T, P, F>(&mut self, params: P, f: F) -> Result<T>
    where
        P: Params,
        F: FnOnce(&Row<'_>) -> Result<T>,
    {
        let values = params.values();
        match &mut self.0 {
            Prepared::Lite(s) => s.query_row(&values[..], |r| f(&Row::Lite(r))),
            Prepared::Pg(c, s) => {
                let mut rows = c.query(s, &values)?;
                match rows.next() {
                    Some(row) => f(&Row::Pg(&row)),
                    None => Err(rusqlite::Error::QueryReturnedNoRows),
                }
            }
        }
    }

    /// Runs it and maps every row.
    pub(in crate::store) fn query_map<'s, T, P, F>(
        &'s mut self,
        params: P,
        mut f: F,
    ) -> Result<Box<dyn Iterator<Item = Result<T>> + 's>>
    where
        T: 's,
        P: Params,
        F: FnMut(&Row<'_>) -> Result<T> + 's,
    {
        let values = params.values();
        Ok(match &mut self.0 {
            Prepared::Lite(s) => Box::new(s.query_map(&values[..], move |r| f(&Row::Lite(r)))?),
            Prepared::Pg(c, s) => {
                let rows = c.query(s, &values)?;
                Box::new(rows.map(move |row| f(&Row::Pg(&row))))
            }
        })
    }

    /// Runs it, for rows read one at a time.
    pub(in crate::store) fn query<P: Params>(&mut self, params: P) -> Result<Rows<'_>> {
        let values = params.values();
        Ok(match &mut self.0 {
            Prepared::Lite(s) => Rows::Lite(s.query(&values[..])?),
            Prepared::Pg(c, s) => Rows::Pg(c.query(s, &values)?, None),
        })
    }

    /// How many columns its rows have.
    pub(in crate::store) fn column_count(&self) -> usize {
        match &self.0 {
            Prepared::Lite(s) => s.column_count(),
            Prepared::Pg(_, s) => s.columns().len(),
        }
    }
}

/// Rows read one at a time ([`Statement::query`]).
pub(in crate::store) enum Rows<'s> {
    Lite(rusqlite::Rows<'s>),
    Pg(PgRows, Option<PgRow>),
}

impl Rows<'_> {
    /// The next row, or `None` after the last.
    pub(in crate::store) fn next(&mut self) -> Result<Option<Row<'_>>> {
        match self {
            Rows::Lite(rows) => Ok(rows.next()?.map(Row::Lite)),
            Rows::Pg(rows, current) => {
                *current = rows.next();
                Ok(current.as_ref().map(Row::Pg))
            }
        }
    }
}

/// One row of a result.
pub(in crate::store) enum Row<'r> {
    Lite(&'r rusqlite::Row<'r>),
    Pg(&'r PgRow),
}

impl Row<'_> {
    /// Column `idx` (a position or a name) as `T`.
    pub(in crate::store) fn get<I: Column, T: FromSql>(&self, idx: I) -> Result<T> {
        match self {
            Row::Lite(r) => idx.get_lite(r),
            Row::Pg(r) => {
                let i = idx.position(r)?;
                T::column_result(r.value(i)).map_err(|e| conversion_error(i, e))
            }
        }
    }

    /// Column `idx` as a borrowed value.
    pub(in crate::store) fn get_ref<I: Column>(&self, idx: I) -> Result<ValueRef<'_>> {
        match self {
            Row::Lite(r) => idx.get_ref_lite(r),
            Row::Pg(r) => Ok(r.value(idx.position(r)?)),
        }
    }
}

/// rusqlite's error for a value that does not convert (what `Row::get` reports on SQLite).
fn conversion_error(idx: usize, e: rusqlite::types::FromSqlError) -> rusqlite::Error {
    match e {
        rusqlite::types::FromSqlError::InvalidType => {
            rusqlite::Error::InvalidColumnType(idx, String::new(), rusqlite::types::Type::Null)
        }
        other => rusqlite::Error::FromSqlConversionFailure(
            idx,
            rusqlite::types::Type::Null,
            Box::new(other),
        ),
    }
}

/// A column of a row: its position or its name.
pub(in crate::store) trait Column: Copy {
    fn get_lite<T: FromSql>(self, row: &rusqlite::Row<'_>) -> Result<T>;
    fn get_ref_lite<'r>(self, row: &'r rusqlite::Row<'_>) -> Result<ValueRef<'r>>;
    fn position(self, row: &PgRow) -> Result<usize>;
}

impl Column for usize {
    fn get_lite<T: FromSql>(self, row: &rusqlite::Row<'_>) -> Result<T> {
        row.get(self)
    }
    fn get_ref_lite<'r>(self, row: &'r rusqlite::Row<'_>) -> Result<ValueRef<'r>> {
        row.get_ref(self)
    }
    fn position(self, row: &PgRow) -> Result<usize> {
        if self < row.len() {
            Ok(self)
        } else {
            Err(rusqlite::Error::InvalidColumnIndex(self))
        }
    }
}

impl Column for &str {
    fn get_lite<T: FromSql>(self, row: &rusqlite::Row<'_>) -> Result<T> {
        row.get(self)
    }
    fn get_ref_lite<'r>(self, row: &'r rusqlite::Row<'_>) -> Result<ValueRef<'r>> {
        row.get_ref(self)
    }
    fn position(self, row: &PgRow) -> Result<usize> {
        row.position(self)
            .ok_or_else(|| rusqlite::Error::InvalidColumnName(self.to_owned()))
    }
}

/// A statement's parameters: the shapes rusqlite takes (`[]`, arrays, tuples, `params![]`).
pub(in crate::store) trait Params {
    /// The values, in order.
    fn values(&self) -> Vec<&dyn ToSql>;
}

impl Params for [&(dyn ToSql + Send + Sync); 0] {
    fn values(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

impl Params for &[&dyn ToSql] {
    fn values(&self) -> Vec<&dyn ToSql> {
        self.to_vec()
    }
}

impl Params for () {
    fn values(&self) -> Vec<&dyn ToSql> {
        Vec::new()
    }
}

macro_rules! tuple_params {
    ($(($($field:tt $t:ident),+))+) => {$(
        impl<$($t: ToSql),+> Params for ($($t,)+) {
            fn values(&self) -> Vec<&dyn ToSql> {
                vec![$(&self.$field as &dyn ToSql),+]
            }
        }
    )+};
}

tuple_params!(
    (0 A)
    (0 A, 1 B)
    (0 A, 1 B, 2 C)
    (0 A, 1 B, 2 C, 3 D)
    (0 A, 1 B, 2 C, 3 D, 4 E)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G)
    (0 A, 1 B, 2 C, 3 D, 4 E, 5 F, 6 G, 7 H)
);

macro_rules! array_params {
    ($($n:literal)+) => {$(
        impl<T: ToSql> Params for [T; $n] {
            fn values(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
        impl<T: ToSql + ?Sized> Params for &[&T; $n] {
            fn values(&self) -> Vec<&dyn ToSql> {
                self.iter().map(|v| v as &dyn ToSql).collect()
            }
        }
    )+};
}

array_params!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32);

/// A connection owned by its user (the writer thread, a pool).
pub(in crate::store) enum Connection {
    Lite(rusqlite::Connection),
    Pg(Box<PgConn>),
}

impl Connection {
    pub(in crate::store) fn sql(&self) -> Sql<'_> {
        match self {
            Connection::Lite(c) => Sql::Lite(c),
            Connection::Pg(c) => Sql::Pg(c),
        }
    }
}
