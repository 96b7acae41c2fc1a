//! Changing labels: a message's or a whole thread's, each change announced as a
//! `message.updated` event (webhooks, the event stream) in the same transaction.

use crate::domain::{AccountId, LabelChange, MessageId, ThreadId, Timestamp};
use crate::events;
use crate::store::{Failure, Tx, labels};
use crate::webhooks::Event;
use crate::webhooks::events::MessageUpdated;

/// Applies `change` to one of the account's messages; announces it when it changed anything.
pub fn relabel_message(
    tx: &Tx<'_>,
    account_id: AccountId,
    id: MessageId,
    change: &LabelChange,
    now: Timestamp,
) -> Result<(), Failure> {
    let done = labels::change(tx, account_id, id, change)?;
    if done.changes.any() {
        let event = Event::MessageUpdated(MessageUpdated {
            message_id: id,
            inbox_id: done.inbox_id,
            thread_id: done.thread_id,
            labels: done.changes.labels,
            added_labels: done.changes.added,
            removed_labels: done.changes.removed,
        });
        events::emit(tx, account_id, &event, now)?;
    }
    Ok(())
}

/// Applies `change` to every message of one of the account's threads.
pub fn relabel_thread(
    tx: &Tx<'_>,
    account_id: AccountId,
    thread_id: ThreadId,
    change: &LabelChange,
    now: Timestamp,
) -> Result<(), Failure> {
    for id in labels::thread_members(tx, account_id, thread_id)? {
        relabel_message(tx, account_id, id, change, now)?;
    }
    Ok(())
}
