//! The built-in MCP server: the API's operations as tools for agents.
//!
//! One [`McpServer`] serves both transports: Streamable HTTP at `/mcp` on the API listener
//! (the `http::mcp` bridge passes each request's API key in), and stdio (`agentsend mcp`),
//! where the key is fixed for the process. Each tool is a thin adapter: it parses its
//! arguments into the same wire types as the REST endpoint, checks the same scope and calls
//! the same operation, and answers with the REST endpoint's JSON as structured content plus
//! a short text summary. A failure is a tool error carrying the API's error envelope, never
//! a protocol error.

pub mod stdio;
mod tools;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http_body_util::Full;
use http_body_util::combinators::BoxBody;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use rmcp::ErrorData;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    InitializeResult, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
    Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use serde_json::Value;

use crate::domain::{Credential, Refusal};
use crate::http::error::ApiError;
use crate::http::mcp::{KeyCheck, McpTransport, Transport};
use crate::state::AppState;
use crate::store::Failure;

/// What an agent is told about this server when it connects.
const INSTRUCTIONS: &str = "AgentSend: real email inboxes for agents. Create an inbox \
(create_inbox), send mail from it (send_email, reply_to_email, forward_email), wait for \
replies (wait_for_email), read and search what arrived (list_emails, get_email, \
search_emails, list_threads, get_thread), organise it with labels (update_labels), and write \
drafts that a person may approve before they go (create_draft, send_draft).";

/// The MCP server for one connection (stdio) or one request (HTTP). Cheap to clone.
#[derive(Clone)]
pub struct McpServer {
    state: AppState,
    /// The key every call acts with on stdio; over HTTP each request brings its own.
    fixed: Option<Credential>,
    tools: Arc<[Tool]>,
}

impl McpServer {
    /// A server over HTTP: each request's credential comes with the request.
    pub fn per_request(state: AppState) -> Self {
        Self {
            state,
            fixed: None,
            tools: tools::all().into(),
        }
    }

    /// A server whose calls all act with `credential` (stdio).
    pub fn acting_as(state: AppState, credential: Credential) -> Self {
        Self {
            fixed: Some(credential),
            ..Self::per_request(state)
        }
    }

    /// The credential of a call: the HTTP request's, or the process's.
    fn credential(&self, context: &RequestContext<RoleServer>) -> Option<Credential> {
        context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Credential>().cloned())
            .or_else(|| self.fixed.clone())
    }
}

impl ServerHandler for McpServer {
    fn get_info(&self) -> ServerConfig {
        InitializeResult::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("agentsend", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(credential) = self.credential(&context) else {
            return Ok(failed(ApiError::unauthorized()).into());
        };
        let args = Value::Object(request.arguments.unwrap_or_default());
        let result = tools::call(&self.state, credential.clone(), &request.name, args).await;
        let check = context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<KeyCheck>());
        Ok(match result {
            Ok(done) => {
                // A tool that succeeded has verified the key in its own database call.
                if let Some(check) = check {
                    check.found(true);
                }
                done.into_result()
            }
            Err(e) => {
                if let Some(check) = check {
                    self.check_key(&credential, check).await;
                }
                failed(e)
            }
        }
        .into())
    }
}

impl McpServer {
    /// After a failed tool call whose key the HTTP endpoint left to the tool: the tool may
    /// have failed before it reached the database, so the key is checked here. Any other
    /// failure of the check leaves it to the endpoint.
    async fn check_key(&self, credential: &Credential, check: &KeyCheck) {
        match self.state.store.verify(credential, self.state.now()).await {
            Ok(_) => check.found(true),
            Err(Failure::Refused(Refusal::Unauthorized)) => check.found(false),
            Err(_) => {}
        }
    }
}

/// Streamable HTTP for `/mcp`: stateless (no `Mcp-Session-Id`), answering with JSON and
/// keeping no stream open, so that any worker can take any request.
struct Streamable(StreamableHttpService<McpServer, NeverSessionManager>);

impl McpTransport for Streamable {
    fn handle(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> BoxFuture<'static, http::Response<BoxBody<Bytes, Infallible>>> {
        let service = self.0.clone();
        Box::pin(async move { service.handle(request).await })
    }
}

/// The transport of `/mcp`, over `state`'s operations.
pub fn transport(state: AppState) -> Transport {
    let config = StreamableHttpServerConfig::default()
        // Every request carries an API key, which a DNS-rebinding page cannot add; the
        // server may be reached under any host name.
        .disable_allowed_hosts()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_max_request_body_bytes(state.config.http.json_body_limit);
    // The transport makes a server per request: a clone, so the tool list is built once.
    let server = McpServer::per_request(state.clone());
    Arc::new(Streamable(StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )))
}

/// A tool's answer: the JSON the REST endpoint would give, and one line saying what it is.
pub(crate) struct Done {
    summary: String,
    value: Value,
}

impl Done {
    fn new(summary: impl Into<String>, value: Value) -> Self {
        Self {
            summary: summary.into(),
            value,
        }
    }

    /// The summary first, then the JSON, so that a client which shows only text content
    /// (as the hosted service's MCP package returned it) still sees everything.
    fn into_result(self) -> CallToolResult {
        // serde_json's own writer, not `Display` (which goes through `fmt`, visibly slower in
        // a profile of list_emails).
        let mut text = self.summary;
        text.push_str("\n\n");
        text.push_str(&serde_json::to_string(&self.value).unwrap_or_default());
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(self.value);
        result
    }
}

/// A tool error with the API's code, message and status (and field details), as text and
/// as the API's error envelope.
fn failed(e: ApiError) -> CallToolResult {
    let body = serde_json::to_value(e.body()).unwrap_or(Value::Null);
    let error = &body["error"];
    let mut text = format!(
        "{}: {}",
        error["code"].as_str().unwrap_or("INTERNAL_ERROR"),
        error["message"].as_str().unwrap_or_default()
    );
    // One bad field is in the message already; several are listed.
    if let Some(details) = error["details"].as_object().filter(|d| d.len() > 1) {
        for (field, problems) in details {
            for problem in problems.as_array().into_iter().flatten() {
                text.push_str(&format!("\n- {field}: {}", problem.as_str().unwrap_or("")));
            }
        }
    }
    let mut result = CallToolResult::error(vec![ContentBlock::text(text)]);
    result.structured_content = Some(body);
    result
}
