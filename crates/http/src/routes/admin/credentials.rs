//! A user's sessions and credentials: list, end or revoke one or all.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_core::permission::{SESSIONS_WRITE, USERS_READ};
use tessera_core::store::Owned;

use super::{allowed, no_store};
use crate::auth::Authenticated;
use crate::params::{Id, Pair};
use crate::{AppState, Problem};

/// `GET {base}/admin/users/{login}/sessions` (`tessera:users:read`): the user's open
/// sessions, newest first (never a token).
pub async fn list_sessions(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let sessions = state.auth.admin_sessions(&login).await?;
    let body: Vec<Value> = sessions
        .iter()
        .map(crate::routes::session::session_json)
        .collect();
    Ok(no_store(json!(body)))
}

/// `DELETE {base}/admin/users/{login}/sessions` (`tessera:sessions:write`): ends every
/// session of the user; `{"ended": N}`.
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
    Ok(no_store(json!({ "ended": ended })))
}

/// `DELETE {base}/admin/users/{login}/sessions/{id}` (`tessera:sessions:write`): 204, or
/// 404 when it is not one of the user's open sessions.
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
pub async fn list_tokens(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let (_, tokens, _) = state.auth.admin_credentials(&login).await?;
    Ok(no_store(json!(tokens)))
}

/// `GET {base}/admin/users/{login}/apikeys` (`tessera:users:read`): the user's API keys,
/// newest first; never a secret.
pub async fn list_api_keys(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let (_, _, keys) = state.auth.admin_credentials(&login).await?;
    Ok(no_store(json!(keys)))
}

/// `DELETE {base}/admin/users/{login}/tokens` (`tessera:sessions:write`): revokes every
/// personal access token of the user; `{"revoked": N}`.
pub async fn revoke_tokens(
    state: State<AppState>,
    login: Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    revoke_all(state, login, auth, Owned::PersonalToken).await
}

/// `DELETE {base}/admin/users/{login}/apikeys` (`tessera:sessions:write`): deletes every
/// API key of the user, ending the sessions they opened; `{"revoked": N}`.
pub async fn revoke_api_keys(
    state: State<AppState>,
    login: Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    revoke_all(state, login, auth, Owned::ApiKey).await
}

/// `DELETE {base}/admin/users/{login}/tokens/{id}` (`tessera:sessions:write`): 204, or
/// 404 when it is not one of the user's tokens.
pub async fn revoke_token(
    state: State<AppState>,
    pair: Pair,
    auth: Authenticated,
) -> Result<Response, Problem> {
    revoke_one(state, pair, auth, Owned::PersonalToken).await
}

/// `DELETE {base}/admin/users/{login}/apikeys/{id}` (`tessera:sessions:write`): 204, or
/// 404 when it is not one of the user's keys.
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
    Ok(no_store(json!({ "revoked": revoked })))
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
