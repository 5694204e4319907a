//! What authentication produces and is configured with: the identity behind a credential,
//! the outcomes of a login or a verification, the client secret as shown, and the
//! session and token lifetimes.

use super::*;

/// Timeouts of password sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    /// Inactivity after which a password session ends; every request pushes it back (30
    /// minutes by default).
    pub idle_timeout: Duration,
    /// Longest life of a password session, however active (12 hours by default).
    pub absolute_timeout: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
        }
    }
}

impl SessionSettings {
    /// How stale `last_seen_at` may get before it is written again: a minute, or a tenth
    /// of the idle timeout when that is shorter (at least a second).
    pub fn touch_interval(&self) -> Duration {
        (self.idle_timeout / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// Lifetimes of the long-lived credentials and what they mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSettings {
    /// Lifetime of the session opened by an API key/secret exchange; it has no idle timeout
    /// (30 minutes by default).
    pub api_key_session_lifetime: Duration,
    /// Lifetime of a personal access token created without one (a day by default).
    pub pat_default_lifetime: Duration,
    /// Longest lifetime a personal access token may be given (a year by default).
    pub pat_max_lifetime: Duration,
    /// How long a client secret authenticates; the first read after it expires generates a
    /// new one (90 days by default).
    pub client_secret_lifetime: Duration,
    /// Lifetime of an OAuth2 access token when the client asks for none (an hour by
    /// default).
    pub access_token_default_lifetime: Duration,
    /// How long a set-password link (an invitation or a reset link) works (a day by
    /// default).
    pub invitation_lifetime: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            api_key_session_lifetime: Duration::from_secs(30 * 60),
            pat_default_lifetime: Duration::from_secs(86_400),
            pat_max_lifetime: Duration::from_secs(365 * 86_400),
            client_secret_lifetime: Duration::from_secs(90 * 86_400),
            access_token_default_lifetime: Duration::from_secs(3600),
            invitation_lifetime: Duration::from_secs(86_400),
        }
    }
}

/// Shortest OAuth2 access token lifetime a client may ask for (a minute).
pub const ACCESS_TOKEN_MIN: Duration = Duration::from_secs(60);
/// Longest OAuth2 access token lifetime a client may ask for (a year).
pub const ACCESS_TOKEN_MAX: Duration = Duration::from_secs(365 * 86_400);

/// Who a request comes from and what it may do.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The user the credential belongs to, as read when it was verified.
    pub user: User,
    /// The user's permissions through its roles, read on every verification.
    pub permissions: PermissionSet,
    /// The credential: a session, or a personal access token described as one
    /// (kind [`SessionKind::PersonalAccess`]).
    pub session: Session,
}

impl Identity {
    /// The effective check: granted by the user's roles and, when the credential is
    /// scoped, by one of its scopes too.
    pub fn allows(&self, required: &str) -> bool {
        self.permissions.allows(required)
            && self.session.scopes.as_ref().is_none_or(|scopes| {
                scopes
                    .iter()
                    .filter_map(|s| Permission::parse(s).ok())
                    .any(|s| s.grants(required))
            })
    }

    /// The permissions in effect, as shown to clients (`scope` of OAuth2 answers).
    pub fn effective_scope(&self) -> String {
        self.effective_permissions().join(" ")
    }

    /// The user's current permissions intersected with the credential's scopes: a scope
    /// the user still covers, or the user's narrower permissions inside a scope.
    pub fn effective_permissions(&self) -> Vec<String> {
        let mine = || self.permissions.iter().map(|p| p.as_str().to_owned());
        let Some(scopes) = &self.session.scopes else {
            return mine().collect();
        };
        let mut out: Vec<String> = Vec::new();
        for s in scopes.iter().filter_map(|s| Permission::parse(s).ok()) {
            if self.permissions.covers(&s) {
                out.push(s.as_str().to_owned());
            } else {
                out.extend(
                    self.permissions
                        .iter()
                        .filter(|p| s.covers(p))
                        .map(|p| p.as_str().to_owned()),
                );
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The outcome of a login attempt.
#[derive(Debug)]
pub enum LoginOutcome {
    /// The login succeeded: the new session's identity, and the token that carries it
    /// (returned once, never stored).
    Success(Box<Identity>, Token),
    /// Unknown login, wrong password or secret, disabled account: all alike.
    Failed,
    /// Too many recent failures for this account, key or address: retry after so many
    /// seconds. The password was not checked.
    Throttled(u64),
}

/// Why a presented credential does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// Too many recent failures for this account or address: retry after so many seconds.
    /// The secret was not checked.
    #[error("too many failed attempts")]
    Throttled(u64),
    /// Malformed, unknown, revoked, or its user is disabled: all alike to the client.
    #[error("invalid credential")]
    Invalid,
    /// Known, but past its idle or absolute expiry.
    #[error("session expired")]
    Expired,
    /// The store cannot answer: fail closed.
    #[error(transparent)]
    Unavailable(StoreError),
}

impl From<StoreError> for AuthFailure {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e)
    }
}

/// The account's client secret, decrypted for its owner.
#[derive(Clone)]
pub struct ClientSecret {
    /// The secret itself (`tsc_...`): for its owner's eyes only, never logged.
    pub secret: String,
    /// When this secret was generated.
    pub created_at: Timestamp,
    /// When it stops authenticating; the next read after that generates a new one.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserId;

    fn identity(perms: &[&str], scopes: Option<&[&str]>) -> Identity {
        let now = Timestamp::from_unix(0);
        Identity {
            user: User {
                id: UserId(1),
                login: "joe".into(),
                first_name: String::new(),
                last_name: String::new(),
                lang: "en".into(),
                email: None,
                disabled: false,
                roles: vec![],
                created_at: now,
                updated_at: now,
            },
            permissions: perms
                .iter()
                .map(|p| Permission::parse(p).unwrap())
                .collect(),
            session: Session {
                id: "s".into(),
                kind: SessionKind::PersonalAccess,
                user_id: UserId(1),
                api_key_id: None,
                scopes: scopes.map(|s| s.iter().map(|x| x.to_string()).collect()),
                created_at: now,
                last_seen_at: now,
                idle_expires_at: None,
                expires_at: now,
                ip: None,
                user_agent: None,
            },
        }
    }

    #[test]
    fn scopes_intersect_with_current_permissions() {
        let i = identity(
            &["orders:read", "users:*"],
            Some(&["orders:*", "users:read"]),
        );
        assert!(i.allows("orders:read"));
        assert!(
            !i.allows("orders:write"),
            "the user lacks it although the scope has it"
        );
        assert!(i.allows("users:read"));
        assert!(
            !i.allows("users:write"),
            "the scope lacks it although the user has it"
        );
        assert_eq!(i.effective_permissions(), ["orders:read", "users:read"]);
        let unscoped = identity(&["orders:read"], None);
        assert_eq!(unscoped.effective_permissions(), ["orders:read"]);
        let admin = identity(&["*"], Some(&["orders:*"]));
        assert_eq!(admin.effective_permissions(), ["orders:*"]);
    }
}
