//! `GET /health`.

use crate::http::error_code::ErrorCode;
use actix_web::web::Data;
use actix_web::{HttpResponse, Responder, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use crate::domain::{Timestamp, ValidationErrors};
use crate::state::AppState;
use crate::store::maintenance;

/// Health report.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    #[schema(example = "ok")]
    status: &'static str,
    #[schema(value_type = String, format = DateTime)]
    timestamp: Timestamp,
}

/// Health check: the database answers reads, its writer runs, and so does every supervised
/// component (listeners and workers). Otherwise `503`, with the components that are down in
/// `details` (`{"smtp": ["stopped"]}`).
#[utoipa::path(get, path = "/health", tag = "System", operation_id = "health", security(()),
    responses(
        (status = 200, description = "Healthy", body = HealthDto),
        (status = 503, description = "The database is not reachable or a component has stopped",
            body = ErrorBody),
    ))]
pub async fn health(state: Data<AppState>) -> impl Responder {
    let mut down = ValidationErrors::new();
    for name in state.components.down() {
        down.add(name, "stopped");
    }
    if !state.store.writer_alive() {
        down.add("database", "the writer thread has stopped");
    } else if let Err(e) = state.store.read(maintenance::ping).await {
        log::error!("health check failed: {e}");
        down.add("database", "not reachable");
    }
    if down.is_empty() {
        return HttpResponse::Ok().json(HealthDto {
            status: "ok",
            timestamp: state.now(),
        });
    }
    ApiError::new(
        ErrorCode::ServiceUnavailable,
        format!("Not healthy: {}.", down.summary()),
    )
    .with_details(down)
    .error_response()
}
