//! The administration API under `{base}/admin/`: users (list, show, create by
//! invitation, change, disable, enable, unlock, delete, set-password links), their roles,
//! sessions and credentials, the roles themselves, and the audit log. Any credential the
//! auth endpoints accept may call it (a session, or a personal access token scoped to the
//! `tessera:*` permissions it needs); each operation names the permission it needs, and
//! a caller lacking it gets 403 naming it.

mod audit;
mod credentials;
mod roles;
mod users;

use axum::Json;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tessera_core::{Timestamp, User};

use crate::Problem;
use crate::auth::{Authenticated, Carrier};
use crate::body::field;

pub(crate) use self::audit::search as search_audit;
pub(crate) use self::credentials::{
    end_session, end_sessions, list_api_keys, list_sessions, list_tokens, revoke_api_key,
    revoke_api_keys, revoke_token, revoke_tokens,
};
pub(crate) use self::roles::{change_role, create_role, delete_role, list_roles};
pub(crate) use self::users::{
    create_user, delete_user, disable_user, enable_user, grant_role, list_users, revoke_role,
    set_password_link, show_user, unlock_user, update_user,
};

/// The OpenAPI description of the admin operations, merged into `{base}/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    users::list_users,
    users::create_user,
    users::show_user,
    users::update_user,
    users::delete_user,
    users::disable_user,
    users::enable_user,
    users::unlock_user,
    users::set_password_link,
    users::grant_role,
    users::revoke_role,
    credentials::list_sessions,
    credentials::end_sessions,
    credentials::end_session,
    credentials::list_tokens,
    credentials::revoke_tokens,
    credentials::revoke_token,
    credentials::list_api_keys,
    credentials::revoke_api_keys,
    credentials::revoke_api_key,
    roles::list_roles,
    roles::create_role,
    roles::change_role,
    roles::delete_role,
    audit::search,
))]
pub(crate) struct AdminApi;

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

/// A user as the admin API shows it.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct UserBody<'a> {
    login: &'a str,
    first_name: &'a str,
    last_name: &'a str,
    email: Option<&'a str>,
    /// The preferred language tag.
    lang: &'a str,
    /// A disabled account cannot log in, and none of its credentials work.
    disabled: bool,
    /// The roles granted.
    #[schema(value_type = Vec<String>)]
    roles: &'a [String],
    created_at: Timestamp,
    /// Its creation, or the last change of its password or disabled flag.
    updated_at: Timestamp,
}

impl<'a> UserBody<'a> {
    fn of(u: &'a User) -> Self {
        Self {
            login: &u.login,
            first_name: &u.first_name,
            last_name: &u.last_name,
            email: u.email.as_deref(),
            lang: &u.lang,
            disabled: u.disabled,
            roles: &u.roles,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

fn no_store(body: impl serde::Serialize) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

/// `page` and `per_page` of a listing's query (`per_page` 1 to 200, default 50).
fn paging(query: &crate::body::Fields) -> Result<(usize, usize), Problem> {
    let number = |name: &str, default: usize, max: usize| match field(query, name) {
        None => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                Problem::validation_failed(format!("`{name}` must be a number from 1 to {max}"))
            }),
    };
    Ok((number("page", 1, usize::MAX)?, number("per_page", 50, 200)?))
}
