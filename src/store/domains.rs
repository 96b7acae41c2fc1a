//! Custom domains (only what other resources need of them so far).

use rusqlite::{Connection, OptionalExtension, params};

use super::{Resource, StoreError};
use crate::domain::{AccountId, DomainId, DomainName};

/// The name of one of the account's domains, provided it is verified for sending: the
/// precondition for creating an inbox on it (SPEC §3.1).
pub fn verified_sending_domain(
    conn: &Connection,
    account_id: AccountId,
    domain_id: DomainId,
) -> Result<DomainName, StoreError> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT domain, sending_status FROM domains WHERE id = ?1 AND account_id = ?2",
            params![domain_id, account_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (name, status) = row.ok_or(StoreError::NotFound(Resource::Domain))?;
    if status != "verified" {
        return Err(StoreError::DomainNotVerified);
    }
    DomainName::parse(&name).map_err(|e| StoreError::Corrupt(format!("domain {name:?}: {e}")))
}
