//! Session info, logout, and the caller's list of sessions.

use axum::Json;
use axum::extract::{RawQuery, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tessera_core::{Identity, Permission, Timestamp};

use crate::auth::{Authenticated, AuthenticatedUnchecked, Carrier, PasswordSession};
use crate::context::contexts;
use crate::cookies::ClearSessionCookie;
use crate::csrf::{self, Binding, IssueToken};
use crate::{AppState, Problem};

/// Who the caller is: the user, their effective permissions, and the session or token
/// that authenticated the request. Typed rather than built as a `serde_json::Value`,
/// since it is answered on every `GET {base}/session`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct InfoBody<'a> {
    /// The session's id (`ses_...`), not a credential.
    sessionid: &'a str,
    /// What opened the session: `password`, `idp`, `api_key`, `access_token` or `pat`.
    #[schema(examples("password"))]
    kind: &'static str,
    login: &'a str,
    firstname: &'a str,
    lastname: &'a str,
    /// The preferred language tag.
    lang: &'a str,
    /// The roles granted to the user.
    #[schema(value_type = Vec<String>)]
    roles: &'a [String],
    /// What this credential may do: the user's permissions, limited to its scopes.
    permissions: Vec<&'a str>,
    /// The scopes the credential is limited to; null: all of the user's permissions.
    #[schema(value_type = Option<Vec<String>>)]
    scopes: Option<&'a [String]>,
    created_at: Timestamp,
    last_seen_at: Timestamp,
    /// The absolute expiry.
    expires_at: Timestamp,
    /// When the session ends unless used before; null when there is no idle timeout.
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
#[utoipa::path(
    get,
    path = "/session",
    tag = "login",
    summary = "The current session",
    description = "Who the caller is and what the credential may do. Counts as activity: \
        it slides the session's idle timeout.",
    security(("signed_in" = [])),
    responses((status = 200, description = "The session", body = InfoBody)),
)]
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

/// `DELETE {base}/session`: end the current session.
#[utoipa::path(
    delete,
    path = "/session",
    tag = "login",
    summary = "Log out",
    description = "Ends the session (or revokes the token) that authenticated the request, \
        expires the session cookie and renews the CSRF token.",
    security(("signed_in" = [])),
    responses((status = 204, description = "Ended")),
)]
pub async fn end(State(state): State<AppState>, auth: Authenticated) -> Result<Response, Problem> {
    end_and(&state, &auth, StatusCode::NO_CONTENT.into_response()).await
}

/// `DELETE {base}/login`: the same as `DELETE {base}/session`.
#[utoipa::path(
    delete,
    path = "/login",
    tag = "login",
    summary = "Log out (alias)",
    description = "The same as `DELETE` on the session endpoint.",
    security(("signed_in" = [])),
    responses((status = 204, description = "Ended")),
)]
pub async fn end_login(state: State<AppState>, auth: Authenticated) -> Result<Response, Problem> {
    end(state, auth).await
}

/// `GET {base}/logout`: only for a credential sent in a header. A cookie-only logout must
/// be a POST with the CSRF token, or any page could log a user out with an `<img>`.
#[utoipa::path(
    get,
    path = "/logout",
    tag = "login",
    summary = "Log out a header credential",
    description = "For a credential sent in a header (session token, personal access token, \
        API-key or access token). A session carried only by the cookie gets 403 \
        `csrf_failed`: it logs out with `POST`, so that no page can log a user out with \
        an image.",
    security(("signed_in" = [])),
    params(("next" = Option<String>, Query, description = "A local path to redirect to afterwards")),
    responses(
        (status = 204, description = "Ended"),
        (status = 303, description = "Ended; redirected to `next`", headers(("Location" = String, description = "`next`"))),
    ),
)]
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
#[utoipa::path(
    post,
    path = "/logout",
    tag = "login",
    summary = "Log out",
    description = "Ends the session. A cookie-carried session sends the CSRF token in the \
        header or in the `csrfmiddlewaretoken` form field.",
    security(("signed_in" = [])),
    params(("next" = Option<String>, Query, description = "A local path to redirect to afterwards")),
    request_body(
        content = LogoutForm,
        content_type = "application/x-www-form-urlencoded",
        description = "Optional: the CSRF token and `next`",
    ),
    responses(
        (status = 204, description = "Ended"),
        (status = 303, description = "Ended; redirected to `next`", headers(("Location" = String, description = "`next`"))),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/sessions",
    tag = "sessions",
    summary = "List your sessions",
    description = "The caller's live sessions of every kind, newest first, with where and \
        from what they were opened; never a token.",
    security(("password_session" = [])),
    responses((status = 200, description = "The sessions", body = Vec<SessionListed>)),
)]
pub async fn list(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let sessions = state.auth.list_sessions(&auth.identity).await?;
    let now = Timestamp::now();
    let body: Vec<SessionListed> = sessions
        .iter()
        .filter(|s| !s.is_expired(now))
        .map(|s| {
            let mut v = SessionListed::of(s);
            v.current = Some(s.id == auth.identity.session.id);
            v
        })
        .collect();
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response())
}

/// `DELETE {base}/sessions/{id}`: end one of my sessions; someone else's is 404.
#[utoipa::path(
    delete,
    path = "/sessions/{id}",
    tag = "sessions",
    summary = "End one of your sessions",
    security(("password_session" = [])),
    params(("id" = String, Path, description = "The session's id (`ses_...`)")),
    responses(
        (status = 204, description = "Ended (the cookie is expired when it was this session)"),
        (status = 404, description = "The caller has no such session (`not_found`)", body = Problem, content_type = "application/problem+json"),
    ),
)]
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
#[utoipa::path(
    delete,
    path = "/sessions",
    tag = "sessions",
    summary = "End your other sessions",
    description = "Ends every session of the caller but the current one.",
    security(("password_session" = [])),
    responses((status = 204, description = "Ended")),
)]
pub async fn revoke_others(
    State(state): State<AppState>,
    PasswordSession(auth): PasswordSession,
) -> Result<Response, Problem> {
    let n = state.auth.revoke_other_sessions(&auth.identity).await?;
    tracing::info!(user = %auth.identity.user.login, revoked = n, "other sessions revoked");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A session as the listings show it (never its token).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SessionListed<'a> {
    /// The session's id (`ses_...`), for ending it.
    id: &'a str,
    /// What opened it: `password`, `idp`, `api_key`, `access_token` or `pat`.
    #[schema(examples("password"))]
    kind: &'static str,
    created_at: Timestamp,
    last_seen_at: Timestamp,
    /// The absolute expiry.
    expires_at: Timestamp,
    /// When it ends unless used before; null without an idle timeout.
    idle_expires_at: Option<Timestamp>,
    /// The client address it was opened from.
    ip: Option<&'a str>,
    /// The `User-Agent` it was opened with.
    user_agent: Option<&'a str>,
    /// Whether it is the session of this request (only in the caller's own list).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    current: Option<bool>,
}

impl<'a> SessionListed<'a> {
    pub(crate) fn of(s: &'a tessera_core::session::Session) -> Self {
        Self {
            id: &s.id,
            kind: s.kind.as_str(),
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            expires_at: s.expires_at,
            idle_expires_at: s.idle_expires_at,
            ip: s.ip.as_deref(),
            user_agent: s.user_agent.as_deref(),
            current: None,
        }
    }
}

/// The optional form of `POST {base}/logout`.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the fields the handler reads one by one.
pub struct LogoutForm {
    /// The CSRF token (for a cookie-carried session, instead of the header).
    csrfmiddlewaretoken: Option<String>,
    /// A local path to redirect to afterwards.
    next: Option<String>,
}
