//! `GET {base}/audit`: the caller's own security events of the last 30 days, newest first.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tessera_core::Timestamp;

use crate::auth::PasswordSession;
use crate::{AppState, Problem};

/// The caller's security events of the last 30 days, newest first (at most 200).
/// Password sessions only: a token must not reveal where and how the account is used.
#[utoipa::path(
    get,
    path = "/audit",
    tag = "audit",
    summary = "Your security events",
    security(("password_session" = [])),
    responses((status = 200, description = "The events", body = Vec<tessera_core::audit::AuditEvent>)),
)]
pub async fn list(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let since = Timestamp::now().minus(Duration::from_secs(30 * 86_400));
    let events = state
        .auth
        .accounts()
        .audit_events(Some(auth.identity.user.id), since, 200)
        .await?;
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(events)).into_response())
}
