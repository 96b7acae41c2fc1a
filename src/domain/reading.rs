//! What an agent reads of a message, worked out once when it is stored: its new content
//! (quoted history and signatures taken out, [`super::extract`]) and its body as plain text
//! for the search index.

use super::extract::{Extracted, extract};

/// A message's new content and its searchable text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// The new content of the text body; `None` without a text body.
    pub extracted_text: Option<String>,
    /// The new content of the HTML body; `None` without an HTML body.
    pub extracted_html: Option<String>,
    /// The whole body as text: the text body, or else the HTML body reduced to text.
    pub body: String,
}

impl Reading {
    /// Works it out from the decoded bodies.
    pub fn of(text: Option<&str>, html: Option<&str>) -> Self {
        let Extracted { text: t, html: h } = extract(text, html);
        let body = match (text, html) {
            (Some(text), _) if !text.trim().is_empty() => text.to_owned(),
            (_, Some(html)) => mail_parser::decoders::html::html_to_text(html),
            (text, None) => text.unwrap_or_default().to_owned(),
        };
        Self {
            extracted_text: t,
            extracted_html: h,
            body,
        }
    }
}
