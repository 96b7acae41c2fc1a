//! Live events without a public URL: `GET /events` (Server-Sent Events), `GET /ws` (see
//! [`super::ws`]) and `GET /inboxes/{id}/messages/wait`. All read the one event log through
//! [`crate::events`]; what is here is parsing, the wire formats and the stream's life.

use std::convert::Infallible;
use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, HeaderMap};
use actix_web::web::{Bytes, BytesMut, Data, Path};
use actix_web::{HttpRequest, HttpResponse};
use futures_util::Stream;
use serde_json::json;
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use super::extract::Authenticated;
use super::messages::MessageDto;
use crate::domain::webhook::EventName;
use crate::domain::{
    AccountId, AuthContext, EmailAddress, InboxId, MessageId, ThreadId, ValidationErrors,
};
use crate::events::{
    Delivery, EventHub, KeyWatch, MessageFilter, Reset, Subscription, Topics, WaitFrom, Waited,
};
use crate::state::AppState;
use crate::store::{Db, Failure, inboxes};

/// A query string's parameters in order, repeats kept (`inboxId=a&inboxId=b`).
pub(super) struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    pub(super) fn parse(query: &str) -> Self {
        Self(
            url::form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Every value of `name`.
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`.
    pub(super) fn first<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        self.all(name).next()
    }
}

/// Values that are each a comma-separated list, parsed item by item, repeats dropped. `None`
/// when there were no values (the filter's "any").
fn comma_lists<'a, T: PartialEq>(
    values: impl IntoIterator<Item = &'a str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<Vec<T>>, String> {
    let mut items: Option<Vec<T>> = None;
    for value in values {
        let list = items.get_or_insert_with(Vec::new);
        for item in value.split(',').map(str::trim) {
            let item = parse(item)?;
            if !list.contains(&item) {
                list.push(item);
            }
        }
    }
    Ok(items)
}

/// Event type names (see [`comma_lists`]).
pub(super) fn parse_types<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Option<Vec<EventName>>, String> {
    comma_lists(values, |name| {
        EventName::parse_subscribable(name).ok_or_else(|| {
            format!(
                "unknown event type {name:?}; the types are {}",
                crate::webhooks::subscribable_events()
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
    })
}

/// An inbox named by its id or its address.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum InboxRef {
    Id(InboxId),
    Address(EmailAddress),
}

impl InboxRef {
    pub(super) fn parse(s: &str) -> Result<Self, String> {
        if let Ok(id) = s.parse() {
            return Ok(Self::Id(id));
        }
        EmailAddress::parse(s)
            .map(Self::Address)
            .map_err(|_| format!("{s:?} is neither an inbox id (a UUID) nor an inbox address"))
    }

    /// Several (see [`comma_lists`]).
    pub(super) fn parse_all<'a>(
        values: impl IntoIterator<Item = &'a str>,
    ) -> Result<Option<Vec<Self>>, String> {
        comma_lists(values, Self::parse)
    }
}

/// The account's inboxes the references name (`404` for one that is not the account's).
pub(super) fn resolve(
    conn: &Db,
    account_id: AccountId,
    refs: &[InboxRef],
) -> Result<Vec<InboxId>, Failure> {
    let mut ids = Vec::with_capacity(refs.len());
    for r in refs {
        let id = match r {
            InboxRef::Id(id) => inboxes::exists(conn, account_id, *id).map(|()| *id)?,
            InboxRef::Address(a) => inboxes::find_by_address(conn, account_id, a.as_str())?,
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// An event id: the decimal sequence number a stream gave.
pub(super) fn parse_event_id(s: &str) -> Result<u64, String> {
    let s = s.trim();
    // Digits only: `u64`'s parser would also take a leading `+`.
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
        .ok_or_else(|| "must be an event id (a whole number, as a stream gave it)".to_owned())
}

/// Where a stream resumes: `Last-Event-ID` (what a reconnecting `EventSource` sends) wins
/// over `?after=`.
pub(super) fn resume_point(
    headers: &HeaderMap,
    query: &QueryPairs,
    errors: &mut ValidationErrors,
) -> Option<u64> {
    let header = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    match (header, query.first("after")) {
        (Some(h), _) => errors.check("Last-Event-ID", parse_event_id(h)),
        (None, Some(a)) => errors.check("after", parse_event_id(a)),
        (None, None) => None,
    }
}

/// Verifies the key and resolves the inboxes, for a stream about to open.
pub(super) async fn authorize(
    state: &AppState,
    auth: &Authenticated,
    refs: Option<Vec<InboxRef>>,
) -> Result<(AuthContext, Option<Vec<InboxId>>), ApiError> {
    Ok(state
        .store
        .read_as(&auth.0, state.now(), move |c, who| {
            let inboxes = refs
                .map(|refs| resolve(c, who.account_id, &refs))
                .transpose()?;
            Ok((who, inboxes))
        })
        .await?)
}

/// The query of `GET /events`, for the OpenAPI document.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes the query for the OpenAPI document only"
)]
pub struct StreamParams {
    /// Event types, comma-separated (default: every type): `message.received`,
    /// `message.sent`, `message.delivered`, `message.bounced`, `message.complained`,
    /// `message.updated`, `domain.verified`.
    types: Option<String>,
    /// Only events about this inbox (an id or an address); repeat for several. Default: every
    /// inbox, and events about none (`domain.verified`).
    #[param(rename = "inboxId")]
    inbox_id: Option<Vec<String>>,
    /// Resume after this event id (what `Last-Event-ID` says; the header wins when both are
    /// given).
    #[param(pattern = "^[0-9]{1,19}$")]
    after: Option<String>,
    /// The API key, for clients that cannot set headers (browsers' `EventSource`).
    api_key: Option<String>,
}

/// Stream events (Server-Sent Events).
///
/// A `text/event-stream` of the account's events: each is `id: <event id>`,
/// `event: <type>` and `data: <the webhook payload>` (`{"event", "data", "timestamp"}`).
/// With `Last-Event-ID` (or `after`), every retained event after that id comes first, then
/// the live ones, with no gap and no repeat. An id from before the retention period (or
/// unknown to this server) gets an `event: reset` first: resynchronise (list what you need),
/// then carry on from its `id`. A comment line every 15 seconds keeps idle connections open.
/// A client that falls too far behind gets `event: close` with `reason: slow_consumer` and
/// the id to resume from; a revoked key gets `reason: key_revoked`; a server shutting down
/// ends the stream (reconnect). Works with `curl -N`.
#[utoipa::path(get, path = "/events", tag = "Events", operation_id = "streamEvents",
    params(StreamParams),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream", body = String),
        (status = 400, description = "Unknown event type, malformed inbox or event id", body = ErrorBody),
        (status = 404, description = "An inbox that is not the account's", body = ErrorBody),
    ))]
pub async fn stream(
    auth: Authenticated,
    state: Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = QueryPairs::parse(req.query_string());
    let mut errors = ValidationErrors::new();
    let types = errors.check("types", parse_types(query.all("types")));
    let refs = errors.check("inboxId", InboxRef::parse_all(query.all("inboxId")));
    let after = resume_point(req.headers(), &query, &mut errors);
    let (Some(types), Some(refs)) = (types, refs) else {
        return Err(ApiError::validation(errors));
    };
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let (who, inboxes) = authorize(&state, &auth, refs).await?;
    let topics = Topics::of(types.as_deref(), inboxes.as_deref());
    let subscription = state
        .events
        .subscribe(who.account_id, topics, after)
        .await?;
    let stream = SseStream {
        key: state.events.watch_key(who.key_id),
        hub: state.events.clone(),
        heartbeat: heartbeat(state.events.config().heartbeat_secs),
        subscription,
        opening: true,
        done: false,
    };
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((CACHE_CONTROL, "no-cache"))
        // Tells nginx not to buffer the stream.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(sse_body(stream)))
}

/// A heartbeat timer whose first tick is one period away.
pub(super) fn heartbeat(secs: u64) -> tokio::time::Interval {
    let period = Duration::from_secs(secs);
    let mut timer = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    timer
}

/// What an SSE response is made of.
struct SseStream {
    subscription: Subscription,
    key: KeyWatch,
    hub: EventHub,
    heartbeat: tokio::time::Interval,
    /// The first chunk is still to go.
    opening: bool,
    /// The last chunk went.
    done: bool,
}

/// The record that tells the client a resumed stream does not continue where it left off.
pub(super) fn reset_data(reset: Reset) -> serde_json::Value {
    let (reason, message) = if reset.expired {
        (
            "expired",
            "Events after that id are no longer kept; resynchronise, then carry on from this id.",
        )
    } else {
        (
            "unknown_id",
            "This server has not given out that id; resynchronise, then carry on from this id.",
        )
    };
    json!({"reason": reason, "message": message, "resumeFrom": reset.resume_from.to_string()})
}

/// Why a stream ends, as told to the client.
pub(super) fn slow_consumer_message(last: u64) -> String {
    format!(
        "The client fell more than the backlog behind; reconnect and resume after event {last}."
    )
}

/// Why a stream ends for a revoked key.
pub(super) const KEY_REVOKED: &str = "The API key was revoked or has expired.";
/// Why every stream ends at shutdown.
pub(super) const SHUTTING_DOWN: &str = "The server is shutting down; reconnect.";

fn close_record(reason: &str, message: &str, last: u64) -> Bytes {
    let data = json!({"reason": reason, "message": message, "lastEventId": last.to_string()});
    Bytes::from(format!("event: close\ndata: {data}\n\n"))
}

/// An event's shared text as a body chunk, without copying it.
struct ArcBytes(std::sync::Arc<str>);

impl AsRef<[u8]> for ArcBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

fn sse_body(stream: SseStream) -> impl Stream<Item = Result<Bytes, Infallible>> {
    futures_util::stream::unfold(stream, |mut s| async move {
        if s.done {
            return None;
        }
        if s.opening {
            s.opening = false;
            let mut first = String::from(": AgentSend event stream\nretry: 3000\n\n");
            if let Some(reset) = s.subscription.reset() {
                first.push_str(&format!(
                    "id: {}\nevent: reset\ndata: {}\n\n",
                    reset.resume_from,
                    reset_data(reset)
                ));
            }
            return Some((Ok(Bytes::from(first)), s));
        }
        let last = s.subscription.last_delivered();
        let chunk = tokio::select! {
            biased;
            () = s.hub.closed() => {
                s.done = true;
                close_record("shutdown", SHUTTING_DOWN, last)
            }
            () = s.key.revoked() => {
                s.done = true;
                close_record("key_revoked", KEY_REVOKED, last)
            }
            delivery = s.subscription.next() => match delivery {
                Ok(Delivery::Events(events)) => {
                    if let [one] = events.as_slice() {
                        Bytes::from_owner(ArcBytes(one.sse.clone()))
                    } else {
                        let mut chunk = BytesMut::new();
                        for e in &events {
                            chunk.extend_from_slice(e.sse.as_bytes());
                        }
                        chunk.freeze()
                    }
                }
                Ok(Delivery::Overflow { last }) => {
                    s.done = true;
                    close_record("slow_consumer", &slow_consumer_message(last), last)
                }
                Ok(Delivery::Closed) => {
                    s.done = true;
                    close_record("shutdown", SHUTTING_DOWN, last)
                }
                Err(e) => {
                    log::error!("event stream: reading the event log failed: {e}");
                    s.done = true;
                    let reason = "The server could not read its event log; reconnect.";
                    close_record("error", reason, last)
                }
            },
            _ = s.heartbeat.tick() => Bytes::from_static(b": heartbeat\n\n"),
        };
        Some((Ok(chunk), s))
    })
}

/// The query of the wait endpoint, for the OpenAPI document.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes the query for the OpenAPI document only"
)]
pub struct WaitParams {
    /// Seconds to wait, 1–60 (default 30).
    #[param(minimum = 1, maximum = 60, default = 30)]
    timeout: Option<u32>,
    /// Only messages stored after this one: a message id (one of the account's, sent or
    /// received) or an event id. Default: from now on.
    #[param(
        pattern = "^([0-9]{1,19}|[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12})$"
    )]
    after: Option<String>,
    /// Part of the sender (`Name <address>`), any case.
    from: Option<String>,
    /// Part of the subject, any case.
    subject: Option<String>,
    /// Only messages in this thread.
    #[param(rename = "threadId", format = Uuid)]
    thread_id: Option<String>,
}

/// Wait for the next message.
///
/// Answers with the first message received into the inbox after `after` (default: from now
/// on) that matches the filters, as soon as it is stored; `204` when `timeout` seconds pass
/// without one. "Send, then wait for the reply": pass the sent message's id as `after`.
#[utoipa::path(get, path = "/inboxes/{id}/messages/wait", tag = "Messages",
    operation_id = "waitForMessage", params(super::IdParam, WaitParams),
    responses(
        (status = 200, description = "The message", body = MessageDto),
        (status = 204, description = "No matching message arrived in time"),
        (status = 400, description = "A malformed parameter, or timeout outside 1–60", body = ErrorBody),
        (status = 404, description = "No such inbox (or `after` names no message of the account)", body = ErrorBody),
    ))]
pub async fn wait(
    auth: Authenticated,
    state: Data<AppState>,
    id: Path<InboxId>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let query = QueryPairs::parse(req.query_string());
    let mut errors = ValidationErrors::new();
    let timeout = errors.check("timeout", parse_timeout(query.first("timeout")));
    let from = errors.check("after", parse_wait_from(query.first("after")));
    let thread_id = errors.check(
        "threadId",
        query
            .first("threadId")
            .map(|t| {
                t.parse::<ThreadId>()
                    .map_err(|_| "must be a thread id (a UUID)".to_owned())
            })
            .transpose(),
    );
    let (Some(timeout), Some(from), Some(thread_id)) = (timeout, from, thread_id) else {
        return Err(ApiError::validation(errors));
    };
    let filter = MessageFilter {
        from: query.first("from").map(str::to_owned),
        subject: query.first("subject").map(str::to_owned),
        thread_id,
    };
    let inbox_id = id.into_inner();
    let (who, _) = authorize(&state, &auth, Some(vec![InboxRef::Id(inbox_id)])).await?;
    match state
        .events
        .wait_for_message(who.account_id, inbox_id, from, &filter, timeout)
        .await?
    {
        Waited::Message(message) => Ok(HttpResponse::Ok().json(MessageDto::from(*message))),
        Waited::TimedOut => Ok(HttpResponse::NoContent().finish()),
        Waited::ShuttingDown => Err(ApiError::busy()),
    }
}

pub(crate) fn parse_timeout(s: Option<&str>) -> Result<Duration, String> {
    let Some(s) = s else {
        return Ok(Duration::from_secs(30));
    };
    match s.trim().parse::<u64>() {
        Ok(n @ 1..=60) => Ok(Duration::from_secs(n)),
        _ => Err("must be a whole number of seconds from 1 to 60".to_owned()),
    }
}

pub(crate) fn parse_wait_from(s: Option<&str>) -> Result<WaitFrom, String> {
    match s {
        None => Ok(WaitFrom::Now),
        Some(s) => {
            if let Ok(id) = s.parse::<MessageId>() {
                return Ok(WaitFrom::Message(id));
            }
            parse_event_id(s)
                .map(WaitFrom::Event)
                .map_err(|_| "must be a message id (a UUID) or an event id".to_owned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_comma_lists_of_known_names() {
        assert_eq!(parse_types([]), Ok(None));
        assert_eq!(
            parse_types(["message.received, message.sent", "message.received"]),
            Ok(Some(vec![
                EventName::MessageReceived,
                EventName::MessageSent
            ]))
        );
        assert!(parse_types(["message.opened"]).is_err());
        assert!(parse_types(["webhook.test"]).is_err());
        assert!(parse_types([""]).is_err());
    }

    #[test]
    fn event_ids_are_whole_numbers_and_wait_takes_message_ids_too() {
        assert_eq!(parse_event_id("42"), Ok(42));
        assert!(parse_event_id("-1").is_err());
        assert!(parse_event_id("1e3").is_err());
        assert!(parse_event_id("99999999999999999999").is_err());
        assert_eq!(parse_wait_from(Some("7")), Ok(WaitFrom::Event(7)));
        let id = MessageId::new();
        assert_eq!(
            parse_wait_from(Some(&id.to_string())),
            Ok(WaitFrom::Message(id))
        );
        assert!(parse_wait_from(Some("yesterday")).is_err());
        assert!(parse_timeout(Some("0")).is_err());
        assert!(parse_timeout(Some("61")).is_err());
        assert_eq!(parse_timeout(Some("60")), Ok(Duration::from_secs(60)));
    }
}
