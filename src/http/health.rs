//! `GET /health` (liveness) and `GET /ready` (readiness).

use std::collections::BTreeMap;

use actix_web::web::Data;
use actix_web::{HttpResponse, Responder, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorBody};
use crate::domain::{Timestamp, ValidationErrors};
use crate::http::error_code::ErrorCode;
use crate::state::AppState;
use crate::store::maintenance;

/// Health or readiness report.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthDto {
    #[schema(example = "ok")]
    status: &'static str,
    #[schema(value_type = String, format = DateTime)]
    timestamp: Timestamp,
    /// Each part of the server that was checked, with `ok`: the database and every running
    /// component (`http`, `smtp`, `sends`, `webhooks`, ...).
    #[schema(value_type = Object, example = json!({"database": "ok", "http": "ok", "smtp": "ok"}))]
    components: BTreeMap<&'static str, &'static str>,
}

/// Liveness: the database answers reads, its writer runs, and so does every supervised
/// component (listeners and workers). Otherwise `503`, with the components that are down in
/// `details` (`{"smtp": ["stopped"]}`): the process should be restarted.
#[utoipa::path(get, path = "/health", tag = "System", operation_id = "health", security(()),
    responses(
        (status = 200, description = "Healthy", body = HealthDto),
        (status = 503, description = "The database is not reachable or a component has stopped",
            body = ErrorBody),
    ))]
pub async fn health(state: Data<AppState>) -> impl Responder {
    let mut report = Report::of_components(&state);
    if !state.store.writer_alive() {
        report.down("database", "the writer thread has stopped");
    } else if let Err(e) = state.store.read(maintenance::ping).await {
        log::error!("health check failed: {e}");
        report.down("database", "not reachable");
    } else {
        report.up("database");
    }
    report.answer(&state, "ok", "Not healthy")
}

/// Readiness, for a load balancer or an orchestrator deciding whether to send traffic: every
/// listener and worker has started and runs, the schema is at this build's version, and the
/// database takes a write. Otherwise `503` naming what is not ready in `details`.
#[utoipa::path(get, path = "/ready", tag = "System", operation_id = "ready", security(()),
    responses(
        (status = 200, description = "Ready to serve", body = HealthDto),
        (status = 503, description = "Still starting, or a part is not working", body = ErrorBody),
    ))]
pub async fn ready(state: Data<AppState>) -> impl Responder {
    let mut report = Report::of_components(&state);
    for name in ["http", "smtp", "sends", "webhooks", "janitor", "database"] {
        if !report.components.contains_key(name) && !report.problems.fields().contains_key(name) {
            report.down(name, "not started yet");
        }
    }
    let now = state.now();
    // One trip: the write proves the database takes writes, and reads the schema version.
    let version = state
        .store
        .write(move |tx| {
            maintenance::probe_write(tx, now)?;
            maintenance::schema_version(tx)
        })
        .await;
    match version {
        Ok(v) if v == maintenance::supported_schema_version() => report.up("database"),
        Ok(v) => report.down(
            "database",
            &format!(
                "schema version {v}, this build needs {}",
                maintenance::supported_schema_version()
            ),
        ),
        Err(e) => {
            log::error!("readiness check failed: {e}");
            report.down("database", "does not take writes");
        }
    }
    report.answer(&state, "ready", "Not ready")
}

/// What a check found, part by part.
struct Report {
    components: BTreeMap<&'static str, &'static str>,
    problems: ValidationErrors,
}

impl Report {
    /// The supervised components: the running ones `ok`, the stopped ones down.
    fn of_components(state: &AppState) -> Self {
        let mut report = Report {
            components: BTreeMap::new(),
            problems: ValidationErrors::new(),
        };
        for (name, running) in state.components.statuses() {
            if running {
                report.up(name);
            } else {
                report.down(name, "stopped");
            }
        }
        report
    }

    fn up(&mut self, name: &'static str) {
        if !self.problems.fields().contains_key(name) {
            self.components.insert(name, "ok");
        }
    }

    fn down(&mut self, name: &'static str, why: &str) {
        self.components.remove(name);
        self.problems.add(name, why);
    }

    fn answer(self, state: &AppState, status: &'static str, failing: &str) -> HttpResponse {
        if self.problems.is_empty() {
            return HttpResponse::Ok().json(HealthDto {
                status,
                timestamp: state.now(),
                components: self.components,
            });
        }
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            format!("{failing}: {}.", self.problems.summary()),
        )
        .with_details(self.problems)
        .error_response()
    }
}
