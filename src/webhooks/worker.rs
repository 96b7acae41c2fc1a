//! Webhook deliveries, one kind of work for the [`crate::runner`]: claims due deliveries from
//! the store, POSTs them signed, and records every attempt. [`DeliveryWorker::run_once`] is
//! one unit of work (tests and benchmarks drive it, or [`DeliveryWorker::drain`]);
//! [`DeliveryWorker::run`] is the loop around it, woken at once when a delivery is queued.
//!
//! Deliveries are at-least-once: a claim is a lease, and a delivery whose worker died
//! mid-attempt is attempted again when the lease runs out. Receivers deduplicate on
//! `webhook-id`, which is the same on every attempt.

use std::error::Error as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use url::Url;

use super::policy::{NetworkPolicy, PolicyResolver, Refused};
use super::signing::{agentsend_signature, standard_signature};
use crate::config::WebhooksConfig;
use crate::domain::{DeliveryId, Timestamp};
use crate::metrics::Metrics;
use crate::runner::{Leases, Runner, Work};
use crate::store::jobs::Lease;
use crate::store::webhooks::{self as store, AttemptRecord, ClaimLimits, Claimed, Disposition};
use crate::store::{Failure, Queue, Store};

/// At most this much of a response body is kept in the delivery log.
const RESPONSE_PREFIX: usize = 1024;
/// On shutdown, attempts under way get this long to finish before they are cut short and
/// handed back for the next start.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The delivery worker: the runner of [`Deliveries`].
pub type DeliveryWorker = Runner<Deliveries>;

/// Webhook deliveries as a kind of background work: claimed due (at most
/// `per_webhook_concurrency` under way per webhook), POSTed signed, every attempt recorded.
pub struct Deliveries {
    store: Store,
    config: WebhooksConfig,
    metrics: Metrics,
    client: reqwest::Client,
    policy: Arc<NetworkPolicy>,
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

impl Work for Deliveries {
    type Item = Claimed;
    type Key = DeliveryId;
    const NAME: &'static str = "webhook deliveries";
    const QUEUE: Queue = Queue::Webhooks;

    fn key(item: &Claimed) -> DeliveryId {
        item.id
    }

    async fn claim(
        &self,
        now: Timestamp,
        max: usize,
        lease: Lease,
    ) -> Result<Vec<Claimed>, Failure> {
        let limits = ClaimLimits {
            max,
            per_webhook: self.config.per_webhook_concurrency,
            lease,
        };
        self.store
            .write(move |tx| store::claim_due(tx, now, limits))
            .await
    }

    /// Makes an attempt and records it; while the same webhook has more due deliveries, claims
    /// the next one in the same transaction as the record.
    async fn process(
        &self,
        delivery: Claimed,
        leases: &Leases,
    ) -> Result<Option<Claimed>, Failure> {
        let record = self.attempt_and_judge(&delivery, leases).await;
        let now = leases.now();
        let lease = leases.at(now);
        let webhook_id = delivery.webhook_id;
        self.store
            .write(move |tx| store::record_and_claim_next(tx, &record, webhook_id, now, &lease))
            .await
    }

    async fn any_due(&self, now: Timestamp) -> Result<bool, Failure> {
        self.store.read(move |c| store::any_due(c, now)).await
    }

    async fn next_due(&self, now: Timestamp) -> Result<Option<Timestamp>, Failure> {
        self.store.read(move |c| store::next_due(c, now)).await
    }

    async fn release(&self, ids: Vec<DeliveryId>, now: Timestamp) -> Result<(), Failure> {
        self.store
            .write(move |tx| store::release_claims(tx, &ids, now))
            .await
    }
}

impl Deliveries {
    /// Builds the HTTP client: no redirects, the configured timeout, and a DNS resolver that
    /// enforces the network policy on every address it returns.
    pub fn new(
        store: Store,
        config: WebhooksConfig,
        policy: Arc<NetworkPolicy>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            // A proxy would resolve target names itself, out of the policy's reach.
            .no_proxy()
            .timeout(Duration::from_millis(config.timeout_ms))
            .dns_resolver(Arc::new(PolicyResolver::new(policy.clone())))
            .build()?;
        Ok(Self {
            metrics: Metrics::disabled(),
            store,
            config,
            client,
            policy,
        })
    }

    /// Counts the outcomes of attempts in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// Makes one attempt and decides what comes next.
    async fn attempt_and_judge(&self, delivery: &Claimed, leases: &Leases) -> AttemptRecord {
        let started = Instant::now();
        let result = self.attempt(delivery, leases.now()).await;
        let now = leases.now();
        let config = &self.config;
        let disposition = match result.outcome {
            Outcome::Success => Disposition::Succeeded,
            Outcome::Gone => Disposition::Gone,
            Outcome::Permanent => Disposition::Failed,
            Outcome::Retryable if delivery.attempt < config.max_attempts => {
                Disposition::RetryAt(now.plus(backoff(config.retry_base_ms, delivery.attempt)))
            }
            Outcome::Retryable => Disposition::Failed,
        };
        self.metrics.webhook_delivery(match disposition {
            Disposition::Succeeded => "succeeded",
            Disposition::Gone => "gone",
            Disposition::Failed => "failed",
            Disposition::RetryAt(_) => "retry",
        });
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

    async fn attempt(&self, d: &Claimed, now: Timestamp) -> AttemptResult {
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
        let timestamp = now.as_secs();
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
                format!("timed out after {} ms", self.config.timeout_ms),
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
