//! Roles: list, create, change permissions, delete when unused.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::Role;
use tessera_core::permission::{ROLES_WRITE, USERS_READ};

use super::{allowed, no_store};
use crate::auth::Authenticated;
use crate::params::Id;
use crate::routes::json_body::JsonBody;
use crate::{AppState, Problem};

/// `GET {base}/admin/roles` (`tessera:users:read`): every role and its permissions.
pub async fn list_roles(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let roles = state.auth.accounts().list_roles().await?;
    let body: Vec<Value> = roles.iter().map(role_json).collect();
    Ok(no_store(json!(body)))
}

/// The body of `POST {base}/admin/roles`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    name: String,
    #[serde(default)]
    permissions: Vec<String>,
}

/// The body of `PUT {base}/admin/roles/{role}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolePermissions {
    permissions: Vec<String>,
}

fn role_json(r: &Role) -> Value {
    json!({
        "name": r.name,
        "permissions": r.permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
    })
}

/// `POST {base}/admin/roles` (`tessera:roles:write`): creates a role whose permissions
/// the caller all holds (403 naming one it lacks; 409 when the name is taken). 201.
pub async fn create_role(
    State(state): State<AppState>,
    auth: Authenticated,
    JsonBody(req): JsonBody<NewRole>,
) -> Result<Response, Problem> {
    let auth = allowed(auth, ROLES_WRITE)?;
    let role = state
        .auth
        .admin_create_role(&auth.identity, &req.name, &req.permissions)
        .await?;
    Ok((StatusCode::CREATED, no_store(role_json(&role))).into_response())
}

/// `PUT {base}/admin/roles/{role}` (`tessera:roles:write`): replaces the role's
/// permissions; the caller must hold every permission it had and gets. The built-in
/// `admin` role cannot change (409).
pub async fn change_role(
    State(state): State<AppState>,
    Id(name): Id,
    auth: Authenticated,
    JsonBody(req): JsonBody<RolePermissions>,
) -> Result<Response, Problem> {
    let auth = allowed(auth, ROLES_WRITE)?;
    let role = state
        .auth
        .admin_set_role_permissions(&auth.identity, &name, &req.permissions)
        .await
        .map_err(unknown_role_not_found)?;
    Ok(no_store(role_json(&role)))
}

/// `DELETE {base}/admin/roles/{role}` (`tessera:roles:write`): 204; 409 while someone
/// holds the role, and for `admin`.
pub async fn delete_role(
    State(state): State<AppState>,
    Id(name): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    let auth = allowed(auth, ROLES_WRITE)?;
    state
        .auth
        .admin_delete_role(&auth.identity, &name)
        .await
        .map_err(unknown_role_not_found)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A role named in the path that does not exist is 404 (in a body, 400).
fn unknown_role_not_found(e: tessera_core::Error) -> Problem {
    match e {
        tessera_core::Error::Store(tessera_core::StoreError::UnknownRole(_)) => {
            Problem::not_found().with_detail("no such role")
        }
        other => other.into(),
    }
}
