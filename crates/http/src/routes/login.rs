//! `GET` and `POST {base}/login`: password login in every documented shape (Basic, forms,
//! JSON, query parameters when enabled) and every documented answer (redirect with
//! `access_token`, OAuth2-style JSON, JSON, `next` redirect, plain token).

use axum::Json;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value};
use tessera_core::{Identity, LoginOutcome, Password, Timestamp};

use super::session::InfoBody;
use crate::auth::authenticate;
use crate::body::{
    BodyKind, Fields, classify, field, parse_multipart, parse_urlencoded, query_pairs, read,
    safe_next,
};
use crate::context::RequestContext;
use crate::context::contexts;
use crate::cookies::SetSessionCookie;
use crate::credentials::{self, Presented};
use crate::csrf::{self, Binding, CsrfContext, IssueToken};
use crate::problem::Challenge;
use crate::settings::LoginOutput;
use crate::{AppState, Problem};

/// How a login's credentials arrived (recorded, and decides the 401 challenge).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method_ {
    Basic,
    Form,
    Json,
    Query,
}

impl Method_ {
    fn as_str(self) -> &'static str {
        match self {
            Self::Basic => "basic",
            Self::Form => "form",
            Self::Json => "json",
            Self::Query => "query",
        }
    }
}

struct Credentials {
    username: String,
    password: Password,
    method: Method_,
}

/// How the client wants a successful login answered.
enum Output {
    Redirect(String),
    OAuth2,
    Json,
    Next(String),
    Plain,
}

fn is_true(v: Option<&str>) -> bool {
    matches!(v, Some("true" | "1" | "yes"))
}

/// `Accept` lists `media_type` (parameters and quality ignored).
fn accepts(headers: &HeaderMap, media_type: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|m| {
            m.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(media_type)
        })
}

/// The answer of a password login that asks for no format (`login.default_output`):
/// under `auto`, JSON when the request's body was JSON, the plain token otherwise.
fn default_output(setting: LoginOutput, json_body: bool) -> Output {
    match setting {
        LoginOutput::Json => Output::Json,
        LoginOutput::Auto if json_body => Output::Json,
        LoginOutput::Auto | LoginOutput::Plain => Output::Plain,
    }
}

/// Decided before the password is checked, so a refused output creates no session.
/// Explicit options win over `default`: the parameters, then `Accept: application/json`,
/// then `next`, then `Accept: text/plain`.
fn choose_output(
    params: &Fields,
    headers: &HeaderMap,
    ctx: &RequestContext,
    state: &AppState,
    default: Output,
) -> Result<Output, Problem> {
    let p = |k| field(params, k);
    if let Some(uri) = p("redirect_uri") {
        if state.settings.redirect_uris.iter().any(|u| u == uri) {
            return Ok(Output::Redirect(uri.to_owned()));
        }
        return Err(Problem::redirect_uri_not_allowed());
    }
    if p("_output") == Some("oauth2") || is_true(p("_oauth2")) {
        if !ctx.https {
            return Err(Problem::https_required().with_detail("OAuth2-style output needs HTTPS"));
        }
        return Ok(Output::OAuth2);
    }
    if p("_output") == Some("json") || is_true(p("_json")) || p("format") == Some("json") {
        return Ok(Output::Json);
    }
    if p("_output") == Some("plain") || p("format") == Some("plain") {
        return Ok(Output::Plain);
    }
    if accepts(headers, "application/json") {
        return Ok(Output::Json);
    }
    if let Some(next) = p("next") {
        return Ok(Output::Next(safe_next(next)));
    }
    if accepts(headers, "text/plain") {
        return Ok(Output::Plain);
    }
    Ok(default)
}

fn query_credentials(query: &Fields) -> Option<(String, String)> {
    Some((
        field(query, "username")?.to_owned(),
        field(query, "password")?.to_owned(),
    ))
}

/// `GET {base}/login`: log in with Basic (or query parameters when enabled); otherwise
/// session info for a valid credential; otherwise a login page for browsers, 401 for others.
#[utoipa::path(
    get,
    path = "/login",
    tag = "login",
    summary = "Log in with HTTP Basic, or show the session",
    description = "With HTTP Basic (or `username` and `password` in the query string, when \
        `login.allow_query_credentials` is on): a password login, answered like the POST. \
        With another credential: the session document, like `GET` on the session endpoint. \
        With neither: the sign-in page for a browser (`Accept: text/html`), else 401.",
    security(("password" = [])),
    params(
        ("_output" = Option<String>, Query, description = "`json`, `plain`, or `oauth2` (HTTPS only)"),
        ("next" = Option<String>, Query, description = "A local path to redirect to (302) after logging in"),
        ("redirect_uri" = Option<String>, Query, description = "One of `login.redirect_uris`: redirected to with `access_token=` added"),
    ),
    responses(
        (status = 200, description = "Logged in, or the session of the credential sent: the session document or the OAuth2-style answer as JSON, or the bare token as text", content(
            (LoginOrSession = "application/json"),
            (String = "text/plain"),
            (String = "text/html"),
        )),
        (status = 400, description = "A field is missing (`validation_failed`), credentials in the URL while they are refused or a malformed body (`invalid_request`), a `redirect_uri` not configured (`redirect_uri_not_allowed`), or plain HTTP where HTTPS is required (`https_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The credentials do not work (`invalid_credentials`): the same answer whether the account exists or not", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser's form post without the CSRF token (`csrf_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts from this address or on this account (`too_many_attempts`)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 302, description = "Logged in; redirected to `next` or `redirect_uri`", headers(("Location" = String, description = "Where to go"))),
    ),
)]
pub async fn get(State(state): State<AppState>, req: Request) -> Result<Response, Problem> {
    let (parts, _body) = req.into_parts();
    let (ctx, csrf_ctx) = contexts(&parts)?;
    let query = query_pairs(parts.uri.query())?;
    let presented = credentials::extract(&parts, &state.settings, ctx)?;
    if let Presented::Basic { username, password } = presented {
        let creds = Credentials {
            username,
            password,
            method: Method_::Basic,
        };
        let in_url = creds.method == Method_::Query;
        return login(
            in_url,
            password_login(&state, &parts, ctx, csrf_ctx, creds, &query, false),
        )
        .await;
    }
    if let Some((username, password)) = query_credentials(&query) {
        if !state.settings.allow_query_credentials {
            return Ok(without_referrer(
                query_credentials_refused().into_response(),
            ));
        }
        let creds = Credentials {
            username,
            password: Password::new(password),
            method: Method_::Query,
        };
        let in_url = creds.method == Method_::Query;
        return login(
            in_url,
            password_login(&state, &parts, ctx, csrf_ctx, creds, &query, false),
        )
        .await;
    }
    if !matches!(presented, Presented::None) {
        let auth = authenticate(&parts, &state).await?;
        return Ok(super::session::info_response(&auth.identity));
    }
    let html = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if html && state.settings.ui.is_some() {
        // The console's sign-in form, here (200), so that links to the login page work.
        let next = field(&query, "next").map(safe_next).unwrap_or_default();
        return Ok(crate::ui::sign_in_page(&state, &parts, next, Vec::new()));
    }
    if html {
        let token = csrf_ctx.current_or_new(&state.csrf_signer);
        let next = field(&query, "next").map(safe_next).unwrap_or_default();
        let mut res = login_page(&state, &parts, &token, &next).into_response();
        let h = res.headers_mut();
        // Never framed (clickjacking of the password form), no script at all.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res.extensions_mut().insert(IssueToken(token));
        return Ok(res);
    }
    Err(Problem::unauthenticated())
}

/// `POST {base}/login`: a password login opening a session, carried by the cookie
/// this answer sets and by the token in its body.
#[utoipa::path(
    post,
    path = "/login",
    tag = "login",
    summary = "Log in with a password",
    description = "The login and password as form fields, JSON members, or HTTP Basic \
        (query parameters only when `login.allow_query_credentials` is on). Opens a \
        session, sets the session cookie and a CSRF token bound to it, and answers in \
        the format asked for: a `_output`/`format` option (body or query), then \
        `Accept: application/json`, then `next`, then `Accept: text/plain`, else \
        `login.default_output` (JSON for a JSON body, the bare token otherwise).",
    security(("password" = [])),
    params(
        ("_output" = Option<String>, Query, description = "`json`, `plain`, or `oauth2` (HTTPS only)"),
        ("next" = Option<String>, Query, description = "A local path to redirect to (303) after logging in"),
    ),
    request_body(content(
        (LoginFields = "application/x-www-form-urlencoded"),
        (LoginFields = "application/json"),
        (LoginFields = "multipart/form-data"),
    ), description = "The credentials (unless sent by HTTP Basic) and output options"),
    responses(
        (status = 200, description = "Logged in: the session document or the OAuth2-style answer as JSON, or the bare token as text", content(
            (LoginAnswer = "application/json"),
            (String = "text/plain"),
        )),
        (status = 400, description = "A field is missing (`validation_failed`), credentials in the URL while they are refused or a malformed body (`invalid_request`), a `redirect_uri` not configured (`redirect_uri_not_allowed`), or plain HTTP where HTTPS is required (`https_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The credentials do not work (`invalid_credentials`): the same answer whether the account exists or not", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A browser's form post without the CSRF token (`csrf_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts from this address or on this account (`too_many_attempts`)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 303, description = "Logged in; redirected to `next` or `redirect_uri`", headers(("Location" = String, description = "Where to go"))),
    ),
)]
pub async fn post(State(state): State<AppState>, req: Request) -> Result<Response, Problem> {
    let (parts, body) = req.into_parts();
    let (ctx, csrf_ctx) = contexts(&parts)?;
    let query = query_pairs(parts.uri.query())?;
    let (mut params, json) = login_body(&parts.headers, body).await?;
    let presented = credentials::extract(&parts, &state.settings, ctx)?;
    let creds = match (presented, &json) {
        (Presented::Basic { username, password }, _) => Credentials {
            username,
            password,
            method: Method_::Basic,
        },
        (_, Some(map)) => {
            let s = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_owned);
            match (s("username"), s("password")) {
                (Some(u), Some(p)) => Credentials {
                    username: u,
                    password: Password::new(p),
                    method: Method_::Json,
                },
                _ => {
                    return Err(Problem::validation_failed(
                        "`username` and `password` (strings) are required",
                    ));
                }
            }
        }
        _ => match (field(&params, "username"), field(&params, "password")) {
            (Some(u), Some(p)) => Credentials {
                username: u.to_owned(),
                password: Password::new(p),
                method: Method_::Form,
            },
            _ => match query_credentials(&query) {
                Some(_) if !state.settings.allow_query_credentials => {
                    return Err(query_credentials_refused());
                }
                Some((u, p)) => Credentials {
                    username: u,
                    password: Password::new(p),
                    method: Method_::Query,
                },
                None => {
                    return Err(Problem::validation_failed(
                        "`username` and `password` are required",
                    ));
                }
            },
        },
    };
    // Output options may come in the query string or the body.
    params.extend(query);
    let in_url = creds.method == Method_::Query;
    let json_body = json.is_some();
    login(
        in_url,
        password_login(&state, &parts, ctx, csrf_ctx, creds, &params, json_body),
    )
    .await
}

/// `POST {base}/login/key`: exchange an API key and secret for an API-key session token.
/// Same answers as a password login (default JSON); never sets a session cookie.
#[utoipa::path(
    post,
    path = "/login/key",
    tag = "login",
    summary = "Exchange an API key and secret for a token",
    description = "The key and its secret as form fields, JSON members, or HTTP Basic (the \
        key as user name); never in the URL. Answers a short-lived token limited to the \
        key's scopes, in the formats of a password login (JSON by default); sets no \
        cookie.",
    security(("password" = [])),
    request_body(content(
        (KeyLoginFields = "application/x-www-form-urlencoded"),
        (KeyLoginFields = "application/json"),
        (KeyLoginFields = "multipart/form-data"),
    ), description = "The key and secret (unless sent by HTTP Basic) and output options"),
    responses(
        (status = 200, description = "Exchanged: the session document or the OAuth2-style answer as JSON, or the bare token as text", content(
            (LoginAnswer = "application/json"),
            (String = "text/plain"),
        )),
        (status = 400, description = "A field is missing (`validation_failed`), credentials in the URL while they are refused or a malformed body (`invalid_request`), a `redirect_uri` not configured (`redirect_uri_not_allowed`), or plain HTTP where HTTPS is required (`https_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The credentials do not work (`invalid_credentials`): the same answer for an unknown, disabled or deleted key", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts from this address (`too_many_attempts`)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
        (status = 303, description = "Exchanged; redirected to `next` or `redirect_uri`", headers(("Location" = String, description = "Where to go"))),
    ),
)]
pub async fn key(State(state): State<AppState>, req: Request) -> Result<Response, Problem> {
    let (parts, body) = req.into_parts();
    let (ctx, csrf_ctx) = contexts(&parts)?;
    let query = query_pairs(parts.uri.query())?;
    if field(&query, "api_secret").is_some() || field(&query, "apiSecret").is_some() {
        return Err(Problem::invalid_request(
            "the API secret is not accepted in the URL",
        ));
    }
    let (mut params, json) = login_body(&parts.headers, body).await?;
    let presented = credentials::extract(&parts, &state.settings, ctx)?;
    let (key_id, secret, challenge) = match (presented, &json) {
        (Presented::Basic { username, password }, _) => {
            (username, password.expose().to_owned(), Challenge::Basic)
        }
        (_, Some(map)) => {
            let s = |a: &str, b: &str| {
                map.get(a)
                    .or_else(|| map.get(b))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            match (s("apiKey", "api_key"), s("apiSecret", "api_secret")) {
                (Some(k), Some(v)) => (k, v, Challenge::Plain),
                _ => {
                    return Err(Problem::validation_failed(
                        "`apiKey` and `apiSecret` (strings) are required",
                    ));
                }
            }
        }
        _ => match (field(&params, "api_key"), field(&params, "api_secret")) {
            (Some(k), Some(v)) => (k.to_owned(), v.to_owned(), Challenge::Plain),
            _ => {
                return Err(Problem::validation_failed(
                    "`api_key` and `api_secret` are required",
                ));
            }
        },
    };
    if !ctx.credentials_allowed {
        return Err(Problem::https_required());
    }
    params.extend(query);
    let output = choose_output(&params, &parts.headers, ctx, &state, Output::Json)?;
    let client = ctx.client_info(&parts.headers, "key");
    let (identity, token) = match state
        .auth
        .login_with_api_key(&key_id, &secret, client)
        .await?
    {
        LoginOutcome::Success(identity, token) => (*identity, token),
        LoginOutcome::Failed => {
            tracing::info!("API key login failed");
            return Err(Problem::invalid_credentials(challenge));
        }
        LoginOutcome::Throttled(r) => return Err(Problem::too_many_attempts(r)),
    };
    tracing::info!(user = %identity.user.login, session = %identity.session.id, "API key login");
    let mut res = render(&identity, token.expose(), output, true, true);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.extensions_mut().insert(IssueToken(csrf::new_token(
        &state.csrf_signer,
        csrf_ctx.binding,
    )));
    Ok(res)
}

/// A login body: its form fields (or, for JSON, the output options among its members) and
/// the JSON object itself when it was JSON.
async fn login_body(
    headers: &axum::http::HeaderMap,
    body: axum::body::Body,
) -> Result<(Fields, Option<Map<String, Value>>), Problem> {
    let bytes = read(body).await?;
    Ok(match classify(headers, &bytes)? {
        BodyKind::Empty => (Vec::new(), None),
        BodyKind::Urlencoded => (parse_urlencoded(&bytes)?, None),
        BodyKind::Multipart => (parse_multipart(headers, bytes).await?, None),
        BodyKind::Json => {
            let map = crate::body::json_object(&bytes)?;
            (json_options(&map), Some(map))
        }
    })
}

/// The refusal of credentials in the URL while `login.allow_query_credentials` is off.
fn query_credentials_refused() -> Problem {
    Problem::invalid_request(
        "credentials in the URL are not accepted (login.allow_query_credentials is off)",
    )
}

/// Output options given as JSON members.
fn json_options(map: &Map<String, Value>) -> Fields {
    [
        "_output",
        "_json",
        "_oauth2",
        "format",
        "redirect_uri",
        "next",
    ]
    .iter()
    .filter_map(|k| {
        let v = map.get(*k)?;
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            _ => return None,
        };
        Some(((*k).to_owned(), s))
    })
    .collect()
}

/// Awaits a password login; when the password came in the URL, the answer (success or
/// refusal) also keeps that URL out of `Referer`.
async fn login(
    in_url: bool,
    attempt: impl std::future::Future<Output = Result<Response, Problem>>,
) -> Result<Response, Problem> {
    let res = attempt.await;
    if !in_url {
        return res;
    }
    Ok(without_referrer(
        res.unwrap_or_else(IntoResponse::into_response),
    ))
}

/// The password is in this page's URL: a link followed from the answer must not carry it
/// to another site in `Referer`.
fn without_referrer(mut res: Response) -> Response {
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

async fn password_login(
    state: &AppState,
    parts: &Parts,
    ctx: &RequestContext,
    csrf_ctx: &CsrfContext,
    creds: Credentials,
    params: &Fields,
    json_body: bool,
) -> Result<Response, Problem> {
    if !ctx.credentials_allowed {
        return Err(Problem::https_required());
    }
    let default = default_output(state.settings.login_default_output, json_body);
    let output = choose_output(params, &parts.headers, ctx, state, default)?;
    let is_post = parts.method == Method::POST;
    // A browser's login POST must prove it came from our own page (login CSRF); clients
    // that are not browsers send neither header and cannot be used for that attack.
    let from_browser =
        parts.headers.contains_key(header::ORIGIN) || parts.headers.contains_key("sec-fetch-site");
    if is_post && from_browser {
        let form = field(params, &state.settings.csrf.form_field);
        csrf_ctx.check_request(&parts.headers, &state.settings.csrf, form)?;
    }
    let client = ctx.client_info(&parts.headers, creds.method.as_str());
    let challenge = if creds.method == Method_::Basic {
        Challenge::Basic
    } else {
        Challenge::Plain
    };
    let (identity, token) = match state
        .auth
        .login(&creds.username, &creds.password, client)
        .await?
    {
        LoginOutcome::Success(identity, token) => (*identity, token),
        LoginOutcome::Failed => {
            tracing::info!(method = ?creds.method, "login failed");
            return Err(Problem::invalid_credentials(challenge));
        }
        LoginOutcome::Throttled(r) => return Err(Problem::too_many_attempts(r)),
    };
    tracing::info!(user = %identity.user.login, session = %identity.session.id, method = ?creds.method, "login");

    let mut res = render(&identity, token.expose(), output, is_post, false);
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));

    // A fresh CSRF token, bound to the new session when a cookie carries it.
    let binding = if is_post {
        Binding::Session(token.digest())
    } else {
        csrf_ctx.binding
    };
    res.extensions_mut()
        .insert(IssueToken(csrf::new_token(&state.csrf_signer, binding)));
    if is_post {
        res.extensions_mut().insert(SetSessionCookie {
            token: token.expose().to_owned(),
            expires_at: identity.session.expires_at,
            issued_at: identity.session.created_at,
        });
    }
    Ok(res)
}

/// Seconds until the new session's idle expiry, counted from its creation so that the
/// answer is exactly the configured timeout whichever second it is written in.
fn expires_in(identity: &Identity) -> i64 {
    let s = &identity.session;
    let until = s.idle_expires_at.unwrap_or(s.expires_at).min(s.expires_at);
    (until.unix() - s.created_at.unix()).max(0)
}

/// The JSON answer of a successful login.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct LoginJson<'a> {
    /// The session token (`tss_...`, or `tsk_...` for an API-key login): send it as
    /// `Authorization: Bearer`.
    authtoken: &'a str,
    /// The same token, for clients that expect this spelling (API-key logins only).
    #[serde(rename = "authToken", skip_serializing_if = "Option::is_none")]
    #[schema(required = false)]
    auth_token: Option<&'a str>,
    /// The session's id (`ses_...`), not a credential.
    sessionid: &'a str,
    login: &'a str,
    firstname: &'a str,
    lastname: &'a str,
    lang: &'a str,
    /// Seconds until the session ends unless used (its idle timeout, or its lifetime).
    expires_in: i64,
    /// When the token expires unless used before.
    authtokenexpires: Timestamp,
}

/// The OAuth2-style answer of a successful login (`_output=oauth2`, over HTTPS).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct OAuth2Login<'a> {
    /// The session token.
    access_token: &'a str,
    /// Always `bearer`.
    #[schema(examples("bearer"))]
    token_type: &'static str,
    /// Seconds until the session ends unless used.
    expires_in: i64,
    /// The user's permissions, space-separated; null when they have none.
    scope: Option<String>,
}

/// A successful login answered as JSON: the session document, or the OAuth2 style.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum LoginAnswer<'a> {
    Session(LoginJson<'a>),
    OAuth2(OAuth2Login<'a>),
}

/// What `GET {base}/login` answers as JSON: a login's answer, or the session document of
/// the credential sent.
#[derive(utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // Describes the two answers, each serialised by its own type.
pub enum LoginOrSession<'a> {
    Login(LoginAnswer<'a>),
    Session(InfoBody<'a>),
}

/// The fields of a password login, as form fields or JSON members. The output options
/// may also come in the query string.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the fields the handler reads one by one.
pub struct LoginFields {
    #[schema(examples("jdoe"))]
    username: String,
    #[schema(format = Password)]
    password: String,
    /// The answer's format: `json`, `plain`, or `oauth2` (HTTPS only).
    #[serde(rename = "_output")]
    output: Option<String>,
    /// `json` or `plain`, like `_output`.
    format: Option<String>,
    /// A local path to redirect to (303) after logging in.
    next: Option<String>,
    /// One of `login.redirect_uris`: redirected to with `access_token=` added.
    redirect_uri: Option<String>,
    /// The CSRF token, for a browser's form post (or the CSRF header).
    csrfmiddlewaretoken: Option<String>,
}

/// The fields of an API-key login, as form fields, or JSON members (`apiKey` and
/// `apiSecret`, or `api_key` and `api_secret`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Describes the fields the handler reads one by one.
pub struct KeyLoginFields {
    /// The key's id (`key_...`).
    api_key: String,
    /// The key's secret.
    #[schema(format = Password)]
    api_secret: String,
    /// The answer's format: `json` (the default), `plain`, or `oauth2` (HTTPS only).
    #[serde(rename = "_output")]
    output: Option<String>,
}

fn render(
    identity: &Identity,
    token: &str,
    output: Output,
    is_post: bool,
    key_login: bool,
) -> Response {
    let redirect = |location: &str| {
        let status = if is_post {
            StatusCode::SEE_OTHER
        } else {
            StatusCode::FOUND
        };
        let mut res = status.into_response();
        if let Ok(v) = HeaderValue::from_str(location) {
            res.headers_mut().insert(header::LOCATION, v);
        }
        res
    };
    match output {
        Output::Redirect(uri) => {
            let sep = if uri.contains('?') { '&' } else { '?' };
            redirect(&format!("{uri}{sep}access_token={token}"))
        }
        Output::OAuth2 => {
            let scope: Vec<&str> = identity.permissions.iter().map(|p| p.as_str()).collect();
            // No permission is `null`, not `""` (which OAuth2 libraries read as one empty
            // scope).
            let scope = (!scope.is_empty()).then(|| scope.join(" "));
            let mut res = Json(LoginAnswer::OAuth2(OAuth2Login {
                access_token: token,
                token_type: "bearer",
                expires_in: expires_in(identity),
                scope,
            }))
            .into_response();
            res.headers_mut()
                .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            res
        }
        Output::Json => {
            let u = &identity.user;
            let secs = expires_in(identity);
            Json(LoginAnswer::Session(LoginJson {
                authtoken: token,
                // The camel-case spelling some clients expect of the same token.
                auth_token: key_login.then_some(token),
                sessionid: &identity.session.id,
                login: &u.login,
                firstname: &u.first_name,
                lastname: &u.last_name,
                lang: &u.lang,
                expires_in: secs,
                authtokenexpires: Timestamp::now()
                    .plus(std::time::Duration::from_secs(secs as u64)),
            }))
            .into_response()
        }
        Output::Next(path) => redirect(&path),
        Output::Plain => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            token.to_owned(),
        )
            .into_response(),
    }
}

/// The sign-in page; `{{name}}` placeholders are filled with HTML-escaped values.
const LOGIN_PAGE: &str = include_str!("../../templates/login.html");

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// `template` with each `{{name}}` replaced by its value, HTML-escaped. Values are
/// escaped before insertion, so a value can never introduce a placeholder or markup.
fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 128);
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        match after.find("}}") {
            Some(end) => {
                let name = &after[..end];
                if let Some((_, v)) = values.iter().find(|(k, _)| *k == name) {
                    out.push_str(&escape(v));
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[at..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn login_page(state: &AppState, parts: &Parts, csrf_token: &str, next: &str) -> Html<String> {
    let action = format!("{}/login/", crate::params::mount_path(parts));
    Html(fill(
        LOGIN_PAGE,
        &[
            ("action", &action),
            ("field", &state.settings.csrf.form_field),
            ("token", csrf_token),
            ("next", if next.is_empty() { "/" } else { next }),
        ],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_filled_with_escaped_values() {
        let page = fill(
            "<a href=\"{{x}}\">{{y}}</a>{{missing}}",
            &[("x", "/a?b=\"c\"&d"), ("y", "<{{x}}>")],
        );
        assert_eq!(
            page,
            "<a href=\"/a?b=&quot;c&quot;&amp;d\">&lt;{{x}}&gt;</a>"
        );
        assert!(LOGIN_PAGE.contains("{{token}}"));
    }

    #[test]
    fn next_stays_on_this_origin() {
        assert_eq!(safe_next("/"), "/");
        assert_eq!(safe_next("/orders?x=1"), "/orders?x=1");
        assert_eq!(safe_next("/café"), "/caf%C3%A9");
        for evil in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "evil",
            "/\tx",
            "/a b",
            "",
        ] {
            assert_eq!(safe_next(evil), "/", "{evil:?}");
        }
    }

    #[test]
    fn accept_json() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/html, application/json;q=0.9"),
        );
        assert!(accepts(&h, "application/json"));
        assert!(!accepts(&h, "text/plain"));
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(!accepts(&h, "application/json"));
    }

    #[test]
    fn default_output_follows_the_setting_and_the_body() {
        let is_json = |o: Output| matches!(o, Output::Json);
        assert!(is_json(default_output(LoginOutput::Auto, true)));
        assert!(!is_json(default_output(LoginOutput::Auto, false)));
        assert!(!is_json(default_output(LoginOutput::Plain, true)));
        assert!(is_json(default_output(LoginOutput::Json, false)));
    }
}
