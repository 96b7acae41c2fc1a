//! The database the suite runs against: SQLite files by default, or PostgreSQL when
//! `AGENTSEND_TEST_DATABASE_URL` names a server (a `postgres://` URL whose user may create
//! databases). Each test then gets a database of its own, dropped when the test is done.

use std::path::Path;

use agentsend::config::Config;

/// The variable that selects PostgreSQL.
pub const VARIABLE: &str = "AGENTSEND_TEST_DATABASE_URL";

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
struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    fn create(admin: &str) -> TestDatabase {
        let name = format!("agentsend_test_{}", uuid::Uuid::new_v4().simple());
        let mut url = url::Url::parse(admin).unwrap_or_else(|e| panic!("{VARIABLE}: {e}"));
        url.set_path(&name);
        let db = TestDatabase {
            admin: admin.to_owned(),
            name,
            url: url.to_string(),
        };
        db.admin_statement(&format!("CREATE DATABASE {}", db.name));
        db
    }

    /// Runs `statement` on the server's maintenance database, on a thread of its own (the
    /// synchronous client cannot run inside the test's runtime).
    fn admin_statement(&self, statement: &str) {
        let (admin, statement) = (self.admin.clone(), statement.to_owned());
        std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&admin, postgres::NoTls)
                .unwrap_or_else(|e| panic!("{VARIABLE} does not connect: {e}"));
            client
                .batch_execute(&statement)
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        })
        .join()
        .unwrap();
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        if !std::thread::panicking() {
            self.admin_statement(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}
