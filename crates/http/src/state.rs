//! The state every handler can reach: the authenticator, the settings, the cookie and
//! CSRF keys, and the upstream client.

use std::sync::Arc;

use tessera_core::Authenticator;
use tessera_core::keys::Keys;
use tessera_core::keys::{Sealer, Signer};

use crate::settings::HttpSettings;
use crate::upstream::UpstreamClient;

/// What every handler can reach. Cloned for every request (axum's `State`), so it is
/// one reference count.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`].
pub struct Shared {
    /// The authenticator: verifies credentials, and manages sessions and long-lived
    /// credentials.
    pub auth: Authenticator,
    /// The HTTP settings, fixed at start.
    pub settings: Arc<HttpSettings>,
    /// Seals and opens the session cookie.
    pub cookie_sealer: Sealer,
    /// Signs and checks CSRF tokens.
    pub csrf_signer: Signer,
    /// Pooled connections to `proxy.upstream` (gateway mode).
    pub upstream: UpstreamClient,
    /// The identity providers and their cached discovery documents and keys.
    pub oidc: crate::oidc::client::Providers,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The state for `auth` and `settings`, with the cookie and CSRF keys derived from the
    /// server's key ring `keys` (following it when it is replaced) and a new upstream
    /// connection pool.
    pub fn new(auth: Authenticator, settings: HttpSettings, keys: &Keys) -> Self {
        Self(Arc::new(Shared {
            auth,
            cookie_sealer: keys.sealer("tessera session cookie v1"),
            csrf_signer: keys.signer("tessera csrf token v1"),
            upstream: crate::upstream::client(),
            oidc: crate::oidc::client::Providers::new(&settings.identity_providers),
            settings: Arc::new(settings),
        }))
    }
}
