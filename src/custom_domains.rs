//! Custom domains: adding one (a verification token and a DKIM key of its own), checking its
//! DNS records on request, and re-checking pending domains in the background: every domain
//! added has a check job ([`DomainChecks`], a kind of work for the [`crate::runner`]) that runs
//! every `domains.recheck_interval_secs` while a side is pending, until a day after the
//! verification period.

use crate::domain::Refusal;
use std::sync::Arc;
use std::time::Duration;

use crate::config::DomainsConfig;
use crate::dns::Dns;
use crate::domain::custom_domain::{DnsAnswers, DnsSetup, Domain, SendingStatus, evaluate};
use crate::domain::{AccountId, Caller, Clock, DomainId, DomainName, JobId, Timestamp, random};
use crate::events;
use crate::limits::Limits;
use crate::mail::dkim::DkimKey;
use crate::runner::{JobTable, Leases, Runner, Work};
use crate::store::domains::{self as store, DOMAIN_CHECK_JOB, DomainCheckJob, NewDomain};
use crate::store::jobs::{self, Lease};
use crate::store::{Failure, Queue, Store, Tx};
use crate::webhooks::{Event, events::DomainVerified};

/// On shutdown, checks under way get this long before they are handed back.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Custom domains and what they need: the store, the clock, the DNS, what domains publish,
/// their settings, and the limits on adding them. Cheap to clone.
#[derive(Clone)]
pub struct CustomDomains {
    store: Store,
    clock: Arc<dyn Clock>,
    dns: Dns,
    setup: Arc<DnsSetup>,
    config: DomainsConfig,
    limits: Arc<Limits>,
}

impl CustomDomains {
    /// Custom domains kept in `store`, checked with `dns` against `setup`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        dns: Dns,
        setup: Arc<DnsSetup>,
        config: DomainsConfig,
        limits: Arc<Limits>,
    ) -> Self {
        Self {
            store,
            clock,
            dns,
            setup,
            config,
            limits,
        }
    }

    /// Adds `name` to `who`'s account with a new verification token and DKIM key, and
    /// schedules its first background check. In the transaction that stores it, the caller's
    /// response is made from the new domain with `respond` (see
    /// [`crate::mail::send::Sending::submit`]).
    pub async fn add<R: Send + 'static>(
        &self,
        who: &Caller,
        name: DomainName,
        respond: impl FnOnce(&Tx<'_>, Domain) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, Failure> {
        let config = &self.config;
        // Refused requests do not cost a key generation.
        let (now, checked, limits) = (self.clock.now(), name.clone(), self.limits.clone());
        self.store
            .read_as(who, now, move |c, auth| {
                limits.may_add_domain(c, auth.account_id, now)?;
                store::check_name_free(c, auth.account_id, &checked)
            })
            .await?;
        // A selector of its own per domain: two accounts (or a re-added domain) never publish
        // different keys under one name, and a key can later be replaced without a gap.
        let selector = format!("{}-{}", config.dkim_selector, random::lower_alnum(6));
        let algorithm = config.dkim_algorithm;
        let (key_domain, key_selector) = (name.to_string(), selector.clone());
        // RSA key generation takes a good fraction of a second: not on an async thread.
        let (key, private) = tokio::task::spawn_blocking(move || {
            DkimKey::generate(algorithm, &key_domain, &key_selector)
        })
        .await
        .map_err(|e| Failure::task(format!("key generation: {e}")))?
        .map_err(|e| Failure::Internal(format!("DKIM key generation: {e}")))?;
        let new = NewDomain {
            name,
            verification_token: hex::encode(random::bytes::<16>()),
            dkim_selector: selector,
            dkim_algorithm: algorithm,
            dkim_private_key: private,
            dkim_public_key: key.public_key_base64(),
        };
        let first_check = now.plus(self.recheck_interval());
        let limits = self.limits.clone();
        self.store
            .write_as(who, now, move |tx, auth| {
                limits.may_add_domain(tx, auth.account_id, now)?;
                let domain = store::create_domain(tx, auth.account_id, &new, now)?;
                schedule_checks(tx, &domain, first_check, now)?;
                respond(tx, domain)
            })
            .await
    }

    /// Checks one of `who`'s domains in DNS now and stores what was found.
    pub async fn verify(&self, who: &Caller, id: DomainId) -> Result<Domain, Failure> {
        let domain = self
            .store
            .read_as(who, self.clock.now(), move |c, auth| {
                store::get_domain(c, auth.account_id, id)
            })
            .await?;
        let answers = lookup(&self.dns, &domain).await;
        let check = self.check(&domain, answers);
        self.store.write(move |tx| check.record(tx)).await
    }

    fn recheck_interval(&self) -> Duration {
        Duration::from_secs(self.config.recheck_interval_secs)
    }

    /// A check of `domain` with what DNS answered, to record now.
    fn check(&self, domain: &Domain, answers: DnsAnswers) -> Check {
        let period = Duration::from_secs(self.config.verification_hours.saturating_mul(3600));
        Check {
            account_id: domain.account_id,
            id: domain.id,
            answers,
            mail_host: self.setup.mail_host.clone(),
            deadline: domain.created_at.plus(period),
            now: self.clock.now(),
        }
    }

    /// What the background does next about `domain` at `now`: it looks at a domain every
    /// re-check interval after its last check, and checks it if a side is still pending, until
    /// a day after the verification period (past it, only DNS failures keep a domain pending,
    /// and a manual check still works). A settled domain is looked at too, since a manual
    /// check can make it pending again.
    fn plan(&self, domain: &Domain, now: Timestamp) -> Plan {
        let last_day = Duration::from_secs(
            self.config
                .verification_hours
                .saturating_add(24)
                .saturating_mul(3600),
        );
        let end = domain.created_at.plus(last_day);
        let due = domain
            .last_checked_at
            .unwrap_or(domain.created_at)
            .plus(self.recheck_interval());
        let next = if due > now {
            due
        } else if domain.is_pending() {
            return if now < end {
                Plan::CheckNow
            } else {
                Plan::Done
            };
        } else {
            now.plus(self.recheck_interval())
        };
        if next < end {
            Plan::LookAt(next)
        } else {
            Plan::Done
        }
    }
}

/// What the background does next about a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Plan {
    /// Look up its records now.
    CheckNow,
    /// Look at it again then.
    LookAt(Timestamp),
    /// Nothing more: its checks are over.
    Done,
}

/// Queues the background checks of a new domain, the first at `first`.
fn schedule_checks(
    tx: &Tx<'_>,
    domain: &Domain,
    first: Timestamp,
    now: Timestamp,
) -> Result<JobId, Failure> {
    jobs::enqueue(
        tx,
        DOMAIN_CHECK_JOB,
        &DomainCheckJob::of(domain.account_id, domain.id),
        first,
        Queue::DomainChecks,
        now,
    )
}

/// One DNS check, ready to record.
struct Check {
    account_id: AccountId,
    id: DomainId,
    answers: DnsAnswers,
    mail_host: DomainName,
    deadline: Timestamp,
    now: Timestamp,
}

impl Check {
    /// Records the outcome; fires `domain.verified` when sending becomes verified. The status
    /// change is decided on the row as it is in the write transaction, so concurrent checks
    /// cannot fire the event twice.
    fn record(&self, tx: &Tx<'_>) -> Result<Domain, Failure> {
        let (account_id, id, now) = (self.account_id, self.id, self.now);
        let before = store::get_domain(tx, account_id, id)?;
        let claimed = store::received_elsewhere(tx, &before)?;
        let outcome = evaluate(
            &before,
            &self.answers,
            &self.mail_host,
            claimed,
            now,
            self.deadline,
        );
        let after = store::record_check(tx, &before, &outcome, now)?;
        if before.sending_status != SendingStatus::Verified
            && after.sending_status == SendingStatus::Verified
        {
            events::emit(
                tx,
                account_id,
                &Event::DomainVerified(DomainVerified {
                    domain_id: id,
                    domain: after.name.to_string(),
                }),
                now,
            )?;
        }
        Ok(after)
    }
}

/// The background checks of pending domains, as a kind of work for the [`crate::runner`].
pub struct DomainChecks {
    domains: CustomDomains,
    jobs: JobTable,
}

impl DomainChecks {
    /// The background checks of `domains`.
    pub fn new(domains: CustomDomains) -> Self {
        let jobs = JobTable::new(domains.store.clone(), DOMAIN_CHECK_JOB);
        Self { domains, jobs }
    }
}

/// The background checks' runner.
pub type DomainChecker = Runner<DomainChecks>;

impl Work for DomainChecks {
    type Item = jobs::Job;
    type Key = JobId;
    const NAME: &'static str = "domain checks";
    const QUEUE: Queue = Queue::DomainChecks;

    fn key(job: &jobs::Job) -> JobId {
        job.id
    }

    async fn claim(
        &self,
        now: Timestamp,
        max: usize,
        lease: Lease,
    ) -> Result<Vec<jobs::Job>, Failure> {
        self.jobs.claim(now, max, lease).await
    }

    /// Checks the domain if it is due (a manual check may have come first), and schedules
    /// the next check or ends the job.
    async fn process(&self, job: jobs::Job, leases: &Leases) -> Result<Option<jobs::Job>, Failure> {
        let domains = &self.domains;
        let payload: DomainCheckJob = serde_json::from_str(&job.payload)
            .map_err(|e| Failure::corrupt(format!("domain check {}: {e}", job.id)))?;
        let (account_id, id) = (payload.account_id, payload.domain_id);
        let domain = match domains
            .store
            .read(move |c| store::get_domain(c, account_id, id))
            .await
        {
            Ok(domain) => Some(domain),
            // Deleted meanwhile.
            Err(Failure::Refused(Refusal::NotFound(_))) => None,
            Err(e) => return Err(e),
        };
        let now = leases.now();
        let check = match &domain {
            Some(d) if domains.plan(d, now) == Plan::CheckNow => {
                Some(domains.check(d, lookup(&domains.dns, d).await))
            }
            _ => None,
        };
        let holder = leases.at(now).holder;
        let domains = domains.clone();
        self.domains
            .store
            .write(move |tx| {
                jobs::check_held(tx, &job, &holder)?;
                let domain = match check.map(|check| check.record(tx)) {
                    Some(Ok(after)) => Some(after),
                    // Deleted between the lookups and now.
                    Some(Err(Failure::Refused(Refusal::NotFound(_)))) => None,
                    Some(Err(e)) => return Err(e),
                    None => domain,
                };
                match domain.map(|d| domains.plan(&d, now)) {
                    Some(Plan::LookAt(next)) => jobs::run_again_at(tx, job.id, next, now)?,
                    Some(Plan::CheckNow) => jobs::run_again_at(tx, job.id, now, now)?,
                    Some(Plan::Done) | None => jobs::complete(tx, job.id, now)?,
                }
                Ok(None)
            })
            .await
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

/// The three lookups of a check, at once.
async fn lookup(dns: &Dns, domain: &Domain) -> DnsAnswers {
    let (verification_name, dkim_name) = (domain.verification_name(), domain.dkim_name());
    let (verification, dkim, mx) = tokio::join!(
        dns.txt_now(&verification_name),
        dns.txt_now(&dkim_name),
        dns.mx_now(domain.name.as_str()),
    );
    DnsAnswers {
        verification,
        dkim,
        mx,
    }
}
