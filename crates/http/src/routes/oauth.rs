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
use tessera_core::{AuthFailure, PermissionSet, User};

use crate::body::{Fields, field, query_pairs, read_form_fields};
use crate::context::RequestContext;
use crate::context::contexts;
use crate::credentials::{self, Presented};
use crate::{AppState, Problem};

/// An RFC 6749 §5.2 error answer (`application/json`), with the problem-details members
/// alongside for clients that read those.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OAuthErrorBody<'a> {
    /// The RFC 6749 error code: `invalid_request`, `invalid_client`, `invalid_scope`,
    /// `unsupported_grant_type`, `too_many_attempts`, `temporarily_unavailable` or
    /// `server_error`.
    #[schema(examples("invalid_client"))]
    error: &'static str,
    /// What was wrong, for a person.
    error_description: &'a str,
    /// The HTTP status.
    status: u16,
    /// The status's reason phrase.
    title: &'static str,
    /// The same as `error`.
    code: &'static str,
    /// The same as `error_description`.
    detail: &'a str,
}

/// The access token of the client-credentials grant.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct AccessTokenBody<'a> {
    /// The access token (`tsa_...`), sent as `Authorization: Bearer`.
    access_token: &'a str,
    /// Always `bearer`.
    #[schema(examples("bearer"))]
    token_type: &'static str,
    /// Seconds until it expires.
    expires_in: i64,
    /// The permissions it carries, space-separated; omitted when it carries none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    scope: Option<String>,
}

/// What introspection tells of a token (RFC 7662): `{"active": false}` for anything
/// inactive, unknown, or not the caller's to see.
#[derive(serde::Serialize, utoipa::ToSchema, Default)]
pub struct IntrospectBody<'a> {
    active: bool,
    /// Its permissions, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    scope: Option<String>,
    /// The owner's login.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    client_id: Option<&'a str>,
    /// The owner's login.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    username: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, examples("bearer"))]
    token_type: Option<&'static str>,
    /// When it expires, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    exp: Option<i64>,
    /// When it was issued, in Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    iat: Option<i64>,
    /// The owner's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    sub: Option<String>,
    /// The session's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    jti: Option<&'a str>,
    /// What it is: `password`, `idp`, `api_key`, `access_token` or `pat`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    kind: Option<&'static str>,
}

/// The form fields of the token endpoint.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the fields the handler reads one by one.
pub struct TokenForm {
    /// `client_credentials`.
    #[schema(examples("client_credentials"))]
    grant_type: String,
    /// Permissions to limit the token to, space-separated (each one the client holds).
    scope: Option<String>,
    /// Seconds the token should live, up to `tokens.access_token_lifetime`.
    expires_in: Option<u64>,
    /// The client's login, unless sent by HTTP Basic.
    client_id: Option<String>,
    /// The account's client secret, unless sent by HTTP Basic.
    #[schema(format = Password)]
    client_secret: Option<String>,
}

/// The form fields of introspection and revocation.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the fields the handler reads one by one.
pub struct TokenParameter {
    /// The token.
    token: String,
    /// The client's login, unless sent by HTTP Basic.
    client_id: Option<String>,
    /// The account's client secret, unless sent by HTTP Basic.
    #[schema(format = Password)]
    client_secret: Option<String>,
}

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
        let body = OAuthErrorBody {
            error: self.error,
            error_description: &self.description,
            status: self.status.as_u16(),
            title: self.status.canonical_reason().unwrap_or(""),
            code: self.error,
            detail: &self.description,
        };
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

/// `POST {base}/oauth/token`: the client-credentials grant.
#[utoipa::path(
    post,
    path = "/oauth/token",
    tag = "oauth",
    summary = "Get an access token (client credentials)",
    description = "The OAuth2 client-credentials grant (RFC 6749 section 4.4): the client is \
        the account, its id the login and its secret the account's client secret. Errors \
        are RFC 6749 JSON, with the problem-details members alongside.",
    security(("client" = [])),
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "The access token", body = AccessTokenBody),
        (status = 400, description = "A parameter is missing, repeated or refused, or a secret in the URL (`invalid_request`), an unknown grant type (`unsupported_grant_type`) or a scope the client does not hold (`invalid_scope`); plain HTTP where HTTPS is required", body = OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = OAuthErrorBody, headers(("WWW-Authenticate" = String, description = "`Basic realm=\"tessera\"`"))),
        (status = 408, description = "The body arrived too slowly", body = OAuthErrorBody),
        (status = 413, description = "The body is over the limit", body = OAuthErrorBody),
        (status = 415, description = "The body is not `application/x-www-form-urlencoded`", body = OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications (`too_many_attempts`)", body = OAuthErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 500, description = "A fault on the server (`server_error`)", body = OAuthErrorBody),
        (status = 503, description = "The database does not answer (`temporarily_unavailable`)", body = OAuthErrorBody),
    ),
)]
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
    // Omitted when empty: `""` reads as one empty scope to OAuth2 libraries.
    let scope = identity.effective_scope();
    let body = AccessTokenBody {
        access_token: token.expose(),
        token_type: "bearer",
        expires_in,
        scope: (!scope.is_empty()).then_some(scope),
    };
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
#[utoipa::path(
    post,
    path = "/oauth/introspect",
    tag = "oauth",
    summary = "Introspect a token (RFC 7662)",
    description = "Any token Tessera issued. Its owner, or an account holding \
        `tokens:introspect`, learns what it is; anyone else, and any token that is \
        inactive or unknown, gets `{\"active\": false}`.",
    security(("client" = [])),
    request_body(content = TokenParameter, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "What the token is", body = IntrospectBody),
        (status = 400, description = "A parameter is missing, repeated or refused, or a secret in the URL (`invalid_request`); plain HTTP where HTTPS is required", body = OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = OAuthErrorBody, headers(("WWW-Authenticate" = String, description = "`Basic realm=\"tessera\"`"))),
        (status = 408, description = "The body arrived too slowly", body = OAuthErrorBody),
        (status = 413, description = "The body is over the limit", body = OAuthErrorBody),
        (status = 415, description = "The body is not `application/x-www-form-urlencoded`", body = OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications (`too_many_attempts`)", body = OAuthErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 500, description = "A fault on the server (`server_error`)", body = OAuthErrorBody),
        (status = 503, description = "The database does not answer (`temporarily_unavailable`)", body = OAuthErrorBody),
    ),
)]
pub async fn introspect(State(state): State<AppState>, req: Request) -> Response {
    introspect_inner(state, req)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn introspect_inner(state: AppState, req: Request) -> Result<Response, OAuthError> {
    let (caller, caller_perms, token) = client_and_token(&state, req).await?;
    let token = token.as_str();
    let inactive = || no_store(Json(IntrospectBody::default()).into_response());
    let identity = match state.auth.introspect(token).await {
        Ok(i) => i,
        Err(AuthFailure::Unavailable(_)) => return Err(Problem::service_unavailable().into()),
        Err(_) => return Ok(inactive()),
    };
    if identity.user.id != caller.id && !caller_perms.allows("tokens:introspect") {
        return Ok(inactive());
    }
    let s = &identity.session;
    let body = IntrospectBody {
        active: true,
        scope: Some(identity.effective_scope()),
        client_id: Some(&identity.user.login),
        username: Some(&identity.user.login),
        token_type: Some("bearer"),
        exp: Some(s.expires_at.unix()),
        iat: Some(s.created_at.unix()),
        sub: Some(identity.user.id.to_string()),
        jti: Some(&s.id),
        kind: Some(s.kind.as_str()),
    };
    Ok(no_store(Json(body).into_response()))
}

/// `POST {base}/oauth/revoke`: 200 whatever the token, revoking it only when the
/// authenticated client owns it.
#[utoipa::path(
    post,
    path = "/oauth/revoke",
    tag = "oauth",
    summary = "Revoke a token (RFC 7009)",
    description = "Revokes the token when the client owns it; answers 200 whatever the \
        token, so that the answer tells nothing about tokens of others.",
    security(("client" = [])),
    request_body(content = TokenParameter, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "A parameter is missing, repeated or refused, or a secret in the URL (`invalid_request`); plain HTTP where HTTPS is required", body = OAuthErrorBody),
        (status = 401, description = "Client authentication failed (`invalid_client`)", body = OAuthErrorBody, headers(("WWW-Authenticate" = String, description = "`Basic realm=\"tessera\"`"))),
        (status = 408, description = "The body arrived too slowly", body = OAuthErrorBody),
        (status = 413, description = "The body is over the limit", body = OAuthErrorBody),
        (status = 415, description = "The body is not `application/x-www-form-urlencoded`", body = OAuthErrorBody),
        (status = 429, description = "Too many failed client authentications (`too_many_attempts`)", body = OAuthErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 500, description = "A fault on the server (`server_error`)", body = OAuthErrorBody),
        (status = 503, description = "The database does not answer (`temporarily_unavailable`)", body = OAuthErrorBody),
    ),
)]
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
