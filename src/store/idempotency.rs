//! Stored responses for `Idempotency-Key` (SPEC §1.6).

use rusqlite::{OptionalExtension, params};

use super::{StoreError, Tx};
use crate::domain::Timestamp;

/// A response as it is replayed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// The headers a client needs (content type, location).
    pub headers: Vec<(String, String)>,
    /// The exact body bytes.
    pub body: Vec<u8>,
}

/// What to do with a request carrying a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// First use of the key (or the old use expired or was abandoned): run the request; the
    /// key is now marked in flight.
    Proceed,
    /// Replay this response.
    Replay(StoredResponse),
    /// The key was used for a different request.
    Mismatch,
    /// The first request with the key is still running.
    InFlight,
}

/// Where a key lives: its scope (the account) and the key itself.
#[derive(Debug, Clone, Copy)]
pub struct KeyRef<'a> {
    /// The account id (keys are scoped to accounts).
    pub scope: &'a str,
    /// The client's key.
    pub key: &'a str,
}

/// Decides a request's fate and, for [`Reservation::Proceed`], marks the key in flight, all in
/// one write transaction so that two concurrent identical requests cannot both proceed.
/// An in-flight mark older than `stale_before` belongs to a request that died (crash, killed
/// task) and is taken over.
pub fn reserve(
    tx: &Tx<'_>,
    key: KeyRef<'_>,
    request_hash: &str,
    now: Timestamp,
    expires_at: Timestamp,
    stale_before: Timestamp,
) -> Result<Reservation, StoreError> {
    type Row = (
        String,
        String,
        Option<u16>,
        Option<String>,
        Option<Vec<u8>>,
        Timestamp,
        Timestamp,
    );
    let existing: Option<Row> = tx
        .query_row(
            "SELECT request_hash, state, response_status, response_headers, response_body,
                    created_at, expires_at
             FROM idempotency_keys WHERE scope = ?1 AND key = ?2",
            params![key.scope, key.key],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    if let Some((hash, state, status, headers, body, created_at, expires)) = existing {
        let live = expires > now;
        let abandoned = state == "in_flight" && created_at < stale_before;
        if live && !abandoned {
            if hash != request_hash {
                return Ok(Reservation::Mismatch);
            }
            if state == "in_flight" {
                return Ok(Reservation::InFlight);
            }
            let headers: Vec<(String, String)> = match headers {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("idempotency headers: {e}")))?,
                None => Vec::new(),
            };
            return Ok(Reservation::Replay(StoredResponse {
                status: status.unwrap_or(200),
                headers,
                body: body.unwrap_or_default(),
            }));
        }
    }
    tx.execute(
        "INSERT OR REPLACE INTO idempotency_keys
             (scope, key, request_hash, state, created_at, expires_at)
         VALUES (?1, ?2, ?3, 'in_flight', ?4, ?5)",
        params![key.scope, key.key, request_hash, now, expires_at],
    )?;
    Ok(Reservation::Proceed)
}

/// Stores the response of a request that reserved `key`.
pub fn complete(tx: &Tx<'_>, key: KeyRef<'_>, response: &StoredResponse) -> Result<(), StoreError> {
    let headers = serde_json::to_string(&response.headers)
        .map_err(|e| StoreError::Corrupt(format!("idempotency headers: {e}")))?;
    tx.execute(
        "UPDATE idempotency_keys
         SET state = 'completed', response_status = ?3, response_headers = ?4, response_body = ?5
         WHERE scope = ?1 AND key = ?2 AND state = 'in_flight'",
        params![key.scope, key.key, response.status, headers, response.body],
    )?;
    Ok(())
}

/// Forgets a reservation whose request failed with a 5xx or never finished, so that the
/// client can retry.
pub fn release(tx: &Tx<'_>, key: KeyRef<'_>) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM idempotency_keys WHERE scope = ?1 AND key = ?2 AND state = 'in_flight'",
        params![key.scope, key.key],
    )?;
    Ok(())
}

/// Drops keys whose window has passed.
pub fn purge(tx: &Tx<'_>, now: Timestamp) -> Result<usize, StoreError> {
    Ok(tx.execute("DELETE FROM idempotency_keys WHERE expires_at <= ?1", [now])?)
}
