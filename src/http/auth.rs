//! The gate every request passes: API-key authentication and rate limiting.
//! It puts the request's [`Credential`] into the request for the
//! [`super::extract::Authenticated`] extractor; whether a route needs one is the route's
//! business, so public routes simply ignore it.
//!
//! With rate limiting on, the key is verified and the request counted in one write (the
//! bucket is the account, or the client's IP address without a valid key), and the verified
//! credential is passed on. That makes every request a write while limiting is on: the price
//! of counters that live in the database; README's performance section has its
//! measured cost. With it off, the gate does not touch the database: the key is
//! verified by the handler's own database call.

use std::net::IpAddr;
use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ConnectionInfo, ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::middleware::Next;
use actix_web::web::Data;
use actix_web::{Error, HttpMessage, ResponseError};

use super::conn::{self, BodyDeadline};
use super::error::ApiError;
use super::rate_limit::{Standing, Window};
use crate::domain::{ApiKeySecret, Credential};
use crate::state::AppState;
use crate::store::{accounts, rate_limits};

/// The token of an `Authorization: Bearer <token>` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Whether the request carries `Authorization: Bearer <token>` with exactly this token (a
/// fixture's or the metrics' token, not an API key), compared in constant time.
pub(super) fn bearer_is(request: &actix_web::HttpRequest, token: &str) -> bool {
    let presented = bearer(request.headers()).unwrap_or("");
    let (a, b) = (presented.as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The key a client presented: `Authorization: Bearer <key>` or `x-api-key: <key>`. A value
/// without the key format is treated as no valid key (it could never match).
fn presented_key(headers: &HeaderMap) -> Option<ApiKeySecret> {
    let raw = bearer(headers).or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    })?;
    ApiKeySecret::parse(raw)
}

/// Paths that also take the key as `?api_key=`: the event streams, whose browser clients
/// (`EventSource`, `WebSocket`) cannot set headers. The request log never writes query
/// strings, so the key does not end up in logs.
const QUERY_KEY_PATHS: [&str; 2] = ["/events", "/ws"];

/// The key in `?api_key=`, on the paths that take one.
fn query_key(path: &str, query: &str) -> Option<ApiKeySecret> {
    if !QUERY_KEY_PATHS.contains(&path) {
        return None;
    }
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "api_key")
        .and_then(|(_, v)| ApiKeySecret::parse(v.trim()))
}

/// The client's address (from proxy headers only when configured to trust them), which keys
/// the rate limits of unauthenticated requests.
pub fn client_ip(info: &ConnectionInfo, trust_proxy_headers: bool) -> String {
    let addr = if trust_proxy_headers {
        info.realip_remote_addr()
    } else {
        info.peer_addr()
    };
    // Strip a port, keep the address; an unparseable value still keys its own bucket.
    addr.map(|a| {
        a.parse::<std::net::SocketAddr>()
            .map(|s| s.ip())
            .or_else(|_| a.parse::<IpAddr>())
            .map_or_else(|_| a.to_owned(), |ip| ip.to_string())
    })
    .unwrap_or_else(|| "unknown".to_owned())
}

/// The middleware.
pub async fn gate(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let Some(state) = req.app_data::<Data<AppState>>().cloned() else {
        return Ok(
            req.into_response(ApiError::internal("application state missing").error_response())
        );
    };
    let key = presented_key(req.headers()).or_else(|| query_key(req.path(), req.query_string()));
    let limit = state.config.limits.rate_limit;
    let now = state.now();
    let window = Window::containing(now, state.config.limits.rate_limit_window_secs);
    let ip = client_ip(
        &req.connection_info(),
        state.config.http.trust_proxy_headers,
    );

    let (credential, standing) = if limit == 0 {
        (key.map(Credential::Presented), None)
    } else {
        let counted = state
            .store
            .write(move |tx| {
                let who = match key {
                    Some(key) => accounts::verify_and_touch(tx, &Credential::Presented(key), now)?,
                    None => None,
                };
                let bucket = match &who {
                    Some(who) => format!("account:{}", who.account_id),
                    None => format!("ip:{ip}"),
                };
                let count = rate_limits::hit(tx, &bucket, window.start)?;
                let credential = who.map(Credential::Verified);
                Ok((
                    credential,
                    Some(Standing {
                        limit,
                        count,
                        window,
                    }),
                ))
            })
            .await;
        match counted {
            Ok(v) => v,
            Err(e) => return Ok(req.into_response(ApiError::from(e).error_response())),
        }
    };

    if let Some(standing) = standing.filter(Standing::exceeded) {
        let mut res = ApiError::rate_limited(standing.window.retry_after(now)).error_response();
        standing.apply(res.headers_mut());
        return Ok(req.into_response(res));
    }
    // A body gets its time from here, when the head has been read; a client without a
    // verified key gets little.
    let http = &state.config.http;
    let grace = match &credential {
        Some(Credential::Verified(_)) => http.body_timeout_secs,
        _ => http.unauthenticated_body_timeout_secs,
    };
    conn::limit_body(
        &mut req,
        BodyDeadline {
            grace: Duration::from_secs(grace),
            min_rate: http.min_body_rate,
        },
    );
    if let Some(credential) = credential {
        req.extensions_mut().insert(credential);
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if let Some(standing) = standing {
        standing.apply(res.headers_mut());
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn keys_come_from_bearer_or_x_api_key() {
        let key = ApiKeySecret::generate();
        let k = key.expose();
        assert_eq!(
            presented_key(&headers(&[("authorization", &format!("Bearer {k}"))])),
            Some(key.clone())
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", &format!("bearer  {k} "))])),
            Some(key.clone())
        );
        assert_eq!(
            presented_key(&headers(&[("x-api-key", k)])),
            Some(key.clone())
        );
        assert_eq!(
            presented_key(&headers(&[("authorization", &format!("Basic {k}"))])),
            None
        );
        assert_eq!(presented_key(&headers(&[("x-api-key", "ask_short")])), None);
        assert_eq!(presented_key(&headers(&[])), None);
        let query = format!("types=message.sent&api_key={k}");
        assert_eq!(query_key("/events", &query), Some(key.clone()));
        assert_eq!(query_key("/ws", &query), Some(key));
        assert_eq!(query_key("/inboxes", &query), None);
    }
}
