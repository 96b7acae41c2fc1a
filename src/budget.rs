//! A process-wide budget for bytes held in memory on behalf of clients: messages arriving by
//! SMTP, uploads and JSON bodies arriving over HTTP. Each is buffered whole before it is
//! stored, so without a budget a hundred SMTP sessions each sending a 25 MiB message could hold
//! gigabytes at once. A client that would go past the budget is told to come back later (SMTP
//! `452`, HTTP `503`); nothing already accepted is affected. (The send worker is bounded by
//! `outbound.concurrency` messages instead: waiting for this budget, it would hold up clients
//! and outlive its claims.)
//!
//! What counts is the peak a piece of data reaches, not its size: a message is parsed (its
//! body decoded) and stored (SQLite copies the body text it is given), so it counts
//! [`MESSAGE_PEAK_FACTOR`] times its size from its first byte on. (That memory is given back
//! to the system when freed: see `tune_allocator` in `main.rs`.)

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Granularity of the accounting (and of each reservation step).
const UNIT: usize = 64 * 1024;

/// Bytes of memory a message needs at its peak per byte of its size: the raw bytes, the
/// decoded body or attachments, and the two copies SQLite makes of the body text while storing
/// it (the bound value and the row's record). The raw bytes themselves are written into the
/// database in place. Measured: a 20 MiB message raised RSS by 4.1 times its size.
pub const MESSAGE_PEAK_FACTOR: usize = 4;

/// The same for a JSON request body: the bytes, the parsed tree and the typed value.
pub const JSON_PEAK_FACTOR: usize = 3;

/// The budget (cheap to clone; clones share it).
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    units: Arc<Semaphore>,
    total: usize,
}

impl MemoryBudget {
    /// A budget of `bytes` (rounded up to 64 KiB).
    pub fn new(bytes: usize) -> Self {
        let total = bytes.div_ceil(UNIT);
        Self {
            units: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// An empty reservation, to grow as data arrives.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: None,
            units: 0,
        }
    }

    /// Bytes reserved right now (for tests and diagnostics).
    pub fn in_use(&self) -> usize {
        (self.total - self.units.available_permits()) * UNIT
    }
}

/// Bytes reserved for one message or upload; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: MemoryBudget,
    held: Option<OwnedSemaphorePermit>,
    units: usize,
}

impl Reservation {
    /// Makes the reservation cover `bytes`; `false` (and no change) when the budget cannot.
    pub fn grow_to(&mut self, bytes: usize) -> bool {
        let needed = bytes.div_ceil(UNIT);
        if needed <= self.units {
            return true;
        }
        let Ok(more) = u32::try_from(needed - self.units) else {
            return false;
        };
        match self.budget.units.clone().try_acquire_many_owned(more) {
            Ok(permit) => {
                match &mut self.held {
                    Some(held) => held.merge(permit),
                    None => self.held = Some(permit),
                }
                self.units = needed;
                true
            }
            Err(_) => false,
        }
    }
}

/// Makes room for `more` bytes in `buf`, doubling as usual but never past `max` bytes in all,
/// so that a buffer the budget allows `max` for never needs more (plain doubling would take a
/// 10 MiB upload to a 16 MiB allocation).
pub fn reserve_up_to(buf: &mut Vec<u8>, more: usize, max: usize) {
    let needed = buf.len() + more;
    if needed > buf.capacity() {
        let target = needed
            .max(buf.capacity().saturating_mul(2))
            .min(max.max(needed));
        buf.reserve_exact(target - buf.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_double_but_stop_at_their_maximum() {
        let mut buf = Vec::new();
        let mut sizes = Vec::new();
        for _ in 0..10 {
            reserve_up_to(&mut buf, 1000, 5000);
            buf.extend_from_slice(&[0; 1000][..1000.min(5000 - buf.len())]);
            sizes.push(buf.capacity());
            if buf.len() == 5000 {
                break;
            }
        }
        assert!(buf.capacity() <= 5000, "{sizes:?}");
        assert_eq!(buf.len(), 5000);
        // Doubling, not one step per write.
        assert!(
            sizes.len() <= 5 && sizes.windows(2).all(|w| w[1] >= w[0]),
            "{sizes:?}"
        );
    }

    #[test]
    fn reservations_share_the_budget_and_give_it_back() {
        let budget = MemoryBudget::new(4 * UNIT);
        let mut a = budget.reservation();
        assert!(a.grow_to(1));
        assert_eq!(budget.in_use(), UNIT);
        assert!(a.grow_to(3 * UNIT));
        let mut b = budget.reservation();
        assert!(b.grow_to(UNIT));
        assert!(!b.grow_to(UNIT + 1), "past the budget");
        assert_eq!(budget.in_use(), 4 * UNIT);
        drop(a);
        assert_eq!(budget.in_use(), UNIT);
        assert!(b.grow_to(4 * UNIT));
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }
}
