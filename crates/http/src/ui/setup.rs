//! The set-password page, `{base}/ui/setup/{token}`: where an invited user chooses their
//! first password, or a user who forgot theirs chooses a new one, with the one-time link
//! an administrator gave them. No session is needed; the link is the credential, so the
//! page is never cached and never sends a referrer to another site.

use askama::Template;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use tessera_core::credential::InvitationPurpose;
use tessera_core::{Error as CoreError, Password};

use super::{Chrome, error_page, page, read_checked_form, redirect};
use crate::AppState;
use crate::body::field;

#[derive(Template)]
#[template(path = "ui/setup.html")]
struct SetupPage {
    c: Chrome,
    login: String,
    reset: bool,
    action: String,
    min_length: usize,
    error: Option<String>,
}

/// The token in the path (`{base}/ui/setup/{token}`), or `""`.
fn token_of(parts: &Parts) -> &str {
    parts.uri.path().rsplit('/').next().unwrap_or("")
}

fn invalid(c: Chrome) -> Response {
    error_page(
        c,
        StatusCode::NOT_FOUND,
        "Link not valid",
        "This set-password link is not valid: it was used already, replaced by a newer \
         one, or it expired. Ask an administrator for a new link.",
    )
}

fn form(
    state: &AppState,
    c: Chrome,
    parts: &Parts,
    login: String,
    purpose: InvitationPurpose,
    error: Option<String>,
) -> Response {
    let csrf = c.csrf.clone();
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let tpl = SetupPage {
        action: format!("{}{}", c.base, parts.uri.path()),
        c,
        login,
        reset: purpose == InvitationPurpose::Reset,
        min_length: state.auth.accounts().policy().min_length,
        error,
    };
    page(status, &tpl, &csrf)
}

/// The page's requests name only its origin as their referrer, never its URL, which
/// holds the link's token (`no-referrer` would make a browser send `Origin: null` with
/// the form, which the CSRF check rightly refuses).
fn no_referrer(mut res: Response) -> Response {
    res.headers_mut().insert(
        axum::http::header::REFERRER_POLICY,
        axum::http::HeaderValue::from_static("strict-origin"),
    );
    res
}

/// `GET {base}/ui/setup/{token}`: the form, for a link that is still valid.
pub(crate) async fn page_get(state: State<AppState>, req: Request) -> Response {
    no_referrer(show(state, req).await)
}

/// `POST {base}/ui/setup/{token}`: sets the password (twice the same, under the policy)
/// and uses the link up; then to the sign-in page.
pub(crate) async fn submit(state: State<AppState>, req: Request) -> Response {
    no_referrer(set(state, req).await)
}

async fn show(State(state): State<AppState>, req: Request) -> Response {
    let (parts, _) = req.into_parts();
    let c = Chrome::anonymous(&state, &parts, "Choose your password");
    match state
        .auth
        .accounts()
        .set_password_link(token_of(&parts))
        .await
    {
        Ok(Some((invitation, user))) => {
            form(&state, c, &parts, user.login, invitation.purpose, None)
        }
        Ok(None) => invalid(c),
        Err(e) => unavailable(c, &e),
    }
}

async fn set(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let c = Chrome::anonymous(&state, &parts, "Choose your password");
    let fields = match read_checked_form(&state, &parts, body).await {
        Ok(f) => f,
        Err((status, message)) => return error_page(c, status, "Password not set", message),
    };
    let Ok((ctx, _)) = crate::context::contexts(&parts) else {
        return crate::Problem::internal().into_response_page();
    };
    if !ctx.credentials_allowed {
        return error_page(
            c,
            StatusCode::BAD_REQUEST,
            "Password not set",
            "Setting a password needs HTTPS.",
        );
    }
    let token = token_of(&parts);
    let accounts = state.auth.accounts();
    let (invitation, user) = match accounts.set_password_link(token).await {
        Ok(Some(found)) => found,
        Ok(None) => return invalid(c),
        Err(e) => return unavailable(c, &e),
    };
    let again = |c, message: String| {
        form(
            &state,
            c,
            &parts,
            user.login.clone(),
            invitation.purpose,
            Some(message),
        )
    };
    let password = field(&fields, "password").unwrap_or("");
    if password != field(&fields, "password2").unwrap_or("") {
        return again(c, "The two passwords differ.".into());
    }
    match state
        .auth
        .use_set_password_link(token, &Password::new(password))
        .await
    {
        Ok(Some(_)) => redirect(&format!("{}/ui/login?password_set=1", c.base)),
        Ok(None) => invalid(c),
        Err(CoreError::WeakPassword(why)) => again(c, format!("Password refused: {why}.")),
        Err(e) => unavailable(c, &e),
    }
}

fn unavailable(c: Chrome, e: &CoreError) -> Response {
    tracing::error!(error = %e, "set-password page failed");
    error_page(
        c,
        StatusCode::SERVICE_UNAVAILABLE,
        "Try again shortly",
        "The password cannot be set right now; try again shortly.",
    )
}
