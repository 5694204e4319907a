//! Who a request was allowed for, by whichever credential it presented.

use std::sync::Arc;

use axum::http::{HeaderName, HeaderValue};
use tessera_core::rules::CredentialKind;
use tessera_core::{Identity, PermissionSet, User};

use crate::problem::Problem;

/// Who a request was allowed for.
pub struct Principal {
    /// How the credential was presented.
    pub credential: CredentialKind,
    pub(crate) who: Who,
}

pub(crate) enum Who {
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

    /// Whether the credential allows `required`: the user holds it and, for a scoped
    /// token, the token's scopes include it.
    pub fn allows(&self, required: &str) -> bool {
        match &self.who {
            Who::Identity(i) => i.allows(required),
            Who::Account { permissions, .. } => permissions.allows(required),
        }
    }

    /// `Ok` when the credential allows `permission`; else the 403 problem naming it (for a
    /// bearer token, `insufficient_scope` with its RFC 6750 challenge).
    pub fn require(&self, permission: &str) -> Result<(), Problem> {
        if self.allows(permission) {
            Ok(())
        } else {
            Err(Problem::forbidden(
                permission,
                self.credential == CredentialKind::Token,
            ))
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
