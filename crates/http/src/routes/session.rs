//! Session info, logout, and the caller's list of sessions.

use axum::Json;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::{Value, json};
use tessera_core::{Identity, Permission, Timestamp};

use crate::auth::{Authenticated, AuthenticatedUnchecked, Carrier, PasswordSession};
use crate::context::contexts;
use crate::cookies::ClearSessionCookie;
use crate::csrf::{self, Binding, IssueToken};
use crate::{AppState, Problem};

/// The session info document (README, "Endpoints"). Typed rather than built as a
/// `serde_json::Value`, since it is answered on every `GET {base}/session`.
#[derive(serde::Serialize)]
pub struct InfoBody<'a> {
    sessionid: &'a str,
    kind: &'static str,
    login: &'a str,
    firstname: &'a str,
    lastname: &'a str,
    lang: &'a str,
    roles: &'a [String],
    permissions: Vec<&'a str>,
    scopes: Option<&'a [String]>,
    created_at: Timestamp,
    last_seen_at: Timestamp,
    expires_at: Timestamp,
    idle_expires_at: Option<Timestamp>,
}

pub fn info_body(id: &Identity) -> InfoBody<'_> {
    let s = &id.session;
    InfoBody {
        sessionid: &s.id,
        kind: s.kind.as_str(),
        login: &id.user.login,
        firstname: &id.user.first_name,
        lastname: &id.user.last_name,
        lang: &id.user.lang,
        roles: &id.user.roles,
        permissions: id.permissions.iter().map(Permission::as_str).collect(),
        scopes: s.scopes.as_deref(),
        created_at: s.created_at,
        last_seen_at: s.last_seen_at,
        expires_at: s.expires_at,
        idle_expires_at: s.idle_expires_at,
    }
}

pub fn info_response(id: &Identity) -> Response {
    ([(header::CACHE_CONTROL, "no-store")], Json(info_body(id))).into_response()
}

/// `GET {base}/session`: who am I; also counts as activity (slides the idle timeout).
pub async fn info(auth: Authenticated) -> Response {
    info_response(&auth.identity)
}

/// Ends the session and answers `ok`, expiring the cookie and renewing the CSRF token.
async fn end_and(
    state: &AppState,
    auth: &Authenticated,
    ok: Response,
) -> Result<Response, Problem> {
    state.auth.end_session(&auth.identity).await?;
    tracing::info!(user = %auth.identity.user.login, session = %auth.identity.session.id, "session ended");
    let mut res = ok;
    res.extensions_mut().insert(ClearSessionCookie);
    res.extensions_mut().insert(IssueToken(csrf::new_token(
        &state.csrf_signer,
        Binding::Anonymous,
    )));
    Ok(res)
}

/// `DELETE {base}/login`, `DELETE {base}/session`: end the current session.
pub async fn end(State(state): State<AppState>, auth: Authenticated) -> Result<Response, Problem> {
    end_and(&state, &auth, StatusCode::NO_CONTENT.into_response()).await
}

/// `GET {base}/logout`: only for a credential sent in a header. A cookie-only logout must
/// be a POST with the CSRF token, or any page could log a user out with an `<img>`.
pub async fn logout_get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    AuthenticatedUnchecked(auth): AuthenticatedUnchecked,
) -> Result<Response, Problem> {
    if auth.carrier == Carrier::Cookie {
        return Err(Problem::csrf_failed(
            "log out a cookie session with POST and the CSRF token",
        ));
    }
    end_and(&state, &auth, after_logout(query.as_deref())).await
}

/// `POST {base}/logout`: for the cookie, the CSRF token in the header or the form field.
pub async fn logout_post(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    AuthenticatedUnchecked(auth): AuthenticatedUnchecked,
    req: Request,
) -> Result<Response, Problem> {
    let (parts, body) = req.into_parts();
    let form = crate::body::read_form_fields(&parts.headers, body).await?;
    if auth.carrier == Carrier::Cookie {
        let (_, csrf_ctx) = contexts(&parts)?;
        let field = crate::body::field(&form, &state.settings.csrf.form_field);
        csrf_ctx.check_request(&parts.headers, &state.settings.csrf, field)?;
    }
    let next = crate::body::field(&form, "next").map(str::to_owned);
    let query_next = crate::body::query_pairs(query.as_deref())?
        .into_iter()
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v);
    let ok = match next.or(query_next) {
        Some(n) => Redirect::to(&crate::body::safe_next(&n)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    end_and(&state, &auth, ok).await
}

fn after_logout(query: Option<&str>) -> Response {
    let next = crate::body::query_pairs(query)
        .ok()
        .and_then(|p| p.into_iter().find(|(k, _)| k == "next").map(|(_, v)| v));
    match next {
        Some(n) => Redirect::to(&crate::body::safe_next(&n)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// `GET {base}/sessions`: my live sessions (password sessions only: the list shows where
/// and from what the account is used).
pub async fn list(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let sessions = state.auth.list_sessions(&auth.identity).await?;
    let now = Timestamp::now();
    let body: Vec<Value> = sessions
        .iter()
        .filter(|s| !s.is_expired(now))
        .map(|s| {
            let mut v = session_json(s);
            v["current"] = json!(s.id == auth.identity.session.id);
            v
        })
        .collect();
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// `DELETE {base}/sessions/{id}`: end one of my sessions; someone else's is 404.
pub async fn revoke_one(
    State(state): State<AppState>,
    crate::params::Id(id): crate::params::Id,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    if !state.auth.revoke_session(&auth.identity, &id).await? {
        return Err(Problem::not_found().with_detail("no such session"));
    }
    tracing::info!(user = %auth.identity.user.login, session = %id, "session revoked");
    let mut res = StatusCode::NO_CONTENT.into_response();
    if id == auth.identity.session.id {
        res.extensions_mut().insert(ClearSessionCookie);
    }
    Ok(res)
}

/// `DELETE {base}/sessions`: end all my other sessions.
pub async fn revoke_others(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let n = state.auth.revoke_other_sessions(&auth.identity).await?;
    tracing::info!(user = %auth.identity.user.login, revoked = n, "other sessions revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A session as the listings show it (never its token).
pub(crate) fn session_json(s: &tessera_core::session::Session) -> Value {
    json!({
        "id": s.id,
        "kind": s.kind.as_str(),
        "created_at": s.created_at,
        "last_seen_at": s.last_seen_at,
        "expires_at": s.expires_at,
        "idle_expires_at": s.idle_expires_at,
        "ip": s.ip,
        "user_agent": s.user_agent,
    })
}
