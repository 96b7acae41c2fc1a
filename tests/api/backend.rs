//! The database the suite runs against: SQLite files by default, or PostgreSQL when
//! `AGENTSEND_TEST_DATABASE_URL` names a server (a `postgres://` URL whose user may create
//! databases). Each test then gets a database of its own, dropped when the test is done.

use std::path::Path;

use agentsend::config::Config;

/// The variable that selects PostgreSQL.
pub const VARIABLE: &str = "AGENTSEND_TEST_DATABASE_URL";

/// The tests of the SQLite file itself, which check nothing against PostgreSQL (they return
/// at once there, and the run's summary names them): `(test, why)`.
pub const SQLITE_ONLY: &[(&str, &str)] = &[
    (
        "operations::a_backup_under_write_load_restores_every_message_acknowledged_before_it_started",
        "`agentsend backup`/`restore` copy the SQLite file",
    ),
    (
        "operations::restore_refuses_what_it_cannot_use_and_overwrites_nothing",
        "`agentsend restore` replaces the SQLite file",
    ),
    (
        "operations::a_backup_to_an_unwritable_place_fails_and_the_server_carries_on",
        "`agentsend backup` copies the SQLite file",
    ),
    (
        "operations::scheduled_backups_keep_the_newest_and_a_failing_one_leaves_the_server_serving",
        "scheduled backups copy the SQLite file (refused with database.url on PostgreSQL)",
    ),
    (
        "reading::a_database_from_before_labels_and_search_gets_both_when_it_opens",
        "it migrates an SQLite file from schema version 10",
    ),
];

/// Whether a test listed in [`SQLITE_ONLY`] leaves its checks out: on PostgreSQL.
pub fn sqlite_only() -> bool {
    postgres()
}

/// Whether the suite runs against PostgreSQL.
pub fn postgres() -> bool {
    std::env::var(VARIABLE).is_ok_and(|url| !url.is_empty())
}

/// A test's own place for its data: a temporary directory (the SQLite file, attachments,
/// backups), and on PostgreSQL a database of its own.
pub struct Scratch {
    dir: tempfile::TempDir,
    database: Option<TestDatabase>,
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
            database: std::env::var(VARIABLE)
                .ok()
                .filter(|url| !url.is_empty())
                .map(|url| TestDatabase::create(&url)),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Points `config` at this test's database.
    pub fn configure(&self, config: &mut Config) {
        config.database.path = self.dir.path().join("agentsend.db");
        if let Some(db) = &self.database {
            config.database.url = db.url.clone();
        }
    }
}

/// A PostgreSQL database made for one test.
pub struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

/// A new, empty PostgreSQL database besides the test's own (for a test that needs a second
/// one whatever its server runs on), dropped with the value; `None` without a PostgreSQL
/// server ([`VARIABLE`] unset).
pub fn extra_database() -> Option<TestDatabase> {
    std::env::var(VARIABLE)
        .ok()
        .filter(|url| !url.is_empty())
        .map(|url| TestDatabase::create(&url))
}

impl TestDatabase {
    /// Its URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn create(admin: &str) -> TestDatabase {
        let name = format!("agentsend_test_{}", uuid::Uuid::new_v4().simple());
        let mut url = url::Url::parse(admin).unwrap_or_else(|e| panic!("{VARIABLE}: {e}"));
        url.set_path(&name);
        let db = TestDatabase {
            admin: admin.to_owned(),
            name,
            url: url.to_string(),
        };
        let create = format!("CREATE DATABASE {}", db.name);
        if let Err(e) = db.admin_statement(&create) {
            panic!("{VARIABLE}: {create}: {e}");
        }
        db
    }

    /// Runs `statement` on the server's maintenance database, on a thread of its own (the
    /// synchronous client cannot run inside the test's runtime).
    fn admin_statement(&self, statement: &str) -> Result<(), String> {
        let (admin, statement) = (self.admin.clone(), statement.to_owned());
        std::thread::spawn(move || {
            let mut client =
                postgres::Client::connect(&admin, postgres::NoTls).map_err(|e| e.to_string())?;
            client.batch_execute(&statement).map_err(|e| e.to_string())
        })
        .join()
        .map_err(|_| "the statement's thread panicked".to_owned())?
    }
}

impl Drop for TestDatabase {
    /// Drops the database, also after a failed test (never panicking here).
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = self.admin_statement(&drop) {
            eprintln!("{drop}: {e}");
        }
    }
}

/// SQL on the server's own database, whichever the engine, for setting up or looking at rows
/// the API cannot reach: statements are written as for SQLite (`?N` parameters) and go
/// through the server's store (which translates them for PostgreSQL); writes queue with the
/// server's own. Calls block the test briefly (on a thread of their own, as the synchronous
/// PostgreSQL client needs).
pub struct TestSql {
    store: agentsend::store::Store,
}

/// Why a statement failed.
pub type SqlError = Box<dyn std::error::Error + Send + Sync>;

impl TestSql {
    pub fn new(store: agentsend::store::Store) -> TestSql {
        TestSql { store }
    }

    /// Runs one statement with parameters, or (with `[]`) any statements; the rows changed.
    pub fn execute(&self, sql: &str, params: impl Values) -> Result<usize, SqlError> {
        let (store, sql, params) = (self.store.clone(), sql.to_owned(), params.values());
        off_thread(move || store.execute_raw_blocking(&sql, params))
    }

    /// Runs statements separated by semicolons.
    pub fn execute_batch(&self, sql: &str) -> Result<(), SqlError> {
        self.execute(sql, []).map(|_| ())
    }

    /// The first row of a query, mapped by `f`.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Values,
        f: impl FnOnce(&TestRow) -> rusqlite::Result<T>,
    ) -> Result<T, SqlError> {
        let row = self
            .query(sql, params)?
            .into_iter()
            .next()
            .ok_or("the query returned no rows")?;
        Ok(f(&row)?)
    }

    /// Every row of a query.
    pub fn query(&self, sql: &str, params: impl Values) -> Result<Vec<TestRow>, SqlError> {
        let (store, sql, params) = (self.store.clone(), sql.to_owned(), params.values());
        let rows = off_thread(move || store.query_raw_blocking(&sql, params))?;
        Ok(rows.into_iter().map(TestRow).collect())
    }
}

fn off_thread<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, agentsend::store::Failure> + Send + 'static,
) -> Result<T, SqlError> {
    Ok(std::thread::spawn(f)
        .join()
        .map_err(|_| "the statement's thread panicked")??)
}

/// A row of [`TestSql::query`].
pub struct TestRow(Vec<rusqlite::types::Value>);

impl TestRow {
    /// Column `idx` as `T`.
    pub fn get<I: Column, T: rusqlite::types::FromSql>(&self, idx: I) -> rusqlite::Result<T> {
        let idx = idx.position();
        let value = self
            .0
            .get(idx)
            .ok_or(rusqlite::Error::InvalidColumnIndex(idx))?;
        T::column_result(value.into()).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(idx, value.data_type(), Box::new(e))
        })
    }
}

/// A column by its position.
pub trait Column {
    fn position(self) -> usize;
}

impl Column for usize {
    fn position(self) -> usize {
        self
    }
}

/// A statement's parameters: `[]`, an array of values, or `rusqlite::params![…]`.
pub trait Values {
    fn values(self) -> Vec<rusqlite::types::Value>;
}

fn owned(v: &dyn rusqlite::ToSql) -> rusqlite::types::Value {
    use rusqlite::types::{ToSqlOutput, Value, ValueRef};
    match v.to_sql().expect("a parameter converts") {
        ToSqlOutput::Borrowed(v) => match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        },
        ToSqlOutput::Owned(v) => v,
        _ => panic!("a parameter kind the tests do not use"),
    }
}

impl Values for [&(dyn rusqlite::ToSql + Send + Sync); 0] {
    fn values(self) -> Vec<rusqlite::types::Value> {
        Vec::new()
    }
}

macro_rules! array_values {
    ($($n:literal)+) => {$(
        impl<T: rusqlite::ToSql> Values for [T; $n] {
            fn values(self) -> Vec<rusqlite::types::Value> {
                self.iter().map(|v| owned(v)).collect()
            }
        }
    )+};
}

array_values!(1 2 3 4 5 6 7 8);

impl Values for &[&dyn rusqlite::ToSql] {
    fn values(self) -> Vec<rusqlite::types::Value> {
        self.iter().map(|v| owned(*v)).collect()
    }
}
