//! `GET /health`.

use actix_web::http::StatusCode;
use actix_web::web::Data;
use actix_web::{HttpResponse, Responder, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use crate::domain::Timestamp;
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

/// Health check: the database answers reads and its writer is running.
#[utoipa::path(get, path = "/health", tag = "System", security(()),
    responses(
        (status = 200, description = "Healthy", body = HealthDto),
        (status = 503, description = "The database is not reachable", body = ErrorBody),
    ))]
pub async fn health(state: Data<AppState>) -> impl Responder {
    let checked = if state.store.writer_alive() {
        state.store.read(maintenance::ping).await
    } else {
        Err(crate::store::StoreError::Task(
            "the writer thread has stopped".to_owned(),
        ))
    };
    match checked {
        Ok(()) => HttpResponse::Ok().json(HealthDto {
            status: "ok",
            timestamp: state.now(),
        }),
        Err(e) => {
            log::error!("health check failed: {e}");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "The database is not reachable.",
            )
            .error_response()
        }
    }
}
