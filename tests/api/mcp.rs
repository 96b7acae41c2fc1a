//! The built-in MCP server, driven by a real MCP client (rmcp's): over Streamable HTTP at
//! `/mcp`, and over stdio by the real binary (relaying to a running server, and on a
//! database of its own). Every tool is called, with its error cases.

use std::process::Stdio;

use reqwest::{Method, StatusCode};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::{RoleClient, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use serde_json::{Value, json};

use crate::helpers::{TestApp, json, random_uuid};
use crate::smtp_client::send_mail;

type Client = RunningService<RoleClient, ()>;

/// The tools, in the order the server lists them.
const TOOLS: [&str; 18] = [
    "create_inbox",
    "list_inboxes",
    "send_email",
    "list_emails",
    "get_email",
    "list_threads",
    "get_thread",
    "register_webhook",
    "reply_to_email",
    "forward_email",
    "wait_for_email",
    "search_emails",
    "update_labels",
    "get_attachment",
    "create_draft",
    "send_draft",
    "list_domains",
    "get_domain_records",
];

async fn http_client(app: &TestApp, key: &str) -> Client {
    let config = StreamableHttpClientTransportConfig::with_uri(format!("{}/mcp", app.base))
        .auth_header(key.to_owned());
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    ().serve(transport)
        .await
        .expect("the MCP client initialises")
}

/// Calls a tool and returns its result, whether it worked or not.
async fn call(client: &Client, name: &str, args: Value) -> CallToolResult {
    let Value::Object(args) = args else {
        panic!("arguments are an object")
    };
    client
        .call_tool(CallToolRequestParams::new(name.to_owned()).with_arguments(args))
        .await
        .unwrap_or_else(|e| panic!("{name}: a tool error, never a protocol error: {e}"))
}

/// A call that must work: its structured content (and the text says something).
async fn ok(client: &Client, name: &str, args: Value) -> Value {
    let result = call(client, name, args).await;
    assert_ne!(result.is_error, Some(true), "{name}: {result:?}");
    let text = text_of(&result);
    assert!(!text.is_empty(), "{name}: a text summary");
    let value = result.structured_content.expect("structured content");
    assert!(
        text.contains(&value.to_string()),
        "{name}: the text carries the JSON too"
    );
    value
}

/// A call that must fail as a tool error with this API code; its text.
async fn fails(client: &Client, name: &str, args: Value, code: &str) -> String {
    let result = call(client, name, args).await;
    assert_eq!(result.is_error, Some(true), "{name}: {result:?}");
    let value = result
        .structured_content
        .clone()
        .expect("the error envelope");
    assert_eq!(value["error"]["code"], code, "{name}: {value}");
    text_of(&result)
}

fn text_of(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect::<Vec<_>>()
        .join("\n")
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_owned()
}

const MAIL: &[u8] = b"From: Ann <ann@example.com>\r\n\
To: bot@agentsend.localhost\r\n\
Subject: Quarterly numbers\r\n\
Message-ID: <numbers-1@example.com>\r\n\
Date: Tue, 01 Dec 2026 09:00:00 +0000\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\
\r\n\
--b\r\n\
Content-Type: text/plain\r\n\
\r\n\
Here are the figures you asked for.\r\n\
--b\r\n\
Content-Type: text/csv; name=figures.csv\r\n\
Content-Disposition: attachment; filename=figures.csv\r\n\
\r\n\
q,revenue\r\n\
4,1200\r\n\
--b--\r\n";

#[tokio::test]
async fn an_mcp_client_over_http_lists_the_tools_and_calls_every_one() {
    let app = TestApp::spawn().await;
    let client = http_client(&app, &app.key).await;
    let info = client.peer_info().expect("initialised");
    assert_eq!(
        info.server_info.as_ref().map(|s| s.name.as_str()),
        Some("agentsend")
    );

    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, TOOLS);
    for t in &tools {
        let a = t.annotations.as_ref().expect("annotations");
        assert!(
            a.read_only_hint.is_some() && a.idempotent_hint.is_some(),
            "{}",
            t.name
        );
        assert!(t.description.as_ref().is_some_and(|d| d.len() > 40));
    }
    let send = tools.iter().find(|t| t.name == "send_email").unwrap();
    assert_eq!(
        send.input_schema["required"],
        json!(["inboxId", "to", "subject", "bodyText"]),
        "the hosted package's argument shape"
    );
    assert_eq!(
        tools
            .iter()
            .find(|t| t.name == "get_email")
            .unwrap()
            .annotations
            .as_ref()
            .unwrap()
            .read_only_hint,
        Some(true)
    );

    // Inboxes.
    let inbox = ok(
        &client,
        "create_inbox",
        json!({"address": "bot", "displayName": "Bot"}),
    )
    .await;
    assert_eq!(inbox["address"], "bot@agentsend.localhost");
    let inbox_id = id(&inbox);
    let listed = ok(&client, "list_inboxes", json!({})).await;
    assert_eq!(listed["total"], 1);

    // Wait for mail while it arrives over SMTP.
    let waiter = client.peer().clone();
    let wait_args = json!({"inboxId": inbox_id, "timeoutSeconds": 30, "subject": "quarterly"});
    let waiting = tokio::spawn(async move {
        let Value::Object(args) = wait_args else {
            unreachable!()
        };
        waiter
            .call_tool(CallToolRequestParams::new("wait_for_email").with_arguments(args))
            .await
            .unwrap()
    });
    let (code, text) = send_mail(
        app.smtp,
        "ann@example.com",
        &["bot@agentsend.localhost"],
        MAIL,
    )
    .await;
    assert_eq!(code, 250, "{text}");
    let waited = waiting.await.unwrap();
    let received = waited.structured_content.expect("the message");
    assert_eq!(received["subject"], "Quarterly numbers");
    let message_id = id(&received);

    // Reading.
    let emails = ok(
        &client,
        "list_emails",
        json!({"inboxId": inbox_id, "label": "unread"}),
    )
    .await;
    assert_eq!(emails["total"], 1);
    let got = ok(&client, "get_email", json!({"messageId": message_id})).await;
    assert_eq!(got["extractedText"], "Here are the figures you asked for.");
    let threads = ok(
        &client,
        "list_threads",
        json!({"inboxId": inbox_id, "limit": 5}),
    )
    .await;
    assert_eq!(threads["total"], 1);
    let thread = ok(&client, "get_thread", json!({"threadId": got["threadId"]})).await;
    assert_eq!(thread["data"][0]["id"], message_id.as_str());
    assert_eq!(thread["thread"]["subject"], "Quarterly numbers");
    let found = ok(
        &client,
        "search_emails",
        json!({"query": "figures", "inboxId": inbox_id}),
    )
    .await;
    assert_eq!(found["data"][0]["id"], message_id.as_str());
    let attachment = ok(
        &client,
        "get_attachment",
        json!({"attachmentId": got["attachments"][0]["id"]}),
    )
    .await;
    assert_eq!(attachment["filename"], "figures.csv");
    assert_eq!(attachment["text"], "q,revenue\r\n4,1200");
    assert!(attachment["url"].as_str().unwrap().contains("/download"));

    // Acting.
    let labelled = ok(
        &client,
        "update_labels",
        json!({"messageId": message_id, "addLabels": ["read", "finance"]}),
    )
    .await;
    assert_eq!(labelled["labels"], json!(["finance", "read"]));
    let thread_labelled = ok(
        &client,
        "update_labels",
        json!({"threadId": got["threadId"], "removeLabels": ["finance"]}),
    )
    .await;
    assert_eq!(thread_labelled["labels"], json!(["read"]));
    let sent = ok(
        &client,
        "send_email",
        json!({"inboxId": inbox_id, "to": ["carol@example.com"], "subject": "Hello", "bodyText": "Hi Carol"}),
    )
    .await;
    assert_eq!(sent["status"], "queued");
    let reply = ok(
        &client,
        "reply_to_email",
        json!({"messageId": message_id, "bodyText": "Thanks!"}),
    )
    .await;
    assert_eq!(reply["toAddresses"], json!(["ann@example.com"]));
    assert_eq!(reply["subject"], "Re: Quarterly numbers");
    assert_eq!(reply["threadId"], got["threadId"]);
    let forward = ok(
        &client,
        "forward_email",
        json!({"messageId": message_id, "to": ["dave@example.com"], "bodyText": "FYI"}),
    )
    .await;
    assert_eq!(forward["subject"], "Fwd: Quarterly numbers");
    let webhook = ok(
        &client,
        "register_webhook",
        json!({"url": "https://hooks.example.com/in", "events": ["message.received"]}),
    )
    .await;
    assert!(webhook["secret"].as_str().unwrap().starts_with("whsec_"));

    // Domains.
    let domains = ok(&client, "list_domains", json!({})).await;
    assert_eq!(domains["total"], 0);
    let (status, domain) = json(
        app.post("/domains", &json!({"domain": "mail.example.org"}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let records = ok(
        &client,
        "get_domain_records",
        json!({"domainId": domain["id"]}),
    )
    .await;
    assert_eq!(records["domain"], "mail.example.org");
    assert!(
        records["dnsRecords"].as_array().unwrap().len() >= 3,
        "{records}"
    );

    // Errors are tool errors with the API's code, naming the argument.
    let text = fails(&client, "get_email", json!({}), "VALIDATION_ERROR").await;
    assert!(text.contains("messageId"), "{text}");
    let text = fails(
        &client,
        "send_email",
        json!({"inboxId": inbox_id, "to": "nobody"}),
        "VALIDATION_ERROR",
    )
    .await;
    assert!(text.contains("to"), "{text}");
    fails(
        &client,
        "get_email",
        json!({"messageId": random_uuid()}),
        "MESSAGE_NOT_FOUND",
    )
    .await;
    fails(
        &client,
        "get_domain_records",
        json!({"domainId": random_uuid()}),
        "DOMAIN_NOT_FOUND",
    )
    .await;
    let text = fails(
        &client,
        "search_emails",
        json!({"query": "\"unclosed"}),
        "VALIDATION_ERROR",
    )
    .await;
    assert!(text.contains("query"), "{text}");
    fails(
        &client,
        "update_labels",
        json!({"addLabels": ["x"]}),
        "VALIDATION_ERROR",
    )
    .await;
    fails(
        &client,
        "forward_email",
        json!({"messageId": message_id, "to": []}),
        "VALIDATION_ERROR",
    )
    .await;
    let text = fails(&client, "no_such_tool", json!({}), "VALIDATION_ERROR").await;
    assert!(text.contains("no_such_tool"), "{text}");
    let timed_out = ok(
        &client,
        "wait_for_email",
        json!({"inboxId": inbox_id, "timeoutSeconds": 1}),
    )
    .await;
    assert_eq!(timed_out["timedOut"], true);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn tools_need_their_key_scope_and_other_accounts_mail_is_not_found() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "bot"})).await;
    let reader = http_client(&app, &app.key_with_scopes(&["read"]).await).await;
    let listed = ok(&reader, "list_inboxes", json!({})).await;
    assert_eq!(listed["total"], 1);
    let text = fails(
        &reader,
        "send_email",
        json!({"inboxId": id(&inbox), "to": ["a@example.com"], "subject": "s", "bodyText": "b"}),
        "INSUFFICIENT_SCOPE",
    )
    .await;
    assert!(text.contains("`send`"), "{text}");
    fails(&reader, "create_inbox", json!({}), "INSUFFICIENT_SCOPE").await;
    fails(
        &reader,
        "update_labels",
        json!({"messageId": random_uuid(), "addLabels": ["x"]}),
        "INSUFFICIENT_SCOPE",
    )
    .await;
    let (_, page) = json(app.get(&format!("/inboxes/{}/messages", id(&inbox))).await).await;
    assert_eq!(page["total"], 0, "nothing was sent");

    // Passing stored mail on reads it: a send-only key may not forward.
    let sender = http_client(&app, &app.key_with_scopes(&["send"]).await).await;
    let text = fails(
        &sender,
        "forward_email",
        json!({"messageId": random_uuid(), "to": ["me@example.com"]}),
        "INSUFFICIENT_SCOPE",
    )
    .await;
    assert!(text.contains("`read`"), "{text}");

    let (_, other_key) = app.other_account().await;
    let other = http_client(&app, &other_key).await;
    fails(
        &other,
        "list_emails",
        json!({"inboxId": id(&inbox)}),
        "INBOX_NOT_FOUND",
    )
    .await;
    fails(
        &other,
        "wait_for_email",
        json!({"inboxId": id(&inbox), "timeoutSeconds": 1}),
        "INBOX_NOT_FOUND",
    )
    .await;
}

#[tokio::test]
async fn drafts_through_mcp_wait_for_a_person_with_the_approve_scope() {
    let app = TestApp::spawn().await;
    let inbox = app.create_inbox(json!({"address": "bot"})).await;
    let agent = http_client(&app, &app.key_with_scopes(&["read", "send"]).await).await;
    let draft = ok(
        &agent,
        "create_draft",
        json!({"inboxId": id(&inbox), "to": ["ceo@example.com"], "subject": "Offer",
               "bodyText": "We accept.", "requiresApproval": true}),
    )
    .await;
    assert_eq!(draft["status"], "draft");
    assert_eq!(draft["requiresApproval"], true);
    let text = fails(
        &agent,
        "send_draft",
        json!({"draftId": id(&draft)}),
        "APPROVAL_REQUIRED",
    )
    .await;
    assert!(text.contains("approve"), "{text}");
    let text = fails(
        &agent,
        "create_draft",
        json!({"inboxId": id(&inbox), "to": ["a@example.com"], "subject": "s", "bodyText": "b",
               "sendAt": "2020-01-01T00:00:00Z"}),
        "VALIDATION_ERROR",
    )
    .await;
    assert!(text.contains("sendAt"), "{text}");

    let reviewer = http_client(
        &app,
        &app.key_with_scopes(&["read", "send", "approve"]).await,
    )
    .await;
    let sent = ok(&reviewer, "send_draft", json!({"draftId": id(&draft)})).await;
    assert_eq!(sent["subject"], "Offer");
    assert_eq!(sent["status"], "queued");
    fails(
        &reviewer,
        "send_draft",
        json!({"draftId": id(&draft)}),
        "DRAFT_ALREADY_SENT",
    )
    .await;
}

#[tokio::test]
async fn the_mcp_endpoint_wants_a_valid_key() {
    let app = TestApp::spawn().await;
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}});
    // A tool call's key is checked by the tool itself, whether it gets to the database or
    // fails on its arguments first; a revoked key is as bad as a made-up one.
    let call = |name: &str, arguments: Value| {
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}})
    };
    let (_, revoked) = json(
        app.post("/account/api-keys", &json!({"name": "gone"}))
            .await,
    )
    .await;
    let res = app
        .delete(&format!("/account/api-keys/{}", id(&revoked)))
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let revoked = revoked["key"].as_str().unwrap();
    let made_up = "ask_0000000000000000000000000000000000000000";
    for (key, message) in [
        (None, &initialize),
        (Some(made_up), &initialize),
        (Some(made_up), &call("list_inboxes", json!({}))),
        (Some(made_up), &call("get_email", json!({}))),
        (Some(made_up), &call("no_such_tool", json!({}))),
        // Calls no tool gets to: bad params, and a call sent as a notification.
        (
            Some(made_up),
            &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": 5}}),
        ),
        (
            Some(made_up),
            &json!({"jsonrpc": "2.0", "method": "tools/call", "params": {"name": "list_inboxes"}}),
        ),
        (Some(revoked), &call("list_inboxes", json!({}))),
        (Some(revoked), &initialize),
    ] {
        let mut req = app
            .anonymous(Method::POST, "/mcp")
            .header("accept", "application/json, text/event-stream")
            .json(message);
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let (status, body) = json(req.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{message}");
        assert_eq!(body["error"]["code"], "UNAUTHORIZED");
    }
    let res = app.request(Method::GET, "/mcp").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);

    // What the transport refuses comes back in the API's envelope too.
    let both = "application/json, text/event-stream";
    for (accept, content_type, body, status, code) in [
        (both, "application/json", "{}", 400, "VALIDATION_ERROR"),
        (both, "application/json", "[1, 2]", 400, "VALIDATION_ERROR"),
        (
            "application/json",
            "application/json",
            "{}",
            406,
            "NOT_ACCEPTABLE",
        ),
        (both, "text/plain", "{}", 415, "UNSUPPORTED_MEDIA_TYPE"),
    ] {
        let res = app
            .request(Method::POST, "/mcp")
            .header("accept", accept)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let (got, envelope) = json(res).await;
        assert_eq!(
            got.as_u16(),
            status,
            "{accept} {content_type} {body}: {envelope}"
        );
        assert_eq!(envelope["error"]["code"], code);
        assert!(
            envelope["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("MCP: ")
        );
    }
}

/// The binary as an MCP server on stdio, in a clean directory and environment.
async fn stdio_client(dir: &std::path::Path, args: &[&str]) -> Client {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentsend"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .args(args);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    ().serve(transport)
        .await
        .expect("the stdio server initialises")
}

#[tokio::test]
async fn agentsend_mcp_relays_stdio_to_a_running_server() {
    let app = TestApp::spawn().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("{}/", app.base);
    let client = stdio_client(dir.path(), &["mcp", "--url", &url, "--api-key", &app.key]).await;
    let names: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    assert_eq!(names, TOOLS);
    let inbox = ok(&client, "create_inbox", json!({"address": "relay"})).await;
    let (_, listed) = json(app.get("/inboxes").await).await;
    assert_eq!(listed["data"][0]["id"], inbox["id"], "made on the server");
    fails(
        &client,
        "get_email",
        json!({"messageId": "nope"}),
        "VALIDATION_ERROR",
    )
    .await;
    client.cancel().await.unwrap();

    // A wrong key: every call says so.
    let wrong = "ask_0000000000000000000000000000000000000000";
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentsend"));
    cmd.current_dir(dir.path())
        .env_clear()
        .args(["mcp", "--url", &url, "--api-key", wrong]);
    let (transport, _) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let refused = ().serve(transport).await;
    assert!(refused.is_err(), "initialize is refused with a bad key");
}

#[tokio::test]
async fn agentsend_mcp_serves_a_database_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("own.db");
    let db = db.to_str().unwrap();
    let client = stdio_client(dir.path(), &["--db", db, "mcp"]).await;
    let inbox = ok(&client, "create_inbox", json!({"prefix": "local"})).await;
    assert!(inbox["address"].as_str().unwrap().starts_with("local-"));
    let listed = ok(&client, "list_inboxes", json!({})).await;
    assert_eq!(listed["total"], 1);
    client.cancel().await.unwrap();

    // Once the database has its account, a key is needed.
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_agentsend"))
        .current_dir(dir.path())
        .env_clear()
        .args(["--db", db, "mcp"])
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--api-key"), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing but the protocol on stdout");
}
