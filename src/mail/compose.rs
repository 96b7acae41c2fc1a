//! Outgoing MIME with mail-builder: From with display name, To, Cc (Bcc only in
//! the envelope), Subject (RFC 2047 when not ASCII), Date, Message-ID, In-Reply-To and
//! References for replies; text/plain, text/html or multipart/alternative, inside
//! multipart/mixed with base64 attachments (RFC 2231 filenames). CRLF line ends throughout.

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::mime::MimePart;

use crate::domain::{EmailAddress, Timestamp};

/// One attachment.
#[derive(Debug, Clone, Copy)]
pub struct Part<'a> {
    /// Filename.
    pub filename: &'a str,
    /// MIME type.
    pub content_type: &'a str,
    /// Bytes.
    pub content: &'a [u8],
}

/// What a message is made of.
#[derive(Debug, Clone)]
pub struct Composition<'a> {
    /// Sender's display name.
    pub from_name: Option<&'a str>,
    /// Sender's address.
    pub from: &'a str,
    /// `To`.
    pub to: &'a [EmailAddress],
    /// `Cc`.
    pub cc: &'a [EmailAddress],
    /// Subject (already checked for line breaks).
    pub subject: &'a str,
    /// Text body.
    pub text: Option<&'a str>,
    /// HTML body.
    pub html: Option<&'a str>,
    /// Message-ID, without brackets.
    pub message_id: &'a str,
    /// In-Reply-To, without brackets.
    pub in_reply_to: Option<&'a str>,
    /// References, oldest first, without brackets.
    pub references: &'a [String],
    /// Attachments.
    pub attachments: &'a [Part<'a>],
    /// The Date header.
    pub date: Timestamp,
}

fn address_list(list: &[EmailAddress]) -> Address<'_> {
    Address::new_list(list.iter().map(|a| Address::from(a.as_str())).collect())
}

/// Whether `content` can go as it is in a 7bit part (RFC 2045 §2.7): ASCII without NUL, CR
/// and LF only as CRLF, lines of at most 998 characters.
fn is_7bit(content: &[u8]) -> bool {
    let mut line = 0usize;
    let mut prev = 0u8;
    for &b in content {
        match b {
            0 | 0x80.. => return false,
            b'\n' if prev != b'\r' => return false,
            b'\n' => line = 0,
            b'\r' => {}
            _ if prev == b'\r' => return false,
            _ => {
                line += 1;
                if line > 998 {
                    return false;
                }
            }
        }
        prev = b;
    }
    prev != b'\r'
}

/// Builds the bytes. They end with CRLF.
pub fn compose(c: &Composition<'_>) -> std::io::Result<Vec<u8>> {
    let from = match c.from_name {
        Some(name) => Address::from((name, c.from)),
        None => Address::from(c.from),
    };
    let mut builder = MessageBuilder::new()
        .from(from)
        .to(address_list(c.to))
        .subject(c.subject)
        .date(c.date.as_secs())
        .message_id(c.message_id);
    if !c.cc.is_empty() {
        builder = builder.cc(address_list(c.cc));
    }
    if let Some(parent) = c.in_reply_to {
        builder = builder.in_reply_to(parent);
    }
    if !c.references.is_empty() {
        builder = builder.references(c.references);
    }
    match (c.text, c.html) {
        (text, Some(html)) => {
            builder = builder.html_body(html);
            if let Some(text) = text {
                builder = builder.text_body(text);
            }
        }
        (text, None) => builder = builder.text_body(text.unwrap_or("")),
    }
    for part in c.attachments {
        if part.content_type.eq_ignore_ascii_case("message/rfc822") && is_7bit(part.content) {
            // RFC 2046 §5.2.1: a message/rfc822 body is 7bit, 8bit or binary, never base64.
            // 7bit is kept as it is; anything else is base64 after all (which clients read),
            // since 8bit would need 8BITMIME of every server on the way.
            let embedded = MimePart::new("message/rfc822", part.content)
                .attachment(part.filename)
                .transfer_encoding("7bit");
            builder
                .attachments
                .get_or_insert_with(Vec::new)
                .push(embedded);
        } else {
            builder = builder.attachment(part.content_type.to_owned(), part.filename, part.content);
        }
    }
    let mut raw = builder.write_to_vec()?;
    if !raw.ends_with(b"\r\n") {
        raw.extend_from_slice(b"\r\n");
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> EmailAddress {
        EmailAddress::parse(s).unwrap()
    }

    #[test]
    fn a_reply_with_an_attachment_has_the_headers_and_parts_it_should() {
        let to = [addr("bob@example.com")];
        let cc = [addr("carol@example.com")];
        let refs = ["a@x".to_owned(), "b@x".to_owned()];
        let parts = [Part {
            filename: "résumé.pdf",
            content_type: "application/pdf",
            content: b"%PDF-1.4",
        }];
        let raw = compose(&Composition {
            from_name: Some("Agent Ü"),
            from: "agent@agentsend.localhost",
            to: &to,
            cc: &cc,
            subject: "Grüße",
            text: Some("hello"),
            html: Some("<p>hello</p>"),
            message_id: "m1@agentsend.localhost",
            in_reply_to: Some("b@x"),
            references: &refs,
            attachments: &parts,
            date: Timestamp::from_millis(1_700_000_000_000),
        })
        .unwrap();
        let parsed = mail_parser::MessageParser::default()
            .parse(&raw[..])
            .unwrap();
        assert_eq!(parsed.subject(), Some("Grüße"));
        assert_eq!(parsed.message_id(), Some("m1@agentsend.localhost"));
        assert_eq!(parsed.in_reply_to().as_text(), Some("b@x"));
        assert_eq!(
            parsed.from().unwrap().first().unwrap().name(),
            Some("Agent Ü")
        );
        assert_eq!(parsed.body_text(0).as_deref(), Some("hello"));
        assert_eq!(parsed.attachments().count(), 1);
        let text = String::from_utf8_lossy(&raw);
        assert!(!text.contains("Bcc"));
        assert!(text.lines().all(|l| l.len() <= 998));
        assert!(
            raw.windows(2)
                .filter(|w| w[1] == b'\n')
                .all(|w| w[0] == b'\r'),
            "CRLF only"
        );
    }

    #[test]
    fn a_forwarded_message_goes_as_it_is_when_it_is_7bit() {
        let original = b"From: a@x.test\r\nSubject: hi\r\n\r\nhello\r\n";
        let compose_with = |content: &'static [u8]| {
            let to = [addr("bob@example.com")];
            let parts = [Part {
                filename: "hi.eml",
                content_type: "message/rfc822",
                content,
            }];
            compose(&Composition {
                from_name: None,
                from: "agent@agentsend.localhost",
                to: &to,
                cc: &[],
                subject: "Fwd: hi",
                text: Some("FYI"),
                html: None,
                message_id: "m2@agentsend.localhost",
                in_reply_to: None,
                references: &[],
                attachments: &parts,
                date: Timestamp::from_millis(1_700_000_000_000),
            })
            .unwrap()
        };
        let raw = compose_with(original);
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("Content-Type: message/rfc822"), "{text}");
        assert!(text.contains("Content-Transfer-Encoding: 7bit"), "{text}");
        assert!(
            raw.windows(original.len()).any(|w| w == original),
            "the original's bytes as they are"
        );
        // 8-bit content is not sent raw (it would need 8BITMIME all the way).
        let raw = compose_with("Subject: Grüße\r\n\r\nx\r\n".as_bytes());
        assert!(String::from_utf8_lossy(&raw).contains("Content-Transfer-Encoding: base64"));
        assert!(is_7bit(b"a\r\nb\r\n") && !is_7bit(b"a\nb") && !is_7bit(b"a\rb"));
    }
}
