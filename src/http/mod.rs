//! The only module that knows actix-web: the route table, request plumbing (auth, rate
//! limits, idempotency, errors) and thin handlers with their wire types.

pub mod account;
pub mod attachments;
pub mod auth;
pub mod conn;
pub mod domains;
pub mod drafts;
pub mod error;
pub mod error_code;
pub mod events;
pub mod extract;
pub mod fixture;
pub mod health;
pub mod idempotency;
pub mod inboxes;
pub mod log;
pub mod mcp;
pub mod messages;
pub mod metrics;
pub mod openapi;
pub mod rate_limit;
pub mod reply;
pub mod sandbox;
pub mod sender_lists;
pub mod threads;
pub mod ui;
pub mod webhooks;
pub mod ws;

use std::collections::HashMap;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{ALLOW, HeaderValue, LOCATION};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, ResponseError, Route, web};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use self::error::ApiError;
use crate::domain::{Page, Scope};
use crate::state::AppState;

/// The whole API, in the order of the hosted API's endpoint table, then the web interface's
/// routes when `ui` is on. Each path is one resource; a
/// method it does not list is a 405 with `Allow`.
fn routes(cfg: &mut web::ServiceConfig, access: &mut RouteAccess, ui: bool) {
    use Method as M;
    cfg.service(resource(
        access,
        "/health",
        [(M::GET, PUBLIC, web::route().to(health::health))],
    ))
    .service(resource(
        access,
        "/ready",
        [(M::GET, PUBLIC, web::route().to(health::ready))],
    ))
    .service(resource(
        access,
        "/metrics",
        [(M::GET, PUBLIC, web::route().to(metrics::metrics))],
    ))
    .service(resource(
        access,
        "/inboxes",
        [
            (M::POST, MANAGE, web::route().to(inboxes::create)),
            (M::GET, READ, web::route().to(inboxes::list)),
        ],
    ))
    .service(resource(
        access,
        "/inboxes/{id}",
        [
            (M::GET, READ, web::route().to(inboxes::get)),
            (M::PATCH, MANAGE, web::route().to(inboxes::update)),
            (M::DELETE, MANAGE, web::route().to(inboxes::delete)),
        ],
    ))
    .service(resource(
        access,
        "/inboxes/{id}/messages",
        [
            (M::POST, SEND, web::route().to(messages::send)),
            (M::GET, READ, web::route().to(messages::list)),
        ],
    ))
    .service(resource(
        access,
        "/inboxes/{id}/drafts",
        [
            (M::POST, SEND, web::route().to(drafts::create)),
            (M::GET, READ, web::route().to(drafts::list)),
        ],
    ))
    .service(resource(
        access,
        "/inboxes/{id}/drafts/{draftId}",
        [
            (M::GET, READ, web::route().to(drafts::get_in_inbox)),
            (M::PATCH, SEND, web::route().to(drafts::update)),
            (M::DELETE, SEND, web::route().to(drafts::delete)),
        ],
    ))
    .service(resource(
        access,
        "/drafts/{id}",
        [(M::GET, READ, web::route().to(drafts::get))],
    ))
    .service(resource(
        access,
        "/drafts/{id}/send",
        [(M::POST, SEND, web::route().to(drafts::send))],
    ))
    .service(resource(
        access,
        "/drafts/{id}/approve",
        [(M::POST, APPROVE, web::route().to(drafts::approve))],
    ))
    .service(resource(
        access,
        "/inboxes/{id}/messages/wait",
        [(M::GET, READ, web::route().to(events::wait))],
    ))
    // Before `/messages/{id}`, which would take `search` for an id.
    .service(resource(
        access,
        "/messages/search",
        [(M::GET, READ, web::route().to(messages::search))],
    ))
    .service(resource(
        access,
        "/inboxes/{id}/lists/{list:allow|block}",
        [
            (M::GET, READ, web::route().to(sender_lists::list_inbox)),
            (M::POST, MANAGE, web::route().to(sender_lists::add_inbox)),
        ],
    ))
    .service(resource(
        access,
        "/inboxes/{id}/lists/{list:allow|block}/{entry}",
        [(
            M::DELETE,
            MANAGE,
            web::route().to(sender_lists::remove_inbox),
        )],
    ))
    .service(resource(
        access,
        "/messages/{id}",
        [
            (M::GET, READ, web::route().to(messages::get)),
            (M::PATCH, READ_MANAGE, web::route().to(messages::update)),
            (M::DELETE, MANAGE, web::route().to(messages::delete)),
        ],
    ))
    .service(resource(
        access,
        "/messages/{id}/raw",
        [(M::GET, READ, web::route().to(messages::raw))],
    ))
    .service(resource(
        access,
        "/messages/{id}/recipients",
        [(M::GET, READ, web::route().to(messages::recipients))],
    ))
    .service(resource(
        access,
        "/messages/{id}/reply",
        [(M::POST, SEND, web::route().to(reply::reply))],
    ))
    .service(resource(
        access,
        "/messages/{id}/forward",
        [(M::POST, READ_SEND, web::route().to(reply::forward))],
    ))
    .service(resource(
        access,
        "/inboxes/{id}/threads",
        [(M::GET, READ, web::route().to(threads::list))],
    ))
    .service(resource(
        access,
        "/threads/{id}",
        [
            (M::GET, READ, web::route().to(threads::get)),
            (M::PATCH, READ_MANAGE, web::route().to(threads::update)),
        ],
    ))
    .service(resource(
        access,
        "/threads/{id}/messages",
        [(M::GET, READ, web::route().to(threads::messages))],
    ))
    .service(resource(
        access,
        "/webhooks",
        [
            (M::POST, READ_MANAGE, web::route().to(webhooks::create)),
            (M::GET, READ, web::route().to(webhooks::list)),
        ],
    ))
    .service(resource(
        access,
        "/webhooks/{id}",
        [
            (M::GET, READ, web::route().to(webhooks::get)),
            (M::PUT, READ_MANAGE, web::route().to(webhooks::update)),
            (M::DELETE, MANAGE, web::route().to(webhooks::delete)),
        ],
    ))
    .service(resource(
        access,
        "/webhooks/{id}/deliveries",
        [(M::GET, READ, web::route().to(webhooks::deliveries))],
    ))
    .service(resource(
        access,
        "/webhooks/{id}/test",
        [(M::POST, MANAGE, web::route().to(webhooks::test))],
    ))
    .service(resource(
        access,
        "/events",
        [(M::GET, READ, web::route().to(events::stream))],
    ))
    .service(resource(
        access,
        "/ws",
        [(M::GET, READ, web::route().to(ws::connect))],
    ))
    .service(resource(
        access,
        "/mcp",
        [(M::POST, ANY_KEY, web::route().to(mcp::mcp))],
    ))
    .service(resource(
        access,
        "/_fixture/reset",
        [(M::POST, PUBLIC, web::route().to(fixture::reset))],
    ))
    .service(resource(
        access,
        "/_fixture/outbox",
        [(M::GET, PUBLIC, web::route().to(fixture::outbox))],
    ))
    .service(resource(
        access,
        "/domains",
        [
            (M::POST, MANAGE, web::route().to(domains::create)),
            (M::GET, READ, web::route().to(domains::list)),
        ],
    ))
    .service(resource(
        access,
        "/domains/{id}",
        [
            (M::GET, READ, web::route().to(domains::get)),
            (M::DELETE, MANAGE, web::route().to(domains::delete)),
        ],
    ))
    .service(resource(
        access,
        "/domains/{id}/verify",
        [(M::POST, MANAGE, web::route().to(domains::verify))],
    ))
    .service(resource(
        access,
        "/attachments",
        [(M::POST, SEND, web::route().to(attachments::upload))],
    ))
    .service(resource(
        access,
        "/attachments/{id}",
        [(M::GET, READ, web::route().to(attachments::get))],
    ))
    .service(resource(
        access,
        "/attachments/{id}/content",
        [(M::GET, READ, web::route().to(attachments::content))],
    ))
    .service(resource(
        access,
        "/attachments/{id}/download",
        [(M::GET, PUBLIC, web::route().to(attachments::download))],
    ))
    .service(resource(
        access,
        "/auth/auto-provision",
        [(M::POST, PUBLIC, web::route().to(sandbox::provision))],
    ))
    .service(resource(
        access,
        "/claim/{token}",
        [
            (M::GET, PUBLIC, web::route().to(sandbox::claim_page)),
            (M::POST, PUBLIC, web::route().to(sandbox::claim_submit)),
        ],
    ))
    .service(resource(
        access,
        "/account",
        [
            (M::GET, READ, web::route().to(account::get)),
            (M::PATCH, MANAGE, web::route().to(account::update)),
        ],
    ))
    .service(resource(
        access,
        "/account/api-keys",
        [
            (M::POST, MANAGE, web::route().to(account::create_key)),
            (M::GET, READ, web::route().to(account::list_keys)),
        ],
    ))
    .service(resource(
        access,
        "/account/api-keys/{id}",
        [(M::DELETE, MANAGE, web::route().to(account::revoke_key))],
    ))
    .service(resource(
        access,
        "/account/lists/{list:allow|block}",
        [
            (M::GET, READ, web::route().to(sender_lists::list_account)),
            (M::POST, MANAGE, web::route().to(sender_lists::add_account)),
        ],
    ))
    .service(resource(
        access,
        "/account/lists/{list:allow|block}/{entry}",
        [(
            M::DELETE,
            MANAGE,
            web::route().to(sender_lists::remove_account),
        )],
    ));
    // The web interface: its page at `/` and at its own addresses under `/ui/`, its files, and
    // the signed views of messages' HTML. Turned off, they are unknown routes.
    if !ui {
        return;
    }
    cfg.service(resource(
        access,
        "/",
        [
            (M::GET, PUBLIC, web::route().to(ui::index)),
            (M::HEAD, PUBLIC, web::route().to(ui::index)),
        ],
    ))
    .service(resource(
        access,
        "/ui/assets/{name}",
        [
            (M::GET, PUBLIC, web::route().to(ui::asset)),
            (M::HEAD, PUBLIC, web::route().to(ui::asset)),
        ],
    ))
    .service(resource(
        access,
        "/ui/frames",
        [(M::POST, READ, web::route().to(ui::create_view))],
    ))
    .service(resource(
        access,
        "/ui/frame/{id}",
        [(M::GET, PUBLIC, web::route().to(ui::view))],
    ))
    .service(resource(
        access,
        "/ui{rest:(/.*)?}",
        [
            (M::GET, PUBLIC, web::route().to(ui::index)),
            (M::HEAD, PUBLIC, web::route().to(ui::index)),
        ],
    ));
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a key.
    Public,
    /// A key with every one of these scopes (none: any valid key).
    Key(&'static [Scope]),
}

/// A route anyone may call.
const PUBLIC: Access = Access::Public;
/// A route for any valid key (the handler checks what each operation needs).
const ANY_KEY: Access = Access::Key(&[]);
/// A route for keys with the `read` scope.
const READ: Access = Access::Key(&[Scope::Read]);
/// A route for keys with the `send` scope.
const SEND: Access = Access::Key(&[Scope::Send]);
/// A route for keys with the `manage` scope.
const MANAGE: Access = Access::Key(&[Scope::Manage]);
/// A route for keys with the `approve` scope.
const APPROVE: Access = Access::Key(&[Scope::Approve]);
/// A send that passes on stored mail (a forward): `send` and `read`, or a send-only key could
/// read the account's mail by forwarding it to itself.
const READ_SEND: Access = Access::Key(&[Scope::Read, Scope::Send]);
/// `manage` and `read`: a webhook's target, as every event's data goes there, and labels,
/// whose answer is the message or thread itself.
const READ_MANAGE: Access = Access::Key(&[Scope::Read, Scope::Manage]);

/// Who may call each method of a resource, for the [`extract::Authenticated`] extractor.
#[derive(Debug, Clone)]
pub struct RouteScopes(Vec<(Method, Access)>);

impl RouteScopes {
    /// Who may call `method` here.
    pub fn of(&self, method: &Method) -> Option<Access> {
        self.0.iter().find(|(m, _)| m == method).map(|(_, a)| *a)
    }
}

/// Who may call each route, by path pattern: for middleware, which runs before routing (the
/// idempotency middleware must not replay an answer to a key that could not have asked).
#[derive(Debug, Clone, Default)]
pub struct RouteAccess(HashMap<String, RouteScopes>);

impl RouteAccess {
    /// Who may call the route `req` is for (`None`: no such route or method).
    pub fn of(&self, req: &ServiceRequest) -> Option<Access> {
        let pattern = req.resource_map().match_pattern(req.path())?;
        self.0.get(&pattern)?.of(req.method())
    }
}

/// A path with its methods and the scope each needs (also recorded in `access`); any other
/// method gets `405 METHOD_NOT_ALLOWED` and `Allow`.
fn resource<const N: usize>(
    access: &mut RouteAccess,
    path: &str,
    routes: [(Method, Access, Route); N],
) -> actix_web::Resource {
    let allow = routes
        .iter()
        .map(|(m, _, _)| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let scopes = RouteScopes(routes.iter().map(|(m, s, _)| (m.clone(), *s)).collect());
    access.0.insert(path.to_owned(), scopes.clone());
    let mut resource = web::resource(path).app_data(scopes);
    for (method, _, route) in routes {
        resource = resource.route(route.method(method));
    }
    resource.default_service(web::to(move || {
        let allow = allow.clone();
        async move {
            let mut res = ApiError::method_not_allowed().error_response();
            if let Ok(v) = HeaderValue::from_str(&allow) {
                res.headers_mut().insert(ALLOW, v);
            }
            res
        }
    }))
}

/// The application: state, error handlers for actix's own extractors, the route table, the
/// OpenAPI document and docs page, and the middleware (outermost first: request log, gate
/// (auth and rate limit), idempotency).
pub fn app(
    state: AppState,
    mcp: mcp::Transport,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let doc = openapi::document(&state.config);
    let ui = state.config.http.ui;
    let mcp = web::Data::new(mcp);
    let mut access = RouteAccess::default();
    App::new()
        .app_data(web::Data::new(state))
        .app_data(mcp)
        .app_data(web::PathConfig::default().error_handler(|_, _| {
            ApiError::invalid_field(
                "id",
                "must be a UUID such as 0b6b4c1e-6a55-4f5e-9d43-8c1a2b3c4d5e",
            )
            .into()
        }))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            ApiError::bad_request(format!("The query string is invalid: {e}")).into()
        }))
        .configure(|cfg| routes(cfg, &mut access, ui))
        // People type the docs address without its trailing slash.
        .service(resource(
            &mut access,
            "/docs",
            [(
                Method::GET,
                PUBLIC,
                web::route().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header((LOCATION, "/docs/"))
                        .finish()
                }),
            )],
        ))
        .service(
            SwaggerUi::new("/docs/{_:.*}")
                .external_urls_from_iter_unchecked([("/openapi.json", doc)]),
        )
        .default_service(web::to(|| async {
            ApiError::route_not_found().error_response()
        }))
        .app_data(web::Data::new(access))
        .wrap(from_fn(idempotency::idempotency))
        .wrap(from_fn(auth::gate))
        .wrap(from_fn(log::request_log))
}

/// A list response: `{data, total, nextCursor}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct List<T: ToSchema> {
    /// This page's items.
    data: Vec<T>,
    /// Items across all pages.
    total: u64,
    /// Pass as `cursor` to get the next page; `null` on the last page. Opaque. (An addition to
    /// the hosted API: cursor pages cost the same at any depth and do not shift when items
    /// are added.)
    next_cursor: Option<String>,
}

impl<T: ToSchema> From<Page<T>> for List<T> {
    fn from(p: Page<T>) -> Self {
        Self {
            data: p.data,
            total: p.total,
            next_cursor: p.next.map(|c| c.encode()),
        }
    }
}

/// Paging parameters, for the OpenAPI document (the [`extract::Paged`] extractor reads them).
#[derive(Debug, IntoParams)]
#[expect(
    dead_code,
    reason = "describes the query for the OpenAPI document only"
)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1–100 (default 20); anything else is `400 VALIDATION_ERROR`.
    #[param(minimum = 1, maximum = 100, default = 20)]
    limit: Option<u32>,
    /// Items to skip, 0 up to 2^63 − 1 (default 0); with `cursor`, counted from it.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_i64, default = 0)]
    offset: Option<u64>,
    /// The `nextCursor` of the previous page: this page starts right after the item it names
    /// (an addition to the hosted API; opaque to clients). Its pattern is
    /// [`crate::domain::Cursor::PATTERN`], added by [`openapi::document`].
    cursor: Option<String>,
}

/// A resource id in the path, for the OpenAPI document.
#[derive(Debug, IntoParams)]
#[expect(dead_code, reason = "describes the path for the OpenAPI document only")]
#[into_params(parameter_in = Path)]
pub struct IdParam {
    /// A UUID; anything else is `400 VALIDATION_ERROR`.
    #[param(format = Uuid)]
    id: String,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`) in PATCH bodies.
pub fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// An optional whole number, also when written with a zero fraction (`90.0`, which JSON Schema
/// counts as an integer too). Integers past `i64` saturate, so that the field's own range check
/// reports them.
pub fn whole_number<'de, D>(d: D) -> Result<Option<i64>, D::Error>
where
    D: Deserializer<'de>,
{
    let Some(n) = Option::<serde_json::Number>::deserialize(d)? else {
        return Ok(None);
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    if n.as_u64().is_some() {
        return Ok(Some(i64::MAX));
    }
    match n.as_f64() {
        // `as` saturates at the bounds of i64.
        Some(f) if f.is_finite() && f.fract() == 0.0 => Ok(Some(f as i64)),
        _ => Err(serde::de::Error::custom(format!(
            "invalid value: {n}, expected a whole number"
        ))),
    }
}
