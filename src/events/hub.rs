//! The in-process fan-out of the event log: one task reads each committed event once and
//! hands it to every live subscriber through a bounded ring (a subscriber that falls more than
//! the ring behind notices on its next read). It also watches the API keys that open streams
//! use, so that a revoked key's streams close within [`KEY_CHECK_INTERVAL`].

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use super::subscription::Subscription;
use super::{LiveEvent, Topics};
use crate::config::EventsConfig;
use crate::domain::{AccountId, ApiKeyId, Clock};
use crate::store::events::{self as event_log, Positions};
use crate::store::{Failure, Queue, Store, accounts};

/// How often the keys of open streams are checked.
pub const KEY_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// Events read from the log at once.
const READ_BATCH: usize = 512;
/// The least time between two reads of the log while events keep coming: events committed
/// meanwhile go out together, so that each subscriber is woken (and writes to its socket) once
/// for all of them rather than once each. What it adds to an event's latency is at most this.
const COALESCE: Duration = Duration::from_millis(20);

/// The fan-out (cheap to clone).
#[derive(Clone)]
pub struct EventHub {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    config: EventsConfig,
    ring: broadcast::Sender<Arc<LiveEvent>>,
    /// The last sequence number put into the ring.
    published: AtomicU64,
    closing: watch::Sender<bool>,
    /// Keys of open streams, with how many streams use each.
    keys: Mutex<HashMap<ApiKeyId, usize>>,
    /// Keys found revoked or expired.
    revoked: watch::Sender<Arc<BTreeSet<ApiKeyId>>>,
}

impl EventHub {
    /// A hub whose fan-out starts after the log's current head.
    pub async fn start(
        store: Store,
        clock: Arc<dyn Clock>,
        config: EventsConfig,
    ) -> Result<Self, Failure> {
        let head = store.read(event_log::positions).await?.head;
        let (ring, _) = broadcast::channel(config.max_backlog);
        Ok(Self {
            inner: Arc::new(Inner {
                store,
                clock,
                config,
                ring,
                published: AtomicU64::new(head),
                closing: watch::Sender::new(false),
                keys: Mutex::new(HashMap::new()),
                revoked: watch::Sender::new(Arc::default()),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &EventsConfig {
        &self.inner.config
    }

    pub(super) fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Live subscribers (streams and waits), for the metrics.
    pub fn subscribers(&self) -> usize {
        self.inner.ring.receiver_count()
    }

    /// The last sequence number handed to subscribers.
    pub(super) fn published(&self) -> u64 {
        self.inner.published.load(Ordering::SeqCst)
    }

    pub(super) fn ring(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.inner.ring.subscribe()
    }

    /// The log's head and horizon.
    pub async fn positions(&self) -> Result<Positions, Failure> {
        self.inner.store.read(event_log::positions).await
    }

    /// Subscribes `account_id` to `topics`: live events from now on, or with `after`, every
    /// event after it that is still logged first. See [`Subscription`].
    pub async fn subscribe(
        &self,
        account_id: AccountId,
        topics: Topics,
        after: Option<u64>,
    ) -> Result<Subscription, Failure> {
        Subscription::open(self.clone(), account_id, topics, after).await
    }

    /// Completes once the server is shutting down: streams end.
    pub async fn closed(&self) {
        let mut closing = self.inner.closing.subscribe();
        // The sender lives as long as the hub.
        let _ = closing.wait_for(|c| *c).await;
    }

    /// Tells every stream to end (at shutdown, before the HTTP server waits for its
    /// connections).
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// Watches a stream's key: [`KeyWatch::revoked`] completes once it is revoked or expires.
    pub fn watch_key(&self, key: ApiKeyId) -> KeyWatch {
        *self
            .inner
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(key)
            .or_default() += 1;
        KeyWatch {
            hub: self.clone(),
            key,
            revoked: self.inner.revoked.subscribe(),
        }
    }

    /// Puts every event committed since the last call into the ring. Returns how many.
    pub async fn publish(&self) -> Result<usize, Failure> {
        let mut total = 0;
        loop {
            let after = self.published();
            let batch = self
                .inner
                .store
                .read(move |c| event_log::since(c, after, READ_BATCH))
                .await?;
            let n = batch.len();
            for e in batch {
                // The number first: a subscriber that joins in between skips this event
                // rather than seeing it twice (see `Subscription::open`).
                self.inner.published.store(e.seq, Ordering::SeqCst);
                // No receivers is not an error: nobody is listening.
                let _ = self.inner.ring.send(Arc::new(LiveEvent::from(e)));
            }
            total += n;
            if n < READ_BATCH {
                return Ok(total);
            }
        }
    }

    /// Checks the keys of open streams; those revoked or expired are announced.
    async fn check_keys(&self) -> Result<(), Failure> {
        let keys: Vec<ApiKeyId> = self
            .inner
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        if keys.is_empty() {
            return Ok(());
        }
        let now = self.inner.clock.now();
        let dead = self
            .inner
            .store
            .read(move |c| accounts::dead_keys(c, &keys, now))
            .await?;
        if !dead.is_empty() {
            self.inner
                .revoked
                .send_replace(Arc::new(dead.into_iter().collect()));
        }
        Ok(())
    }

    /// Fans out new events as they are committed and checks stream keys, until `shutdown`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut wake = self.inner.store.wakers().subscribe(Queue::Events);
        let mut keys = tokio::time::interval(KEY_CHECK_INTERVAL);
        keys.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            wake.look();
            let read_at = tokio::time::Instant::now();
            match self.publish().await {
                Ok(0) => {}
                Ok(_) => tokio::time::sleep_until(read_at + COALESCE).await,
                Err(e) => {
                    log::warn!("reading the event log failed: {e}");
                    // Try again shortly, without spinning on a broken database.
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            }
            tokio::select! {
                () = wake.woken() => {}
                _ = keys.tick() => {
                    if let Err(e) = self.check_keys().await {
                        log::warn!("checking the keys of open streams failed: {e}");
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// A stream's watch on its API key; unregisters itself when dropped.
pub struct KeyWatch {
    hub: EventHub,
    key: ApiKeyId,
    revoked: watch::Receiver<Arc<BTreeSet<ApiKeyId>>>,
}

impl KeyWatch {
    /// Completes once the key is revoked or has expired (never, if the hub is gone).
    pub async fn revoked(&mut self) {
        let key = self.key;
        if self
            .revoked
            .wait_for(|dead| dead.contains(&key))
            .await
            .is_err()
        {
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for KeyWatch {
    fn drop(&mut self) {
        let mut keys = self
            .hub
            .inner
            .keys
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = keys.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                keys.remove(&self.key);
            }
        }
    }
}
