use agentsend::http::error_code::ErrorCode;
use reqwest::{Method, StatusCode};

use crate::helpers::{TestApp, json};

/// The endpoints that exist so far (the hosted API's endpoint table, as far as it is built).
const ENDPOINTS: &[(&str, &str)] = &[
    ("get", "/health"),
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
            .replace("{token}", "some-token");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let res = app.request(method.clone(), &url).send().await.unwrap();
        assert_ne!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
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
