//! `GET {base}/verify`: the forward-auth decision for nginx `auth_request`, Traefik
//! ForwardAuth and Envoy's HTTP ext_authz. The original method and URI come from
//! `X-Forwarded-Method`/`X-Forwarded-Uri` (Traefik) or `X-Original-Method`/`X-Original-URI`
//! (nginx), believed only from `server.trusted_proxies`.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::contexts;
use crate::decision;
use crate::{AppState, Problem};

/// The original request's method or URI. Both header families may be present only when
/// they agree: a proxy sets one family and passes the client's headers on, so a client
/// could otherwise describe a harmless request in the other family.
fn original(
    headers: &axum::http::HeaderMap,
    traefik: &str,
    nginx: &str,
) -> Result<Option<String>, Problem> {
    let one = |name: &str| -> Result<Option<String>, Problem> {
        let mut values = headers.get_all(name).iter();
        let first = values.next();
        if values.next().is_some() {
            return Err(Problem::invalid_request(format!("{name} is repeated")));
        }
        first
            .map(|v| {
                v.to_str()
                    .map(str::to_owned)
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

pub async fn verify(State(state): State<AppState>, req: Request) -> Result<Response, Problem> {
    let (parts, _) = req.into_parts();
    let (ctx, _) = contexts(&parts)?;
    if !ctx.from_trusted_proxy {
        return Err(Problem::invalid_request(
            "the original request is read only from server.trusted_proxies (X-Forwarded-Uri or X-Original-URI)",
        ));
    }
    let method = original(&parts.headers, "x-forwarded-method", "x-original-method")?
        .unwrap_or_else(|| "GET".to_owned())
        .to_ascii_uppercase();
    let Some(uri) = original(&parts.headers, "x-forwarded-uri", "x-original-uri")? else {
        return Err(Problem::invalid_request(
            "X-Forwarded-Uri or X-Original-URI is required",
        ));
    };
    let uri = uri.split('#').next().unwrap_or("");
    let (path, query) = match uri.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (uri, None),
    };
    let path =
        tessera_core::path::normalize(path).map_err(|e| Problem::invalid_request(e.to_string()))?;
    let principal = decision::decide(&state, &parts, &method, &path, query).await?;
    let mut res = StatusCode::OK.into_response();
    if let Some(p) = principal {
        for (name, value) in p.headers() {
            res.headers_mut().insert(name, value);
        }
    }
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}
