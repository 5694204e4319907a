//! OAuth2: the client-credentials grant (RFC 6749 §4.4), token introspection (RFC 7662)
//! and revocation (RFC 7009). Clients authenticate with their login as client id and
//! their client secret, by HTTP Basic or form fields (§2.3.1), never in the URL.

use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera_core::{AuthFailure, PermissionSet, User};

use crate::body::{Fields, field, query_pairs, read_form_fields};
use crate::context::RequestContext;
use crate::context::contexts;
use crate::credentials::{self, Presented};
use crate::{AppState, Problem};

/// An RFC 6749 §5.2 error, with the problem-details members alongside.
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            retry_after: None,
        }
    }

    fn invalid_request(d: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", d)
    }

    fn invalid_client() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        )
    }
}

impl From<Problem> for OAuthError {
    fn from(p: Problem) -> Self {
        let error = match p.status {
            StatusCode::SERVICE_UNAVAILABLE => "temporarily_unavailable",
            StatusCode::INTERNAL_SERVER_ERROR => "server_error",
            _ => "invalid_request",
        };
        Self::new(
            p.status,
            error,
            p.detail.unwrap_or_else(|| p.title.to_owned()),
        )
    }
}

impl From<tessera_core::Error> for OAuthError {
    fn from(e: tessera_core::Error) -> Self {
        match e {
            tessera_core::Error::ScopeNotHeld(s) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("scope `{s}` is not among the client's permissions"),
            ),
            tessera_core::Error::InvalidPermission(s, why) => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                format!("invalid scope `{s}`: {why}"),
            ),
            tessera_core::Error::Invalid { field, reason } => {
                Self::invalid_request(format!("{field}: {reason}"))
            }
            other => Problem::from(other).into(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": self.error,
            "error_description": self.description,
            "status": self.status.as_u16(),
            "title": self.status.canonical_reason().unwrap_or(""),
            "code": self.error,
            "detail": self.description,
        });
        let mut res = (self.status, Json(body)).into_response();
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(r) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(r));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tessera\", charset=\"UTF-8\""),
            );
        }
        res
    }
}

/// The form body, refusing repeated parameters (RFC 6749 §3.2) and secrets in the URL.
async fn form(parts: &Parts, body: Body) -> Result<Fields, OAuthError> {
    let query = query_pairs(parts.uri.query())?;
    if query
        .iter()
        .any(|(k, _)| k == "client_secret" || k == "token")
    {
        return Err(OAuthError::invalid_request(
            "credentials and tokens are not accepted in the URL",
        ));
    }
    let media = crate::body::media_type(&parts.headers).map_err(|p| {
        OAuthError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            p.detail.as_deref().unwrap_or("unsupported media type"),
        )
    })?;
    if media != "application/x-www-form-urlencoded" {
        return Err(OAuthError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send application/x-www-form-urlencoded",
        ));
    }
    let fields = read_form_fields(&parts.headers, body).await?;
    for (i, (k, _)) in fields.iter().enumerate() {
        if fields[..i].iter().any(|(other, _)| other == k) {
            return Err(OAuthError::invalid_request(format!(
                "parameter `{k}` is repeated"
            )));
        }
    }
    Ok(fields)
}

/// Client authentication by Basic or form fields (not both).
async fn authenticate_client(
    state: &AppState,
    parts: &Parts,
    ctx: &RequestContext,
    fields: &Fields,
) -> Result<(User, PermissionSet), OAuthError> {
    if !ctx.credentials_allowed {
        return Err(Problem::https_required().into());
    }
    let in_form = (field(fields, "client_id"), field(fields, "client_secret"));
    let (id, secret) = match credentials::extract(parts, &state.settings, ctx) {
        Ok(Presented::Basic { username, password }) => {
            if in_form.1.is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method",
                ));
            }
            (
                decode_component(&username),
                decode_component(password.expose()),
            )
        }
        Ok(Presented::None | Presented::Cookie(_)) => match in_form {
            (Some(i), Some(s)) => (i.to_owned(), s.to_owned()),
            _ => return Err(OAuthError::invalid_client()),
        },
        Ok(_) | Err(_) => return Err(OAuthError::invalid_client()),
    };
    let ip = ctx.client_ip.map(|ip| ip.to_string());
    match state
        .auth
        .authenticate_client(&id, &secret, ip.as_deref())
        .await
    {
        Ok(found) => Ok(found),
        Err(AuthFailure::Throttled(r)) => {
            let mut e = OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed attempts; try again later",
            );
            e.retry_after = Some(r);
            Err(e)
        }
        Err(AuthFailure::Unavailable(e)) => {
            tracing::error!(error = %e, "client authentication failed: database unavailable");
            Err(Problem::service_unavailable().into())
        }
        Err(_) => {
            tracing::info!("OAuth2 client authentication failed");
            Err(OAuthError::invalid_client())
        }
    }
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
fn decode_component(s: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!(
        "v={}",
        s.replace('&', "%26").replace('=', "%3D")
    ))
    .ok()
    .and_then(|mut v| v.pop())
    .map_or_else(|| s.to_owned(), |(_, v)| v)
}

fn no_store(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `POST {base}/oauth/token`.
pub async fn token(State(state): State<AppState>, req: Request) -> Response {
    token_inner(state, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn token_inner(state: AppState, req: Request) -> Result<Response, OAuthError> {
    let (parts, body) = req.into_parts();
    let (ctx, _) = contexts(&parts)?;
    let fields = form(&parts, body).await?;
    let (user, permissions) = authenticate_client(&state, &parts, ctx, &fields).await?;
    match field(&fields, "grant_type") {
        Some("client_credentials") => {}
        Some(other) => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!(
                    "grant_type `{}` is not supported",
                    other
                        .chars()
                        .filter(|c| !c.is_control())
                        .take(64)
                        .collect::<String>()
                ),
            ));
        }
        None => return Err(OAuthError::invalid_request("grant_type is required")),
    }
    let scopes = field(&fields, "scope")
        .map(|s| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
    let scopes = scopes.filter(|s| !s.is_empty());
    let lifetime = match field(&fields, "expires_in") {
        Some(v) => Some(Duration::from_secs(v.parse::<u64>().map_err(|_| {
            OAuthError::invalid_request("expires_in must be a number of seconds")
        })?)),
        None => None,
    };
    let client = ctx.client_info(&parts.headers, "client_credentials");
    let (identity, token) = state
        .auth
        .issue_access_token(user, &permissions, scopes, lifetime, client)
        .await?;
    let expires_in = identity.session.expires_at.unix() - identity.session.created_at.unix();
    let mut body = json!({
        "access_token": token.expose(),
        "token_type": "bearer",
        "expires_in": expires_in,
    });
    // Omitted when empty: `""` reads as one empty scope to OAuth2 libraries.
    let scope = identity.effective_scope();
    if !scope.is_empty() {
        body["scope"] = json!(scope);
    }
    Ok(no_store(Json(body).into_response()))
}

/// The authenticated client, its permissions, and the `token` parameter of an
/// introspection or revocation request.
async fn client_and_token(
    state: &AppState,
    req: Request,
) -> Result<(User, PermissionSet, String), OAuthError> {
    let (parts, body) = req.into_parts();
    let (ctx, _) = contexts(&parts)?;
    let fields = form(&parts, body).await?;
    let (caller, permissions) = authenticate_client(state, &parts, ctx, &fields).await?;
    let token = field(&fields, "token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_owned();
    Ok((caller, permissions, token))
}

/// `POST {base}/oauth/introspect`: for the token's owner or an account holding
/// `tokens:introspect`; anything else, and anything inactive, is `{"active":false}`.
pub async fn introspect(State(state): State<AppState>, req: Request) -> Response {
    introspect_inner(state, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn introspect_inner(state: AppState, req: Request) -> Result<Response, OAuthError> {
    let (caller, caller_perms, token) = client_and_token(&state, req).await?;
    let token = token.as_str();
    let inactive = || no_store(Json(json!({ "active": false })).into_response());
    let identity = match state.auth.introspect(token).await {
        Ok(i) => i,
        Err(AuthFailure::Unavailable(_)) => return Err(Problem::service_unavailable().into()),
        Err(_) => return Ok(inactive()),
    };
    if identity.user.id != caller.id && !caller_perms.allows("tokens:introspect") {
        return Ok(inactive());
    }
    let s = &identity.session;
    let body = json!({
        "active": true,
        "scope": identity.effective_scope(),
        "client_id": identity.user.login,
        "username": identity.user.login,
        "token_type": "bearer",
        "exp": s.expires_at.unix(),
        "iat": s.created_at.unix(),
        "sub": identity.user.id.to_string(),
        "jti": s.id,
        "kind": s.kind.as_str(),
    });
    Ok(no_store(Json(body).into_response()))
}

/// `POST {base}/oauth/revoke`: 200 whatever the token, revoking it only when the
/// authenticated client owns it.
pub async fn revoke(State(state): State<AppState>, req: Request) -> Response {
    revoke_inner(state, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn revoke_inner(state: AppState, req: Request) -> Result<Response, OAuthError> {
    let (caller, _, token) = client_and_token(&state, req).await?;
    match state.auth.introspect(&token).await {
        Ok(identity) if identity.user.id == caller.id => {
            state.auth.end_session(&identity).await?;
            tracing::info!(user = %caller.login, session = %identity.session.id, "token revoked");
        }
        Err(AuthFailure::Unavailable(_)) => return Err(Problem::service_unavailable().into()),
        _ => {}
    }
    Ok(no_store(StatusCode::OK.into_response()))
}
