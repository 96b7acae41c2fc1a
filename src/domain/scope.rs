//! What an API key may do: its scopes. Every endpoint and MCP tool names the scopes it needs
//! (none, when any valid key will do); a key without one of them gets `403 INSUFFICIENT_SCOPE`.

use std::fmt;

use super::Refusal;

/// One scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read anything of the account: inboxes, mail, threads, webhooks, domains, events.
    Read,
    /// Send mail: messages, replies, forwards, drafts and the attachments they carry.
    Send,
    /// Change the account's resources: inboxes, labels, webhooks, domains, lists, keys.
    Manage,
    /// Send drafts that need a person's approval, and create keys that may.
    Approve,
}

impl Scope {
    /// Every scope, in the order they are listed.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Send, Scope::Manage, Scope::Approve];

    /// The wire and stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Send => "send",
            Scope::Manage => "manage",
            Scope::Approve => "approve",
        }
    }

    /// The scope a name stands for.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }

    const fn bit(self) -> u8 {
        match self {
            Scope::Read => 1,
            Scope::Send => 2,
            Scope::Manage => 4,
            Scope::Approve => 8,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A key's set of scopes (never empty).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scopes(u8);

impl Scopes {
    /// What a key gets when none are named, and what every auto-provisioned or seeded key
    /// has: everything but `approve`.
    pub const DEFAULT: Scopes = Scopes(1 | 2 | 4);
    /// Every scope: the operator's command line may grant them all.
    pub const ALL: Scopes = Scopes(1 | 2 | 4 | 8);

    /// The set of just `scope`.
    pub const fn only(scope: Scope) -> Scopes {
        Scopes(scope.bit())
    }

    /// The set of a list of names; an unknown name, a repeated one or an empty list is a
    /// message for the caller.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        if names.is_empty() {
            return Err("must name at least one of read, send, manage, approve".to_owned());
        }
        let mut bits = 0;
        for name in names {
            let name = name.as_ref();
            let scope = Scope::parse(name).ok_or_else(|| {
                format!("has {name:?}, which is none of read, send, manage, approve")
            })?;
            if bits & scope.bit() != 0 {
                return Err(format!("names {name} twice"));
            }
            bits |= scope.bit();
        }
        Ok(Self(bits))
    }

    /// The stored form: a bit per scope.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// From the stored form; `None` for a value no version wrote.
    pub fn from_bits(bits: u8) -> Option<Self> {
        (bits != 0 && bits & !Self::ALL.0 == 0).then_some(Self(bits))
    }

    /// Whether the set has `scope`.
    pub fn has(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    /// The scopes, in [`Scope::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.has(*s))
    }

    /// The names, for the wire.
    pub fn names(self) -> Vec<&'static str> {
        self.iter().map(Scope::as_str).collect()
    }

    /// Passes when the set has `scope`.
    pub fn require(self, scope: Scope) -> Result<(), Refusal> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(Refusal::MissingScope(scope))
        }
    }

    /// Passes when a key with these scopes may create a key with `wanted`: never more than
    /// its own, so `approve` comes only from a key that has it (or from the operator).
    pub fn may_grant(self, wanted: Scopes) -> Result<(), Refusal> {
        match wanted.iter().find(|s| !self.has(*s)) {
            None => Ok(()),
            Some(missing) => Err(Refusal::MissingScope(missing)),
        }
    }
}

impl fmt::Debug for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_into_a_set_and_back() {
        let s = Scopes::parse(&["send", "read"]).unwrap();
        assert_eq!(s.names(), ["read", "send"]);
        assert!(s.has(Scope::Read) && !s.has(Scope::Manage));
        assert_eq!(Scopes::from_bits(s.bits()), Some(s));
        assert_eq!(Scopes::DEFAULT.names(), ["read", "send", "manage"]);
        assert!(Scopes::parse::<&str>(&[]).is_err());
        assert!(Scopes::parse(&["read", "read"]).is_err());
        assert!(Scopes::parse(&["admin"]).unwrap_err().contains("admin"));
        assert_eq!(Scopes::from_bits(0), None);
        assert_eq!(Scopes::from_bits(16), None);
    }

    #[test]
    fn a_key_grants_only_what_it_has() {
        let read_send = Scopes::parse(&["read", "send"]).unwrap();
        assert!(Scopes::DEFAULT.may_grant(read_send).is_ok());
        assert!(read_send.may_grant(Scopes::DEFAULT).is_err());
        assert!(Scopes::DEFAULT.may_grant(Scopes::ALL).is_err());
        assert!(Scopes::ALL.may_grant(Scopes::ALL).is_ok());
        assert!(matches!(
            read_send.require(Scope::Manage),
            Err(Refusal::MissingScope(Scope::Manage))
        ));
    }
}
