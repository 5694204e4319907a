//! Server-side sessions: one row per login (password or API key) or issued access token.

use std::fmt;
use std::time::Duration;

use crate::time::Timestamp;
use crate::user::UserId;

/// What opened a session, which also decides the kind of token that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionKind {
    /// Opened by a password login; carried by the session cookie and/or a session token.
    Password,
    /// Opened by an API key/secret exchange.
    ApiKey,
    /// An OAuth2 client-credentials access token.
    AccessToken,
    /// Opened by a sign-in through an identity provider (OpenID Connect); carried by the
    /// session cookie, with the same timeouts as a password session.
    Idp,
    /// A personal access token presented as a bearer token. Never stored in `sessions`
    /// (tokens live in `personal_tokens`); it lets every credential be described alike.
    PersonalAccess,
}

impl SessionKind {
    /// The kind of token that carries a session of this kind (the one place that maps
    /// them: issuing and verifying both use it).
    pub const fn token_kind(self) -> crate::token::TokenKind {
        use crate::token::TokenKind;
        match self {
            Self::Password | Self::Idp => TokenKind::Session,
            Self::ApiKey => TokenKind::ApiKeySession,
            Self::AccessToken | Self::PersonalAccess => TokenKind::AccessToken,
        }
    }

    /// Whether a person signed in to open it (a password or an identity provider): the
    /// sessions that may use the console and mint credentials.
    pub const fn is_sign_in(self) -> bool {
        matches!(self, Self::Password | Self::Idp)
    }

    /// The kind's name as stored and shown (`password`, `api_key`, `access_token`, `pat`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Password => "password",
            Self::Idp => "idp",
            Self::ApiKey => "api_key",
            Self::AccessToken => "access_token",
            Self::PersonalAccess => "pat",
        }
    }

    /// The kind named as by [`SessionKind::as_str`]; `None` for any other name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "password" => Some(Self::Password),
            "idp" => Some(Self::Idp),
            "api_key" => Some(Self::ApiKey),
            "access_token" => Some(Self::AccessToken),
            "pat" => Some(Self::PersonalAccess),
            _ => None,
        }
    }
}

impl fmt::Display for SessionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A session as stored, or a personal access token described as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Public identifier (listings, `DELETE {base}/sessions/{id}`); not a credential.
    pub id: String,
    /// What opened it.
    pub kind: SessionKind,
    /// The owner.
    pub user_id: UserId,
    /// The API key it was opened with, for kind [`SessionKind::ApiKey`]; `None` otherwise.
    pub api_key_id: Option<String>,
    /// `None`: the user's full permissions. `Some`: at most these.
    pub scopes: Option<Vec<String>>,
    /// When it was opened.
    pub created_at: Timestamp,
    /// Its last recorded use, at first its creation. Recorded in batches and only once it
    /// is stale (see [`crate::SessionSettings::touch_interval`]), so it can lag behind the
    /// latest request. Sessions without an idle timeout (API-key sessions, access tokens)
    /// keep their creation time; a personal access token shows its `last_used_at`.
    pub last_seen_at: Timestamp,
    /// `None` when the kind has no idle timeout.
    pub idle_expires_at: Option<Timestamp>,
    /// The absolute expiry, however active the session is.
    pub expires_at: Timestamp,
    /// The address of the client that opened it, when known.
    pub ip: Option<String>,
    /// The `User-Agent` of the client that opened it (at most 512 characters), when sent.
    pub user_agent: Option<String>,
}

impl Session {
    /// Whether the session is past its idle or absolute expiry at `now`.
    pub fn is_expired(&self, now: Timestamp) -> bool {
        now >= self.expires_at || self.idle_expires_at.is_some_and(|idle| now >= idle)
    }

    /// The idle expiry after activity at `now`: never beyond the absolute expiry.
    pub fn idle_expiry_after(&self, now: Timestamp, idle: Duration) -> Timestamp {
        now.plus(idle).min(self.expires_at)
    }
}

/// A random public session id (128 bits, base62).
pub fn new_session_id() -> String {
    let mut s = String::with_capacity(22);
    crate::token::random_base62(&mut s, 22);
    s
}

/// Who is asking: recorded with a new session and shown in session listings.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    /// The client's address (behind trusted proxies, the forwarded one), when known.
    pub ip: Option<String>,
    /// The client's `User-Agent`, when sent.
    pub user_agent: Option<String>,
    /// How the credentials came (`form`, `basic`, `json`, `query`, ...), for the audit log.
    pub method: Option<String>,
}

/// Space-separated scopes as stored.
pub fn join_scopes(scopes: &Option<Vec<String>>) -> Option<String> {
    scopes.as_ref().map(|s| s.join(" "))
}

/// Scopes as stored, split on white space; `None` (unscoped) stays `None`.
pub fn split_scopes(raw: Option<String>) -> Option<Vec<String>> {
    raw.map(|s| s.split_whitespace().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(idle: Option<i64>, expires: i64) -> Session {
        Session {
            id: new_session_id(),
            kind: SessionKind::Password,
            user_id: UserId(1),
            api_key_id: None,
            scopes: None,
            created_at: Timestamp::from_unix(0),
            last_seen_at: Timestamp::from_unix(0),
            idle_expires_at: idle.map(Timestamp::from_unix),
            expires_at: Timestamp::from_unix(expires),
            ip: None,
            user_agent: None,
        }
    }

    #[test]
    fn expiry_is_the_earlier_of_idle_and_absolute() {
        let s = session(Some(100), 1000);
        assert!(!s.is_expired(Timestamp::from_unix(99)));
        assert!(s.is_expired(Timestamp::from_unix(100)));
        let s = session(None, 1000);
        assert!(!s.is_expired(Timestamp::from_unix(999)));
        assert!(s.is_expired(Timestamp::from_unix(1000)));
    }

    #[test]
    fn activity_never_extends_past_the_absolute_limit() {
        let s = session(Some(100), 1000);
        let idle = Duration::from_secs(300);
        assert_eq!(
            s.idle_expiry_after(Timestamp::from_unix(50), idle).unix(),
            350
        );
        assert_eq!(
            s.idle_expiry_after(Timestamp::from_unix(900), idle).unix(),
            1000
        );
    }

    #[test]
    fn ids_are_random() {
        assert_eq!(new_session_id().len(), 22);
        assert_ne!(new_session_id(), new_session_id());
    }
}
