//! One log line per request: method, path (never the query string, which can carry signed
//! download links; nor the token of a claim link, which is the power to claim an account),
//! status and duration. Headers are never logged, so API keys cannot leak. The same figures
//! go to the metrics, by route template.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::web::Data;

use crate::state::AppState;

/// The middleware.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = loggable(req.path());
    let metrics = req
        .app_data::<Data<AppState>>()
        .map(|s| s.metrics.clone())
        .filter(|m| m.enabled());
    let res = next.call(req).await;
    let (status, route) = match &res {
        Ok(res) => (res.status(), res.request().match_pattern()),
        Err(e) => (e.as_response_error().status_code(), None),
    };
    if let Some(metrics) = metrics {
        metrics.http_request(
            route.as_deref(),
            method_label(&method),
            status.as_u16(),
            started.elapsed(),
        );
    }
    log::info!(
        target: "agentsend::http",
        "{method} {path} {} {:.1}ms",
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    res
}

/// A method as a metrics label: any other token a client makes up is "other", so that
/// clients cannot create series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Paths whose last part is a capability, with that part left out.
const SECRET_PATHS: [&str; 1] = ["/claim/"];

/// `path` as it may be logged.
fn loggable(path: &str) -> String {
    match SECRET_PATHS.iter().find(|p| path.starts_with(*p)) {
        Some(prefix) => format!("{prefix}[redacted]"),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_tokens_are_not_logged() {
        assert_eq!(loggable("/claim/abc123-secret"), "/claim/[redacted]");
        assert_eq!(loggable("/inboxes/1/messages"), "/inboxes/1/messages");
    }
}
