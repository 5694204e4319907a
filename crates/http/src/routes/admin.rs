//! The administration API under `{base}/admin/`: users (list, show, disable, enable,
//! unlock), their roles (grant, revoke) and sessions (list, end), and the roles. Any credential the auth endpoints
//! accept may call it (a session, or a personal access token scoped to the `tessera:*`
//! permissions it needs); each operation names the permission it needs.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera_core::User;
use tessera_core::permission::{ROLES_WRITE, SESSIONS_WRITE, USERS_READ, USERS_WRITE};

use crate::auth::{Authenticated, Carrier};
use crate::body::{field, query_pairs};
use crate::params::{Id, Pair};
use crate::{AppState, Problem};

/// `auth`, when its credential allows `permission`; else 403 naming it.
fn allowed(auth: Authenticated, permission: &str) -> Result<Authenticated, Problem> {
    if auth.identity.allows(permission) {
        Ok(auth)
    } else {
        Err(Problem::forbidden(
            permission,
            auth.carrier == Carrier::Token,
        ))
    }
}

fn user_json(u: &User) -> Value {
    json!({
        "login": u.login,
        "first_name": u.first_name,
        "last_name": u.last_name,
        "email": u.email,
        "lang": u.lang,
        "disabled": u.disabled,
        "roles": u.roles,
        "created_at": u.created_at,
        "updated_at": u.updated_at,
    })
}

fn no_store(body: Value) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `GET {base}/admin/users?q=&page=&per_page=` (`tessera:users:read`): users ordered by
/// login, those whose login, names or e-mail contain `q` (ignoring case), a page at a
/// time (`per_page` 1 to 200, default 50).
pub async fn list_users(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let query = query_pairs(query.as_deref())?;
    let number = |name: &str, default: usize, max: usize| match field(&query, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Problem::validation_failed(format!("`{name}` must be a number from 1 to {max}"))
            }),
    };
    let page = number("page", 1, usize::MAX)?;
    let per_page = number("per_page", 50, 200)?;
    let q = field(&query, "q").unwrap_or("").to_lowercase();
    let users = state.auth.accounts().list_users().await?;
    let matching: Vec<&User> = users
        .iter()
        .filter(|u| {
            q.is_empty()
                || [
                    u.login.as_str(),
                    &u.first_name,
                    &u.last_name,
                    u.email.as_deref().unwrap_or(""),
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&q))
        })
        .collect();
    let shown: Vec<Value> = matching
        .iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .map(|u| user_json(u))
        .collect();
    Ok(no_store(json!({
        "users": shown,
        "total": matching.len(),
        "page": page,
        "per_page": per_page,
    })))
}

/// `GET {base}/admin/users/{login}` (`tessera:users:read`): the user, their effective
/// permissions, and until when failed logins lock them out, if they do.
pub async fn show_user(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let accounts = state.auth.accounts();
    let user = accounts.find(&login).await?;
    let permissions = accounts.permissions_of(&user).await?;
    let mut body = user_json(&user);
    body["permissions"] = json!(permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>());
    body["locked_until"] = json!(state.auth.locked_until(&login).await?);
    Ok(no_store(body))
}

/// `POST {base}/admin/users/{login}/disable` (`tessera:users:write`): the account cannot
/// log in and its sessions end; 409 for the last enabled administrator.
pub async fn disable_user(
    state: State<AppState>,
    login: Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    set_disabled(state, login, auth, true).await
}

/// `POST {base}/admin/users/{login}/enable` (`tessera:users:write`).
pub async fn enable_user(
    state: State<AppState>,
    login: Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    set_disabled(state, login, auth, false).await
}

async fn set_disabled(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
    disabled: bool,
) -> Result<Response, Problem> {
    let auth = allowed(auth, USERS_WRITE)?;
    let user = state
        .auth
        .admin_set_disabled(&auth.identity, &login, disabled)
        .await?;
    Ok(no_store(user_json(&user)))
}

/// `POST {base}/admin/users/{login}/unlock` (`tessera:users:write`): clears the lock and
/// the count of failed logins (204).
pub async fn unlock_user(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    let auth = allowed(auth, USERS_WRITE)?;
    state.auth.admin_unlock(&auth.identity, &login).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PUT {base}/admin/users/{login}/roles/{role}` (`tessera:roles:write`): grants the
/// role; 403 naming a permission of the role the caller does not hold. 204.
pub async fn grant_role(
    State(state): State<AppState>,
    Pair(login, role): Pair,
    auth: Authenticated,
) -> Result<Response, Problem> {
    let auth = allowed(auth, ROLES_WRITE)?;
    state
        .auth
        .admin_grant_role(&auth.identity, &login, &role)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE {base}/admin/users/{login}/roles/{role}` (`tessera:roles:write`): 204; 409
/// for the `admin` role of the last enabled administrator.
pub async fn revoke_role(
    State(state): State<AppState>,
    Pair(login, role): Pair,
    auth: Authenticated,
) -> Result<Response, Problem> {
    let auth = allowed(auth, ROLES_WRITE)?;
    state
        .auth
        .admin_revoke_role(&auth.identity, &login, &role)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET {base}/admin/roles` (`tessera:users:read`): every role and its permissions.
pub async fn list_roles(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let roles = state.auth.accounts().list_roles().await?;
    let body: Vec<Value> = roles
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "permissions": r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(no_store(json!(body)))
}

/// `GET {base}/admin/users/{login}/sessions` (`tessera:users:read`): the user's open
/// sessions, newest first (never a token).
pub async fn list_sessions(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let sessions = state.auth.admin_sessions(&login).await?;
    let body: Vec<Value> = sessions.iter().map(super::session::session_json).collect();
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
