//! Wake-ups after commit: a write that queues background work marks its queue
//! ([`super::Tx::wake_after_commit`]), and once the transaction commits every waiter on that
//! queue is told. Waking earlier would let a worker look before the rows are visible.

use tokio::sync::watch;

/// A queue of background work that a commit can give work to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    /// Webhook deliveries.
    Webhooks,
    /// Outgoing mail.
    Sends,
    /// Background checks of custom domains.
    DomainChecks,
    /// The event log (new events for live subscribers).
    Events,
    /// Scheduled sends of drafts.
    Drafts,
}

impl Queue {
    /// Every queue, in the order of their discriminants (which index their signals and bits).
    pub const ALL: [Queue; 5] = [
        Queue::Webhooks,
        Queue::Sends,
        Queue::DomainChecks,
        Queue::Events,
        Queue::Drafts,
    ];

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// The queues to wake after a commit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct WakeSet(u8);

impl WakeSet {
    pub(super) fn with(self, queue: Queue) -> Self {
        Self(self.0 | queue.bit())
    }

    fn has(self, queue: Queue) -> bool {
        self.0 & queue.bit() != 0
    }

    /// Whether it wakes nothing.
    pub(super) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// As sent to other nodes (PostgreSQL's NOTIFY payload): a decimal number.
    pub(super) fn to_payload(self) -> String {
        self.0.to_string()
    }

    /// A payload of [`WakeSet::to_payload`]; every queue for anything else.
    pub(super) fn from_payload(payload: &str) -> Self {
        Self(payload.parse().unwrap_or(u8::MAX))
    }

    /// Every queue (after wake-ups may have been missed).
    pub(super) fn all() -> Self {
        Self(u8::MAX)
    }
}

/// The wake-up signals, one per queue. Each is a broadcast: every subscriber sees every
/// signal, and a signal sent while a subscriber was busy is still there when it next waits
/// (nothing is lost between a worker's look at its queue and its wait).
#[derive(Debug)]
pub struct Wakers {
    signals: [watch::Sender<u64>; Queue::ALL.len()],
}

impl Default for Wakers {
    fn default() -> Self {
        Self {
            signals: std::array::from_fn(|_| watch::Sender::new(0)),
        }
    }
}

impl Wakers {
    fn signal(&self, queue: Queue) -> &watch::Sender<u64> {
        &self.signals[queue as usize]
    }

    /// A new waiter on `queue`.
    pub fn subscribe(&self, queue: Queue) -> Wake {
        Wake(self.signal(queue).subscribe())
    }

    /// Wakes every waiter on `queue` (after a commit, or when the clock was moved).
    pub fn wake(&self, queue: Queue) {
        self.signal(queue).send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(super) fn wake_all(&self, set: WakeSet) {
        for queue in Queue::ALL {
            if set.has(queue) {
                self.wake(queue);
            }
        }
    }
}

/// One waiter's end of a queue's signal.
#[derive(Debug)]
pub struct Wake(watch::Receiver<u64>);

impl Wake {
    /// Forgets signals seen so far: call before looking at the queue, so that only work
    /// queued after the look wakes [`Wake::woken`].
    pub fn look(&mut self) {
        self.0.borrow_and_update();
    }

    /// Completes at the next signal not yet seen (at once if one came since the last look);
    /// never, once the store is gone.
    pub async fn woken(&mut self) {
        if self.0.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_waiter_sees_a_signal_even_one_sent_while_it_was_busy() {
        let wakers = Wakers::default();
        let (mut a, mut b) = (
            wakers.subscribe(Queue::Sends),
            wakers.subscribe(Queue::Sends),
        );
        let mut other = wakers.subscribe(Queue::Webhooks);
        a.look();
        b.look();
        other.look();
        wakers.wake_all(WakeSet::default().with(Queue::Sends));
        // Both waiters of the queue have it (each sees it once); the other queue's has not.
        assert!(a.0.has_changed().unwrap() && b.0.has_changed().unwrap());
        a.woken().await;
        b.woken().await;
        assert!(!a.0.has_changed().unwrap());
        assert!(!other.0.has_changed().unwrap());
    }
}
