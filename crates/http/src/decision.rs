//! The access decision for a request described by method and normalised path: the first
//! matching rule, the credential it accepts, the permissions it requires. Shared by the
//! gateway and `{base}/verify`, so both decide identically.

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use tessera_core::rules::CredentialKind;
use tessera_core::{AuthFailure, Identity, PermissionSet, User};

use crate::AppState;
use crate::credentials::{self, Presented};
use crate::csrf;
use crate::edge::contexts;
use crate::problem::{Challenge, Problem};

/// Who a request was allowed for.
pub struct Principal {
    /// How the credential was presented.
    pub credential: CredentialKind,
    who: Who,
}

enum Who {
    /// A session or token: the (shared, cached) verified identity.
    Identity(Arc<Identity>),
    /// A client secret or Basic: the account and its permissions.
    Account {
        user: User,
        permissions: PermissionSet,
    },
}

impl Principal {
    /// The user the request was allowed for.
    pub fn user(&self) -> &User {
        match &self.who {
            Who::Identity(i) => &i.user,
            Who::Account { user, .. } => user,
        }
    }

    /// Set for sessions and tokens; absent for a client secret or Basic.
    pub fn identity(&self) -> Option<&Identity> {
        match &self.who {
            Who::Identity(i) => Some(i),
            Who::Account { .. } => None,
        }
    }

    fn allows(&self, required: &str) -> bool {
        match &self.who {
            Who::Identity(i) => i.allows(required),
            Who::Account { permissions, .. } => permissions.allows(required),
        }
    }

    /// The public id of the session or personal access token; empty for a client secret or
    /// HTTP Basic.
    pub fn session_id(&self) -> &str {
        self.identity().map_or("", |i| i.session.id.as_str())
    }

    /// The permissions in effect, comma-separated.
    pub fn permissions_header(&self) -> String {
        match &self.who {
            Who::Identity(i) if i.session.scopes.is_some() => i.effective_permissions().join(","),
            Who::Identity(i) => join(i.permissions.iter().map(|p| p.as_str())),
            Who::Account { permissions, .. } => join(permissions.iter().map(|p| p.as_str())),
        }
    }

    /// The identity headers (`X-Tessera-*`) for an upstream or a forward-auth proxy.
    pub fn headers(&self) -> [(HeaderName, HeaderValue); 4] {
        const USER: HeaderName = HeaderName::from_static("x-tessera-user");
        const SESSION: HeaderName = HeaderName::from_static("x-tessera-session");
        const PERMISSIONS: HeaderName = HeaderName::from_static("x-tessera-permissions");
        const CREDENTIAL: HeaderName = HeaderName::from_static("x-tessera-credential");
        [
            (USER, header_value(&self.user().login)),
            (SESSION, header_value(self.session_id())),
            (PERMISSIONS, header_value(&self.permissions_header())),
            (
                CREDENTIAL,
                HeaderValue::from_static(self.credential.as_str()),
            ),
        ]
    }
}

fn join<'a>(parts: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, p) in parts.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(p);
    }
    out
}

/// A header value for `s`: as is when it is visible ASCII without `%`, else through
/// [`header_safe`].
fn header_value(s: &str) -> HeaderValue {
    let plain = s.bytes().all(|b| b.is_ascii_graphic() && b != b'%');
    let value = if plain {
        HeaderValue::from_str(s)
    } else {
        HeaderValue::from_str(&header_safe(s))
    };
    value.unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Visible ASCII as is; anything else percent-encoded (logins may be Unicode).
fn header_safe(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decides a request. `Ok(None)`: allowed without identity (a public rule).
pub async fn decide(
    state: &AppState,
    parts: &Parts,
    method: &str,
    path: &str,
    query: Option<&str>,
) -> Result<Option<Principal>, Problem> {
    let (ctx, csrf_ctx) = contexts(parts)?;
    let unsafe_method = csrf::is_unsafe(&method.parse().unwrap_or(axum::http::Method::POST));
    if unsafe_method {
        csrf::check_origin(
            &parts.headers,
            &ctx.own_origin,
            &state.settings.csrf.trusted_origins,
        )?;
    }
    let rule = state.settings.rules.find(method, path);
    if rule.is_some_and(|r| r.public) {
        return Ok(None);
    }
    let presented = credentials::extract_with_query(parts, &state.settings, ctx, query)?;
    if matches!(presented, Presented::None) {
        return Err(Problem::unauthenticated());
    }
    if !ctx.credentials_allowed {
        return Err(Problem::https_required());
    }
    let challenge = presented.challenge();
    let kind = match &presented {
        Presented::Token(_) => CredentialKind::Token,
        Presented::Cookie(_) => CredentialKind::Session,
        Presented::ClientSecret(_) => CredentialKind::ClientSecret,
        Presented::Basic { .. } => CredentialKind::Basic,
        Presented::None => unreachable!("handled above"),
    };
    // A kind the rule does not accept is refused before any verification (and before
    // any password hashing).
    let Some(rule) = rule else {
        if kind == CredentialKind::Basic {
            return Err(no_rule());
        }
        verify(state, presented, kind, challenge, None).await?;
        return Err(no_rule());
    };
    if !rule.accepts(kind) {
        return Err(Problem::credential_not_accepted(challenge));
    }
    if kind == CredentialKind::Session && unsafe_method {
        csrf_ctx.check_request(&parts.headers, &state.settings.csrf, None)?;
    }
    let principal = verify(state, presented, kind, challenge, ctx.client_ip).await?;
    if let Some(missing) = rule.permissions.iter().find(|p| !principal.allows(p)) {
        return Err(Problem::forbidden(missing, kind == CredentialKind::Token));
    }
    Ok(Some(principal))
}

fn no_rule() -> Problem {
    Problem::new(axum::http::StatusCode::FORBIDDEN, "forbidden", "Forbidden")
        .with_detail("no access rule allows this request")
}

async fn verify(
    state: &AppState,
    presented: Presented,
    kind: CredentialKind,
    challenge: Challenge,
    ip: Option<std::net::IpAddr>,
) -> Result<Principal, Problem> {
    let failed = |f: AuthFailure| Problem::from_auth_failure(&f, challenge);
    match presented {
        Presented::Token(t) | Presented::Cookie(Some(t)) => {
            let identity = state.auth.verify_token(&t).await.map_err(failed)?;
            Ok(Principal {
                credential: kind,
                who: Who::Identity(identity),
            })
        }
        Presented::Cookie(None) => Err(failed(AuthFailure::Invalid)),
        Presented::ClientSecret(s) => {
            let (user, permissions) = state.auth.verify_client_secret(&s).await.map_err(failed)?;
            Ok(Principal {
                credential: kind,
                who: Who::Account { user, permissions },
            })
        }
        Presented::Basic { username, password } => {
            let client = tessera_core::session::ClientInfo {
                ip: ip.map(|ip| ip.to_string()),
                user_agent: None,
                method: Some("basic".into()),
            };
            match state
                .auth
                .check_password(&username, &password, &client)
                .await?
            {
                Ok(user) => {
                    let permissions = state.auth.accounts().permissions_of(&user).await?;
                    Ok(Principal {
                        credential: kind,
                        who: Who::Account { user, permissions },
                    })
                }
                Err(AuthFailure::Throttled(r)) => Err(Problem::too_many_attempts(r)),
                Err(_) => Err(Problem::invalid_credentials(Challenge::Basic)),
            }
        }
        Presented::None => Err(Problem::unauthenticated()),
    }
}

#[cfg(test)]
mod tests {
    use super::{header_safe, header_value};

    #[test]
    fn header_values_are_ascii() {
        assert_eq!(header_value("joe"), "joe");
        assert_eq!(header_value("josé"), "jos%C3%A9");
        assert_eq!(header_value("a%b"), "a%25b");
        assert_eq!(header_safe("joe"), "joe");
        assert_eq!(header_safe("josé"), "jos%C3%A9");
        assert_eq!(header_safe("a%b c"), "a%25b%20c");
    }
}
