//! Custom domains: their keys, statuses and DNS check results.

use crate::domain::Refusal;

use super::conn::Row;
use rusqlite::{OptionalExtension, params};

use super::Db;
use super::page::{Order, page};
use super::sql::bad_text;
use super::{Failure, Queue, Tx, count};
use crate::domain::Resource;
use crate::domain::custom_domain::{
    CheckOutcome, DkimAlgorithm, Domain, ReceivingStatus, SendingStatus,
};
use crate::domain::{AccountId, DomainId, DomainName, Page, Paging, Timestamp};

/// What a domain is created with (no `Debug`: it holds the private key).
#[derive(Clone)]
pub struct NewDomain {
    /// The name.
    pub name: DomainName,
    /// The verification TXT value's token.
    pub verification_token: String,
    /// DKIM selector.
    pub dkim_selector: String,
    /// Key type.
    pub dkim_algorithm: DkimAlgorithm,
    /// The private key as `DkimKey::from_stored` takes it.
    pub dkim_private_key: Vec<u8>,
    /// The public key as published (`p=`).
    pub dkim_public_key: String,
}

/// A verified domain's signing key, as stored.
#[derive(Clone)]
pub struct StoredKey {
    /// The domain (`d=`).
    pub domain: String,
    /// Selector (`s=`).
    pub selector: String,
    /// Key type.
    pub algorithm: DkimAlgorithm,
    /// The private key.
    pub private_key: Vec<u8>,
}

macro_rules! domain_columns {
    () => {
        "id, account_id, domain, verification_token, dkim_selector, dkim_algorithm, \
         dkim_public_key, sending_status, receiving_status, sending_verified_at, \
         receiving_verified_at, last_checked_at, last_check_error, created_at, updated_at"
    };
}

fn domain_from_row(row: &Row<'_>) -> rusqlite::Result<Domain> {
    let name: String = row.get("domain")?;
    let algorithm: String = row.get("dkim_algorithm")?;
    let sending: String = row.get("sending_status")?;
    let receiving: String = row.get("receiving_status")?;
    Ok(Domain {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        name: DomainName::parse(&name).map_err(|e| bad_text(2, format!("domain {name:?}: {e}")))?,
        verification_token: row.get("verification_token")?,
        dkim_selector: row.get("dkim_selector")?,
        dkim_algorithm: DkimAlgorithm::parse(&algorithm)
            .ok_or_else(|| bad_text(5, format!("DKIM algorithm {algorithm:?}")))?,
        dkim_public_key: row.get("dkim_public_key")?,
        sending_status: SendingStatus::parse(&sending)
            .ok_or_else(|| bad_text(7, format!("sending status {sending:?}")))?,
        receiving_status: ReceivingStatus::parse(&receiving)
            .ok_or_else(|| bad_text(8, format!("receiving status {receiving:?}")))?,
        sending_verified_at: row.get("sending_verified_at")?,
        receiving_verified_at: row.get("receiving_verified_at")?,
        last_checked_at: row.get("last_checked_at")?,
        last_check_error: row.get("last_check_error")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

/// How many custom domains the account has.
pub fn owned_count(conn: &Db, account_id: AccountId) -> Result<u64, Failure> {
    let owned: i64 = conn
        .sql()
        .prepare_cached("SELECT count(*) FROM domains WHERE account_id = ?1")?
        .query_row([account_id], |r| r.get(0))?;
    Ok(count(owned))
}

/// Whether `name` is free for the account: not its own duplicate, not verified by another
/// account (`409 DOMAIN_EXISTS`: a domain receives and signs for one account only).
/// [`create_domain`] checks again in its transaction.
pub fn check_name_free(conn: &Db, account_id: AccountId, name: &DomainName) -> Result<(), Failure> {
    let holders: Vec<(AccountId, bool)> = conn
        .sql()
        .prepare_cached(
            "SELECT account_id,
                    sending_status = 'verified' OR receiving_status = 'verified'
             FROM domains WHERE domain = ?1",
        )?
        .query_map([name.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    if holders.iter().any(|(holder, _)| *holder == account_id) {
        return Err(Failure::Refused(Refusal::DomainExists { elsewhere: false }));
    }
    if holders.iter().any(|(_, verified)| *verified) {
        return Err(Failure::Refused(Refusal::DomainExists { elsewhere: true }));
    }
    Ok(())
}

/// Adds a domain to the account (its name checked free again, in this transaction).
pub fn create_domain(
    tx: &Tx<'_>,
    account_id: AccountId,
    new: &NewDomain,
    now: Timestamp,
) -> Result<Domain, Failure> {
    check_name_free(tx, account_id, &new.name)?;
    let id = DomainId::new();
    tx.sql()
        .prepare_cached(
            "INSERT INTO domains (id, account_id, domain, verification_token, dkim_selector,
             dkim_algorithm, dkim_private_key, dkim_public_key, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
        )?
        .execute(params![
            id,
            account_id,
            new.name.as_str(),
            new.verification_token,
            new.dkim_selector,
            new.dkim_algorithm.as_str(),
            new.dkim_private_key,
            new.dkim_public_key,
            now
        ])?;
    get_domain(tx, account_id, id)
}

/// One of the account's domains.
pub fn get_domain(conn: &Db, account_id: AccountId, id: DomainId) -> Result<Domain, Failure> {
    conn.sql()
        .prepare_cached(concat!(
            "SELECT ",
            domain_columns!(),
            " FROM domains WHERE id = ?1 AND account_id = ?2"
        ))?
        .query_row(params![id, account_id], domain_from_row)
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Domain)))
}

/// The account's domains, newest first (a short list: its total is counted).
pub fn list_domains(
    conn: &Db,
    account_id: AccountId,
    paging: Paging,
) -> Result<Page<Domain>, Failure> {
    let total: i64 = conn.sql().query_row(
        "SELECT count(*) FROM domains WHERE account_id = ?1",
        [account_id],
        |r| r.get(0),
    )?;
    page(
        conn,
        concat!(
            "SELECT ",
            domain_columns!(),
            ", created_at, rowid FROM domains WHERE account_id = ?1"
        ),
        &Order::NEWEST,
        &[&account_id],
        paging,
        count(total),
        domain_from_row,
    )
}

/// Every account's domains, by name (for the operator's `doctor`).
pub fn list_all_domains(conn: &Db) -> Result<Vec<Domain>, Failure> {
    Ok(conn
        .sql()
        .prepare(concat!(
            "SELECT ",
            domain_columns!(),
            " FROM domains ORDER BY domain, created_at"
        ))?
        .query_map([], domain_from_row)?
        .collect::<Result<_, _>>()?)
}

/// Deletes a domain and its key. `409 DOMAIN_IN_USE` while inboxes that are not deleted use
/// it; deleted inboxes keep their (reserved) addresses but lose the link to the domain.
pub fn delete_domain(tx: &Tx<'_>, account_id: AccountId, id: DomainId) -> Result<(), Failure> {
    get_domain(tx, account_id, id)?;
    let in_use: i64 = tx.sql().query_row(
        "SELECT count(*) FROM inboxes WHERE domain_id = ?1 AND status != 'deleted'",
        [id],
        |r| r.get(0),
    )?;
    if in_use > 0 {
        return Err(Failure::Refused(Refusal::DomainInUse {
            inboxes: count(in_use),
        }));
    }
    tx.sql().execute(
        "UPDATE inboxes SET domain_id = NULL WHERE domain_id = ?1",
        [id],
    )?;
    tx.sql().execute(
        "DELETE FROM domains WHERE id = ?1 AND account_id = ?2",
        params![id, account_id],
    )?;
    Ok(())
}

/// Whether an account other than the domain's own already receives mail for its name.
pub fn received_elsewhere(conn: &Db, domain: &Domain) -> Result<bool, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT 1 FROM domains
             WHERE domain = ?1 AND account_id != ?2 AND receiving_status = 'verified' LIMIT 1",
        )?
        .query_row(params![domain.name.as_str(), domain.account_id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Stores the outcome of a DNS check of `before` (as read in this transaction): statuses,
/// when each side became verified, when it was checked and what it found missing.
pub fn record_check(
    tx: &Tx<'_>,
    before: &Domain,
    outcome: &CheckOutcome,
    now: Timestamp,
) -> Result<Domain, Failure> {
    let became = |was: bool, is: bool| (!was && is).then_some(now);
    let sending_verified_at = before.sending_verified_at.or(became(
        before.sending_status == SendingStatus::Verified,
        outcome.sending == SendingStatus::Verified,
    ));
    let receiving_verified_at = before.receiving_verified_at.or(became(
        before.receiving_status == ReceivingStatus::Verified,
        outcome.receiving == ReceivingStatus::Verified,
    ));
    tx.sql().prepare_cached(
        "UPDATE domains SET sending_status = ?2, receiving_status = ?3, sending_verified_at = ?4,
             receiving_verified_at = ?5, last_checked_at = ?6, last_check_error = ?7,
             updated_at = ?6
         WHERE id = ?1",
    )?
    .execute(params![
        before.id,
        outcome.sending.as_str(),
        outcome.receiving.as_str(),
        sending_verified_at,
        receiving_verified_at,
        now,
        outcome.problems
    ])?;
    get_domain(tx, before.account_id, before.id)
}

/// The kind of the jobs that re-check a domain in the background.
pub const DOMAIN_CHECK_JOB: &str = "domain-check";

/// The payload of a domain's check job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DomainCheckJob {
    /// The domain's account.
    pub account_id: AccountId,
    /// The domain.
    pub domain_id: DomainId,
}

impl DomainCheckJob {
    /// The payload, as stored, of the check job of domain `domain_id`.
    pub fn of(account_id: AccountId, domain_id: DomainId) -> String {
        serde_json::json!(Self {
            account_id,
            domain_id
        })
        .to_string()
    }
}

/// Migration step to version 7: a check job for every domain with a side still pending, due
/// at its last check (the job reschedules itself by the configured interval, or ends).
pub(super) fn queue_pending_checks(tx: &Tx<'_>) -> Result<(), Failure> {
    let pending: Vec<(AccountId, DomainId, Timestamp)> = tx
        .sql()
        .prepare(
            "SELECT account_id, id, coalesce(last_checked_at, created_at) FROM domains
             WHERE sending_status IN ('pending', 'pending_dkim') OR receiving_status = 'pending'",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<Result<_, _>>()?;
    for (account_id, id, due) in pending {
        super::jobs::enqueue(
            tx,
            DOMAIN_CHECK_JOB,
            &DomainCheckJob::of(account_id, id),
            due,
            Queue::DomainChecks,
            due,
        )?;
    }
    Ok(())
}

/// Marks a domain verified for sending and receiving without looking at DNS (a seed file's
/// domains: a test fixture has no DNS of its own).
pub fn mark_verified(tx: &Tx<'_>, id: DomainId, now: Timestamp) -> Result<(), Failure> {
    tx.sql().execute(
        "UPDATE domains SET sending_status = 'verified', receiving_status = 'verified',
             sending_verified_at = ?2, receiving_verified_at = ?2, last_checked_at = ?2,
             last_check_error = NULL, updated_at = ?2
         WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// The signing key of the custom domain `domain_id`, if it is verified for sending.
pub fn signing_key(conn: &Db, domain_id: DomainId) -> Result<Option<StoredKey>, Failure> {
    let row: Option<(String, String, String, Vec<u8>)> = conn
        .sql()
        .prepare_cached(
            "SELECT domain, dkim_selector, dkim_algorithm, dkim_private_key FROM domains
             WHERE id = ?1 AND sending_status = 'verified'",
        )?
        .query_row([domain_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    row.map(|(domain, selector, algorithm, private_key)| {
        Ok(StoredKey {
            algorithm: DkimAlgorithm::parse(&algorithm)
                .ok_or_else(|| Failure::corrupt(format!("DKIM algorithm {algorithm:?}")))?,
            domain,
            selector,
            private_key,
        })
    })
    .transpose()
}

/// The name of one of the account's domains, provided it is verified for sending: the
/// precondition for creating an inbox on it.
pub fn verified_sending_domain(
    conn: &Db,
    account_id: AccountId,
    domain_id: DomainId,
) -> Result<DomainName, Failure> {
    let domain = get_domain(conn, account_id, domain_id)?;
    if domain.sending_status != SendingStatus::Verified {
        return Err(Failure::Refused(Refusal::DomainNotVerified));
    }
    Ok(domain.name)
}
