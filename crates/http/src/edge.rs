//! The layer every request passes: transport facts (client address, HTTPS, own origin),
//! CSRF state and cross-origin refusal on the way in; CSRF token, cookies and security
//! headers on the way out.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

use std::future::Future;

use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, Version, header};
use axum::response::{IntoResponse, Response};
use tessera_core::secret::digest;

use crate::context::Authentication;
use crate::cookies::{self, ClearSessionCookie, SetSessionCookie};
use crate::csrf::{self, Binding, CsrfContext, IssueToken};
use crate::net;
use crate::settings::Secure;
use crate::timeout::{self, Deadline};
use crate::{AppState, Problem};

pub(crate) const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub(crate) const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub(crate) const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
/// The request's id, on every response (and to the upstream, in gateway mode).
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids of this process: a random prefix (telling instances and restarts apart)
/// and a counter, which costs nothing per request.
static REQUEST_PREFIX: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut prefix = String::with_capacity(8);
    tessera_core::token::random_base62(&mut prefix, 8);
    prefix
});
static REQUEST_COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A trusted proxy's `X-Request-Id` when it is a plausible id (1 to 128 of
/// `A-Z a-z 0-9 . _ : -`), else a new one.
fn request_id(headers: &HeaderMap, from_trusted_proxy: bool) -> std::sync::Arc<str> {
    let given = from_trusted_proxy
        .then(|| headers.get(&X_REQUEST_ID).and_then(|v| v.to_str().ok()))
        .flatten()
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
        });
    match given {
        Some(id) => std::sync::Arc::from(id),
        None => {
            let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
            std::sync::Arc::from(format!("{}-{n:x}", *REQUEST_PREFIX))
        }
    }
}

use crate::context::Attached;
pub use crate::context::RequestContext;
use tessera_core::meter::SeriesMap;

/// Whether the request metrics are wanted (a recorder was installed): until then the
/// edge builds no labels, so applications without metrics pay nothing per request.
static REQUEST_METRICS: AtomicBool = AtomicBool::new(false);

/// Turns on the per-request metrics (`tessera_http_requests_total` and its latency
/// histogram); call it after installing a `metrics` recorder.
pub fn enable_request_metrics() {
    REQUEST_METRICS.store(true, Ordering::Relaxed);
    tessera_core::meter::enable();
}

/// Set once the misconfiguration warning below has been logged.
static WARNED_UNTRUSTED_FORWARDING: AtomicBool = AtomicBool::new(false);

/// Set once the warning about an unknown client address has been logged.
static WARNED_NO_PEER: AtomicBool = AtomicBool::new(false);

/// RFC 9112 §3.2: an HTTP/1.1 request has exactly one `Host`; HTTP/1.0 and HTTP/2 at
/// most one. Two would let Tessera and the upstream judge different hosts.
fn check_host(req: &Request) -> Result<(), Problem> {
    let mut hosts = req.headers().get_all(header::HOST).iter();
    let first = hosts.next();
    if hosts.next().is_some() {
        return Err(Problem::invalid_request("the Host header is repeated"));
    }
    if first.is_none() && req.version() == Version::HTTP_11 {
        return Err(Problem::invalid_request(
            "an HTTP/1.1 request needs a Host header",
        ));
    }
    Ok(())
}

/// The work in front of every route, run by [`AuthLayer`](crate::layer::AuthLayer). On
/// the way in: refuses a repeated or (HTTP/1.1) missing `Host`, puts a deadline on reading
/// the body, and attaches the [`RequestContext`] and [`CsrfContext`] as request
/// extensions, answering 403 itself to an unsafe request from another origin; then `next`
/// answers. On the way out: sends the CSRF token, sets or clears the session cookie as the
/// handler asked, and adds the security headers.
pub(crate) async fn run<F, Fut>(state: &AppState, req: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if let Err(p) = check_host(&req) {
        let mut res = p.into_response();
        res.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if let Ok(id) = HeaderValue::from_str(&request_id(&HeaderMap::new(), false)) {
            res.headers_mut().insert(X_REQUEST_ID, id);
        }
        return res;
    }
    let settings = &state.settings;
    let started = std::time::Instant::now();
    let labels = REQUEST_METRICS
        .load(Ordering::Relaxed)
        .then(|| RequestLabels::of(&req, settings.proxy.is_some()));
    // Only a proxied request's body is timed chunk by chunk (it streams to the upstream).
    let own = crate::paths::under_base_as_received(&settings.base_path, req.uri().path());
    let deadline = if settings.proxy.is_none() || own {
        Deadline::Whole
    } else {
        Deadline::EachChunk
    };
    let mut req = req.map(|b| timeout::timed(b, settings.body_read_timeout, deadline));
    let headers = req.headers();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if peer.is_none() && !WARNED_NO_PEER.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "the client address of requests is unknown: serve the application with \
             `into_make_service_with_connect_info::<SocketAddr>()`; until then credentials \
             are accepted over HTTPS only and failed logins are throttled per account only"
        );
    }
    if settings.trusted_proxies.is_empty()
        && peer.is_some_and(|p| net::canonical(p).is_loopback())
        && headers.contains_key(&X_FORWARDED_FOR)
        && !WARNED_UNTRUSTED_FORWARDING.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            "a request from a loopback proxy carries X-Forwarded-For, but server.trusted_proxies is empty: \
             every client then looks local (plain-HTTP credentials accepted, one shared throttling counter per address); \
             list the proxy in server.trusted_proxies"
        );
    }
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

    // Two session cookies (one tossed from a sibling subdomain, say) make the request
    // ambiguous: treated as an invalid cookie (401), never as whichever came first.
    // A cookie sealed by an older key of the ring: sealed again on the way out.
    let mut resealable = None;
    let session_cookie = match cookies::get_unique(headers, &settings.session_cookie.name) {
        cookies::Found::None => None,
        cookies::Found::Many => Some(None),
        cookies::Found::One(v) => Some(
            cookies::open_session_checked(&state.cookie_sealer, &settings.session_cookie.name, v)
                .map(|(token, current)| {
                    if !current {
                        resealable = Some(token.clone());
                    }
                    token
                }),
        ),
    };
    let binding = match &session_cookie {
        Some(Some(token)) => Binding::Session(digest(token.as_bytes())),
        _ => Binding::Anonymous,
    };
    // A token signed by an older key of the ring stays valid, and is replaced on the way out.
    let mut csrf_stale = false;
    let valid_cookie = cookies::get_unique(headers, &settings.csrf.cookie_name)
        .one()
        .filter(
            |t| match csrf::verify_token_checked(&state.csrf_signer, binding, t) {
                Some(current) => {
                    csrf_stale = !current;
                    true
                }
                None => false,
            },
        )
        .map(str::to_owned);
    let csrf_ctx = CsrfContext {
        binding,
        valid_cookie,
    };
    let request_id = request_id(headers, from_trusted_proxy);
    let ctx = RequestContext {
        request_id: request_id.clone(),
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
    // Only cookie-carried sessions use the CSRF token: a request that authenticates by a
    // header, with no session cookie, gets none (unless a handler issues one), which
    // spares API clients a cookie they never send back and the server the signing. Nor
    // does `{base}/verify`: its answer goes to a proxy, which passes no cookie on.
    let header_credential = req.headers().contains_key(header::AUTHORIZATION)
        || settings
            .alias_header
            .as_ref()
            .is_some_and(|h| req.headers().contains_key(h));
    let verify = own
        && req
            .uri()
            .path()
            .strip_prefix(settings.base_path.trim_end_matches('/'))
            .map(|rest| rest.trim_end_matches('/'))
            == Some("/verify");
    let out = Outgoing {
        request_id: request_id.clone(),
        https: ctx.https,
        had_session_cookie: ctx.session_cookie.is_some(),
        csrf_wanted: !verify && (!header_credential || ctx.session_cookie.is_some()),
        csrf_stale,
        csrf: csrf_ctx.clone(),
    };
    let mut res = match refused {
        Some(problem) => problem.into_response(),
        None => {
            req.extensions_mut().insert(Attached {
                request: ctx,
                csrf: csrf_ctx,
                authentication: Authentication::new(state.clone()),
            });
            // Every log line and audit event of the handler carries the request's id.
            let span = tracing::info_span!("request", id = %request_id);
            tessera_core::request::scope(
                request_id,
                tracing::Instrument::instrument(next(req), span),
            )
            .await
        }
    };
    // Not on `{base}/verify`: its answer goes to a proxy, which passes no cookie on.
    if let Some(token) = resealable.filter(|_| !verify) {
        reseal_session_cookie(state, token, &mut res).await;
    }
    finish(state, &out, &mut res);
    if let Some(labels) = labels {
        labels.record(res.status(), started);
    }
    res
}

/// Seals a session cookie that an older key of the ring sealed again under the current
/// key, on an answer that neither sets nor clears the cookie itself and did not refuse
/// it, so that retiring the older key logs nobody out.
async fn reseal_session_cookie(state: &AppState, token: String, res: &mut Response) {
    if res.status() == StatusCode::UNAUTHORIZED
        || res.extensions().get::<SetSessionCookie>().is_some()
        || res.extensions().get::<ClearSessionCookie>().is_some()
    {
        return;
    }
    // From the verification cache: the handler has just verified the same token.
    let Ok(identity) = state.auth.verify_token(&token).await else {
        return;
    };
    if !identity.session.kind.is_sign_in() {
        return;
    }
    state.auth.record_cookie_resealed(&identity.session);
    res.extensions_mut().insert(SetSessionCookie {
        token,
        expires_at: identity.session.expires_at,
        issued_at: tessera_core::Timestamp::now(),
    });
}

/// The labels of the request metrics: the route template (never the raw path), a known
/// method, and the status class of the answer.
struct RequestLabels {
    route: Route,
    method: &'static str,
}

/// The `route` label: a route template, or what stands for a path without one.
enum Route {
    Matched(axum::extract::MatchedPath),
    Gateway,
    Unmatched,
}

impl Route {
    fn as_str(&self) -> &str {
        match self {
            Self::Matched(m) => m.as_str(),
            Self::Gateway => "{gateway}",
            Self::Unmatched => "{unmatched}",
        }
    }
}

/// The handles of one route's request series, by method and status.
struct RequestSeries {
    method: &'static str,
    status: axum::http::StatusCode,
    requests: metrics::Counter,
    duration: metrics::Histogram,
}

thread_local! {
    /// Request series handles by route template, kept per thread (see
    /// `tessera_core::meter`): labels are bounded, so this stays small. Only filled once
    /// request metrics are enabled, that is once a recorder is installed.
    static REQUEST_SERIES: std::cell::RefCell<SeriesMap<String, Vec<RequestSeries>>> =
        std::cell::RefCell::default();
}

impl RequestLabels {
    fn of(req: &Request, gateway: bool) -> Self {
        let route = match req.extensions().get::<axum::extract::MatchedPath>() {
            Some(m) => Route::Matched(m.clone()),
            None if gateway => Route::Gateway,
            None => Route::Unmatched,
        };
        use axum::http::Method;
        let method = match *req.method() {
            Method::GET => "GET",
            Method::HEAD => "HEAD",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::PATCH => "PATCH",
            Method::DELETE => "DELETE",
            Method::OPTIONS => "OPTIONS",
            _ => "other",
        };
        Self { route, method }
    }

    fn record(self, status: axum::http::StatusCode, started: std::time::Instant) {
        let elapsed = started.elapsed().as_secs_f64();
        let route = self.route.as_str();
        REQUEST_SERIES.with_borrow_mut(|routes| match routes.get_mut(route) {
            Some(series) => self.record_in(series, route, status, elapsed),
            None => {
                let mut series = Vec::new();
                self.record_in(&mut series, route, status, elapsed);
                routes.insert(route.to_owned(), series);
            }
        });
    }

    /// Records in the route's series handles, registering the series of this method and
    /// status the first time.
    fn record_in(
        &self,
        series: &mut Vec<RequestSeries>,
        route: &str,
        status: axum::http::StatusCode,
        elapsed: f64,
    ) {
        let at = match series
            .iter()
            .position(|s| s.status == status && s.method == self.method)
        {
            Some(at) => at,
            None => {
                series.push(RequestSeries {
                    method: self.method,
                    status,
                    requests: metrics::counter!(
                        "tessera_http_requests_total",
                        "route" => route.to_owned(),
                        "method" => self.method,
                        "status" => status.as_str().to_owned()
                    ),
                    duration: metrics::histogram!(
                        "tessera_http_request_duration_seconds",
                        "route" => route.to_owned(),
                        "method" => self.method
                    ),
                });
                series.len() - 1
            }
        };
        series[at].requests.increment(1);
        series[at].duration.record(elapsed);
    }
}

/// The request facts the response headers depend on.
struct Outgoing {
    request_id: std::sync::Arc<str>,
    https: bool,
    had_session_cookie: bool,
    /// Send the CSRF header (and cookie when new) even if no handler issued a token.
    csrf_wanted: bool,
    /// The CSRF cookie was signed by an older key of the ring: issue a new one.
    csrf_stale: bool,
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
    let token = match issued {
        Some(t) => Some(t),
        None if out.csrf_wanted && out.csrf_stale => {
            Some(csrf::new_token(&state.csrf_signer, csrf_ctx.binding))
        }
        None if out.csrf_wanted => Some(csrf_ctx.current_or_new(&state.csrf_signer)),
        None => None,
    };
    let set_session = res.extensions_mut().remove::<SetSessionCookie>();
    let clear_session = res
        .extensions_mut()
        .remove::<ClearSessionCookie>()
        .is_some();
    let h = res.headers_mut();
    if let Ok(id) = HeaderValue::from_str(&out.request_id) {
        h.insert(X_REQUEST_ID, id);
    }
    if let Some(token) = token {
        if let Ok(v) = HeaderValue::from_str(&token) {
            h.insert(settings.csrf.header_name.clone(), v);
        }
        if csrf_ctx.valid_cookie.as_deref() != Some(token.as_str()) {
            append_cookie(
                h,
                &cookies::csrf_set_cookie(&settings.csrf.cookie_name, &token, secure),
            );
        }
    }
    if let Some(s) = set_session {
        let sealed = cookies::seal_session(
            &state.cookie_sealer,
            &settings.session_cookie.name,
            &s.token,
        );
        append_cookie(
            h,
            &cookies::session_set_cookie(
                &settings.session_cookie,
                &sealed,
                s.expires_at,
                s.issued_at,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_a_trusted_proxys_or_our_own() {
        let mut h = HeaderMap::new();
        h.insert(X_REQUEST_ID, HeaderValue::from_static("lb-7f3a.1"));
        assert_eq!(&*request_id(&h, true), "lb-7f3a.1");
        let ours = request_id(&h, false);
        assert!(ours.starts_with(&*REQUEST_PREFIX), "{ours}");
        assert_ne!(request_id(&h, false), ours, "every request its own");
        // Not plausible: replaced even from a trusted proxy.
        for bad in ["", "a b", "x\u{7f}", &"y".repeat(129)] {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(bad) {
                h.insert(X_REQUEST_ID, v);
            }
            assert!(
                request_id(&h, true).starts_with(&*REQUEST_PREFIX),
                "{bad:?}"
            );
        }
    }
}
