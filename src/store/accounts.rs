//! Accounts and API keys.

use crate::domain::Refusal;
use std::time::Duration;

use super::conn::Row;
use rusqlite::{OptionalExtension, params};

use super::Db;
use super::page::{Order, page};
use super::sql::unsigned;
use super::{Failure, Tx, count};
use crate::domain::Resource;
use crate::domain::account::{AccountName, DeviceId};
use crate::domain::{
    Account, AccountId, ApiKey, ApiKeyId, ApiKeySecret, AuthContext, Credential, EmailAddress,
    KeyName, Page, Paging, Plan, Scopes, Timestamp,
};

/// `last_used_at` is refreshed at most this often.
const LAST_USED_GRANULARITY: Duration = Duration::from_secs(60);

/// What an account is created with.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Owner's name.
    pub name: AccountName,
    /// Owner's email.
    pub email: EmailAddress,
    /// Plan.
    pub plan: Plan,
    /// Messages per UTC day across the account.
    pub daily_send_limit: u32,
}

/// The columns `account_from_row` reads (a macro, so that queries are `concat!`-ed constants).
macro_rules! account_columns {
    () => {
        "id, name, email, plan, daily_send_limit, is_verified, created_at"
    };
}

fn account_from_row(row: &Row<'_>) -> rusqlite::Result<Account> {
    let plan: String = row.get("plan")?;
    Ok(Account {
        id: row.get("id")?,
        name: row.get("name")?,
        email: row.get("email")?,
        plan: Plan::parse(&plan).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Text,
                format!("unknown plan {plan:?}").into(),
            )
        })?,
        daily_send_limit: unsigned(row, "daily_send_limit")?,
        is_verified: row.get("is_verified")?,
        created_at: row.get("created_at")?,
    })
}

/// Inserts an account.
pub fn create_account(tx: &Tx<'_>, new: &NewAccount, now: Timestamp) -> Result<Account, Failure> {
    let id = AccountId::new();
    tx.sql().execute(
        "INSERT INTO accounts (id, name, email, plan, daily_send_limit, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        params![
            id,
            new.name.as_str(),
            new.email.as_str(),
            new.plan.as_str(),
            new.daily_send_limit,
            now
        ],
    )?;
    get_account(tx, id)
}

/// One account.
pub fn get_account(conn: &Db, id: AccountId) -> Result<Account, Failure> {
    conn.sql()
        .query_row(
            concat!(
                "SELECT ",
                account_columns!(),
                " FROM accounts WHERE id = ?1"
            ),
            [id],
            account_from_row,
        )
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Account)))
}

/// Every account, oldest first (for the operator's CLI).
pub fn list_accounts(conn: &Db) -> Result<Vec<Account>, Failure> {
    let mut stmt = conn.sql().prepare_cached(concat!(
        "SELECT ",
        account_columns!(),
        " FROM accounts ORDER BY created_at, rowid"
    ))?;
    let rows = stmt.query_map([], account_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Changes the owner's name and/or email.
pub fn update_account(
    tx: &Tx<'_>,
    id: AccountId,
    name: Option<&AccountName>,
    email: Option<&EmailAddress>,
    now: Timestamp,
) -> Result<Account, Failure> {
    let changed = tx.sql().execute(
        "UPDATE accounts SET name = coalesce(?2, name), email = coalesce(?3, email),
             updated_at = ?4
         WHERE id = ?1",
        params![
            id,
            name.map(AccountName::as_str),
            email.map(EmailAddress::as_str),
            now
        ],
    )?;
    if changed == 0 {
        return Err(Failure::Refused(Refusal::NotFound(Resource::Account)));
    }
    get_account(tx, id)
}

/// On first start with an empty database: creates the default account and its first key.
/// Returns `None` when any account exists already, so the key is only ever shown once.
pub fn bootstrap(
    tx: &Tx<'_>,
    new: &NewAccount,
    key: Option<&ApiKeySecret>,
    now: Timestamp,
) -> Result<Option<(Account, ApiKeySecret)>, Failure> {
    let existing: i64 = tx
        .sql()
        .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))?;
    if existing > 0 {
        return Ok(None);
    }
    let account = create_account(tx, new, now)?;
    let name = KeyName::parse("default").ok();
    let secret = key.cloned().unwrap_or_else(ApiKeySecret::generate);
    let new = NewKey {
        name: name.as_ref(),
        ..NewKey::PLAIN
    };
    insert_api_key(tx, account.id, &secret, new, now)?;
    Ok(Some((account, secret)))
}

/// A sandbox account handed to a device.
#[derive(Debug)]
pub struct Provisioned {
    /// The account.
    pub account: Account,
    /// A new key for it (shown once).
    pub key: ApiKeySecret,
    /// Whether the account was created by this call.
    pub is_new: bool,
}

/// The account of `device`, with a fresh key; a new sandbox account (`new`, its claim token
/// hash from `claim_hash`) when the device has none. Keys handed out earlier keep working.
pub fn provision(
    tx: &Tx<'_>,
    device: &DeviceId,
    new: &NewAccount,
    claim_hash: impl FnOnce(AccountId) -> String,
    now: Timestamp,
) -> Result<Provisioned, Failure> {
    let existing: Option<AccountId> = tx
        .sql()
        .prepare_cached("SELECT id FROM accounts WHERE device_id = ?1")?
        .query_row([device.as_str()], |r| r.get(0))
        .optional()?;
    let (id, is_new) = match existing {
        Some(id) => (id, false),
        None => {
            let id = AccountId::new();
            tx.sql()
                .prepare_cached(
                    "INSERT INTO accounts (id, name, email, plan, daily_send_limit, device_id,
                     claim_token_hash, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                )?
                .execute(params![
                    id,
                    new.name.as_str(),
                    new.email.as_str(),
                    new.plan.as_str(),
                    new.daily_send_limit,
                    device.as_str(),
                    claim_hash(id),
                    now
                ])?;
            (id, true)
        }
    };
    let name = KeyName::parse("auto-provisioned").ok();
    let key = ApiKeySecret::generate();
    let new = NewKey {
        name: name.as_ref(),
        ..NewKey::PLAIN
    };
    insert_api_key(tx, id, &key, new, now)?;
    Ok(Provisioned {
        account: get_account(tx, id)?,
        key,
        is_new,
    })
}

/// Which sandbox account a claim is for.
#[derive(Debug, Clone, Copy)]
pub enum ClaimOf<'a> {
    /// The account whose claim token has this hash (the claim page).
    TokenHash(&'a str),
    /// The account with this id (the operator's CLI).
    Account(AccountId),
}

/// Why a claim did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// No account has that token or id.
    #[error("no such account")]
    Unknown,
    /// The account is not a sandbox (any more).
    #[error("the account is already claimed")]
    AlreadyClaimed,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] Failure),
}

impl From<rusqlite::Error> for ClaimError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Store(e.into())
    }
}

/// The sandbox account a claim token is for (claimed or not), if any.
pub fn find_by_claim_token(conn: &Db, token_hash: &str) -> Result<Option<Account>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(concat!(
            "SELECT ",
            account_columns!(),
            " FROM accounts WHERE claim_token_hash = ?1"
        ))?
        .query_row([token_hash], account_from_row)
        .optional()?)
}

/// Claims a sandbox account for a person: plan `free` with `daily_send_limit`, their name (if
/// given) and email, not verified. Its keys keep working; its claim link stops working, and its
/// device id no longer leads to it (anyone who knows a device id could provision with it).
pub fn claim(
    tx: &Tx<'_>,
    of: ClaimOf<'_>,
    name: Option<&AccountName>,
    email: &EmailAddress,
    daily_send_limit: u32,
    now: Timestamp,
) -> Result<Account, ClaimError> {
    let id: AccountId = match of {
        ClaimOf::TokenHash(hash) => {
            find_by_claim_token(tx, hash)?
                .ok_or(ClaimError::Unknown)?
                .id
        }
        ClaimOf::Account(id) => id,
    };
    let changed = tx.sql().execute(
        "UPDATE accounts SET plan = 'free', name = coalesce(?2, name), email = ?3,
             daily_send_limit = ?4, is_verified = 0, device_id = NULL, updated_at = ?5
         WHERE id = ?1 AND plan = 'sandbox'",
        params![
            id,
            name.map(AccountName::as_str),
            email.as_str(),
            daily_send_limit,
            now
        ],
    )?;
    if changed == 0 {
        return Err(match get_account(tx, id) {
            Ok(_) => ClaimError::AlreadyClaimed,
            Err(Failure::Refused(Refusal::NotFound(_))) => ClaimError::Unknown,
            Err(e) => ClaimError::Store(e),
        });
    }
    Ok(get_account(tx, id)?)
}

/// The columns `key_from_row` reads.
macro_rules! key_columns {
    () => {
        "id, account_id, prefix, name, scopes, last_used_at, expires_at, created_at"
    };
}

fn key_from_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    Ok(ApiKey {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        prefix: row.get("prefix")?,
        name: row.get("name")?,
        scopes: scopes_from(row.get("scopes")?)?,
        last_used_at: row.get("last_used_at")?,
        expires_at: row.get("expires_at")?,
        created_at: row.get("created_at")?,
    })
}

/// The stored bits of a key's scopes.
fn scopes_from(bits: u8) -> rusqlite::Result<Scopes> {
    Scopes::from_bits(bits).ok_or(rusqlite::Error::IntegralValueOutOfRange(0, i64::from(bits)))
}

/// What a new key is: its name, expiry and scopes.
#[derive(Debug, Clone, Copy)]
pub struct NewKey<'a> {
    /// Optional label.
    pub name: Option<&'a KeyName>,
    /// When it stops working, if ever.
    pub expires_at: Option<Timestamp>,
    /// What it may do.
    pub scopes: Scopes,
}

impl NewKey<'_> {
    /// A key with the default scopes that never expires (auto-provisioned, bootstrapped).
    pub const PLAIN: NewKey<'static> = NewKey {
        name: None,
        expires_at: None,
        scopes: Scopes::DEFAULT,
    };
}

fn insert_api_key(
    conn: &Db,
    account_id: AccountId,
    secret: &ApiKeySecret,
    new: NewKey<'_>,
    now: Timestamp,
) -> Result<ApiKey, Failure> {
    let id = ApiKeyId::new();
    let NewKey {
        name,
        expires_at,
        scopes,
    } = new;
    conn.sql().execute(
        "INSERT INTO api_keys (id, account_id, key_hash, prefix, name, expires_at, created_at, scopes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            id,
            account_id,
            secret.hash(),
            secret.prefix(),
            name.map(KeyName::as_str),
            expires_at,
            now,
            scopes.bits()
        ],
    )?;
    let key = conn.sql().query_row(
        concat!("SELECT ", key_columns!(), " FROM api_keys WHERE id = ?1"),
        [id],
        key_from_row,
    )?;
    Ok(key)
}

/// Gives an existing account a key whose secret the caller chose (a seed file's).
pub fn add_api_key(
    tx: &Tx<'_>,
    account_id: AccountId,
    secret: &ApiKeySecret,
    name: Option<&KeyName>,
    now: Timestamp,
) -> Result<ApiKey, Failure> {
    get_account(tx, account_id)?;
    let new = NewKey {
        name,
        ..NewKey::PLAIN
    };
    insert_api_key(tx, account_id, secret, new, now)
}

/// Creates a key for an existing account; the secret is returned once and never stored.
pub fn create_api_key(
    tx: &Tx<'_>,
    account_id: AccountId,
    new: NewKey<'_>,
    now: Timestamp,
) -> Result<(ApiKey, ApiKeySecret), Failure> {
    get_account(tx, account_id)?;
    let secret = ApiKeySecret::generate();
    let key = insert_api_key(tx, account_id, &secret, new, now)?;
    Ok((key, secret))
}

/// The account's keys that are not revoked, newest first (a short list: its total is counted).
pub fn list_api_keys(
    conn: &Db,
    account_id: AccountId,
    paging: Paging,
) -> Result<Page<ApiKey>, Failure> {
    let total: i64 = conn.sql().query_row(
        "SELECT count(*) FROM api_keys WHERE account_id = ?1 AND revoked_at IS NULL",
        [account_id],
        |r| r.get(0),
    )?;
    page(
        conn,
        concat!(
            "SELECT ",
            key_columns!(),
            ", created_at, rowid FROM api_keys WHERE account_id = ?1 AND revoked_at IS NULL"
        ),
        &Order::NEWEST,
        &[&account_id],
        paging,
        count(total),
        key_from_row,
    )
}

/// Revokes a key at once. With `account_id`, only that account's keys can be revoked (the
/// API); without it, any key (the operator's CLI). Unknown or already revoked: not found.
pub fn revoke_api_key(
    tx: &Tx<'_>,
    account_id: Option<AccountId>,
    key_id: ApiKeyId,
    now: Timestamp,
) -> Result<(), Failure> {
    let changed = tx.sql().execute(
        "UPDATE api_keys SET revoked_at = ?3
         WHERE id = ?1 AND (CAST(?2 AS TEXT) IS NULL OR account_id = ?2) AND revoked_at IS NULL",
        params![key_id, account_id, now],
    )?;
    if changed == 0 {
        return Err(Failure::Refused(Refusal::NotFound(Resource::ApiKey)));
    }
    Ok(())
}

/// Of `keys`, those no longer live: revoked, expired or gone (for open event streams, which
/// were authenticated when they opened).
pub fn dead_keys(conn: &Db, keys: &[ApiKeyId], now: Timestamp) -> Result<Vec<ApiKeyId>, Failure> {
    let mut stmt = conn.sql().prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ?1 AND revoked_at IS NULL
                          AND (expires_at IS NULL OR expires_at > ?2))",
    )?;
    let mut dead = Vec::new();
    for key in keys {
        if !stmt.query_row(params![key, now], |r| r.get::<_, bool>(0))? {
            dead.push(*key);
        }
    }
    Ok(dead)
}

/// A credential that checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Who the request is.
    pub context: AuthContext,
    /// Whether the key's `last_used_at` is due for a refresh (see [`touch_api_key`]).
    pub touch: bool,
}

/// Checks a credential: a presented key must be live (not revoked, not expired). Looked up on
/// every request, never cached, so that a revocation by the API or the CLI applies to the very
/// next request. A credential verified earlier in the request is taken as it is.
pub fn verify(conn: &Db, credential: &Credential, now: Timestamp) -> Result<Verified, Failure> {
    let secret = match credential {
        Credential::Verified(context) => {
            return Ok(Verified {
                context: *context,
                touch: false,
            });
        }
        Credential::Presented(secret) => secret,
    };
    let found: Option<(ApiKeyId, AccountId, Option<Timestamp>, Scopes)> = conn
        .sql()
        .prepare_cached(
            "SELECT id, account_id, last_used_at, scopes FROM api_keys
             WHERE key_hash = ?1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)",
        )?
        .query_row(params![secret.hash(), now], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, scopes_from(r.get(3)?)?))
        })
        .optional()?;
    let (key_id, account_id, last_used, scopes) =
        found.ok_or(Failure::Refused(Refusal::Unauthorized))?;
    Ok(Verified {
        context: AuthContext {
            account_id,
            key_id,
            scopes,
        },
        touch: last_used.is_none_or(|t| t < now.minus(LAST_USED_GRANULARITY)),
    })
}

/// [`verify`] inside a write transaction, recording the key's use there too. `None` when the
/// credential is not a live key.
pub fn verify_and_touch(
    tx: &Tx<'_>,
    credential: &Credential,
    now: Timestamp,
) -> Result<Option<AuthContext>, Failure> {
    match verify(tx, credential, now) {
        Ok(verified) => {
            if verified.touch {
                touch_api_key(tx, verified.context.key_id, now)?;
            }
            Ok(Some(verified.context))
        }
        Err(Failure::Refused(Refusal::Unauthorized)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Records that a key was used (at most once a minute, so authenticating stays a read).
pub fn touch_api_key(tx: &Tx<'_>, key_id: ApiKeyId, now: Timestamp) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")?
        .execute(params![key_id, now])?;
    Ok(())
}

/// The keys of an account for the CLI, including revoked ones, with their revocation time.
pub fn list_all_api_keys(
    conn: &Db,
    account_id: AccountId,
) -> Result<Vec<(ApiKey, Option<Timestamp>)>, Failure> {
    get_account(conn, account_id)?;
    let mut stmt = conn.sql().prepare_cached(concat!(
        "SELECT ",
        key_columns!(),
        ", revoked_at FROM api_keys WHERE account_id = ?1
         ORDER BY created_at, rowid"
    ))?;
    let rows = stmt.query_map([account_id], |r| {
        Ok((key_from_row(r)?, r.get("revoked_at")?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
