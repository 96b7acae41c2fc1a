//! Field-level validation messages, reported as `details` in a `400 VALIDATION_ERROR`.

use std::collections::BTreeMap;

/// Messages per request field (the camelCase wire name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors(BTreeMap<String, Vec<String>>);

impl ValidationErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// One error on one field.
    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }

    /// Records a message for `field`.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }

    /// Keeps the value of `result`, or records its error under `field`.
    pub fn check<T, E: std::fmt::Display>(
        &mut self,
        field: &str,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when nothing was recorded, else the errors.
    pub fn into_result<T>(self, value: T) -> Result<T, Self> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }

    /// The messages by field.
    pub fn fields(&self) -> &BTreeMap<String, Vec<String>> {
        &self.0
    }

    /// A one-line summary for the error's `message`: the first field's first message.
    pub fn summary(&self) -> String {
        match self.0.iter().next() {
            Some((field, messages)) => {
                let first = messages.first().map(String::as_str).unwrap_or("is invalid");
                format!("{field}: {first}")
            }
            None => "The request is invalid.".to_owned(),
        }
    }
}

/// Rejects the characters that would let a value escape a header or a log line.
pub fn has_line_breaks_or_nul(s: &str) -> bool {
    s.contains(['\r', '\n', '\0'])
}
