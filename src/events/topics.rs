//! What a subscriber wants: a set of (inbox, event type) topics, either of which may be "any".

use std::collections::BTreeSet;

use crate::domain::InboxId;
use crate::domain::webhook::EventName;

/// A set of topics. A filter of event types and inboxes is the cross product of the two lists
/// (a missing list meaning "any"); subscribing adds such a product, unsubscribing removes one.
/// Empty, nothing matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Topics(BTreeSet<(Option<InboxId>, Option<EventName>)>);

impl Topics {
    /// Every event of the given types (`None`: any type) in the given inboxes (`None`: any
    /// inbox, and events of no inbox such as `domain.verified`).
    pub fn of(types: Option<&[EventName]>, inboxes: Option<&[InboxId]>) -> Self {
        let types: Vec<Option<EventName>> =
            types.map_or_else(|| vec![None], |t| t.iter().copied().map(Some).collect());
        let inboxes: Vec<Option<InboxId>> =
            inboxes.map_or_else(|| vec![None], |i| i.iter().copied().map(Some).collect());
        Self(
            inboxes
                .iter()
                .flat_map(|i| types.iter().map(move |t| (*i, *t)))
                .collect(),
        )
    }

    /// Adds `other`'s topics.
    pub fn add(&mut self, other: &Topics) {
        self.0.extend(other.0.iter().copied());
    }

    /// Removes `other`'s topics (exactly those: removing one inbox does not narrow "any inbox").
    pub fn remove(&mut self, other: &Topics) {
        for topic in &other.0 {
            self.0.remove(topic);
        }
    }

    /// Removes every topic.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// Whether no event matches.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many topics there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether an event of `name` about `inbox` matches.
    pub fn matches(&self, inbox: Option<InboxId>, name: EventName) -> bool {
        let any = |t: Option<EventName>| self.0.contains(&(None, t));
        let this = |t: Option<EventName>| inbox.is_some() && self.0.contains(&(inbox, t));
        any(Some(name)) || any(None) || this(Some(name)) || this(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_the_product_of_its_lists_and_unsubscribing_removes_exactly_it() {
        let (a, b) = (InboxId::new(), InboxId::new());
        let received = EventName::MessageReceived;
        let mut topics = Topics::of(Some(&[received]), Some(&[a]));
        assert!(topics.matches(Some(a), received));
        assert!(!topics.matches(Some(b), received));
        assert!(!topics.matches(Some(a), EventName::MessageSent));
        assert!(!topics.matches(None, EventName::DomainVerified));

        topics.add(&Topics::of(None, Some(&[b])));
        assert!(topics.matches(Some(b), EventName::MessageBounced));
        topics.remove(&Topics::of(Some(&[received]), Some(&[a])));
        assert!(!topics.matches(Some(a), received));
        assert!(topics.matches(Some(b), received));

        let all = Topics::of(None, None);
        assert!(all.matches(None, EventName::DomainVerified));
        assert!(all.matches(Some(a), received));
        assert!(Topics::default().is_empty());
        assert!(!Topics::default().matches(Some(a), received));
    }
}
