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

pub async fn verify(State(state): State<AppState>, req: Request) -> Result<Response, Problem> {
    let (parts, _) = req.into_parts();
    let (ctx, _) = contexts(&parts)?;
    if !ctx.from_trusted_proxy {
        return Err(Problem::invalid_request(
            "the original request is read only from server.trusted_proxies (X-Forwarded-Uri or X-Original-URI)",
        ));
    }
    let header = |a: &str, b: &str| {
        parts
            .headers
            .get(a)
            .or_else(|| parts.headers.get(b))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let method = header("x-forwarded-method", "x-original-method")
        .unwrap_or_else(|| "GET".to_owned())
        .to_ascii_uppercase();
    let Some(uri) = header("x-forwarded-uri", "x-original-uri") else {
        return Err(Problem::invalid_request(
            "X-Forwarded-Uri or X-Original-URI is required",
        ));
    };
    let path = uri.split(['?', '#']).next().unwrap_or("");
    let path =
        tessera_core::path::normalize(path).map_err(|e| Problem::invalid_request(e.to_string()))?;
    let principal = decision::decide(&state, &parts, &method, &path).await?;
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
