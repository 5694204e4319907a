//! The web console under `{base}/ui/`: server-rendered pages (askama templates checked at
//! compile time, in `templates/ui/`), a stylesheet and a small script embedded in the
//! binary. Every page works without the script; every state change is a POST carrying
//! the CSRF form field; the console needs the session cookie of a password login (tokens
//! cannot use it); creating credentials and showing or rotating the client secret need
//! the password entered within `ui.sudo_timeout`.

mod account;
mod admin;

pub(crate) use account::sign_in_page;
mod developer;
mod forms;
mod setup;
mod sudo;

pub(crate) use sudo::{mark_for as sudo_mark_for, with_mark as with_sudo_mark};

use std::sync::Arc;

use askama::Template;
use axum::Router;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tessera_core::Identity;

use crate::AppState;
use crate::body::{self, Fields, field};
use crate::context::contexts;
use crate::csrf::IssueToken;

/// The console's routes, relative to the base path.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(account::home))
        .route("/ui/", get(account::home))
        .route("/ui/login", get(account::login_page).post(account::login))
        .route("/ui/logout", post(account::logout))
        .route(
            "/ui/profile",
            get(account::profile).post(account::save_profile),
        )
        .route("/ui/password", post(account::change_password))
        .route("/ui/sessions", get(account::sessions))
        .route("/ui/sessions/end-others", post(account::end_other_sessions))
        .route("/ui/sessions/{id}/end", post(account::end_session))
        .route("/ui/activity", get(account::activity))
        .route("/ui/developer", get(developer::page_get))
        .route("/ui/tokens", post(developer::create_token))
        .route(
            "/ui/tokens/{id}/regenerate",
            post(developer::regenerate_token),
        )
        .route("/ui/tokens/{id}/revoke", post(developer::revoke_token))
        .route("/ui/apikeys", post(developer::create_key))
        .route("/ui/apikeys/{id}/delete", post(developer::delete_key))
        .route("/ui/apikeys/{id}/disable", post(developer::disable_key))
        .route("/ui/apikeys/{id}/enable", post(developer::enable_key))
        .route("/ui/client-secret/reveal", post(developer::reveal_secret))
        .route("/ui/client-secret/rotate", post(developer::rotate_secret))
        .merge(setup_routes())
        .merge(admin::routes())
}

/// The set-password page of invitations and reset links, with the assets it loads:
/// served even with the console off, as the links the admin API and the command line
/// hand out lead there.
pub(crate) fn setup_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/ui/setup/{token}",
            get(setup::page_get).post(setup::submit),
        )
        .route("/ui/static/console.css", get(stylesheet))
        .route("/ui/static/console.js", get(script))
}

const CSS: &str = include_str!("../../static/console.css");
const JS: &str = include_str!("../../static/console.js");

async fn stylesheet() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

async fn script() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut res = body.into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    res
}

/// What every page's frame shows: the base path for links, the language, the title, who
/// is signed in, the current section, and the CSRF token for its forms.
pub(crate) struct Chrome {
    pub(crate) base: String,
    pub(crate) lang: String,
    pub(crate) title: String,
    pub(crate) login: Option<String>,
    pub(crate) nav: &'static str,
    /// Whether the signed-in user holds some administration permission (`tessera:*`):
    /// the console then links to the administration pages.
    pub(crate) admin: bool,
    pub(crate) csrf: String,
    pub(crate) csrf_field: String,
    pub(crate) notices: Vec<String>,
}

impl Chrome {
    /// The frame of a page for a visitor who is not signed in.
    pub(crate) fn anonymous(state: &AppState, parts: &Parts, title: &str) -> Self {
        let csrf = contexts(parts)
            .map(|(_, c)| c.current_or_new(&state.csrf_signer))
            .unwrap_or_default();
        Self {
            base: crate::params::mount_path(parts).to_owned(),
            lang: "en".into(),
            title: title.into(),
            login: None,
            nav: "",
            admin: false,
            csrf,
            csrf_field: state.settings.csrf.form_field.clone(),
            notices: Vec::new(),
        }
    }
}

/// A rendered page with the console's headers: a strict Content-Security-Policy (no
/// inline script or style, no framing), `Referrer-Policy: same-origin`, no caching, and
/// the page's CSRF token as the one the response sends.
pub(crate) fn page(status: StatusCode, template: &impl Template, csrf: &str) -> Response {
    let html = match template.render() {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "a console page failed to render");
            return crate::Problem::internal().into_response();
        }
    };
    let mut res = (status, html).into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    res.extensions_mut().insert(IssueToken(csrf.to_owned()));
    res
}

fn secure_headers(h: &mut axum::http::HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'",
        ),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// A redirect (303) with the console's headers.
pub(crate) fn redirect(to: &str) -> Response {
    let mut res = Redirect::to(to).into_response();
    secure_headers(res.headers_mut());
    res
}

#[derive(Template)]
#[template(path = "ui/error.html")]
struct ErrorPage {
    c: Chrome,
    message: String,
    back: String,
}

/// An error page: the message, and a link back.
pub(crate) fn error_page(
    mut c: Chrome,
    status: StatusCode,
    title: &str,
    message: &str,
) -> Response {
    c.title = title.into();
    let back = format!("{}/ui/", c.base);
    let csrf = c.csrf.clone();
    let tpl = ErrorPage {
        c,
        message: message.into(),
        back,
    };
    page(status, &tpl, &csrf)
}

/// A console user: the request carries the session cookie of a password login. Anyone
/// else (no cookie, an expired or revoked session, a token in a header) is sent to the
/// sign-in page, which brings them back here.
pub(crate) struct Console {
    pub(crate) identity: Arc<Identity>,
    /// The SHA-256 of the session token (what the CSRF token and sudo mark are bound to).
    pub(crate) session_digest: [u8; 32],
    pub(crate) chrome: Chrome,
}

impl Console {
    /// The frame of a page in section `nav`.
    pub(crate) fn chrome(&self, title: &str, nav: &'static str) -> Chrome {
        Chrome {
            base: self.chrome.base.clone(),
            lang: self.chrome.lang.clone(),
            title: title.into(),
            login: self.chrome.login.clone(),
            nav,
            admin: self.chrome.admin,
            csrf: self.chrome.csrf.clone(),
            csrf_field: self.chrome.csrf_field.clone(),
            notices: Vec::new(),
        }
    }

    /// `{base}/ui/<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/ui/{path}", self.chrome.base)
    }

    /// An error page in this console's frame.
    pub(crate) fn error(&self, status: StatusCode, title: &str, message: &str) -> Response {
        error_page(self.chrome(title, ""), status, title, message)
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let base = crate::params::mount_path(parts).to_owned();
        let to_login = || {
            // The URI as routed here, under the path the console is nested at.
            let here = format!(
                "{base}{}",
                parts.uri.path_and_query().map_or("/", |p| p.as_str())
            );
            let next = if parts.method == axum::http::Method::GET {
                here
            } else {
                format!("{base}/ui/")
            };
            let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
            redirect(&format!("{base}/ui/login?{query}"))
        };
        let Ok((ctx, csrf_ctx)) = contexts(parts) else {
            return Err(crate::Problem::internal().into_response());
        };
        let Some(Some(token)) = &ctx.session_cookie else {
            return Err(to_login());
        };
        // Passwords are typed and secrets shown here: not over plain HTTP (loopback aside).
        if !ctx.credentials_allowed {
            return Err(crate::Problem::https_required().into_response());
        }
        let Ok(identity) = state.auth.verify_token(token).await else {
            return Err(to_login());
        };
        if !identity.session.kind.is_sign_in() {
            return Err(to_login());
        }
        let chrome = Chrome {
            base,
            lang: identity.user.lang.clone(),
            title: String::new(),
            login: Some(identity.user.login.to_string()),
            nav: "",
            admin: tessera_core::permission::ADMINISTRATION
                .iter()
                .any(|p| identity.allows(p)),
            csrf: csrf_ctx.current_or_new(&state.csrf_signer),
            csrf_field: state.settings.csrf.form_field.clone(),
            notices: Vec::new(),
        };
        Ok(Self {
            session_digest: tessera_core::secret::digest(token.as_bytes()),
            identity,
            chrome,
        })
    }
}

/// A console form submission: the signed-in user and the form's fields, after the CSRF
/// check (a POST without the form's CSRF field changes nothing and gets an error page).
pub(crate) struct Posted {
    pub(crate) console: Console,
    pub(crate) fields: Fields,
    pub(crate) parts: Parts,
}

impl Posted {
    /// The first value of `name`, trimmed; `""` when absent.
    pub(crate) fn get(&self, name: &str) -> &str {
        field(&self.fields, name).map_or("", str::trim)
    }

    /// The path this form was posted to (under the path the console is nested at).
    pub(crate) fn here(&self) -> String {
        format!("{}{}", self.console.chrome.base, self.parts.uri.path())
    }

    /// Whether the form says the action was confirmed (the script's confirmation or the
    /// confirmation page's button).
    pub(crate) fn confirmed(&self) -> bool {
        self.get("confirm") == "yes"
    }
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let console = Console::from_request_parts(&mut parts, state).await?;
        let fields = read_checked_form(state, &parts, body)
            .await
            .map_err(|(status, message)| console.error(status, "Not done", message))?;
        Ok(Self {
            console,
            fields,
            parts,
        })
    }
}

/// The fields of a console form, after checking its CSRF field against the cookie.
pub(crate) async fn read_checked_form(
    state: &AppState,
    parts: &Parts,
    body: axum::body::Body,
) -> Result<Fields, (StatusCode, &'static str)> {
    let fields = body::read_form_fields(&parts.headers, body)
        .await
        .map_err(|_| (StatusCode::BAD_REQUEST, "The form could not be read."))?;
    let (_, csrf_ctx) =
        contexts(parts).map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "Internal error."))?;
    let submitted = field(&fields, &state.settings.csrf.form_field);
    if csrf_ctx.check(submitted).is_err() {
        return Err((
            StatusCode::FORBIDDEN,
            "This form expired or did not come from this site, so nothing was changed. \
             Reload the page and try again.",
        ));
    }
    Ok(fields)
}

/// A time as the pages show it (RFC 3339, UTC); the script turns some into relative
/// times, keeping this one in the tooltip.
pub(crate) fn time(t: tessera_core::Timestamp) -> String {
    t.rfc3339()
}
