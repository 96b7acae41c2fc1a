//! The PostgreSQL side of [`super::conn`]: a connection with its compiled statements, the
//! translation of the store's statements (SQLite's `?NNN` parameters become `$NNN`), and
//! values crossing between PostgreSQL's types and SQLite's.
//!
//! Values are SQLite's five kinds on the store's side. Parameters go to the server as text
//! (which PostgreSQL parses into whatever type the statement needs there: an integer into
//! `BIGINT` or `BOOLEAN`, a string into `TEXT` or `JSONB`) and blobs as binary `BYTEA`.
//! Results come back as SQLite values: integers and booleans as integers, text as text,
//! `BYTEA` as blobs. A `NUMERIC` result (what `sum()` of integers gives) must be cast in the
//! statement.

use std::cell::{RefCell, RefMut};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::rc::Rc;
use std::sync::Weak;
use std::time::Duration;

use bytes::BytesMut;
use postgres::types::{Format, IsNull, Type};
use rusqlite::types::{ToSql, ToSqlOutput, Value, ValueRef};

use super::conn::Result;
use super::unit::WAKE_CHANNEL;
use super::wake::{WakeSet, Wakers};

/// Statements kept compiled per connection (the store has a few hundred distinct ones).
const STATEMENT_CACHE: usize = 1024;

/// A PostgreSQL connection and the statements compiled on it, keyed by their SQLite text.
pub(in crate::store) struct PgConn {
    /// `None` only while it is dropped.
    client: RefCell<Option<postgres::Client>>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
}

impl Drop for PgConn {
    /// The client owns a runtime of its own, which must not be dropped in async code (where
    /// the server's last handle on the store may go): it is dropped on a thread of its own
    /// there.
    fn drop(&mut self) {
        if let Some(client) = self.client.get_mut().take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            std::thread::spawn(move || drop(client));
        }
    }
}

impl PgConn {
    pub(in crate::store) fn new(client: postgres::Client) -> PgConn {
        PgConn {
            client: RefCell::new(Some(client)),
            statements: RefCell::new(HashMap::new()),
        }
    }

    fn client(&self) -> Result<RefMut<'_, postgres::Client>> {
        RefMut::filter_map(self.client.borrow_mut(), Option::as_mut).map_err(|_| {
            rusqlite::Error::UserFunctionError("the PostgreSQL connection is closed".into())
        })
    }

    /// The statement `sql` (SQLite's text), compiled once.
    pub(in crate::store) fn prepare(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(statement) = self.statements.borrow().get(sql) {
            return Ok(statement.clone());
        }
        let text = translate(sql);
        let statement = self.client()?.prepare(&text).map_err(|e| {
            rusqlite::Error::UserFunctionError(
                format!(
                    "{} in: {}",
                    PgError(e),
                    text.split_whitespace().collect::<Vec<_>>().join(" ")
                )
                .into(),
            )
        })?;
        let mut cache = self.statements.borrow_mut();
        if cache.len() >= STATEMENT_CACHE {
            cache.clear();
        }
        cache.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }

    pub(in crate::store) fn execute(
        &self,
        statement: &postgres::Statement,
        values: &[&dyn ToSql],
    ) -> Result<usize> {
        let outputs = outputs(values)?;
        let params = params(&outputs)?;
        let n = self
            .client()?
            .execute(statement, &refs(&params))
            .map_err(error)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub(in crate::store) fn query(
        &self,
        statement: &postgres::Statement,
        values: &[&dyn ToSql],
    ) -> Result<PgRows> {
        let outputs = outputs(values)?;
        let params = params(&outputs)?;
        let rows = self
            .client()?
            .query(statement, &refs(&params))
            .map_err(error)?;
        let names: Rc<[String]> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        let rows = rows
            .iter()
            .map(|row| {
                let values = (0..row.len())
                    .map(|i| row.try_get::<_, Any>(i).map(|v| v.0))
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(error)?;
                Ok(PgRow {
                    values,
                    names: names.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(rows.into_iter())
    }

    /// Runs statements without parameters, as they are (no translation).
    pub(in crate::store) fn execute_batch(&self, sql: &str) -> Result<()> {
        self.client()?.batch_execute(sql).map_err(error)
    }

    /// Whether the connection to the server is gone.
    pub(in crate::store) fn is_closed(&self) -> bool {
        self.client
            .borrow()
            .as_ref()
            .is_none_or(postgres::Client::is_closed)
    }
}

/// Opens PostgreSQL connections for a pool (and the writer).
#[derive(Clone)]
pub(in crate::store) struct PgManager {
    config: postgres::Config,
    tls: tokio_postgres_rustls::MakeRustlsConnect,
}

impl std::fmt::Debug for PgManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgManager").finish_non_exhaustive()
    }
}

impl PgManager {
    /// Connections as `config` says. Its `sslmode`: `disable`, no TLS; `prefer` (the default),
    /// TLS when the server offers it, as libpq does it: encrypted but unverified (a server
    /// that declines TLS gets a plain connection anyway, so checking the certificate would
    /// prove nothing); `require`, TLS with the server's certificate verified against the
    /// public roots and, if given, the CA certificates of `ca_file` (PEM) — stricter than
    /// libpq's `require`, which does not verify.
    pub(in crate::store) fn new(
        config: postgres::Config,
        ca_file: Option<&std::path::Path>,
    ) -> std::result::Result<PgManager, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        if let Some(path) = ca_file {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| format!("database.ca_file {}: {e}", path.display()))?;
            if certs.is_empty() {
                return Err(format!(
                    "database.ca_file {}: no certificate",
                    path.display()
                ));
            }
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| format!("database.ca_file {}: {e}", path.display()))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?;
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Prefer => builder
                .dangerous()
                .with_custom_certificate_verifier(std::sync::Arc::new(Unverified(provider)))
                .with_no_client_auth(),
            _ => builder.with_root_certificates(roots).with_no_client_auth(),
        };
        Ok(PgManager {
            config,
            tls: tokio_postgres_rustls::MakeRustlsConnect::new(tls),
        })
    }

    /// A new connection.
    pub(in crate::store) fn open(&self) -> std::result::Result<PgConn, postgres::Error> {
        Ok(PgConn::new(self.connect()?))
    }

    fn connect(&self) -> std::result::Result<postgres::Client, postgres::Error> {
        self.config.connect(self.tls.clone())
    }
}

impl r2d2::ManageConnection for PgManager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<PgConn, postgres::Error> {
        self.open()
    }

    fn is_valid(&self, conn: &mut PgConn) -> std::result::Result<(), postgres::Error> {
        match conn.client.get_mut() {
            Some(client) => client.simple_query("").map(|_| ()),
            None => Ok(()),
        }
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.is_closed()
    }
}

/// `sslmode=prefer`'s certificate check: none (see [`PgManager::new`]); the handshake's
/// signatures are still checked, so the session is encrypted to whoever holds the key.
#[derive(Debug)]
struct Unverified(std::sync::Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> std::result::Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Listens for the wake-ups of every node (this one's too: a spurious wake-up costs a worker
/// one look) on a connection of its own, and wakes this node's waiters: work queued on another
/// node is seen here at once. Runs until the store's wake-up signals are gone; reconnects after
/// a failure, waking every queue then (notifications may have been missed meanwhile).
pub(in crate::store) fn listen(manager: PgManager, wakers: Weak<Wakers>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("agentsend-listen".to_owned())
        .spawn(move || {
            let mut backoff = LISTEN_BACKOFF;
            while wakers.strong_count() > 0 {
                match manager.connect() {
                    Ok(mut client) => match client.batch_execute(&format!("LISTEN {WAKE_CHANNEL}"))
                    {
                        Ok(()) => {
                            backoff = LISTEN_BACKOFF;
                            if let Some(w) = wakers.upgrade() {
                                w.wake_all(WakeSet::all());
                            }
                            relay(&mut client, &wakers);
                            if wakers.strong_count() == 0 {
                                return;
                            }
                        }
                        Err(e) => log::warn!("cannot listen for wake-ups: {}", PgError(e)),
                    },
                    Err(e) => log::warn!("cannot connect to listen for wake-ups: {}", PgError(e)),
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(10));
            }
        })
        .map(|_| ())
}

/// The first wait before connecting again.
const LISTEN_BACKOFF: Duration = Duration::from_millis(100);

/// Passes notifications on until the connection fails or the store is gone.
fn relay(client: &mut postgres::Client, wakers: &Weak<Wakers>) {
    use postgres::fallible_iterator::FallibleIterator;
    loop {
        let next = client
            .notifications()
            .timeout_iter(Duration::from_secs(1))
            .next();
        let Some(w) = wakers.upgrade() else {
            return;
        };
        match next {
            Ok(Some(n)) => w.wake_all(WakeSet::from_payload(n.payload())),
            Ok(None) if !client.is_closed() => {}
            Ok(None) => {
                log::warn!("the connection listening for wake-ups closed; reconnecting");
                return;
            }
            Err(e) => {
                log::warn!(
                    "listening for wake-ups failed: {}; reconnecting",
                    PgError(e)
                );
                return;
            }
        }
    }
}

/// A result row, its values converted.
pub(in crate::store) struct PgRow {
    values: Vec<Value>,
    names: Rc<[String]>,
}

/// A query's rows.
pub(in crate::store) type PgRows = std::vec::IntoIter<PgRow>;

impl PgRow {
    pub(in crate::store) fn len(&self) -> usize {
        self.values.len()
    }

    pub(in crate::store) fn value(&self, i: usize) -> ValueRef<'_> {
        ValueRef::from(&self.values[i])
    }

    pub(in crate::store) fn position(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n.eq_ignore_ascii_case(name))
    }
}

/// A PostgreSQL error, carried in rusqlite's error type (see `conn.rs`).
pub(in crate::store) fn error(e: postgres::Error) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(PgError(e)))
}

/// A PostgreSQL error whose message says what the server said (the driver's own says only
/// "db error" for those).
#[derive(Debug)]
pub(in crate::store) struct PgError(pub(in crate::store) postgres::Error);

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => {
                write!(f, "PostgreSQL {}: {}", db.code().code(), db.message())?;
                if let Some(detail) = db.detail() {
                    write!(f, " ({detail})")?;
                }
                Ok(())
            }
            None => match self.0.source() {
                Some(cause) => write!(f, "PostgreSQL: {}: {cause}", self.0),
                None => write!(f, "PostgreSQL: {}", self.0),
            },
        }
    }
}

impl StdError for PgError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

/// SQLite's statement text in PostgreSQL's: `?NNN` becomes `$NNN`, and a bare `?` the next
/// number. String literals, quoted names and comments are left alone.
pub(in crate::store) fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut next = 1;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '-' if chars.peek() == Some(&'-') => {
                out.push(c);
                for d in chars.by_ref() {
                    out.push(d);
                    if d == '\n' {
                        break;
                    }
                }
            }
            '?' => {
                out.push('$');
                if chars.peek().is_some_and(char::is_ascii_digit) {
                    while let Some(d) = chars.next_if(char::is_ascii_digit) {
                        out.push(d);
                    }
                } else {
                    out.push_str(&next.to_string());
                    next += 1;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn outputs<'v>(values: &'v [&'v dyn ToSql]) -> Result<Vec<ToSqlOutput<'v>>> {
    values.iter().map(|v| v.to_sql()).collect()
}

fn params<'v>(outputs: &'v [ToSqlOutput<'_>]) -> Result<Vec<Param<'v>>> {
    outputs
        .iter()
        .map(|o| match o {
            ToSqlOutput::Borrowed(v) => Ok(Param(*v)),
            ToSqlOutput::Owned(v) => Ok(Param(ValueRef::from(v))),
            _ => Err(rusqlite::Error::ToSqlConversionFailure(
                "a parameter kind PostgreSQL does not take".into(),
            )),
        })
        .collect()
}

fn refs<'p>(params: &'p [Param<'_>]) -> Vec<&'p (dyn postgres::types::ToSql + Sync)> {
    params
        .iter()
        .map(|p| p as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

/// A parameter: SQLite's value, sent as text (blobs as binary).
#[derive(Debug)]
struct Param<'v>(ValueRef<'v>);

type BoxError = Box<dyn StdError + Sync + Send>;

impl postgres::types::ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        match self.0 {
            ValueRef::Null => return Ok(IsNull::Yes),
            ValueRef::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
            ValueRef::Real(f) => out.extend_from_slice(f.to_string().as_bytes()),
            // Text for a BYTEA parameter (a message body stored as it is) goes as its bytes.
            ValueRef::Text(t) => out.extend_from_slice(t),
            ValueRef::Blob(b) => {
                if *ty != Type::BYTEA {
                    return Err(format!("a blob for a parameter of type {ty}").into());
                }
                out.extend_from_slice(b)
            }
        }
        Ok(IsNull::No)
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    fn encode_format(&self, ty: &Type) -> Format {
        match self.0 {
            ValueRef::Blob(_) => Format::Binary,
            ValueRef::Text(_) if *ty == Type::BYTEA => Format::Binary,
            _ => Format::Text,
        }
    }

    postgres::types::to_sql_checked!();
}

/// A result value of any type PostgreSQL sends, as SQLite's value.
struct Any(Value);

impl<'a> postgres::types::FromSql<'a> for Any {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<Any, BoxError> {
        Ok(Any(match *ty {
            Type::BOOL => Value::Integer(i64::from(bool::from_sql(ty, raw)?)),
            Type::INT2 => Value::Integer(i64::from(i16::from_sql(ty, raw)?)),
            Type::INT4 => Value::Integer(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
            Type::OID => Value::Integer(i64::from(u32::from_sql(ty, raw)?)),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            Type::JSONB => {
                Value::Text(std::str::from_utf8(raw.get(1..).unwrap_or_default())?.to_owned())
            }
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::JSON | Type::UNKNOWN => {
                Value::Text(std::str::from_utf8(raw)?.to_owned())
            }
            _ => return Err(format!("a result of type {ty} (cast it in the statement)").into()),
        }))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<Any, BoxError> {
        Ok(Any(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn parameters_are_numbered_the_postgresql_way_outside_literals() {
        assert_eq!(
            translate("SELECT a FROM t WHERE b = ?1 AND c = ?12 AND d = '?' -- ?\n AND e = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $12 AND d = '?' -- ?\n AND e = $1"
        );
        assert_eq!(translate("VALUES (?, ?, \"?\")"), "VALUES ($1, $2, \"?\")");
    }
}
