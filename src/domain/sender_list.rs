//! Allow and block lists of senders, per inbox and per account: their entries, how a sender is
//! matched against them, and what happens to mail from a sender they refuse.
//!
//! Matching: an address entry (`bob@example.com`) matches that address, case-insensitively; a
//! domain entry (`example.com`) matches every address at that domain and at its subdomains
//! (`x@mail.example.com`). A sender has up to two identities, the envelope sender (`MAIL FROM`)
//! and the address(es) of the `From` header: it is *blocked* when any identity matches the
//! block list of the inbox or of its account, and, when either of those has a non-empty allow
//! list, *allowed* only when some identity matches an allow entry (as in most mail systems'
//! safe-sender lists: mail sent through a provider has the provider's bounce address as its
//! envelope sender and the person's address in `From`).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::address::{AddressError, DomainName, EmailAddress};
use super::{AccountId, InboxId, ListEntryId, Timestamp};

/// Which list: senders let in, or senders refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ListName {
    /// Only these senders (when the list is not empty).
    Allow,
    /// Never these senders.
    Block,
}

impl ListName {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ListName::Allow => "allow",
            ListName::Block => "block",
        }
    }

    /// Reads a stored name.
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "allow" => Some(ListName::Allow),
            "block" => Some(ListName::Block),
            _ => None,
        }
    }
}

/// Whether an entry names one address or a whole domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// `bob@example.com`
    Address,
    /// `example.com` (and its subdomains)
    Domain,
}

impl EntryKind {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Address => "address",
            EntryKind::Domain => "domain",
        }
    }

    /// Reads a stored name.
    pub fn from_stored(s: &str) -> Option<Self> {
        match s {
            "address" => Some(EntryKind::Address),
            "domain" => Some(EntryKind::Domain),
            _ => None,
        }
    }
}

/// A valid list entry, lower case: an RFC 5321 mailbox (when it has an `@`) or a host name (a
/// trailing dot is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListEntry {
    entry: String,
    kind: EntryKind,
}

impl ListEntry {
    /// Validates with the project's address and domain rules, then lower-cases the whole
    /// entry (local parts are matched case-insensitively, as virtually every mail system does).
    pub fn parse(raw: &str) -> Result<Self, AddressError> {
        if raw.contains('@') {
            let address = EmailAddress::parse(raw)?;
            Ok(Self {
                entry: address.as_str().to_lowercase(),
                kind: EntryKind::Address,
            })
        } else {
            let domain = DomainName::parse(raw)?;
            Ok(Self {
                entry: domain.as_str().to_owned(),
                kind: EntryKind::Domain,
            })
        }
    }

    /// The entry, lower case.
    pub fn as_str(&self) -> &str {
        &self.entry
    }

    /// Address or domain.
    pub fn kind(&self) -> EntryKind {
        self.kind
    }
}

impl fmt::Display for ListEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.entry)
    }
}

/// A stored entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderListEntry {
    /// Its id (an opaque UUID, like every resource's).
    pub id: ListEntryId,
    /// The owner.
    pub account_id: AccountId,
    /// The inbox whose list it is on; `None` for the account-wide lists.
    pub inbox_id: Option<InboxId>,
    /// Allow or block.
    pub list: ListName,
    /// The address or domain, lower case.
    pub entry: String,
    /// Address or domain.
    pub kind: EntryKind,
    /// When it was added.
    pub created_at: Timestamp,
}

/// The list entries that would match a sender's addresses: each address itself (lower case),
/// its domain and every parent domain of it. Values that are not addresses (an empty null
/// sender, garbage) give nothing. Internationalised domains are matched by their A-labels, the
/// form entries are stored in.
pub fn candidates<'a>(addresses: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in addresses {
        let Some((local, domain)) = raw.trim().rsplit_once('@') else {
            continue;
        };
        let domain = domain.trim_end_matches('.');
        if local.is_empty() || domain.is_empty() {
            continue;
        }
        let domain = if domain.is_ascii() {
            domain.to_ascii_lowercase()
        } else {
            match idna::domain_to_ascii(domain) {
                Ok(d) => d,
                Err(_) => continue,
            }
        };
        out.push(format!("{}@{domain}", local.to_lowercase()));
        let mut rest = domain.as_str();
        loop {
            out.push(rest.to_owned());
            match rest.split_once('.') {
                Some((_, parent)) if !parent.is_empty() => rest = parent,
                _ => break,
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// What the lists of an inbox and its account say about a sender's identities.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Screening {
    /// Some identity matches a block entry.
    pub blocked: bool,
    /// The inbox or the account has an allow list (with at least one entry).
    pub allow_list: bool,
    /// Some identity matches an allow entry.
    pub allowed: bool,
}

/// What becomes of mail from a sender an allow list does not name (`smtp.not_allowed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotAllowed {
    /// Refused with `550 5.7.1`, like a blocked sender.
    #[default]
    Refuse,
    /// Accepted and stored without a `message.received` event, with the system label
    /// `blocked` instead of `unread`.
    Store,
}

/// The decision for one recipient inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver as usual.
    Accept,
    /// Store, but marked blocked and without telling anyone.
    Quarantine,
    /// Do not deliver (`550 5.7.1`).
    Refuse,
}

impl Screening {
    /// The decision, by the policy for senders not on an allow list. Blocked senders are
    /// always refused.
    pub fn verdict(self, not_allowed: NotAllowed) -> Verdict {
        if self.blocked {
            Verdict::Refuse
        } else if self.allow_list && !self.allowed {
            match not_allowed {
                NotAllowed::Refuse => Verdict::Refuse,
                NotAllowed::Store => Verdict::Quarantine,
            }
        } else {
            Verdict::Accept
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_addresses_or_domains_in_lower_case() {
        let a = ListEntry::parse("Bob.Smith@Example.COM").unwrap();
        assert_eq!(
            (a.as_str(), a.kind()),
            ("bob.smith@example.com", EntryKind::Address)
        );
        let d = ListEntry::parse("Mail.Example.com.").unwrap();
        assert_eq!(
            (d.as_str(), d.kind()),
            ("mail.example.com", EntryKind::Domain)
        );
        for bad in [
            "",
            "@example.com",
            "bob@",
            "a b.com",
            "bob@exa mple.com",
            "-x.com",
            "a..b",
        ] {
            assert!(ListEntry::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_sender_matches_its_address_its_domain_and_the_parent_domains() {
        assert_eq!(
            candidates(["Bob@Mail.Example.com"]),
            [
                "bob@mail.example.com",
                "com",
                "example.com",
                "mail.example.com"
            ]
        );
        assert!(candidates(["", "not an address", "@x.com", "x@"]).is_empty());
        assert!(candidates(["a@bücher.de"]).contains(&"xn--bcher-kva.de".to_owned()));
    }

    #[test]
    fn blocked_beats_allowed_and_the_policy_decides_the_rest() {
        let s = |blocked, allow_list, allowed| Screening {
            blocked,
            allow_list,
            allowed,
        };
        assert_eq!(
            s(false, false, false).verdict(NotAllowed::Refuse),
            Verdict::Accept
        );
        assert_eq!(
            s(true, true, true).verdict(NotAllowed::Store),
            Verdict::Refuse
        );
        assert_eq!(
            s(false, true, true).verdict(NotAllowed::Refuse),
            Verdict::Accept
        );
        assert_eq!(
            s(false, true, false).verdict(NotAllowed::Refuse),
            Verdict::Refuse
        );
        assert_eq!(
            s(false, true, false).verdict(NotAllowed::Store),
            Verdict::Quarantine
        );
    }
}
