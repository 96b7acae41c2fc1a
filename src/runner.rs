//! The one runner of durable background work. Every kind of work (sends, webhook
//! deliveries, custom-domain re-checks) is a queue in the store whose items are claimed with a lease in the name of this
//! run of the server ([`BootId`]); a [`Work`] says how to claim, process, schedule and hand back
//! its items, and a [`Runner`] does the rest the same way for all of them:
//!
//! - bounded concurrency: at most `concurrency` items under way, one slot each; a kind that
//!   limits items per key (deliveries per webhook) does so in its claim, in the database, so
//!   the limit holds across slots and restarts;
//! - chaining: processing an item may claim the next one in the transaction that records it,
//!   and the slot goes straight on with it;
//! - waking: a commit that queues work wakes every runner of that queue at once
//!   ([`crate::store::Wakers`]); otherwise a runner sleeps until the next retry or lease
//!   expiry is due (at most [`IDLE_POLL`]);
//! - [`Runner::run_once`] and [`Runner::drain`] for tests and benchmarks, [`Runner::run`] for
//!   the server;
//! - shutdown: items under way get a grace period, then are cut short and handed back, due at
//!   once for the next start. An item whose processing failed stays claimed (handed back at
//!   shutdown, or taken up again when its lease runs out); one whose process dies is taken up
//!   again when its lease runs out, or at the next start.

use std::collections::HashSet;
use std::fmt::Display;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::domain::{BootId, Clock, JobId, Timestamp};
use crate::store::jobs::{self, Lease};
use crate::store::{Failure, Queue, Store, StoreError, Wakers};

/// Longest sleep when nothing is due (a safety net: queued work wakes the runner at once).
pub const IDLE_POLL: Duration = Duration::from_secs(60);

/// One kind of background work.
pub trait Work: Send + Sync + 'static {
    /// A claimed item.
    type Item: Send + 'static;
    /// What identifies an item (to hand it back at shutdown, and in logs).
    type Key: Clone + Eq + Hash + Display + Send + 'static;

    /// Its name in logs ("sends").
    const NAME: &'static str;
    /// The queue whose commits wake it.
    const QUEUE: Queue;

    /// An item's key.
    fn key(item: &Self::Item) -> Self::Key;

    /// Claims up to `max` due items (new ones whose time has come, and claimed ones whose
    /// lease ran out), each with `lease`.
    fn claim(
        &self,
        now: Timestamp,
        max: usize,
        lease: Lease,
    ) -> impl Future<Output = Result<Vec<Self::Item>, Failure>> + Send;

    /// Processes one item and records the outcome; may claim, in the same transaction, the
    /// next item for the same slot (taking a lease from `leases`). An `Err` leaves the item to
    /// its lease: it is taken up again when the lease runs out.
    fn process(
        &self,
        item: Self::Item,
        leases: &Leases,
    ) -> impl Future<Output = Result<Option<Self::Item>, Failure>> + Send;

    /// Whether an item is due now: a read, so that runners with nothing to claim (on every
    /// node, all woken by one commit) do not queue empty write transactions.
    fn any_due(&self, now: Timestamp) -> impl Future<Output = Result<bool, Failure>> + Send;

    /// When the next item not yet due becomes due (a retry or a lease expiry).
    fn next_due(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Option<Timestamp>, Failure>> + Send;

    /// Hands back items cut short by a shutdown, due at once.
    fn release(
        &self,
        keys: Vec<Self::Key>,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// What every kind of work kept in the store's `jobs` table does the same way: its schedule
/// and handing jobs back.
#[derive(Clone)]
pub struct JobTable {
    store: Store,
    kind: &'static str,
}

impl JobTable {
    /// The jobs of `kind` in `store`.
    pub fn new(store: Store, kind: &'static str) -> Self {
        Self { store, kind }
    }

    /// [`Work::claim`] for kinds that need nothing more than the job.
    pub async fn claim(
        &self,
        now: Timestamp,
        max: usize,
        lease: Lease,
    ) -> Result<Vec<jobs::Job>, Failure> {
        let kind = self.kind;
        self.store
            .write(move |tx| jobs::claim(tx, kind, now, max, &lease))
            .await
    }

    /// [`Work::any_due`].
    pub async fn any_due(&self, now: Timestamp) -> Result<bool, Failure> {
        let kind = self.kind;
        self.store
            .read(move |db| jobs::any_due(db, kind, now))
            .await
    }

    /// [`Work::next_due`].
    pub async fn next_due(&self, now: Timestamp) -> Result<Option<Timestamp>, Failure> {
        let kind = self.kind;
        self.store
            .read(move |db| jobs::next_due(db, kind, now))
            .await
    }

    /// [`Work::release`].
    pub async fn release(&self, ids: Vec<JobId>, now: Timestamp) -> Result<(), Failure> {
        self.store
            .write(move |tx| jobs::release(tx, &ids, now))
            .await
    }
}

/// Where leases come from: this run of the server, its clock, and a lease's length.
#[derive(Clone)]
pub struct Leases {
    holder: BootId,
    clock: Arc<dyn Clock>,
    length: Duration,
}

impl Leases {
    /// Leases of `length` in the name of `holder`.
    pub fn new(holder: BootId, clock: Arc<dyn Clock>, length: Duration) -> Self {
        Self {
            holder,
            clock,
            length,
        }
    }

    /// The time now, by the server's clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// A lease taken at `now`.
    pub fn at(&self, now: Timestamp) -> Lease {
        Lease::new(&self.holder, now, self.length)
    }
}

/// How a runner runs its work.
#[derive(Debug, Clone, Copy)]
pub struct RunnerSettings {
    /// Items under way at once.
    pub concurrency: usize,
    /// On shutdown, items under way get this long before they are handed back.
    pub shutdown_grace: Duration,
}

/// Runs one kind of [`Work`]. Cheap to clone; clones share the work, the slots and the set of
/// items claimed.
pub struct Runner<W: Work> {
    inner: Arc<Inner<W>>,
}

impl<W: Work> Clone for Runner<W> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<W: Work> {
    work: W,
    leases: Leases,
    settings: RunnerSettings,
    slots: Arc<Semaphore>,
    /// Items claimed by this process and not yet recorded: handed back at shutdown.
    claimed: Mutex<HashSet<W::Key>>,
    wakers: Arc<Wakers>,
}

impl<W: Work> Runner<W> {
    /// A runner of `work`, woken by `wakers`.
    pub fn new(work: W, leases: Leases, settings: RunnerSettings, wakers: Arc<Wakers>) -> Self {
        Self {
            inner: Arc::new(Inner {
                work,
                leases,
                slots: Arc::new(Semaphore::new(settings.concurrency)),
                settings,
                claimed: Mutex::default(),
                wakers,
            }),
        }
    }

    /// The work it runs.
    pub fn work(&self) -> &W {
        &self.inner.work
    }

    /// One pass: claims every due item there is a free slot for, processes them all
    /// concurrently (with what they chain) and waits for them. Returns how many were claimed.
    pub async fn run_once(&self) -> Result<usize, Failure> {
        let claimed = self.claim().await?;
        let count = claimed.len();
        let mut tasks = JoinSet::new();
        for (item, slot) in claimed {
            tasks.spawn(self.clone().process(item, slot));
        }
        while tasks.join_next().await.is_some() {}
        Ok(count)
    }

    /// Runs passes until nothing is due now (retries scheduled for later stay queued).
    pub async fn drain(&self) -> Result<usize, Failure> {
        let mut total = 0;
        loop {
            match self.run_once().await? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// The loop: claims what is due and starts it, then sleeps until work is queued, an item
    /// finishes, the next one is due, or `shutdown`; then shuts down gracefully.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut wake = self.inner.wakers.subscribe(W::QUEUE);
        let mut in_flight: JoinSet<()> = JoinSet::new();
        loop {
            // Work queued from here on wakes the wait below.
            wake.look();
            let free = self.inner.slots.available_permits();
            let claimed = self.claim().await.unwrap_or_else(|e| {
                log::error!("claiming {} failed: {e}", W::NAME);
                Vec::new()
            });
            let maybe_more = free > 0 && claimed.len() == free;
            for (item, slot) in claimed {
                in_flight.spawn(self.clone().process(item, slot));
            }
            if maybe_more {
                continue;
            }
            let wait = self.until_next_due().await;
            tokio::select! {
                _ = shutdown.changed() => break,
                () = wake.woken() => {}
                Some(_) = in_flight.join_next() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
        self.shut_down(in_flight).await;
    }

    async fn shut_down(&self, mut in_flight: JoinSet<()>) {
        let grace = tokio::time::sleep(self.inner.settings.shutdown_grace);
        tokio::pin!(grace);
        while !in_flight.is_empty() {
            tokio::select! {
                _ = in_flight.join_next() => {}
                () = &mut grace => break,
            }
        }
        in_flight.abort_all();
        let keys: Vec<W::Key> = match self.inner.claimed.lock() {
            Ok(mut claimed) => claimed.drain().collect(),
            Err(_) => return,
        };
        if keys.is_empty() {
            return;
        }
        let count = keys.len();
        let now = self.inner.leases.now();
        match self.inner.work.release(keys, now).await {
            Ok(()) => log::info!("{count} {} cut short by shutdown will be retried", W::NAME),
            Err(e) => log::warn!(
                "handing back {} failed ({e}); their leases will expire",
                W::NAME
            ),
        }
    }

    /// How long to sleep before the next item is due.
    async fn until_next_due(&self) -> Duration {
        let now = self.inner.leases.now();
        match self.inner.work.next_due(now).await {
            Ok(Some(due)) => {
                let ms = u64::try_from(due.as_millis() - now.as_millis()).unwrap_or(0);
                // At least 1 ms, so that a due time a hair away is not a hot loop.
                Duration::from_millis(ms.max(1)).min(IDLE_POLL)
            }
            Ok(None) => IDLE_POLL,
            Err(e) => {
                log::error!("reading the schedule of {} failed: {e}", W::NAME);
                Duration::from_secs(1)
            }
        }
    }

    /// Takes every free slot and claims up to that many due items; unused slots go back.
    async fn claim(&self) -> Result<Vec<(W::Item, OwnedSemaphorePermit)>, Failure> {
        let mut slots = Vec::new();
        while let Ok(slot) = self.inner.slots.clone().try_acquire_owned() {
            slots.push(slot);
        }
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.inner.leases.now();
        if !self.inner.work.any_due(now).await? {
            return Ok(Vec::new());
        }
        let lease = self.inner.leases.at(now);
        let claimed = self.inner.work.claim(now, slots.len(), lease).await?;
        self.track(claimed.iter().map(W::key), None);
        Ok(claimed.into_iter().zip(slots).collect())
    }

    /// Processes a claimed item, then whatever its record claimed next, with the same slot.
    async fn process(self, first: W::Item, _slot: OwnedSemaphorePermit) {
        let mut item = first;
        loop {
            let key = W::key(&item);
            let next = self.inner.work.process(item, &self.inner.leases).await;
            match next {
                Ok(next) => {
                    self.track(next.as_ref().map(W::key), Some(&key));
                    match next {
                        Some(next) => item = next,
                        None => return,
                    }
                }
                // Another attempt holds it now: not ours to hand back.
                Err(Failure::Store(StoreError::ClaimLost)) => {
                    log::warn!(
                        "{} {key}: its lease ran out and another attempt took it",
                        W::NAME
                    );
                    self.track(None, Some(&key));
                    return;
                }
                Err(e) => {
                    // Still claimed: handed back at shutdown, or taken up again when its
                    // lease runs out.
                    log::error!("{} {key} failed: {e}", W::NAME);
                    return;
                }
            }
        }
    }

    /// Records items claimed, and one finished.
    fn track(&self, claimed: impl IntoIterator<Item = W::Key>, finished: Option<&W::Key>) {
        if let Ok(mut set) = self.inner.claimed.lock() {
            if let Some(key) = finished {
                set.remove(key);
            }
            set.extend(claimed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ManualClock;

    /// A queue in memory: items are numbers due at their time; processing records them and
    /// chains the next number below 3 of the same ten.
    #[derive(Default)]
    struct Numbers {
        due: Mutex<Vec<u32>>,
        done: Mutex<Vec<u32>>,
        released: Mutex<Vec<u32>>,
    }

    impl Work for Numbers {
        type Item = u32;
        type Key = u32;
        const NAME: &'static str = "numbers";
        const QUEUE: Queue = Queue::Sends;

        fn key(item: &u32) -> u32 {
            *item
        }

        async fn claim(&self, _: Timestamp, max: usize, _: Lease) -> Result<Vec<u32>, Failure> {
            let mut due = self.due.lock().unwrap();
            let n = max.min(due.len());
            Ok(due.drain(..n).collect())
        }

        async fn process(&self, item: u32, _: &Leases) -> Result<Option<u32>, Failure> {
            match item {
                // Recording failed: still ours.
                666 => Err(Failure::task("the disk is full")),
                // Another attempt holds it now.
                777 => Err(Failure::Store(StoreError::ClaimLost)),
                _ => {
                    self.done.lock().unwrap().push(item);
                    Ok((item % 10 < 2).then_some(item + 1))
                }
            }
        }

        async fn any_due(&self, _: Timestamp) -> Result<bool, Failure> {
            Ok(!self.due.lock().unwrap().is_empty())
        }

        async fn next_due(&self, _: Timestamp) -> Result<Option<Timestamp>, Failure> {
            Ok(None)
        }

        async fn release(&self, keys: Vec<u32>, _: Timestamp) -> Result<(), Failure> {
            self.released.lock().unwrap().extend(keys);
            Ok(())
        }
    }

    fn runner(concurrency: usize, due: Vec<u32>) -> Runner<Numbers> {
        let work = Numbers {
            due: Mutex::new(due),
            ..Numbers::default()
        };
        let clock = Arc::new(ManualClock::new(Timestamp::from_millis(0)));
        let leases = Leases::new(BootId::new(), clock, Duration::from_secs(60));
        let settings = RunnerSettings {
            concurrency,
            shutdown_grace: Duration::from_secs(1),
        };
        Runner::new(work, leases, settings, Arc::default())
    }

    #[tokio::test]
    async fn a_pass_takes_as_many_items_as_slots_and_follows_their_chains() {
        let runner = runner(2, vec![10, 20, 30]);
        assert_eq!(runner.run_once().await.unwrap(), 2);
        let mut done = runner.work().done.lock().unwrap().clone();
        done.sort_unstable();
        assert_eq!(done, [10, 11, 12, 20, 21, 22], "each chain runs to its end");
        assert_eq!(runner.drain().await.unwrap(), 1);
        assert_eq!(runner.work().done.lock().unwrap().len(), 9);
        assert!(runner.inner.claimed.lock().unwrap().is_empty());
        assert_eq!(runner.inner.slots.available_permits(), 2);
    }

    #[tokio::test]
    async fn a_failed_item_stays_claimed_and_is_handed_back_at_shutdown_unless_taken_over() {
        let runner = runner(4, vec![666, 777, 55]);
        assert_eq!(runner.run_once().await.unwrap(), 3);
        assert_eq!(*runner.work().done.lock().unwrap(), [55]);
        assert_eq!(
            *runner.inner.claimed.lock().unwrap(),
            HashSet::from([666]),
            "the failed item is still claimed; the one taken over is not"
        );
        let (stop, shutdown) = watch::channel(false);
        stop.send(true).unwrap();
        runner.clone().run(shutdown).await;
        assert_eq!(*runner.work().released.lock().unwrap(), [666]);
    }

    #[tokio::test]
    async fn queued_work_wakes_the_loop_and_shutdown_ends_it() {
        let runner = runner(1, Vec::new());
        let wakers = runner.inner.wakers.clone();
        let (stop, shutdown) = watch::channel(false);
        let task = tokio::spawn(runner.clone().run(shutdown));
        runner.work().due.lock().unwrap().push(40);
        wakers.wake(Queue::Sends);
        // The loop runs the item soon after the wake, not after IDLE_POLL.
        tokio::time::timeout(Duration::from_secs(10), async {
            while runner.work().done.lock().unwrap().len() < 3 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the woken runner processed the queued item");
        stop.send(true).unwrap();
        task.await.unwrap();
        assert!(runner.work().released.lock().unwrap().is_empty());
    }
}
