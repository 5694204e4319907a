//! The tower layers an application puts in front of its routes:
//!
//! - [`AuthLayer`], outermost: the transport facts, CSRF token and cookies, security
//!   headers, and the request's [`Authentication`] (verified when first asked for);
//! - [`RequireLayer`] (see [`require`]): a route or router that needs a permission;
//!   it and [`RulesLayer`] are [`Gate`]s, served by one [`GateService`];
//! - [`RulesLayer`]: the `[[rules]]` access rules, decided exactly as the gateway does.
//!
//! Refusals are answered with the same problem+json as every Tessera endpoint.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use tessera_core::Rules;
use tower::{Layer, Service};

use crate::extract::Authentication;
use crate::ratelimit::RateHeaders;
use crate::{AppState, Problem, edge};

/// The future of every Tessera service: boxed, as axum's own middleware are.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// Calls `inner` with `req` on a clone that was ready, the tower idiom for services
/// called from a boxed future.
fn take<S: Clone>(inner: &mut S) -> S {
    let clone = inner.clone();
    std::mem::replace(inner, clone)
}

/// Authenticates every request (see the module documentation); the outermost layer of an
/// application, in front of [`RequireLayer`], [`RulesLayer`] and the auth endpoints.
#[derive(Clone)]
pub struct AuthLayer {
    state: AppState,
}

impl AuthLayer {
    /// The layer for `state`.
    pub fn new(state: AppState) -> Self {
        Self { state }
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            state: self.state.clone(),
            inner,
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    state: AppState,
    inner: S,
}

impl<S> Service<Request> for AuthService<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let mut inner = take(&mut self.inner);
        let state = self.state.clone();
        Box::pin(async move {
            Ok(edge::run(&state, req, move |req| async move {
                match inner.call(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                }
            })
            .await)
        })
    }
}

/// A check of a request's head that lets it through (`Ok`, with the rate-limit headers
/// for its answer when a limit counted it) or answers it (`Err`): what [`RequireLayer`]
/// and [`RulesLayer`] each are, served by one [`GateService`].
pub trait Gate: Clone + Send + Sync + 'static {
    /// Decides the request whose head is `parts`.
    fn check<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Result<Option<RateHeaders>, Problem>> + Send + 'a>>;
}

/// The service of a [`Gate`] layer ([`RequireLayer`], [`RulesLayer`]).
#[derive(Clone)]
pub struct GateService<G, S> {
    gate: G,
    inner: S,
}

impl<G, S> Service<Request> for GateService<G, S>
where
    G: Gate,
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> ResponseFuture {
        let mut inner = take(&mut self.inner);
        let gate = self.gate.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let checked = gate.check(&parts).await;
            match checked {
                Ok(None) => inner.call(Request::from_parts(parts, body)).await,
                Ok(Some(rate)) => {
                    let mut res = inner.call(Request::from_parts(parts, body)).await?;
                    rate.apply(res.headers_mut());
                    Ok(res)
                }
                Err(p) => Ok(p.into_response()),
            }
        })
    }
}

/// A layer that lets a request through only when its credential allows `permission`:
/// 401 without a credential, 403 naming the permission otherwise (for a bearer token,
/// `insufficient_scope` with its RFC 6750 challenge). Apply it with `route_layer`.
///
/// ```no_run
/// use axum::{Router, routing::post};
///
/// async fn create_order() {}
/// let app: Router = Router::new()
///     .route("/orders", post(create_order))
///     .route_layer(tessera_http::layer::require("orders:write"));
/// ```
pub fn require(permission: &str) -> RequireLayer {
    GateLayer(Require {
        permission: permission.into(),
    })
}

/// A layer applying the [`Gate`] `G` to every request: [`RequireLayer`], [`RulesLayer`].
#[derive(Clone)]
pub struct GateLayer<G>(G);

impl<G: Gate, S> Layer<S> for GateLayer<G> {
    type Service = GateService<G, S>;

    fn layer(&self, inner: S) -> Self::Service {
        GateService {
            gate: self.0.clone(),
            inner,
        }
    }
}

/// See [`require`].
pub type RequireLayer = GateLayer<Require>;

/// The gate of [`require`]: the credential must allow one permission.
#[derive(Clone)]
pub struct Require {
    permission: Arc<str>,
}

impl Gate for Require {
    fn check<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Result<Option<RateHeaders>, Problem>> + Send + 'a>> {
        Box::pin(async move {
            match Authentication::of(parts)?.principal(parts).await? {
                Some(p) => p.require(&self.permission).map(|()| None),
                None => Err(Problem::unauthenticated()),
            }
        })
    }
}

/// The access rules as a layer: each request is decided by the first matching rule, on
/// its normalised path, with the credential kinds and permissions the rule names, as the
/// gateway decides; a request no rule matches is refused (403). Allowed requests carry
/// their principal to the [`Auth`](crate::extract::Auth) extractor.
pub type RulesLayer = GateLayer<AccessRules>;

impl RulesLayer {
    /// The layer deciding by `rules`, with the credentials `state` verifies.
    pub fn new(state: AppState, rules: Arc<Rules>) -> Self {
        GateLayer(AccessRules { state, rules })
    }
}

/// The gate of [`RulesLayer`].
#[derive(Clone)]
pub struct AccessRules {
    state: AppState,
    rules: Arc<Rules>,
}

impl Gate for AccessRules {
    fn check<'a>(
        &'a self,
        parts: &'a Parts,
    ) -> Pin<Box<dyn Future<Output = Result<Option<RateHeaders>, Problem>> + Send + 'a>> {
        Box::pin(async move {
            let authentication = Authentication::of(parts)?;
            // Inside `Router::nest`, the URI has lost the nest path: put it back, so that
            // rules see the path the client asked for.
            let nested = crate::params::mount_path(parts);
            let full = format!("{nested}{}", parts.uri.path());
            let path = tessera_core::path::normalize(&full)
                .map_err(|e| Problem::invalid_request(e.to_string()))?;
            let method = parts.method.as_str().to_ascii_uppercase();
            let query = parts.uri.query();
            let decision =
                crate::decision::decide(&self.state, &self.rules, parts, &method, &path, query)
                    .await?;
            authentication.settle(decision.principal);
            Ok(decision.rate)
        })
    }
}
