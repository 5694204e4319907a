//! The administration console under `{base}/ui/admin/`: users (search, invite, change,
//! disable, unlock, delete, set-password links, roles, sessions and credentials), roles
//! and their permissions, and the audit log of every user.
//!
//! Each page and action needs the same `tessera:*` permission as the JSON API under
//! `{base}/admin/` (a page or action the user lacks it for answers 403 naming it), every
//! change needs the password entered within `ui.sudo_timeout`, and the core's refusals
//! (a permission the administrator does not hold, the last administrator, a conflict)
//! are shown as pages of their own, never as failures.

mod audit;
mod roles;
mod user;
mod users;

use askama::Template;
use axum::Router;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use tessera_core::permission::{AUDIT_READ, USERS_READ};
use tessera_core::{Error as CoreError, StoreError};

use super::{Chrome, Console, Posted, page, redirect, sudo};
use crate::AppState;

/// The administration routes, relative to the base path.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui/admin", get(home))
        .route("/ui/admin/", get(home))
        .route("/ui/admin/users", get(users::list).post(users::invite))
        .route(
            "/ui/admin/users/{login}",
            get(user::show).post(user::save_profile),
        )
        .route("/ui/admin/users/{login}/disable", post(user::disable))
        .route("/ui/admin/users/{login}/enable", post(user::enable))
        .route("/ui/admin/users/{login}/unlock", post(user::unlock))
        .route(
            "/ui/admin/users/{login}/set-password-link",
            post(user::set_password_link),
        )
        .route("/ui/admin/users/{login}/delete", post(user::delete))
        .route("/ui/admin/users/{login}/roles", post(user::grant_role))
        .route(
            "/ui/admin/users/{login}/roles/{role}/revoke",
            post(user::revoke_role),
        )
        .route(
            "/ui/admin/users/{login}/sessions/{id}/end",
            post(user::end_session),
        )
        .route(
            "/ui/admin/users/{login}/sessions/end-all",
            post(user::end_sessions),
        )
        .route(
            "/ui/admin/users/{login}/tokens/{id}/revoke",
            post(user::revoke_token),
        )
        .route(
            "/ui/admin/users/{login}/tokens/revoke-all",
            post(user::revoke_tokens),
        )
        .route(
            "/ui/admin/users/{login}/apikeys/{id}/delete",
            post(user::delete_key),
        )
        .route(
            "/ui/admin/users/{login}/apikeys/delete-all",
            post(user::delete_keys),
        )
        .route("/ui/admin/roles", get(roles::list).post(roles::create))
        .route("/ui/admin/roles/{role}", post(roles::change))
        .route("/ui/admin/roles/{role}/delete", post(roles::delete))
        .route("/ui/admin/audit", get(audit::search))
}

/// How many users or events a page lists.
const PER_PAGE: usize = 50;

/// `GET {base}/ui/admin`: the users, or the audit log for those who may read only that.
async fn home(console: Console) -> Response {
    if console.identity.allows(USERS_READ) {
        redirect(&console.url("admin/users"))
    } else if console.identity.allows(AUDIT_READ) {
        redirect(&console.url("admin/audit"))
    } else {
        forbidden(&console, USERS_READ)
    }
}

/// The administration pages' own navigation: the current tab, and which tabs this user
/// may open.
pub(super) struct Tabs {
    pub(super) current: &'static str,
    pub(super) users: bool,
    pub(super) audit: bool,
}

impl Tabs {
    fn new(console: &Console, current: &'static str) -> Self {
        Self {
            current,
            users: console.identity.allows(USERS_READ),
            audit: console.identity.allows(AUDIT_READ),
        }
    }
}

/// The frame of an administration page.
fn chrome(console: &Console, title: &str) -> Chrome {
    console.chrome(title, "admin")
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    c: Chrome,
    message: String,
    back: String,
}

/// An error page in the administration frame, with a link back to `back`.
fn error(
    console: &Console,
    status: StatusCode,
    title: &str,
    message: &str,
    back: &str,
) -> Response {
    let tpl = ErrorPage {
        c: chrome(console, title),
        message: message.to_owned(),
        back: back.to_owned(),
    };
    page(status, &tpl, &console.chrome.csrf)
}

/// The 403 page for a user who lacks `permission`.
fn forbidden(console: &Console, permission: &str) -> Response {
    let back = console.url(if console.chrome.admin { "admin/" } else { "" });
    error(
        console,
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!("This needs the permission {permission}, which you do not hold."),
        &back,
    )
}

/// `None` when the console user holds `permission`; else the 403 page naming it.
fn need(console: &Console, permission: &str) -> Option<Response> {
    (!console.identity.allows(permission)).then(|| forbidden(console, permission))
}

/// A core error that refuses the act, as the status and message shown for it; `Err` with
/// the error itself when it is a failure (the database, a bug).
fn refusal(e: CoreError) -> Result<(StatusCode, String), CoreError> {
    Ok(match e {
        CoreError::NotHeld(p) => (
            StatusCode::FORBIDDEN,
            format!("This needs the permission {p}, which you do not hold."),
        ),
        CoreError::ScopeNotHeld(p) => (
            StatusCode::FORBIDDEN,
            format!("This needs the permission {p}, which you do not hold."),
        ),
        CoreError::LastAdministrator => (
            StatusCode::CONFLICT,
            "Not done: the last enabled administrator cannot be disabled, deleted or lose the \
             admin role."
                .into(),
        ),
        CoreError::Conflict(why) => (StatusCode::CONFLICT, format!("Not done: {why}.")),
        CoreError::Store(StoreError::Conflict(what)) => (
            StatusCode::CONFLICT,
            format!("{} already exists.", capitalised(&what)),
        ),
        CoreError::Store(StoreError::UnknownRole(role)) => (
            StatusCode::NOT_FOUND,
            format!("There is no role named {role}."),
        ),
        CoreError::UnknownUser(_) => (StatusCode::NOT_FOUND, "There is no such user.".into()),
        CoreError::InvalidLogin(why) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("That login is not valid: {why}."),
        ),
        CoreError::InvalidPermission(p, why) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The permission {p} is not valid: {why}."),
        ),
        CoreError::InvalidRoleName(name, why) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The role name {name} is not valid: {why}."),
        ),
        CoreError::Invalid { field, reason } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The {} is not valid: {reason}.", field.replace('_', " ")),
        ),
        other => return Err(other),
    })
}

/// The page for a core error: its refusal with a link back to `back`, or the failure.
fn refused(console: &Console, e: CoreError, back: &str) -> Response {
    match refusal(e) {
        Ok((status, message)) => error(console, status, "Not done", &message, back),
        Err(e) => crate::Problem::from(e).into_response_page(),
    }
}

/// What to ask before a change that cannot be undone: the page's title, the question,
/// and the button.
struct Ask<'a> {
    title: &'a str,
    question: &'a str,
    button: &'a str,
}

#[derive(Template)]
#[template(path = "ui/confirm.html")]
struct ConfirmPage {
    c: Chrome,
    question: String,
    action: String,
    button: String,
    back: String,
}

/// Lets a change through: the permission, the confirmation (on a page of its own when
/// the script did not ask already), then the password step. `Ok` carries the sudo mark
/// to set.
async fn gate(
    state: &AppState,
    posted: &Posted,
    permission: &str,
    ask: Option<Ask<'_>>,
    what: &str,
    back: &str,
) -> Result<Option<HeaderValue>, Response> {
    let console = &posted.console;
    if let Some(refused) = need(console, permission) {
        return Err(refused);
    }
    if let Some(ask) = ask
        && !posted.confirmed()
    {
        let tpl = ConfirmPage {
            c: chrome(console, ask.title),
            question: ask.question.to_owned(),
            action: posted.here(),
            button: ask.button.to_owned(),
            back: back.to_owned(),
        };
        return Err(page(StatusCode::OK, &tpl, &console.chrome.csrf));
    }
    sudo::require(state, posted, what).await
}

/// A one-time set-password link as the page shows it.
struct Link {
    /// The absolute URL.
    url: String,
    /// `invitation` or `password reset link`.
    purpose: &'static str,
    expires: String,
}

#[derive(Template)]
#[template(path = "ui/admin_link.html")]
struct LinkPage {
    c: Chrome,
    tabs: Tabs,
    login: String,
    user_href: String,
    link: Link,
}

/// The page showing a new set-password link, once.
fn link_page(
    console: &Console,
    parts: &axum::http::request::Parts,
    login: &str,
    token: &tessera_core::token::Token,
    invitation: &tessera_core::credential::Invitation,
    status: StatusCode,
) -> Response {
    use tessera_core::credential::InvitationPurpose;
    // The origin the administrator's browser reached: `https` when the request came over
    // HTTPS (natively or from a trusted proxy), then its host.
    let origin = crate::context::contexts(parts)
        .map(|(c, _)| c.own_origin.clone())
        .unwrap_or_default();
    let link = Link {
        url: format!(
            "{origin}{}/ui/setup/{}",
            console.chrome.base,
            token.expose()
        ),
        purpose: match invitation.purpose {
            InvitationPurpose::Invite => "invitation",
            InvitationPurpose::Reset => "password reset link",
        },
        expires: super::time(invitation.expires_at),
    };
    let tpl = LinkPage {
        c: chrome(console, "Set-password link"),
        tabs: Tabs::new(console, "users"),
        login: login.to_owned(),
        user_href: user_url(console, login),
        link,
    };
    page(status, &tpl, &console.chrome.csrf)
}

/// `s` as one segment of a URL path: everything but unreserved ASCII percent-encoded.
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `{base}/ui/admin/users/{login}`.
fn user_url(console: &Console, login: &str) -> String {
    console.url(&format!("admin/users/{}", segment(login)))
}

/// `{base}/ui/admin/<path>?<query>`, the query's empty values left out.
fn with_query(console: &Console, path: &str, query: &[(&str, String)]) -> String {
    let kept: Vec<&(&str, String)> = query.iter().filter(|(_, v)| !v.is_empty()).collect();
    let q = serde_urlencoded::to_string(kept).unwrap_or_default();
    if q.is_empty() {
        console.url(path)
    } else {
        format!("{}?{q}", console.url(path))
    }
}

/// The page number of a listing's query (1 when absent or not a number from 1 to a
/// million).
fn page_number(query: &crate::body::Fields) -> usize {
    crate::body::field(query, "page")
        .and_then(|p| p.trim().parse::<usize>().ok())
        .filter(|p| (1..=1_000_000).contains(p))
        .unwrap_or(1)
}

fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or(String::new(), |f| {
        f.to_uppercase().collect::<String>() + chars.as_str()
    })
}

/// The permissions written in a text field: separated by white space, commas or lines.
fn permissions_text(text: &str) -> Vec<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{permissions_text, segment};

    #[test]
    fn logins_become_one_path_segment() {
        assert_eq!(segment("ann"), "ann");
        assert_eq!(segment("ann.lee@example.com"), "ann.lee@example.com");
        assert_eq!(segment("a?b#c%d&e"), "a%3Fb%23c%25d%26e");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn permissions_are_read_from_lines_spaces_or_commas() {
        assert_eq!(
            permissions_text("orders:read\r\n orders:write,  tessera:users:read\n"),
            ["orders:read", "orders:write", "tessera:users:read"]
        );
        assert!(permissions_text("  \n").is_empty());
    }
}
