//! `GET /ws`: the account's events over a WebSocket.
//!
//! Client frames (JSON text): `{"type":"subscribe","event_types":[…],"inbox_ids":[…]}` adds
//! the topics (every listed type in every listed inbox; a missing list means any) and
//! `{"type":"unsubscribe",…}` removes them (with neither list: everything). The server answers
//! each with `{"type":"subscribed"|"unsubscribed","event_types","inbox_ids"}` or
//! `{"type":"error","code","message",…}` (the connection stays open), and sends events as
//! `{"type":"event","event_id","event_type","data"}` (`data`: the webhook payload). A binary
//! frame closes the connection with 1003; a revoked key with 1008; falling too far behind with
//! 1013 (resume with `?after=<last event_id>`); a shutdown with 1001.

use std::time::Duration;

use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, MessageStream, ProtocolError, Session};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::IntoParams;

use super::error::{ApiError, ErrorBody};
use super::events::{
    InboxRef, KEY_REVOKED, QueryPairs, SHUTTING_DOWN, authorize, heartbeat, parse_types,
    reset_data, resolve, resume_point, slow_consumer_message,
};
use super::extract::Authenticated;
use crate::domain::{AccountId, ValidationErrors};
use crate::events::{Delivery, EventHub, KeyWatch, Subscription, Topics};
use crate::state::AppState;

/// The largest client frame read.
const MAX_FRAME: usize = 64 * 1024;
/// Topics one connection may hold.
const MAX_TOPICS: usize = 1000;
/// How long a frame may wait for the client to take it before the client counts as stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The query of `GET /ws`, for the OpenAPI document.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes the query for the OpenAPI document only"
)]
pub struct WsParams {
    /// The API key, for clients that cannot set headers (browsers).
    api_key: Option<String>,
    /// Resume after this event id: once subscribed, every retained matching event after it
    /// comes first.
    #[param(pattern = "^[0-9]{1,19}$")]
    after: Option<String>,
}

/// Stream events over a WebSocket.
///
/// Upgrade to a WebSocket (key in a header or `?api_key=`), then subscribe with
/// `{"type":"subscribe","event_types":["message.received"],"inbox_ids":["<id or address>"]}`.
/// Events arrive as `{"type":"event","event_id":"<id>","event_type":"<type>","data":<webhook
/// payload>}`. See the module documentation in the README for every frame.
#[utoipa::path(get, path = "/ws", tag = "Events", operation_id = "eventsWebSocket",
    params(WsParams),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket upgrade, or a malformed `after`", body = ErrorBody),
    ))]
pub async fn connect(
    auth: Authenticated,
    state: Data<AppState>,
    req: HttpRequest,
    body: Payload,
) -> Result<HttpResponse, ApiError> {
    let query = QueryPairs::parse(req.query_string());
    let mut errors = ValidationErrors::new();
    let after = resume_point(req.headers(), &query, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let (who, _) = authorize(&state, &auth, None).await?;
    let (response, session, frames) = actix_ws::handle(&req, body).map_err(|e| {
        ApiError::bad_request(format!(
            "This endpoint speaks WebSocket: send a GET with Upgrade: websocket ({e})."
        ))
    })?;
    // Nothing is subscribed yet; with `after`, the catching up starts at the first subscribe.
    let subscription = state
        .events
        .subscribe(who.account_id, Topics::default(), after)
        .await?;
    let connection = Connection {
        key: state.events.watch_key(who.key_id),
        state: state.into_inner(),
        account_id: who.account_id,
        subscription,
        session,
    };
    actix_web::rt::spawn(connection.run(frames));
    Ok(response)
}

/// A client frame.
#[derive(Deserialize)]
struct ClientFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    event_types: Option<Vec<String>>,
    #[serde(default)]
    inbox_ids: Option<Vec<String>>,
}

struct Connection {
    state: std::sync::Arc<AppState>,
    account_id: AccountId,
    key: KeyWatch,
    subscription: Subscription,
    session: Session,
}

/// How a connection ends.
enum End {
    /// The client closed it or went away.
    Gone,
    /// The server closes it.
    Close(CloseCode, String),
}

impl Connection {
    async fn run(mut self, frames: MessageStream) {
        let mut frames = frames.max_frame_size(MAX_FRAME).aggregate_continuations();
        let hub: EventHub = self.state.events.clone();
        let mut heartbeat = heartbeat(hub.config().heartbeat_secs);
        let mut reset_told = false;
        let mut unanswered_pings = 0u8;
        let end = loop {
            if !reset_told
                && !self.subscription.topics().is_empty()
                && let Some(reset) = self.subscription.reset()
            {
                reset_told = true;
                let frame = json!({"type": "reset", "event_id": reset.resume_from.to_string(),
                                   "data": reset_data(reset)});
                if let Some(end) = self.send(frame.to_string()).await {
                    break end;
                }
            }
            let subscribed = !self.subscription.topics().is_empty();
            tokio::select! {
                biased;
                () = hub.closed() => {
                    break End::Close(CloseCode::Away, SHUTTING_DOWN.to_owned());
                }
                () = self.key.revoked() => {
                    break End::Close(CloseCode::Policy, KEY_REVOKED.to_owned());
                }
                frame = frames.recv() => {
                    let Some(frame) = frame else { break End::Gone };
                    let reply = match frame {
                        Ok(AggregatedMessage::Text(text)) => self.handle(&text).await,
                        Ok(AggregatedMessage::Binary(_)) => {
                            break End::Close(
                                CloseCode::Unsupported,
                                "Binary frames are not supported; send JSON text frames."
                                    .to_owned(),
                            );
                        }
                        Ok(AggregatedMessage::Ping(bytes)) => {
                            if self.session.pong(&bytes).await.is_err() {
                                break End::Gone;
                            }
                            continue;
                        }
                        Ok(AggregatedMessage::Pong(_)) => {
                            unanswered_pings = 0;
                            continue;
                        }
                        Ok(AggregatedMessage::Close(_)) => break End::Gone,
                        Err(ProtocolError::Overflow) => {
                            break End::Close(
                                CloseCode::Size,
                                format!("Frames are limited to {MAX_FRAME} bytes."),
                            );
                        }
                        Err(e) => break End::Close(CloseCode::Protocol, e.to_string()),
                    };
                    if let Some(end) = self.send(reply.to_string()).await {
                        break end;
                    }
                }
                delivery = self.subscription.next(), if subscribed => match delivery {
                    Ok(Delivery::Events(events)) => {
                        let mut ended = None;
                        for e in events {
                            if let Some(end) = self.send(e.ws.to_string()).await {
                                ended = Some(end);
                                break;
                            }
                        }
                        if let Some(end) = ended {
                            break end;
                        }
                    }
                    Ok(Delivery::Overflow { last }) => {
                        break End::Close(CloseCode::Again, slow_consumer_message(last));
                    }
                    Ok(Delivery::Closed) => {
                        break End::Close(CloseCode::Away, SHUTTING_DOWN.to_owned());
                    }
                    Err(e) => {
                        log::error!("WebSocket: reading the event log failed: {e}");
                        let reason = "The server could not read its event log.";
                        break End::Close(CloseCode::Error, reason.to_owned());
                    }
                },
                _ = heartbeat.tick() => {
                    if unanswered_pings >= 2 {
                        break End::Close(CloseCode::Policy, "No answer to pings.".to_owned());
                    }
                    unanswered_pings += 1;
                    let ping = self.session.ping(b"agentsend");
                    if !matches!(tokio::time::timeout(SEND_TIMEOUT, ping).await, Ok(Ok(()))) {
                        break End::Gone;
                    }
                }
            }
        };
        if let End::Close(code, description) = end {
            let reason = CloseReason {
                code,
                description: Some(description),
            };
            // A client that stopped reading does not get to hold the connection: give up on
            // the close frame after a while (dropping the session ends the response).
            let _ = tokio::time::timeout(SEND_TIMEOUT, self.session.close(Some(reason))).await;
        }
    }

    /// Sends a text frame; `Some` when the connection is over (gone, or stuck).
    async fn send(&mut self, text: String) -> Option<End> {
        match tokio::time::timeout(SEND_TIMEOUT, self.session.text(text)).await {
            Ok(Ok(())) => None,
            Ok(Err(_)) => Some(End::Gone),
            Err(_) => Some(End::Close(
                CloseCode::Again,
                slow_consumer_message(self.subscription.last_delivered()),
            )),
        }
    }

    /// Answers a client frame.
    async fn handle(&mut self, text: &str) -> Value {
        match self.apply(text).await {
            Ok(reply) => reply,
            Err(e) => {
                let mut frame = e.to_json();
                if let Some(o) = frame.as_object_mut() {
                    o.insert("type".to_owned(), json!("error"));
                }
                frame
            }
        }
    }

    async fn apply(&mut self, text: &str) -> Result<Value, ApiError> {
        let malformed = |e: &dyn std::fmt::Display| {
            ApiError::bad_request(format!(
                "A frame must be a JSON object with \"type\" \"subscribe\" or \"unsubscribe\" \
                 and optional \"event_types\" and \"inbox_ids\" lists: {e}"
            ))
        };
        // An object only: serde would also read a struct from an array.
        let value: Value = serde_json::from_str(text).map_err(|e| malformed(&e))?;
        if !value.is_object() {
            return Err(malformed(&"this is not an object"));
        }
        let frame: ClientFrame = serde_json::from_value(value).map_err(|e| malformed(&e))?;
        // A missing list is "any"; an empty one names nothing (the parsers say `None` for no
        // values at all, hence `unwrap_or_default`).
        let mut errors = ValidationErrors::new();
        let types = errors.check(
            "event_types",
            frame
                .event_types
                .as_ref()
                .map(|list| {
                    parse_types(list.iter().map(String::as_str)).map(Option::unwrap_or_default)
                })
                .transpose(),
        );
        let refs = errors.check(
            "inbox_ids",
            frame
                .inbox_ids
                .as_ref()
                .map(|list| {
                    InboxRef::parse_all(list.iter().map(String::as_str))
                        .map(Option::unwrap_or_default)
                })
                .transpose(),
        );
        let (Some(types), Some(refs)) = (types, refs) else {
            return Err(ApiError::validation(errors));
        };
        let account_id = self.account_id;
        let inboxes = match refs {
            None => None,
            Some(refs) => Some(
                self.state
                    .store
                    .read(move |c| resolve(c, account_id, &refs))
                    .await?,
            ),
        };
        let topics = Topics::of(types.as_deref(), inboxes.as_deref());
        let mut all = self.subscription.topics().clone();
        let kind = match frame.kind.as_str() {
            "subscribe" => {
                all.add(&topics);
                if all.len() > MAX_TOPICS {
                    return Err(ApiError::invalid_field(
                        "inbox_ids",
                        format!(
                            "a connection holds at most {MAX_TOPICS} (inbox, event type) pairs"
                        ),
                    ));
                }
                "subscribed"
            }
            "unsubscribe" => {
                if frame.event_types.is_none() && frame.inbox_ids.is_none() {
                    all.clear();
                } else {
                    all.remove(&topics);
                }
                "unsubscribed"
            }
            other => {
                return Err(ApiError::invalid_field(
                    "type",
                    format!("unknown frame type {other:?}; send \"subscribe\" or \"unsubscribe\""),
                ));
            }
        };
        self.subscription.set_topics(all);
        let names = types.map(|t| t.iter().map(|n| n.as_str()).collect::<Vec<_>>());
        Ok(json!({"type": kind, "event_types": names, "inbox_ids": inboxes}))
    }
}
