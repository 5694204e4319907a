//! Roles: list, create, change permissions, delete when unused.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::Role;
use tessera_core::permission::{ROLES_WRITE, USERS_READ};

use super::{allowed, no_store};
use crate::auth::Authenticated;
use crate::params::Id;
use crate::routes::json_body::JsonBody;
use crate::{AppState, Problem};

/// `GET {base}/admin/roles` (`tessera:users:read`): every role and its permissions.
#[utoipa::path(
    get,
    path = "/admin/roles",
    tag = "admin",
    summary = "List roles",
    security(("signed_in" = ["tessera:users:read"])),
    responses(
        (status = 200, description = "Every role and its permissions", body = Vec<RoleBody>),
    ),
)]
pub async fn list_roles(
    State(state): State<AppState>,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let roles = state.auth.accounts().list_roles().await?;
    let body: Vec<RoleBody> = roles.iter().map(RoleBody::of).collect();
    Ok(no_store(body))
}

/// A role to create.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRole {
    #[schema(examples("support"))]
    name: String,
    /// Its permissions (`resource:action`).
    #[serde(default)]
    #[schema(required = false)]
    permissions: Vec<String>,
}

/// A role's new permissions.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RolePermissions {
    permissions: Vec<String>,
}

/// A role and its permissions.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct RoleBody<'a> {
    name: &'a str,
    permissions: Vec<&'a str>,
}

impl<'a> RoleBody<'a> {
    fn of(r: &'a Role) -> Self {
        Self {
            name: &r.name,
            permissions: r.permissions.iter().map(|p| p.as_str()).collect(),
        }
    }
}

/// `POST {base}/admin/roles` (`tessera:roles:write`): creates a role whose permissions
/// the caller all holds (403 naming one it lacks; 409 when the name is taken). 201.
#[utoipa::path(
    post,
    path = "/admin/roles",
    tag = "admin",
    summary = "Create a role",
    description = "The caller must hold every permission given (403 naming one they lack).",
    security(("signed_in" = ["tessera:roles:write"])),
    request_body = NewRole,
    responses(
        (status = 201, description = "The role", body = RoleBody),
        (status = 400, description = "A name or permission is refused (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok((StatusCode::CREATED, no_store(RoleBody::of(&role))).into_response())
}

/// `PUT {base}/admin/roles/{role}` (`tessera:roles:write`): replaces the role's
/// permissions; the caller must hold every permission it had and gets. The built-in
/// `admin` role cannot change (409).
#[utoipa::path(
    put,
    path = "/admin/roles/{role}",
    tag = "admin",
    summary = "Replace a role's permissions",
    description = "The caller must hold every permission the role had and gets (403 naming one they lack).",
    security(("signed_in" = ["tessera:roles:write"])),
    params(("role" = String, Path, description = "The role's name", example = "orders")),
    request_body = RolePermissions,
    responses(
        (status = 200, description = "The role", body = RoleBody),
        (status = 400, description = "A permission is refused (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such role (`not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The built-in `admin` role cannot change (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok(no_store(RoleBody::of(&role)))
}

/// `DELETE {base}/admin/roles/{role}` (`tessera:roles:write`): 204; 409 while someone
/// holds the role, and for `admin`.
#[utoipa::path(
    delete,
    path = "/admin/roles/{role}",
    tag = "admin",
    summary = "Delete a role",
    security(("signed_in" = ["tessera:roles:write"])),
    params(("role" = String, Path, description = "The role's name", example = "orders")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such role (`not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Someone holds the role, or it is `admin` (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
