//! The tools: each one's name, description, argument schema and annotations, and the call
//! that runs it. The first eight keep the names and argument shapes of the hosted service's
//! MCP package, so prompts written for it keep working.

use rmcp::model::{Tool, ToolAnnotations};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::Done;
use crate::domain::message::Message;
use crate::domain::search::SearchQuery;
use crate::domain::{
    AttachmentId, Caller, Credential, DomainId, DraftId, InboxId, MessageId, Paging, Scope,
    ThreadId,
};
use crate::events::{MessageFilter, Waited};
use crate::http::List;
use crate::http::attachments::AttachmentDto;
use crate::http::domains::DomainDto;
use crate::http::drafts::{DraftBody, DraftDto};
use crate::http::error::ApiError;
use crate::http::events::{parse_timeout, parse_wait_from};
use crate::http::extract;
use crate::http::inboxes::{CreateInbox, InboxDto};
use crate::http::messages::{MessageDto, MessageFilters, SendMessage, TextQuery, UpdateLabels};
use crate::http::reply::{ForwardMessage, ReplyMessage};
use crate::http::threads::ThreadDto;
use crate::http::webhooks::{CreateWebhook, CreatedWebhookDto};
use crate::labels;
use crate::state::AppState;
use crate::store::{attachments, domains, inboxes, messages, search, webhooks};

/// Text attachments up to this size come back with their content.
const MAX_TEXT_ATTACHMENT: u64 = 1024 * 1024;

/// How a tool behaves, for its annotations.
#[derive(Clone, Copy)]
enum Effect {
    /// Reads only.
    Reads,
    /// Adds something (a message, an inbox, a webhook); calling twice does it twice.
    Adds,
    /// Changes something in place; calling twice with the same arguments is the same as once.
    Changes,
}

fn tool(
    name: &'static str,
    title: &str,
    description: &'static str,
    effect: Effect,
    open_world: bool,
    schema: Value,
) -> Tool {
    let schema = match schema {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    let annotations = ToolAnnotations::with_title(title)
        .read_only(matches!(effect, Effect::Reads))
        .destructive(false)
        .idempotent(!matches!(effect, Effect::Adds))
        .open_world(open_world);
    Tool::new(name, description, schema)
        .with_title(title)
        .with_annotations(annotations)
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn id(description: &str) -> Value {
    json!({"type": "string", "format": "uuid", "description": description})
}

fn addresses(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string", "format": "email"}, "maxItems": 50, "description": description})
}

fn labels_list(description: &str) -> Value {
    json!({"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_.:-]{1,64}$"}, "maxItems": 50, "description": description})
}

fn limit() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 100, "description": "How many to return (default 20, at most 100)"})
}

fn cursor() -> Value {
    string("The nextCursor of the previous page, to get the next one")
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required})
}

/// Every tool, in the order they are listed.
pub(super) fn all() -> Vec<Tool> {
    use Effect::{Adds, Changes, Reads};
    vec![
        tool(
            "create_inbox",
            "Create inbox",
            "Create a new email inbox (a real address) for the agent. Returns the inbox with its \
             address and ID. Side effect: creates an inbox on the account.",
            Adds,
            false,
            object(
                json!({
                    "displayName": string("Display name for the inbox (e.g. 'Support Bot'), shown in From"),
                    "prefix": string("Prefix for a generated address (e.g. 'support' gives support-xxxxxxxx@domain). Without it a random address is generated."),
                    "address": string("An exact local part or full address instead of a generated one (not with prefix)"),
                    "domainId": id("A verified custom domain to create the inbox on (see list_domains)"),
                }),
                &[],
            ),
        ),
        tool(
            "list_inboxes",
            "List inboxes",
            "List the account's email inboxes, newest first, with their addresses, IDs, status \
             and unread counts. Read-only.",
            Reads,
            false,
            object(json!({"limit": limit(), "cursor": cursor()}), &[]),
        ),
        tool(
            "send_email",
            "Send email",
            "Send an email from an inbox. Requires inboxId, to, subject and bodyText; include \
             threadId to reply within a conversation. Side effect: queues a real email for \
             delivery to the recipients (it cannot be recalled).",
            Adds,
            true,
            object(
                json!({
                    "inboxId": id("The inbox ID to send from"),
                    "to": addresses("Recipient email addresses (1–50)"),
                    "subject": string("Email subject line"),
                    "bodyText": string("Plain text body of the email"),
                    "bodyHtml": string("HTML body of the email (optional; sent alongside bodyText)"),
                    "cc": addresses("CC recipients (optional)"),
                    "bcc": addresses("BCC recipients (optional)"),
                    "threadId": id("Thread ID to reply in an existing conversation (optional)"),
                    "attachmentIds": {"type": "array", "items": {"type": "string", "format": "uuid"}, "maxItems": 10, "description": "IDs of uploaded attachments to include (optional)"},
                }),
                &["inboxId", "to", "subject", "bodyText"],
            ),
        ),
        tool(
            "list_emails",
            "List emails",
            "List an inbox's emails, newest first, with sender, subject, status and labels. Use \
             it to check for new mail (label 'unread'). Read-only.",
            Reads,
            false,
            object(
                json!({
                    "inboxId": id("The inbox ID to list emails for"),
                    "limit": limit(),
                    "status": string("Filter by status: queued, sending, sent, delivered, failed, bounced, complained, received"),
                    "label": string("Only emails with this label (e.g. unread)"),
                    "cursor": cursor(),
                }),
                &["inboxId"],
            ),
        ),
        tool(
            "get_email",
            "Get email",
            "Get the full content of one email by its ID: headers, text and HTML bodies, the new \
             content without quoted history (extractedText), attachments, labels and thread. \
             Read-only.",
            Reads,
            false,
            object(
                json!({"messageId": id("The message ID to retrieve")}),
                &["messageId"],
            ),
        ),
        tool(
            "list_threads",
            "List threads",
            "List an inbox's conversation threads, most recent activity first. Threads group \
             related emails (replies, forwards). Read-only.",
            Reads,
            false,
            object(
                json!({
                    "inboxId": id("The inbox ID to list threads for"),
                    "limit": limit(),
                    "cursor": cursor(),
                }),
                &["inboxId"],
            ),
        ),
        tool(
            "get_thread",
            "Get thread",
            "Get a conversation thread with its emails in chronological order (up to 100). \
             Read-only.",
            Reads,
            false,
            object(
                json!({"threadId": id("The thread ID to retrieve")}),
                &["threadId"],
            ),
        ),
        tool(
            "register_webhook",
            "Register webhook",
            "Register a webhook URL to receive signed notifications when emails arrive or change \
             status. Returns the webhook ID and the secret for verifying signatures (shown only \
             now). Side effect: the server will POST events to that URL.",
            Adds,
            true,
            object(
                json!({
                    "url": string("The http(s) URL to POST webhook events to"),
                    "events": {"type": "array", "items": {"type": "string"}, "description": "Events to subscribe to, e.g. message.received, message.sent, message.delivered, message.bounced (default: all)"},
                    "description": string("What the webhook is for (optional)"),
                }),
                &["url"],
            ),
        ),
        tool(
            "reply_to_email",
            "Reply to email",
            "Reply to an email: goes to its Reply-To or From (with replyAll, to everyone on it \
             but this inbox), with the subject 'Re: …', in the same thread, with In-Reply-To \
             and References set. Side effect: queues a real email for delivery.",
            Adds,
            true,
            object(
                json!({
                    "messageId": id("The email to reply to"),
                    "bodyText": string("Plain text body of the reply"),
                    "bodyHtml": string("HTML body of the reply (optional)"),
                    "replyAll": {"type": "boolean", "description": "Also reply to the other To and Cc recipients (default false)"},
                    "cc": addresses("Extra CC recipients (optional)"),
                    "bcc": addresses("BCC recipients (optional)"),
                    "attachmentIds": {"type": "array", "items": {"type": "string", "format": "uuid"}, "maxItems": 10, "description": "IDs of uploaded attachments to include (optional)"},
                }),
                &["messageId"],
            ),
        ),
        tool(
            "forward_email",
            "Forward email",
            "Forward an email to new recipients with an optional note, the original attached \
             as a .eml file (mode 'attachment') or inlined below the note with its attachments \
             (mode 'inline'). Side effect: queues a real email for delivery.",
            Adds,
            true,
            object(
                json!({
                    "messageId": id("The email to forward"),
                    "to": addresses("Recipient email addresses (1–50)"),
                    "cc": addresses("CC recipients (optional)"),
                    "bcc": addresses("BCC recipients (optional)"),
                    "bodyText": string("A note above the forwarded email (optional)"),
                    "bodyHtml": string("The note as HTML (optional)"),
                    "mode": {"type": "string", "enum": ["attachment", "inline"], "description": "How to include the original (default: the server's setting)"},
                }),
                &["messageId", "to"],
            ),
        ),
        tool(
            "wait_for_email",
            "Wait for email",
            "Wait until an email arrives in an inbox (or the timeout passes) and return it. Pass \
             the ID of the email you sent as 'after' to wait for its reply. Read-only.",
            Reads,
            false,
            object(
                json!({
                    "inboxId": id("The inbox to watch"),
                    "timeoutSeconds": {"type": "integer", "minimum": 1, "maximum": 60, "description": "How long to wait (default 30)"},
                    "after": string("Only emails stored after this message ID (or event ID); default: from now on"),
                    "from": string("Only emails whose sender contains this"),
                    "subject": string("Only emails whose subject contains this"),
                    "threadId": id("Only emails in this thread"),
                }),
                &["inboxId"],
            ),
        ),
        tool(
            "search_emails",
            "Search emails",
            "Full-text search over the account's emails (subject, addresses, body). Query syntax: \
             words (all must match), \"a phrase\", prefix*, OR, -word, and subject:/body:/address: \
             to look in one part. Read-only.",
            Reads,
            false,
            object(
                json!({
                    "query": string("What to search for"),
                    "inboxId": id("Only this inbox (default: all)"),
                    "from": string("Sender contains this"),
                    "to": string("A recipient contains this"),
                    "after": string("Stored at or after this time (RFC 3339 or a date)"),
                    "before": string("Stored before this time (RFC 3339 or a date)"),
                    "label": string("Only emails with this label"),
                    "order": {"type": "string", "enum": ["newest", "rank"], "description": "newest (default) or rank (best match first)"},
                    "limit": limit(),
                    "cursor": cursor(),
                }),
                &["query"],
            ),
        ),
        tool(
            "update_labels",
            "Update labels",
            "Add or remove labels on an email (messageId) or on every email of a thread \
             (threadId), e.g. mark read with addLabels ['read']. Side effect: changes labels and \
             notifies webhooks (message.updated).",
            Changes,
            false,
            object(
                json!({
                    "messageId": id("The email to label (or give threadId)"),
                    "threadId": id("The thread whose emails to label (or give messageId)"),
                    "addLabels": labels_list("Labels to add ('read' removes 'unread' and the other way round)"),
                    "removeLabels": labels_list("Labels to remove"),
                }),
                &[],
            ),
        ),
        tool(
            "get_attachment",
            "Get attachment",
            "Get an attachment's metadata, a download link valid for a while, and its text when \
             it is a text type of at most 1 MiB. Read-only.",
            Reads,
            false,
            object(
                json!({"attachmentId": id("The attachment ID (from an email's attachments)")}),
                &["attachmentId"],
            ),
        ),
        tool(
            "create_draft",
            "Create draft",
            "Write a draft in an inbox without sending it. With sendAt it goes by itself at that \
             time (at most 30 days ahead); with requiresApproval a person with the approve \
             scope must release it first. Returns the draft. Side effect: stores a draft, and \
             schedules a real email when sendAt is given.",
            Adds,
            false,
            object(
                json!({
                    "inboxId": id("The inbox to write the draft in"),
                    "to": addresses("Recipient email addresses"),
                    "cc": addresses("CC recipients"),
                    "bcc": addresses("BCC recipients"),
                    "subject": string("Email subject line"),
                    "bodyText": string("Plain text body"),
                    "bodyHtml": string("HTML body"),
                    "threadId": id("Thread to reply in"),
                    "attachmentIds": {"type": "array", "items": {"type": "string", "format": "uuid"}, "maxItems": 10, "description": "IDs of uploaded attachments"},
                    "sendAt": {"type": "string", "format": "date-time", "description": "Send it by itself at this time (RFC 3339, in the future, at most 30 days ahead)"},
                    "requiresApproval": {"type": "boolean", "description": "Only a person (a key with the approve scope) may release it"},
                }),
                &["inboxId"],
            ),
        ),
        tool(
            "send_draft",
            "Send draft",
            "Send a draft now. A draft that requires approval can only be sent once approved \
             (or by a key with the approve scope): otherwise the error is APPROVAL_REQUIRED. \
             Side effect: queues a real email for delivery.",
            Adds,
            true,
            object(json!({"draftId": id("The draft to send")}), &["draftId"]),
        ),
        tool(
            "list_domains",
            "List domains",
            "List the account's custom sending domains with their verification status. Read-only.",
            Reads,
            false,
            object(json!({"limit": limit(), "cursor": cursor()}), &[]),
        ),
        tool(
            "get_domain_records",
            "Get domain records",
            "Get the DNS records to publish for a custom domain (verification TXT, MX, SPF, DKIM, \
             DMARC) and the status of each check. Read-only.",
            Reads,
            false,
            object(json!({"domainId": id("The domain ID")}), &["domainId"]),
        ),
    ]
}

/// Runs tool `name`.
pub(super) async fn call(
    state: &AppState,
    credential: Credential,
    name: &str,
    args: Value,
) -> Result<Done, ApiError> {
    let as_ = |scopes| Caller::needing(credential.clone(), scopes);
    match name {
        "create_inbox" => create_inbox(state, as_(&[Scope::Manage]), args).await,
        "list_inboxes" => list_inboxes(state, as_(&[Scope::Read]), args).await,
        "send_email" => send_email(state, as_(&[Scope::Send]), args).await,
        "list_emails" => list_emails(state, as_(&[Scope::Read]), args).await,
        "get_email" => get_email(state, as_(&[Scope::Read]), args).await,
        "list_threads" => list_threads(state, as_(&[Scope::Read]), args).await,
        "get_thread" => get_thread(state, as_(&[Scope::Read]), args).await,
        "register_webhook" => {
            register_webhook(state, as_(&[Scope::Read, Scope::Manage]), args).await
        }
        "reply_to_email" => reply_to_email(state, as_(&[Scope::Send]), args).await,
        "forward_email" => forward_email(state, as_(&[Scope::Read, Scope::Send]), args).await,
        "wait_for_email" => wait_for_email(state, as_(&[Scope::Read]), args).await,
        "search_emails" => search_emails(state, as_(&[Scope::Read]), args).await,
        "update_labels" => update_labels(state, as_(&[Scope::Read, Scope::Manage]), args).await,
        "get_attachment" => get_attachment(state, as_(&[Scope::Read]), args).await,
        "create_draft" => create_draft(state, as_(&[Scope::Send]), args).await,
        "send_draft" => send_draft(state, as_(&[Scope::Send]), args).await,
        "list_domains" => list_domains(state, as_(&[Scope::Read]), args).await,
        "get_domain_records" => get_domain_records(state, as_(&[Scope::Read]), args).await,
        other => Err(ApiError::invalid_field(
            "name",
            format!("{other:?} is not a tool of this server (tools/list names them)"),
        )),
    }
}

/// The arguments as `T`; a missing or malformed one is a validation error naming it.
fn args<T: DeserializeOwned>(args: Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(args).map_err(|e| {
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        match message
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split('`').next())
        {
            Some(field) => ApiError::invalid_field(field, "is required"),
            None if path == "." => ApiError::invalid_field("arguments", message),
            None => ApiError::invalid_field(&path, message),
        }
    })
}

fn json_of<T: serde::Serialize>(value: &T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal(e.to_string()))
}

/// Takes argument `field` out of `a` (so that the rest can be parsed as a wire type); a
/// missing required one, or one of the wrong type, is a validation error naming it.
fn take<T: DeserializeOwned>(a: &mut Value, field: &str) -> Result<T, ApiError> {
    let value = a
        .as_object_mut()
        .and_then(|o| o.remove(field))
        .unwrap_or(Value::Null);
    let absent = value.is_null();
    serde_json::from_value(value).map_err(|e| {
        if absent {
            ApiError::invalid_field(field, "is required")
        } else {
            ApiError::invalid_field(field, e.to_string())
        }
    })
}

/// The paging arguments, `limit` (1–100) and `cursor`, taken out of `a`.
fn paging(a: &mut Value) -> Result<Paging, ApiError> {
    let limit: Option<u32> = take(a, "limit")?;
    let cursor: Option<String> = take(a, "cursor")?;
    let limit = limit.map(|l| l.to_string());
    extract::paging(limit.as_deref(), None, cursor.as_deref())
}

fn count(page_total: u64, shown: usize, what: &str) -> String {
    format!("{shown} of {page_total} {what}")
}

fn message_line(m: &Message) -> String {
    format!(
        "{} from {} — \"{}\" ({})",
        m.id,
        m.from_address,
        m.subject,
        m.status.as_str()
    )
}

fn listed<T: serde::Serialize + utoipa::ToSchema>(
    what: &str,
    page: crate::domain::Page<T>,
) -> Result<Done, ApiError> {
    let (total, shown) = (page.total, page.data.len());
    let value = json_of(&List::from(page))?;
    let more = if value["nextCursor"].is_string() {
        "; more with cursor=nextCursor"
    } else {
        ""
    };
    Ok(Done::new(
        format!("{}{more}", count(total, shown, what)),
        value,
    ))
}

/// A page of emails: the count, then a line for each.
fn listed_emails(what: &str, page: crate::domain::Page<Message>) -> Result<Done, ApiError> {
    let lines: Vec<String> = page.data.iter().map(message_line).collect();
    let mut done = listed(what, page.map(MessageDto::from))?;
    for line in lines {
        done.summary.push_str("\n- ");
        done.summary.push_str(&line);
    }
    Ok(done)
}

async fn create_inbox(state: &AppState, who: Caller, a: Value) -> Result<Done, ApiError> {
    let new = args::<CreateInbox>(a)?.into_new_inbox(&state.config)?;
    let (now, limits) = (state.now(), state.limits.clone());
    let inbox = state
        .store
        .write_as(&who, now, move |tx, who| {
            limits.may_create_inbox(tx, who.account_id, now)?;
            inboxes::create_inbox(tx, who.account_id, &new, now)
        })
        .await?;
    let summary = format!("Created inbox {} ({})", inbox.address, inbox.id);
    Ok(Done::new(summary, json_of(&InboxDto::from(inbox))?))
}

async fn list_inboxes(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let paging = paging(&mut a)?;
    let now = state.now();
    let page = state
        .store
        .read_as(&who, now, move |c, who| {
            inboxes::list_inboxes(c, who.account_id, paging, now)
        })
        .await?;
    listed("inboxes", page.map(InboxDto::from))
}

async fn send_email(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let inbox_id: InboxId = take(&mut a, "inboxId")?;
    let request = args::<SendMessage>(a)?.into_request()?;
    let message = state
        .sending
        .submit(&who, inbox_id, request, |_, m| Ok(m))
        .await?;
    sent("Queued", message)
}

/// A message accepted for sending.
fn sent(verb: &str, message: Message) -> Result<Done, ApiError> {
    let summary = format!(
        "{verb} message {} to {} (status {})",
        message.id,
        message.to_addresses.join(", "),
        message.status.as_str()
    );
    Ok(Done::new(summary, json_of(&MessageDto::from(message))?))
}

async fn reply_to_email(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let message_id: MessageId = take(&mut a, "messageId")?;
    let request = args::<ReplyMessage>(a)?.into_request()?;
    let message = state
        .sending
        .reply(&who, message_id, request, |_, m| Ok(m))
        .await?;
    sent("Queued reply", message)
}

async fn forward_email(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let message_id: MessageId = take(&mut a, "messageId")?;
    let request = args::<ForwardMessage>(a)?.into_request()?;
    let message = state
        .sending
        .forward(&who, message_id, request, |_, m| Ok(m))
        .await?;
    sent("Queued forward", message)
}

async fn list_emails(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let inbox_id: InboxId = take(&mut a, "inboxId")?;
    let paging = paging(&mut a)?;
    let q = MessageFilters {
        status: take(&mut a, "status")?,
        label: take(&mut a, "label")?,
        ..MessageFilters::default()
    }
    .parse(&TextQuery::default())?;
    let now = state.now();
    let page = state
        .store
        .read_as(&who, now, move |c, who| {
            messages::list_messages(c, who.account_id, inbox_id, &q, paging, now)
        })
        .await?;
    listed_emails("emails", page)
}

async fn get_email(state: &AppState, who: Caller, a: Value) -> Result<Done, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct GetEmail {
        message_id: MessageId,
    }
    let GetEmail { message_id } = args(a)?;
    let message = state
        .store
        .read_as(&who, state.now(), move |c, who| {
            messages::get_message(c, who.account_id, message_id)
        })
        .await?;
    let summary = message_line(&message);
    Ok(Done::new(summary, json_of(&MessageDto::from(message))?))
}

async fn list_threads(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let inbox_id: InboxId = take(&mut a, "inboxId")?;
    let (paging, now) = (paging(&mut a)?, state.now());
    let page = state
        .store
        .read_as(&who, now, move |c, who| {
            search::find_threads(c, who.account_id, inbox_id, None, None, paging, now)
        })
        .await?;
    listed("threads", page.map(ThreadDto::from))
}

async fn get_thread(state: &AppState, who: Caller, a: Value) -> Result<Done, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct GetThread {
        thread_id: ThreadId,
    }
    let GetThread { thread_id } = args(a)?;
    let (thread, page) = state
        .store
        .read_as(&who, state.now(), move |c, who| {
            let thread = messages::get_thread(c, who.account_id, thread_id)?;
            let paging = Paging::new(Paging::MAX_LIMIT, 0);
            let page = messages::thread_messages(c, who.account_id, thread_id, None, paging)?;
            Ok((thread, page))
        })
        .await?;
    let summary = format!(
        "Thread \"{}\": {} of {} messages",
        thread.subject,
        page.data.len(),
        page.total
    );
    let mut value = json_of(&List::from(page.map(MessageDto::from)))?;
    value["thread"] = json_of(&ThreadDto::from(thread))?;
    Ok(Done::new(summary, value))
}

async fn register_webhook(state: &AppState, who: Caller, a: Value) -> Result<Done, ApiError> {
    let new = args::<CreateWebhook>(a)?.into_new(state)?;
    let (now, limits) = (state.now(), state.limits.clone());
    let created = state
        .store
        .write_as(&who, now, move |tx, who| {
            limits.may_create_webhook(tx, who.account_id, now)?;
            let webhook = webhooks::create_webhook(tx, who.account_id, &new, now)?;
            Ok(CreatedWebhookDto::new(webhook, &new))
        })
        .await?;
    let value = json_of(&created)?;
    let summary = format!(
        "Registered webhook {} for {}; verify deliveries with its secret",
        value["id"].as_str().unwrap_or(""),
        value["url"].as_str().unwrap_or("")
    );
    Ok(Done::new(summary, value))
}

async fn wait_for_email(state: &AppState, who: Caller, a: Value) -> Result<Done, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Wait {
        inbox_id: InboxId,
        timeout_seconds: Option<u64>,
        after: Option<String>,
        from: Option<String>,
        subject: Option<String>,
        thread_id: Option<ThreadId>,
    }
    let w: Wait = args(a)?;
    let timeout = parse_timeout(w.timeout_seconds.map(|t| t.to_string()).as_deref())
        .map_err(|e| ApiError::invalid_field("timeoutSeconds", e))?;
    let from =
        parse_wait_from(w.after.as_deref()).map_err(|e| ApiError::invalid_field("after", e))?;
    let inbox_id = w.inbox_id;
    let account = state
        .store
        .read_as(&who, state.now(), move |c, who| {
            inboxes::exists(c, who.account_id, inbox_id)?;
            Ok(who.account_id)
        })
        .await?;
    let filter = MessageFilter {
        from: w.from,
        subject: w.subject,
        thread_id: w.thread_id,
    };
    match state
        .events
        .wait_for_message(account, inbox_id, from, &filter, timeout)
        .await?
    {
        Waited::Message(message) => {
            let summary = format!("Received {}", message_line(&message));
            Ok(Done::new(summary, json_of(&MessageDto::from(*message))?))
        }
        Waited::TimedOut => Ok(Done::new(
            format!(
                "No matching email arrived within {} seconds",
                timeout.as_secs()
            ),
            json!({"message": null, "timedOut": true}),
        )),
        Waited::ShuttingDown => Err(ApiError::busy()),
    }
}

async fn search_emails(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let query: String = take(&mut a, "query")?;
    let inbox_id: Option<InboxId> = take(&mut a, "inboxId")?;
    let paging = paging(&mut a)?;
    let mut q = args::<MessageFilters>(a)?.parse(&TextQuery::default())?;
    q.text = Some(
        SearchQuery::parse(&query).map_err(|e| ApiError::invalid_field("query", e.to_string()))?,
    );
    q.inbox_id = inbox_id;
    let page = state
        .store
        .read_as(&who, state.now(), move |c, who| {
            if let Some(inbox) = q.inbox_id {
                inboxes::exists(c, who.account_id, inbox)?;
            }
            search::find_messages(c, who.account_id, &q, paging)
        })
        .await?;
    listed_emails("matching emails", page)
}

async fn update_labels(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let message_id: Option<MessageId> = take(&mut a, "messageId")?;
    let thread_id: Option<ThreadId> = take(&mut a, "threadId")?;
    let change = args::<UpdateLabels>(a)?.parse()?;
    let now = state.now();
    match (message_id, thread_id) {
        (Some(id), None) => {
            let message = state
                .store
                .write_as(&who, now, move |tx, who| {
                    labels::relabel_message(tx, who.account_id, id, &change, now)?;
                    messages::get_message(tx, who.account_id, id)
                })
                .await?;
            let summary = format!("Email {id} now has labels: {}", message.labels.join(", "));
            Ok(Done::new(summary, json_of(&MessageDto::from(message))?))
        }
        (None, Some(id)) => {
            let thread = state
                .store
                .write_as(&who, now, move |tx, who| {
                    labels::relabel_thread(tx, who.account_id, id, &change, now)?;
                    messages::get_thread(tx, who.account_id, id)
                })
                .await?;
            let summary = format!("Thread {id} now has labels: {}", thread.labels.join(", "));
            Ok(Done::new(summary, json_of(&ThreadDto::from(thread))?))
        }
        _ => Err(ApiError::invalid_field(
            "messageId",
            "give exactly one of messageId and threadId",
        )),
    }
}

async fn get_attachment(state: &AppState, who: Caller, a: Value) -> Result<Done, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct GetAttachment {
        attachment_id: AttachmentId,
    }
    let GetAttachment { attachment_id } = args(a)?;
    let (attachment, text) = state
        .store
        .read_as(&who, state.now(), move |c, who| {
            let attachment = attachments::get(c, who.account_id, attachment_id)?;
            let meta = &attachment.meta;
            let text = if is_text(&meta.content_type) && meta.size <= MAX_TEXT_ATTACHMENT {
                let (_, bytes) = attachments::with_content(c, who.account_id, attachment_id)?;
                Some(String::from_utf8_lossy(&bytes).into_owned())
            } else {
                None
            };
            Ok((attachment, text))
        })
        .await?;
    let summary = format!(
        "{} ({}, {} bytes){}",
        attachment.meta.filename,
        attachment.meta.content_type,
        attachment.meta.size,
        if text.is_some() {
            "; its text is in `text`"
        } else {
            "; download it from `url`"
        }
    );
    let mut value = json_of(&AttachmentDto::new(attachment, &state.links, state.now()))?;
    value["text"] = json!(text);
    Ok(Done::new(summary, value))
}

/// Whether a content type is text an agent can read as it is.
fn is_text(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || ["application/json", "application/xml", "application/csv"].contains(&essence.as_str())
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

async fn create_draft(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let inbox_id: InboxId = take(&mut a, "inboxId")?;
    let fields = args::<DraftBody>(a)?.parse(state.drafts.now())?;
    let draft = state
        .drafts
        .create(&who, inbox_id, fields, |_, d| Ok(d))
        .await?;
    let value = json_of(&DraftDto::from(draft))?;
    let summary = format!(
        "Saved draft {} ({}{})",
        value["id"].as_str().unwrap_or(""),
        value["status"].as_str().unwrap_or(""),
        match value["sendAt"].as_str() {
            Some(at) => format!(", goes at {at}"),
            None => String::new(),
        }
    );
    Ok(Done::new(summary, value))
}

async fn send_draft(state: &AppState, who: Caller, a: Value) -> Result<Done, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SendDraft {
        draft_id: DraftId,
    }
    let SendDraft { draft_id } = args(a)?;
    let message = state.drafts.send(&who, draft_id, |_, m| Ok(m)).await?;
    sent("Sent draft as", message)
}

async fn list_domains(state: &AppState, who: Caller, mut a: Value) -> Result<Done, ApiError> {
    let paging = paging(&mut a)?;
    let page = state
        .store
        .read_as(&who, state.now(), move |c, who| {
            domains::list_domains(c, who.account_id, paging)
        })
        .await?;
    let setup = state.dns_setup.clone();
    listed("domains", page.map(|d| DomainDto::new(d, &setup)))
}

async fn get_domain_records(state: &AppState, who: Caller, a: Value) -> Result<Done, ApiError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct GetDomain {
        domain_id: DomainId,
    }
    let GetDomain { domain_id } = args(a)?;
    let domain = state
        .store
        .read_as(&who, state.now(), move |c, who| {
            domains::get_domain(c, who.account_id, domain_id)
        })
        .await?;
    let value = json_of(&DomainDto::new(domain, &state.dns_setup))?;
    let records = value["dnsRecords"].as_array().map_or(0, Vec::len);
    let summary = format!(
        "{}: sending {}, receiving {}; {records} DNS records to publish (dnsRecords)",
        value["domain"].as_str().unwrap_or(""),
        value["sendingStatus"].as_str().unwrap_or(""),
        value["receivingStatus"].as_str().unwrap_or("")
    );
    Ok(Done::new(summary, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_a_described_object_schema_and_annotations() {
        let tools = all();
        assert_eq!(tools.len(), 18);
        for t in &tools {
            assert!(
                t.description.as_ref().is_some_and(|d| d.len() > 40),
                "{}",
                t.name
            );
            assert_eq!(t.input_schema["type"], "object", "{}", t.name);
            assert!(t.annotations.is_some(), "{}", t.name);
        }
    }

    #[test]
    fn missing_and_malformed_arguments_name_the_argument() {
        #[derive(Deserialize, Debug)]
        #[serde(rename_all = "camelCase")]
        #[allow(dead_code)]
        struct A {
            inbox_id: InboxId,
        }
        let e = args::<A>(json!({})).unwrap_err();
        assert!(e.to_string().contains("inboxId"), "{e}");
        let e = args::<A>(json!({"inboxId": "nope"})).unwrap_err();
        assert!(e.to_string().contains("inboxId"), "{e}");
    }

    #[test]
    fn text_types_are_recognised() {
        assert!(is_text("text/plain; charset=utf-8"));
        assert!(is_text("application/ld+json"));
        assert!(!is_text("application/pdf"));
    }
}
