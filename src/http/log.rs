//! One log line per request: method, path (never the query string, which can carry signed
//! download links; nor the token of a claim link, which is the power to claim an account),
//! status and duration. Headers are never logged, so API keys cannot leak.

use std::time::Instant;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;

/// The middleware.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = loggable(req.path());
    let res = next.call(req).await;
    let status = match &res {
        Ok(res) => res.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    log::info!(
        target: "agentsend::http",
        "{method} {path} {} {:.1}ms",
        status.as_u16(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    res
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
