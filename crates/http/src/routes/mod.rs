//! The router: health probes at the root, auth endpoints under the base path (each also
//! with a trailing slash), problem+json for everything else.

mod admin;
mod apikeys;
mod audit;
mod client_secret;
mod health;
mod json_body;
mod login;
mod oauth;
mod session;
mod tokens;
mod verify;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, delete, get, post, put};

use crate::{AppState, Problem};

pub use crate::body::BODY_LIMIT;

/// The auth endpoints, by path under the base path.
pub(crate) fn routes() -> [(&'static str, MethodRouter<AppState>); 38] {
    [
        ("/audit", get(audit::list)),
        ("/verify", get(verify::verify)),
        (
            "/login",
            get(login::get).post(login::post).delete(session::end),
        ),
        ("/login/key", post(login::key)),
        ("/session", get(session::info).delete(session::end)),
        (
            "/logout",
            get(session::logout_get).post(session::logout_post),
        ),
        (
            "/sessions",
            get(session::list).delete(session::revoke_others),
        ),
        ("/sessions/{id}", delete(session::revoke_one)),
        ("/tokens", get(tokens::list).post(tokens::create)),
        ("/tokens/{id}", delete(tokens::revoke)),
        ("/tokens/{id}/regenerate", post(tokens::regenerate)),
        ("/apikeys", get(apikeys::list).post(apikeys::create)),
        ("/apikeys/{id}", delete(apikeys::delete)),
        ("/apikeys/{id}/disable", post(apikeys::disable)),
        ("/apikeys/{id}/enable", post(apikeys::enable)),
        ("/client-secret", get(client_secret::show)),
        ("/client-secret/rotate", post(client_secret::rotate)),
        ("/oauth/token", post(oauth::token)),
        ("/oauth/introspect", post(oauth::introspect)),
        ("/oauth/revoke", post(oauth::revoke)),
        (
            "/admin/users",
            get(admin::list_users).post(admin::create_user),
        ),
        (
            "/admin/users/{login}",
            get(admin::show_user)
                .patch(admin::update_user)
                .delete(admin::delete_user),
        ),
        ("/admin/users/{login}/disable", post(admin::disable_user)),
        ("/admin/users/{login}/enable", post(admin::enable_user)),
        ("/admin/users/{login}/unlock", post(admin::unlock_user)),
        (
            "/admin/users/{login}/set-password-link",
            post(admin::set_password_link),
        ),
        (
            "/admin/users/{login}/roles/{role}",
            put(admin::grant_role).delete(admin::revoke_role),
        ),
        (
            "/admin/users/{login}/sessions",
            get(admin::list_sessions).delete(admin::end_sessions),
        ),
        (
            "/admin/users/{login}/sessions/{id}",
            delete(admin::end_session),
        ),
        (
            "/admin/users/{login}/tokens",
            get(admin::list_tokens).delete(admin::revoke_tokens),
        ),
        (
            "/admin/users/{login}/tokens/{id}",
            delete(admin::revoke_token),
        ),
        (
            "/admin/users/{login}/apikeys",
            get(admin::list_api_keys).delete(admin::revoke_api_keys),
        ),
        (
            "/admin/users/{login}/apikeys/{id}",
            delete(admin::revoke_api_key),
        ),
        (
            "/admin/roles",
            get(admin::list_roles).post(admin::create_role),
        ),
        (
            "/admin/roles/{role}",
            put(admin::change_role).delete(admin::delete_role),
        ),
        ("/admin/audit", get(admin::search_audit)),
        ("/oidc/{id}/login", get(crate::oidc::login)),
        ("/oidc/{id}/callback", get(crate::oidc::callback)),
    ]
}

/// The auth endpoints at their paths under the base path (`/login`, `/tokens`, ..., each
/// also with a trailing slash), to `nest` under the base path of an application (or
/// `merge` at its root), behind [`AuthLayer`](crate::layer::AuthLayer). A method an
/// endpoint does not serve gets a problem+json 405; bodies are limited to [`BODY_LIMIT`].
pub fn auth_router<S: Clone + Send + Sync + 'static>(state: AppState) -> Router<S> {
    let mut router = if state.settings.ui.is_some() {
        crate::ui::routes()
    } else {
        crate::ui::setup_routes()
    };
    for (path, handler) in routes() {
        router = router
            .route(path, handler.clone())
            .route(&format!("{path}/"), handler);
    }
    router
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// The liveness and readiness probes, `/healthz` and `/readyz`.
pub fn health_router<S: Clone + Send + Sync + 'static>(state: AppState) -> Router<S> {
    health::routes().with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_route_is_known_as_an_own_path() {
        for (path, _) in super::routes() {
            let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
            assert!(crate::paths::FIRST_SEGMENTS.contains(&first), "{path}");
        }
    }
}
