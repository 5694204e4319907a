//! Users: list, show, create (by invitation), change, disable, enable, unlock, delete,
//! set-password links, and role grants.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tessera_core::credential::{Invitation, InvitationPurpose};
use tessera_core::permission::{ROLES_WRITE, USERS_READ, USERS_WRITE};
use tessera_core::token::Token;
use tessera_core::{Login, Member, NewUser, Profile, Timestamp, User};

use super::{UserBody, allowed, no_store, paging};
use crate::auth::Authenticated;
use crate::body::{field, query_pairs};
use crate::params::{Id, Mount, Pair};
use crate::routes::json_body::JsonBody;
use crate::{AppState, Problem};

/// `GET {base}/admin/users?q=&page=&per_page=` (`tessera:users:read`): users ordered by
/// login, those whose login, names or e-mail contain `q` (ignoring case), a page at a
/// time (`per_page` 1 to 200, default 50), each with its last login, lock and
/// outstanding set-password link.
#[utoipa::path(
    get,
    path = "/admin/users",
    tag = "admin",
    summary = "List users",
    security(("signed_in" = ["tessera:users:read"])),
    params(("q" = Option<String>, Query, description = "Only users whose login, names or e-mail address contain this, ignoring case"), ("page" = Option<u32>, Query, minimum = 1, description = "The page, from 1"), ("per_page" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Users per page (default 50)")),
    responses(
        (status = 200, description = "A page of users, ordered by login", body = UserPage),
    ),
)]
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
    Ok(no_store(UserPage {
        users: members.iter().map(MemberBody::of).collect(),
        total,
        page,
        per_page,
    }))
}

/// A page of users.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UserPage<'a> {
    users: Vec<MemberBody<'a>>,
    /// How many users match, on every page.
    total: usize,
    page: usize,
    per_page: usize,
}

/// A user, with their last login, lock and outstanding set-password link.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct MemberBody<'a> {
    #[serde(flatten)]
    user: UserBody<'a>,
    /// The last login by any method, as far as the audit log remembers.
    last_login_at: Option<Timestamp>,
    /// Until when failed logins lock the account out.
    locked_until: Option<Timestamp>,
    /// The outstanding set-password link (never the link itself).
    set_password_link: Option<LinkState<'a>>,
    /// The user's effective permissions (when one user is shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    permissions: Option<Vec<&'a str>>,
}

impl<'a> MemberBody<'a> {
    fn of(m: &'a Member) -> Self {
        Self {
            user: UserBody::of(&m.user),
            last_login_at: m.last_login_at,
            locked_until: m.locked_until,
            set_password_link: m.link.as_ref().map(|l| LinkState {
                purpose: l.purpose,
                created_by: &l.created_by,
                created_at: l.created_at,
                expires_at: l.expires_at,
            }),
            permissions: None,
        }
    }
}

/// An outstanding set-password link, as listings show it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LinkState<'a> {
    purpose: InvitationPurpose,
    /// The administrator who made it (`cli` from the command line).
    created_by: &'a str,
    created_at: Timestamp,
    expires_at: Timestamp,
}

/// `GET {base}/admin/users/{login}` (`tessera:users:read`): the user, their effective
/// permissions, last login, lock and outstanding set-password link.
#[utoipa::path(
    get,
    path = "/admin/users/{login}",
    tag = "admin",
    summary = "Show a user",
    security(("signed_in" = ["tessera:users:read"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "The user, with their effective permissions", body = MemberBody),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    let mut body = MemberBody::of(member);
    body.permissions = Some(permissions.iter().map(|p| p.as_str()).collect());
    Ok(no_store(body))
}

/// A user to invite.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// 1 to 150 characters, without white space, control or invisible formatting
    /// characters.
    #[schema(examples("jdoe"), min_length = 1, max_length = 150, pattern = r"^\S+$")]
    login: String,
    #[serde(default)]
    #[schema(required = false)]
    first_name: String,
    #[serde(default)]
    #[schema(required = false)]
    last_name: String,
    #[serde(default)]
    #[schema(required = false)]
    email: Option<String>,
    /// The preferred language tag (default `en`).
    #[serde(default)]
    #[schema(required = false)]
    lang: Option<String>,
    /// Roles to grant (needs `tessera:roles:write`).
    #[serde(default)]
    #[schema(required = false)]
    roles: Vec<String>,
}

/// A user just created, with their invitation.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct CreatedUser<'a> {
    #[serde(flatten)]
    user: UserBody<'a>,
    set_password_link: NewLink,
}

/// A one-time set-password link, shown once.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct NewLink {
    /// The link's path under the server's origin (`{base}/ui/setup/tsi_...`).
    path: String,
    purpose: InvitationPurpose,
    expires_at: Timestamp,
}

/// `POST {base}/admin/users` (`tessera:users:write`, and `tessera:roles:write` to give
/// roles): creates the user without a password and answers 201 with the user and its
/// invitation, a one-time set-password link shown only in this answer.
#[utoipa::path(
    post,
    path = "/admin/users",
    tag = "admin",
    summary = "Invite a user",
    description = "Creates the user without a password and answers a one-time set-password link (under `{base}/ui/setup/`) to hand to them. Giving roles also needs `tessera:roles:write`, and every permission of those roles.",
    security(("signed_in" = ["tessera:users:write"])),
    request_body = NewMember,
    responses(
        (status = 201, description = "The user and their invitation: a one-time set-password link, shown only here", body = CreatedUser),
        (status = 400, description = "A field is missing or refused (`validation_failed`), or an unknown role", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The login is taken (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    let body = CreatedUser {
        user: UserBody::of(&invited.user),
        set_password_link: link_json(&mount, &invited.token, &invited.invitation),
    };
    Ok((
        StatusCode::CREATED,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response())
}

/// A set-password link as the API shows it, once: its path under the server's origin,
/// what it is for and when it expires.
fn link_json(mount: &Mount, token: &Token, invitation: &Invitation) -> NewLink {
    NewLink {
        path: format!("{}/ui/setup/{}", mount.0, token.expose()),
        purpose: invitation.purpose,
        expires_at: invitation.expires_at,
    }
}

/// `POST {base}/admin/users/{login}/set-password-link` (`tessera:users:write`): a new
/// one-time set-password link for the user, replacing any earlier one; 201 with the link,
/// shown only in this answer. Using a reset link ends the user's sessions.
#[utoipa::path(
    post,
    path = "/admin/users/{login}/set-password-link",
    tag = "admin",
    summary = "Make a set-password link",
    description = "A new one-time link for the user to choose a password, replacing any earlier one. Using a reset link ends the user's sessions.",
    security(("signed_in" = ["tessera:users:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 201, description = "The link, shown only here", body = NewLink),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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

/// The fields of a profile to change; the others stay.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    #[schema(required = false)]
    first_name: Option<String>,
    #[schema(required = false)]
    last_name: Option<String>,
    /// `null` or `""` removes the address.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, required = false)]
    email: Option<Option<String>>,
    #[schema(required = false)]
    lang: Option<String>,
}

/// Tells an absent member (`None`) from `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH {base}/admin/users/{login}` (`tessera:users:write`): changes the names, e-mail
/// address or language given, and answers with the user.
#[utoipa::path(
    patch,
    path = "/admin/users/{login}",
    tag = "admin",
    summary = "Change a user's profile",
    security(("signed_in" = ["tessera:users:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    request_body = ProfileChange,
    responses(
        (status = 200, description = "The user", body = UserBody),
        (status = 400, description = "A field is refused (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok(no_store(UserBody::of(&user)))
}

/// `DELETE {base}/admin/users/{login}` (`tessera:users:write`): deletes the user and
/// everything it owns (204); 409 for oneself and for the last enabled administrator.
#[utoipa::path(
    delete,
    path = "/admin/users/{login}",
    tag = "admin",
    summary = "Delete a user",
    security(("signed_in" = ["tessera:users:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 204, description = "Deleted, with everything the user owned"),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Oneself, or the last enabled administrator (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/admin/users/{login}/disable",
    tag = "admin",
    summary = "Disable a user",
    security(("signed_in" = ["tessera:users:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "The user: cannot log in, and their sessions and credentials stop working", body = UserBody),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last enabled administrator (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn disable_user(
    state: State<AppState>,
    login: Id,
    auth: Authenticated,
) -> Result<Response, Problem> {
    set_disabled(state, login, auth, true).await
}

/// `POST {base}/admin/users/{login}/enable` (`tessera:users:write`).
#[utoipa::path(
    post,
    path = "/admin/users/{login}/enable",
    tag = "admin",
    summary = "Enable a user",
    security(("signed_in" = ["tessera:users:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 200, description = "The user", body = UserBody),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
    Ok(no_store(UserBody::of(&user)))
}

/// `POST {base}/admin/users/{login}/unlock` (`tessera:users:write`): clears the lock and
/// the count of failed logins (204).
#[utoipa::path(
    post,
    path = "/admin/users/{login}/unlock",
    tag = "admin",
    summary = "Unlock a user",
    security(("signed_in" = ["tessera:users:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice")),
    responses(
        (status = 204, description = "The lock and the count of failed logins are cleared"),
        (status = 404, description = "No such user (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[utoipa::path(
    put,
    path = "/admin/users/{login}/roles/{role}",
    tag = "admin",
    summary = "Grant a role",
    description = "The caller must hold every permission of the role (403 naming one they lack).",
    security(("signed_in" = ["tessera:roles:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice"), ("role" = String, Path, description = "The role's name", example = "orders")),
    responses(
        (status = 204, description = "Granted (or held already)"),
        (status = 404, description = "No such user or role (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[utoipa::path(
    delete,
    path = "/admin/users/{login}/roles/{role}",
    tag = "admin",
    summary = "Revoke a role",
    security(("signed_in" = ["tessera:roles:write"])),
    params(("login" = String, Path, description = "The user's login", example = "alice"), ("role" = String, Path, description = "The role's name", example = "orders")),
    responses(
        (status = 204, description = "Revoked (or not held)"),
        (status = 404, description = "No such user or role (`not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The `admin` role of the last enabled administrator (`conflict`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
