//! Signing in and out, My Profile (names, language, e-mail, password), sessions and
//! activity.

use askama::Template;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_core::{AuthFailure, Error as CoreError, LoginOutcome, Password, Profile, Timestamp};

use super::{Chrome, Console, Posted, error_page, page, read_checked_form, redirect, time};
use crate::body::{field, query_pairs, safe_next};
use crate::cookies::{ClearSessionCookie, SetSessionCookie};
use crate::csrf::{self, Binding, IssueToken};
use crate::params::Id;
use crate::{AppState, Problem};

/// `GET {base}/ui/`: the profile when signed in, else the sign-in page.
pub(crate) async fn home(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    match Console::from_request_parts(&mut parts, &state).await {
        Ok(console) => redirect(&console.url("profile")),
        Err(to_login) => to_login,
    }
}

#[derive(Template)]
#[template(path = "ui/login.html")]
struct LoginPage {
    c: Chrome,
    error: Option<String>,
    next: String,
    username: String,
    /// One sign-in link per identity provider: its id, button label and address.
    providers: Vec<(String, String, String)>,
}

/// The identity providers' sign-in links, each returning to `next`.
fn provider_links(state: &AppState, base: &str, next: &str) -> Vec<(String, String, String)> {
    let query = if next.is_empty() {
        String::new()
    } else {
        format!(
            "?{}",
            serde_urlencoded::to_string([("next", next)]).unwrap_or_default()
        )
    };
    state
        .oidc
        .all()
        .map(|p| {
            let href = format!("{base}/oidc/{}/login{query}", p.id);
            (p.id.clone(), p.name.clone(), href)
        })
        .collect()
}

/// Where to go after signing in: `next` when it is a path of this site, else the profile.
fn destination(base: &str, next: &str) -> String {
    let safe = safe_next(next);
    if next.is_empty() || safe == "/" {
        format!("{base}/ui/profile")
    } else {
        safe
    }
}

/// `GET {base}/ui/login`: the sign-in form (or, signed in already, where `next` says).
pub(crate) async fn login_page(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, _) = req.into_parts();
    let query = query_pairs(parts.uri.query()).unwrap_or_default();
    let next = field(&query, "next").unwrap_or("").to_owned();
    if let Ok(console) = Console::from_request_parts(&mut parts, &state).await {
        return redirect(&destination(&console.chrome.base, &next));
    }
    let mut notices = Vec::new();
    if field(&query, "changed").is_some() {
        notices.push("Password changed: sign in with the new password.".into());
    }
    if field(&query, "password_set").is_some() {
        notices.push("Your password is set: sign in with it.".into());
    }
    if field(&query, "signed_out").is_some() {
        notices.push("You are signed out.".into());
    }
    sign_in_page(&state, &parts, next, notices)
}

/// The sign-in form, which returns to `next` (also what `GET {base}/login` shows a
/// browser).
pub(crate) fn sign_in_page(
    state: &AppState,
    parts: &axum::http::request::Parts,
    next: String,
    notices: Vec<String>,
) -> Response {
    let mut c = Chrome::anonymous(state, parts, "Sign in");
    c.notices = notices;
    let csrf = c.csrf.clone();
    let tpl = LoginPage {
        providers: provider_links(state, &c.base, &next),
        c,
        error: None,
        next,
        username: String::new(),
    };
    page(StatusCode::OK, &tpl, &csrf)
}

/// `POST {base}/ui/login`: signs in with the form's login and password and opens a
/// password session carried by the session cookie; a failure shows the form again with
/// one message for every cause (no user enumeration).
pub(crate) async fn login(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let c = Chrome::anonymous(&state, &parts, "Sign in");
    let fields = match read_checked_form(&state, &parts, body).await {
        Ok(f) => f,
        Err((status, message)) => return error_page(c, status, "Not signed in", message),
    };
    let Ok((ctx, _)) = crate::context::contexts(&parts) else {
        return Problem::internal().into_response();
    };
    let username = field(&fields, "username").unwrap_or("").trim().to_owned();
    let next = field(&fields, "next").unwrap_or("").to_owned();
    let password = Password::new(field(&fields, "password").unwrap_or(""));
    let failed = |c: Chrome, status: StatusCode, message: &str| {
        let csrf = c.csrf.clone();
        let tpl = LoginPage {
            providers: provider_links(&state, &c.base, &next),
            c,
            error: Some(message.to_owned()),
            next: next.clone(),
            username: username.clone(),
        };
        page(status, &tpl, &csrf)
    };
    if !ctx.credentials_allowed {
        return failed(c, StatusCode::BAD_REQUEST, "Signing in needs HTTPS.");
    }
    let client = ctx.client_info(&parts.headers, "console");
    let outcome = state.auth.login(&username, &password, client).await;
    let (identity, token) = match outcome {
        Ok(LoginOutcome::Success(identity, token)) => (identity, token),
        Ok(LoginOutcome::Failed) => {
            return failed(
                c,
                StatusCode::UNAUTHORIZED,
                "Wrong login or password, or the account is disabled.",
            );
        }
        Ok(LoginOutcome::Throttled(seconds)) => {
            let message = format!("Too many failed attempts: try again in {seconds} seconds.");
            return failed(c, StatusCode::TOO_MANY_REQUESTS, &message);
        }
        Err(e) => {
            tracing::error!(error = %e, "console sign-in failed");
            return failed(
                c,
                StatusCode::SERVICE_UNAVAILABLE,
                "Signing in is not possible right now; try again shortly.",
            );
        }
    };
    tracing::info!(user = %identity.user.login, session = %identity.session.id, "console sign-in");
    let mut res = redirect(&destination(&c.base, &next));
    let mark = super::sudo::mark_for(&state, &c.base, &token.digest(), ctx.https);
    res = super::sudo::with_mark(res, mark);
    res.extensions_mut().insert(IssueToken(csrf::new_token(
        &state.csrf_signer,
        Binding::Session(token.digest()),
    )));
    res.extensions_mut().insert(SetSessionCookie {
        token: token.expose().to_owned(),
        expires_at: identity.session.expires_at,
        issued_at: identity.session.created_at,
    });
    res
}

/// `POST {base}/ui/logout`: ends this session and expires its cookie.
pub(crate) async fn logout(State(state): State<AppState>, posted: Posted) -> Response {
    if let Err(e) = state.auth.end_session(&posted.console.identity).await {
        return Problem::from(e).into_response_page();
    }
    let mut res = redirect(&posted.console.url("login?signed_out=1"));
    res.extensions_mut().insert(ClearSessionCookie);
    res.extensions_mut().insert(IssueToken(csrf::new_token(
        &state.csrf_signer,
        Binding::Anonymous,
    )));
    res
}

#[derive(Template)]
#[template(path = "ui/profile.html")]
struct ProfilePage {
    c: Chrome,
    login: String,
    form: ProfileForm,
    errors: Vec<(&'static str, String)>,
    tokens: usize,
    keys: usize,
    secret_expires: Option<String>,
}

impl ProfilePage {
    fn error_for(&self, name: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, m)| m.as_str())
    }
}

/// The profile form's values as shown (never a password).
struct ProfileForm {
    first_name: String,
    last_name: String,
    email: String,
    lang: String,
}

impl From<&Profile> for ProfileForm {
    fn from(p: &Profile) -> Self {
        Self {
            first_name: p.first_name.clone(),
            last_name: p.last_name.clone(),
            email: p.email.clone().unwrap_or_default(),
            lang: p.lang.clone(),
        }
    }
}

async fn profile_page(
    state: &AppState,
    console: &Console,
    form: ProfileForm,
    errors: Vec<(&'static str, String)>,
    notice: Option<&str>,
) -> Response {
    let user = &console.identity.user;
    let counts = async {
        let tokens = state.auth.list_pats(user).await?.len();
        let keys = state.auth.list_api_keys(user).await?.len();
        let expires = state.auth.client_secret_expiry(user).await?;
        Ok::<_, CoreError>((tokens, keys, expires))
    };
    let (tokens, keys, expires) = match counts.await {
        Ok(c) => c,
        Err(e) => return Problem::from(e).into_response_page(),
    };
    let mut c = console.chrome("My Profile", "profile");
    c.notices.extend(notice.map(str::to_owned));
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let tpl = ProfilePage {
        c,
        login: user.login.to_string(),
        form,
        errors,
        tokens,
        keys,
        secret_expires: expires.map(time),
    };
    page(status, &tpl, &console.chrome.csrf)
}

/// `GET {base}/ui/profile`.
pub(crate) async fn profile(
    State(state): State<AppState>,
    console: Console,
    req: Request,
) -> Response {
    let query = query_pairs(req.uri().query()).unwrap_or_default();
    let notice = if field(&query, "saved").is_some() {
        Some("Profile saved.")
    } else {
        None
    };
    let form = ProfileForm::from(&Profile::of(&console.identity.user));
    profile_page(&state, &console, form, Vec::new(), notice).await
}

/// `POST {base}/ui/profile`: saves names, e-mail and language; an invalid field is shown
/// next to its input with the other values kept.
pub(crate) async fn save_profile(State(state): State<AppState>, posted: Posted) -> Response {
    let email = posted.get("email");
    let profile = Profile {
        first_name: posted.get("first_name").to_owned(),
        last_name: posted.get("last_name").to_owned(),
        lang: posted.get("lang").to_owned(),
        email: (!email.is_empty()).then(|| email.to_owned()),
    };
    let user = &posted.console.identity.user;
    match state.auth.update_profile(user, profile.clone()).await {
        Ok(_) => redirect(&posted.console.url("profile?saved=1")),
        Err(CoreError::Invalid { field, reason }) => {
            let errors = vec![(field, capitalised(reason))];
            profile_page(&state, &posted.console, (&profile).into(), errors, None).await
        }
        Err(e) => Problem::from(e).into_response_page(),
    }
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// `POST {base}/ui/password`: with the current password, sets a new one under the
/// password policy; every session of the user ends, this one too.
pub(crate) async fn change_password(State(state): State<AppState>, posted: Posted) -> Response {
    let console = &posted.console;
    let user = &console.identity.user;
    let raw = |name| field(&posted.fields, name).unwrap_or("");
    let form = ProfileForm::from(&Profile::of(user));
    let mut errors = Vec::new();
    if raw("new_password") != raw("confirm_password") {
        errors.push((
            "confirm_password",
            "The two new passwords differ.".to_owned(),
        ));
        return profile_page(&state, console, form, errors, None).await;
    }
    let Ok((ctx, _)) = crate::context::contexts(&posted.parts) else {
        return Problem::internal().into_response();
    };
    let client = ctx.client_info(&posted.parts.headers, "console");
    let current = Password::new(raw("current_password"));
    match state
        .auth
        .check_password(user.login.as_str(), &current, &client)
        .await
    {
        Ok(Ok(_)) => {}
        Ok(Err(AuthFailure::Throttled(s))) => {
            errors.push((
                "current_password",
                format!("Too many failed attempts: try again in {s} seconds."),
            ));
            return profile_page(&state, console, form, errors, None).await;
        }
        Ok(Err(_)) => {
            errors.push(("current_password", "That is not your password.".to_owned()));
            return profile_page(&state, console, form, errors, None).await;
        }
        Err(e) => return Problem::from(e).into_response_page(),
    }
    let new = Password::new(raw("new_password"));
    match state.auth.change_password(user, &new).await {
        Ok(()) => {
            let mut res = redirect(&console.url("login?changed=1"));
            res.extensions_mut().insert(ClearSessionCookie);
            res
        }
        Err(CoreError::WeakPassword(why)) => {
            errors.push(("new_password", capitalised(&why.to_string())));
            profile_page(&state, console, form, errors, None).await
        }
        Err(e) => Problem::from(e).into_response_page(),
    }
}

#[derive(Template)]
#[template(path = "ui/sessions.html")]
struct SessionsPage {
    c: Chrome,
    sessions: Vec<SessionRow>,
}

struct SessionRow {
    id: String,
    device: String,
    ip: String,
    created: String,
    last_seen: String,
    expires: String,
    current: bool,
}

/// `GET {base}/ui/sessions`: the user's password sessions, this one marked.
pub(crate) async fn sessions(
    State(state): State<AppState>,
    console: Console,
    req: Request,
) -> Response {
    let list = match state.auth.list_sessions(&console.identity).await {
        Ok(l) => l,
        Err(e) => return Problem::from(e).into_response_page(),
    };
    let query = query_pairs(req.uri().query()).unwrap_or_default();
    let mut c = console.chrome("Sessions", "sessions");
    if field(&query, "ended").is_some() {
        c.notices.push("Session ended.".into());
    }
    let sessions = list
        .into_iter()
        .map(|s| SessionRow {
            current: s.id == console.identity.session.id,
            device: device(s.user_agent.as_deref()),
            ip: s.ip.clone().unwrap_or_else(|| "unknown".into()),
            created: time(s.created_at),
            last_seen: time(s.last_seen_at),
            expires: time(s.idle_expires_at.unwrap_or(s.expires_at).min(s.expires_at)),
            id: s.id,
        })
        .collect();
    let tpl = SessionsPage { c, sessions };
    page(StatusCode::OK, &tpl, &console.chrome.csrf)
}

/// A device description from a `User-Agent`: the browser and the system, when known.
fn device(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.is_empty()) else {
        return "Unknown device".into();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_owned(),
        (None, Some(s)) => s.to_owned(),
        (None, None) => ua.chars().take(60).collect(),
    }
}

/// `POST {base}/ui/sessions/{id}/end`.
pub(crate) async fn end_session(
    State(state): State<AppState>,
    Id(id): Id,
    posted: Posted,
) -> Response {
    match state
        .auth
        .revoke_session(&posted.console.identity, &id)
        .await
    {
        Ok(true) => redirect(&posted.console.url("sessions?ended=1")),
        Ok(false) => posted.console.error(
            StatusCode::NOT_FOUND,
            "Not found",
            "That session does not exist, or has ended.",
        ),
        Err(e) => Problem::from(e).into_response_page(),
    }
}

/// `POST {base}/ui/sessions/end-others`.
pub(crate) async fn end_other_sessions(State(state): State<AppState>, posted: Posted) -> Response {
    match state
        .auth
        .revoke_other_sessions(&posted.console.identity)
        .await
    {
        Ok(_) => redirect(&posted.console.url("sessions?ended=1")),
        Err(e) => Problem::from(e).into_response_page(),
    }
}

#[derive(Template)]
#[template(path = "ui/activity.html")]
struct ActivityPage {
    c: Chrome,
    events: Vec<EventRow>,
}

struct EventRow {
    at: String,
    event: String,
    outcome: String,
    method: String,
    ip: String,
    detail: String,
}

/// `GET {base}/ui/activity`: the user's security events of the last 30 days.
pub(crate) async fn activity(State(state): State<AppState>, console: Console) -> Response {
    let since = Timestamp::now().minus(std::time::Duration::from_secs(30 * 86_400));
    let events = match state
        .auth
        .accounts()
        .audit_events(Some(console.identity.user.id), since, 500)
        .await
    {
        Ok(e) => e,
        Err(e) => return Problem::from(e).into_response_page(),
    };
    let events = events
        .into_iter()
        .map(|e| EventRow {
            at: time(e.at),
            event: e.event,
            outcome: e.outcome,
            method: e.method.unwrap_or_default(),
            ip: e.ip.unwrap_or_default(),
            detail: e.detail.unwrap_or_default(),
        })
        .collect();
    let tpl = ActivityPage {
        c: console.chrome("Activity", "activity"),
        events,
    };
    page(StatusCode::OK, &tpl, &console.chrome.csrf)
}

#[cfg(test)]
mod tests {
    use super::{destination, device};

    #[test]
    fn devices_are_named_from_the_user_agent() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
        assert_eq!(device(Some(chrome)), "Chrome on Linux");
        assert_eq!(device(Some("curl/8.5.0")), "curl");
        assert_eq!(device(None), "Unknown device");
    }

    #[test]
    fn sign_in_goes_to_same_site_paths_only() {
        assert_eq!(destination("/api", ""), "/api/ui/profile");
        assert_eq!(destination("/api", "/api/ui/sessions"), "/api/ui/sessions");
        assert_eq!(
            destination("/api", "https://evil.example/"),
            "/api/ui/profile"
        );
        assert_eq!(destination("/api", "//evil.example/"), "/api/ui/profile");
    }
}
