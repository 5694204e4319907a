//! Extractors that authenticate a request for the auth endpoints.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tessera_core::Identity;

use crate::AppState;
use crate::context::contexts;
use crate::credentials::{self, Presented};
use crate::csrf;
use crate::problem::{Challenge, Problem};

/// How the credential of an authenticated request travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// The session cookie: unsafe methods need the CSRF token too.
    Cookie,
    /// A bearer token, from the `Authorization` header, the alias header or the URL
    /// parameter.
    Token,
}

/// A request authenticated by a session token or session cookie. For unsafe methods with
/// the cookie, the CSRF header has been checked.
pub struct Authenticated {
    /// Who the credential belongs to and what it may do (shared with the verification
    /// cache).
    pub identity: Arc<Identity>,
    /// How the credential came.
    pub carrier: Carrier,
}

/// As [`Authenticated`], but leaves the CSRF check of cookie requests to the handler
/// (endpoints that also accept the token in a form field).
pub struct AuthenticatedUnchecked(pub Authenticated);

/// Judges the presented credential (first by precedence) for the auth endpoints, which
/// accept session tokens and the session cookie.
pub(crate) async fn authenticate(
    parts: &Parts,
    state: &AppState,
) -> Result<Authenticated, Problem> {
    let (ctx, _) = contexts(parts)?;
    let presented = credentials::extract(parts, &state.settings, ctx)?;
    if !matches!(presented, Presented::None) && !ctx.credentials_allowed {
        return Err(Problem::https_required());
    }
    let challenge = presented.challenge();
    let (token, carrier) = match presented {
        Presented::None => return Err(Problem::unauthenticated()),
        Presented::Token(t) => (t, Carrier::Token),
        Presented::Cookie(Some(t)) => (t, Carrier::Cookie),
        Presented::Cookie(None) => {
            let mut p =
                Problem::from_auth_failure(&tessera_core::AuthFailure::Invalid, Challenge::Plain);
            p.clear_session_cookie = true;
            return Err(p);
        }
        Presented::ClientSecret(_) | Presented::Basic { .. } => {
            return Err(Problem::credential_not_accepted(challenge));
        }
    };
    match state.auth.verify_token(&token).await {
        Ok(identity) => Ok(Authenticated { identity, carrier }),
        Err(f) => Err(Problem::from_auth_failure(&f, challenge)),
    }
}

impl FromRequestParts<AppState> for AuthenticatedUnchecked {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        authenticate(parts, state).await.map(Self)
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let auth = authenticate(parts, state).await?;
        if auth.carrier == Carrier::Cookie && csrf::is_unsafe(&parts.method) {
            let (_, csrf_ctx) = contexts(parts)?;
            csrf_ctx.check_request(&parts.headers, &state.settings.csrf, None)?;
        }
        Ok(auth)
    }
}

/// An [`Authenticated`] request whose credential came from a password login (cookie or
/// session token): the only kind that may manage credentials and sessions and read the
/// audit log. Personal access tokens, API-key tokens and access tokens get 403
/// `password_session_required`.
pub struct PasswordSession(pub Authenticated);

impl FromRequestParts<AppState> for PasswordSession {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Problem> {
        let auth = Authenticated::from_request_parts(parts, state).await?;
        if !auth.identity.session.kind.is_sign_in() {
            return Err(Problem::password_session_required());
        }
        Ok(Self(auth))
    }
}
