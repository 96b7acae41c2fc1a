//! Sending, one kind of work for the [`crate::runner`]: takes queued sends from the store
//! (claimed with a lease, so a send whose worker died is taken up again), delivers each
//! recipient (an inbox here through [`crate::mail::ingest`], others by the configured
//! transport), and records the outcome with the message's status, counters and events.
//! [`SendWorker::run_once`] is one unit of work; [`SendWorker::run`] is the loop, woken as soon
//! as a send is queued.

pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use self::transport::{Outcome, Transport};
use crate::config::OutboundConfig;
use crate::dns::Dns;
use crate::domain::message::MessageStatus;
use crate::domain::outbound::{RecipientStatus, summarize};
use crate::domain::sandbox::SandboxPolicy;
use crate::domain::{JobId, MessageId, Timestamp};
use crate::events;
use crate::mail::MailError;
use crate::mail::ingest::{self, Envelope, Ingest, Origin, Prepared, Recipient};
use crate::metrics::Metrics;
use crate::runner::{JobTable, Leases, Runner, Work};
use crate::store::jobs::Lease;
use crate::store::outbound::{self as store, SEND_JOB, SendUnit};
use crate::store::{Failure, Queue, Store, Tx, jobs};
use crate::webhooks::Event;
use crate::webhooks::events::{MessageBounced, MessageDelivered, MessageSent};

/// On shutdown, sends under way get this long before they are handed back.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The send worker: the runner of [`Sends`].
pub type SendWorker = Runner<Sends>;

/// Queued sends as a kind of background work.
pub struct Sends {
    store: Store,
    jobs: JobTable,
    config: OutboundConfig,
    transport: Transport,
    /// Local delivery: the same path as mail received by SMTP.
    ingest: Ingest,
    /// This server's name, in the `Received` header of local copies.
    hostname: String,
    /// What sandbox accounts may do (send outside this server or not).
    sandbox: Arc<SandboxPolicy>,
    metrics: Metrics,
}

impl Work for Sends {
    type Item = jobs::Job;
    type Key = JobId;
    const NAME: &'static str = "sends";
    const QUEUE: Queue = Queue::Sends;

    fn key(job: &jobs::Job) -> JobId {
        job.id
    }

    async fn claim(
        &self,
        now: Timestamp,
        max: usize,
        lease: Lease,
    ) -> Result<Vec<jobs::Job>, Failure> {
        self.store
            .write(move |tx| store::claim_sends(tx, now, max, &lease))
            .await
    }

    async fn process(&self, job: jobs::Job, leases: &Leases) -> Result<Option<jobs::Job>, Failure> {
        self.attempt(job, leases).await
    }

    async fn any_due(&self, now: Timestamp) -> Result<bool, Failure> {
        self.jobs.any_due(now).await
    }

    async fn next_due(&self, now: Timestamp) -> Result<Option<Timestamp>, Failure> {
        self.jobs.next_due(now).await
    }

    async fn release(&self, ids: Vec<JobId>, now: Timestamp) -> Result<(), Failure> {
        self.jobs.release(ids, now).await
    }
}

impl Sends {
    /// Sends through the transport `config` describes (resolving with `dns`); local
    /// recipients get their copies through `ingest`, received from `hostname`. Sandbox accounts
    /// send outside this server only if `sandbox` allows it.
    pub fn new(
        store: Store,
        config: OutboundConfig,
        dns: &Dns,
        ingest: Ingest,
        hostname: String,
        sandbox: Arc<SandboxPolicy>,
    ) -> anyhow::Result<Self> {
        let transport = Transport::new(&config, dns)?;
        Ok(Self {
            jobs: JobTable::new(store.clone(), SEND_JOB),
            store,
            config,
            transport,
            ingest,
            hostname,
            sandbox,
            metrics: Metrics::disabled(),
        })
    }

    /// Counts the outcomes of sends in `metrics`.
    pub fn with_metrics(mut self, metrics: Metrics) -> Self {
        self.metrics = metrics;
        self
    }

    /// One attempt at a claimed send. Local recipients get their copies in the transaction
    /// that records the attempt, so a copy and its recipient's `delivered` commit together
    /// (exactly once, whatever crashes). Remote recipients are at least once: each hand-off is
    /// recorded as soon as its SMTP transaction ends, so a crash repeats one transaction at
    /// most, never a whole message.
    async fn attempt(&self, job: jobs::Job, leases: &Leases) -> Result<Option<jobs::Job>, Failure> {
        let message_id: MessageId = serde_json::from_str::<serde_json::Value>(&job.payload)
            .ok()
            .and_then(|v| v["messageId"].as_str().and_then(|s| s.parse().ok()))
            .ok_or_else(|| Failure::corrupt(format!("send job {}: bad payload", job.id)))?;
        let unit = match self
            .store
            .read(move |c| store::load_send(c, message_id))
            .await
        {
            Ok(unit) => unit,
            // Deleted while it was being read (each statement of a read sees the latest
            // commit): as if deleted before.
            Err(_)
                if !self
                    .store
                    .read(move |c| store::message_exists(c, message_id))
                    .await? =>
            {
                None
            }
            Err(e) => return Err(e),
        };
        let (local, outcomes) = match &unit {
            Some(unit) => self.deliver(unit, leases).await,
            None => (None, Vec::new()),
        };
        let now = leases.now();
        let schedule = self.config.retry_schedule_ms.clone();
        let lease = leases.at(now);
        let next = self
            .store
            .write(move |tx| {
                // A worker that hung past its lease has lost the job to another attempt, whose
                // record counts: nothing of this one is kept (no second local copy).
                jobs::check_held(tx, &job, &lease.holder)?;
                let mut outcomes = outcomes;
                match &unit {
                    // Deleted after it was read: nothing to record.
                    Some(_) if !store::message_exists(tx, message_id)? => {
                        jobs::complete(tx, job.id, now)?;
                    }
                    Some(unit) => {
                        if let Some(local) = local {
                            outcomes.extend(deliver_locally(tx, local, now)?);
                        }
                        record(tx, unit, &job, &outcomes, &schedule, now)?;
                    }
                    // Deleted meanwhile: nothing to send.
                    None => jobs::complete(tx, job.id, now)?,
                }
                let next = store::claim_sends(tx, now, 1, &lease)?.pop();
                Ok((next, outcomes))
            })
            .await?;
        let (next, outcomes) = next;
        for (_, outcome) in &outcomes {
            self.metrics.send(outcome.label());
        }
        Ok(next)
    }

    /// Prepares the local copies (stored later, with the attempt's record) and hands the
    /// message to the transport for everyone else, batch by batch.
    async fn deliver(
        &self,
        unit: &SendUnit,
        leases: &Leases,
    ) -> (Option<Local>, Vec<(String, Outcome)>) {
        let mut local = Vec::new();
        let mut remote = Vec::new();
        for (address, inbox) in &unit.pending {
            match inbox {
                Some((inbox_id, account_id)) => local.push(Recipient {
                    address: address.clone(),
                    inbox_id: *inbox_id,
                    account_id: *account_id,
                    report_for: None,
                }),
                None => remote.push(address.clone()),
            }
        }
        let local = if local.is_empty() {
            None
        } else {
            Some(self.prepare_local(unit, local).await)
        };
        if remote.is_empty() {
            return (local, Vec::new());
        }
        // Accepted while the address was an inbox here, which it no longer is.
        if self.sandbox.limits_recipients(unit.plan) {
            let refusal = "550 5.7.1 sandbox accounts can only send to inboxes on this server; \
                           claim the account to send elsewhere";
            let refused = remote
                .into_iter()
                .map(|a| (a, Outcome::Bounced(refusal.to_owned())))
                .collect();
            return (local, refused);
        }
        let envelope_from = if self.config.verp {
            &unit.return_path
        } else {
            &unit.mail_from
        };
        let mut outcomes = Vec::new();
        let mut batches = self.transport.batches(remote).into_iter().peekable();
        while let Some(batch) = batches.next() {
            let sent = self.transport.send(envelope_from, &batch, &unit.raw).await;
            // The last batch is recorded with the attempt, straight after.
            if batches.peek().is_some() {
                self.record_hand_offs(unit.message.id, &sent, leases).await;
            }
            outcomes.extend(sent);
        }
        (local, outcomes)
    }

    /// Records the recipients a batch handed off, before the next batch goes out. Failures
    /// wait for the attempt's record (which counts bounces and tells webhooks); if that never
    /// comes, they are simply tried again.
    async fn record_hand_offs(
        &self,
        message_id: MessageId,
        sent: &[(String, Outcome)],
        leases: &Leases,
    ) {
        let handed_off: Vec<(String, RecipientStatus, &'static str)> = sent
            .iter()
            .filter_map(|(address, outcome)| match outcome {
                Outcome::Delivered(route) => {
                    Some((address.clone(), RecipientStatus::Delivered, *route))
                }
                Outcome::Sent(route) => Some((address.clone(), RecipientStatus::Sent, *route)),
                Outcome::Bounced(_) | Outcome::Retry(_) => None,
            })
            .collect();
        if handed_off.is_empty() {
            return;
        }
        let now = leases.now();
        let written = self
            .store
            .write(move |tx| {
                for (address, status, route) in &handed_off {
                    store::set_recipient(tx, message_id, address, *status, Some(route), None, now)?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = written {
            // The attempt's record will say the same; only a crash before it would repeat
            // these recipients.
            log::warn!("recording the recipients of message {message_id} handed off failed: {e}");
        }
    }

    /// Parses the message for its local recipients (off the writer).
    async fn prepare_local(&self, unit: &SendUnit, recipients: Vec<Recipient>) -> Local {
        let envelope = Envelope {
            mail_from: unit.mail_from.clone(),
            recipients: recipients.clone(),
            origin: Origin {
                helo: self.hostname.clone(),
                peer: None,
                protocol: "local",
            },
        };
        let prepared = self.ingest.prepare(envelope, unit.raw.clone()).await;
        Local {
            recipients,
            prepared,
        }
    }
}

/// Local recipients of a send and their message, parsed.
struct Local {
    recipients: Vec<Recipient>,
    prepared: Result<Prepared, MailError>,
}

/// Stores the local copies in `tx`, the transaction that records the attempt; what failed is
/// rolled back alone and retried later (unless SQLite gave up the whole transaction).
fn deliver_locally(
    tx: &Tx<'_>,
    local: Local,
    now: Timestamp,
) -> Result<Vec<(String, Outcome)>, Failure> {
    let stored = match local.prepared {
        Ok(prepared) => tx
            .part(|tx| ingest::store(tx, &prepared, now))?
            .map_err(MailError::from),
        Err(e) => Err(e),
    };
    Ok(match stored {
        Ok(delivery) => local
            .recipients
            .into_iter()
            .map(|r| {
                let outcome = if delivery.copies.iter().any(|c| c.inbox_id == r.inbox_id) {
                    Outcome::Delivered("local")
                } else if delivery.refused.contains(&r.inbox_id) {
                    Outcome::Bounced(
                        "550 5.7.1 sender not accepted by the recipient's allow or block list"
                            .to_owned(),
                    )
                } else {
                    Outcome::Bounced("550 5.1.1 mailbox unavailable".to_owned())
                };
                (r.address, outcome)
            })
            .collect(),
        Err(e) => {
            let outcome = Outcome::Retry(format!("local delivery: {e}"));
            local
                .recipients
                .into_iter()
                .map(|r| (r.address, outcome.clone()))
                .collect()
        }
    })
}

/// Records one attempt: each recipient's outcome, the message's status, `delivery` and error,
/// the counters and events, and the job's next run (or its end). One transaction.
fn record(
    tx: &Tx<'_>,
    unit: &SendUnit,
    job: &jobs::Job,
    outcomes: &[(String, Outcome)],
    schedule: &[u64],
    now: Timestamp,
) -> Result<(), Failure> {
    let message = &unit.message;
    let mut retry_errors = Vec::new();
    let mut bounced = Vec::new();
    for (address, outcome) in outcomes {
        let (status, route, error) = match outcome {
            Outcome::Delivered(route) => (RecipientStatus::Delivered, Some(*route), None),
            Outcome::Sent(route) => (RecipientStatus::Sent, Some(*route), None),
            Outcome::Bounced(e) => {
                bounced.push(address.clone());
                (RecipientStatus::Bounced, None, Some(e.as_str()))
            }
            Outcome::Retry(e) => {
                retry_errors.push(format!("{address}: {e}"));
                (RecipientStatus::Pending, None, Some(e.as_str()))
            }
        };
        store::set_recipient(tx, message.id, address, status, route, error, now)?;
    }
    let retries_left = usize::try_from(job.attempt).unwrap_or(usize::MAX) <= schedule.len();
    if !retry_errors.is_empty() {
        if retries_left {
            let wait = schedule[usize::try_from(job.attempt).unwrap_or(1).saturating_sub(1)];
            jobs::retry_at(
                tx,
                job.id,
                now.plus(Duration::from_millis(wait)),
                &retry_errors.join("; "),
                now,
            )?;
        } else {
            for (address, outcome) in outcomes {
                if let Outcome::Retry(e) = outcome {
                    let error = format!("gave up after {} attempts: {e}", job.attempt);
                    store::set_recipient(
                        tx,
                        message.id,
                        address,
                        RecipientStatus::Failed,
                        None,
                        Some(&error),
                        now,
                    )?;
                }
            }
        }
    }
    if retry_errors.is_empty() || !retries_left {
        jobs::complete(tx, job.id, now)?;
    }

    let recipients = store::recipients(tx, message.id)?;
    let statuses: Vec<RecipientStatus> = recipients.iter().map(|(_, s, _)| *s).collect();
    let status = summarize(&statuses);
    let routes: Vec<&str> = recipients
        .iter()
        .filter_map(|(_, _, r)| r.as_deref())
        .collect();
    let delivery = if routes.contains(&"email") {
        Some("email")
    } else if routes.contains(&"dry-run") {
        Some("dry-run")
    } else if !routes.is_empty() && routes.iter().all(|r| *r == "local") {
        Some("local")
    } else {
        None
    };
    let problems: Vec<String> = recipients
        .iter()
        .filter(|(_, s, _)| matches!(s, RecipientStatus::Bounced | RecipientStatus::Failed))
        .map(|(a, s, _)| format!("{a} {}", s.as_str()))
        .collect();
    let error = match status {
        MessageStatus::Failed
        | MessageStatus::Bounced
        | MessageStatus::Delivered
        | MessageStatus::Sent
            if !problems.is_empty() =>
        {
            let details: Vec<String> = outcomes
                .iter()
                .filter_map(|(a, o)| match o {
                    Outcome::Bounced(e) | Outcome::Retry(e) => Some(format!("{a}: {e}")),
                    _ => None,
                })
                .collect();
            Some(if details.is_empty() {
                problems.join(", ")
            } else {
                details.join("; ")
            })
        }
        _ => None,
    };
    store::set_status(tx, message.id, status, delivery, error.as_deref(), now)?;

    let handed_off = statuses
        .iter()
        .any(|s| matches!(s, RecipientStatus::Sent | RecipientStatus::Delivered));
    if handed_off && store::mark_handed_off(tx, message, now)? {
        let event = Event::MessageSent(MessageSent {
            message_id: message.id,
            inbox_id: message.inbox_id,
            thread_id: message.thread_id,
            to: message.to_addresses.clone(),
            cc: message.cc_addresses.clone(),
            bcc: message.bcc_addresses.clone(),
            subject: message.subject.clone(),
            sent_at: now,
        });
        events::emit(tx, message.account_id, &event, now)?;
    }
    if !bounced.is_empty() {
        // A message's bounce counts once on its inbox, however many recipients bounce.
        let bounced_before = recipients
            .iter()
            .any(|(a, s, _)| *s == RecipientStatus::Bounced && !bounced.contains(a));
        if !bounced_before && store::count_bounce(tx, message, now)? {
            log::warn!(
                "inbox {} suspended: its bounce rate is over the limit",
                message.inbox_id
            );
        }
        let event = Event::MessageBounced(MessageBounced {
            message_id: message.id,
            inbox_id: message.inbox_id,
            thread_id: message.thread_id,
            bounce_type: "Permanent".to_owned(),
            bounced_recipients: bounced,
        });
        events::emit(tx, message.account_id, &event, now)?;
    }
    if status == MessageStatus::Delivered && message.status != MessageStatus::Delivered {
        let event = Event::MessageDelivered(MessageDelivered {
            message_id: message.id,
            inbox_id: message.inbox_id,
            thread_id: message.thread_id,
            recipients: recipients
                .iter()
                .filter(|(_, s, _)| *s == RecipientStatus::Delivered)
                .map(|(a, _, _)| a.clone())
                .collect(),
        });
        events::emit(tx, message.account_id, &event, now)?;
    }
    Ok(())
}
