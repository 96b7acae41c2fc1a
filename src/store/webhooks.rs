//! Webhooks, their deliveries and the deliveries' attempts (the events they carry are in the
//! event log, [`super::events`]).

use super::conn::Row;
use crate::domain::Refusal;
use rusqlite::{OptionalExtension, params};

use super::Db;
use super::jobs::Lease;
use super::page::{Counted, Order, kept_total, page};
use super::sql::unsigned;
use super::{Failure, Queue, Tx, count};
use crate::domain::Resource;
use crate::domain::webhook::{
    Attempt, Delivery, DeliveryStatus, EventFilter, EventName, Webhook, WebhookDescription,
    WebhookSecret, WebhookUrl,
};
use crate::domain::{
    AccountId, BootId, DeliveryId, EventId, Page, Paging, Timestamp, ValidationErrors, WebhookId,
};

/// What a webhook is created with.
#[derive(Debug, Clone)]
pub struct NewWebhook {
    /// Target.
    pub url: WebhookUrl,
    /// Description.
    pub description: Option<WebhookDescription>,
    /// Subscribed events.
    pub events: EventFilter,
    /// Signing secret.
    pub secret: WebhookSecret,
}

/// A change to a webhook; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct WebhookChanges {
    /// New target.
    pub url: Option<WebhookUrl>,
    /// `Some(None)` removes the description.
    pub description: Option<Option<WebhookDescription>>,
    /// New subscription.
    pub events: Option<EventFilter>,
    /// Turn deliveries on or off.
    pub is_active: Option<bool>,
    /// A new secret (rotation).
    pub secret: Option<WebhookSecret>,
}

macro_rules! webhook_columns {
    () => {
        "id, account_id, url, description, events, is_active, created_at, updated_at"
    };
}

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    let events: String = row.get("events")?;
    let names: Vec<String> = serde_json::from_str(&events).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(4, rusqlite::types::Type::Text, Box::new(e))
    })?;
    Ok(Webhook {
        id: row.get("id")?,
        account_id: row.get("account_id")?,
        url: row.get("url")?,
        description: row.get("description")?,
        events: EventFilter::from_stored(&names),
        is_active: row.get("is_active")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn events_json(events: &EventFilter) -> String {
    serde_json::Value::from(events.names()).to_string()
}

/// Creates a webhook.
pub fn create_webhook(
    tx: &Tx<'_>,
    account_id: AccountId,
    new: &NewWebhook,
    now: Timestamp,
) -> Result<Webhook, Failure> {
    let id = WebhookId::new();
    tx.sql().execute(
        "INSERT INTO webhooks (id, account_id, url, description, events, secret, created_at,
             updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            id,
            account_id,
            new.url.as_str(),
            new.description.as_ref().map(WebhookDescription::as_str),
            events_json(&new.events),
            new.secret.expose(),
            now
        ],
    )?;
    get_webhook(tx, account_id, id)
}

/// One of the account's webhooks.
pub fn get_webhook(conn: &Db, account_id: AccountId, id: WebhookId) -> Result<Webhook, Failure> {
    conn.sql()
        .prepare_cached(concat!(
            "SELECT ",
            webhook_columns!(),
            " FROM webhooks WHERE id = ?1 AND account_id = ?2"
        ))?
        .query_row(params![id, account_id], webhook_from_row)
        .optional()?
        .ok_or(Failure::Refused(Refusal::NotFound(Resource::Webhook)))
}

/// The account's webhooks, newest first (a short list: its total is counted).
pub fn list_webhooks(
    conn: &Db,
    account_id: AccountId,
    paging: Paging,
) -> Result<Page<Webhook>, Failure> {
    let total: i64 = conn.sql().query_row(
        "SELECT count(*) FROM webhooks WHERE account_id = ?1",
        [account_id],
        |r| r.get(0),
    )?;
    page(
        conn,
        concat!(
            "SELECT ",
            webhook_columns!(),
            ", created_at, rowid FROM webhooks WHERE account_id = ?1"
        ),
        &Order::NEWEST,
        &[&account_id],
        paging,
        count(total),
        webhook_from_row,
    )
}

/// Applies `changes` to one of the account's webhooks.
pub fn update_webhook(
    tx: &Tx<'_>,
    account_id: AccountId,
    id: WebhookId,
    changes: &WebhookChanges,
    now: Timestamp,
) -> Result<Webhook, Failure> {
    let current = get_webhook(tx, account_id, id)?;
    let url = changes
        .url
        .as_ref()
        .map_or(current.url, |u| u.as_str().to_owned());
    let description = match &changes.description {
        Some(d) => d.as_ref().map(|d| d.as_str().to_owned()),
        None => current.description,
    };
    let events = changes.events.as_ref().unwrap_or(&current.events);
    let is_active = changes.is_active.unwrap_or(current.is_active);
    tx.sql().execute(
        "UPDATE webhooks SET url = ?2, description = ?3, events = ?4, is_active = ?5,
             secret = coalesce(?6, secret), updated_at = ?7
         WHERE id = ?1 AND account_id = ?8",
        params![
            id,
            url,
            description,
            events_json(events),
            is_active,
            changes.secret.as_ref().map(WebhookSecret::expose),
            now,
            account_id
        ],
    )?;
    get_webhook(tx, account_id, id)
}

/// Deletes a webhook; its deliveries go with it, so nothing more is sent to it.
pub fn delete_webhook(tx: &Tx<'_>, account_id: AccountId, id: WebhookId) -> Result<(), Failure> {
    let deleted = tx.sql().execute(
        "DELETE FROM webhooks WHERE id = ?1 AND account_id = ?2",
        params![id, account_id],
    )?;
    if deleted == 0 {
        return Err(Failure::Refused(Refusal::NotFound(Resource::Webhook)));
    }
    Ok(())
}

/// Records a `webhook.test` event, which is not part of the event log (no sequence number).
fn insert_test_event(
    tx: &Tx<'_>,
    account_id: AccountId,
    event: EventName,
    body: &str,
    now: Timestamp,
) -> Result<EventId, Failure> {
    let id = EventId::new();
    tx.sql().prepare_cached(
        "INSERT INTO events (id, account_id, event, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![id, account_id, event.as_str(), body, now])?;
    Ok(id)
}

fn insert_delivery(
    tx: &Tx<'_>,
    webhook_id: WebhookId,
    event_id: EventId,
    now: Timestamp,
) -> Result<DeliveryId, Failure> {
    let id = DeliveryId::new();
    tx.sql()
        .prepare_cached(
            "INSERT INTO webhook_deliveries (id, webhook_id, event_id, next_attempt_at, created_at,
             updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4, ?4)",
        )?
        .execute(params![id, webhook_id, event_id, now])?;
    Ok(id)
}

/// Queues a delivery of a logged event (see [`super::events::append`]) to every active
/// webhook of the account that wants it (`events` empty or naming it). Returns the number of
/// deliveries queued; the delivery worker is woken when the transaction commits.
pub fn queue_deliveries(
    tx: &Tx<'_>,
    account_id: AccountId,
    event: EventName,
    event_id: EventId,
    now: Timestamp,
) -> Result<usize, Failure> {
    let targets: Vec<WebhookId> = tx
        .sql()
        .prepare_cached(
            "SELECT id FROM webhooks
             WHERE account_id = ?1 AND is_active = 1
               AND (events = '[]' OR EXISTS (SELECT 1 FROM json_each(webhooks.events)
                                             WHERE json_each.value = ?2))",
        )?
        .query_map(params![account_id, event.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for webhook_id in &targets {
        insert_delivery(tx, *webhook_id, event_id, now)?;
    }
    if !targets.is_empty() {
        tx.wake_after_commit(Queue::Webhooks);
    }
    Ok(targets.len())
}

/// Queues a `webhook.test` delivery to one active webhook and returns it.
pub fn queue_test(
    tx: &Tx<'_>,
    account_id: AccountId,
    webhook_id: WebhookId,
    body: &str,
    now: Timestamp,
) -> Result<Delivery, Failure> {
    let webhook = get_webhook(tx, account_id, webhook_id)?;
    if !webhook.is_active {
        return Err(Failure::Refused(Refusal::Invalid(
            ValidationErrors::single(
                "isActive",
                "the webhook is inactive; activate it before testing it",
            ),
        )));
    }
    let event_id = insert_test_event(tx, account_id, EventName::WebhookTest, body, now)?;
    let delivery_id = insert_delivery(tx, webhook_id, event_id, now)?;
    tx.wake_after_commit(Queue::Webhooks);
    get_delivery(tx, delivery_id)
}

macro_rules! delivery_columns {
    () => {
        "d.id, d.webhook_id, d.event_id, e.event, d.status, d.attempts, d.last_status_code,
         d.last_error, d.last_response, d.next_attempt_at, d.created_at, d.updated_at"
    };
}

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<Delivery> {
    let status: String = row.get("status")?;
    Ok(Delivery {
        id: row.get("id")?,
        webhook_id: row.get("webhook_id")?,
        event_id: row.get("event_id")?,
        event: row.get("event")?,
        status: DeliveryStatus::parse(&status).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                4,
                rusqlite::types::Type::Text,
                format!("unknown delivery status {status:?}").into(),
            )
        })?,
        attempts: unsigned(row, "attempts")?,
        last_status_code: row.get("last_status_code")?,
        last_error: row.get("last_error")?,
        last_response: row.get("last_response")?,
        next_attempt_at: row.get("next_attempt_at")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        attempt_log: Vec::new(),
    })
}

fn attempt_from_row(r: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        attempt: unsigned(r, "attempt")?,
        status_code: r.get("status_code")?,
        duration_ms: unsigned(r, "duration_ms")?,
        response: r.get("response")?,
        error: r.get("error")?,
        created_at: r.get("created_at")?,
    })
}

fn attempt_log(conn: &Db, id: DeliveryId) -> Result<Vec<Attempt>, Failure> {
    let mut stmt = conn.sql().prepare_cached(
        "SELECT attempt, status_code, duration_ms, response, error, created_at
         FROM webhook_attempts WHERE delivery_id = ?1 ORDER BY attempt, id",
    )?;
    let rows = stmt.query_map([id], attempt_from_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn get_delivery(conn: &Db, id: DeliveryId) -> Result<Delivery, Failure> {
    let mut delivery = conn
        .sql()
        .prepare_cached(concat!(
            "SELECT ",
            delivery_columns!(),
            " FROM webhook_deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?1"
        ))?
        .query_row([id], delivery_from_row)?;
    delivery.attempt_log = attempt_log(conn, id)?;
    Ok(delivery)
}

/// A webhook's delivery log, newest first, each delivery with its attempts.
pub fn list_deliveries(
    conn: &Db,
    account_id: AccountId,
    webhook_id: WebhookId,
    paging: Paging,
) -> Result<Page<Delivery>, Failure> {
    get_webhook(conn, account_id, webhook_id)?;
    let total = kept_total(conn, Counted::Deliveries, &webhook_id, &[])?;
    let Page { mut data, next, .. } = page(
        conn,
        concat!(
            "SELECT ",
            delivery_columns!(),
            ", d.created_at, d.rowid FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
             WHERE d.webhook_id = ?1"
        ),
        &Order {
            key: "d.created_at",
            row: "d.rowid",
            descending: true,
        },
        &[&webhook_id],
        paging,
        total,
        delivery_from_row,
    )?;
    // The page's attempts in one query, grouped by delivery.
    let ids: Vec<String> = data.iter().map(|d| d.id.to_string()).collect();
    let ids = serde_json::Value::from(ids).to_string();
    let mut attempts = conn.sql().prepare_cached(
        "SELECT delivery_id, attempt, status_code, duration_ms, response, error, created_at
         FROM webhook_attempts WHERE delivery_id IN (SELECT value FROM json_each(?1))
         ORDER BY attempt, id",
    )?;
    let rows = attempts.query_map([ids], |r| {
        Ok((r.get::<_, DeliveryId>(0)?, attempt_from_row(r)?))
    })?;
    for row in rows {
        let (delivery_id, attempt) = row?;
        if let Some(d) = data.iter_mut().find(|d| d.id == delivery_id) {
            d.attempt_log.push(attempt);
        }
    }
    Ok(Page { data, total, next })
}

/// A delivery claimed by a worker: everything needed to make the attempt.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery (and `webhook-id`).
    pub id: DeliveryId,
    /// This attempt's number, 1-based.
    pub attempt: u32,
    /// The webhook.
    pub webhook_id: WebhookId,
    /// Its target.
    pub url: String,
    /// Its secret.
    pub secret: WebhookSecret,
    /// The event name.
    pub event: String,
    /// The exact body.
    pub body: String,
}

/// How many due deliveries to claim and for how long.
#[derive(Debug, Clone)]
pub struct ClaimLimits {
    /// At most this many.
    pub max: usize,
    /// At most this many in flight per webhook, so one slow endpoint cannot take every slot.
    pub per_webhook: usize,
    /// The lease: a claim not finished by then is taken up again (its worker died).
    pub lease: Lease,
}

/// Claims due deliveries: pending ones whose time has come and claimed ones whose lease ran
/// out. Deliveries of inactive webhooks are failed instead of claimed.
pub fn claim_due(
    tx: &Tx<'_>,
    now: Timestamp,
    limits: ClaimLimits,
) -> Result<Vec<Claimed>, Failure> {
    tx.sql()
        .prepare_cached(
            "UPDATE webhook_deliveries
         SET status = 'failed', last_error = 'the webhook is inactive', next_attempt_at = NULL,
             lease_until = NULL, updated_at = ?1
         WHERE status IN ('pending', 'delivering')
           AND (next_attempt_at <= ?1 OR lease_until <= ?1)
           AND webhook_id IN (SELECT id FROM webhooks WHERE is_active = 0)",
        )?
        .execute([now])?;
    let ids: Vec<DeliveryId> = tx
        .sql()
        .prepare_cached(
            "WITH in_flight AS (
                 SELECT webhook_id, count(*) AS n FROM webhook_deliveries
                 WHERE status = 'delivering' AND lease_until > ?1 GROUP BY webhook_id),
             due AS (
                 SELECT id, webhook_id, coalesce(next_attempt_at, lease_until) AS due_at,
                        row_number() OVER (PARTITION BY webhook_id
                                           ORDER BY coalesce(next_attempt_at, lease_until), rowid) AS rank
                 FROM webhook_deliveries
                 WHERE (status = 'pending' AND next_attempt_at <= ?1)
                    OR (status = 'delivering' AND lease_until <= ?1))
             SELECT due.id FROM due LEFT JOIN in_flight USING (webhook_id)
             WHERE due.rank + coalesce(in_flight.n, 0) <= ?2
             ORDER BY due.due_at LIMIT ?3",
        )?
        .query_map(
            params![now, limits.per_webhook as i64, limits.max as i64],
            |r| r.get(0),
        )?
        .collect::<Result<_, _>>()?;
    ids.into_iter()
        .map(|id| claim_one(tx, id, now, &limits.lease))
        .collect()
}

/// Claims one delivery by id: marks it under way with a lease and counts the attempt.
fn claim_one(
    tx: &Tx<'_>,
    id: DeliveryId,
    now: Timestamp,
    lease: &Lease,
) -> Result<Claimed, Failure> {
    let (attempt, webhook_id, event_id) = tx
        .sql()
        .prepare_cached(
            "UPDATE webhook_deliveries
             SET status = 'delivering', attempts = attempts + 1, lease_until = ?2,
                 claimed_by = ?4, next_attempt_at = NULL, updated_at = ?3
             WHERE id = ?1
             RETURNING attempts, webhook_id, event_id",
        )?
        .query_row(params![id, lease.until, now, lease.holder.as_str()], |r| {
            Ok((
                unsigned::<u32>(r, "attempts")?,
                r.get::<_, WebhookId>(1)?,
                r.get::<_, EventId>(2)?,
            ))
        })?;
    let (url, secret, event, body) = tx
        .sql()
        .prepare_cached(
            "SELECT w.url, w.secret, e.event, e.body FROM webhooks w, events e
             WHERE w.id = ?1 AND e.id = ?2",
        )?
        .query_row(params![webhook_id, event_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    Ok(Claimed {
        id,
        attempt,
        webhook_id,
        url,
        secret: WebhookSecret::from_stored(secret),
        event,
        body,
    })
}

/// Records a finished attempt and, in the same transaction, claims the next due delivery of
/// the same (still active) webhook for the slot the attempt frees. Found through the
/// per-webhook index, so a long backlog does not make each step slower; deliveries of other
/// webhooks are claimed by [`claim_due`].
pub fn record_and_claim_next(
    tx: &Tx<'_>,
    record: &AttemptRecord,
    webhook_id: WebhookId,
    now: Timestamp,
    lease: &Lease,
) -> Result<Option<Claimed>, Failure> {
    record_attempt(tx, record, now)?;
    let next: Option<DeliveryId> = tx
        .sql()
        .prepare_cached(
            "SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.webhook_id = ?1 AND d.status = 'pending' AND d.next_attempt_at <= ?2
               AND w.is_active = 1
             ORDER BY d.next_attempt_at LIMIT 1",
        )?
        .query_row(params![webhook_id, now], |r| r.get(0))
        .optional()?;
    next.map(|id| claim_one(tx, id, now, lease)).transpose()
}

/// When something not yet due becomes due: the earliest future retry or lease expiry.
/// Deliveries that are due already but were not claimed are waiting for a slot (all slots
/// busy, or their webhook at its in-flight cap); a finishing attempt frees that slot and wakes
/// the worker, so they are left out here, or the worker would spin on them.
pub fn next_due(conn: &Db, now: Timestamp) -> Result<Option<Timestamp>, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT min(t) FROM (
                 SELECT min(next_attempt_at) AS t FROM webhook_deliveries
                 WHERE status = 'pending' AND next_attempt_at > ?1
                 UNION ALL
                 SELECT min(lease_until) FROM webhook_deliveries
                 WHERE status = 'delivering' AND lease_until > ?1) AS upcoming",
        )?
        .query_row([now], |r| r.get(0))?)
}

/// Whether a delivery is due now (pending, or claimed with its lease run out): a read that
/// spares an empty claim its write transaction.
pub fn any_due(conn: &Db, now: Timestamp) -> Result<bool, Failure> {
    Ok(conn
        .sql()
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM webhook_deliveries
                            WHERE status = 'pending' AND next_attempt_at <= ?1)
                 OR EXISTS (SELECT 1 FROM webhook_deliveries
                            WHERE status = 'delivering' AND lease_until <= ?1)",
        )?
        .query_row([now], |r| r.get(0))?)
}

/// Deliveries due now or under way (for tests and benchmarks that wait for quiet).
pub fn unsettled(conn: &Db, now: Timestamp) -> Result<u64, Failure> {
    let n: i64 = conn.sql().query_row(
        "SELECT count(*) FROM webhook_deliveries
         WHERE (status = 'pending' AND next_attempt_at <= ?1) OR status = 'delivering'",
        [now],
        |r| r.get(0),
    )?;
    Ok(count(n))
}

/// What became of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// 2xx: done.
    Succeeded,
    /// Try again at this time.
    RetryAt(Timestamp),
    /// No more attempts (limit reached, or refused).
    Failed,
    /// 410 Gone: done, and the webhook is deactivated.
    Gone,
}

/// One finished attempt.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    /// The delivery.
    pub delivery_id: DeliveryId,
    /// Its number.
    pub attempt: u32,
    /// The receiver's status, if it answered.
    pub status_code: Option<u16>,
    /// Duration.
    pub duration_ms: u64,
    /// First 1 KB of the response body.
    pub response: Option<String>,
    /// The failure, if any.
    pub error: Option<String>,
    /// What happens next.
    pub disposition: Disposition,
}

/// Logs an attempt and moves its delivery on. A delivery deleted meanwhile (its webhook was
/// deleted) is left alone.
pub fn record_attempt(tx: &Tx<'_>, r: &AttemptRecord, now: Timestamp) -> Result<(), Failure> {
    let webhook_id: Option<WebhookId> = tx
        .sql()
        .prepare_cached("SELECT webhook_id FROM webhook_deliveries WHERE id = ?1")?
        .query_row([r.delivery_id], |row| row.get(0))
        .optional()?;
    let Some(webhook_id) = webhook_id else {
        return Ok(());
    };
    tx.sql().prepare_cached(
        "INSERT INTO webhook_attempts (delivery_id, attempt, status_code, duration_ms, response,
             error, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        r.delivery_id,
        r.attempt,
        r.status_code,
        i64::try_from(r.duration_ms).unwrap_or(i64::MAX),
        r.response,
        r.error,
        now
    ])?;
    // Only the claim this attempt belongs to may move the delivery on: if the lease ran out
    // and another attempt has claimed it since, that attempt's result will.
    let (status, next_attempt_at) = match r.disposition {
        Disposition::Succeeded => ("succeeded", None),
        Disposition::RetryAt(at) => ("pending", Some(at)),
        // A 410 is an answer, not a success: the delivery failed and the webhook is switched off.
        Disposition::Failed | Disposition::Gone => ("failed", None),
    };
    tx.sql()
        .prepare_cached(
            "UPDATE webhook_deliveries
         SET status = ?2, next_attempt_at = ?3, lease_until = NULL, last_status_code = ?4,
             last_error = ?5, last_response = ?6, updated_at = ?7
         WHERE id = ?1 AND status = 'delivering' AND attempts = ?8",
        )?
        .execute(params![
            r.delivery_id,
            status,
            next_attempt_at,
            r.status_code,
            r.error,
            r.response,
            now,
            r.attempt
        ])?;
    if r.disposition == Disposition::Gone {
        tx.sql()
            .prepare_cached("UPDATE webhooks SET is_active = 0, updated_at = ?2 WHERE id = ?1")?
            .execute(params![webhook_id, now])?;
    }
    Ok(())
}

/// Makes deliveries claimed by other runs of the server (which died holding them) due at
/// once. Returns how many.
pub fn take_over_orphans(tx: &Tx<'_>, me: &BootId, now: Timestamp) -> Result<usize, Failure> {
    Ok(tx.sql().execute(
        "UPDATE webhook_deliveries SET lease_until = ?2, updated_at = ?2
         WHERE status = 'delivering' AND claimed_by IS DISTINCT FROM ?1 AND lease_until > ?2",
        params![me.as_str(), now],
    )?)
}

/// Hands claimed deliveries back (their attempts were cut short by a shutdown), due at once.
pub fn release_claims(tx: &Tx<'_>, ids: &[DeliveryId], now: Timestamp) -> Result<(), Failure> {
    let mut stmt = tx.sql().prepare_cached(
        "UPDATE webhook_deliveries
         SET status = 'pending', attempts = max(attempts - 1, 0), next_attempt_at = ?2,
             lease_until = NULL, updated_at = ?2
         WHERE id = ?1 AND status = 'delivering'",
    )?;
    for id in ids {
        stmt.execute(params![id, now])?;
    }
    Ok(())
}

/// Deliveries deleted per janitor pass at most.
const PURGE_BATCH: i64 = 5000;

/// Drops finished deliveries older than `before` (up to [`PURGE_BATCH`]), and then the events
/// that only they kept (logged events have their own retention, [`super::events::purge`]).
pub fn purge_finished(tx: &Tx<'_>, before: Timestamp) -> Result<usize, Failure> {
    // In batches, so that a backlog (retention shortened) never holds the writer long.
    let deleted = tx.sql().execute(
        "DELETE FROM webhook_deliveries WHERE rowid IN (
             SELECT rowid FROM webhook_deliveries
             WHERE status IN ('succeeded', 'failed') AND updated_at < ?1 LIMIT ?2)",
        params![before, PURGE_BATCH],
    )?;
    super::events::purge_delivered(tx, before)?;
    Ok(deleted)
}
