//! `GET {base}/verify`: the forward-auth decision for nginx `auth_request`, Traefik
//! ForwardAuth, Caddy `forward_auth` and Envoy's HTTP ext_authz (whose check, sent with the
//! client's method and path, `examples/envoy/envoy.yaml` turns into this request). The
//! original method and URI come from `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik,
//! Caddy) or `X-Original-Method`/`X-Original-URI` (nginx), believed only from
//! `server.trusted_proxies`. A 200 always carries the four `X-Tessera-*` headers.

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;

use crate::context::contexts;
use crate::decision;
use crate::{AppState, Problem};

const X_FORWARDED_METHOD: HeaderName = HeaderName::from_static("x-forwarded-method");
const X_ORIGINAL_METHOD: HeaderName = HeaderName::from_static("x-original-method");
const X_FORWARDED_URI: HeaderName = HeaderName::from_static("x-forwarded-uri");
const X_ORIGINAL_URI: HeaderName = HeaderName::from_static("x-original-uri");
/// The identity headers of [`crate::principal::Principal::headers`]: on a public rule they
/// are answered too, empty.
const ANONYMOUS: [HeaderName; 4] = [
    HeaderName::from_static("x-tessera-user"),
    HeaderName::from_static("x-tessera-session"),
    HeaderName::from_static("x-tessera-permissions"),
    HeaderName::from_static("x-tessera-credential"),
];

/// The original request's method or URI. Both header families may be present only when
/// they agree: a proxy sets one family and passes the client's headers on, so a client
/// could otherwise describe a harmless request in the other family.
fn original<'a>(
    headers: &'a axum::http::HeaderMap,
    traefik: &HeaderName,
    nginx: &HeaderName,
) -> Result<Option<&'a str>, Problem> {
    let one = |name: &HeaderName| -> Result<Option<&'a str>, Problem> {
        let mut values = headers.get_all(name).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(Problem::invalid_request(format!("{name} is repeated")));
        }
        first
            .map(|v| {
                v.to_str()
                    .map_err(|_| Problem::invalid_request(format!("{name} is not valid")))
            })
            .transpose()
    };
    match (one(traefik)?, one(nginx)?) {
        (Some(a), Some(b)) if a != b => Err(Problem::invalid_request(format!(
            "{traefik} and {nginx} disagree"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

/// The access decision on the original request a proxy describes.
#[utoipa::path(
    get,
    path = "/verify",
    tag = "verify",
    summary = "Decide on a proxied request",
    description = "For nginx `auth_request`, Traefik ForwardAuth, Caddy `forward_auth` and \
        Envoy ext_authz, from `server.trusted_proxies` only. The original method and URI \
        come from `X-Forwarded-Method` and `X-Forwarded-Uri` (Traefik, Caddy) or \
        `X-Original-Method` and `X-Original-URI` (nginx), judged by the access rules with \
        the credential the client sent (cookie, bearer token, `Secret`, Basic). A 200 \
        carries the identity headers to pass upstream, empty on a public rule.",
    security(("rules" = [])),
    params(
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original method (or `X-Original-Method`)", example = "GET"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The original path and query (or `X-Original-URI`)", example = "/orders/42"),
    ),
    responses(
        (status = 200, description = "Allowed", headers(
            ("X-Tessera-User" = String, description = "The user's login; empty when anonymous"),
            ("X-Tessera-Session" = String, description = "The session's id; empty when anonymous"),
            ("X-Tessera-Permissions" = String, description = "The credential's permissions, space-separated"),
            ("X-Tessera-Credential" = String, description = "The credential's kind; empty when anonymous"),
            ("RateLimit-Policy" = String, description = "On a rule with a `rate_limit`: its quota and window"),
            ("RateLimit" = String, description = "On a rule with a `rate_limit`: requests left at once, and seconds until the budget is full"),
        )),
        (status = 400, description = "The original request is missing, repeated, contradictory or not from a trusted proxy (`invalid_request`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "The rule needs a credential and none works (`unauthenticated`, `invalid_token`, `session_expired`)", body = Problem, content_type = "application/problem+json", headers(("WWW-Authenticate" = String, description = "The challenge"))),
        (status = 403, description = "The credential may not make this request (`forbidden`, `insufficient_scope`, `csrf_failed`), or no rule matches", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed Basic or `Secret` attempts (`too_many_attempts`), or the rule's rate limit is spent (`rate_limited`, with `RateLimit-Policy` and `RateLimit`)", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn verify(State(state): State<AppState>, req: Request) -> Result<Response, Problem> {
    let (parts, _) = req.into_parts();
    let (ctx, _) = contexts(&parts)?;
    if !ctx.from_trusted_proxy {
        return Err(Problem::invalid_request(
            "the original request is read only from server.trusted_proxies (X-Forwarded-Uri or X-Original-URI)",
        ));
    }
    let Some(uri) = original(&parts.headers, &X_FORWARDED_URI, &X_ORIGINAL_URI)? else {
        return Err(Problem::invalid_request(
            "X-Forwarded-Uri or X-Original-URI is required",
        ));
    };
    // Never assumed: judging an unknown method as GET would allow a POST that only a GET
    // rule permits.
    let Some(method) = original(&parts.headers, &X_FORWARDED_METHOD, &X_ORIGINAL_METHOD)?
        .filter(|m| !m.is_empty())
    else {
        return Err(Problem::invalid_request(
            "X-Forwarded-Method or X-Original-Method is required",
        ));
    };
    let method = method.to_ascii_uppercase();
    let uri = uri.split('#').next().unwrap_or("");
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    let path =
        tessera_core::path::normalize(path).map_err(|e| Problem::invalid_request(e.to_string()))?;
    let decision =
        decision::decide(&state, &state.settings.rules, &parts, &method, &path, query).await?;
    // Room for the identity headers and what the edge adds, so the map never regrows.
    let mut headers = axum::http::HeaderMap::with_capacity(16);
    if let Some(rate) = &decision.rate {
        rate.apply(&mut headers);
    }
    if let Some(p) = decision.principal {
        for (name, value) in p.headers() {
            headers.insert(name, value);
        }
    } else {
        // A public rule: the same four headers, empty. A proxy that copies them from every
        // 200 then overwrites what a client sent instead of keeping it (or, Caddy 2.6,
        // sending its unexpanded placeholder).
        for name in ANONYMOUS {
            headers.insert(name, HeaderValue::from_static(""));
        }
    }
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    let mut res = Response::new(axum::body::Body::empty());
    *res.headers_mut() = headers;
    Ok(res)
}
