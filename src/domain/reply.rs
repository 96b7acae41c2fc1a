//! Replying to and forwarding a stored message: the requests as they arrive, and the pure rules
//! that turn one, with its original, into a send (recipients, subject, the forwarded block).
//! The send itself is then checked and accepted like any other.

use serde::{Deserialize, Serialize};

use super::address::EmailAddress;
use super::html;
use super::ids::AttachmentId;
use super::message::{Direction, Message, sanitize_filename};
use super::outbound::{
    MAX_ATTACHMENTS, MAX_BODY_CHARS, MAX_SUBJECT_CHARS, Parent, SendFields, SendRequest, addresses,
    body,
};
use super::validation::ValidationErrors;

/// Most Message-IDs a reply's `References` keeps: the thread's first and its newest ones
/// (RFC 5322 §3.6.4 sets no bound; long threads would otherwise grow the header without end).
pub const MAX_REFERENCES: usize = 20;

/// The line that opens the forwarded part of an inline forward (the form mail clients use).
pub const FORWARDED_MARKER: &str = "---------- Forwarded message ---------";

/// How a forward carries its original.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardMode {
    /// Its exact bytes, attached as a `message/rfc822` part.
    #[default]
    Attachment,
    /// Its headers and text quoted under the note, its attachments attached again.
    Inline,
}

impl ForwardMode {
    /// Wire and configuration name.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardMode::Attachment => "attachment",
            ForwardMode::Inline => "inline",
        }
    }

    /// Parses the name.
    pub fn parse(s: &str) -> Option<Self> {
        [ForwardMode::Attachment, ForwardMode::Inline]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The fields of a reply request as they arrive.
#[derive(Debug, Clone, Default)]
pub struct ReplyFields {
    /// `bodyText`
    pub body_text: Option<String>,
    /// `bodyHtml`
    pub body_html: Option<String>,
    /// `replyAll`
    pub reply_all: Option<bool>,
    /// `cc`: added to the copies the reply gets anyway.
    pub cc: Option<Vec<String>>,
    /// `bcc`
    pub bcc: Option<Vec<String>>,
    /// `attachmentIds`
    pub attachment_ids: Option<Vec<AttachmentId>>,
}

/// A valid reply request: what the caller adds to what the original decides.
#[derive(Debug, Clone)]
pub struct ReplyRequest {
    body_text: Option<String>,
    body_html: Option<String>,
    reply_all: bool,
    cc: Vec<EmailAddress>,
    bcc: Vec<EmailAddress>,
    attachment_ids: Vec<AttachmentId>,
}

/// The fields of a forward request as they arrive.
#[derive(Debug, Clone, Default)]
pub struct ForwardFields {
    /// `to`
    pub to: Option<Vec<String>>,
    /// `cc`
    pub cc: Option<Vec<String>>,
    /// `bcc`
    pub bcc: Option<Vec<String>>,
    /// `bodyText`: the note.
    pub body_text: Option<String>,
    /// `bodyHtml`: the note.
    pub body_html: Option<String>,
    /// `attachmentIds`
    pub attachment_ids: Option<Vec<AttachmentId>>,
    /// `mode`: `attachment` or `inline`.
    pub mode: Option<String>,
}

/// A valid forward request.
#[derive(Debug, Clone)]
pub struct ForwardRequest {
    to: Vec<EmailAddress>,
    cc: Vec<EmailAddress>,
    bcc: Vec<EmailAddress>,
    body_text: Option<String>,
    body_html: Option<String>,
    attachment_ids: Vec<AttachmentId>,
    /// `None`: the configured default.
    pub mode: Option<ForwardMode>,
}

/// The original of a reply, with what its stored record does not say.
#[derive(Debug, Clone, Copy)]
pub struct Original<'a> {
    /// The message replied to.
    pub message: &'a Message,
    /// Where replies to a received message go: its `Reply-To`, else its `From` (bare
    /// addresses, from its raw headers). Unused for a sent message.
    pub reply_to: &'a [String],
    /// The address of its inbox, which a reply to all leaves out.
    pub own_address: &'a str,
}

fn attachments(errors: &mut ValidationErrors, raw: Option<Vec<AttachmentId>>) -> Vec<AttachmentId> {
    let mut ids = raw.unwrap_or_default();
    dedup(&mut ids);
    if ids.len() > MAX_ATTACHMENTS {
        errors.add(
            "attachmentIds",
            format!("takes at most {MAX_ATTACHMENTS} attachments"),
        );
    }
    ids
}

fn dedup(ids: &mut Vec<AttachmentId>) {
    let mut seen = Vec::with_capacity(ids.len());
    ids.retain(|id| {
        let new = !seen.contains(id);
        seen.push(*id);
        new
    });
}

fn strings(list: &[EmailAddress]) -> Vec<String> {
    list.iter().map(|a| a.as_str().to_owned()).collect()
}

impl ReplyRequest {
    /// Checks every rule of a reply that needs nothing from the database.
    pub fn parse(f: ReplyFields) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if f.body_text.is_none() && f.body_html.is_none() {
            errors.add("bodyText", "bodyText or bodyHtml is required");
        }
        let body_text = body(&mut errors, "bodyText", f.body_text);
        let body_html = body(&mut errors, "bodyHtml", f.body_html);
        let cc = addresses(&mut errors, "cc", f.cc, false);
        let bcc = addresses(&mut errors, "bcc", f.bcc, false);
        let attachment_ids = attachments(&mut errors, f.attachment_ids);
        errors.into_result(ReplyRequest {
            body_text,
            body_html,
            reply_all: f.reply_all.unwrap_or(false),
            cc,
            bcc,
            attachment_ids,
        })
    }

    /// The send that answers `original`, from its inbox and in its thread. A received message
    /// is answered to its `Reply-To` (else `From`), a sent one to its `To`; replying to all
    /// adds the original's other `To` and its `Cc`, without the inbox itself. Every address is
    /// listed once (case-insensitively), in the first field it falls in.
    pub fn into_send(self, original: Original<'_>) -> Result<SendRequest, ValidationErrors> {
        let m = original.message;
        let (to, mut others_to, others_cc): (Vec<String>, Vec<String>, Vec<String>) =
            match m.direction {
                Direction::Inbound => {
                    let mut to = original.reply_to.to_vec();
                    if to.is_empty() {
                        to.push(bare_address(&m.from_address).to_owned());
                    }
                    (to, m.to_addresses.clone(), m.cc_addresses.clone())
                }
                Direction::Outbound => (m.to_addresses.clone(), Vec::new(), m.cc_addresses.clone()),
            };
        let own = original.own_address.to_ascii_lowercase();
        let not_own = |a: &String| a.to_ascii_lowercase() != own;
        let mut lists = Lists::default();
        lists.add(Field::To, to.iter().filter_map(|a| parse_quietly(a)));
        if self.reply_all {
            others_to.retain(not_own);
            lists.add(Field::To, others_to.iter().filter_map(|a| parse_quietly(a)));
            let cc = others_cc.iter().filter(|a| not_own(a));
            lists.add(Field::Cc, cc.filter_map(|a| parse_quietly(a)));
        }
        if lists.to.is_empty() {
            return Err(ValidationErrors::single(
                "to",
                "the message has no address to reply to",
            ));
        }
        lists.add(Field::Cc, self.cc);
        lists.add(Field::Bcc, self.bcc);
        let mut send = SendRequest::parse(SendFields {
            to: Some(strings(&lists.to)),
            cc: Some(strings(&lists.cc)),
            bcc: Some(strings(&lists.bcc)),
            subject: Some(prefixed_subject("Re", &["re"], &m.subject)),
            body_text: self.body_text,
            body_html: self.body_html,
            thread_id: None,
            attachment_ids: Some(self.attachment_ids),
        })?;
        send.parent = Some(Parent::Message(m.id));
        Ok(send)
    }
}

impl ForwardRequest {
    /// Checks every rule of a forward that needs nothing from the database.
    pub fn parse(f: ForwardFields) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let to = addresses(&mut errors, "to", f.to, true);
        let cc = addresses(&mut errors, "cc", f.cc, false);
        let bcc = addresses(&mut errors, "bcc", f.bcc, false);
        let body_text = body(&mut errors, "bodyText", f.body_text);
        let body_html = body(&mut errors, "bodyHtml", f.body_html);
        let attachment_ids = attachments(&mut errors, f.attachment_ids);
        let mode = match f.mode.as_deref() {
            None => None,
            Some(m) => {
                let mode = ForwardMode::parse(m);
                if mode.is_none() {
                    errors.add("mode", "must be attachment or inline");
                }
                mode
            }
        };
        errors.into_result(ForwardRequest {
            to,
            cc,
            bcc,
            body_text,
            body_html,
            attachment_ids,
            mode,
        })
    }

    /// The send that forwards `original`, from its inbox and in its thread, `mode` (the
    /// request's own, else this default) deciding how the original goes along.
    pub fn into_send(
        self,
        original: &Message,
        default: ForwardMode,
    ) -> Result<SendRequest, ValidationErrors> {
        let mode = self.mode.unwrap_or(default);
        let (mut body_text, mut body_html) = (self.body_text, self.body_html);
        let mut attachment_ids = self.attachment_ids;
        if mode == ForwardMode::Inline {
            let mut errors = ValidationErrors::new();
            let (text, html) = inline_bodies(body_text.as_deref(), body_html.as_deref(), original);
            for (field, b) in [("bodyText", &text), ("bodyHtml", &html)] {
                if b.as_ref()
                    .is_some_and(|b| b.chars().count() > MAX_BODY_CHARS)
                {
                    errors.add(
                        "mode",
                        format!(
                            "the original is too long to forward inline ({field} would be over \
                             {MAX_BODY_CHARS} characters): forward it as an attachment"
                        ),
                    );
                }
            }
            let theirs = original.attachments.len();
            attachment_ids.extend(original.attachments.iter().map(|a| a.id));
            dedup(&mut attachment_ids);
            if attachment_ids.len() > MAX_ATTACHMENTS {
                errors.add(
                    "attachmentIds",
                    format!(
                        "takes at most {MAX_ATTACHMENTS} attachments with the original's \
                         {theirs}: forward it as an attachment"
                    ),
                );
            }
            if !errors.is_empty() {
                return Err(errors);
            }
            (body_text, body_html) = (text, html);
        }
        let mut send = SendRequest::parse(SendFields {
            to: Some(strings(&self.to)),
            cc: Some(strings(&self.cc)),
            bcc: Some(strings(&self.bcc)),
            subject: Some(prefixed_subject("Fwd", &["fwd", "fw"], &original.subject)),
            body_text,
            body_html,
            thread_id: None,
            attachment_ids: Some(attachment_ids),
        })?;
        send.parent = Some(Parent::Forward {
            message: original.id,
            attach_original: mode == ForwardMode::Attachment,
        });
        Ok(send)
    }
}

/// Addresses in the order given, each once (case-insensitively) across the three fields.
#[derive(Default)]
struct Lists {
    to: Vec<EmailAddress>,
    cc: Vec<EmailAddress>,
    bcc: Vec<EmailAddress>,
}

#[derive(Clone, Copy)]
enum Field {
    To,
    Cc,
    Bcc,
}

impl Lists {
    fn add(&mut self, field: Field, addresses: impl IntoIterator<Item = EmailAddress>) {
        for address in addresses {
            let taken = [&self.to, &self.cc, &self.bcc]
                .into_iter()
                .flatten()
                .any(|a| a.as_str().eq_ignore_ascii_case(address.as_str()));
            if !taken {
                match field {
                    Field::To => self.to.push(address),
                    Field::Cc => self.cc.push(address),
                    Field::Bcc => self.bcc.push(address),
                }
            }
        }
    }
}

/// An address of the original's, or nothing when it is not one we could send to (a reply to
/// all leaves out what it cannot reach rather than refuse what the caller did not write).
fn parse_quietly(raw: &str) -> Option<EmailAddress> {
    EmailAddress::parse(raw.trim()).ok()
}

/// The address in `Name <addr>`, or the whole of a bare one.
pub fn bare_address(from: &str) -> &str {
    match from.rsplit_once('<') {
        Some((_, rest)) => rest.split('>').next().unwrap_or(rest).trim(),
        None => from.trim(),
    }
}

/// The original's subject on one line, behind `prefix: ` unless it already starts with one of
/// `known` (any case, after blanks); "(no subject)" for an empty one. At most
/// [`MAX_SUBJECT_CHARS`] characters.
pub fn prefixed_subject(prefix: &str, known: &[&str], original: &str) -> String {
    let one_line: String = original
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let subject = one_line.trim();
    let subject = if subject.is_empty() {
        "(no subject)"
    } else {
        subject
    };
    let has_prefix = known.iter().any(|k| {
        subject
            .get(..k.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(k))
            && subject[k.len()..].trim_start().starts_with(':')
    });
    let full = if has_prefix {
        subject.to_owned()
    } else {
        format!("{prefix}: {subject}")
    };
    full.chars().take(MAX_SUBJECT_CHARS).collect()
}

/// A reply's `References` (RFC 5322 §3.6.4): the parent's `References` (or, without them, its
/// single `In-Reply-To`) followed by its Message-ID; past [`MAX_REFERENCES`], the first and
/// the newest ones.
pub fn reply_references(
    references: &[String],
    in_reply_to: Option<&str>,
    message_id: Option<&str>,
) -> Vec<String> {
    let mut refs: Vec<String> = if references.is_empty() {
        in_reply_to.map(str::to_owned).into_iter().collect()
    } else {
        references.to_vec()
    };
    refs.extend(message_id.map(str::to_owned));
    if refs.len() > MAX_REFERENCES {
        let tail = refs.split_off(refs.len() - (MAX_REFERENCES - 1));
        refs.truncate(1);
        refs.extend(tail);
    }
    refs
}

/// The filename of a forwarded message: its subject with `.eml`.
pub fn forwarded_filename(subject: &str) -> String {
    let stem: String = subject
        .trim()
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => ' ',
            c => c,
        })
        .take(150)
        .collect();
    let stem = stem.trim().trim_start_matches('.');
    let stem = if stem.is_empty() {
        "forwarded message"
    } else {
        stem
    };
    sanitize_filename(&format!("{stem}.eml"))
}

/// The bodies of an inline forward: the note, the forwarded block's headers, the original's
/// text; an HTML part too when the note or the original has one.
fn inline_bodies(
    note_text: Option<&str>,
    note_html: Option<&str>,
    original: &Message,
) -> (Option<String>, Option<String>) {
    let mut headers = vec![
        ("From", original.from_address.clone()),
        ("Date", original.created_at.to_rfc5322()),
        ("Subject", original.subject.clone()),
        ("To", original.to_addresses.join(", ")),
    ];
    if !original.cc_addresses.is_empty() {
        headers.push(("Cc", original.cc_addresses.join(", ")));
    }
    let mut text = String::new();
    if let Some(note) = note_text {
        text.push_str(note.trim_end());
        text.push_str("\n\n");
    }
    text.push_str(FORWARDED_MARKER);
    text.push('\n');
    for (name, value) in &headers {
        text.push_str(&format!("{name}: {value}\n"));
    }
    text.push('\n');
    text.push_str(original.body_text.as_deref().unwrap_or(""));
    if note_html.is_none() && original.body_html.is_none() {
        return (Some(text), None);
    }
    let mut html = String::new();
    match (note_html, note_text) {
        (Some(note), _) => html.push_str(note),
        (None, Some(note)) => html.push_str(&format!("<p>{}</p>", escape_html(note))),
        (None, None) => {}
    }
    html.push_str(&format!(
        "<br><div class=\"forwarded\">{FORWARDED_MARKER}<br>"
    ));
    for (name, value) in &headers {
        html.push_str(&format!("{name}: {}<br>", escape_html(value)));
    }
    html.push_str("<br>");
    match (&original.body_html, &original.body_text) {
        (Some(h), _) => html.push_str(h),
        (None, Some(t)) => html.push_str(&format!("<pre>{}</pre>", escape_html(t))),
        (None, None) => {}
    }
    html.push_str("</div>");
    (Some(text), Some(html))
}

/// Text escaped for HTML, its line breaks as `<br>`.
fn escape_html(s: &str) -> String {
    html::escape(s).replace('\n', "<br>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::message::MessageStatus;
    use crate::domain::{AccountId, InboxId, MessageId, ThreadId, Timestamp};

    fn message(direction: Direction, from: &str, to: &[&str], cc: &[&str]) -> Message {
        let list = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        Message {
            id: MessageId::new(),
            account_id: AccountId::new(),
            inbox_id: InboxId::new(),
            thread_id: ThreadId::new(),
            direction,
            status: MessageStatus::Received,
            delivery: None,
            from_address: from.to_owned(),
            to_addresses: list(to),
            cc_addresses: list(cc),
            bcc_addresses: Vec::new(),
            subject: "Plans".to_owned(),
            body_text: Some("original text".to_owned()),
            body_html: None,
            message_id_header: Some("m1@x.test".to_owned()),
            in_reply_to: None,
            references: Vec::new(),
            error_message: None,
            auth_results: None,
            attachments: Vec::new(),
            created_at: Timestamp::from_millis(1_700_000_000_000),
            sent_at: None,
            extracted_text: None,
            extracted_html: None,
            labels: Vec::new(),
        }
    }

    fn reply(reply_all: bool) -> ReplyRequest {
        ReplyRequest::parse(ReplyFields {
            body_text: Some("ok".to_owned()),
            reply_all: Some(reply_all),
            ..ReplyFields::default()
        })
        .unwrap()
    }

    fn listed(list: &[EmailAddress]) -> Vec<&str> {
        list.iter().map(EmailAddress::as_str).collect()
    }

    #[test]
    fn a_reply_needs_a_body() {
        let e = ReplyRequest::parse(ReplyFields::default()).unwrap_err();
        assert!(e.fields().contains_key("bodyText"));
    }

    #[test]
    fn a_reply_to_received_mail_goes_to_reply_to_and_to_all_without_the_inbox() {
        let m = message(
            Direction::Inbound,
            "Ann <ann@x.test>",
            &["me@here.test", "Bob@x.test"],
            &["bob@x.test", "carol@x.test", "ME@here.test"],
        );
        let original = Original {
            message: &m,
            reply_to: &["list@x.test".to_owned()],
            own_address: "me@here.test",
        };
        let one = reply(false).into_send(original).unwrap();
        assert_eq!(listed(&one.to), ["list@x.test"]);
        assert!(one.cc.is_empty());
        assert_eq!(one.subject, "Re: Plans");
        assert_eq!(one.parent, Some(Parent::Message(m.id)));
        let all = reply(true).into_send(original).unwrap();
        assert_eq!(listed(&all.to), ["list@x.test", "Bob@x.test"]);
        assert_eq!(listed(&all.cc), ["carol@x.test"]);
        let from = reply(false)
            .into_send(Original {
                reply_to: &[],
                ..original
            })
            .unwrap();
        assert_eq!(listed(&from.to), ["ann@x.test"]);
    }

    #[test]
    fn a_reply_to_sent_mail_goes_to_its_recipients() {
        let m = message(
            Direction::Outbound,
            "me@here.test",
            &["ann@x.test"],
            &["bob@x.test"],
        );
        let original = Original {
            message: &m,
            reply_to: &[],
            own_address: "me@here.test",
        };
        let one = reply(false).into_send(original).unwrap();
        assert_eq!(listed(&one.to), ["ann@x.test"]);
        assert!(one.cc.is_empty());
        let all = reply(true).into_send(original).unwrap();
        assert_eq!(listed(&all.cc), ["bob@x.test"]);
    }

    #[test]
    fn subjects_get_one_prefix_and_stay_valid() {
        assert_eq!(prefixed_subject("Re", &["re"], "Plans"), "Re: Plans");
        assert_eq!(prefixed_subject("Re", &["re"], "  RE: Plans"), "RE: Plans");
        assert_eq!(prefixed_subject("Re", &["re"], "re : x"), "re : x");
        assert_eq!(
            prefixed_subject("Re", &["re"], "Regarding x"),
            "Re: Regarding x"
        );
        assert_eq!(prefixed_subject("Re", &["re"], ""), "Re: (no subject)");
        assert_eq!(prefixed_subject("Re", &["re"], "a\r\nb"), "Re: a  b");
        assert_eq!(prefixed_subject("Fwd", &["fwd", "fw"], "Fw: x"), "Fw: x");
        assert_eq!(prefixed_subject("Fwd", &["fwd", "fw"], "x"), "Fwd: x");
        let long = prefixed_subject("Re", &["re"], &"s".repeat(998));
        assert_eq!(long.chars().count(), MAX_SUBJECT_CHARS);
    }

    #[test]
    fn references_follow_rfc_5322_and_keep_the_first_and_newest() {
        let refs = ["a".to_owned(), "b".to_owned()];
        assert_eq!(
            reply_references(&refs, Some("b"), Some("c")),
            ["a", "b", "c"]
        );
        assert_eq!(reply_references(&[], Some("p"), Some("c")), ["p", "c"]);
        assert_eq!(reply_references(&[], None, None), Vec::<String>::new());
        let many: Vec<String> = (0..30).map(|n| n.to_string()).collect();
        let capped = reply_references(&many, None, Some("new"));
        assert_eq!(capped.len(), MAX_REFERENCES);
        assert_eq!(capped[0], "0");
        assert_eq!(capped[1], "12");
        assert_eq!(capped.last().unwrap(), "new");
    }

    #[test]
    fn a_forward_needs_recipients_and_a_known_mode() {
        let e = ForwardRequest::parse(ForwardFields::default()).unwrap_err();
        assert!(e.fields().contains_key("to"));
        let e = ForwardRequest::parse(ForwardFields {
            to: Some(vec!["a@x.test".to_owned()]),
            mode: Some("quoted".to_owned()),
            ..ForwardFields::default()
        })
        .unwrap_err();
        assert!(e.fields().contains_key("mode"));
    }

    #[test]
    fn an_inline_forward_quotes_the_original_under_the_note() {
        let m = message(
            Direction::Inbound,
            "Ann <ann@x.test>",
            &["me@here.test"],
            &[],
        );
        let f = ForwardRequest::parse(ForwardFields {
            to: Some(vec!["b@x.test".to_owned()]),
            body_text: Some("FYI".to_owned()),
            mode: Some("inline".to_owned()),
            ..ForwardFields::default()
        })
        .unwrap();
        let send = f.into_send(&m, ForwardMode::Attachment).unwrap();
        let text = send.body_text.unwrap();
        assert!(text.starts_with(
            "FYI\n\n---------- Forwarded message ---------\nFrom: Ann <ann@x.test>\n"
        ));
        assert!(text.ends_with("Subject: Plans\nTo: me@here.test\n\noriginal text"));
        assert_eq!(send.subject, "Fwd: Plans");
        assert_eq!(
            send.parent,
            Some(Parent::Forward {
                message: m.id,
                attach_original: false
            })
        );
    }

    #[test]
    fn forwarded_files_are_named_after_the_subject() {
        assert_eq!(forwarded_filename("Q3 / Q4: plan"), "Q3 _ Q4_ plan.eml");
        assert_eq!(forwarded_filename(""), "forwarded message.eml");
        assert_eq!(bare_address("Ann <ann@x.test>"), "ann@x.test");
        assert_eq!(bare_address("ann@x.test"), "ann@x.test");
    }
}
