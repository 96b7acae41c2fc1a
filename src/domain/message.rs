//! Messages and threads, and the pure rules of receiving mail: thread subjects and
//! attachment filenames.

use super::auth_results::AuthResults;
use super::ids::{AccountId, InboxId, MessageId, ThreadId};
use super::time::Timestamp;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Sent from an inbox.
    Outbound,
    /// Received into an inbox.
    Inbound,
}

impl Direction {
    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }

    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "outbound" => Some(Direction::Outbound),
            "inbound" => Some(Direction::Inbound),
            _ => None,
        }
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    /// Accepted for sending.
    Queued,
    /// Being sent.
    Sending,
    /// Handed off.
    Sent,
    /// Reached its recipients' server or inbox.
    Delivered,
    /// Given up.
    Failed,
    /// Rejected permanently by the recipient's server.
    Bounced,
    /// Marked as spam by a recipient.
    Complained,
    /// Inbound mail.
    Received,
}

impl MessageStatus {
    /// Every status.
    pub const ALL: [MessageStatus; 8] = [
        MessageStatus::Queued,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Failed,
        MessageStatus::Bounced,
        MessageStatus::Complained,
        MessageStatus::Received,
    ];

    /// Stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Failed => "failed",
            MessageStatus::Bounced => "bounced",
            MessageStatus::Complained => "complained",
            MessageStatus::Received => "received",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// An attachment as listed on its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentMeta {
    /// Id (for `GET /attachments/{id}`).
    pub id: super::ids::AttachmentId,
    /// Sanitised filename.
    pub filename: String,
    /// MIME type.
    pub content_type: String,
    /// Bytes.
    pub size: u64,
}

/// An attachment record (`GET /attachments/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Id, name, type and size.
    pub meta: AttachmentMeta,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Stored at.
    pub created_at: super::Timestamp,
}

/// Largest upload (10 MiB, as the hosted service has it).
pub const MAX_UPLOAD_SIZE: usize = 10 * 1024 * 1024;

/// The content type to store for an upload: the one the client gave for the part unless it
/// is missing or the generic `application/octet-stream`, else a guess from the filename's
/// extension, else `application/octet-stream`. Only `type/subtype` with token characters
/// is kept (lower-cased, parameters dropped), so the value is safe to send back as a header.
pub fn upload_content_type(declared: Option<&str>, filename: &str) -> String {
    const GENERIC: &str = "application/octet-stream";
    let declared = declared
        .and_then(|d| d.split(';').next())
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| is_media_type(d) && d != GENERIC);
    declared
        .or_else(|| {
            mime_guess::from_path(filename)
                .first_raw()
                .map(str::to_owned)
        })
        .unwrap_or_else(|| GENERIC.to_owned())
}

fn is_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.len() <= 127
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    s.split_once('/')
        .is_some_and(|(t, sub)| token(t) && token(sub))
}

/// A message record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Id.
    pub id: MessageId,
    /// Owner.
    pub account_id: AccountId,
    /// Inbox.
    pub inbox_id: InboxId,
    /// Thread.
    pub thread_id: ThreadId,
    /// Direction.
    pub direction: Direction,
    /// Status.
    pub status: MessageStatus,
    /// `email`, `dry-run` or `local` for outbound mail.
    pub delivery: Option<String>,
    /// `Name <addr>` or a bare address.
    pub from_address: String,
    /// `To` addresses.
    pub to_addresses: Vec<String>,
    /// `Cc` addresses.
    pub cc_addresses: Vec<String>,
    /// `Bcc` addresses (outbound only).
    pub bcc_addresses: Vec<String>,
    /// Subject.
    pub subject: String,
    /// Plain-text body.
    pub body_text: Option<String>,
    /// HTML body.
    pub body_html: Option<String>,
    /// RFC 5322 Message-ID, without angle brackets.
    pub message_id_header: Option<String>,
    /// `In-Reply-To`, without angle brackets.
    pub in_reply_to: Option<String>,
    /// `References`, oldest first, without angle brackets.
    pub references: Vec<String>,
    /// Why sending failed.
    pub error_message: Option<String>,
    /// SPF/DKIM/DMARC results of mail received over SMTP.
    pub auth_results: Option<AuthResults>,
    /// Attachments, in message order.
    pub attachments: Vec<AttachmentMeta>,
    /// Stored at.
    pub created_at: Timestamp,
    /// Handed off at (outbound).
    pub sent_at: Option<Timestamp>,
    /// The new content of the text body: quoted history and signatures taken out.
    pub extracted_text: Option<String>,
    /// The new content of the HTML body.
    pub extracted_html: Option<String>,
    /// Its labels, sorted.
    pub labels: Vec<String>,
}

/// A thread record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thread {
    /// Id.
    pub id: ThreadId,
    /// Owner.
    pub account_id: AccountId,
    /// Inbox.
    pub inbox_id: InboxId,
    /// Normalised subject.
    pub subject: String,
    /// Messages in it.
    pub message_count: u64,
    /// Its newest message's time.
    pub last_message_at: Timestamp,
    /// Created at.
    pub created_at: Timestamp,
    /// The labels any of its messages carries, sorted.
    pub labels: Vec<String>,
    /// How many of its messages are `unread`.
    pub unread_count: u64,
}

/// Reply and forward prefixes in the languages mail clients commonly use: `Re`, `Fwd`, `Fw`,
/// German `AW`/`WG`, Nordic `SV`/`VS`, Dutch `Antw`, Italian `R`/`Rif`/`I`, French `TR`, ...
const PREFIXES: [&str; 14] = [
    "re", "fwd", "fw", "aw", "wg", "sv", "vs", "antw", "rif", "tr", "odp", "res", "enc", "r",
];

/// A thread's subject: reply/forward prefixes such as `Re:`, `Fwd:`, `AW:`, `SV:`,
/// also counted (`Re[2]:`, `Re(3):`), and bracketed counters such as `[2]` stripped repeatedly
/// from the front, whitespace collapsed.
pub fn normalize_subject(subject: &str) -> String {
    let mut s: String = subject.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        let before = s.len();
        s = strip_prefix_once(&s).trim_start().to_owned();
        if s.len() == before {
            return s;
        }
    }
}

fn strip_prefix_once(s: &str) -> &str {
    // A bare bracketed counter: "[2] ..."
    if let Some(rest) = s.strip_prefix('[')
        && let Some(end) = rest.find(']')
        && end > 0
        && rest[..end].bytes().all(|b| b.is_ascii_digit())
    {
        return &rest[end + 1..];
    }
    let word_end = s.find(|c: char| !c.is_alphabetic()).unwrap_or(s.len());
    let word = s[..word_end].to_lowercase();
    if !PREFIXES.contains(&word.as_str()) {
        return s;
    }
    let mut rest = &s[word_end..];
    // Optional counter: "Re[2]:" or "Re(2):"
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(r) = rest.strip_prefix(open)
            && let Some(end) = r.find(close)
            && r[..end].bytes().all(|b| b.is_ascii_digit())
        {
            rest = &r[end + 1..];
        }
    }
    // The colon makes it a prefix ("Re: x"; also the full-width colon of CJK clients).
    match rest.trim_start_matches(' ').strip_prefix([':', '：']) {
        Some(after) => after,
        None => s,
    }
}

/// A safe attachment filename: the last path component only, no control characters, no
/// leading dots or surrounding blanks, at most 200 characters (the extension kept), never
/// empty.
pub fn sanitize_filename(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    let mut name = cleaned.to_owned();
    const MAX: usize = 200;
    if name.chars().count() > MAX {
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) if ext.chars().count() <= 16 => (stem.to_owned(), format!(".{ext}")),
            _ => (name.clone(), String::new()),
        };
        let keep = MAX - ext.chars().count();
        name = stem.chars().take(keep).collect::<String>() + &ext;
    }
    if name.is_empty() {
        "attachment".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uploads_get_the_declared_type_or_a_guess_from_the_name() {
        for (declared, name, want) in [
            (Some("image/PNG"), "x.bin", "image/png"),
            (Some("text/plain; charset=utf-8"), "x", "text/plain"),
            (
                Some("application/octet-stream"),
                "report.pdf",
                "application/pdf",
            ),
            (None, "report.pdf", "application/pdf"),
            (None, "notes", "application/octet-stream"),
            (Some("text/html\r\nX-Evil: 1"), "a.txt", "text/plain"),
            (Some("nonsense"), "a.csv", "text/csv"),
        ] {
            assert_eq!(
                upload_content_type(declared, name),
                want,
                "{declared:?} {name}"
            );
        }
    }

    #[test]
    fn subjects_lose_reply_and_forward_prefixes_repeatedly() {
        for (raw, want) in [
            ("Hello", "Hello"),
            ("Re: Hello", "Hello"),
            ("RE: re: Fwd: Hello", "Hello"),
            ("AW: SV: Hello   world", "Hello world"),
            ("Re[2]: Hello", "Hello"),
            ("Re(3): Hello", "Hello"),
            ("[2] Re: Hello", "Hello"),
            ("Fw : Hello", "Hello"),
            ("Antw: Hello", "Hello"),
            ("Re:", ""),
            ("Regarding: the plan", "Regarding: the plan"),
            ("Review: code", "Review: code"),
            ("[PATCH] fix", "[PATCH] fix"),
            ("  spaced\tout  ", "spaced out"),
        ] {
            assert_eq!(normalize_subject(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn filenames_are_made_safe() {
        assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_filename("C:\\Users\\x\\report.pdf"), "report.pdf");
        assert_eq!(sanitize_filename("evil\r\nname.txt"), "evilname.txt");
        assert_eq!(sanitize_filename("..."), "attachment");
        assert_eq!(sanitize_filename(""), "attachment");
        assert_eq!(sanitize_filename(" .hidden "), "hidden");
        assert_eq!(sanitize_filename("naïve résumé.pdf"), "naïve résumé.pdf");
        let long = format!("{}.pdf", "a".repeat(300));
        let short = sanitize_filename(&long);
        assert_eq!(short.chars().count(), 200);
        assert!(short.ends_with(".pdf"));
    }

    #[test]
    fn statuses_round_trip() {
        for s in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(MessageStatus::parse("opened"), None);
    }
}
