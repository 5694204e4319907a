//! Re-authentication ("sudo mode"): creating a credential, showing or rotating the client
//! secret need the password entered within `ui.sudo_timeout`. The mark is a cookie
//! holding its expiry and an HMAC binding that expiry to the session (so it cannot be
//! moved to another session or extended); without a fresh mark the action's page asks
//! for the password, then completes the action with the same form values.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use tessera_core::secret::constant_time_eq;
use tessera_core::{AuthFailure, Password, Timestamp};

use super::{Chrome, Posted, page};
use crate::AppState;
use crate::cookies;
use crate::settings::Secure;

/// The cookie holding the mark.
const COOKIE: &str = "tessera_sudo";

fn tag(state: &AppState, session_digest: &[u8; 32], until: i64) -> String {
    let mac = state
        .csrf_signer
        .sign(&[b"tessera sudo", session_digest, &until.to_be_bytes()]);
    URL_SAFE_NO_PAD.encode(&mac[..16])
}

/// Whether the request carries a mark for its session that has not expired.
fn is_fresh(state: &AppState, posted: &Posted) -> bool {
    let cookies::Found::One(value) = cookies::get_unique(&posted.parts.headers, COOKIE) else {
        return false;
    };
    let Some((until, mac)) = value.split_once('.') else {
        return false;
    };
    let Ok(until) = until.parse::<i64>() else {
        return false;
    };
    let expected = tag(state, &posted.console.session_digest, until);
    Timestamp::now().unix() < until && constant_time_eq(expected.as_bytes(), mac.as_bytes())
}

/// The `Set-Cookie` of a fresh mark for the request's session.
fn mark(state: &AppState, posted: &Posted, https: bool) -> Option<HeaderValue> {
    let c = &posted.console;
    mark_for(state, &c.chrome.base, &c.session_digest, https)
}

/// The `Set-Cookie` of a fresh mark for the session whose token has `session_digest`
/// (signing in counts as entering the password).
pub(crate) fn mark_for(
    state: &AppState,
    base: &str,
    session_digest: &[u8; 32],
    https: bool,
) -> Option<HeaderValue> {
    let timeout = state.settings.ui.as_ref()?.sudo_timeout;
    let until = Timestamp::now().plus(timeout).unix();
    let secure = match state.settings.session_cookie.secure {
        Secure::Always => true,
        Secure::Never => false,
        Secure::Auto => https,
    };
    let value = format!(
        "{COOKIE}={until}.{}; Path={base}/ui/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        tag(state, session_digest, until),
        timeout.as_secs(),
        if secure { "; Secure" } else { "" }
    );
    HeaderValue::from_str(&value).ok()
}

#[derive(Template)]
#[template(path = "ui/sudo.html")]
struct SudoPage {
    c: Chrome,
    what: String,
    /// How long the confirmation lasts, in words.
    period: String,
    error: Option<&'static str>,
    action: String,
    carried: Vec<(String, String)>,
    back: String,
    /// For a user of an identity provider: its name and the sign-in that confirms.
    provider: Option<(String, String)>,
}

/// The page a confirmation returns to: the admin page the form was on, else Developer
/// Settings.
fn back_from(posted: &Posted) -> String {
    let path = posted.parts.uri.path();
    let admin = path.split_once("/ui/admin/").map(|(_, rest)| rest);
    match admin.map(|rest| rest.split('/').collect::<Vec<_>>()) {
        Some(parts) if parts.first() == Some(&"users") && parts.len() >= 3 => {
            posted.console.url(&format!("admin/users/{}", parts[1]))
        }
        Some(parts) if parts.first() == Some(&"roles") => posted.console.url("admin/roles"),
        Some(_) => posted.console.url("admin/users"),
        None => posted.console.url("developer"),
    }
}

/// Lets an action through when the password was entered recently, or is entered now in
/// the form (`sudo_password`); otherwise answers with the page asking for it. `Ok` carries
/// the cookie to set when the password was just entered.
pub(crate) async fn require(
    state: &AppState,
    posted: &Posted,
    what: &str,
) -> Result<Option<HeaderValue>, Response> {
    if is_fresh(state, posted) {
        return Ok(None);
    }
    let entered = posted.get("sudo_password");
    let ctx = crate::context::contexts(&posted.parts)
        .map(|(c, _)| c.clone())
        .map_err(axum::response::IntoResponse::into_response)?;
    let mut error = None;
    if !entered.is_empty() {
        let client = ctx.client_info(&posted.parts.headers, "sudo");
        let login = posted.console.identity.user.login.as_str();
        // The raw field, not trimmed: a password may end in a space.
        let raw = crate::body::field(&posted.fields, "sudo_password").unwrap_or("");
        match state
            .auth
            .check_password(login, &Password::new(raw), &client)
            .await
        {
            Ok(Ok(_)) => return Ok(mark(state, posted, ctx.https)),
            Ok(Err(AuthFailure::Throttled(_))) => {
                error = Some("Too many failed attempts: wait a little, then try again.");
            }
            Ok(Err(_)) => error = Some("That is not your password."),
            Err(e) => return Err(crate::Problem::from(e).into_response_page()),
        }
    }
    let form_field = &state.settings.csrf.form_field;
    let carried = posted
        .fields
        .iter()
        .filter(|(k, _)| k != form_field && k != "sudo_password")
        .cloned()
        .collect();
    let seconds = state
        .settings
        .ui
        .as_ref()
        .map_or(600, |u| u.sudo_timeout.as_secs());
    let period = match seconds {
        s if s >= 120 => format!("{} minutes", s / 60),
        s if s >= 60 => "a minute".to_owned(),
        s => format!("{s} seconds"),
    };
    let back = back_from(posted);
    let provider = provider_link(state, posted, &back).await;
    let tpl = SudoPage {
        provider,
        c: posted.console.chrome("Confirm your password", ""),
        what: what.to_owned(),
        period,
        error,
        action: posted.here(),
        carried,
        back,
    };
    let status = if error.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    Err(page(status, &tpl, &posted.console.chrome.csrf))
}

/// For a user signed in through an identity provider: a fresh sign-in there confirms it
/// is them (the provider's name and the link that starts it, returning to `back`).
async fn provider_link(state: &AppState, posted: &Posted, back: &str) -> Option<(String, String)> {
    let identity = &posted.console.identity;
    if identity.session.kind != tessera_core::session::SessionKind::Idp {
        return None;
    }
    let links = state
        .auth
        .accounts()
        .identity_links(&identity.user)
        .await
        .ok()?;
    let provider = links.iter().find_map(|l| state.oidc.get(&l.provider))?;
    let query = serde_urlencoded::to_string([("sudo", "1"), ("next", back)]).ok()?;
    Some((
        provider.name.clone(),
        format!(
            "{}/oidc/{}/login?{query}",
            posted.console.chrome.base, provider.id
        ),
    ))
}

/// Adds the `Set-Cookie` of a fresh mark, when there is one, to `res`.
pub(crate) fn with_mark(mut res: Response, mark: Option<HeaderValue>) -> Response {
    if let Some(m) = mark {
        res.headers_mut().append(header::SET_COOKIE, m);
    }
    res
}

impl crate::Problem {
    /// The problem as a console error page would answer it: status and title only (the
    /// cause is in the log).
    pub(crate) fn into_response_page(self) -> Response {
        use axum::response::IntoResponse as _;
        let mut res = (self.status, self.title).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        res
    }
}
