//! The account's client secret: `GET {base}/client-secret`, `POST {base}/client-secret/rotate`.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tessera_core::{ClientSecret, Timestamp};

use crate::auth::PasswordSession;
use crate::{AppState, Problem};

/// The account's client secret.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SecretBody<'a> {
    /// The secret (`tsc_...`), for `Authorization: Secret` and the OAuth2 client
    /// credentials grant.
    secret: &'a str,
    created_at: Timestamp,
    /// When it stops working (`tokens.client_secret_lifetime` after its creation).
    expires_at: Timestamp,
}

fn render(s: &ClientSecret) -> Response {
    let body = SecretBody {
        secret: &s.secret,
        created_at: s.created_at,
        expires_at: s.expires_at,
    };
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// Shows the account's client secret, creating it on first use.
#[utoipa::path(
    get,
    path = "/client-secret",
    tag = "credentials",
    summary = "Show your client secret",
    security(("password_session" = [])),
    responses((status = 200, description = "The secret", body = SecretBody)),
)]
pub async fn show(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    Ok(render(
        &state.auth.client_secret(&auth.identity.user).await?,
    ))
}

/// Replaces the client secret: the old one, and the access tokens issued for it, fail
/// at once.
#[utoipa::path(
    post,
    path = "/client-secret/rotate",
    tag = "credentials",
    summary = "Rotate your client secret",
    security(("password_session" = [])),
    responses((status = 200, description = "The new secret", body = SecretBody)),
)]
pub async fn rotate(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    Ok(render(
        &state.auth.rotate_client_secret(&auth.identity.user).await?,
    ))
}
