//! API key/secret pairs: `GET`/`POST {base}/apikeys`, `DELETE {base}/apikeys/{id}`,
//! `POST {base}/apikeys/{id}/disable` and `/enable`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json_body::JsonBody;
use super::tokens::Scopes;
use crate::auth::PasswordSession;
use crate::{AppState, Problem};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    name: String,
    #[serde(default)]
    scopes: Option<Scopes>,
}

pub async fn list(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let keys = state.auth.list_api_keys(&auth.identity.user).await?;
    let body: Vec<Value> = keys
        .iter()
        .map(|k| {
            json!({
                "id": k.id,
                "name": k.name,
                "api_key": k.id,
                "scopes": k.scopes,
                "created_at": k.created_at,
                "last_used_at": k.last_used_at,
                "disabled_at": k.disabled_at,
            })
        })
        .collect();
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// The secret is in this answer and nowhere else, ever.
pub async fn create(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
    JsonBody(req): JsonBody<NewKey>,
) -> Result<Response, Problem> {
    let id = &auth.identity;
    let (key, secret) = state
        .auth
        .create_api_key(
            &id.user,
            &id.permissions,
            &req.name,
            req.scopes.map(Scopes::into_vec),
        )
        .await?;
    let body = json!({
        "id": key.id,
        "name": key.name,
        "api_key": key.id,
        "api_secret": secret.expose(),
        "scopes": key.scopes,
        "created_at": key.created_at,
    });
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    crate::params::Id(key_id): crate::params::Id,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    if !state
        .auth
        .delete_api_key(&auth.identity.user, &key_id)
        .await?
    {
        return Err(Problem::not_found().with_detail("no such API key"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST {base}/apikeys/{id}/disable`: the key's tokens end and its exchange is refused
/// until it is enabled again (204).
pub async fn disable(
    state: State<AppState>,
    id: crate::params::Id,
    auth: PasswordSession,
) -> Result<Response, Problem> {
    set_disabled(state, id, auth, true).await
}

/// `POST {base}/apikeys/{id}/enable` (204).
pub async fn enable(
    state: State<AppState>,
    id: crate::params::Id,
    auth: PasswordSession,
) -> Result<Response, Problem> {
    set_disabled(state, id, auth, false).await
}

async fn set_disabled(
    State(state): State<AppState>,
    crate::params::Id(key_id): crate::params::Id,
    PasswordSession(auth): PasswordSession,
    disabled: bool,
) -> Result<Response, Problem> {
    if !state
        .auth
        .set_api_key_disabled(&auth.identity.user, &key_id, disabled)
        .await?
    {
        return Err(Problem::not_found().with_detail("no such API key"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
