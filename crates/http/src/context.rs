//! What the edge attaches to each request, read by everything behind it: the transport
//! facts ([`RequestContext`]), the CSRF state, and the request's [`Authentication`],
//! verified when first asked for (see `extract.rs`).

use std::net::IpAddr;
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use tokio::sync::OnceCell;

use crate::csrf::CsrfContext;
use crate::principal::Principal;
use crate::{AppState, Problem};

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
    /// This request's id (`X-Request-Id`): a trusted proxy's, or one of our own.
    pub request_id: std::sync::Arc<str>,
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

    /// The request's `User-Agent` without control characters, cut to 512 characters; `None`
    /// when it is absent or not ASCII text.
    pub fn user_agent(headers: &HeaderMap) -> Option<String> {
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().filter(|c| !c.is_control()).take(512).collect())
    }
}

/// Request extension: everything the edge attaches to a request, in one extension (one
/// insertion into the request's extension map instead of three).
#[derive(Clone)]
pub(crate) struct Attached {
    pub(crate) request: RequestContext,
    pub(crate) csrf: CsrfContext,
    pub(crate) authentication: Authentication,
}

/// What the edge attached to a request; a 500 (and an error in the log) when the
/// [`AuthLayer`](crate::layer::AuthLayer) is missing in front of a route.
pub(crate) fn attached(parts: &Parts) -> Result<&Attached, Problem> {
    parts.extensions.get::<Attached>().ok_or_else(|| {
        tracing::error!("Tessera's AuthLayer is missing in front of a route that authenticates");
        Problem::internal()
    })
}

/// The transport and CSRF contexts of a request (see [`attached`]).
pub(crate) fn contexts(parts: &Parts) -> Result<(&RequestContext, &CsrfContext), Problem> {
    attached(parts).map(|a| (&a.request, &a.csrf))
}

/// Attached to each request by [`AuthLayer`](crate::layer::AuthLayer): the request's
/// authentication, verified on first use and then kept for the rest of the request.
#[derive(Clone)]
pub struct Authentication(Arc<Cell>);

struct Cell {
    state: AppState,
    outcome: OnceCell<Result<Option<Arc<Principal>>, Problem>>,
}

impl Authentication {
    pub(crate) fn new(state: AppState) -> Self {
        Self(Arc::new(Cell {
            state,
            outcome: OnceCell::new(),
        }))
    }

    pub(crate) fn state(&self) -> &AppState {
        &self.0.state
    }

    pub(crate) fn outcome(&self) -> &OnceCell<Result<Option<Arc<Principal>>, Problem>> {
        &self.0.outcome
    }

    /// Records the principal an access rule allowed, so that extractors need not verify
    /// the credential again. No effect once the outcome is known.
    pub(crate) fn settle(&self, principal: Option<Principal>) {
        if let Some(p) = principal {
            let _ = self.0.outcome.set(Ok(Some(Arc::new(p))));
        }
    }

    /// The cell [`AuthLayer`](crate::layer::AuthLayer) attached; a 500 (and an error in
    /// the log) when the layer is missing.
    pub(crate) fn of(parts: &Parts) -> Result<Self, Problem> {
        attached(parts).map(|a| a.authentication.clone())
    }
}
