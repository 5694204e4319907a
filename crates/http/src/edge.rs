//! The layer every request passes: transport facts (client address, HTTPS, own origin),
//! CSRF state and cross-origin refusal on the way in; CSRF token, cookies and security
//! headers on the way out.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tessera_core::Timestamp;
use tessera_core::secret::digest;

use crate::AppState;
use crate::cookies::{self, ClearSessionCookie, SetSessionCookie};
use crate::csrf::{self, Binding, CsrfContext, IssueToken};
use crate::net;
use crate::settings::Secure;

pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Request extension: what the edge learned about the request's transport.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The client, through trusted proxies; `None` when the peer address is unknown.
    pub client_ip: Option<IpAddr>,
    /// HTTPS end to end as far as we can tell (native TLS, or a trusted proxy's
    /// `X-Forwarded-Proto: https`).
    pub https: bool,
    /// `scheme://host[:port]` of this server as the client addressed it.
    pub own_origin: String,
    /// The session cookie: `None` absent, `Some(None)` present but not sealed by us,
    /// `Some(Some(token))` the token it carries.
    pub session_cookie: Option<Option<String>>,
    /// Plain HTTP carrying credentials is acceptable for this request.
    pub credentials_allowed: bool,
    /// The TCP peer is one of `server.trusted_proxies`.
    pub from_trusted_proxy: bool,
}

impl RequestContext {
    /// Who is asking, for new sessions and the audit log.
    pub fn client_info(
        &self,
        headers: &HeaderMap,
        method: &str,
    ) -> tessera_core::session::ClientInfo {
        tessera_core::session::ClientInfo {
            ip: self.client_ip.map(|ip| ip.to_string()),
            user_agent: Self::user_agent(headers),
            method: Some(method.to_owned()),
        }
    }

    pub fn user_agent(headers: &HeaderMap) -> Option<String> {
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().filter(|c| !c.is_control()).take(512).collect())
    }
}

pub async fn edge(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let settings = &state.settings;
    let headers = req.headers();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let from_trusted_proxy =
        peer.is_some_and(|p| settings.trusted_proxies.iter().any(|n| n.contains(p)));
    let client_ip = peer.map(|p| {
        let xff: Vec<&str> = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        net::client_ip(p, &xff, &settings.trusted_proxies)
    });
    let forwarded = |name: &HeaderName| -> Option<String> {
        from_trusted_proxy
            .then(|| headers.get(name).and_then(|v| v.to_str().ok()))
            .flatten()
            .and_then(|v| v.split(',').next())
            .map(|v| v.trim().to_owned())
    };
    let https = settings.tls
        || forwarded(&X_FORWARDED_PROTO).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let host = forwarded(&X_FORWARDED_HOST)
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .or_else(|| req.uri().authority().map(|a| a.to_string()))
        .unwrap_or_default();
    let own_origin = format!("{}://{}", if https { "https" } else { "http" }, host);
    let loopback = client_ip.is_some_and(|ip| ip.is_loopback());
    let credentials_allowed = https || settings.allow_insecure_http || loopback;

    let session_cookie = cookies::get(headers, &settings.session_cookie.name)
        .map(|v| cookies::open_session(&state.cookie_sealer, &settings.session_cookie.name, v));
    let binding = match &session_cookie {
        Some(Some(token)) => Binding::Session(digest(token.as_bytes())),
        _ => Binding::Anonymous,
    };
    let valid_cookie = cookies::get(headers, &settings.csrf.cookie_name)
        .filter(|t| csrf::verify_token(&state.csrf_signer, binding, t))
        .map(str::to_owned);
    let csrf_ctx = CsrfContext {
        binding,
        valid_cookie,
    };
    let ctx = RequestContext {
        client_ip,
        https,
        own_origin,
        session_cookie,
        credentials_allowed,
        from_trusted_proxy,
    };

    let refused = csrf::is_unsafe(req.method())
        .then(|| {
            csrf::check_origin(
                req.headers(),
                &ctx.own_origin,
                &settings.csrf.trusted_origins,
            )
            .err()
        })
        .flatten();
    // What the way out needs, so that the contexts move into the request uncopied.
    let out = Outgoing {
        https: ctx.https,
        had_session_cookie: ctx.session_cookie.is_some(),
        csrf: csrf_ctx.clone(),
    };
    let mut res = match refused {
        Some(problem) => problem.into_response(),
        None => {
            req.extensions_mut().insert(ctx);
            req.extensions_mut().insert(csrf_ctx);
            next.run(req).await
        }
    };
    finish(&state, &out, &mut res);
    res
}

/// The request facts the response headers depend on.
struct Outgoing {
    https: bool,
    had_session_cookie: bool,
    csrf: CsrfContext,
}

fn finish(state: &AppState, out: &Outgoing, res: &mut Response) {
    let settings = &state.settings;
    let csrf_ctx = &out.csrf;
    let secure = match settings.session_cookie.secure {
        Secure::Always => true,
        Secure::Never => false,
        Secure::Auto => out.https,
    };
    let issued = res.extensions_mut().remove::<IssueToken>().map(|t| t.0);
    let token = issued.unwrap_or_else(|| csrf_ctx.current_or_new(&state.csrf_signer));
    let set_session = res.extensions_mut().remove::<SetSessionCookie>();
    let clear_session = res
        .extensions_mut()
        .remove::<ClearSessionCookie>()
        .is_some();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&token) {
        h.insert(settings.csrf.header_name.clone(), v);
    }
    if csrf_ctx.valid_cookie.as_deref() != Some(token.as_str()) {
        append_cookie(
            h,
            &cookies::csrf_set_cookie(&settings.csrf.cookie_name, &token, secure),
        );
    }
    if let Some(s) = set_session {
        let sealed = cookies::seal_session(
            &state.cookie_sealer,
            &settings.session_cookie.name,
            &s.token,
        );
        let now = Timestamp::now();
        append_cookie(
            h,
            &cookies::session_set_cookie(
                &settings.session_cookie,
                &sealed,
                s.expires_at,
                now,
                secure,
            ),
        );
    } else if clear_session && out.had_session_cookie {
        append_cookie(
            h,
            &cookies::session_clear_cookie(&settings.session_cookie, secure),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::SERVER, HeaderValue::from_static("tessera"));
    if out.https {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000"),
        );
    }
}

fn append_cookie(h: &mut HeaderMap, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        h.append(header::SET_COOKIE, v);
    }
}
