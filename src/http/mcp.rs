//! `/mcp`: the MCP server over Streamable HTTP, on the API listener.
//!
//! The transport (rmcp's, in [`crate::mcp`]) is a service over `http` 1.x requests, which
//! actix cannot mount; this handler carries a request across (method, path, headers, body,
//! and the caller's verified key in the extensions, where the tools find it) and streams the
//! answer back. A missing or bad API key is the API's usual `401`: checked here first, except
//! for a tool call, whose tool checks the key in its own database call (one trip, as a REST
//! call makes) and reports a bad one back through [`KeyCheck`].

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use actix_web::http::StatusCode;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use serde::Deserialize;

use super::error::{ApiError, ErrorBody};
use super::error_code::ErrorCode;
use super::extract::{Authenticated, content_length, read_body};
use crate::domain::Credential;
use crate::state::AppState;

/// An MCP transport over HTTP: answers one request (whose extensions carry the caller's
/// [`Credential`]).
pub trait McpTransport: Send + Sync + 'static {
    /// The answer to `request`.
    fn handle(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> BoxFuture<'static, http::Response<BoxBody<Bytes, Infallible>>>;
}

/// The transport the routes use.
pub type Transport = Arc<dyn McpTransport>;

/// In a tool call's extensions when its key is not checked yet: the MCP server records what
/// the tool found out about the key, and the endpoint answers `401` for a bad one (or checks
/// the key itself when the call never reached a tool).
#[derive(Debug, Clone, Default)]
pub struct KeyCheck(Arc<AtomicU8>);

impl KeyCheck {
    const VALID: u8 = 1;
    const BAD: u8 = 2;

    /// The key of this request is a live key (`true`) or not.
    pub fn found(&self, valid: bool) {
        let outcome = if valid { Self::VALID } else { Self::BAD };
        self.0.store(outcome, Ordering::Relaxed);
    }

    /// What was found, if anything.
    fn outcome(&self) -> Option<bool> {
        match self.0.load(Ordering::Relaxed) {
            Self::VALID => Some(true),
            Self::BAD => Some(false),
            _ => None,
        }
    }
}

/// The MCP endpoint (Streamable HTTP). Any valid key may connect; each tool needs its scope.
#[utoipa::path(post, path = "/mcp", tag = "MCP", operation_id = "mcp",
    request_body(content = Object, description = "A JSON-RPC message of the Model Context Protocol (initialize, tools/list, tools/call, ...)", content_type = "application/json"),
    responses(
        (status = 200, description = "The JSON-RPC answer", content_type = "application/json", body = Object),
        (status = 202, description = "A notification, accepted"),
        (status = 400, description = "Not a JSON-RPC message of the protocol, or a bad protocol version or header", body = ErrorBody),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
        (status = 406, description = "NOT_ACCEPTABLE: the client must accept application/json and text/event-stream", body = ErrorBody),
        (status = 413, description = "The message is larger than the JSON body limit", body = ErrorBody),
        (status = 415, description = "The message is not sent as application/json", body = ErrorBody),
    ))]
pub async fn mcp(
    auth: Authenticated,
    state: Data<AppState>,
    transport: Data<Transport>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = state.config.http.json_body_limit;
    let mut reserved = state.memory.reservation();
    let body = read_body(
        payload.into_inner(),
        content_length(req.headers()),
        limit,
        Some((&mut reserved, 2)),
    )
    .await?;
    let credential = &auth.0.credential;
    let key_check = match credential {
        Credential::Presented(_) if is_tool_call(&body) => Some(KeyCheck::default()),
        _ => None,
    };
    let credential = match key_check {
        Some(_) => credential.clone(),
        None => Credential::Verified(state.store.verify(credential, state.now()).await?),
    };

    let mut request = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        request = request.header(name.as_str(), value.as_bytes());
    }
    let mut request = request
        .body(Full::new(body))
        .map_err(|e| ApiError::bad_request(format!("The request cannot be read: {e}")))?;
    request.extensions_mut().insert(credential.clone());
    if let Some(check) = &key_check {
        request.extensions_mut().insert(check.clone());
    }

    let response = transport.handle(request).await;
    match key_check.map(|check| check.outcome()) {
        None | Some(Some(true)) => {}
        Some(Some(false)) => return Err(ApiError::unauthorized()),
        // The call never reached a tool (the transport refused it first).
        Some(None) => {
            state.store.verify(&credential, state.now()).await?;
        }
    }
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        return Err(transport_refusal(parts.status, body).await);
    }
    let mut out = HttpResponse::build(
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in &parts.headers {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    // One whole body, not a stream: written in one go, it does not wait on Nagle's algorithm
    // and the client's delayed ACK (40 ms a call). The transport keeps no stream open, so the
    // body always ends (an event stream, too, ends with the call's answer).
    let Ok(body) = body.collect().await;
    Ok(out.body(body.to_bytes()))
}

/// Whether `body` is one `tools/call` request (not a batch, not another method).
fn is_tool_call(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        method: Option<&'a str>,
    }
    serde_json::from_slice::<Message<'_>>(body).is_ok_and(|m| m.method == Some("tools/call"))
}

/// The transport's own refusal (plain text) in the API's error envelope.
async fn transport_refusal(status: http::StatusCode, body: BoxBody<Bytes, Infallible>) -> ApiError {
    let text = match body.collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_owned(),
        Err(never) => match never {},
    };
    let message = format!("MCP: {text}");
    match status.as_u16() {
        406 => ApiError::new(ErrorCode::NotAcceptable, message),
        413 => ApiError::new(ErrorCode::PayloadTooLarge, message),
        415 if text.contains("Content-Type") => {
            ApiError::new(ErrorCode::UnsupportedMediaType, message)
        }
        405 => ApiError::method_not_allowed(),
        400..=499 => ApiError::bad_request(message),
        _ => ApiError::internal(message),
    }
}
