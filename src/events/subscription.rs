//! One subscriber's view of the event log: its account's events that match its topics, in
//! order, each once.
//!
//! Opened with an event id to resume from, it first reads what followed that id from the log
//! (a page at a time, holding no database connection in between), then takes live events from
//! the hub's ring. The ring is joined *before* the log is read, and every event at or below the
//! last one handed out is skipped, so nothing falls between the two and nothing comes twice.

use std::sync::Arc;

use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::{EventHub, LiveEvent, Topics};
use crate::domain::AccountId;
use crate::store::Failure;
use crate::store::events as event_log;

/// Events read from the log at once while catching up.
const REPLAY_PAGE: usize = 256;

/// What [`Subscription::next`] hands out.
#[derive(Debug)]
pub enum Delivery {
    /// Matching events, in order.
    Events(Vec<Arc<LiveEvent>>),
    /// The subscriber fell more than the backlog behind the live events: the stream ends, and
    /// the client resumes from `last` (the last event it was given, or where it started).
    Overflow {
        /// The id to resume from.
        last: u64,
    },
    /// The hub has stopped (the server is shutting down).
    Closed,
}

/// Why a resumed subscription cannot continue exactly where its client left off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reset {
    /// The id the subscription continues after instead.
    pub resume_from: u64,
    /// True when events after the client's id are gone (past retention); false when the id is
    /// newer than any event this server has logged (another server's, or before a reset of
    /// this one).
    pub expired: bool,
}

/// A subscriber (see the module documentation).
pub struct Subscription {
    hub: EventHub,
    ring: Receiver<Arc<LiveEvent>>,
    account_id: AccountId,
    topics: Topics,
    /// The last event looked at, matching or not: everything up to it is done.
    cursor: u64,
    /// The last event handed out (what the client resumes from).
    last_delivered: u64,
    /// Still reading the log rather than the ring.
    replaying: bool,
    /// No live event was handed out since the last replay: a lag now means that the replay
    /// was long, not that the client is slow.
    fresh_from_replay: bool,
    /// Set when the ring was found lagging while draining it: reported by the next call.
    overflowed: bool,
    reset: Option<Reset>,
}

impl Subscription {
    pub(super) async fn open(
        hub: EventHub,
        account_id: AccountId,
        topics: Topics,
        after: Option<u64>,
    ) -> Result<Self, Failure> {
        // Join the ring first: every event published from here on reaches us through it.
        let ring = hub.ring();
        let (cursor, replaying, reset) = match after {
            // Everything published before joining counts as seen.
            None => (hub.published(), false, None),
            Some(after) => {
                let positions = hub.positions().await?;
                let reset = if after < positions.horizon {
                    Some(Reset {
                        resume_from: positions.horizon,
                        expired: true,
                    })
                } else if after > positions.head {
                    Some(Reset {
                        resume_from: positions.head,
                        expired: false,
                    })
                } else {
                    None
                };
                (reset.map_or(after, |r| r.resume_from), true, reset)
            }
        };
        Ok(Self {
            hub,
            ring,
            account_id,
            topics,
            cursor,
            last_delivered: cursor,
            replaying,
            fresh_from_replay: true,
            overflowed: false,
            reset,
        })
    }

    /// When the subscription was opened with an id it cannot resume from exactly: what it
    /// does instead (the client should resynchronise, e.g. by listing its messages).
    pub fn reset(&self) -> Option<Reset> {
        self.reset
    }

    /// The last event id handed out (or where the subscription started).
    pub fn last_delivered(&self) -> u64 {
        self.last_delivered
    }

    /// The topics.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Changes the topics; live events from now on are matched against the new ones. A live
    /// subscription that had none starts from now (it was owed nothing); one still to catch
    /// up (opened with an id) catches up with the new topics.
    pub fn set_topics(&mut self, topics: Topics) {
        if self.topics.is_empty() && !self.replaying {
            self.join_live();
            self.fresh_from_replay = true;
        }
        self.topics = topics;
    }

    /// Goes on from the live events as they are now, owing nothing before them.
    fn join_live(&mut self) {
        self.ring = self.ring.resubscribe();
        self.cursor = self.cursor.max(self.hub.published());
    }

    fn wants(&self, e: &LiveEvent) -> bool {
        e.account_id == self.account_id && self.topics.matches(e.inbox_id, e.name)
    }

    /// Takes a live event: skipped if already done, else handed out if it matches.
    fn take(&mut self, e: Arc<LiveEvent>, out: &mut Vec<Arc<LiveEvent>>) {
        if e.seq <= self.cursor {
            return;
        }
        self.cursor = e.seq;
        if self.wants(&e) {
            out.push(e);
        }
    }

    /// The next matching events (waiting for them), or why there are none. Cancel-safe: a
    /// call abandoned at an `.await` loses nothing.
    pub async fn next(&mut self) -> Result<Delivery, Failure> {
        loop {
            if self.overflowed {
                return Ok(Delivery::Overflow {
                    last: self.last_delivered,
                });
            }
            let out = if self.replaying {
                self.replay_page().await?
            } else {
                let first = match self.ring.recv().await {
                    Ok(e) => e,
                    Err(RecvError::Lagged(_)) => {
                        self.lagged();
                        continue;
                    }
                    Err(RecvError::Closed) => return Ok(Delivery::Closed),
                };
                let mut out = Vec::new();
                self.take(first, &mut out);
                // Whatever else is already there goes out with it, in one write.
                loop {
                    match self.ring.try_recv() {
                        Ok(e) => self.take(e, &mut out),
                        Err(TryRecvError::Lagged(_)) => {
                            self.lagged();
                            break;
                        }
                        Err(TryRecvError::Empty | TryRecvError::Closed) => break,
                    }
                }
                if !out.is_empty() {
                    self.fresh_from_replay = false;
                }
                out
            };
            if let Some(last) = out.last() {
                self.last_delivered = last.seq;
                return Ok(Delivery::Events(out));
            }
        }
    }

    /// The ring moved on past events not yet taken.
    fn lagged(&mut self) {
        if self.topics.is_empty() {
            // Nothing was owed: carry on from the live events.
            self.join_live();
        } else if self.replaying || self.fresh_from_replay {
            // Catching up took long; the log has what the ring dropped.
            self.ring = self.ring.resubscribe();
            self.replaying = true;
        } else {
            self.overflowed = true;
        }
    }

    /// One page of the log after the cursor; the end of the log switches to live events.
    async fn replay_page(&mut self) -> Result<Vec<Arc<LiveEvent>>, Failure> {
        let (account_id, after) = (self.account_id, self.cursor);
        let page = self
            .hub
            .store()
            .read(move |c| event_log::account_since(c, account_id, after, REPLAY_PAGE))
            .await?;
        if page.len() < REPLAY_PAGE {
            self.replaying = false;
            self.fresh_from_replay = true;
        }
        let mut out = Vec::new();
        for e in page {
            self.cursor = e.seq;
            let e = LiveEvent::from(e);
            if self.wants(&e) {
                out.push(Arc::new(e));
            }
        }
        Ok(out)
    }
}
