//! Inboxes.

use super::conn::Row;
use crate::domain::Refusal;
use rusqlite::{OptionalExtension, params};

use super::Db;
use super::page::{Counted, Order, kept_total, page};
use super::sql::unsigned;
use super::{Failure, Tx, accounts, domains};
use crate::domain::Resource;
use crate::domain::inbox::{AddressRequest, InboxDomain};
use crate::domain::{
    AccountId, DailySendLimit, DisplayName, EmailAddress, Inbox, InboxId, InboxStatus, Page,
    Paging, Timestamp, ValidationErrors,
};

/// How many random addresses are tried before giving up on a generated one.
const GENERATION_ATTEMPTS: usize = 8;

/// What a new inbox is created with.
#[derive(Debug, Clone)]
pub struct NewInbox {
    /// How the local part is chosen.
    pub address: AddressRequest,
    /// Where the address lives.
    pub domain: InboxDomain,
    /// The domain part the client wrote in a full address, which must match `domain`.
    pub requested_domain: Option<String>,
    /// Display name.
    pub display_name: Option<DisplayName>,
    /// Requested daily limit (checked against the account's); `None` takes the default.
    pub daily_send_limit: Option<i64>,
    /// The configured default daily limit.
    pub default_daily_send_limit: u32,
}

/// A change to an inbox; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct InboxChanges {
    /// `Some(None)` removes the display name.
    pub display_name: Option<Option<DisplayName>>,
    /// New daily limit (checked against the account's).
    pub daily_send_limit: Option<i64>,
}

/// The columns [`from_row`] reads; a macro so that queries can be `concat!`-ed constants
/// (the statement cache is keyed by the SQL text).
macro_rules! columns {
    () => {
        "id, account_id, address, domain_id, display_name, status, daily_send_limit, \
         sends_today, sends_day, total_sent, bounce_count, complaint_count, created_at, \
         updated_at, (domain_id IS NULL OR EXISTS (SELECT 1 FROM domains d \
         WHERE d.id = inboxes.domain_id AND d.sending_status = 'verified')) AS is_verified, \
         coalesce((SELECT n FROM list_counts WHERE list = 'labelled' AND owner = inboxes.id \
         AND part = 'unread'), 0) AS unread_count"
    };
}

/// Maps a row; `sends_today` counts only if it refers to `now`'s UTC day.
fn from_row(row: &Row<'_>, now: Timestamp) -> rusqlite::Result<Inbox> {
    let status: String = row.get("status")?;
    let sends_day: i64 = row.get("sends_day")?;
    Ok(Inbox {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        address: row.get("address")?,
        display_name: row.get("display_name")?,
        domain_id: row.get("domain_id")?,
        status: InboxStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown inbox status {status:?}").into(),
            )
        })?,
        daily_send_limit: unsigned(row, "daily_send_limit")?,
        sends_today: if sends_day == now.utc_day() {
            unsigned(row, "sends_today")?
        } else {
            0
        },
        total_sent: unsigned(row, "total_sent")?,
        bounce_count: unsigned(row, "bounce_count")?,
        complaint_count: unsigned(row, "complaint_count")?,
        is_verified: row.get("is_verified")?,
        unread_count: unsigned(row, "unread_count")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn daily_limit(raw: i64, account_limit: u32) -> Result<DailySendLimit, Failure> {
    DailySendLimit::parse(raw, account_limit).map_err(|e| {
        Failure::Refused(Refusal::Invalid(ValidationErrors::single(
            "dailySendLimit",
            e.to_string(),
        )))
    })
}

/// How many inboxes the account has created, deleted ones included.
pub fn created_count(conn: &Db, account_id: AccountId) -> Result<u64, Failure> {
    let created: i64 = conn
        .sql()
        .prepare_cached("SELECT count(*) FROM inboxes WHERE account_id = ?1")?
        .query_row([account_id], |r| r.get(0))?;
    Ok(super::count(created))
}

/// Creates an inbox. An exact address that is taken (even by a deleted inbox) is
/// refused ([`Refusal::AddressTaken`]); a generated one is retried with fresh randomness.
pub fn create_inbox(
    tx: &Tx<'_>,
    account_id: AccountId,
    new: &NewInbox,
    now: Timestamp,
) -> Result<Inbox, Failure> {
    let account = accounts::get_account(tx, account_id)?;
    let (domain, domain_id) = match &new.domain {
        InboxDomain::Shared(name) => (name.clone(), None),
        InboxDomain::Custom(id) => (
            domains::verified_sending_domain(tx, account_id, *id)?,
            Some(*id),
        ),
    };
    if let Some(requested) = &new.requested_domain
        && *requested != domain.as_str()
    {
        return Err(Failure::Refused(Refusal::InvalidInboxDomain {
            expected: domain.to_string(),
        }));
    }
    let limit = match new.daily_send_limit {
        Some(raw) => daily_limit(raw, account.daily_send_limit)?.get(),
        None => new.default_daily_send_limit.min(account.daily_send_limit),
    };
    let attempts = match new.address {
        AddressRequest::Exact(_) => 1,
        AddressRequest::Generated { .. } => GENERATION_ATTEMPTS,
    };
    for _ in 0..attempts {
        let address = EmailAddress::from_parts(&new.address.local_part(), &domain);
        let taken: bool = tx.sql().query_row(
            "SELECT EXISTS (SELECT 1 FROM inboxes WHERE address = ?1)",
            [address.as_str()],
            |r| r.get(0),
        )?;
        if taken {
            continue;
        }
        let id = InboxId::new();
        tx.sql().execute(
            "INSERT INTO inboxes (id, account_id, address, domain_id, display_name,
                 daily_send_limit, sends_day, created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![
                id,
                account_id,
                address.as_str(),
                domain_id,
                new.display_name.as_ref().map(DisplayName::as_str),
                limit,
                now.utc_day(),
                now
            ],
        )?;
        return get_inbox(tx, account_id, id, now);
    }
    Err(Failure::Refused(Refusal::AddressTaken))
}

/// One of the account's inboxes that is not deleted.
pub fn get_inbox(
    conn: &Db,
    account_id: AccountId,
    id: InboxId,
    now: Timestamp,
) -> Result<Inbox, Failure> {
    conn.sql()
        .prepare_cached(concat!(
            "SELECT ",
            columns!(),
            " FROM inboxes WHERE id = ?1 AND account_id = ?2 AND status != 'deleted'"
        ))?
        .query_row(params![id, account_id], |r| from_row(r, now))
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Inbox)))
}

/// Whether `id` is one of the account's inboxes that is not deleted (`NotFound` otherwise).
pub fn exists(conn: &Db, account_id: AccountId, id: InboxId) -> Result<(), Failure> {
    let found: bool = conn
        .sql()
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM inboxes
                            WHERE id = ?1 AND account_id = ?2 AND status != 'deleted')",
        )?
        .query_row(params![id, account_id], |r| r.get(0))?;
    if found {
        Ok(())
    } else {
        Err(Failure::Refused(Refusal::NotFound(Resource::Inbox)))
    }
}

/// One of the account's inboxes that is not deleted, by address (inbox addresses are stored
/// lower-case).
pub fn find_by_address(
    conn: &Db,
    account_id: AccountId,
    address: &str,
) -> Result<InboxId, Failure> {
    conn.sql()
        .prepare_cached(
            "SELECT id FROM inboxes WHERE address = ?1 AND account_id = ?2 AND status != 'deleted'",
        )?
        .query_row(params![address.to_lowercase(), account_id], |r| r.get(0))
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Inbox)))
}

/// The account's active and suspended inboxes, newest first.
pub fn list_inboxes(
    conn: &Db,
    account_id: AccountId,
    paging: Paging,
    now: Timestamp,
) -> Result<Page<Inbox>, Failure> {
    let total = kept_total(
        conn,
        Counted::Inboxes,
        &account_id,
        &["active", "suspended"],
    )?;
    page(
        conn,
        concat!(
            "SELECT ",
            columns!(),
            ", created_at, rowid FROM inboxes
             WHERE account_id = ?1 AND status IN ('active', 'suspended')"
        ),
        &Order::NEWEST,
        &[&account_id],
        paging,
        total,
        |r| from_row(r, now),
    )
}

/// Applies `changes` to a non-deleted inbox.
pub fn update_inbox(
    tx: &Tx<'_>,
    account_id: AccountId,
    id: InboxId,
    changes: &InboxChanges,
    now: Timestamp,
) -> Result<Inbox, Failure> {
    let inbox = get_inbox(tx, account_id, id, now)?;
    let limit = match changes.daily_send_limit {
        Some(raw) => {
            let account = accounts::get_account(tx, account_id)?;
            daily_limit(raw, account.daily_send_limit)?.get()
        }
        None => inbox.daily_send_limit,
    };
    let display_name = match &changes.display_name {
        Some(new) => new.as_ref().map(|d| d.as_str().to_owned()),
        None => inbox.display_name,
    };
    tx.sql().execute(
        "UPDATE inboxes SET display_name = ?2, daily_send_limit = ?3, updated_at = ?4
         WHERE id = ?1",
        params![id, display_name, limit, now],
    )?;
    get_inbox(tx, account_id, id, now)
}

/// Soft-deletes an inbox: it disappears from the API and refuses mail, and its address stays
/// reserved so that nobody else can receive its mail later.
pub fn delete_inbox(
    tx: &Tx<'_>,
    account_id: AccountId,
    id: InboxId,
    now: Timestamp,
) -> Result<(), Failure> {
    let changed = tx.sql().execute(
        "UPDATE inboxes SET status = 'deleted', updated_at = ?3
         WHERE id = ?1 AND account_id = ?2 AND status != 'deleted'",
        params![id, account_id, now],
    )?;
    if changed == 0 {
        return Err(Failure::Refused(Refusal::NotFound(Resource::Inbox)));
    }
    Ok(())
}

/// The inbox that receives mail for `address` (lower-cased by the caller): an active inbox,
/// on the shared domain or on a custom domain verified for receiving.
pub fn find_receiving_inbox(
    conn: &Db,
    address: &str,
) -> Result<Option<(InboxId, AccountId)>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT i.id, i.account_id FROM inboxes i LEFT JOIN domains d ON d.id = i.domain_id
             WHERE i.address = ?1 AND i.status = 'active'
               AND (i.domain_id IS NULL OR d.receiving_status = 'verified')",
        )?
        .query_row([address], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Whether `inbox` still receives mail (checked again when a message is stored: it may have
/// been deleted or suspended while the message was being sent).
pub fn still_receiving(conn: &Db, inbox_id: InboxId) -> Result<bool, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM inboxes WHERE id = ?1 AND status = 'active')",
        )?
        .query_row([inbox_id], |r| r.get(0))?)
}

/// The hosted service's auto-suspension: once an inbox has sent at least 100 messages, a bounce rate
/// above 5 % or a complaint rate above 0.1 % suspends it. Returns whether it was suspended now.
pub fn suspend_if_over_limits(
    tx: &Tx<'_>,
    inbox_id: InboxId,
    now: Timestamp,
) -> Result<bool, Failure> {
    Ok(tx
        .sql()
        .prepare_cached(
            "UPDATE inboxes SET status = 'suspended', updated_at = ?2
             WHERE id = ?1 AND status = 'active' AND total_sent >= 100
               AND (bounce_count * 100 > total_sent * 5 OR complaint_count * 1000 > total_sent)",
        )?
        .execute(params![inbox_id, now])?
        > 0)
}
