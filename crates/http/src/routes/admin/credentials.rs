//! A user's sessions and credentials: list, end or revoke one or all.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_core::credential::{ApiKey, PersonalToken};
use tessera_core::permission::{SESSIONS_WRITE, USERS_READ};
use tessera_core::store::Owned;

use super::{allowed, no_store};
use crate::auth::Authenticated;
use crate::params::{Id, Pair};
use crate::routes::session::SessionListed;
use crate::{AppState, Problem};

/// How many sessions ended.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Ended {
    ended: u64,
}

/// How many credentials were revoked.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Revoked {
    revoked: u64,
}

/// `GET {base}/admin/users/{login}/sessions` (`tessera:users:read`): the user's open
/// sessions, newest first (never a token).
#[utoipa::path(
    get,
    path = "/admin/users/{login}/sessions",
    tag = "admin",
    summary = "List a user's sessions",
    security(("signed_in" = ["tessera:users:read"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "The open sessions, newest first (never a token)", body = Vec<SessionListed>),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list_sessions(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let sessions = state.auth.admin_sessions(&login).await?;
    let body: Vec<SessionListed> = sessions.iter().map(SessionListed::of).collect();
    Ok(no_store(body))
}

/// `DELETE {base}/admin/users/{login}/sessions` (`tessera:sessions:write`): ends every
/// session of the user; `{"ended": N}`.
#[utoipa::path(
    delete,
    path = "/admin/users/{login}/sessions",
    tag = "admin",
    summary = "End a user's sessions",
    security(("signed_in" = ["tessera:sessions:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "How many ended", body = Ended),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn end_sessions(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    let auth = allowed(auth, SESSIONS_WRITE)?;
    let ended = state
        .auth
        .admin_end_sessions(&auth.identity, &login, None)
        .await?;
    Ok(no_store(Ended { ended }))
}

/// `DELETE {base}/admin/users/{login}/sessions/{id}` (`tessera:sessions:write`): 204, or
/// 404 when it is not one of the user's open sessions.
#[utoipa::path(
    delete,
    path = "/admin/users/{login}/sessions/{id}",
    tag = "admin",
    summary = "End a session of a user",
    security(("signed_in" = ["tessera:sessions:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice"), ("id" = String, Path, description = "The session's id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 404, description = "No such user, or no such open session of theirs (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn end_session(
    State(state): State<AppState>,
    Pair(login, id): Pair,
    auth: Authenticated,
) -> Result<Response, Problem> {
    let auth = allowed(auth, SESSIONS_WRITE)?;
    let ended = state
        .auth
        .admin_end_sessions(&auth.identity, &login, Some(&id))
        .await?;
    if ended == 0 {
        return Err(Problem::not_found().with_detail("no such open session of this user"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET {base}/admin/users/{login}/tokens` (`tessera:users:read`): the user's personal
/// access tokens (expired ones included), newest first; never a token's value.
#[utoipa::path(
    get,
    path = "/admin/users/{login}/tokens",
    tag = "admin",
    summary = "List a user's personal access tokens",
    security(("signed_in" = ["tessera:users:read"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "The tokens (expired ones included), newest first; never a value", body = Vec<PersonalToken>),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let (_, tokens, _) = state.auth.admin_credentials(&login).await?;
    Ok(no_store(tokens))
}

/// `GET {base}/admin/users/{login}/apikeys` (`tessera:users:read`): the user's API keys,
/// newest first; never a secret.
#[utoipa::path(
    get,
    path = "/admin/users/{login}/apikeys",
    tag = "admin",
    summary = "List a user's API keys",
    security(("signed_in" = ["tessera:users:read"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "The keys, newest first; never a secret", body = Vec<ApiKey>),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list_api_keys(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let (_, _, keys) = state.auth.admin_credentials(&login).await?;
    Ok(no_store(keys))
}

/// `DELETE {base}/admin/users/{login}/tokens` (`tessera:sessions:write`): revokes every
/// personal access token of the user; `{"revoked": N}`.
#[utoipa::path(
    delete,
    path = "/admin/users/{login}/tokens",
    tag = "admin",
    summary = "Revoke a user's personal access tokens",
    security(("signed_in" = ["tessera:sessions:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "How many were revoked", body = Revoked),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke_tokens(
    state: State<AppState>,
    login: Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    revoke_all(state, login, auth, Owned::PersonalToken).await
}

/// `DELETE {base}/admin/users/{login}/apikeys` (`tessera:sessions:write`): deletes every
/// API key of the user, ending the sessions they opened; `{"revoked": N}`.
#[utoipa::path(
    delete,
    path = "/admin/users/{login}/apikeys",
    tag = "admin",
    summary = "Delete a user's API keys",
    security(("signed_in" = ["tessera:sessions:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "How many were deleted (the sessions they opened end too)", body = Revoked),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke_api_keys(
    state: State<AppState>,
    login: Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    revoke_all(state, login, auth, Owned::ApiKey).await
}

/// `DELETE {base}/admin/users/{login}/tokens/{id}` (`tessera:sessions:write`): 204, or
/// 404 when it is not one of the user's tokens.
#[utoipa::path(
    delete,
    path = "/admin/users/{login}/tokens/{id}",
    tag = "admin",
    summary = "Revoke a personal access token of a user",
    security(("signed_in" = ["tessera:sessions:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice"), ("id" = String, Path, description = "The token's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such user, or no such token of theirs (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke_token(
    state: State<AppState>,
    pair: Pair,
    auth: Authenticated,
) -> Result<Response, Problem> {
    revoke_one(state, pair, auth, Owned::PersonalToken).await
}

/// `DELETE {base}/admin/users/{login}/apikeys/{id}` (`tessera:sessions:write`): 204, or
/// 404 when it is not one of the user's keys.
#[utoipa::path(
    delete,
    path = "/admin/users/{login}/apikeys/{id}",
    tag = "admin",
    summary = "Delete an API key of a user",
    security(("signed_in" = ["tessera:sessions:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice"), ("id" = String, Path, description = "The key's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such user, or no such key of theirs (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke_api_key(
    state: State<AppState>,
    pair: Pair,
    auth: Authenticated,
) -> Result<Response, Problem> {
    revoke_one(state, pair, auth, Owned::ApiKey).await
}

async fn revoke_all(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
    what: Owned,
) -> Result<Response, Problem> {
    let auth = allowed(auth, SESSIONS_WRITE)?;
    let revoked = state
        .auth
        .admin_revoke_credentials(&auth.identity, &login, what, None)
        .await?;
    Ok(no_store(Revoked { revoked }))
}

async fn revoke_one(
    State(state): State<AppState>,
    Pair(login, id): Pair,
    auth: Authenticated,
    what: Owned,
) -> Result<Response, Problem> {
    let auth = allowed(auth, SESSIONS_WRITE)?;
    let revoked = state
        .auth
        .admin_revoke_credentials(&auth.identity, &login, what, Some(&id))
        .await?;
    if revoked == 0 {
        return Err(Problem::not_found().with_detail("no such credential of this user"));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
