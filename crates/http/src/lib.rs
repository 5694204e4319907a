//! Tessera's HTTP edge: the router of the auth endpoints, credential extraction, CSRF,
//! cookies, problem+json errors and security headers. Knows nothing of SQL: it talks to
//! the core only.

pub mod auth;
pub mod cookies;
pub mod credentials;
pub mod csrf;
pub mod decision;
pub mod edge;
pub mod net;
pub mod problem;
pub mod proxy;
mod routes;
pub mod settings;
pub mod timeout;

use std::sync::Arc;

use tessera_core::keys::{Sealer, Signer};
use tessera_core::{Authenticator, SecretKey};

pub use net::IpNet;
pub use problem::Problem;
pub use routes::router;
pub use settings::HttpSettings;

/// What every handler can reach. Cloned for every request (axum's `State`), so it is
/// one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
pub struct Shared {
    pub auth: Authenticator,
    pub settings: Arc<HttpSettings>,
    pub cookie_sealer: Sealer,
    pub csrf_signer: Signer,
    /// Pooled connections to `proxy.upstream` (gateway mode).
    pub upstream: proxy::UpstreamClient,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    pub fn new(auth: Authenticator, settings: HttpSettings, key: &SecretKey) -> Self {
        Self(Arc::new(Shared {
            auth,
            settings: Arc::new(settings),
            cookie_sealer: key.sealer("tessera session cookie v1"),
            csrf_signer: key.signer("tessera csrf token v1"),
            upstream: proxy::client(),
        }))
    }
}
