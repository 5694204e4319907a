//! API key/secret pairs: `GET`/`POST {base}/apikeys`, `DELETE {base}/apikeys/{id}`,
//! `POST {base}/apikeys/{id}/disable` and `/enable`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::Timestamp;

use super::json_body::JsonBody;
use super::tokens::Scopes;
use crate::auth::PasswordSession;
use crate::{AppState, Problem};

/// A new API key/secret pair.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewKey {
    /// What the key is for, shown in lists.
    #[schema(examples("billing sync"))]
    name: String,
    #[serde(default)]
    #[schema(required = false)]
    scopes: Option<Scopes>,
}

/// An API key as listed: never its secret.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct KeyListed {
    /// The key's id, which is also the API key itself.
    id: String,
    name: String,
    /// The API key to send to `POST {base}/login/key` (same as `id`).
    api_key: String,
    /// The permissions its tokens are limited to; null: all of the owner's.
    scopes: Option<Vec<String>>,
    created_at: Timestamp,
    last_used_at: Option<Timestamp>,
    /// When it was disabled; null while it works.
    disabled_at: Option<Timestamp>,
}

/// A key just created: its secret is in this answer and nowhere else, ever.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct KeyCreated {
    id: String,
    name: String,
    api_key: String,
    /// The secret (`tsx_...`), shown once.
    api_secret: String,
    scopes: Option<Vec<String>>,
    created_at: Timestamp,
}

/// The caller's API keys.
#[utoipa::path(
    get,
    path = "/apikeys",
    tag = "credentials",
    summary = "List your API keys",
    security(("password_session" = [])),
    responses((status = 200, description = "The keys, never their secrets", body = Vec<KeyListed>)),
)]
pub async fn list(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let keys = state.auth.list_api_keys(&auth.identity.user).await?;
    let body: Vec<KeyListed> = keys
        .into_iter()
        .map(|k| KeyListed {
            api_key: k.id.clone(),
            id: k.id,
            name: k.name,
            scopes: k.scopes,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            disabled_at: k.disabled_at,
        })
        .collect();
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// Creates an API key/secret pair, to exchange for short-lived tokens at
/// `POST {base}/login/key`. The secret is in this answer and nowhere else, ever.
#[utoipa::path(
    post,
    path = "/apikeys",
    tag = "credentials",
    summary = "Create an API key",
    security(("password_session" = [])),
    request_body = NewKey,
    responses(
        (status = 201, description = "The key and its secret, shown once", body = KeyCreated),
        (status = 400, description = "A field is missing or refused (`validation_failed`), or a scope is not the caller's (`invalid_scope`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    let body = KeyCreated {
        api_key: key.id.clone(),
        id: key.id,
        name: key.name,
        api_secret: secret.expose().to_owned(),
        scopes: key.scopes,
        created_at: key.created_at,
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

/// Deletes a key: its tokens fail at once.
#[utoipa::path(
    delete,
    path = "/apikeys/{id}",
    tag = "credentials",
    summary = "Delete an API key",
    security(("password_session" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Done"),
        (status = 404, description = "The caller has no such key (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/apikeys/{id}/disable",
    tag = "credentials",
    summary = "Disable an API key",
    security(("password_session" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Done"),
        (status = 404, description = "The caller has no such key (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn disable(
    state: State<AppState>,
    id: crate::params::Id,
    auth: PasswordSession,
) -> Result<Response, Problem> {
    set_disabled(state, id, auth, true).await
}

/// `POST {base}/apikeys/{id}/enable` (204).
#[utoipa::path(
    post,
    path = "/apikeys/{id}/enable",
    tag = "credentials",
    summary = "Enable an API key again",
    security(("password_session" = [])),
    params(("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Done"),
        (status = 404, description = "The caller has no such key (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
