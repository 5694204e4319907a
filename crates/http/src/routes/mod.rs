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
pub(crate) mod openapi;
mod schema;
mod session;
mod tokens;
mod verify;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};

use crate::{AppState, Problem};

pub use crate::body::BODY_LIMIT;

/// One endpoint: its path under the base path and the handler of each method it serves.
pub(crate) struct Route {
    pub path: &'static str,
    pub methods: Vec<(Method, MethodRouter<AppState>)>,
}

fn route<const N: usize>(
    path: &'static str,
    methods: [(Method, MethodRouter<AppState>); N],
) -> Route {
    Route {
        path,
        methods: methods.into(),
    }
}

/// The auth endpoints, by path under the base path, with the methods each serves: the
/// router is built from this table, and a test holds the OpenAPI description to it.
pub(crate) fn routes() -> Vec<Route> {
    use Method as M;
    vec![
        route("/openapi.json", [(M::GET, get(openapi::serve))]),
        route("/audit", [(M::GET, get(audit::list))]),
        route("/verify", [(M::GET, get(verify::verify))]),
        route(
            "/login",
            [
                (M::GET, get(login::get)),
                (M::POST, post(login::post)),
                (M::DELETE, delete(session::end_login)),
            ],
        ),
        route("/login/key", [(M::POST, post(login::key))]),
        route(
            "/session",
            [
                (M::GET, get(session::info)),
                (M::DELETE, delete(session::end)),
            ],
        ),
        route(
            "/logout",
            [
                (M::GET, get(session::logout_get)),
                (M::POST, post(session::logout_post)),
            ],
        ),
        route(
            "/sessions",
            [
                (M::GET, get(session::list)),
                (M::DELETE, delete(session::revoke_others)),
            ],
        ),
        route("/sessions/{id}", [(M::DELETE, delete(session::revoke_one))]),
        route(
            "/tokens",
            [(M::GET, get(tokens::list)), (M::POST, post(tokens::create))],
        ),
        route("/tokens/{id}", [(M::DELETE, delete(tokens::revoke))]),
        route(
            "/tokens/{id}/regenerate",
            [(M::POST, post(tokens::regenerate))],
        ),
        route(
            "/apikeys",
            [
                (M::GET, get(apikeys::list)),
                (M::POST, post(apikeys::create)),
            ],
        ),
        route("/apikeys/{id}", [(M::DELETE, delete(apikeys::delete))]),
        route("/apikeys/{id}/disable", [(M::POST, post(apikeys::disable))]),
        route("/apikeys/{id}/enable", [(M::POST, post(apikeys::enable))]),
        route("/client-secret", [(M::GET, get(client_secret::show))]),
        route(
            "/client-secret/rotate",
            [(M::POST, post(client_secret::rotate))],
        ),
        route("/oauth/token", [(M::POST, post(oauth::token))]),
        route("/oauth/introspect", [(M::POST, post(oauth::introspect))]),
        route("/oauth/revoke", [(M::POST, post(oauth::revoke))]),
        route(
            "/admin/users",
            [
                (M::GET, get(admin::list_users)),
                (M::POST, post(admin::create_user)),
            ],
        ),
        route(
            "/admin/users/{login}",
            [
                (M::GET, get(admin::show_user)),
                (M::PATCH, patch(admin::update_user)),
                (M::DELETE, delete(admin::delete_user)),
            ],
        ),
        route(
            "/admin/users/{login}/disable",
            [(M::POST, post(admin::disable_user))],
        ),
        route(
            "/admin/users/{login}/enable",
            [(M::POST, post(admin::enable_user))],
        ),
        route(
            "/admin/users/{login}/unlock",
            [(M::POST, post(admin::unlock_user))],
        ),
        route(
            "/admin/users/{login}/set-password-link",
            [(M::POST, post(admin::set_password_link))],
        ),
        route(
            "/admin/users/{login}/roles/{role}",
            [
                (M::PUT, put(admin::grant_role)),
                (M::DELETE, delete(admin::revoke_role)),
            ],
        ),
        route(
            "/admin/users/{login}/sessions",
            [
                (M::GET, get(admin::list_sessions)),
                (M::DELETE, delete(admin::end_sessions)),
            ],
        ),
        route(
            "/admin/users/{login}/sessions/{id}",
            [(M::DELETE, delete(admin::end_session))],
        ),
        route(
            "/admin/users/{login}/tokens",
            [
                (M::GET, get(admin::list_tokens)),
                (M::DELETE, delete(admin::revoke_tokens)),
            ],
        ),
        route(
            "/admin/users/{login}/tokens/{id}",
            [(M::DELETE, delete(admin::revoke_token))],
        ),
        route(
            "/admin/users/{login}/apikeys",
            [
                (M::GET, get(admin::list_api_keys)),
                (M::DELETE, delete(admin::revoke_api_keys)),
            ],
        ),
        route(
            "/admin/users/{login}/apikeys/{id}",
            [(M::DELETE, delete(admin::revoke_api_key))],
        ),
        route(
            "/admin/roles",
            [
                (M::GET, get(admin::list_roles)),
                (M::POST, post(admin::create_role)),
            ],
        ),
        route(
            "/admin/roles/{role}",
            [
                (M::PUT, put(admin::change_role)),
                (M::DELETE, delete(admin::delete_role)),
            ],
        ),
        route("/admin/audit", [(M::GET, get(admin::search_audit))]),
        route("/oidc/{id}/login", [(M::GET, get(crate::oidc::login))]),
        route(
            "/oidc/{id}/callback",
            [(M::GET, get(crate::oidc::callback))],
        ),
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
    for Route { path, methods } in routes() {
        let handler = methods
            .into_iter()
            .map(|(_, h)| h)
            .reduce(MethodRouter::merge)
            .unwrap_or_default();
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
        for super::Route { path, .. } in super::routes() {
            let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
            assert!(crate::paths::FIRST_SEGMENTS.contains(&first), "{path}");
        }
    }
}
