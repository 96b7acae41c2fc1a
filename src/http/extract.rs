//! Request extractors that report every failure in the error envelope: JSON bodies, paging
//! parameters and the authenticated account.

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderMap};
use actix_web::web::{Bytes, BytesMut, Data};
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::StreamExt;
use futures_util::future::{LocalBoxFuture, Ready, ready};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::{Access, RouteScopes};
use crate::budget::{JSON_PEAK_FACTOR, Reservation};
use crate::domain::{Caller, Credential, Paging, ValidationErrors};
use crate::state::AppState;

/// A JSON object body deserialized into `T`. Unlike actix's `Json`: an empty body counts as
/// `{}` (every field of our request bodies is optional or checked by name), anything but an
/// object is refused (serde would accept an array for a struct), type errors name the field,
/// and every failure is an [`ApiError`].
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T> ApiJson<T> {
    /// The body.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        // The JSON limit whatever the declared content type: a JSON route is not a way to
        // send an 11 MiB body by claiming it is multipart.
        let limit = req
            .app_data::<Data<AppState>>()
            .map_or(DEFAULT_JSON_LIMIT, |s| s.config.http.json_body_limit);
        let declared_json = is_json(req.headers());
        let declared_len = content_length(req.headers());
        let payload = payload.take();
        // Held while the body is read and parsed: the bytes, the tree and the typed value.
        let mut reserved = req
            .app_data::<Data<AppState>>()
            .map(|s| s.memory.reservation());
        Box::pin(async move {
            let memory = reserved.as_mut().map(|r| (r, JSON_PEAK_FACTOR));
            let body = read_body(payload, declared_len, limit, memory).await?;
            // An empty body is an empty object; only JSON's own whitespace counts as empty
            // (a form feed, which Rust calls whitespace, is not JSON and is refused below).
            if body
                .iter()
                .all(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            {
                return parse_object(serde_json::Value::Object(Default::default())).map(ApiJson);
            }
            if !declared_json {
                return Err(ApiError::unsupported_media_type("application/json"));
            }
            let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
                ApiError::bad_request(format!("The request body is not valid JSON: {e}"))
            })?;
            parse_object(value).map(ApiJson)
        })
    }
}

fn parse_object<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object.",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." {
            "body".to_owned()
        } else {
            field
        };
        ApiError::validation(ValidationErrors::single(&field, e.into_inner().to_string()))
    })
}

/// The declared content type without parameters, lower-cased (`""` when there is none).
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether the declared content type is `essence` (lower-case), parameters ignored.
pub fn media_type_is(headers: &HeaderMap, essence: &str) -> bool {
    media_type(headers) == essence
}

/// `application/json` or any `+json` type, parameters ignored.
fn is_json(headers: &HeaderMap) -> bool {
    let essence = media_type(headers);
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Whether the body is multipart (for choosing the body limit).
pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/")
        })
}

/// The declared `Content-Length`, if any.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

const DEFAULT_JSON_LIMIT: usize = 4 * 1024 * 1024;

/// The body limit for a request whose route is not known yet (the idempotency middleware):
/// multipart or JSON by content type. The route's own extractor applies its limit.
pub fn body_limit(req: &HttpRequest) -> usize {
    let Some(state) = req.app_data::<Data<AppState>>() else {
        return DEFAULT_JSON_LIMIT;
    };
    if is_multipart(req.headers()) {
        state.config.http.multipart_body_limit
    } else {
        state.config.http.json_body_limit
    }
}

/// Reads a whole body, refusing (without reading further) one longer than `limit`. With
/// `memory`, the body counts `factor` times its size against the memory budget as it grows
/// (see [`crate::budget`]): past the budget, `503 SERVER_BUSY`.
pub async fn read_body(
    mut payload: Payload,
    declared_len: Option<u64>,
    limit: usize,
    mut memory: Option<(&mut Reservation, usize)>,
) -> Result<Bytes, ApiError> {
    if declared_len.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::payload_too_large(limit));
    }
    // Trust a declared length only so far: the bytes have not arrived yet.
    let initial = declared_len.map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    let mut body = BytesMut::with_capacity(initial.min(limit).min(64 * 1024));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            if super::conn::is_timeout(&e) {
                return ApiError::request_timeout();
            }
            log::debug!("reading request body failed: {e}");
            ApiError::bad_request("The request body could not be read.")
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
        if let Some((reserved, factor)) = memory.as_mut()
            && !reserved.grow_to(body.capacity() + (*factor - 1) * body.len())
        {
            return Err(ApiError::busy());
        }
    }
    Ok(body.freeze())
}

/// `limit`, `offset` and `cursor` from the query string, validated; other parameters are
/// left to other extractors.
#[derive(Debug, Clone, Copy)]
pub struct Paged(pub Paging);

#[derive(serde::Deserialize)]
struct RawPaging {
    limit: Option<String>,
    offset: Option<String>,
    cursor: Option<String>,
}

impl FromRequest for Paged {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_paging(req.query_string()))
    }
}

fn parse_paging(query: &str) -> Result<Paged, ApiError> {
    let raw: RawPaging = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request(format!("The query string is invalid: {e}")))?;
    paging(
        raw.limit.as_deref(),
        raw.offset.as_deref(),
        raw.cursor.as_deref(),
    )
    .map(Paged)
}

/// Paging from its parameters as given (`limit`, `offset`, `cursor`), each checked.
pub fn paging(
    limit: Option<&str>,
    offset: Option<&str>,
    cursor: Option<&str>,
) -> Result<Paging, ApiError> {
    let mut errors = ValidationErrors::new();
    let limit = errors.check("limit", Paging::parse_limit(limit));
    let offset = errors.check("offset", Paging::parse_offset(offset));
    let cursor = errors.check("cursor", Paging::parse_cursor(cursor));
    match (limit, offset, cursor) {
        (Some(limit), Some(offset), Some(Some(cursor))) => Ok(Paging::after(limit, offset, cursor)),
        (Some(limit), Some(offset), Some(None)) => Ok(Paging::new(limit, offset)),
        _ => Err(ApiError::validation(errors)),
    }
}

/// The credential of a request that presented a well-formed API key. The gate middleware
/// ([`super::auth`]) finds it; its absence is a `401` here, before any other check (list this
/// extractor first in a handler's arguments). A key that is merely well-formed is verified by
/// the handler's own database call ([`crate::store::Store::read_as`] / `write_as`), so that an
/// authenticated read costs one trip to the database, not two.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(credential) = req.extensions().get::<Credential>().cloned() else {
            return ready(Err(ApiError::unauthorized()));
        };
        // A route the table gives no scopes to is a mistake: refused, not open.
        let access = req
            .app_data::<RouteScopes>()
            .and_then(|scopes| scopes.of(req.method()));
        ready(match access {
            Some(Access::Key(needs)) => Ok(Authenticated(Caller { credential, needs })),
            Some(Access::Public) | None => Err(ApiError::internal(format!(
                "{} {} takes a key but names no scopes",
                req.method(),
                req.match_pattern().unwrap_or_default()
            ))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_errors_name_each_bad_parameter() {
        assert!(parse_paging("").is_ok());
        assert!(parse_paging("limit=100&offset=5&status=sent").is_ok());
        let e = parse_paging("limit=0&offset=-1").unwrap_err();
        assert_eq!(e.code(), "VALIDATION_ERROR");
        assert!(e.to_string().contains("limit"));
        let e = parse_paging("cursor=nonsense").unwrap_err();
        assert!(e.to_string().contains("cursor"), "{e}");
        let cursor = crate::domain::Cursor { key: 5, row: 6 }.encode();
        let Ok(Paged(paging)) = parse_paging(&format!("limit=3&cursor={cursor}")) else {
            panic!("a cursor from this server is accepted");
        };
        assert_eq!(
            paging.cursor(),
            Some(crate::domain::Cursor { key: 5, row: 6 })
        );
        let Ok(Paged(paging)) = parse_paging(&format!("offset=4&cursor={cursor}")) else {
            panic!("an offset counts from the cursor");
        };
        assert_eq!(paging.offset(), 4);
    }
}
