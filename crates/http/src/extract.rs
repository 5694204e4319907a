//! The identity of a request for the application's own handlers: [`Auth`] (401 when
//! absent), `Option<Auth>` (absent is fine, a bad credential is not), and the per-request
//! cell that makes every extractor and layer of one request verify the credential once.

use std::ops::Deref;
use std::sync::Arc;

use crate::Problem;
pub use crate::context::Authentication;
use crate::decision;
use crate::principal::Principal;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;

impl Authentication {
    /// Who the request is from: `Ok(None)` when it presents no credential, the problem
    /// (401, 403 CSRF, 429, 503) when the one it presents is refused. The credential is
    /// verified once per request, whoever asks first.
    pub async fn principal(&self, parts: &Parts) -> Result<Option<Arc<Principal>>, Problem> {
        self.outcome()
            .get_or_init(|| async {
                decision::authenticate(self.state(), parts)
                    .await
                    .map(|p| p.map(Arc::new))
            })
            .await
            .clone()
    }
}

/// The authenticated principal of a request, for a handler: rejects with Tessera's
/// problem+json (401 `unauthenticated` with no credential, 401 `invalid_token` or
/// `invalid_credentials` for a bad one, 403 `csrf_failed` for a cookie without the CSRF
/// header on an unsafe method). Dereferences to [`Principal`].
///
/// ```no_run
/// use tessera_http::extract::Auth;
///
/// async fn whoami(auth: Auth) -> String {
///     auth.user().login.to_string()
/// }
/// ```
#[derive(Clone)]
pub struct Auth(pub Arc<Principal>);

impl Auth {
    /// `Ok` when the credential allows `permission`; else the 403 problem naming it
    /// (`insufficient_scope` with an RFC 6750 challenge for a bearer token).
    pub fn require(&self, permission: &str) -> Result<(), Problem> {
        self.0.require(permission)
    }
}

impl Deref for Auth {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        match Authentication::of(parts)?.principal(parts).await? {
            Some(p) => Ok(Self(p)),
            None => Err(Problem::unauthenticated()),
        }
    }
}

/// `Option<Auth>`: `None` when the request presents no credential at all. A credential
/// that is presented but refused is still rejected: it never turns into an anonymous
/// request.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Problem> {
        Ok(Authentication::of(parts)?.principal(parts).await?.map(Self))
    }
}
