//! Sending: the validated request and how a message's recipients add up to its
//! status.

use super::address::EmailAddress;
use super::ids::{AttachmentId, MessageId, ThreadId};
use super::message::MessageStatus;
use super::time::Timestamp;
use super::validation::{ValidationErrors, has_line_breaks_or_nul};

/// Most `to` recipients; `cc` and `bcc` each have the same bound.
pub const MAX_RECIPIENTS_PER_FIELD: usize = 50;
/// Longest subject in characters (RFC 5322's line limit).
pub const MAX_SUBJECT_CHARS: usize = 998;
/// Longest body, text or HTML, in characters.
pub const MAX_BODY_CHARS: usize = 256_000;
/// Most attachments per message.
pub const MAX_ATTACHMENTS: usize = 10;
/// Largest total size of a message's attachments, in bytes ("25 MB").
pub const MAX_ATTACHMENTS_BYTES: u64 = 25 * 1024 * 1024;

/// The local part of every message's own return path starts with this (VERP: the rest is a
/// token naming the message). The SMTP listener takes mail for such addresses: delivery
/// reports about the message come back there.
pub const RETURN_PATH_PREFIX: &str = "bounces+";

/// The fields of a send request as they arrive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendFields {
    /// `to`
    pub to: Option<Vec<String>>,
    /// `cc`
    pub cc: Option<Vec<String>>,
    /// `bcc`
    pub bcc: Option<Vec<String>>,
    /// `subject`
    pub subject: Option<String>,
    /// `bodyText`
    pub body_text: Option<String>,
    /// `bodyHtml`
    pub body_html: Option<String>,
    /// `threadId`
    pub thread_id: Option<ThreadId>,
    /// `attachmentIds`
    pub attachment_ids: Option<Vec<AttachmentId>>,
}

/// A valid send request.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// 1–50 recipients.
    pub to: Vec<EmailAddress>,
    /// Up to 50.
    pub cc: Vec<EmailAddress>,
    /// Up to 50; envelope only.
    pub bcc: Vec<EmailAddress>,
    /// 1–998 characters, no line breaks.
    pub subject: String,
    /// Plain-text body.
    pub body_text: Option<String>,
    /// HTML body.
    pub body_html: Option<String>,
    /// What it answers: a thread or a message of the sending inbox; `None` starts a thread.
    pub parent: Option<Parent>,
    /// Up to 10 distinct attachments.
    pub attachment_ids: Vec<AttachmentId>,
}

/// What a send answers, which decides its thread, `In-Reply-To` and `References`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parent {
    /// A reply in this thread of the inbox, to its newest message.
    Thread(ThreadId),
    /// A reply to this message of the inbox, in its thread.
    Message(MessageId),
    /// A forward of this message of the inbox: in its thread, naming it in `References` but
    /// not replying to it; with `attach_original`, its exact bytes go along as a
    /// `message/rfc822` part.
    Forward {
        /// The message forwarded.
        message: MessageId,
        /// Attach the original.
        attach_original: bool,
    },
}

/// The addresses of `field`, each checked (at least one when `required`).
pub(super) fn addresses(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<Vec<String>>,
    required: bool,
) -> Vec<EmailAddress> {
    let raw = raw.unwrap_or_default();
    if required && raw.is_empty() {
        errors.add(field, "needs at least one address");
    }
    if raw.len() > MAX_RECIPIENTS_PER_FIELD {
        errors.add(
            field,
            format!("takes at most {MAX_RECIPIENTS_PER_FIELD} addresses"),
        );
        return Vec::new();
    }
    raw.iter()
        .filter_map(|a| match EmailAddress::parse(a.trim()) {
            Ok(address) => Some(address),
            Err(e) => {
                // The address is echoed with its control characters made visible.
                errors.add(field, format!("{:?}: {e}", a));
                None
            }
        })
        .collect()
}

/// A body, checked for its length.
pub(super) fn body(
    errors: &mut ValidationErrors,
    field: &str,
    raw: Option<String>,
) -> Option<String> {
    let raw = raw?;
    if raw.chars().count() > MAX_BODY_CHARS {
        errors.add(
            field,
            format!("must be at most {MAX_BODY_CHARS} characters"),
        );
    }
    Some(raw)
}

impl SendRequest {
    /// Checks every rule of a send that needs nothing from the database.
    pub fn parse(f: SendFields) -> Result<Self, ValidationErrors> {
        Self::check(f, true)
    }

    /// The rules of a send for each field that is present, for an unfinished draft: nothing
    /// is required yet, and a recipient list may be empty.
    pub fn check_present(f: SendFields) -> Result<(), ValidationErrors> {
        Self::check(f, false).map(drop)
    }

    fn check(f: SendFields, complete: bool) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let to = addresses(&mut errors, "to", f.to, complete);
        let cc = addresses(&mut errors, "cc", f.cc, false);
        let bcc = addresses(&mut errors, "bcc", f.bcc, false);
        let subject = f.subject.unwrap_or_default();
        let chars = subject.chars().count();
        if chars == 0 && !complete {
            // Not written yet: an unfinished draft may have no subject.
        } else if chars == 0 || chars > MAX_SUBJECT_CHARS {
            errors.add(
                "subject",
                format!("must be 1 to {MAX_SUBJECT_CHARS} characters"),
            );
        } else if has_line_breaks_or_nul(&subject) {
            // It becomes a header: a line break would start a header of the client's choosing.
            errors.add("subject", "must not contain line breaks");
        }
        let body_text = body(&mut errors, "bodyText", f.body_text);
        let body_html = body(&mut errors, "bodyHtml", f.body_html);
        let mut attachment_ids = f.attachment_ids.unwrap_or_default();
        attachment_ids.dedup();
        if attachment_ids.len() > MAX_ATTACHMENTS {
            errors.add(
                "attachmentIds",
                format!("takes at most {MAX_ATTACHMENTS} attachments"),
            );
        }
        errors.into_result(SendRequest {
            to,
            cc,
            bcc,
            subject,
            body_text,
            body_html,
            parent: f.thread_id.map(Parent::Thread),
            attachment_ids,
        })
    }

    /// Every envelope recipient once, with the field it came from, `to` first.
    pub fn recipients(&self) -> Vec<(EmailAddress, RecipientKind)> {
        let mut out: Vec<(EmailAddress, RecipientKind)> = Vec::new();
        let fields = [
            (&self.to, RecipientKind::To),
            (&self.cc, RecipientKind::Cc),
            (&self.bcc, RecipientKind::Bcc),
        ];
        for (list, kind) in fields {
            for address in list {
                let key = address.as_str().to_ascii_lowercase();
                if !out
                    .iter()
                    .any(|(a, _)| a.as_str().to_ascii_lowercase() == key)
                {
                    out.push((address.clone(), kind));
                }
            }
        }
        out
    }
}

/// Which header a recipient came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientKind {
    /// `To`
    To,
    /// `Cc`
    Cc,
    /// `Bcc` (envelope only)
    Bcc,
}

impl RecipientKind {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientKind::To => "to",
            RecipientKind::Cc => "cc",
            RecipientKind::Bcc => "bcc",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [RecipientKind::To, RecipientKind::Cc, RecipientKind::Bcc]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One recipient of an outbound message and how far its delivery got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientOutcome {
    /// The address.
    pub address: String,
    /// How it was addressed.
    pub kind: RecipientKind,
    /// How far its delivery got.
    pub status: RecipientStatus,
    /// How it was delivered: `email`, `local` or `dry-run` (none before the first attempt).
    pub route: Option<String>,
    /// Why its last attempt failed.
    pub last_error: Option<String>,
    /// When any of this last changed.
    pub updated_at: Timestamp,
}

/// How far one recipient's delivery got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecipientStatus {
    /// Not yet attempted, or waiting for a retry.
    Pending,
    /// Handed off (to a relay, or recorded in dry-run mode).
    Sent,
    /// Accepted by the recipient's own server, or stored in a local inbox.
    Delivered,
    /// Refused permanently.
    Bounced,
    /// Out of retries.
    Failed,
}

impl RecipientStatus {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecipientStatus::Pending => "pending",
            RecipientStatus::Sent => "sent",
            RecipientStatus::Delivered => "delivered",
            RecipientStatus::Bounced => "bounced",
            RecipientStatus::Failed => "failed",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            RecipientStatus::Pending,
            RecipientStatus::Sent,
            RecipientStatus::Delivered,
            RecipientStatus::Bounced,
            RecipientStatus::Failed,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    fn handed_off(self) -> bool {
        matches!(self, RecipientStatus::Sent | RecipientStatus::Delivered)
    }
}

/// A message's status from its recipients': `sending` until something is handed
/// off, `sent` while anything is pending or some went only as far as a relay (or dry-run),
/// `delivered` once everyone reachable is delivered, `bounced` when everyone bounced, `failed`
/// when no one got it and retries ran out for some.
pub fn summarize(recipients: &[RecipientStatus]) -> MessageStatus {
    use RecipientStatus as R;
    let any = |f: fn(&R) -> bool| recipients.iter().any(f);
    let all = |f: fn(&R) -> bool| recipients.iter().all(f);
    if any(|r| *r == R::Pending) {
        return if any(|r| r.handed_off()) {
            MessageStatus::Sent
        } else {
            MessageStatus::Sending
        };
    }
    if all(|r| *r == R::Bounced) {
        MessageStatus::Bounced
    } else if all(|r| matches!(r, R::Bounced | R::Failed)) {
        MessageStatus::Failed
    } else if any(|r| *r == R::Sent) {
        MessageStatus::Sent
    } else {
        MessageStatus::Delivered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(to: &[&str], subject: &str) -> SendFields {
        SendFields {
            to: Some(to.iter().map(|s| (*s).to_owned()).collect()),
            subject: Some(subject.to_owned()),
            ..SendFields::default()
        }
    }

    #[test]
    fn a_send_needs_recipients_and_a_clean_subject() {
        assert!(SendRequest::parse(fields(&["a@b.test"], "hi")).is_ok());
        for (to, subject, field) in [
            (&[][..], "hi", "to"),
            (&["not an address"][..], "hi", "to"),
            (&["a@b.test\r\nBcc: c@d.test"][..], "hi", "to"),
            (&["a@b.test"][..], "", "subject"),
            (&["a@b.test"][..], "hi\r\nBcc: evil@x.test", "subject"),
        ] {
            let e = SendRequest::parse(fields(to, subject)).unwrap_err();
            assert!(e.fields().contains_key(field), "{to:?} {subject:?}: {e:?}");
        }
        let long = "s".repeat(999);
        assert!(SendRequest::parse(fields(&["a@b.test"], &long)).is_err());
        assert!(SendRequest::parse(fields(&["a@b.test"], &"s".repeat(998))).is_ok());
        let many: Vec<String> = (0..51).map(|n| format!("u{n}@b.test")).collect();
        let f = SendFields {
            to: Some(many),
            subject: Some("x".to_owned()),
            ..SendFields::default()
        };
        assert!(SendRequest::parse(f).is_err());
    }

    #[test]
    fn recipients_are_listed_once_to_first() {
        let f = SendFields {
            to: Some(vec!["A@b.test".to_owned()]),
            cc: Some(vec!["a@b.test".to_owned(), "c@b.test".to_owned()]),
            bcc: Some(vec!["d@b.test".to_owned()]),
            subject: Some("x".to_owned()),
            ..SendFields::default()
        };
        let r = SendRequest::parse(f).unwrap().recipients();
        let kinds: Vec<_> = r.iter().map(|(a, k)| (a.as_str().to_owned(), *k)).collect();
        assert_eq!(
            kinds,
            [
                ("A@b.test".to_owned(), RecipientKind::To),
                ("c@b.test".to_owned(), RecipientKind::Cc),
                ("d@b.test".to_owned(), RecipientKind::Bcc)
            ]
        );
    }

    #[test]
    fn statuses_sum_up_as_documented() {
        use MessageStatus as M;
        use RecipientStatus as R;
        assert_eq!(summarize(&[R::Pending]), M::Sending);
        assert_eq!(summarize(&[R::Pending, R::Delivered]), M::Sent);
        assert_eq!(summarize(&[R::Delivered, R::Delivered]), M::Delivered);
        assert_eq!(summarize(&[R::Delivered, R::Bounced]), M::Delivered);
        assert_eq!(summarize(&[R::Sent, R::Delivered]), M::Sent);
        assert_eq!(summarize(&[R::Bounced, R::Bounced]), M::Bounced);
        assert_eq!(summarize(&[R::Bounced, R::Failed]), M::Failed);
        assert_eq!(summarize(&[R::Failed]), M::Failed);
    }
}
