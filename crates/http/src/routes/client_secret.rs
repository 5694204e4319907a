//! The account's client secret: `GET {base}/client-secret`, `POST {base}/client-secret/rotate`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_core::ClientSecret;

use crate::auth::PasswordSession;
use crate::{AppState, Problem};

fn render(s: &ClientSecret) -> Response {
    let body =
        json!({ "secret": s.secret, "created_at": s.created_at, "expires_at": s.expires_at });
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

pub async fn show(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    Ok(render(
        &state.auth.client_secret(&auth.identity.user).await?,
    ))
}

pub async fn rotate(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    Ok(render(
        &state.auth.rotate_client_secret(&auth.identity.user).await?,
    ))
}
