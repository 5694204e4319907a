//! Users: list, show, create (by invitation), change, disable, enable, unlock, delete,
//! set-password links, and role grants.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera_core::credential::Invitation;
use tessera_core::permission::{ROLES_WRITE, USERS_READ, USERS_WRITE};
use tessera_core::token::Token;
use tessera_core::{Login, Member, NewUser, Profile, User};

use super::{allowed, no_store, paging, user_json};
use crate::auth::Authenticated;
use crate::body::{field, query_pairs};
use crate::params::{Id, Mount, Pair};
use crate::routes::json_body::JsonBody;
use crate::{AppState, Problem};

/// `GET {base}/admin/users?q=&page=&per_page=` (`tessera:users:read`): users ordered by
/// login, those whose login, names or e-mail contain `q` (ignoring case), a page at a
/// time (`per_page` 1 to 200, default 50), each with its last login, lock and
/// outstanding set-password link.
pub async fn list_users(
    State(state): State<AppState>,
    auth: Authenticated,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let query = query_pairs(query.as_deref())?;
    let (page, per_page) = paging(&query)?;
    let q = field(&query, "q").unwrap_or("");
    let matching = state.auth.accounts().search_users(q).await?;
    let total = matching.len();
    let shown: Vec<User> = matching
        .into_iter()
        .skip((page - 1).saturating_mul(per_page))
        .take(per_page)
        .collect();
    let members = state.auth.admin_members(shown).await?;
    let users: Vec<Value> = members.iter().map(member_json).collect();
    Ok(no_store(json!({
        "users": users,
        "total": total,
        "page": page,
        "per_page": per_page,
    })))
}

/// The user, with its last login, lock and outstanding set-password link.
fn member_json(m: &Member) -> Value {
    let mut body = user_json(&m.user);
    body["last_login_at"] = json!(m.last_login_at);
    body["locked_until"] = json!(m.locked_until);
    body["set_password_link"] = json!(m.link.as_ref().map(|l| json!({
        "purpose": l.purpose,
        "created_by": l.created_by,
        "created_at": l.created_at,
        "expires_at": l.expires_at,
    })));
    body
}

/// `GET {base}/admin/users/{login}` (`tessera:users:read`): the user, their effective
/// permissions, last login, lock and outstanding set-password link.
pub async fn show_user(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    allowed(auth, USERS_READ)?;
    let accounts = state.auth.accounts();
    let user = accounts.find(&login).await?;
    let permissions = accounts.permissions_of(&user).await?;
    let members = state.auth.admin_members(vec![user]).await?;
    let Some(member) = members.first() else {
        return Err(Problem::not_found().with_detail("no such user"));
    };
    let mut body = member_json(member);
    body["permissions"] = json!(permissions.iter().map(|p| p.as_str()).collect::<Vec<_>>());
    Ok(no_store(body))
}

/// The body of `POST {base}/admin/users`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    login: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    roles: Vec<String>,
}

/// `POST {base}/admin/users` (`tessera:users:write`, and `tessera:roles:write` to give
/// roles): creates the user without a password and answers 201 with the user and its
/// invitation, a one-time set-password link shown only in this answer.
pub async fn create_user(
    State(state): State<AppState>,
    mount: Mount,
    auth: Authenticated,
    JsonBody(req): JsonBody<NewMember>,
) -> Result<Response, Problem> {
    let mut auth = allowed(auth, USERS_WRITE)?;
    if !req.roles.is_empty() {
        auth = allowed(auth, ROLES_WRITE)?;
    }
    let login = Login::parse(&req.login)?;
    let mut new = NewUser::new(login);
    new.first_name = req.first_name;
    new.last_name = req.last_name;
    new.email = req.email.filter(|e| !e.is_empty());
    if let Some(lang) = req.lang {
        new.lang = lang;
    }
    new.roles = req.roles;
    let invited = state.auth.admin_create_user(&auth.identity, new).await?;
    let mut body = user_json(&invited.user);
    body["set_password_link"] = link_json(&mount, &invited.token, &invited.invitation);
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

/// A set-password link as the API shows it, once: its path under the server's origin,
/// what it is for and when it expires.
fn link_json(mount: &Mount, token: &Token, invitation: &Invitation) -> Value {
    json!({
        "path": format!("{}/ui/setup/{}", mount.0, token.expose()),
        "purpose": invitation.purpose,
        "expires_at": invitation.expires_at,
    })
}

/// `POST {base}/admin/users/{login}/set-password-link` (`tessera:users:write`): a new
/// one-time set-password link for the user, replacing any earlier one; 201 with the link,
/// shown only in this answer. Using a reset link ends the user's sessions.
pub async fn set_password_link(
    State(state): State<AppState>,
    mount: Mount,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    let auth = allowed(auth, USERS_WRITE)?;
    let (token, invitation) = state
        .auth
        .admin_set_password_link(&auth.identity, &login)
        .await?;
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(link_json(&mount, &token, &invitation)),
    )
        .into_response())
}

/// The body of `PATCH {base}/admin/users/{login}`: the fields to change.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    first_name: Option<String>,
    last_name: Option<String>,
    /// `null` or `""` removes the address.
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    lang: Option<String>,
}

/// Tells an absent member (`None`) from `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH {base}/admin/users/{login}` (`tessera:users:write`): changes the names, e-mail
/// address or language given, and answers with the user.
pub async fn update_user(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
    JsonBody(req): JsonBody<ProfileChange>,
) -> Result<Response, Problem> {
    let auth = allowed(auth, USERS_WRITE)?;
    let user = state.auth.accounts().find(&login).await?;
    let mut profile = Profile::of(&user);
    if let Some(v) = req.first_name {
        profile.first_name = v;
    }
    if let Some(v) = req.last_name {
        profile.last_name = v;
    }
    if let Some(v) = req.email {
        profile.email = v.filter(|e| !e.is_empty());
    }
    if let Some(v) = req.lang {
        profile.lang = v;
    }
    let user = state
        .auth
        .admin_update_user(&auth.identity, &login, profile)
        .await?;
    Ok(no_store(user_json(&user)))
}

/// `DELETE {base}/admin/users/{login}` (`tessera:users:write`): deletes the user and
/// everything it owns (204); 409 for oneself and for the last enabled administrator.
pub async fn delete_user(
    State(state): State<AppState>,
    Id(login): Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    let auth = allowed(auth, USERS_WRITE)?;
    state.auth.admin_delete_user(&auth.identity, &login).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
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
