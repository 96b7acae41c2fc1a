//! `GET /metrics`: Prometheus text exposition (see `crate::metrics`).

use actix_web::web::Data;
use actix_web::{HttpRequest, HttpResponse};

use super::error::{ApiError, ErrorBody};
use crate::metrics::{DatabaseSize, Snapshot};
use crate::state::AppState;
use crate::store::maintenance;

/// Marks the app of the metrics' own listener (`metrics.listen`).
#[derive(Debug, Clone, Copy)]
pub struct MetricsListener;

/// Prometheus metrics in the text exposition format. With `metrics.token` set it requires
/// `Authorization: Bearer <token>` (else `401`); without one it is served only on a loopback
/// API listener or on the metrics listener (else `404`, as when metrics are off or have a
/// listener of their own).
#[utoipa::path(get, path = "/metrics", tag = "System", operation_id = "metrics", security(()),
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain",
            body = String),
        (status = 401, description = "metrics.token is set and the request lacks it",
            body = ErrorBody),
        (status = 404, description = "Metrics are not served here", body = ErrorBody),
    ))]
pub async fn metrics(
    state: Data<AppState>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let config = &state.config.metrics;
    let own_listener = request.app_data::<Data<MetricsListener>>().is_some();
    let served_here = state.metrics.enabled()
        && (own_listener
            || (config.listen.is_empty()
                && (!config.token.is_empty() || state.config.http.listen.ip().is_loopback())));
    if !served_here {
        return Err(ApiError::route_not_found());
    }
    if !config.token.is_empty() && !super::auth::bearer_is(&request, &config.token) {
        return Err(ApiError::unauthorized());
    }
    let now = state.now();
    let (queues, reported) = state
        .store
        .read(move |db| {
            Ok((
                maintenance::queue_stats(db, now)?,
                maintenance::reported_size(db)?,
            ))
        })
        .await?;
    let snapshot = Snapshot {
        queues,
        subscribers: state.events.subscribers(),
        database: match reported {
            Some(bytes) => DatabaseSize::Reported(bytes),
            None => DatabaseSize::File(&state.config.database.path),
        },
        memory: (
            state.memory.in_use(),
            state.config.limits.max_buffered_bytes,
        ),
    };
    let text = state
        .metrics
        .render(now.as_millis(), &snapshot)
        .ok_or_else(ApiError::route_not_found)?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// The metrics' own listener: `/metrics` and nothing else (404 in the API's envelope).
pub fn app(
    state: AppState,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        actix_web::dev::ServiceRequest,
        Config = (),
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    use actix_web::{ResponseError, web};
    actix_web::App::new()
        .app_data(Data::new(state))
        .app_data(Data::new(MetricsListener))
        .route("/metrics", web::get().to(metrics))
        .default_service(web::to(|| async {
            ApiError::route_not_found().error_response()
        }))
}
