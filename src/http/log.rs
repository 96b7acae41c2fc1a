//! One log line per request: method, path (never the query string, which can carry signed
//! download links), status and duration. Headers are never logged, so API keys cannot leak.

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
    let path = req.path().to_owned();
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
