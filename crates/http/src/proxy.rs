//! Gateway mode: every request outside the base path is decided by the access rules and,
//! when allowed, forwarded to `proxy.upstream` with the identity headers. Bodies stream
//! both ways (nothing is buffered), connections to the upstream are kept for reuse
//! (`upstream.rs`, driven by the request's own task), and `Upgrade` (WebSocket)
//! connections are spliced through.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;

use crate::context::contexts;
use crate::decision::{self, Principal};
use crate::edge::{X_FORWARDED_FOR, X_FORWARDED_HOST, X_FORWARDED_PROTO};
use crate::settings::{HttpSettings, Proxy};
use crate::{AppState, Problem};

/// Headers a client must not be able to pass to the upstream: identity headers (also
/// spelled with `_`, which CGI-style servers read as `-`), method and URL overrides that
/// would make the upstream act on something other than what the rules judged, and every
/// claim about the client's address, scheme or host. The upstream's forwarding headers
/// (`X-Forwarded-For`, `-Proto`, `-Host`) are built by Tessera alone, from what it
/// believes (a trusted proxy's, or the connection's); no other is passed on, from anyone.
fn must_not_pass(name: &str) -> bool {
    // Compared with `_` read as `-`, without building the respelled name (this runs for
    // every header of every proxied request).
    let is = |target: &str| {
        name.len() == target.len()
            && name
                .bytes()
                .zip(target.bytes())
                .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
    };
    let starts = |prefix: &str| name.len() >= prefix.len() && is_prefix(name, prefix);
    starts("x-tessera-")
        || starts("x-forwarded-")
        || [
            // Overrides of what was judged.
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            "x-original-url",
            "x-rewrite-url",
            "x-original-uri",
            "x-original-method",
            // Claims about the client, the scheme or the host.
            "forwarded",
            "x-real-ip",
            "x-client-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "x-cluster-client-ip",
            "fastly-client-ip",
            "x-original-host",
            "x-host",
            "front-end-https",
        ]
        .into_iter()
        .any(is)
}

/// `prefix` starts `name`, with `_` in `name` read as `-`.
fn is_prefix(name: &str, prefix: &str) -> bool {
    name.bytes()
        .zip(prefix.bytes())
        .all(|(a, b)| a == b || (a == b'_' && b == b'-'))
}

/// The query string without the token URL parameter.
fn without_param(query: Option<&str>, param: &str) -> Option<String> {
    let q = query?;
    let kept: Vec<&str> = q
        .split('&')
        .filter(|kv| {
            let key = kv.split('=').next().unwrap_or("");
            let decoded: String =
                serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("{key}="))
                    .ok()
                    .and_then(|mut v| v.pop())
                    .map_or_else(|| key.to_owned(), |(k, _)| k);
            decoded != param
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("&"))
}

/// Hop-by-hop headers (RFC 9110 §7.6.1), never forwarded.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

fn strip_hop_by_hop(h: &mut HeaderMap) {
    if h.contains_key(header::CONNECTION) {
        let listed: Vec<HeaderName> = h
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
            .collect();
        for n in listed {
            h.remove(n);
        }
    }
    for n in &HOP_BY_HOP {
        h.remove(n);
    }
}

/// Removes Tessera's own cookies and credentials from what the upstream sees.
fn strip_credentials(h: &mut HeaderMap, settings: &HttpSettings) {
    h.remove(header::AUTHORIZATION);
    if let Some(alias) = &settings.alias_header {
        h.remove(alias);
    }
    h.remove(&settings.csrf.header_name);
    let ours = [
        settings.session_cookie.name.as_str(),
        settings.csrf.cookie_name.as_str(),
    ];
    let kept: Vec<String> = h
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .map(str::trim)
        .filter(|c| !c.is_empty() && !ours.iter().any(|o| c.split('=').next() == Some(*o)))
        .map(str::to_owned)
        .collect();
    h.remove(header::COOKIE);
    if !kept.is_empty()
        && let Ok(v) = HeaderValue::from_str(&kept.join("; "))
    {
        h.insert(header::COOKIE, v);
    }
}

fn upstream_uri(proxy: &Proxy, path: &str, query: Option<&str>) -> Result<Uri, Problem> {
    let base = proxy.upstream.path().trim_end_matches('/');
    let pq = match query {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
    };
    let mut parts = proxy.upstream.clone().into_parts();
    parts.path_and_query = Some(
        pq.parse()
            .map_err(|_| Problem::invalid_request("the request target cannot be forwarded"))?,
    );
    Uri::from_parts(parts)
        .map_err(|_| Problem::invalid_request("the request target cannot be forwarded"))
}

/// A WebSocket upgrade (the only protocol switch passed through: an `h2c` upgrade would
/// open a tunnel in which requests are never decided).
fn is_upgrade(h: &HeaderMap) -> bool {
    h.get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
        && h.get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
}

/// The fallback handler in gateway mode: decides a request outside Tessera's own paths by
/// the access rules and, when allowed, forwards it to `proxy.upstream` with the identity
/// headers. Refusals, and Tessera's own paths in any spelling (404), are answered as
/// problems.
pub async fn gateway(State(state): State<AppState>, req: Request) -> Response {
    match forward(&state, req).await {
        Ok(res) => res,
        Err(p) => p.into_response(),
    }
}

async fn forward(state: &AppState, req: Request) -> Result<Response, Problem> {
    let settings = &state.settings;
    let Some(proxy) = &settings.proxy else {
        return Err(Problem::not_found());
    };
    let (mut parts, body) = req.into_parts();
    let path = tessera_core::path::normalize(parts.uri.path())
        .map_err(|e| Problem::invalid_request(e.to_string()))?;
    // Decided on the normalised path, as the upstream would read it: `//api/login` or
    // `/x/../API/login` is Tessera's own path too, and its credentials never leave.
    if crate::paths::is_own_path(settings, &path) {
        return Err(Problem::not_found());
    }
    let method = parts.method.as_str().to_ascii_uppercase();
    let decision::Decision { principal, rate } = decision::decide(
        state,
        &settings.rules,
        &parts,
        &method,
        &path,
        parts.uri.query(),
    )
    .await?;
    contexts(&parts)?;
    let ctx = parts
        .extensions
        .remove::<crate::context::Attached>()
        .ok_or_else(Problem::internal)?
        .request;

    let upgrade = is_upgrade(&parts.headers);
    let upgrade_header = upgrade
        .then(|| parts.headers.get(header::UPGRADE).cloned())
        .flatten();
    let client_upgrade = if upgrade {
        parts.extensions.remove::<hyper::upgrade::OnUpgrade>()
    } else {
        None
    };

    let host = parts.headers.get(header::HOST).cloned();
    let mut headers = std::mem::take(&mut parts.headers);
    strip_hop_by_hop(&mut headers);
    let forwarded_host = ctx
        .from_trusted_proxy
        .then(|| headers.get(&X_FORWARDED_HOST).cloned())
        .flatten();
    let forwarded_for = ctx
        .from_trusted_proxy
        .then(|| headers.get(&X_FORWARDED_FOR).cloned())
        .flatten();
    let incoming: Vec<HeaderName> = headers
        .keys()
        .filter(|k| must_not_pass(k.as_str()))
        .cloned()
        .collect();
    for k in incoming {
        headers.remove(k);
    }
    if !proxy.forward_credentials {
        strip_credentials(&mut headers, settings);
    }
    if let Some(p) = &principal {
        identity_headers(&mut headers, p);
    }
    forwarded_headers(
        &mut headers,
        &ctx,
        forwarded_for.as_ref(),
        forwarded_host.as_ref().or(host.as_ref()),
    );
    if let Some(u) = upgrade_header {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, u);
    }

    let query = match (&settings.url_param, proxy.forward_credentials) {
        (Some(param), false) => without_param(parts.uri.query(), param),
        _ => parts.uri.query().map(str::to_owned),
    };
    let uri = upstream_uri(proxy, &path, query.as_deref())?;
    let mut out = axum::http::Request::builder()
        .method(parts.method.clone())
        .uri(uri);
    if let Some(h) = out.headers_mut() {
        *h = headers;
    }
    let out = out
        .body(body)
        .map_err(|_| Problem::invalid_request("the request cannot be forwarded"))?;

    let res = match tokio::time::timeout(proxy.timeout, state.upstream.send(out)).await {
        Ok(Ok(res)) => res,
        Ok(Err(e)) if crate::timeout::is_body_timeout(&e) => {
            return Err(Problem::request_timeout());
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "upstream unreachable");
            return Err(
                Problem::new(StatusCode::BAD_GATEWAY, "bad_gateway", "Bad Gateway")
                    .with_detail("the upstream service is unreachable"),
            );
        }
        Err(_) => {
            tracing::warn!(timeout = ?proxy.timeout, "upstream timed out");
            return Err(Problem::new(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                "Gateway Timeout",
            )
            .with_detail("the upstream service did not answer in time"));
        }
    };
    let (mut res_parts, res_body) = res.into_parts();
    // The client's connection is ours, not the upstream's: an HTTP/1.0 upstream (Python's
    // `http.server`) must not turn the answer into HTTP/1.0 and close the client's
    // keep-alive connection.
    res_parts.version = axum::http::Version::HTTP_11;
    if res_parts.status == StatusCode::SWITCHING_PROTOCOLS && !upgrade {
        tracing::warn!("upstream switched protocols without being asked");
        return Err(
            Problem::new(StatusCode::BAD_GATEWAY, "bad_gateway", "Bad Gateway")
                .with_detail("the upstream answered with an unexpected protocol switch"),
        );
    }
    if res_parts.status == StatusCode::SWITCHING_PROTOCOLS {
        let upstream_side = res_parts
            .extensions
            .remove::<crate::upstream::UpgradedSlot>()
            .and_then(|slot| slot.take());
        if let (Some(client_side), Some(upstream_side)) = (client_upgrade, upstream_side) {
            tokio::spawn(async move {
                match client_side.await {
                    Ok(c) => {
                        let mut c = TokioIo::new(c);
                        let mut u = upstream_side.io;
                        // What the upstream sent right after its answer's head is the new
                        // protocol's first bytes.
                        if tokio::io::AsyncWriteExt::write_all(&mut c, &upstream_side.buffered)
                            .await
                            .is_ok()
                        {
                            let _ = tokio::io::copy_bidirectional(&mut c, &mut u).await;
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "upgrade failed"),
                }
            });
        }
        return Ok(Response::from_parts(res_parts, Body::empty()));
    }
    strip_hop_by_hop(&mut res_parts.headers);
    if let Some(rate) = &rate {
        rate.apply(&mut res_parts.headers);
    }
    Ok(Response::from_parts(res_parts, res_body))
}

fn identity_headers(h: &mut HeaderMap, p: &Principal) {
    for (name, value) in p.headers() {
        h.insert(name, value);
    }
}

fn forwarded_headers(
    h: &mut HeaderMap,
    ctx: &crate::context::RequestContext,
    prior_for: Option<&HeaderValue>,
    host: Option<&HeaderValue>,
) {
    let https = ctx.https;
    if let Some(ip) = ctx.client_ip {
        let prior = prior_for.and_then(|v| v.to_str().ok());
        let value = match prior {
            Some(p) => format!("{p}, {ip}"),
            None => ip.to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(X_FORWARDED_FOR, v);
        }
    }
    h.insert(
        X_FORWARDED_PROTO,
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    if let Some(host) = host {
        h.insert(X_FORWARDED_HOST, host.clone());
    }
    // The upstream logs the same request id as Tessera (a client's own is replaced).
    if let Ok(id) = HeaderValue::from_str(&ctx.request_id) {
        h.insert(crate::edge::X_REQUEST_ID, id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_our_cookies_are_stripped() {
        let s = HttpSettings::default();
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer x"));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("sessionid=a; theirs=1; csrftoken=b"),
        );
        h.insert("x-csrftoken", HeaderValue::from_static("b"));
        strip_credentials(&mut h, &s);
        assert!(h.get(header::AUTHORIZATION).is_none());
        assert!(h.get("x-csrftoken").is_none());
        assert_eq!(h.get(header::COOKIE).unwrap(), "theirs=1");
    }

    #[test]
    fn spoofing_headers_never_pass() {
        for h in [
            "x-tessera-user",
            "x_tessera_user",
            "x-http-method-override",
            "x-original-url",
            "x_forwarded_for",
            "x-forwarded-for",
            "x-forwarded-host",
            "x-forwarded-ssl",
            "x-forwarded-scheme",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "forwarded",
            "x-real-ip",
            "x_real_ip",
            "x-client-ip",
            "true-client-ip",
            "cf-connecting-ip",
            "x-cluster-client-ip",
            "x-original-host",
            "x-host",
            "x_original_uri",
        ] {
            assert!(must_not_pass(h), "{h}");
        }
        assert!(!must_not_pass("accept"));
        assert!(!must_not_pass("x-tessera"));
        assert!(!must_not_pass("x-original-uri-extra"));
        assert!(!must_not_pass("x-request-id"));
    }

    #[test]
    fn the_token_parameter_is_removed() {
        assert_eq!(
            without_param(Some("a=1&access_token=x&b=2"), "access_token").as_deref(),
            Some("a=1&b=2")
        );
        assert_eq!(
            without_param(Some("access%5Ftoken=x"), "access_token"),
            None
        );
        assert_eq!(without_param(None, "access_token"), None);
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-secret-hop"),
        );
        h.insert("x-secret-hop", HeaderValue::from_static("1"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        h.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn upstream_uris_keep_a_prefix() {
        let p = Proxy {
            upstream: "http://127.0.0.1:9000/svc/".parse().unwrap(),
            timeout: std::time::Duration::from_secs(1),
            forward_credentials: false,
        };
        assert_eq!(
            upstream_uri(&p, "/orders/1", Some("a=b")).unwrap(),
            "http://127.0.0.1:9000/svc/orders/1?a=b"
        );
    }
}
