//! The delivery worker: claims due deliveries from SQLite, POSTs them signed, and records every
//! attempt. [`DeliveryWorker::run_once`] is one unit of work (tests and benchmarks drive it, or
//! [`DeliveryWorker::drain`]); [`DeliveryWorker::run`] is the loop around it, woken at once
//! when a delivery is queued.
//!
//! Deliveries are at-least-once: a claim is a lease, and a delivery whose worker died
//! mid-attempt is attempted again when the lease runs out. Receivers deduplicate on
//! `webhook-id`, which is the same on every attempt.

use std::collections::HashSet;
use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use url::Url;

use super::policy::{NetworkPolicy, PolicyResolver, Refused};
use super::signing::{agentsend_signature, standard_signature};
use crate::domain::DeliveryId;
use crate::state::AppState;
use crate::store::StoreError;
use crate::store::jobs::Lease;
use crate::store::webhooks::{self as store, AttemptRecord, ClaimLimits, Claimed, Disposition};

/// At most this much of a response body is kept in the delivery log.
const RESPONSE_PREFIX: usize = 1024;
/// Longest sleep between passes when nothing is due (a safety net; queued work wakes the
/// worker at once).
const IDLE_POLL: Duration = Duration::from_secs(60);
/// On shutdown, attempts under way get this long to finish before they are cut short and
/// handed back for the next start.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The worker. Cheap to clone; clones share the HTTP client and the delivery slots.
#[derive(Clone)]
pub struct DeliveryWorker {
    state: AppState,
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
    slots: Arc<Semaphore>,
    /// Deliveries claimed by this process and not yet recorded: handed back at shutdown.
    claimed: Arc<Mutex<HashSet<DeliveryId>>>,
}

/// How an attempt ended, before it is turned into a [`Disposition`].
enum Outcome {
    Success,
    Gone,
    Retryable,
    Permanent,
}

struct AttemptResult {
    outcome: Outcome,
    status_code: Option<u16>,
    response: Option<String>,
    error: Option<String>,
}

impl DeliveryWorker {
    /// Builds the HTTP client: no redirects, the configured timeout, and a DNS resolver that
    /// enforces the network policy on every address it returns.
    pub fn new(state: AppState, policy: Arc<NetworkPolicy>) -> Result<Self, reqwest::Error> {
        let config = &state.config.webhooks;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve target names itself, out of the policy's reach.
            .no_proxy()
            .timeout(Duration::from_millis(config.timeout_ms))
            .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
            .build()?;
        let slots = Arc::new(Semaphore::new(config.concurrency));
        Ok(Self {
            state,
            client,
            policy,
            slots,
            claimed: Arc::default(),
        })
    }

    /// One pass: claims every due delivery there is a free slot for, attempts them all
    /// concurrently and waits for them. Returns how many were attempted.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let claimed = self.claim().await?;
        let count = claimed.len();
        let mut attempts = JoinSet::new();
        for (delivery, slot) in claimed {
            attempts.spawn(self.clone().deliver(delivery, slot));
        }
        while attempts.join_next().await.is_some() {}
        Ok(count)
    }

    /// Runs passes until nothing is due now (retries scheduled for later stay queued).
    pub async fn drain(&self) -> Result<usize, StoreError> {
        let mut total = 0;
        loop {
            let n = self.run_once().await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// The loop: claim what is due, start it, then sleep until a delivery is queued, an
    /// attempt finishes, the next retry is due, or shutdown.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let wakers = self.state.store.wakers().clone();
        let mut in_flight: JoinSet<()> = JoinSet::new();
        loop {
            let free = self.slots.available_permits();
            let claimed = match self.claim().await {
                Ok(c) => c,
                Err(e) => {
                    log::error!("claiming webhook deliveries failed: {e}");
                    Vec::new()
                }
            };
            let maybe_more = free > 0 && claimed.len() == free;
            for (delivery, slot) in claimed {
                in_flight.spawn(self.clone().deliver(delivery, slot));
            }
            if maybe_more {
                continue;
            }
            let wait = self.until_next_due().await;
            tokio::select! {
                _ = shutdown.changed() => break,
                () = wakers.webhooks.notified() => {}
                Some(_) = in_flight.join_next() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        self.shut_down(in_flight).await;
    }

    async fn shut_down(&self, mut in_flight: JoinSet<()>) {
        let grace = tokio::time::sleep(SHUTDOWN_GRACE);
        tokio::pin!(grace);
        while !in_flight.is_empty() {
            tokio::select! {
                _ = in_flight.join_next() => {}
                () = &mut grace => break,
            }
        }
        in_flight.abort_all();
        let ids: Vec<DeliveryId> = match self.claimed.lock() {
            Ok(mut claimed) => claimed.drain().collect(),
            Err(_) => return,
        };
        if ids.is_empty() {
            return;
        }
        let now = self.state.now();
        let count = ids.len();
        match self
            .state
            .store
            .write(move |tx| store::release_claims(tx, &ids, now))
            .await
        {
            Ok(()) => {
                log::info!("{count} webhook deliveries cut short by shutdown will be retried")
            }
            Err(e) => {
                log::warn!("handing back webhook deliveries failed ({e}); their leases will expire")
            }
        }
    }

    fn track(&self, id: DeliveryId, claimed: bool) {
        if let Ok(mut set) = self.claimed.lock() {
            if claimed {
                set.insert(id);
            } else {
                set.remove(&id);
            }
        }
    }

    /// How long to sleep before the next retry or lease expiry is due.
    async fn until_next_due(&self) -> Duration {
        let now = self.state.now();
        match self
            .state
            .store
            .read(move |c| store::next_due(c, now))
            .await
        {
            Ok(Some(due)) => {
                let ms = due.as_millis() - now.as_millis();
                // At least 1 ms, so that a due time a hair away is not a hot loop.
                Duration::from_millis(u64::try_from(ms).unwrap_or(0).max(1)).min(IDLE_POLL)
            }
            Ok(None) => IDLE_POLL,
            Err(e) => {
                log::error!("reading the webhook schedule failed: {e}");
                Duration::from_secs(1)
            }
        }
    }

    /// Takes as many free slots as there are and claims up to that many due deliveries.
    async fn claim(&self) -> Result<Vec<(Claimed, OwnedSemaphorePermit)>, StoreError> {
        let mut slots = Vec::new();
        while let Ok(slot) = self.slots.clone().try_acquire_owned() {
            slots.push(slot);
        }
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.state.now();
        let config = &self.state.config.webhooks;
        let limits = ClaimLimits {
            max: slots.len(),
            per_webhook: config.per_webhook_concurrency,
            lease: self.lease(now),
        };
        let claimed = self
            .state
            .store
            .write(move |tx| store::claim_due(tx, now, limits))
            .await?;
        for delivery in &claimed {
            self.track(delivery.id, true);
        }
        // Unused slots go back when the rest of `slots` is dropped.
        Ok(claimed.into_iter().zip(slots).collect())
    }

    /// A lease taken now.
    fn lease(&self, now: crate::domain::Timestamp) -> Lease {
        let length = Duration::from_millis(self.state.config.webhooks.lease_ms);
        Lease::new(&self.state.boot, now, length)
    }

    /// Makes an attempt and records it; while the same webhook has more due deliveries, takes
    /// the next one (claimed in the same transaction as the record) with the same slot.
    async fn deliver(self, first: Claimed, _slot: OwnedSemaphorePermit) {
        let mut delivery = first;
        loop {
            let record = self.attempt_and_judge(&delivery).await;
            let now = self.state.now();
            let lease = self.lease(now);
            let webhook_id = delivery.webhook_id;
            let next = self
                .state
                .store
                .write(move |tx| store::record_and_claim_next(tx, &record, webhook_id, now, &lease))
                .await;
            match next {
                Ok(next) => {
                    self.track(delivery.id, false);
                    match next {
                        Some(next) => {
                            self.track(next.id, true);
                            delivery = next;
                        }
                        None => return,
                    }
                }
                Err(e) => {
                    // The claim's lease runs out and the delivery is attempted again.
                    log::error!("recording webhook delivery {} failed: {e}", delivery.id);
                    return;
                }
            }
        }
    }

    /// Makes one attempt and decides what comes next.
    async fn attempt_and_judge(&self, delivery: &Claimed) -> AttemptRecord {
        let started = Instant::now();
        let result = self.attempt(delivery).await;
        let now = self.state.now();
        let config = &self.state.config.webhooks;
        let disposition = match result.outcome {
            Outcome::Success => Disposition::Succeeded,
            Outcome::Gone => Disposition::Gone,
            Outcome::Permanent => Disposition::Failed,
            Outcome::Retryable if delivery.attempt < config.max_attempts => {
                Disposition::RetryAt(now.plus(backoff(config.retry_base_ms, delivery.attempt)))
            }
            Outcome::Retryable => Disposition::Failed,
        };
        if let Some(error) = &result.error {
            log::info!(
                "webhook {} delivery {} attempt {} failed: {error}",
                delivery.webhook_id,
                delivery.id,
                delivery.attempt
            );
        }
        AttemptRecord {
            delivery_id: delivery.id,
            attempt: delivery.attempt,
            status_code: result.status_code,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            response: result.response,
            error: result.error,
            disposition,
        }
    }

    async fn attempt(&self, d: &Claimed) -> AttemptResult {
        let failure = |outcome, error: String| AttemptResult {
            outcome,
            status_code: None,
            response: None,
            error: Some(error),
        };
        let url = match Url::parse(&d.url) {
            Ok(url) => url,
            Err(e) => return failure(Outcome::Permanent, format!("invalid URL: {e}")),
        };
        // IP-literal hosts never reach the resolver, so they are checked here.
        if let Err(refused) = self.policy.check_url(&url) {
            return failure(Outcome::Permanent, refused.to_string());
        }
        let timestamp = self.state.now().as_secs();
        let id = d.id.to_string();
        let body = d.body.as_bytes();
        let signatures = agentsend_signature(d.secret.expose(), body).and_then(|hex| {
            Ok((
                hex,
                standard_signature(d.secret.expose(), &id, timestamp, body)?,
            ))
        });
        let (hex_signature, standard) = match signatures {
            Ok(s) => s,
            Err(e) => return failure(Outcome::Permanent, e.to_string()),
        };
        let request = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("AgentSend-Webhooks/", env!("CARGO_PKG_VERSION")),
            )
            .header("x-agentsend-event", &d.event)
            .header("x-agentsend-webhook-id", d.webhook_id.to_string())
            .header("x-agentsend-signature", hex_signature)
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", standard)
            .body(d.body.clone());
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                let outcome = if status.is_success() {
                    Outcome::Success
                } else if status == reqwest::StatusCode::GONE {
                    Outcome::Gone
                } else {
                    Outcome::Retryable
                };
                let error = match outcome {
                    Outcome::Success => None,
                    Outcome::Gone => Some("410 Gone: the webhook has been deactivated".to_owned()),
                    _ if status.is_redirection() => Some(format!(
                        "HTTP {} (redirects are not followed)",
                        status.as_u16()
                    )),
                    _ => Some(format!("HTTP {}", status.as_u16())),
                };
                AttemptResult {
                    outcome,
                    status_code: Some(status.as_u16()),
                    response: Some(read_prefix(response).await),
                    error,
                }
            }
            Err(e) if refused_in(&e).is_some() => {
                let refused = refused_in(&e).map(ToString::to_string).unwrap_or_default();
                failure(Outcome::Permanent, refused)
            }
            Err(e) if e.is_timeout() => failure(
                Outcome::Retryable,
                format!(
                    "timed out after {} ms",
                    self.state.config.webhooks.timeout_ms
                ),
            ),
            Err(e) => failure(Outcome::Retryable, describe(e.without_url())),
        }
    }
}

/// Wait before the retry that follows attempt `attempt` (1-based): the base, doubled for each
/// earlier retry, capped at a day.
fn backoff(base_ms: u64, attempt: u32) -> Duration {
    let factor = 1u64
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u64::MAX);
    Duration::from_millis(base_ms.saturating_mul(factor).min(86_400_000))
}

/// The first [`RESPONSE_PREFIX`] bytes of a body, as text; the rest is not read.
async fn read_prefix(mut response: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < RESPONSE_PREFIX {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    buf.truncate(RESPONSE_PREFIX);
    String::from_utf8_lossy(&buf).into_owned()
}

fn refused_in(e: &reqwest::Error) -> Option<&Refused> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(refused) = s.downcast_ref::<Refused>() {
            return Some(refused);
        }
        source = s.source();
    }
    None
}

/// The error and its causes on one line (the caller strips the URL: it may carry
/// credentials).
fn describe(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_is_capped() {
        assert_eq!(backoff(10_000, 1), Duration::from_secs(10));
        assert_eq!(backoff(10_000, 2), Duration::from_secs(20));
        assert_eq!(backoff(10_000, 4), Duration::from_secs(80));
        assert_eq!(backoff(10_000, 60), Duration::from_secs(86_400));
    }
}
