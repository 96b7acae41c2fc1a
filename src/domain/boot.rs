//! The identity of one run of the server process.

use std::fmt;
use std::sync::Arc;

/// A random id made at every start. Background work is claimed in its name, so that a later
/// start can tell work claimed by a run that died (and take it up at once) from its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BootId(Arc<str>);

impl BootId {
    /// A fresh id (16 random characters).
    pub fn new() -> Self {
        Self(super::random::lower_alnum(16).into())
    }

    /// The id as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for BootId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for BootId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
