//! `Idempotency-Key` on POST requests. The first request with a key runs and its
//! response is stored; a retry of the same request gets that response replayed with
//! `Idempotent-Replayed: true` and no side effects. The reservation is a row in SQLite taken in
//! one write transaction, so of two concurrent identical requests exactly one runs.
//!
//! A handler that changes something renders its response inside the transaction of the change
//! and stores it there ([`Idempotency::keep`]): a crash can never leave a change without its
//! stored response, so a retry after any crash either replays or runs for the first time,
//! never both. A reservation still in flight when the server starts belongs to a request that
//! died before its change committed, and is released at once. Other responses (client errors,
//! and handlers whose work may safely run again, such as checking a domain's DNS) are stored
//! by this middleware after the handler.
//!
//! Runs inside the gate. The idempotency key is scoped to the account, so the API key is
//! verified in the same transaction that reserves it. Requests without a live API key pass
//! through untouched: there is no account to scope the key to, and the route either rejects
//! them (401) or is public.

use crate::domain::Refusal;
use crate::http::error_code::ErrorCode;
use std::time::Duration;

use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{Bytes, Data};
use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest, HttpResponse, Responder, ResponseError, mime,
};
use futures_util::future::{Ready, ready};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::extract::{body_limit, content_length, read_body};
use super::{Access, RouteAccess};
use crate::domain::{AuthContext, Credential, IdempotencyKey, random};
use crate::state::AppState;
use crate::store::idempotency::{self, Hold, Reservation, StoredResponse};
use crate::store::{Failure, Tx, accounts};

/// A reservation older than this whose request is still running (hung) is taken over by the
/// next retry; the hung request can then no longer store its response, so its change rolls
/// back. Handlers answer in well under a second: slow work is queued.
const ABANDONED_AFTER: Duration = Duration::from_secs(300);

/// Response headers that describe the connection rather than the response; not replayed.
const NOT_STORED: [HeaderName; 4] = [
    header::DATE,
    header::CONTENT_LENGTH,
    header::TRANSFER_ENCODING,
    header::CONNECTION,
];

/// The middleware.
pub async fn idempotency(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(raw) = req.headers().get("idempotency-key").cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    if req.method() != Method::POST {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let Some(credential) = req.extensions().get::<Credential>().cloned() else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let key = match IdempotencyKey::parse(raw.as_bytes()) {
        Ok(key) => key,
        Err(e) => {
            return Ok(fail(
                req,
                ApiError::invalid_field("Idempotency-Key", e.to_string()),
            ));
        }
    };
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return Ok(fail(req, ApiError::internal("application state missing")));
    };
    // The key is verified before the body is read, so that a made-up key cannot make the
    // server buffer a body (up to the multipart limit) just to be told it is a 401.
    let credential = match credential {
        Credential::Verified(_) => credential,
        presented => match state.store.verify(&presented, state.now()).await {
            Ok(who) => {
                req.extensions_mut().insert(Credential::Verified(who));
                Credential::Verified(who)
            }
            // The handler answers 401.
            Err(Failure::Refused(Refusal::Unauthorized)) => {
                return Ok(next.call(req).await?.map_into_boxed_body());
            }
            Err(e) => return Ok(fail(req, e.into())),
        },
    };

    // A key without the route's scopes neither reserves nor replays: the handler refuses it
    // (a 403, not stored), so a stored answer is shown only to keys that could have asked,
    // and a refusal of one key is not replayed to another of the account.
    if let Credential::Verified(who) = &credential
        && !route_allows(&req, who)
    {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }

    let limit = body_limit(req.request());
    let declared = content_length(req.headers());
    // The body is held until the request's task ends: counted once (the handler counts its
    // own parse of it).
    let mut reserved = state.memory.reservation();
    let body = match read_body(
        req.take_payload(),
        declared,
        limit,
        Some((&mut reserved, 1)),
    )
    .await
    {
        Ok(body) => body,
        Err(e) => return Ok(fail(req, e)),
    };
    let request_hash = fingerprint(req.method(), req.uri(), &body);
    let (held, reservation) = match HeldKey::reserve(state, credential, key, request_hash).await {
        Ok(Some(reserved)) => reserved,
        // Not a live key: nothing to scope the key to; the handler answers 401.
        Ok(None) => {
            req.set_payload(Payload::from(body));
            return Ok(next.call(req).await?.map_into_boxed_body());
        }
        Err(e) => return Ok(fail(req, e.into())),
    };
    // Verified now; the handler need not look the key up again.
    req.extensions_mut()
        .insert(Credential::Verified(held.context));
    match reservation {
        Reservation::Proceed => {}
        Reservation::Replay(stored) => {
            let (http_req, _) = req.into_parts();
            return Ok(ServiceResponse::new(http_req, replay(&stored)));
        }
        Reservation::Mismatch => {
            return Ok(fail(
                req,
                ApiError::new(
                    ErrorCode::IdempotencyKeyReused,
                    "This Idempotency-Key was already used for a different request.",
                ),
            ));
        }
        Reservation::InFlight => return Ok(fail(req, ApiError::idempotency_key_in_use())),
    }

    req.set_payload(Payload::from(body));
    req.extensions_mut()
        .insert(Idempotency(Some(held.hold.clone())));
    // The request runs in a task of its own, so that it finishes (and its response is stored)
    // even if the client goes away meanwhile: if the handler's change committed, a retry must
    // get the replay, not run the request a second time.
    let hold = held.hold.clone();
    let state = held.state.clone();
    let task = actix_web::rt::spawn(async move {
        let result = run_and_store(req, next, held).await;
        drop(reserved);
        result
    });
    match task.await {
        Ok(result) => result,
        Err(e) => {
            // A change made through `Idempotency::keep` commits together with its stored
            // response, so a key still in flight guards none, and the client may retry. (The
            // POST handlers that do not keep theirs, domain verification, may run again.)
            log::error!("an idempotent request's task failed: {e}");
            release(&state, &hold).await;
            Err(ApiError::internal("idempotent request task failed").into())
        }
    }
}

/// Runs the request and stores its response under the held key (5xx: releases the key).
async fn run_and_store<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    held: HeldKey,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            release(&held.state, &held.hold).await;
            return Err(e);
        }
    };
    if res.response().extensions().contains::<KeptWithChange>() {
        return Ok(res.map_into_boxed_body());
    }
    if res.status().is_server_error() {
        // Not stored: the client may retry a 5xx, at once, so the key is freed before we answer.
        release(&held.state, &held.hold).await;
        return Ok(res.map_into_boxed_body());
    }
    let (http_req, res) = res.into_parts();
    let (head, res_body) = res.into_parts();
    let bytes = match body::to_bytes(res_body).await {
        Ok(bytes) => bytes,
        Err(e) => {
            let e: Box<dyn std::error::Error> = e.into();
            let e = ApiError::internal(format!("buffering a response for idempotency: {e}"));
            return Ok(ServiceResponse::new(http_req, e.error_response()));
        }
    };
    let stored = StoredResponse {
        status: head.status().as_u16(),
        headers: head
            .headers()
            .iter()
            .filter(|(name, _)| !NOT_STORED.contains(name))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_owned())))
            .collect(),
        body: without_secrets(&bytes),
    };
    if let Err(e) = held.complete(stored).await {
        // The key stays "in use" (409) rather than being released for a retry: whatever the
        // handler did may be done.
        return Ok(ServiceResponse::new(
            http_req,
            ApiError::from(e).error_response(),
        ));
    }
    Ok(ServiceResponse::new(
        http_req,
        head.set_body(bytes).map_into_boxed_body(),
    ))
}

/// Fields that carry a secret shown only once (`key` of a new API key, `secret` of a new or
/// rotated webhook). Their values are not stored for replay: the API keeps only a hash of an
/// API key, and a replay must not show a secret a second time. A replay has `null` there.
const SECRET_FIELDS: [&str; 2] = ["key", "secret"];

/// The body with the values of top-level [`SECRET_FIELDS`] replaced by `null`, everything else
/// byte for byte. Non-JSON bodies are kept as they are.
fn without_secrets(body: &[u8]) -> Vec<u8> {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_slice(body) else {
        return body.to_vec();
    };
    let mut out = body.to_vec();
    for name in SECRET_FIELDS {
        let Some(serde_json::Value::String(secret)) = fields.get(name) else {
            continue;
        };
        // The value is a random token, so its quoted form occurs exactly where the field is.
        let quoted = serde_json::Value::String(secret.clone()).to_string();
        if let Some(at) = out
            .windows(quoted.len())
            .position(|w| w == quoted.as_bytes())
        {
            out.splice(at..at + quoted.len(), b"null".iter().copied());
        }
    }
    out
}

/// Whether `who` has the scopes of the route `req` is for (no such route: the router answers).
fn route_allows(req: &ServiceRequest, who: &AuthContext) -> bool {
    let access = req
        .app_data::<Data<RouteAccess>>()
        .and_then(|routes| routes.of(req));
    match access {
        Some(Access::Key(needs)) => needs.iter().all(|scope| who.scopes.has(*scope)),
        Some(Access::Public) | None => true,
    }
}

fn fail(req: ServiceRequest, e: ApiError) -> ServiceResponse<BoxBody> {
    req.into_response(e.error_response())
}

/// SHA-256 over method, path with query, and body: what "the same request" means.
fn fingerprint(method: &Method, uri: &actix_web::http::Uri, body: &Bytes) -> String {
    let mut h = Sha256::new();
    h.update(method.as_str().as_bytes());
    h.update(b"\n");
    h.update(uri.path_and_query().map_or("", |p| p.as_str()).as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

fn replay(stored: &StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut res = HttpResponse::build(status);
    for (name, value) in &stored.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::from_str(value),
        ) {
            res.append_header((n, v));
        }
    }
    res.insert_header(("idempotent-replayed", "true"));
    res.body(stored.body.clone())
}

/// A key of one account as this request holds it.
struct HeldKey {
    state: Data<AppState>,
    context: AuthContext,
    hold: Hold,
}

impl HeldKey {
    /// Verifies the credential and reserves the key in one write transaction. `None` when the
    /// credential is not a live key.
    async fn reserve(
        state: Data<AppState>,
        credential: Credential,
        key: IdempotencyKey,
        request_hash: String,
    ) -> Result<Option<(HeldKey, Reservation)>, Failure> {
        let now = state.now();
        let window = Duration::from_secs(state.config.idempotency.window_secs);
        let holder = format!("{}/{}", state.boot, random::lower_alnum(16));
        let reserved = state
            .store
            .write(move |tx| {
                let Some(who) = accounts::verify_and_touch(tx, &credential, now)? else {
                    return Ok(None);
                };
                let hold = Hold {
                    scope: who.account_id.to_string(),
                    key: key.as_str().to_owned(),
                    holder,
                };
                let reservation = idempotency::reserve(
                    tx,
                    &hold,
                    &request_hash,
                    now,
                    now.plus(window),
                    now.minus(ABANDONED_AFTER),
                )?;
                Ok(Some((who, hold, reservation)))
            })
            .await?;
        Ok(reserved.map(|(context, hold, reservation)| {
            let held = HeldKey {
                state,
                context,
                hold,
            };
            (held, reservation)
        }))
    }

    /// Stores the response. If that fails the key stays "in use" rather than being released.
    async fn complete(self, response: StoredResponse) -> Result<(), Failure> {
        let hold = self.hold;
        let stored = self
            .state
            .store
            .write(move |tx| idempotency::complete(tx, &hold, &response))
            .await;
        match stored {
            // Taken over by a retry while this request ran: that one's response counts.
            Err(Failure::Refused(Refusal::IdempotencyKeyLost)) => Ok(()),
            other => other,
        }
    }
}

/// Forgets a reservation. Failing to only delays a retry until the reservation counts as
/// abandoned.
async fn release(state: &AppState, hold: &Hold) {
    let hold = hold.clone();
    let result = state
        .store
        .write(move |tx| idempotency::release(tx, &hold))
        .await;
    if let Err(e) = result {
        log::warn!("releasing an idempotency key failed: {e}");
    }
}

/// The `Idempotency-Key` a request holds (`None` without one): handlers that change something
/// store their response with the change through [`Idempotency::keep`].
#[derive(Debug, Clone, Default)]
pub struct Idempotency(Option<Hold>);

impl FromRequest for Idempotency {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req
            .extensions()
            .get::<Idempotency>()
            .cloned()
            .unwrap_or_default()))
    }
}

impl Idempotency {
    /// Stores `reply` under the request's key in `tx`, the transaction of the request's
    /// change, and returns it marked as kept (the middleware then stores nothing more).
    /// Without a key, `reply` as it is.
    pub fn keep(&self, tx: &Tx<'_>, mut reply: Reply) -> Result<Reply, Failure> {
        if let Some(hold) = &self.0 {
            let stored = StoredResponse {
                status: reply.status.as_u16(),
                headers: vec![(
                    header::CONTENT_TYPE.to_string(),
                    mime::APPLICATION_JSON.to_string(),
                )],
                body: without_secrets(&reply.body),
            };
            idempotency::complete(tx, hold, &stored)?;
            reply.kept = true;
        }
        Ok(reply)
    }
}

/// A handler's JSON response, made inside the transaction of its change (see
/// [`Idempotency::keep`]).
#[derive(Debug)]
pub struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    kept: bool,
}

impl Reply {
    /// `value` as JSON with `status`.
    pub fn json(status: StatusCode, value: &impl serde::Serialize) -> Result<Self, Failure> {
        let body = serde_json::to_vec(value)
            .map_err(|e| Failure::Internal(format!("serializing a response: {e}")))?;
        Ok(Self {
            status,
            body,
            kept: false,
        })
    }
}

/// Marks a response stored with its change.
#[derive(Debug, Clone, Copy)]
struct KeptWithChange;

impl Responder for Reply {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        let mut res = HttpResponse::build(self.status)
            .content_type(mime::APPLICATION_JSON)
            .body(self.body);
        if self.kept {
            res.extensions_mut().insert(KeptWithChange);
        }
        res
    }
}
