//! From raw RFC 5322 bytes to the fields a message is stored with, best-effort: whatever the
//! input, this returns something (malformed mail is stored, never dropped).

use mail_parser::{Address, HeaderValue, Message, MessageParser, MimeHeaders, PartType};

use crate::domain::outbound::RETURN_PATH_PREFIX;

/// An attachment or inline part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAttachment {
    /// The filename as sent (not yet sanitised), if any.
    pub filename: Option<String>,
    /// `type/subtype`, lower case.
    pub content_type: String,
    /// Decoded bytes.
    pub content: Vec<u8>,
    /// `Content-ID` without angle brackets (inline parts).
    pub content_id: Option<String>,
}

/// A delivery-status or feedback report about earlier mail (RFC 3464 / RFC 5965).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// A DSN with at least one `Action: failed` recipient.
    Bounce {
        /// Message-IDs of the message it is about.
        original_ids: Vec<String>,
        /// `Permanent` (5.x.x) or `Transient`.
        bounce_type: String,
        /// The failed recipients.
        recipients: Vec<String>,
    },
    /// An ARF feedback report.
    Complaint {
        /// Message-IDs of the message it is about.
        original_ids: Vec<String>,
        /// Return paths of ours (VERP) quoted in the original's headers (the `Return-Path`
        /// the receiving server added).
        return_paths: Vec<String>,
        /// `Feedback-Type`, e.g. `abuse`.
        feedback_type: String,
    },
}

/// What ingestion needs of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedMail {
    /// `Name <addr>` or `addr`; the envelope sender when `From` is missing.
    pub from: String,
    /// Every address in `From` (RFC 5322 allows several), bare; empty when it is missing.
    pub from_addresses: Vec<String>,
    /// `To` addresses.
    pub to: Vec<String>,
    /// `Cc` addresses.
    pub cc: Vec<String>,
    /// Decoded subject.
    pub subject: String,
    /// Plain-text body (converted from HTML when there is only HTML).
    pub text: Option<String>,
    /// HTML body.
    pub html: Option<String>,
    /// Message-ID without angle brackets.
    pub message_id: Option<String>,
    /// In-Reply-To without angle brackets.
    pub in_reply_to: Option<String>,
    /// References, oldest first.
    pub references: Vec<String>,
    /// Attachments and inline parts, in message order.
    pub attachments: Vec<ParsedAttachment>,
    /// Set for bounces and complaints.
    pub report: Option<Report>,
}

/// Parses a message. `envelope_from` stands in for a missing `From`.
pub fn parse(raw: &[u8], envelope_from: &str) -> ParsedMail {
    let Some(message) = MessageParser::default().parse(raw) else {
        return ParsedMail {
            from: envelope_from.to_owned(),
            text: Some(String::from_utf8_lossy(raw).into_owned()),
            ..ParsedMail::default()
        };
    };
    let from = message
        .from()
        .and_then(|a| a.first())
        .and_then(|addr| {
            let address = addr.address()?;
            Some(match addr.name().map(str::trim).filter(|n| !n.is_empty()) {
                Some(name) => format!("{name} <{address}>"),
                None => address.to_owned(),
            })
        })
        .unwrap_or_else(|| envelope_from.to_owned());
    let html = message
        .html_bodies()
        .find(|p| p.is_text_html())
        .and_then(|p| p.text_contents())
        .map(str::to_owned);
    ParsedMail {
        from,
        from_addresses: addresses(message.from()),
        to: addresses(message.to()),
        cc: addresses(message.cc()),
        subject: message.subject().unwrap_or_default().to_owned(),
        text: message.body_text(0).map(|t| t.into_owned()),
        html,
        message_id: message.message_id().map(str::to_owned),
        in_reply_to: ids(message.in_reply_to()).into_iter().next_back(),
        references: ids(message.references()),
        attachments: message.attachments().map(attachment).collect(),
        report: report(&message),
    }
}

/// Where replies to a message go (RFC 5322 §3.6.2): the addresses of its `Reply-To`, else of
/// its `From`, bare; empty when it has neither. Only the header block is read.
pub fn reply_addresses(raw: &[u8]) -> Vec<String> {
    let end = memchr::memmem::find(raw, b"\r\n\r\n")
        .or_else(|| memchr::memmem::find(raw, b"\n\n"))
        .map_or(raw.len(), |at| at + 2);
    let Some(message) = MessageParser::default().parse_headers(&raw[..end]) else {
        return Vec::new();
    };
    let reply_to = addresses(message.reply_to());
    if reply_to.is_empty() {
        addresses(message.from())
    } else {
        reply_to
    }
}

fn addresses(list: Option<&Address<'_>>) -> Vec<String> {
    list.map(|a| {
        a.iter()
            .filter_map(|addr| addr.address().map(str::to_owned))
            .collect()
    })
    .unwrap_or_default()
}

fn ids(value: &HeaderValue<'_>) -> Vec<String> {
    match value {
        HeaderValue::Text(id) => vec![id.to_string()],
        HeaderValue::TextList(list) => list.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    }
}

fn attachment(part: &mail_parser::MessagePart<'_>) -> ParsedAttachment {
    let content_type = part
        .content_type()
        .map(|ct| {
            format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("octet-stream"))
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|| match part.body {
            PartType::Message(_) => "message/rfc822".to_owned(),
            PartType::Text(_) => "text/plain".to_owned(),
            PartType::Html(_) => "text/html".to_owned(),
            _ => "application/octet-stream".to_owned(),
        });
    ParsedAttachment {
        filename: part.attachment_name().map(str::to_owned),
        content_type,
        content: part.contents().to_vec(),
        content_id: part.content_id().map(str::to_owned),
    }
}

/// Recognises `multipart/report` bounces (`report-type=delivery-status`) and complaints
/// (`report-type=feedback-report`), and finds the Message-ID of the mail they are about in the
/// returned message or headers.
fn report(message: &Message<'_>) -> Option<Report> {
    let ct = message.content_type()?;
    if !ct.ctype().eq_ignore_ascii_case("multipart")
        || !ct
            .subtype()
            .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    {
        return None;
    }
    let report_type = ct.attribute("report-type")?.to_ascii_lowercase();
    let mut original_ids = Vec::new();
    let mut return_paths = Vec::new();
    let mut report_fields = None;
    for part in message.parts.iter().skip(1) {
        let ctype = part
            .content_type()
            .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase());
        match (ctype.as_deref(), &part.body) {
            (_, PartType::Message(returned)) => {
                original_ids.extend(returned.message_id().map(str::to_owned));
                return_paths.extend(quoted_return_paths(header_block(part.contents())));
            }
            (Some("text/rfc822-headers"), _) => {
                let headers = part.contents();
                if let Some(returned) = MessageParser::default().parse_headers(headers) {
                    original_ids.extend(returned.message_id().map(str::to_owned));
                }
                return_paths.extend(quoted_return_paths(headers));
            }
            (Some("message/delivery-status" | "message/feedback-report"), _) => {
                report_fields = Some(String::from_utf8_lossy(part.contents()).into_owned());
            }
            _ => {}
        }
    }
    let fields = report_fields?;
    original_ids.dedup();
    return_paths.dedup();
    match report_type.as_str() {
        "delivery-status" => {
            let groups = field_groups(&fields);
            let failed: Vec<&Vec<(String, String)>> = groups
                .iter()
                .filter(|g| field(g, "action").is_some_and(|a| a.eq_ignore_ascii_case("failed")))
                .collect();
            if failed.is_empty() {
                return None; // delayed, delivered or relayed: not a bounce
            }
            let permanent = failed
                .iter()
                .any(|g| field(g, "status").is_some_and(|s| s.trim_start().starts_with('5')));
            let recipients = failed
                .iter()
                .filter_map(|g| {
                    field(g, "final-recipient").or_else(|| field(g, "original-recipient"))
                })
                .map(|r| r.rsplit(';').next().unwrap_or(r).trim().to_owned())
                .collect();
            Some(Report::Bounce {
                original_ids,
                bounce_type: if permanent { "Permanent" } else { "Transient" }.to_owned(),
                recipients,
            })
        }
        "feedback-report" => {
            let groups = field_groups(&fields);
            let feedback_type = groups
                .iter()
                .find_map(|g| field(g, "feedback-type"))
                .unwrap_or("abuse")
                .trim()
                .to_owned();
            Some(Report::Complaint {
                original_ids,
                return_paths,
                feedback_type,
            })
        }
        _ => None,
    }
}

/// The header section of a message: up to the first empty line.
fn header_block(raw: &[u8]) -> &[u8] {
    memchr::memmem::find(raw, b"\r\n\r\n")
        .or_else(|| memchr::memmem::find(raw, b"\n\n"))
        .map_or(raw, |end| &raw[..end])
}

/// Addresses in `headers` that look like this server's return paths
/// (`bounces+<token>@<domain>`), lower-cased.
fn quoted_return_paths(headers: &[u8]) -> Vec<String> {
    let prefix = RETURN_PATH_PREFIX.as_bytes();
    let lower = headers.to_ascii_lowercase();
    let mut found = Vec::new();
    for start in memchr::memmem::find_iter(&lower, prefix) {
        let end = lower[start..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || b"<>\"';,()".contains(b))
            .map_or(lower.len(), |n| start + n);
        if let Ok(address) = std::str::from_utf8(&lower[start..end])
            && address.contains('@')
            && !found.iter().any(|f: &String| f == address)
        {
            found.push(address.to_owned());
        }
    }
    found
}

/// `Name: value` fields (folded lines joined), in blank-line separated groups.
fn field_groups(text: &str) -> Vec<Vec<(String, String)>> {
    let mut groups = vec![Vec::new()];
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if groups
                .last()
                .is_some_and(|g: &Vec<(String, String)>| !g.is_empty())
            {
                groups.push(Vec::new());
            }
            continue;
        }
        let group = groups.last_mut();
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.and_then(|g| g.last_mut()) {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':')
            && let Some(group) = group
        {
            group.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    groups.retain(|g| !g.is_empty());
    groups
}

fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simple_message_is_parsed() {
        let raw =
            b"From: Ada Lovelace <ada@example.com>\r\nTo: a@x.test, b@x.test\r\nCc: c@x.test\r\n\
Subject: =?utf-8?q?Caf=C3=A9?=\r\nMessage-ID: <m1@example.com>\r\nIn-Reply-To: <m0@example.com>\r\n\
References: <a@x> <m0@example.com>\r\n\r\nHello\r\n";
        let p = parse(raw, "bounce@example.com");
        assert_eq!(p.from, "Ada Lovelace <ada@example.com>");
        assert_eq!(p.to, ["a@x.test", "b@x.test"]);
        assert_eq!(p.cc, ["c@x.test"]);
        assert_eq!(p.subject, "Café");
        assert_eq!(p.text.as_deref(), Some("Hello\r\n"));
        assert_eq!(p.html, None);
        assert_eq!(p.message_id.as_deref(), Some("m1@example.com"));
        assert_eq!(p.in_reply_to.as_deref(), Some("m0@example.com"));
        assert_eq!(p.references, ["a@x", "m0@example.com"]);
        assert!(p.report.is_none());
    }

    #[test]
    fn garbage_still_gives_something() {
        let p = parse(b"\x00\xff not mail at all", "x@y.test");
        assert_eq!(p.from, "x@y.test");
    }

    #[test]
    fn a_dsn_is_a_bounce_about_the_returned_message() {
        let raw = b"From: MAILER-DAEMON@mx.test\r\nTo: agent@x.test\r\nSubject: Undelivered\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.test\r\n\r\n\
Final-Recipient: rfc822; gone@else.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n\
--b\r\nContent-Type: text/rfc822-headers\r\n\r\nReturn-Path: <Bounces+abc123@x.test>\r\n\
Message-ID: <orig@x.test>\r\nSubject: hi\r\n\r\n--b--\r\n";
        let p = parse(raw, "");
        assert_eq!(
            p.report,
            Some(Report::Bounce {
                original_ids: vec!["orig@x.test".to_owned()],
                bounce_type: "Permanent".to_owned(),
                recipients: vec!["gone@else.test".to_owned()],
            })
        );
    }

    #[test]
    fn return_paths_are_read_from_the_quoted_headers_only() {
        let body = b"Return-Path: <bounces+tok1@a.test>\r\nX: bounces+tok2@b.test;\r\n\r\n\
bounces+in-the-body@c.test\r\n";
        assert_eq!(
            quoted_return_paths(header_block(body)),
            ["bounces+tok1@a.test", "bounces+tok2@b.test"]
        );
    }
}
