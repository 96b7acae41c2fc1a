//! `agentsend mcp`: the MCP server on standard input and output, for clients that start it
//! as a process. Either this process serves the tools itself, on its own database
//! ([`serve`]), or it relays each message to a running server's `/mcp` ([`relay`]), so
//! that the tools run where the mail is. Logs go to standard error; standard output carries
//! the protocol only.

use std::sync::Arc;

use anyhow::Context;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use rmcp::ServiceExt;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, RwLock};

use super::McpServer;
use crate::domain::ApiKeySecret;

/// Serves `server`'s tools on stdin/stdout until the client closes its end.
pub async fn serve(server: McpServer) -> anyhow::Result<()> {
    let running = server
        .serve(rmcp::transport::stdio())
        .await
        .context("the MCP client did not initialise")?;
    running.waiting().await.context("the MCP session failed")?;
    Ok(())
}

/// What the relay learns from the server's answers and repeats on later requests.
#[derive(Default)]
struct Negotiated {
    /// `MCP-Protocol-Version`, from the answer to `initialize`.
    protocol_version: Option<String>,
    /// `Mcp-Session-Id`, if the server gives one.
    session: Option<String>,
}

/// Relays MCP messages between stdin/stdout and the server at `base` (its `/mcp`), with
/// `key`. Requests run concurrently; each answer is written as one line when it comes.
pub async fn relay(base: &url::Url, key: &ApiKeySecret) -> anyhow::Result<()> {
    let endpoint = base.join("mcp").context("the server URL")?;
    // rustls with ring, as the server's own clients (a no-op if already chosen).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    let mut auth = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
        .context("the API key is not a header value")?;
    auth.set_sensitive(true);
    let out = Arc::new(Mutex::new(tokio::io::stdout()));
    let negotiated = Arc::new(RwLock::new(Negotiated::default()));
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut running = tokio::task::JoinSet::new();
    while let Some(line) = lines.next_line().await.context("reading standard input")? {
        if line.trim().is_empty() {
            continue;
        }
        let (client, endpoint, auth) = (client.clone(), endpoint.clone(), auth.clone());
        let (out, negotiated) = (out.clone(), negotiated.clone());
        running.spawn(async move {
            let answers = forward(&client, &endpoint, auth, &negotiated, line).await;
            let mut out = out.lock().await;
            for answer in answers {
                let mut bytes = answer.to_string().into_bytes();
                bytes.push(b'\n');
                if out.write_all(&bytes).await.is_err() || out.flush().await.is_err() {
                    return;
                }
            }
        });
        // Finished relays need not pile up.
        while running.try_join_next().is_some() {}
    }
    // The client closed its end: let the answers still on their way arrive.
    while running.join_next().await.is_some() {}
    Ok(())
}

/// Sends one message; its answers (none for a notification or a response).
async fn forward(
    client: &reqwest::Client,
    endpoint: &url::Url,
    auth: HeaderValue,
    negotiated: &RwLock<Negotiated>,
    line: String,
) -> Vec<Value> {
    let message: Value = match serde_json::from_str(&line) {
        Ok(m) => m,
        Err(e) => {
            return vec![rpc_error(
                &Value::Null,
                -32700,
                &format!("Parse error: {e}"),
            )];
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, auth);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/json, text/event-stream"),
    );
    {
        let n = negotiated.read().await;
        for (name, value) in [
            ("mcp-protocol-version", &n.protocol_version),
            ("mcp-session-id", &n.session),
        ] {
            if let Some(v) = value.as_deref().and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name, v);
            }
        }
    }
    let response = client
        .post(endpoint.clone())
        .headers(headers)
        .body(line)
        .send()
        .await;
    let response = match response {
        Ok(r) => r,
        Err(e) => return failure(&message, &format!("the server cannot be reached: {e}")),
    };
    if let Some(session) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        negotiated.write().await.session = Some(session.to_owned());
    }
    let status = response.status();
    let is_sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = match response.text().await {
        Ok(b) => b,
        Err(e) => return failure(&message, &format!("the answer broke off: {e}")),
    };
    if !status.is_success() {
        // The API's error envelope (a bad key, a rate limit) or the transport's own answer.
        let reason = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| {
                let e = &v["error"];
                Some(format!(
                    "{}: {}",
                    e["code"].as_str()?,
                    e["message"].as_str()?
                ))
            })
            .unwrap_or_else(|| format!("HTTP {status}: {}", body.trim()));
        return failure(&message, &reason);
    }
    let answers: Vec<Value> = if is_sse {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect()
    } else if body.trim().is_empty() {
        Vec::new()
    } else {
        match serde_json::from_str::<Value>(&body) {
            Ok(Value::Array(batch)) => batch,
            Ok(one) => vec![one],
            Err(e) => return failure(&message, &format!("the answer is not JSON: {e}")),
        }
    };
    if message["method"] == "initialize" {
        let version = answers
            .iter()
            .find_map(|a| a["result"]["protocolVersion"].as_str());
        if let Some(version) = version {
            negotiated.write().await.protocol_version = Some(version.to_owned());
        }
    }
    answers
}

/// How a message that could not be relayed is answered: a tool call gets a tool error (so
/// the agent sees why), another request a JSON-RPC error, a notification nothing.
fn failure(message: &Value, reason: &str) -> Vec<Value> {
    let Some(id) = message.get("id") else {
        log::warn!("an MCP notification was not relayed: {reason}");
        return Vec::new();
    };
    if message["method"] == "tools/call" {
        return vec![json!({
            "jsonrpc": "2.0",
            "id": id,
            "result": {"content": [{"type": "text", "text": reason}], "isError": true},
        })];
    }
    vec![rpc_error(id, -32603, reason)]
}

fn rpc_error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}
