//! Drafts: every operation on them, for any interface (REST, MCP, the operator's command line),
//! and their scheduled sends as a kind of work for the [`crate::runner`].
//!
//! A draft is sent through [`Sending::submit`], the path of every API send, with the same
//! checks, limits and events. Sending it and recording that it was sent are one transaction
//! (the message, its send job, the draft's new status and, for a scheduled send, the end of its
//! draft-send job), so a draft is sent once whatever crashes: a send whose transaction did not
//! commit left nothing behind and is tried again; one that committed left no job to try again.

use std::sync::Arc;
use std::time::Duration;

use crate::domain::draft::{Approver, Draft, DraftEdit};
use crate::domain::message::Message;
use crate::domain::{
    AccountId, AuthContext, Caller, Clock, Credential, DraftId, InboxId, JobId, Page, Paging,
    Refusal, Resource, Scope, Scopes, Timestamp,
};
use crate::mail::MailError;
use crate::mail::send::Sending;
use crate::runner::{JobTable, Leases, Runner, Work};
use crate::store::drafts::{self as store, DRAFT_SEND_JOB, DraftSendJob};
use crate::store::jobs::{self, Lease};
use crate::store::{Failure, Queue, Store, StoreError, Tx, accounts, inboxes};

/// On shutdown, scheduled sends under way get this long before they are handed back.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Drafts and what they need: the store, the clock and sending. Cheap to clone.
#[derive(Clone)]
pub struct Drafts {
    store: Store,
    clock: Arc<dyn Clock>,
    sending: Sending,
}

impl Drafts {
    /// Drafts kept in `store`, sent through `sending`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, sending: Sending) -> Self {
        Self {
            store,
            clock,
            sending,
        }
    }

    /// The time now, by the service's clock (what `sendAt` is checked against).
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Creates a draft in one of `who`'s inboxes with `fields`; in the transaction that stores
    /// it, the caller's response is made from it with `respond` (see [`Sending::submit`]).
    pub async fn create<R: Send + 'static>(
        &self,
        who: &Caller,
        inbox_id: InboxId,
        fields: DraftEdit,
        respond: impl FnOnce(&Tx<'_>, Draft) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, Failure> {
        let now = self.now();
        self.store
            .write_as(who, now, move |tx, auth| {
                inboxes::exists(tx, auth.account_id, inbox_id)?;
                let mut draft = Draft::new(auth.account_id, inbox_id, auth.key_id, now);
                draft.edit(fields, may_approve(&auth), now)?;
                store::insert(tx, &draft, now)?;
                respond(tx, draft)
            })
            .await
    }

    /// One of `who`'s drafts (in `inbox`, when given).
    pub async fn get(
        &self,
        who: &Caller,
        inbox: Option<InboxId>,
        id: DraftId,
    ) -> Result<Draft, Failure> {
        self.store
            .read_as(who, self.now(), move |c, auth| {
                store::get(c, auth.account_id, inbox, id)
            })
            .await
    }

    /// A page of the drafts of one of `who`'s inboxes, newest first.
    pub async fn list(
        &self,
        who: &Caller,
        inbox_id: InboxId,
        paging: Paging,
    ) -> Result<Page<Draft>, Failure> {
        self.store
            .read_as(who, self.now(), move |c, auth| {
                inboxes::exists(c, auth.account_id, inbox_id)?;
                store::list(c, auth.account_id, inbox_id, paging)
            })
            .await
    }

    /// Changes one of `who`'s drafts (see [`Draft::edit`]); its scheduled send follows.
    pub async fn update(
        &self,
        who: &Caller,
        inbox: Option<InboxId>,
        id: DraftId,
        edit: DraftEdit,
    ) -> Result<Draft, Failure> {
        let now = self.now();
        self.store
            .write_as(who, now, move |tx, auth| {
                let mut draft = store::get(tx, auth.account_id, inbox, id)?;
                let revision = draft.revision;
                draft.edit(edit, may_approve(&auth), now)?;
                store::save(tx, &draft, revision, now)?;
                Ok(draft)
            })
            .await
    }

    /// Deletes one of `who`'s drafts; a scheduled send is cancelled with it (a sent draft's
    /// message stays).
    pub async fn delete(
        &self,
        who: &Caller,
        inbox: Option<InboxId>,
        id: DraftId,
    ) -> Result<(), Failure> {
        self.store
            .write_as(who, self.now(), move |tx, auth| {
                store::delete(tx, auth.account_id, inbox, id)
            })
            .await
    }

    /// Sends one of `who`'s drafts now, through the same path as any send; a schedule is
    /// cancelled. A draft that needs approval and has none is sent only by a key that may
    /// approve it (which then counts as its approval). In the transaction that stores the
    /// message, the caller's response is made from it with `respond`.
    pub async fn send<R: Send + 'static>(
        &self,
        who: &Caller,
        id: DraftId,
        respond: impl FnOnce(&Tx<'_>, Message) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, MailError> {
        let (draft, sender) = self
            .store
            .read_as(who, self.now(), move |c, auth| {
                let draft = store::get(c, auth.account_id, None, id)?;
                draft.may_send(may_approve(&auth))?;
                Ok((draft, Approver::Key(auth.key_id)))
            })
            .await?;
        let request = draft
            .request()
            .map_err(Refusal::Invalid)
            .map_err(Failure::from)?;
        let clock = self.clock.clone();
        self.sending
            .submit(who, draft.inbox_id, request, move |tx, message| {
                record_sent(tx, draft, &message, Some(sender), clock.now())?;
                respond(tx, message)
            })
            .await
    }

    /// Approves one of `who`'s drafts (see [`Draft::approve`]): it is sent at its `sendAt`,
    /// or at once. In the transaction, the caller's response is made with `respond`.
    pub async fn approve<R: Send + 'static>(
        &self,
        who: &Caller,
        id: DraftId,
        reviewed: Option<i64>,
        respond: impl FnOnce(&Tx<'_>, Draft) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, Failure> {
        let now = self.now();
        self.store
            .write_as(who, now, move |tx, auth| {
                let draft = approve(
                    tx,
                    Some(auth.account_id),
                    id,
                    Approver::Key(auth.key_id),
                    reviewed,
                    now,
                )?;
                respond(tx, draft)
            })
            .await
    }
}

/// Whether the key may approve drafts.
fn may_approve(auth: &AuthContext) -> bool {
    auth.scopes.has(Scope::Approve)
}

/// Records `by`'s approval of draft `id` (of `account`, when given; the operator's command line
/// names any) and releases it: the send worker sends it at its `sendAt`, or at once. With
/// `reviewed`, only that revision is approved: a draft changed since is refused.
pub fn approve(
    tx: &Tx<'_>,
    account: Option<AccountId>,
    id: DraftId,
    by: Approver,
    reviewed: Option<i64>,
    now: Timestamp,
) -> Result<Draft, Failure> {
    let found = match account {
        Some(account) => Some(store::get(tx, account, None, id)?),
        None => store::find(tx, id)?,
    };
    let mut draft = found.ok_or(Failure::Refused(Refusal::NotFound(Resource::Draft)))?;
    let revision = draft.revision;
    if reviewed.is_some_and(|reviewed| reviewed != revision) {
        return Err(Failure::Refused(Refusal::DraftNotAsReviewed(revision)));
    }
    draft.approve(by, now)?;
    store::save(tx, &draft, revision, now)?;
    Ok(draft)
}

/// Marks `draft` (as it was read) sent as `message`, provided it has not changed since.
fn record_sent(
    tx: &Tx<'_>,
    mut draft: Draft,
    message: &Message,
    by: Option<Approver>,
    now: Timestamp,
) -> Result<(), Failure> {
    let revision = draft.revision;
    draft.sent(message.id, by, now);
    store::save(tx, &draft, revision, now)
}

/// Why a scheduled send was refused, to record on its draft; `Err` for a failure that is not
/// the send's (tried again when the job's lease runs out) or a job that is no longer held.
fn refused(e: MailError) -> Result<String, Failure> {
    match e {
        MailError::Store(Failure::Refused(Refusal::DraftChanged | Refusal::DraftAlreadySent)) => {
            Err(Failure::Store(StoreError::ClaimLost))
        }
        MailError::Store(Failure::Refused(Refusal::Unauthorized)) => {
            Ok("the API key that wrote the draft has been revoked or has expired".to_owned())
        }
        MailError::Store(Failure::Refused(refusal)) => Ok(refusal.to_string()),
        MailError::Store(e) => Err(e),
        // The same draft would fail the same way again.
        e @ (MailError::Compose(_) | MailError::Signing(_)) => Ok(e.to_string()),
        MailError::Task(e) => Err(Failure::task(e)),
    }
}

/// A draft changed meanwhile has dropped the job that was sending it: the change stands.
fn lost_if_changed(e: Failure) -> Failure {
    match e {
        Failure::Refused(Refusal::DraftChanged) => Failure::Store(StoreError::ClaimLost),
        e => e,
    }
}

/// The scheduled sends of drafts, as a kind of work for the [`crate::runner`].
pub struct ScheduledSends {
    drafts: Drafts,
    jobs: JobTable,
}

impl ScheduledSends {
    /// The scheduled sends of `drafts`.
    pub fn new(drafts: Drafts) -> Self {
        let jobs = JobTable::new(drafts.store.clone(), DRAFT_SEND_JOB);
        Self { drafts, jobs }
    }
}

/// The runner of scheduled sends.
pub type DraftWorker = Runner<ScheduledSends>;

impl Work for ScheduledSends {
    type Item = jobs::Job;
    type Key = JobId;
    const NAME: &'static str = "scheduled sends";
    const QUEUE: Queue = Queue::Drafts;

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

    /// Sends the draft as the key that created it, through [`Sending::submit`]; the draft and
    /// the job are recorded in the transaction that stores the message. A send refused now
    /// (the inbox deleted, a limit reached) marks the draft `failed`.
    async fn process(&self, job: jobs::Job, leases: &Leases) -> Result<Option<jobs::Job>, Failure> {
        let payload: DraftSendJob = serde_json::from_str(&job.payload)
            .map_err(|e| Failure::corrupt(format!("draft send {}: {e}", job.id)))?;
        let id = payload.draft_id;
        let draft = self.drafts.store.read(move |c| store::find(c, id)).await?;
        let holder = leases.at(leases.now()).holder;
        let Some(draft) = draft.filter(|d| d.due(leases.now()).is_some()) else {
            // Deleted, cancelled or sent meanwhile (which would have dropped the job too).
            let now = leases.now();
            return self
                .drafts
                .store
                .write(move |tx| {
                    jobs::check_held(tx, &job, &holder)?;
                    jobs::complete(tx, job.id, now)?;
                    Ok(None)
                })
                .await;
        };
        let caller = Caller::needing(
            Credential::Verified(AuthContext {
                account_id: draft.account_id,
                key_id: draft.created_by,
                scopes: Scopes::only(Scope::Send),
            }),
            &[Scope::Send],
        );
        let why = match draft.request() {
            Err(errors) => Refusal::Invalid(errors).to_string(),
            Ok(request) => {
                let (job, holder, clock) = (job.clone(), holder.clone(), self.drafts.clock.clone());
                let draft = draft.clone();
                let sent = self
                    .drafts
                    .sending
                    .submit(&caller, draft.inbox_id, request, move |tx, message| {
                        // Taken over (or cancelled) meanwhile: nothing of this attempt stays.
                        jobs::check_held(tx, &job, &holder)?;
                        let now = clock.now();
                        // The draft goes as the key that wrote it: not once that key is
                        // revoked or expired.
                        if !accounts::dead_keys(tx, &[draft.created_by], now)?.is_empty() {
                            return Err(Failure::Refused(Refusal::Unauthorized));
                        }
                        jobs::complete(tx, job.id, now)?;
                        record_sent(tx, draft, &message, None, now)
                    })
                    .await;
                match sent {
                    Ok(()) => return Ok(None),
                    Err(e) => refused(e)?,
                }
            }
        };
        log::info!("the scheduled send of draft {id} was refused: {why}");
        let now = leases.now();
        self.drafts
            .store
            .write(move |tx| {
                jobs::check_held(tx, &job, &holder)?;
                jobs::complete(tx, job.id, now)?;
                let mut draft = draft;
                let revision = draft.revision;
                draft.failed(why, now);
                store::save(tx, &draft, revision, now)?;
                Ok(None)
            })
            .await
            .map_err(lost_if_changed)
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
