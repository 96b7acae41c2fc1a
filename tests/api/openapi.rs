use agentsend::http::error_code::ErrorCode;
use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, json};

/// The endpoints that exist so far (the hosted API's endpoint table, as far as it is built).
const ENDPOINTS: &[(&str, &str)] = &[
    ("get", "/health"),
    ("get", "/ready"),
    ("get", "/metrics"),
    ("post", "/inboxes"),
    ("get", "/inboxes"),
    ("get", "/inboxes/{id}"),
    ("patch", "/inboxes/{id}"),
    ("delete", "/inboxes/{id}"),
    ("post", "/inboxes/{id}/messages"),
    ("get", "/inboxes/{id}/messages"),
    ("get", "/messages/{id}"),
    ("get", "/messages/{id}/raw"),
    ("delete", "/messages/{id}"),
    ("get", "/inboxes/{id}/threads"),
    ("get", "/threads/{id}"),
    ("get", "/threads/{id}/messages"),
    ("post", "/attachments"),
    ("get", "/attachments/{id}"),
    ("get", "/attachments/{id}/content"),
    ("get", "/attachments/{id}/download"),
    ("post", "/auth/auto-provision"),
    ("get", "/claim/{token}"),
    ("post", "/claim/{token}"),
    ("post", "/webhooks"),
    ("get", "/webhooks"),
    ("get", "/webhooks/{id}"),
    ("put", "/webhooks/{id}"),
    ("delete", "/webhooks/{id}"),
    ("get", "/webhooks/{id}/deliveries"),
    ("post", "/webhooks/{id}/test"),
    ("get", "/account"),
    ("patch", "/account"),
    ("post", "/account/api-keys"),
    ("get", "/account/api-keys"),
    ("delete", "/account/api-keys/{id}"),
    ("get", "/events"),
    ("get", "/ws"),
    ("get", "/inboxes/{id}/messages/wait"),
    ("get", "/inboxes/{id}/lists/{list}"),
    ("post", "/inboxes/{id}/lists/{list}"),
    ("delete", "/inboxes/{id}/lists/{list}/{entry}"),
    ("get", "/account/lists/{list}"),
    ("post", "/account/lists/{list}"),
    ("delete", "/account/lists/{list}/{entry}"),
    ("post", "/inboxes/{id}/drafts"),
    ("get", "/inboxes/{id}/drafts"),
    ("get", "/inboxes/{id}/drafts/{draftId}"),
    ("patch", "/inboxes/{id}/drafts/{draftId}"),
    ("delete", "/inboxes/{id}/drafts/{draftId}"),
    ("get", "/drafts/{id}"),
    ("post", "/drafts/{id}/send"),
    ("post", "/drafts/{id}/approve"),
];

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint_and_only_routed_ones() {
    let app = TestApp::spawn().await;
    let (status, doc) = json(
        app.anonymous(Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().unwrap();
    let mut documented = Vec::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.push((method.clone(), path.clone()));
                assert!(
                    op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                    "{method} {path}"
                );
            }
        }
    }
    for (method, path) in ENDPOINTS {
        assert!(
            documented.contains(&((*method).to_owned(), (*path).to_owned())),
            "{method} {path} is not documented"
        );
    }
    // Everything documented is routed: with an id filled in, no request is an unknown route
    // or a wrong method.
    let unrouted = app.get("/surely/not/routed").await.text().await.unwrap();
    for (method, path) in &documented {
        let url = path
            .replace("{id}", &crate::helpers::random_uuid())
            .replace("{token}", "some-token")
            .replace("{list}", "block")
            .replace("{entry}", "bob@example.com");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = app.request(method.clone(), &url).send().await.unwrap();
        assert_ne!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        if path == "/events" {
            // A stream that does not end: its head says it is routed.
            assert_eq!(res.status(), StatusCode::OK);
            continue;
        }
        let body = res.text().await.unwrap();
        assert_ne!(body, unrouted, "{method} {path} is not routed");
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    assert!(schemas.contains_key("ErrorBody") && schemas.contains_key("InboxDto"));
    // The error codes are one list, in the document as an enum.
    let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(codes, all);
    assert!(codes.contains(&"INBOX_NOT_FOUND") && codes.contains(&"CLAIM_REQUIRED"));
    let security = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(security.contains_key("BearerAuth") && security.contains_key("ApiKeyAuth"));
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_offline() {
    let app = TestApp::spawn().await;
    let res = app.anonymous(Method::GET, "/docs/").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let res = app.anonymous(Method::GET, asset).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{asset}");
        assert!(!res.bytes().await.unwrap().is_empty());
    }
    let init = app
        .anonymous(Method::GET, "/docs/swagger-initializer.js")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(init.contains("/openapi.json"));
}

/// The served document.
async fn document(app: &TestApp) -> serde_json::Value {
    let (status, doc) = json(
        app.anonymous(Method::GET, "/openapi.json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    doc
}

/// Every operation: (method, path, operation object).
fn operations(doc: &serde_json::Value) -> Vec<(String, String, serde_json::Value)> {
    let mut all = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            all.push((method.clone(), path.clone(), op.clone()));
        }
    }
    all
}

fn parameter<'a>(op: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    op["parameters"]
        .as_array()?
        .iter()
        .find(|p| p["name"] == name)
}

#[tokio::test]
async fn paging_bounds_in_the_document_are_the_ones_the_server_applies() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut paged = 0;
    for (method, path, op) in operations(&doc) {
        let Some(limit) = parameter(&op, "limit") else {
            continue;
        };
        paged += 1;
        assert_eq!(limit["schema"]["minimum"], 1, "{method} {path}");
        assert_eq!(limit["schema"]["maximum"], 100, "{method} {path}");
        let offset = parameter(&op, "offset").unwrap();
        assert_eq!(offset["schema"]["minimum"], 0, "{method} {path}");
        assert_eq!(offset["schema"]["maximum"], i64::MAX, "{method} {path}");
        assert!(op["responses"]["400"].is_object(), "{method} {path}");
    }
    assert!(paged >= 8, "{paged} paged operations");
    for (query, status) in [
        ("limit=1", StatusCode::OK),
        ("limit=100", StatusCode::OK),
        ("limit=0", StatusCode::BAD_REQUEST),
        ("limit=101", StatusCode::BAD_REQUEST),
        ("offset=9223372036854775807", StatusCode::OK),
        ("offset=9223372036854775808", StatusCode::BAD_REQUEST),
        ("offset=-1", StatusCode::BAD_REQUEST),
    ] {
        let res = app.get(&format!("/inboxes?{query}")).await;
        assert_eq!(res.status(), status, "{query}");
    }
}

#[tokio::test]
async fn every_operation_documents_the_errors_it_gives() {
    let app = TestApp::spawn().await;
    let doc = document(&app).await;
    let mut ids = std::collections::HashSet::new();
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let id = op["operationId"].as_str().unwrap();
        assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        assert!(responses.contains_key("429"), "{method} {path}: no 429");
        let public = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|r| r.as_object().unwrap().is_empty()));
        // `/metrics` is public to API keys; its 401 is for the metrics' own token.
        assert_eq!(
            responses.contains_key("401"),
            !public || path == "/metrics",
            "{method} {path}: 401 documented exactly when a key is needed"
        );
        if op["requestBody"]["content"]["application/json"].is_object() {
            for status in ["400", "413", "415"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path}: no {status}"
                );
            }
        }
        // A malformed path id is a 400 that the document lists.
        if path.contains("{id}") {
            assert!(responses.contains_key("400"), "{method} {path}: no 400");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let path = path
                .replace("{list}", "allow")
                .replace("{entry}", "example.com");
            let res = app
                .request(m, &path.replace("{id}", "not-a-uuid"))
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{method} {path}");
        }
    }
    // Bodies that may be left out may not be `null`; required fields are required.
    let create = &doc["paths"]["/inboxes"]["post"]["requestBody"];
    assert_ne!(create["required"], true);
    assert_eq!(
        create["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/CreateInbox"
    );
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["SendMessage"]["required"],
        serde_json::json!(["to", "subject"])
    );
    assert_eq!(
        schemas["SendMessage"]["properties"]["subject"]["maxLength"],
        998
    );
    assert!(schemas["InboxDto"]["properties"]["id"]["pattern"].is_string());
    // Downloads come in the attachment's own content type, errors as JSON.
    let content = &doc["paths"]["/attachments/{id}/content"]["get"]["responses"];
    assert!(content["200"]["content"]["*/*"].is_object());
    assert!(content["404"]["content"]["application/json"].is_object());
    // The claim form answers 415 to anything but a form.
    assert!(doc["paths"]["/claim/{token}"]["post"]["responses"]["415"].is_object());
}

#[tokio::test]
async fn the_docs_address_without_its_slash_redirects_to_the_docs_page() {
    let app = TestApp::spawn().await;
    crate::helpers::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client
        .get(format!("{}/docs", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(res.headers()["location"], "/docs/");
    // Followed, it is the page.
    let res = app.anonymous(Method::GET, "/docs").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.url().path().ends_with("/docs/"));
    assert!(res.text().await.unwrap().contains("swagger-ui"));
}
