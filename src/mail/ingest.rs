//! THE ingestion path from raw bytes and an envelope to stored messages, used by the SMTP
//! listener and by local delivery of outgoing mail: one stored copy per recipient inbox (with a
//! `Received` header and, for mail from the internet, an `Authentication-Results` header
//! prepended), threading, thread counters, attachments, bounce and complaint
//! handling, and the `message.received` event, all in one transaction. The allow and block
//! lists of each recipient inbox are applied here too (to the envelope sender and the `From`
//! addresses), so that mail over SMTP and local deliveries meet the same rules.

use std::net::IpAddr;
use std::sync::Arc;

use super::parse::{self, ParsedMail, Report};
use super::{MailError, auth};
use crate::dns::Dns;
use crate::domain::Clock;
use crate::domain::auth_results::AuthResults;
use crate::domain::label::{self, LabelChange};
use crate::domain::message::{Message, normalize_subject, sanitize_filename};
use crate::domain::reading::Reading;
use crate::domain::sender_list::{self, NotAllowed, Verdict};
use crate::domain::{AccountId, InboxId, MessageId, ThreadId, Timestamp};
use crate::events;
use crate::store::attachments::NewAttachment;
use crate::store::messages::{self, NewInbound, ReportKind};
use crate::store::{Failure, Store, Tx, inboxes, labels, sender_lists};
use crate::webhooks::Event;
use crate::webhooks::events::{MessageBounced, MessageComplained, MessageReceived};

/// One accepted recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// The address as given in `RCPT TO`.
    pub address: String,
    /// The inbox it belongs to.
    pub inbox_id: InboxId,
    /// The inbox's account.
    pub account_id: AccountId,
    /// Set when the address is the return path of this outbound message (VERP): a delivery
    /// report received here is about that message.
    pub report_for: Option<MessageId>,
}

/// How the message reached us, for the `Received` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The client's EHLO/HELO name (SMTP) or a description (local delivery).
    pub helo: String,
    /// The client's address, for SMTP.
    pub peer: Option<IpAddr>,
    /// `SMTP`, `ESMTP`, `ESMTPS` or `local`.
    pub protocol: &'static str,
}

/// A message to ingest.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `MAIL FROM` (empty for the null sender of bounces).
    pub mail_from: String,
    /// Accepted recipients.
    pub recipients: Vec<Recipient>,
    /// Where it came from.
    pub origin: Origin,
}

/// One stored copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredCopy {
    /// Its inbox's account.
    pub account_id: AccountId,
    /// Its inbox.
    pub inbox_id: InboxId,
    /// The message.
    pub message_id: MessageId,
    /// Its thread.
    pub thread_id: ThreadId,
}

/// What became of a message: the copies stored, and the recipient inboxes whose allow or
/// block lists refused its sender (nothing was stored for them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// The stored copies.
    pub copies: Vec<StoredCopy>,
    /// Inboxes that refused the sender.
    pub refused: Vec<InboxId>,
}

/// The ingestion path and what it needs: the store, the clock, the name this server gives
/// itself, what becomes of mail an allow list does not let in, and, when inbound checks are on,
/// the DNS for SPF, DKIM and DMARC. Cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    clock: Arc<dyn Clock>,
    hostname: String,
    trusted_reporters: Vec<String>,
    not_allowed: NotAllowed,
    checks: Option<Dns>,
}

impl Ingest {
    /// The path for a server called `hostname`; `trusted_reporters` are the feedback-loop
    /// senders whose complaints count when their DKIM signature passes; `checks` is the DNS
    /// to check mail from the internet with (none: no checks); `not_allowed` says what becomes
    /// of mail from a sender an inbox's allow list does not name.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        hostname: String,
        trusted_reporters: Vec<String>,
        not_allowed: NotAllowed,
        checks: Option<Dns>,
    ) -> Self {
        Self {
            store,
            clock,
            hostname,
            trusted_reporters,
            not_allowed,
            checks,
        }
    }

    /// What becomes of mail from a sender an inbox's allow list does not name.
    pub fn not_allowed(&self) -> NotAllowed {
        self.not_allowed
    }

    /// The store it writes to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Parses (on the blocking pool, outside the write lock) and stores `raw` for every
    /// recipient. Returns once the copies are committed: only then may SMTP answer `250`.
    pub async fn ingest(&self, envelope: Envelope, raw: Vec<u8>) -> Result<Delivery, MailError> {
        let prepared = self.prepare(envelope, raw).await?;
        let now = self.clock.now();
        Ok(self
            .store
            .write(move |tx| store(tx, &prepared, now))
            .await?)
    }

    /// The part of ingestion that needs no database: parsing, and the SPF/DKIM/DMARC checks
    /// of mail from the internet (on the blocking pool).
    pub async fn prepare(&self, envelope: Envelope, raw: Vec<u8>) -> Result<Prepared, MailError> {
        let hostname = self.hostname.clone();
        let trusted_reporters = self.trusted_reporters.clone();
        let checks = self
            .checks
            .clone()
            .map(|dns| (dns, tokio::runtime::Handle::current()));
        let mut prepared =
            prepare_blocking(envelope, raw, hostname, trusted_reporters, checks).await?;
        prepared.not_allowed = self.not_allowed;
        Ok(prepared)
    }
}

/// A message parsed and checked, ready to store ([`store`]).
pub struct Prepared {
    envelope: Envelope,
    raw: Vec<u8>,
    parsed: ParsedMail,
    auth: Option<AuthResults>,
    hostname: String,
    /// Feedback-loop senders whose complaints count when their DKIM signature passes.
    trusted_reporters: Vec<String>,
    /// Its new content and searchable text, worked out here rather than on the writer.
    reading: Reading,
    /// What becomes of mail an allow list does not let in.
    not_allowed: NotAllowed,
}

async fn prepare_blocking(
    envelope: Envelope,
    raw: Vec<u8>,
    hostname: String,
    trusted_reporters: Vec<String>,
    checks: Option<(Dns, tokio::runtime::Handle)>,
) -> Result<Prepared, MailError> {
    tokio::task::spawn_blocking(move || {
        let raw = auth::rename_forged_results(raw, &hostname);
        // Mail from the internet is checked; local deliveries are our own. The checks hash the
        // whole message, so they run here too, waiting for DNS on this blocking thread.
        let auth = match (checks, envelope.origin.peer) {
            (Some((dns, runtime)), Some(ip)) => {
                let sender = auth::Sender {
                    ip,
                    helo: &envelope.origin.helo,
                    mail_from: &envelope.mail_from,
                };
                Some(runtime.block_on(auth::check(&dns, &hostname, sender, &raw)))
            }
            _ => None,
        };
        let parsed = parse::parse(&raw, &envelope.mail_from);
        let reading = Reading::of(parsed.text.as_deref(), parsed.html.as_deref());
        Prepared {
            reading,
            envelope,
            raw,
            parsed,
            auth,
            hostname,
            trusted_reporters,
            not_allowed: NotAllowed::default(),
        }
    })
    .await
    .map_err(|e| MailError::Task(e.to_string()))
}

/// Stores a prepared message for every recipient whose lists let its sender in, in the caller's
/// transaction (so that local delivery records its outcome in the same one).
pub fn store(tx: &Tx<'_>, m: &Prepared, now: Timestamp) -> Result<Delivery, Failure> {
    let Prepared {
        envelope,
        raw,
        parsed,
        auth,
        hostname,
        trusted_reporters,
        reading,
        not_allowed,
    } = m;
    // The sender's identities: the envelope sender (none for the null sender of bounces) and
    // every `From` address.
    let senders = sender_list::candidates(
        std::iter::once(envelope.mail_from.as_str())
            .chain(parsed.from_addresses.iter().map(String::as_str)),
    );
    let mut refused = Vec::new();
    let auth_results = auth.as_ref();
    let attachments: Vec<NewAttachment<'_>> = parsed
        .attachments
        .iter()
        .map(|a| NewAttachment {
            filename: sanitize_filename(a.filename.as_deref().unwrap_or("")),
            content_type: &a.content_type,
            content: &a.content,
            content_id: a.content_id.as_deref(),
        })
        .collect();
    let thread_subject = normalize_subject(&parsed.subject);
    let mut copies = Vec::with_capacity(envelope.recipients.len());
    let mut reported = Vec::new();
    for rcpt in &envelope.recipients {
        if !inboxes::still_receiving(tx, rcpt.inbox_id)? {
            continue;
        }
        let verdict = screen(tx, rcpt, &senders, *not_allowed)?;
        if verdict == Verdict::Refuse {
            // With other recipients accepting it, SMTP has no way left to refuse it for this
            // one alone (the recipients were accepted at RCPT): it is dropped here.
            log::info!(
                "message from <{}> (From: {}) not delivered to inbox {}: refused by its allow or \
                 block list",
                envelope.mail_from,
                parsed.from_addresses.join(", "),
                rcpt.inbox_id
            );
            refused.push(rcpt.inbox_id);
            continue;
        }
        let mut added = received_header(hostname, &envelope.origin, &rcpt.address, now);
        if let Some(results) = auth_results {
            added.extend_from_slice(results.header(hostname).as_bytes());
        }
        let stored = messages::insert_inbound(
            tx,
            &NewInbound {
                account_id: rcpt.account_id,
                inbox_id: rcpt.inbox_id,
                from: &parsed.from,
                to: &parsed.to,
                cc: &parsed.cc,
                subject: &parsed.subject,
                text: parsed.text.as_deref(),
                html: parsed.html.as_deref(),
                message_id: parsed.message_id.as_deref(),
                in_reply_to: parsed.in_reply_to.as_deref(),
                references: &parsed.references,
                attachments: &attachments,
                raw: &[&added, raw],
                thread_subject: &thread_subject,
                auth_results,
                reading,
            },
            now,
        )?;
        if verdict == Verdict::Quarantine {
            // Kept out of sight: labelled `blocked` (not `unread`), and no `message.received`
            // for webhooks, streams or waiters.
            labels::change(
                tx,
                rcpt.account_id,
                stored.message_id,
                &LabelChange::server(label::BLOCKED),
            )?;
            log::info!(
                "message {} from <{}> stored as blocked in inbox {}: not on its allow list",
                stored.message_id,
                envelope.mail_from,
                rcpt.inbox_id
            );
        } else {
            let event = Event::MessageReceived(MessageReceived {
                message_id: stored.message_id,
                inbox_id: rcpt.inbox_id,
                thread_id: stored.thread_id,
                from: parsed.from.clone(),
                to: parsed.to.clone(),
                subject: parsed.subject.clone(),
                direction: "inbound",
                received_at: now,
                auth_results: auth_results.cloned(),
                extracted_text: reading.extracted_text.clone(),
                extracted_html: reading.extracted_html.clone(),
            });
            events::emit(tx, rcpt.account_id, &event, now)?;
        }
        let copy = StoredCopy {
            account_id: rcpt.account_id,
            inbox_id: rcpt.inbox_id,
            message_id: stored.message_id,
            thread_id: stored.thread_id,
        };
        copies.push(copy);
        reported.push((rcpt, copy));
    }
    if let Some(report) = &parsed.report {
        let reporter = Reporter {
            mail_from: &envelope.mail_from,
            from: &parsed.from,
            auth: auth_results,
            trusted_loops: trusted_reporters,
        };
        for (rcpt, copy) in &reported {
            if let Some(original) = reported_message(tx, rcpt, report, &reporter)? {
                apply_report(tx, copy.account_id, &original, report, now)?;
            }
        }
    }
    Ok(Delivery { copies, refused })
}

/// What the lists of `rcpt`'s inbox and account decide for a sender with the list entries
/// `senders` would match. A delivery report to one of the inbox's return paths is exempt: it is
/// about a message sent from here, whoever relays it.
fn screen(
    tx: &Tx<'_>,
    rcpt: &Recipient,
    senders: &[String],
    not_allowed: NotAllowed,
) -> Result<Verdict, Failure> {
    if rcpt.report_for.is_some() {
        return Ok(Verdict::Accept);
    }
    Ok(sender_lists::screen(tx, rcpt.account_id, rcpt.inbox_id, senders)?.verdict(not_allowed))
}

/// Who a report says it comes from: what decides whether it counts.
struct Reporter<'a> {
    /// The envelope sender (empty: the null sender, which delivery reports come from).
    mail_from: &'a str,
    /// The `From` header.
    from: &'a str,
    /// SPF/DKIM/DMARC results, when checked.
    auth: Option<&'a AuthResults>,
    /// Feedback loops to trust (`mail.feedback_loop_senders`).
    trusted_loops: &'a [String],
}

impl Reporter<'_> {
    /// A configured feedback loop: its `From` is on that domain (or below it) and a DKIM
    /// signature of that domain passed. The DKIM domain alone is not enough: a provider that
    /// runs a feedback loop also signs its users' own mail.
    fn is_trusted_loop(&self) -> bool {
        let from_domain = self
            .from
            .rsplit_once('@')
            .map(|(_, d)| d.trim_end_matches(['>', ' ']).to_ascii_lowercase())
            .unwrap_or_default();
        self.trusted_loops.iter().any(|domain| {
            let domain = domain.to_ascii_lowercase();
            (from_domain == domain || from_domain.ends_with(&format!(".{domain}")))
                && self.auth.is_some_and(|a| a.dkim_passes_for(&domain))
        })
    }
}

/// The message of the account a report received by `rcpt` is about, when the report counts.
/// A report that comes back to a message's own return path (VERP) is about that message: a
/// bounce when it comes from the null sender (RFC 5321 §4.5.5), a complaint from anyone.
/// Elsewhere only a complaint counts: when the original headers it quotes carry one of the
/// account's return paths with that message's Message-ID, or when it comes from a configured
/// feedback loop ([`Reporter::is_trusted_loop`]). Anything else is ordinary mail: knowing a
/// Message-ID, which every recipient of a message sees, is not enough to mark it.
fn reported_message(
    tx: &Tx<'_>,
    rcpt: &Recipient,
    report: &Report,
    reporter: &Reporter<'_>,
) -> Result<Option<Message>, Failure> {
    if let Some(id) = rcpt.report_for {
        if matches!(report, Report::Bounce { .. }) && !reporter.mail_from.is_empty() {
            return Ok(None);
        }
        return messages::outbound(tx, rcpt.account_id, id);
    }
    let Report::Complaint {
        original_ids,
        return_paths,
        ..
    } = report
    else {
        return Ok(None);
    };
    if let Some(m) =
        messages::outbound_by_return_path(tx, rcpt.account_id, return_paths, original_ids)?
    {
        return Ok(Some(m));
    }
    if reporter.is_trusted_loop() {
        return messages::outbound_by_message_id(tx, rcpt.account_id, original_ids);
    }
    Ok(None)
}

/// A bounce or complaint marks the message it is about (once) and tells the account's webhooks.
fn apply_report(
    tx: &Tx<'_>,
    account_id: AccountId,
    original: &Message,
    report: &Report,
    now: Timestamp,
) -> Result<(), Failure> {
    // A bounce names recipients of the message, or it is about some other message.
    let bounced: Vec<String> = match report {
        Report::Bounce { recipients, .. } => recipients
            .iter()
            .filter(|r| {
                let all = [
                    &original.to_addresses,
                    &original.cc_addresses,
                    &original.bcc_addresses,
                ];
                all.iter()
                    .any(|list| list.iter().any(|a| a.eq_ignore_ascii_case(r)))
            })
            .cloned()
            .collect(),
        Report::Complaint { .. } => Vec::new(),
    };
    let kind = match report {
        Report::Bounce { .. } if bounced.is_empty() => return Ok(()),
        Report::Bounce { .. } => ReportKind::Bounce,
        Report::Complaint { .. } => ReportKind::Complaint,
    };
    let reported = messages::mark_reported(tx, original, kind, now)?;
    if !reported.changed {
        return Ok(());
    }
    if reported.suspended {
        log::warn!(
            "inbox {} suspended: its bounce or complaint rate is over the limit",
            original.inbox_id
        );
    }
    let event = match report {
        Report::Bounce { bounce_type, .. } => Event::MessageBounced(MessageBounced {
            message_id: original.id,
            inbox_id: original.inbox_id,
            thread_id: original.thread_id,
            bounce_type: bounce_type.clone(),
            bounced_recipients: bounced,
        }),
        Report::Complaint { feedback_type, .. } => Event::MessageComplained(MessageComplained {
            message_id: original.id,
            inbox_id: original.inbox_id,
            thread_id: original.thread_id,
            complaint_feedback_type: feedback_type.clone(),
        }),
    };
    events::emit(tx, account_id, &event, now)?;
    Ok(())
}

/// `Received: from <helo> ([ip]) by <host> (AgentSend) with <proto> for <rcpt>; <date>`
/// (RFC 5321 §4.4), folded, CRLF-terminated.
fn received_header(hostname: &str, origin: &Origin, rcpt: &str, now: Timestamp) -> Vec<u8> {
    // The HELO name and recipient come from the client: keep them printable and on one line.
    let clean = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_control())
            .take(255)
            .collect::<String>()
    };
    let from = match origin.peer {
        Some(ip) => format!("from {} ([{ip}])", clean(&origin.helo)),
        None => format!("from {}", clean(&origin.helo)),
    };
    format!(
        "Received: {from}\r\n\tby {hostname} (AgentSend) with {}\r\n\tfor <{}>; {}\r\n",
        origin.protocol,
        clean(rcpt),
        now.to_rfc5322()
    )
    .into_bytes()
}
