//! `GET {base}/openapi.json`: the OpenAPI 3.1 description of every endpoint, generated
//! from the handlers' `#[utoipa::path]` attributes and the types they answer with.
//!
//! An attribute names the access class of its operation as a pseudo security
//! requirement, and [`document`] turns it into what a client needs to know:
//!
//! - `password_session`: a session opened by a password or identity-provider sign-in,
//!   carried by the session cookie (with the CSRF header on unsafe methods) or by the
//!   session token;
//! - `signed_in`: any credential the auth endpoints accept: those two, a personal access
//!   token, an API-key token or an OAuth2 access token. Its scopes are the permissions
//!   the operation needs, and become the scopes of every requirement;
//! - `password`: the credentials of a login, in the request itself (HTTP Basic, or
//!   form fields or JSON members);
//! - `client`: the OAuth2 client authentication (HTTP Basic, or the form fields);
//! - `rules`: whatever the access rule of the checked request demands, or nothing.
//!
//! Each class also brings the answers any operation of it can give (401 and 403 for the
//! authenticated ones), and an "Authorizations" paragraph in the description, as the
//! platforms Tessera follows list under each command. Every path gets the base path in
//! front of it, and the cookie and header names are the configured ones.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use crate::{AppState, HttpSettings, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Tessera",
        description = "Authentication and authorization for HTTP APIs: password login and \
sessions, personal access tokens, API key/secret pairs, the account's client secret, the \
OAuth2 client-credentials grant, access decisions for reverse proxies, and administration. \
Every error is `application/problem+json` with a stable `code`."
    ),
    paths(
        serve,
        super::health::healthz,
        super::health::readyz,
        super::health::metadata,
        super::tokens::list,
        super::tokens::create,
        super::tokens::revoke,
        super::tokens::regenerate,
        super::apikeys::list,
        super::apikeys::create,
        super::apikeys::delete,
        super::apikeys::disable,
        super::apikeys::enable,
        super::client_secret::show,
        super::client_secret::rotate,
        super::audit::list,
        super::login::get,
        super::login::post,
        super::login::key,
        super::session::info,
        super::session::end,
        super::session::end_login,
        super::session::logout_get,
        super::session::logout_post,
        super::session::list,
        super::session::revoke_others,
        super::session::revoke_one,
        super::oauth::token,
        super::oauth::introspect,
        super::oauth::revoke,
        super::verify::verify,
        crate::oidc::login,
        crate::oidc::callback,
    ),
    components(schemas(Problem)),
    tags(
        (name = "login", description = "Logging in and out, and the current session"),
        (name = "sessions", description = "The caller's sessions"),
        (name = "credentials", description = "Personal access tokens, API keys and the client secret"),
        (name = "oauth", description = "OAuth2 client credentials, introspection and revocation"),
        (name = "verify", description = "Access decisions for a reverse proxy"),
        (name = "audit", description = "The caller's security events"),
        (name = "admin", description = "Administration: users, roles, their credentials, the audit log"),
        (name = "oidc", description = "Sign-in through an identity provider"),
        (name = "meta", description = "Probes and discovery"),
    )
)]
struct ApiDoc;

/// The description as served.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "meta",
    summary = "This OpenAPI 3.1 description",
    responses((status = 200, description = "The description", content_type = "application/json", body = Object)),
)]
pub(crate) async fn serve(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "no-cache")],
        Json(document(&state.settings)),
    )
        .into_response()
}

/// Paths served at the root rather than under the base path.
const ROOT_PATHS: [&str; 3] = [
    "/healthz",
    "/readyz",
    "/.well-known/oauth-authorization-server",
];

/// The admin permissions: the scopes an OAuth2 access token may carry for the admin API.
const ADMIN_SCOPES: [(&str, &str); 5] = [
    (
        "tessera:users:read",
        "Read users, their roles, sessions and credentials, and the roles",
    ),
    (
        "tessera:users:write",
        "Invite, change, disable, unlock and delete users",
    ),
    (
        "tessera:roles:write",
        "Create and change roles, grant and revoke them",
    ),
    ("tessera:audit:read", "Search the audit log"),
    (
        "tessera:sessions:write",
        "End users' sessions and revoke their credentials",
    ),
];

/// The OpenAPI document for these settings (base path, cookie and header names).
pub(crate) fn document(settings: &HttpSettings) -> Value {
    let mut api = ApiDoc::openapi();
    api.merge(super::admin::AdminApi::openapi());
    let mut doc = serde_json::to_value(api).unwrap_or_default();
    let base = settings.base_path.trim_end_matches('/');
    if let Some(Value::Object(paths)) = doc.get_mut("paths").map(Value::take) {
        let mut placed = Map::new();
        for (path, mut item) in paths {
            if let Value::Object(ops) = &mut item {
                for (method, op) in ops.iter_mut() {
                    complete(method, op);
                }
            }
            let full = if ROOT_PATHS.contains(&path.as_str()) {
                path
            } else {
                format!("{base}{path}")
            };
            placed.insert(full, item);
        }
        doc["paths"] = Value::Object(placed);
    }
    doc["components"]["responses"] = shared_responses();
    doc["components"]["securitySchemes"] = security_schemes(settings, base);
    doc
}

/// Expands the operation's access class into security requirements, its answers and
/// its "Authorizations" text.
fn complete(method: &str, op: &mut Value) {
    let unsafe_method = !matches!(method, "get" | "head" | "options");
    let class = op
        .get("security")
        .and_then(Value::as_array)
        .and_then(|reqs| reqs.first())
        .and_then(Value::as_object)
        .and_then(|req| req.iter().next())
        .map(|(name, scopes)| (name.clone(), scopes.clone()));
    let (requirements, text, authenticated) = match class {
        Some((name, _)) if name == "password_session" => (
            session_requirements(unsafe_method, &json!([])),
            "a password session: the session cookie (with the CSRF header on unsafe \
             methods) or the session token of a password or identity-provider sign-in. \
             Personal access tokens, API-key tokens and access tokens get 403 \
             `password_session_required`."
                .to_owned(),
            true,
        ),
        Some((name, scopes)) if name == "signed_in" => {
            let mut reqs = session_requirements(unsafe_method, &scopes);
            for scheme in ["personalAccessToken", "apiKeyToken", "oauth2"] {
                reqs.push(json!({ scheme: scopes }));
            }
            let needs = scopes
                .as_array()
                .map(|s| {
                    s.iter()
                        .filter_map(Value::as_str)
                        .map(|p| format!("`{p}`"))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default();
            let permission = if needs.is_empty() {
                String::new()
            } else {
                format!(
                    " The caller needs the permission {} (a token needs it among its \
                     scopes); without it the answer is 403 naming it.",
                    needs.join(" and ")
                )
            };
            (
                reqs,
                format!(
                    "any credential of a user: the session cookie (with the CSRF header \
                     on unsafe methods), a session token, a personal access token, an \
                     API-key token or an OAuth2 access token.{permission}"
                ),
                true,
            )
        }
        Some((name, _)) if name == "password" => (
            vec![json!({ "basic": [] }), json!({})],
            "the credentials themselves: HTTP Basic, or form fields or JSON members \
             (query parameters only when `login.allow_query_credentials` is on). Plain \
             HTTP is refused (400 `https_required`) except from loopback or with \
             `server.allow_insecure_http`."
                .to_owned(),
            false,
        ),
        Some((name, _)) if name == "client" => (
            vec![json!({ "basic": [] }), json!({})],
            "the OAuth2 client: its `client_id` (the login) and `client_secret` (the \
             account's client secret) by HTTP Basic or as form fields."
                .to_owned(),
            false,
        ),
        Some((name, _)) if name == "rules" => (
            vec![
                json!({ "sessionCookie": [] }),
                json!({ "sessionToken": [] }),
                json!({ "personalAccessToken": [] }),
                json!({ "apiKeyToken": [] }),
                json!({ "oauth2": [] }),
                json!({ "clientSecret": [] }),
                json!({ "basic": [] }),
                json!({}),
            ],
            "whatever the access rule matching the checked request demands; a public \
             rule needs nothing."
                .to_owned(),
            false,
        ),
        _ => (Vec::new(), "none.".to_owned(), false),
    };
    let Some(op) = op.as_object_mut() else {
        return;
    };
    if requirements.is_empty() {
        op.remove("security");
    } else {
        op.insert("security".into(), Value::Array(requirements));
    }
    let described = op
        .get("description")
        .and_then(Value::as_str)
        .map(|d| format!("{d}\n\n"))
        .unwrap_or_default();
    op.insert(
        "description".into(),
        Value::String(format!("{described}**Authorizations:** {text}")),
    );
    let has_body = op.contains_key("requestBody");
    let responses = op
        .entry("responses")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(responses) = responses {
        let mut add = |status: &str, name: &str| {
            responses
                .entry(status)
                .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{name}") }));
        };
        add("400", "BadRequest");
        if authenticated {
            add("401", "Unauthorized");
            add("403", "Forbidden");
        }
        if has_body {
            add("408", "RequestTimeout");
            add("413", "PayloadTooLarge");
            add("415", "UnsupportedMediaType");
        }
        add("500", "InternalError");
        add("503", "ServiceUnavailable");
    }
}

/// The session cookie (plus the CSRF header on unsafe methods) or the session token.
fn session_requirements(unsafe_method: bool, scopes: &Value) -> Vec<Value> {
    let scopes = if scopes.is_array() {
        scopes.clone()
    } else {
        json!([])
    };
    let cookie = if unsafe_method {
        json!({ "sessionCookie": scopes, "csrfToken": [] })
    } else {
        json!({ "sessionCookie": scopes })
    };
    vec![cookie, json!({ "sessionToken": scopes })]
}

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": {
            "schema": { "$ref": "#/components/schemas/Problem" }
        } }
    })
}

fn shared_responses() -> Value {
    let mut unauthorized = problem(
        "No credential, or one that does not work (`unauthenticated`, `invalid_token`, \
         `session_expired`, `invalid_credentials`)",
    );
    unauthorized["headers"] = json!({ "WWW-Authenticate": {
        "description": "The challenge (`Bearer realm=\"tessera\"`, with `error=` for a bad token)",
        "schema": { "type": "string" }
    } });
    json!({
        "BadRequest": problem(
            "The request is malformed or a value is refused (`invalid_request`, \
             `validation_failed`, `https_required`)"
        ),
        "Unauthorized": unauthorized,
        "Forbidden": problem(
            "The credential works but may not do this (`forbidden`, `insufficient_scope`, \
             `csrf_failed`, `password_session_required`)"
        ),
        "RequestTimeout": problem("The body arrived too slowly (`request_timeout`)"),
        "PayloadTooLarge": problem("The body is over the limit (`payload_too_large`)"),
        "UnsupportedMediaType": problem("The body's media type is not accepted (`unsupported_media_type`)"),
        "InternalError": problem("A fault on the server (`internal_error`); the cause is in its log"),
        "ServiceUnavailable": problem(
            "The authentication database does not answer (`service_unavailable`): the \
             request is refused, never let through"
        ),
    })
}

fn security_schemes(settings: &HttpSettings, base: &str) -> Value {
    let scopes: Map<String, Value> = ADMIN_SCOPES
        .iter()
        .map(|(s, d)| ((*s).to_owned(), Value::String((*d).to_owned())))
        .collect();
    json!({
        "sessionCookie": {
            "type": "apiKey", "in": "cookie", "name": settings.session_cookie.name,
            "description": "The encrypted session cookie set by a login. Unsafe methods \
                also need the CSRF header (`csrfToken`) matching the `csrftoken` cookie."
        },
        "csrfToken": {
            "type": "apiKey", "in": "header", "name": settings.csrf.header_name.as_str(),
            "description": format!("The CSRF token, the value of the `{}` cookie, on unsafe \
                methods of cookie-carried sessions.", settings.csrf.cookie_name)
        },
        "sessionToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "tss_...",
            "description": format!("A session token from `POST {base}/login`.")
        },
        "personalAccessToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "tsp_...",
            "description": format!("A personal access token from `POST {base}/tokens`, \
                limited to its scopes.")
        },
        "apiKeyToken": {
            "type": "http", "scheme": "bearer", "bearerFormat": "tsk_...",
            "description": format!("A short-lived token from `POST {base}/login/key` \
                (an API key and its secret), limited to the key's scopes.")
        },
        "oauth2": {
            "type": "oauth2",
            "description": "An access token (`tsa_...`) of the client-credentials grant (the login and \
                the account's client secret), sent as a bearer token.",
            "flows": { "clientCredentials": {
                "tokenUrl": format!("{base}/oauth/token"),
                "scopes": scopes
            } }
        },
        "clientSecret": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": "`Authorization: Secret <client secret>`: the account's client \
                secret, on access rules that list `secret`."
        },
        "basic": {
            "type": "http", "scheme": "basic",
            "description": "HTTP Basic: a login and password (where a rule or endpoint \
                lists `basic`), a login and personal access token, or an OAuth2 client."
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_description_lists_exactly_the_routes_of_the_router() {
        let settings = HttpSettings::default();
        let doc = document(&settings);
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (path.clone(), m.to_uppercase()))
            })
            .filter(|(path, _)| !ROOT_PATHS.contains(&path.as_str()))
            .collect();
        let routed: BTreeSet<(String, String)> = super::super::routes()
            .into_iter()
            .flat_map(|r| {
                r.methods
                    .into_iter()
                    .map(move |(m, _)| (format!("{}{}", settings_base(), r.path), m.to_string()))
            })
            .collect();
        let missing: Vec<_> = routed.difference(&documented).collect();
        let invented: Vec<_> = documented.difference(&routed).collect();
        assert!(
            missing.is_empty(),
            "routes missing from the description: {missing:?}"
        );
        assert!(
            invented.is_empty(),
            "described routes that do not exist: {invented:?}"
        );
    }

    fn settings_base() -> String {
        HttpSettings::default()
            .base_path
            .trim_end_matches('/')
            .to_owned()
    }

    #[test]
    fn every_operation_states_its_authorizations_and_errors() {
        let doc = document(&HttpSettings::default());
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let description = op["description"].as_str().unwrap_or("");
                assert!(
                    description.contains("**Authorizations:**"),
                    "{method} {path}"
                );
                assert!(op["responses"]["500"].is_object(), "{method} {path}");
                assert!(op["operationId"].is_string(), "{method} {path}");
            }
        }
    }

    #[test]
    fn admin_operations_name_their_permission_as_scopes() {
        let doc = document(&HttpSettings::default());
        let op = &doc["paths"][&format!("{}/admin/users", settings_base())]["get"];
        let security = op["security"].as_array().unwrap();
        assert!(security.contains(&json!({ "oauth2": ["tessera:users:read"] })));
        assert!(security.contains(&json!({ "sessionToken": ["tessera:users:read"] })));
        let op = &doc["paths"][&format!("{}/tokens", settings_base())]["post"];
        let security = op["security"].as_array().unwrap();
        assert!(security.contains(&json!({ "sessionCookie": [], "csrfToken": [] })));
        assert!(
            !security
                .iter()
                .any(|r| r.get("personalAccessToken").is_some())
        );
    }
}
