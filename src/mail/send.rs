//! Accepting a send: check what needs the database, compose the message, store it
//! with its recipients and its send job. The send worker does the rest.

use std::sync::Arc;

use crate::domain::Clock;
use crate::domain::message::{Direction, Message, normalize_subject};
use crate::domain::outbound::RETURN_PATH_PREFIX;
use crate::domain::outbound::{RecipientKind, SendRequest};
use crate::domain::random;
use crate::domain::reading::Reading;
use crate::domain::reply::{ForwardMode, ForwardRequest, Original, ReplyRequest};
use crate::domain::{Caller, DomainId, Inbox, InboxId, MessageId, Refusal};
use crate::limits::Limits;
use crate::mail::MailError;
use crate::mail::compose::{self, Composition, Part};
use crate::mail::dkim::DkimKey;
use crate::mail::parse;
use crate::store::outbound::{self, NewOutbound};
use crate::store::{Db, Failure, Store, Tx, domains, inboxes, messages, sender_lists};

/// Accepting sends, with what it needs: the store, the clock, the shared domain and its DKIM
/// key, and the limits on sending. Cheap to clone.
#[derive(Clone)]
pub struct Sending {
    store: Store,
    clock: Arc<dyn Clock>,
    shared_domain: String,
    shared_key: Option<Arc<DkimKey>>,
    limits: Arc<Limits>,
    forward_as: ForwardMode,
}

impl Sending {
    /// Sends from inboxes of `shared_domain` are signed with `shared_key`, those of custom
    /// domains with their own keys. Forwards that do not say how carry the original
    /// `forward_as`.
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        shared_domain: String,
        shared_key: Option<Arc<DkimKey>>,
        limits: Arc<Limits>,
        forward_as: ForwardMode,
    ) -> Self {
        Self {
            store,
            clock,
            shared_domain,
            shared_key,
            limits,
            forward_as,
        }
    }

    /// Accepts a reply to `who`'s message `message_id`, from the message's inbox and in its
    /// thread: recipients, subject and references come from the original (see
    /// [`ReplyRequest::into_send`]); then it is a send like any other ([`Sending::submit`]).
    pub async fn reply<R: Send + 'static>(
        &self,
        who: &Caller,
        message_id: MessageId,
        request: ReplyRequest,
        respond: impl FnOnce(&Tx<'_>, Message) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, MailError> {
        let now = self.clock.now();
        let (inbox_id, send) = self
            .store
            .read_as(who, now, move |c, auth| {
                let original = messages::get_message(c, auth.account_id, message_id)?;
                // The inbox's own state (deleted, suspended) is checked as for any send.
                let inbox = inboxes::get_inbox(c, auth.account_id, original.inbox_id, now)?;
                let reply_to = match original.direction {
                    Direction::Inbound => parse::reply_addresses(&messages::raw_message(
                        c,
                        auth.account_id,
                        message_id,
                    )?),
                    Direction::Outbound => Vec::new(),
                };
                let send = request
                    .into_send(Original {
                        message: &original,
                        reply_to: &reply_to,
                        own_address: &inbox.address,
                    })
                    .map_err(|e| Failure::Refused(Refusal::Invalid(e)))?;
                Ok((inbox.id, send))
            })
            .await?;
        self.submit(who, inbox_id, send, respond).await
    }

    /// Accepts a forward of `who`'s message `message_id`, from the message's inbox and in its
    /// thread, carrying the original as the request says or else as configured (see
    /// [`ForwardRequest::into_send`]); then it is a send like any other ([`Sending::submit`]).
    pub async fn forward<R: Send + 'static>(
        &self,
        who: &Caller,
        message_id: MessageId,
        request: ForwardRequest,
        respond: impl FnOnce(&Tx<'_>, Message) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, MailError> {
        let now = self.clock.now();
        let default = self.forward_as;
        let (inbox_id, send) = self
            .store
            .read_as(who, now, move |c, auth| {
                let original = messages::get_message(c, auth.account_id, message_id)?;
                let inbox = inboxes::get_inbox(c, auth.account_id, original.inbox_id, now)?;
                let send = request
                    .into_send(&original, default)
                    .map_err(|e| Failure::Refused(Refusal::Invalid(e)))?;
                Ok((inbox.id, send))
            })
            .await?;
        self.submit(who, inbox_id, send, respond).await
    }

    /// Accepts a send from `who`'s inbox: stores it (status `queued`) and, in the same
    /// transaction, makes the caller's response from it with `respond` (which may store that
    /// response too, as an `Idempotency-Key` needs).
    pub async fn submit<R: Send + 'static>(
        &self,
        who: &Caller,
        inbox_id: InboxId,
        request: SendRequest,
        respond: impl FnOnce(&Tx<'_>, Message) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, MailError> {
        let now = self.clock.now();
        let (parent, attachment_ids) = (request.parent, request.attachment_ids.clone());
        let shared_key = self.shared_key.clone();
        let shared_domain = self.shared_domain.clone();
        let limits = self.limits.clone();
        // Loading what composing needs and composing (base64 of up to 25 MB of attachments) are
        // one trip to the blocking pool, outside the writer.
        let built = self
            .store
            .read_as(who, now, move |c, auth| {
                let inbox = inboxes::get_inbox(c, auth.account_id, inbox_id, now)?;
                limits.may_start_send(c, &inbox, now)?;
                let context = outbound::send_context(c, inbox, parent, &attachment_ids)?;
                let key = match context.inbox.domain_id {
                    Some(domain_id) => domain_key(c, domain_id)?.map(Arc::new),
                    None => shared_key,
                };
                // Bounces come back to the inbox's own domain when it receives mail here, else
                // to the shared domain (which always does).
                let bounces_to = match inboxes::find_receiving_inbox(c, &context.inbox.address)? {
                    Some(_) => None,
                    None => Some(shared_domain),
                };
                Ok(compose_for(
                    context,
                    request,
                    key.as_deref(),
                    bounces_to.as_deref(),
                    now,
                ))
            })
            .await??;
        let Composed {
            context,
            request,
            raw,
            message_id,
            in_reply_to,
            references,
            from,
            return_path,
            reading,
        } = built;

        let limits = self.limits.clone();
        self.store
            .write_as(who, now, move |tx, auth| {
                // Checked again where they cannot change underneath, now with the recipients.
                let inbox = inboxes::get_inbox(tx, auth.account_id, inbox_id, now)?;
                let recipients: Vec<(String, _)> = request
                    .recipients()
                    .into_iter()
                    .map(|(a, kind)| (a.as_str().to_owned(), kind))
                    .collect();
                let addresses: Vec<&str> = recipients.iter().map(|(a, _)| a.as_str()).collect();
                refuse_blocked(tx, &inbox, &recipients)?;
                limits.may_send(tx, &inbox, &addresses, now)?;
                let strings = |list: &[crate::domain::EmailAddress]| {
                    list.iter()
                        .map(|a| a.as_str().to_owned())
                        .collect::<Vec<_>>()
                };
                let attachment_ids: Vec<_> =
                    context.attachments.iter().map(|(m, _)| m.id).collect();
                let message = outbound::insert_outbound(
                    tx,
                    &NewOutbound {
                        account_id: auth.account_id,
                        inbox_id,
                        thread_id: context.thread.as_ref().map(|t| t.id),
                        thread_subject: &normalize_subject(&request.subject),
                        from: &from,
                        to: &strings(&request.to),
                        cc: &strings(&request.cc),
                        bcc: &strings(&request.bcc),
                        subject: &request.subject,
                        text: request.body_text.as_deref(),
                        html: request.body_html.as_deref(),
                        message_id: &message_id,
                        in_reply_to: in_reply_to.as_deref(),
                        references: &references,
                        attachment_ids: &attachment_ids,
                        recipients: &recipients,
                        raw: &raw,
                        return_path: &return_path,
                        reading: &reading,
                    },
                    now,
                )?;
                respond(tx, message)
            })
            .await
            .map_err(MailError::from)
    }
}

/// Refuses a send to a recipient on the block list of the inbox or of its account (allow
/// lists restrict who may write to the inbox, not whom it writes to).
fn refuse_blocked(
    c: &Db,
    inbox: &Inbox,
    recipients: &[(String, RecipientKind)],
) -> Result<(), Failure> {
    let addresses = recipients.iter().map(|(a, _)| a.as_str());
    let Some(blocked) = sender_lists::first_blocked(c, inbox.account_id, inbox.id, addresses)?
    else {
        return Ok(());
    };
    let field = recipients
        .iter()
        .find(|(a, _)| a == blocked)
        .map_or("to", |(_, kind)| kind.as_str());
    Err(Failure::Refused(Refusal::RecipientBlocked {
        field,
        address: blocked.to_owned(),
    }))
}

/// The signing key of a custom domain verified for sending.
fn domain_key(c: &Db, domain_id: DomainId) -> Result<Option<DkimKey>, Failure> {
    domains::signing_key(c, domain_id)?
        .map(|k| {
            DkimKey::from_stored(k.algorithm, &k.private_key, &k.domain, &k.selector)
                .map_err(|e| Failure::corrupt(format!("DKIM key of domain {domain_id}: {e}")))
        })
        .transpose()
}

/// A send, composed.
struct Composed {
    context: outbound::SendContext,
    request: SendRequest,
    /// The exact bytes.
    raw: Vec<u8>,
    /// Message-ID, without brackets.
    message_id: String,
    in_reply_to: Option<String>,
    references: Vec<String>,
    /// `Name <addr>` or `addr`.
    from: String,
    /// The envelope sender (see [`return_path`]).
    return_path: String,
    /// Its new content and searchable text.
    reading: Reading,
}

/// The message's bytes and headers: Message-ID on the inbox's domain, In-Reply-To and
/// References from the message answered (see [`outbound::send_context`]); DKIM-signed with `dkim` when it
/// is the inbox domain's key. Bounces go to `bounces_to`, or the inbox's domain if `None`.
fn compose_for(
    context: outbound::SendContext,
    request: SendRequest,
    dkim: Option<&DkimKey>,
    bounces_to: Option<&str>,
    now: crate::domain::Timestamp,
) -> Result<Composed, MailError> {
    let inbox = &context.inbox;
    let domain = inbox
        .address
        .rsplit_once('@')
        .map_or("localhost", |(_, d)| d);
    let message_id = format!("{}@{domain}", MessageId::new().as_uuid().simple());
    let (in_reply_to, references) = match &context.thread {
        Some(thread) => (thread.in_reply_to.clone(), thread.references.clone()),
        None => (None, Vec::new()),
    };
    let parts: Vec<Part<'_>> = context
        .attachments
        .iter()
        .map(|(meta, bytes)| Part {
            filename: &meta.filename,
            content_type: &meta.content_type,
            content: bytes,
        })
        .chain(context.forwarded.iter().map(|f| Part {
            filename: &f.filename,
            content_type: "message/rfc822",
            content: &f.raw,
        }))
        .collect();
    let raw = compose::compose(&Composition {
        from_name: inbox.display_name.as_deref(),
        from: &inbox.address,
        to: &request.to,
        cc: &request.cc,
        subject: &request.subject,
        text: request.body_text.as_deref(),
        html: request.body_html.as_deref(),
        message_id: &message_id,
        in_reply_to: in_reply_to.as_deref(),
        references: &references,
        attachments: &parts,
        date: now,
    })
    .map_err(|e| MailError::Compose(e.to_string()))?;
    // Signed here, so that the stored bytes are the ones sent.
    let raw = match dkim {
        Some(key) if key.domain().eq_ignore_ascii_case(domain) => {
            key.sign(&raw).map_err(MailError::Signing)?
        }
        _ => raw,
    };
    let from = match &inbox.display_name {
        Some(name) => format!("{name} <{}>", inbox.address),
        None => inbox.address.clone(),
    };
    let return_path = return_path(bounces_to.unwrap_or(domain));
    let reading = Reading::of(request.body_text.as_deref(), request.body_html.as_deref());
    Ok(Composed {
        reading,
        context,
        request,
        raw,
        message_id,
        in_reply_to,
        references,
        from,
        return_path,
    })
}

/// A return path of its own for one message (VERP): `bounces+<token>@<domain>`, the token 24
/// random characters (124 bits). Delivery reports only count when they come back to it, so
/// that knowing a Message-ID, which every recipient sees, is not enough to forge a bounce.
fn return_path(domain: &str) -> String {
    format!("{RETURN_PATH_PREFIX}{}@{domain}", random::lower_alnum(24))
}
