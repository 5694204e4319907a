//! Liveness and readiness probes, and the OAuth 2.0 authorization server metadata
//! (RFC 8414), outside the base path.

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
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route(
            "/.well-known/oauth-authorization-server/{*issuer_path}",
            get(metadata),
        )
}

/// RFC 8414 metadata, so that OAuth2 libraries find the token, introspection and
/// revocation endpoints: the issuer is this server's origin and base path (the document
/// is also at `/.well-known/oauth-authorization-server{base}`, where RFC 8414 puts it
/// for an issuer with a path).
#[utoipa::path(
    get,
    path = "/.well-known/oauth-authorization-server",
    tag = "meta",
    summary = "OAuth 2.0 authorization server metadata (RFC 8414)",
    description = "Also at `/.well-known/oauth-authorization-server{base}`.",
    responses((status = 200, description = "The metadata", body = Object)),
)]
pub(super) async fn metadata(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Response {
    let (parts, _) = req.into_parts();
    let origin = crate::context::contexts(&parts)
        .map(|(c, _)| c.own_origin.clone())
        .unwrap_or_default();
    let issuer = format!("{origin}{}", state.settings.base_path);
    let body = json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/oauth/token"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    });
    Json(body).into_response()
}

/// The process is up and serving.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    summary = "Liveness",
    responses((status = 200, description = "`{\"status\": \"ok\"}`", body = Object)),
)]
pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database answers within two seconds; otherwise 503, so that a load balancer takes
/// this instance out of rotation.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    summary = "Readiness",
    responses((status = 200, description = "`{\"status\": \"ready\", \"database\": \"sqlite\"}`", body = Object)),
)]
pub(super) async fn readyz(State(state): State<AppState>) -> Response {
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
