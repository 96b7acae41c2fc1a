//! Stored responses for `Idempotency-Key`.

use crate::domain::Refusal;
use rusqlite::{OptionalExtension, params};

use super::{Failure, Tx, codec};
use crate::domain::{BootId, Timestamp};

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

/// A key as one request holds it: its scope (the account), the client's key, and the
/// reservation (a token unique to that request). Only the holder may store a response or
/// release the key, so a request whose reservation was taken over can never store its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The account id (keys are scoped to accounts).
    pub scope: String,
    /// The client's key.
    pub key: String,
    /// The reservation: `<boot id>/<random>`.
    pub holder: String,
}

/// Decides a request's fate and, for [`Reservation::Proceed`], marks the key in flight for
/// `key.holder`, all in one write transaction so that two concurrent identical requests
/// cannot both proceed. An in-flight mark older than `stale_before` belongs to a request that
/// hangs and is taken over (the hung request then cannot complete: its change rolls back).
pub fn reserve(
    tx: &Tx<'_>,
    key: &Hold,
    request_hash: &str,
    now: Timestamp,
    expires_at: Timestamp,
    stale_before: Timestamp,
) -> Result<Reservation, Failure> {
    type Row = (
        String,
        String,
        Option<u16>,
        Option<String>,
        Option<Vec<u8>>,
        Timestamp,
        Timestamp,
        i64,
    );
    let existing: Option<Row> = tx
        .sql()
        .query_row(
            "SELECT request_hash, state, response_status, response_headers, response_body,
                    created_at, expires_at, response_codec
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
                    r.get(7)?,
                ))
            },
        )
        .optional()?;
    if let Some((hash, state, status, headers, body, created_at, expires, codec)) = existing {
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
                    .map_err(|e| Failure::corrupt(format!("idempotency headers: {e}")))?,
                None => Vec::new(),
            };
            return Ok(Reservation::Replay(StoredResponse {
                status: status.unwrap_or(200),
                headers,
                body: codec::decompress(codec, body.unwrap_or_default())?,
            }));
        }
    }
    tx.sql()
        .prepare_cached(
            "INSERT INTO idempotency_keys
                 (scope, key, request_hash, state, created_at, expires_at, holder)
             VALUES (?1, ?2, ?3, 'in_flight', ?4, ?5, ?6)
             ON CONFLICT (scope, key) DO UPDATE SET
                 request_hash = excluded.request_hash, state = 'in_flight',
                 response_status = NULL, response_headers = NULL, response_body = NULL,
                 response_codec = 0, created_at = excluded.created_at,
                 expires_at = excluded.expires_at, holder = excluded.holder",
        )?
        .execute(params![
            key.scope,
            key.key,
            request_hash,
            now,
            expires_at,
            key.holder
        ])?;
    Ok(Reservation::Proceed)
}

/// Stores the response of the request holding `key`. Called in the transaction of the
/// request's change, this makes the change and its stored response one: after a crash a
/// retry finds both or neither. Refused ([`Refusal::IdempotencyKeyLost`], and so a
/// rolled-back change) when the reservation is no longer this request's.
pub fn complete(tx: &Tx<'_>, key: &Hold, response: &StoredResponse) -> Result<(), Failure> {
    let headers = serde_json::to_string(&response.headers)
        .map_err(|e| Failure::corrupt(format!("idempotency headers: {e}")))?;
    // A replay needs the body's bytes back, not its size on disk: JSON shrinks several times.
    // (The holder is only for a request in flight: a completed record drops it.)
    let compressed = codec::compress(&[&response.body]);
    let (codec, body) = match &compressed {
        Some(bytes) => (codec::ZSTD, bytes.as_slice()),
        None => (codec::PLAIN, response.body.as_slice()),
    };
    let stored = tx
        .sql()
        .prepare_cached(
            "UPDATE idempotency_keys
             SET state = 'completed', response_status = ?4, response_headers = ?5,
                 response_body = ?6, response_codec = ?7, holder = NULL
             WHERE scope = ?1 AND key = ?2 AND holder = ?3 AND state = 'in_flight'",
        )?
        .execute(params![
            key.scope,
            key.key,
            key.holder,
            response.status,
            headers,
            body,
            codec
        ])?;
    if stored == 0 {
        return Err(Failure::Refused(Refusal::IdempotencyKeyLost));
    }
    Ok(())
}

/// Forgets the reservation of a request that failed with a 5xx or never finished, so that
/// the client can retry.
pub fn release(tx: &Tx<'_>, key: &Hold) -> Result<(), Failure> {
    tx.sql()
        .prepare_cached(
            "DELETE FROM idempotency_keys
         WHERE scope = ?1 AND key = ?2 AND holder = ?3 AND state = 'in_flight'",
        )?
        .execute(params![key.scope, key.key, key.holder])?;
    Ok(())
}

/// Forgets the reservations of requests of other runs of the server, which died with them.
/// A handler's change commits together with its stored response (`Idempotency::keep`), so
/// theirs never did. (Reservations from before holders were recorded are left to expire as
/// abandoned: their changes may have committed.) Returns how many.
pub fn release_orphans(tx: &Tx<'_>, me: &BootId) -> Result<usize, Failure> {
    Ok(tx.sql().execute(
        "DELETE FROM idempotency_keys
         WHERE state = 'in_flight' AND holder IS NOT NULL
           AND substr(holder, 1, length(?1)) != ?1",
        [format!("{me}/")],
    )?)
}

/// Drops keys whose window has passed.
pub fn purge(tx: &Tx<'_>, now: Timestamp) -> Result<usize, Failure> {
    Ok(tx
        .sql()
        .execute("DELETE FROM idempotency_keys WHERE expires_at <= ?1", [now])?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn hold(holder: &str) -> Hold {
        Hold {
            scope: "account".to_owned(),
            key: "k".to_owned(),
            holder: holder.to_owned(),
        }
    }

    #[test]
    fn only_the_holder_stores_and_a_dead_runs_reservations_go_at_start() {
        let (_dir, store) = crate::store::temporary();
        let now = Timestamp::from_millis(1_000_000);
        let later = now.plus(Duration::from_secs(400));
        let response = StoredResponse {
            status: 201,
            headers: Vec::new(),
            body: b"{}".to_vec(),
        };
        let outcome = store
            .write_blocking(move |tx| {
                let day = Duration::from_secs(86_400);
                let first = reserve(tx, &hold("old/1"), "h", now, now.plus(day), now.minus(day))?;
                // Still running 400 s later: a retry takes the key over.
                let stale = later.minus(Duration::from_secs(300));
                let retry = reserve(tx, &hold("old/2"), "h", later, later.plus(day), stale)?;
                let hung = complete(tx, &hold("old/1"), &response);
                Ok((first, retry, hung))
            })
            .unwrap();
        assert_eq!(outcome.0, Reservation::Proceed);
        assert_eq!(outcome.1, Reservation::Proceed);
        assert!(matches!(
            outcome.2,
            Err(Failure::Refused(Refusal::IdempotencyKeyLost))
        ));

        let me = BootId::new();
        let released = store
            .write_blocking(move |tx| release_orphans(tx, &me))
            .unwrap();
        assert_eq!(released, 1, "old/2 belonged to a run that is gone");
    }
}
