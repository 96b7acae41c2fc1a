//! The OpenAPI document served at `/openapi.json` (and rendered at `/docs`), generated from the
//! handlers' annotations. Every route in the route table must appear here; a test checks it.

use serde_json::{Value, json};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response};
use utoipa::{Modify, OpenApi};

use crate::config::Config;
use crate::domain::Cursor;

use super::{
    account, attachments, domains, drafts, error, events, health, inboxes, mcp, messages, metrics,
    reply, sandbox, sender_lists, threads, webhooks, ws,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "AgentSend (self-hosted)",
        description = "Email API for AI agents: inboxes, sending, receiving, threads and signed \
                       webhooks. Compatible with the hosted AgentSend API. Every error response \
                       has the body {\"error\": {\"code\", \"message\", \"status\"}}. Any \
                       request with a body may also be answered 408 REQUEST_TIMEOUT (the body \
                       arrived too slowly) or 503 SERVER_BUSY (too much data in memory at \
                       once; retry after Retry-After).",
    ),
    paths(
        health::health,
        health::ready,
        metrics::metrics,
        inboxes::create, inboxes::list, inboxes::get, inboxes::update, inboxes::delete,
        messages::send, messages::list, messages::search, messages::get, messages::update,
        messages::raw, messages::recipients, messages::delete, reply::reply, reply::forward,
        drafts::create, drafts::list, drafts::get_in_inbox, drafts::update, drafts::delete,
        drafts::get, drafts::send, drafts::approve,
        threads::list, threads::get, threads::update, threads::messages,
        attachments::upload, attachments::get, attachments::content, attachments::download,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::deliveries, webhooks::test,
        domains::create, domains::list, domains::get, domains::verify, domains::delete,
        account::get, account::update, account::create_key, account::list_keys, account::revoke_key,
        sandbox::provision, sandbox::claim_page, sandbox::claim_submit,
        events::stream, ws::connect, events::wait, mcp::mcp,
        sender_lists::list_inbox, sender_lists::add_inbox, sender_lists::remove_inbox,
        sender_lists::list_account, sender_lists::add_account, sender_lists::remove_account,
    ),
    components(schemas(error::ErrorBody, messages::StatusName, messages::DirectionName,
        messages::OrderName, messages::LabelName, domains::DomainFormat, reply::ForwardModeName)),
    modifiers(&Security, &CommonResponses),
    security(("BearerAuth" = []), ("ApiKeyAuth" = [])),
    tags(
        (name = "Inboxes", description = "Addresses that send and receive mail"),
        (name = "Messages", description = "Mail received into and sent from inboxes"),
        (name = "Threads", description = "Conversations within an inbox"),
        (name = "Drafts", description = "Messages written but not sent yet: scheduled sends \
            (`sendAt`) and drafts a person approves before they go (`requiresApproval`; an \
            addition to the hosted API)"),
        (name = "Attachments", description = "Files to attach to sends, and those of received mail; downloads with the key or through presigned links"),
        (name = "Webhooks", description = "Signed event deliveries: X-AgentSend-Signature (hex \
            HMAC-SHA256 of the body keyed with the secret) and Standard Webhooks headers"),
        (name = "Domains", description = "Custom domains: the DNS records to publish, their \
            verification, DKIM signing with the domain's own key and receiving on it"),
        (name = "Account", description = "The account and its API keys"),
        (name = "Sender lists", description = "Allow and block lists of senders, per inbox and \
            account-wide (an addition to the hosted API): blocked senders are refused at the \
            SMTP level (550 5.7.1), an allow list refuses (or quarantines) everyone else, and \
            sends to a blocked recipient are 400 RECIPIENT_BLOCKED"),
        (name = "Events", description = "The account's events live, without a public URL: \
            Server-Sent Events and a WebSocket, both resumable from an event id (an addition to \
            the hosted API)"),
        (name = "MCP", description = "The Model Context Protocol server (Streamable HTTP): the \
            API's operations as tools for agents; each tool needs its key scope (an addition to \
            the hosted API)"),
        (name = "System", description = "Health"),
    )
)]
pub struct ApiDoc;

/// The document this server serves at `/openapi.json`: [`ApiDoc`], with what its configuration
/// decides and what utoipa's annotations cannot say (see [`refine`]).
pub fn document(config: &Config) -> Value {
    match serde_json::to_value(ApiDoc::openapi()) {
        Ok(mut doc) => {
            refine(&mut doc, config);
            doc
        }
        Err(e) => {
            log::error!("the OpenAPI document cannot be written out: {e}");
            Value::Null
        }
    }
}

/// A hyphenated UUID, the only form ids are accepted in.
const UUID_PATTERN: &str =
    "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$";

/// Makes the document say exactly what the server checks, where annotations cannot:
/// - a paging `cursor` has [`Cursor::PATTERN`], the form the server reads;
/// - `format` is only an annotation in OpenAPI 3.1 (a validator need not check it), so each
///   `uuid` also gets its pattern;
/// - a body that may be left out is not therefore `null` (a JSON `null` is refused);
/// - `address` and `prefix` of a new inbox exclude each other (a `not`);
/// - an inbox's daily send limit goes up to its account's own, which is the configured
///   account limit unless an operator gave the account another;
/// - a reply has `bodyText` or `bodyHtml`, and a key's `scopes` name each scope once;
/// - multipart part names cannot hold control characters (the part header would not parse).
fn refine(doc: &mut Value, config: &Config) {
    add_uuid_patterns(doc);
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for operation in paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut())
        {
            let cursors = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
                .into_iter()
                .flatten()
                .filter(|p| p.get("name") == Some(&json!("cursor")));
            for cursor in cursors {
                cursor["schema"]["pattern"] = json!(Cursor::PATTERN);
            }
            let Some(body) = operation.get_mut("requestBody") else {
                continue;
            };
            if body.get("required") == Some(&Value::Bool(true)) {
                continue;
            }
            let Some(schema) = body.pointer_mut("/content/application~1json/schema") else {
                continue;
            };
            let not_null = schema
                .get("oneOf")
                .and_then(Value::as_array)
                .and_then(|choices| {
                    choices
                        .iter()
                        .find(|c| c.get("type") != Some(&json!("null")))
                        .cloned()
                });
            if let Some(not_null) = not_null {
                *schema = not_null;
            }
        }
    }
    let Some(schemas) = doc.pointer_mut("/components/schemas") else {
        return;
    };
    if let Some(create) = schemas
        .get_mut("CreateInbox")
        .and_then(Value::as_object_mut)
    {
        create.insert(
            "not".to_owned(),
            json!({
                "required": ["address", "prefix"],
                "properties": {"address": {"type": "string"}, "prefix": {"type": "string"}}
            }),
        );
    }
    for body in ["CreateInbox", "UpdateInbox"] {
        if let Some(limit) = schemas.pointer_mut(&format!("/{body}/properties/dailySendLimit")) {
            limit["maximum"] = json!(config.limits.account_daily_send_limit);
        }
    }
    // A reply needs a body of one kind or the other; a key's scopes are a set.
    if let Some(reply) = schemas.get_mut("ReplyMessage") {
        reply["anyOf"] =
            json!(["bodyText", "bodyHtml"].map(
                |field| json!({"required": [field], "properties": {field: {"type": "string"}}})
            ));
    }
    if let Some(scopes) = schemas.pointer_mut("/CreateApiKey/properties/scopes") {
        scopes["uniqueItems"] = json!(true);
    }
    if let Some(form) = schemas.get_mut("UploadForm") {
        form["propertyNames"] = json!({"pattern": "^[^\\u0000-\\u0008\\u000a-\\u001f\\u007f]*$"});
    }
}

/// Adds [`UUID_PATTERN`] to every schema of format `uuid`.
fn add_uuid_patterns(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if object.get("format") == Some(&json!("uuid")) && !object.contains_key("pattern") {
                object.insert("pattern".to_owned(), json!(UUID_PATTERN));
            }
            object.values_mut().for_each(add_uuid_patterns);
        }
        Value::Array(items) => items.iter_mut().for_each(add_uuid_patterns),
        _ => {}
    }
}

/// The two ways to send an API key.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "BearerAuth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "ApiKeyAuth",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
    }
}

/// The error responses that every operation of a kind can give, added in one place so that no
/// annotation can forget one: `401` and `403` (a missing scope) on each operation that needs a
/// key, `429` everywhere (the rate limit counts unauthenticated requests by address), `400`
/// wherever a path id, a paging parameter or a JSON body can be malformed, and `408`, `413`,
/// `415` and `503` wherever a JSON body is read. An operation's own description of a status is
/// kept.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                add_common_responses(op);
            }
        }
    }
}

fn add_common_responses(op: &mut Operation) {
    let has_param = |name: &str, place: ParameterIn| {
        op.parameters.iter().flatten().any(|p| match p {
            RefOr::T(p) => p.name == name && p.parameter_in == place,
            RefOr::Ref(_) => false,
        })
    };
    let (path_id, paged) = (
        has_param("id", ParameterIn::Path),
        has_param("limit", ParameterIn::Query),
    );
    let json_body = op.request_body.as_ref().is_some_and(|b| match b {
        RefOr::T(b) => b.content.contains_key("application/json"),
        RefOr::Ref(_) => false,
    });
    // `security(())` (an empty requirement) marks the public operations.
    let public = op.security.iter().flatten().any(|requirement| {
        serde_json::to_value(requirement).is_ok_and(|v| v.as_object().is_some_and(|o| o.is_empty()))
    });
    let mut add = |status: &str, description: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| error_response(description));
    };
    if path_id || paged || json_body {
        add(
            "400",
            "VALIDATION_ERROR: a malformed id, paging parameter or field",
        );
    }
    if !public {
        add(
            "401",
            "UNAUTHORIZED: the API key is missing, unknown, revoked or expired",
        );
        add(
            "403",
            "INSUFFICIENT_SCOPE: the API key lacks a scope this needs (the message names it)",
        );
    }
    if json_body {
        add("408", "REQUEST_TIMEOUT: the body arrived too slowly");
        add("413", "PAYLOAD_TOO_LARGE: the body is over the JSON limit");
        add(
            "415",
            "UNSUPPORTED_MEDIA_TYPE: a body that is not `application/json`",
        );
        add(
            "503",
            "SERVER_BUSY: too much data in memory at once; retry after `Retry-After`",
        );
    }
    add(
        "429",
        "RATE_LIMIT_EXCEEDED: retry after `Retry-After` seconds",
    );
}

/// A response with the error envelope.
fn error_response(description: &str) -> RefOr<Response> {
    let mut response = Response::new(description);
    response.content.insert(
        "application/json".to_owned(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("ErrorBody")))),
    );
    RefOr::T(response)
}
