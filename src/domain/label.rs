//! Message labels: the system labels the server sets (`unread`, `read`, `sent`, `bounced`,
//! `blocked`) and the custom labels agents use as workflow state.

use std::collections::BTreeSet;

use super::ValidationErrors;

/// A label name: 1–64 characters of `a-z`, `0-9`, `_`, `.`, `:` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(String);

/// Received mail not yet read; exclusive with [`READ`].
pub const UNREAD: &str = "unread";
/// Received mail marked read; exclusive with [`UNREAD`].
pub const READ: &str = "read";
/// Every outbound message.
pub const SENT: &str = "sent";
/// An outbound message that bounced.
pub const BOUNCED: &str = "bounced";
/// Received mail from a sender the inbox does not allow, kept apart (not `unread`).
pub const BLOCKED: &str = "blocked";

/// Labels only the server sets or takes away: they state facts about the message.
const SERVER_ONLY: [&str; 3] = [SENT, BOUNCED, BLOCKED];

/// Most labels one message may carry, system labels included.
pub const MAX_PER_MESSAGE: usize = 50;

/// Longest label name.
pub const MAX_LEN: usize = 64;

impl Label {
    /// Validates a label name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > MAX_LEN {
            return Err(format!("must be 1 to {MAX_LEN} characters"));
        }
        if !raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.:-".contains(&b))
        {
            return Err("may contain only a-z, 0-9, '_', '.', ':' and '-'".to_owned());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A validated change of labels: what to add and what to take away, never the same label in
/// both, never a label only the server sets. Adding `read` takes `unread` away and the other
/// way round, so a message is never both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelChange {
    add: BTreeSet<Label>,
    remove: BTreeSet<Label>,
}

impl LabelChange {
    /// Validates `addLabels` and `removeLabels` (either or both may be absent: no change).
    pub fn parse(
        add: Option<Vec<String>>,
        remove: Option<Vec<String>>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let mut read = |field: &str, names: Option<Vec<String>>| -> BTreeSet<Label> {
            let names = names.unwrap_or_default();
            if names.len() > MAX_PER_MESSAGE {
                errors.add(field, format!("at most {MAX_PER_MESSAGE} labels"));
                return BTreeSet::new();
            }
            let mut labels = BTreeSet::new();
            for name in names {
                match Label::parse(&name) {
                    Ok(label) if SERVER_ONLY.contains(&label.as_str()) => errors.add(
                        field,
                        format!("{label:?} is set by the server and cannot be changed"),
                    ),
                    Ok(label) => {
                        labels.insert(label);
                    }
                    Err(why) => errors.add(field, format!("{name:?} {why}")),
                }
            }
            labels
        };
        let mut add = read("addLabels", add);
        let mut remove = read("removeLabels", remove);
        if let Some(both) = add.intersection(&remove).next() {
            errors.add(
                "removeLabels",
                format!("{both:?} is also in addLabels; a change names a label once"),
            );
        }
        let has = |set: &BTreeSet<Label>, name: &str| set.iter().any(|l| l.as_str() == name);
        if has(&add, READ) && has(&add, UNREAD) {
            errors.add("addLabels", "a message is either read or unread, not both");
        }
        errors.into_result(())?;
        for (added, other) in [(READ, UNREAD), (UNREAD, READ)] {
            if has(&add, added) {
                remove.insert(Label(other.to_owned()));
            }
        }
        add.retain(|l| !remove.contains(l));
        Ok(Self { add, remove })
    }

    /// Labels to add.
    pub fn add(&self) -> impl Iterator<Item = &Label> {
        self.add.iter()
    }

    /// Labels to take away.
    pub fn remove(&self) -> impl Iterator<Item = &Label> {
        self.remove.iter()
    }

    /// A change made by the server: take `unread` away and add `label` (a message from a sender
    /// its inbox does not allow is stored `blocked`, not `unread`).
    pub fn server(label: &'static str) -> Self {
        Self {
            add: BTreeSet::from([Label(label.to_owned())]),
            remove: BTreeSet::from([Label(UNREAD.to_owned())]),
        }
    }
}

/// What a change did to one message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelsChanged {
    /// Labels the message did not have and now has.
    pub added: Vec<String>,
    /// Labels it had and no longer has.
    pub removed: Vec<String>,
    /// All its labels now, sorted.
    pub labels: Vec<String>,
}

impl LabelsChanged {
    /// Whether anything changed.
    pub fn any(&self) -> bool {
        !self.added.is_empty() || !self.removed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names<'a>(labels: impl Iterator<Item = &'a Label>) -> Vec<&'a str> {
        labels.map(Label::as_str).collect()
    }

    #[test]
    fn names_are_checked() {
        for good in [
            "a",
            "todo",
            "needs-reply",
            "crm:lead.42",
            "x_y",
            &"a".repeat(64),
        ] {
            assert!(Label::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "Todo", "two words", "ü", "a/b", &"a".repeat(65), "x\n"] {
            assert!(Label::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn read_and_unread_exclude_each_other() {
        let c = LabelChange::parse(Some(vec!["read".into(), "done".into()]), None).unwrap();
        assert_eq!(names(c.add()), ["done", "read"]);
        assert_eq!(names(c.remove()), ["unread"]);
        let c = LabelChange::parse(Some(vec!["unread".into()]), Some(vec![])).unwrap();
        assert_eq!(names(c.remove()), ["read"]);
        assert!(LabelChange::parse(Some(vec!["read".into(), "unread".into()]), None).is_err());
    }

    #[test]
    fn bad_changes_are_refused() {
        let refused = |add: Option<Vec<&str>>, remove: Option<Vec<&str>>| {
            let own = |v: Option<Vec<&str>>| v.map(|v| v.into_iter().map(String::from).collect());
            LabelChange::parse(own(add), own(remove)).unwrap_err()
        };
        assert_eq!(
            LabelChange::parse(None, None).unwrap(),
            LabelChange::default()
        );
        assert!(
            refused(Some(vec!["sent"]), None)
                .fields()
                .contains_key("addLabels")
        );
        assert!(
            refused(None, Some(vec!["bounced"]))
                .fields()
                .contains_key("removeLabels")
        );
        assert!(
            refused(Some(vec!["x"]), Some(vec!["x"]))
                .fields()
                .contains_key("removeLabels")
        );
        assert!(
            refused(Some(vec!["Bad"]), None)
                .fields()
                .contains_key("addLabels")
        );
        let many: Vec<String> = (0..51).map(|i| format!("l{i}")).collect();
        assert!(LabelChange::parse(Some(many), None).is_err());
    }
}
