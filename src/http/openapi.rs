//! The OpenAPI document served at `/openapi.json` (and rendered at `/docs`), generated from the
//! handlers' annotations. Every route in the route table must appear here; a test checks it.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::{
    account, attachments, domains, error, health, inboxes, messages, sandbox, threads, webhooks,
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
        inboxes::create, inboxes::list, inboxes::get, inboxes::update, inboxes::delete,
        messages::send, messages::list, messages::get, messages::raw, messages::delete,
        threads::list, threads::get, threads::messages,
        attachments::upload, attachments::get, attachments::content, attachments::download,
        webhooks::create, webhooks::list, webhooks::get, webhooks::update, webhooks::delete,
        webhooks::deliveries, webhooks::test,
        domains::create, domains::list, domains::get, domains::verify, domains::delete,
        account::get, account::update, account::create_key, account::list_keys, account::revoke_key,
        sandbox::provision, sandbox::claim_page, sandbox::claim_submit,
    ),
    components(schemas(error::ErrorBody)),
    modifiers(&Security),
    security(("BearerAuth" = []), ("ApiKeyAuth" = [])),
    tags(
        (name = "Inboxes", description = "Addresses that send and receive mail"),
        (name = "Messages", description = "Mail received into and sent from inboxes"),
        (name = "Threads", description = "Conversations within an inbox"),
        (name = "Attachments", description = "Files to attach to sends, and those of received mail; downloads with the key or through presigned links"),
        (name = "Webhooks", description = "Signed event deliveries: X-AgentSend-Signature (hex \
            HMAC-SHA256 of the body keyed with the secret) and Standard Webhooks headers"),
        (name = "Domains", description = "Custom domains: the DNS records to publish, their \
            verification, DKIM signing with the domain's own key and receiving on it"),
        (name = "Account", description = "The account and its API keys"),
        (name = "System", description = "Health"),
    )
)]
pub struct ApiDoc;

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
