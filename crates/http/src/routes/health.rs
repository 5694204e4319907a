//! Liveness and readiness probes (outside the base path).

use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::{AppState, Problem};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up and serving.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers within two seconds; otherwise 503, so that a load balancer takes
/// this instance out of rotation.
async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.auth.accounts().store().ping()).await {
        Ok(Ok(())) => {
            Json(json!({ "status": "ready", "database": state.auth.accounts().store().backend() }))
                .into_response()
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Problem::service_unavailable().into_response()
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            Problem::service_unavailable().into_response()
        }
    }
}
