//! `/mcp`: the MCP server over Streamable HTTP, on the API listener.
//!
//! rmcp implements the transport as a `tower` service over `http` 1.x requests, which actix
//! cannot mount; this handler carries a request across (method, path, headers, body, and the
//! caller's verified key in the extensions, where the tools find it) and streams the answer
//! back. The server is stateless (no `Mcp-Session-Id`), answers with JSON, and keeps no
//! stream open, so any worker can take any request. The API key is checked here first, so a
//! missing or bad one is the API's usual `401`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::web::{Data, Payload};
use actix_web::{HttpRequest, HttpResponse};
use http_body_util::{BodyExt, Full};
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use super::error::{ApiError, ErrorBody};
use super::extract::{Authenticated, content_length, read_body};
use crate::domain::Credential;
use crate::mcp::McpServer;
use crate::state::AppState;

/// The transport, one per HTTP worker.
pub type McpService = StreamableHttpService<McpServer, NeverSessionManager>;

/// The transport over `state`'s operations.
pub fn service(state: AppState) -> McpService {
    let config = StreamableHttpServerConfig::default()
        // Every request carries an API key, which a DNS-rebinding page cannot add; the
        // server may be reached under any host name.
        .disable_allowed_hosts()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(state.config.http.json_body_limit);
    StreamableHttpService::new(
        move || Ok(McpServer::per_request(state.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}

/// The MCP endpoint (Streamable HTTP). Any valid key may connect; each tool needs its scope.
#[utoipa::path(post, path = "/mcp", tag = "MCP", operation_id = "mcp",
    request_body(content = Object, description = "A JSON-RPC message of the Model Context Protocol (initialize, tools/list, tools/call, ...)", content_type = "application/json"),
    responses(
        (status = 200, description = "The JSON-RPC answer", content_type = "application/json", body = Object),
        (status = 202, description = "A notification, accepted"),
        (status = 401, description = "Missing or invalid API key", body = ErrorBody),
    ))]
pub async fn mcp(
    auth: Authenticated,
    state: Data<AppState>,
    service: Data<McpService>,
    req: HttpRequest,
    payload: Payload,
) -> Result<HttpResponse, ApiError> {
    let who = state
        .store
        .read_as(&auth.0, state.now(), |_, who| Ok(who))
        .await?;
    let limit = state.config.http.json_body_limit;
    let mut reserved = state.memory.reservation();
    let body = read_body(
        payload.into_inner(),
        content_length(req.headers()),
        limit,
        Some((&mut reserved, 2)),
    )
    .await?;

    let mut request = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        request = request.header(name.as_str(), value.as_bytes());
    }
    let mut request = request
        .body(Full::new(body))
        .map_err(|e| ApiError::bad_request(format!("The request cannot be read: {e}")))?;
    request.extensions_mut().insert(Credential::Verified(who));

    let response = service.handle(request).await;
    let (parts, body) = response.into_parts();
    let mut out = HttpResponse::build(
        StatusCode::from_u16(parts.status.as_u16()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in &parts.headers {
        out.append_header((name.as_str(), value.as_bytes()));
    }
    Ok(out.streaming(body.into_data_stream()))
}
