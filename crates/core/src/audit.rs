//! The audit log: security events, kept in the store and written as structured log lines
//! (target `tessera::audit`). Never a secret: credentials appear by id only.

use crate::time::Timestamp;
use crate::user::{User, UserId};

/// One security event, as stored in the audit log and written to the log. Built with
/// [`AuditEvent::new`] and the setters that follow it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// When the event happened (when it was built).
    pub at: Timestamp,
    /// `login`, `logout`, `session_revoked`, `token_created`, `user_disabled`, ...
    pub event: String,
    /// `success`, `failure` or `throttled`.
    pub outcome: String,
    /// The account concerned, when the event names one (a failed login records only the
    /// login that was tried).
    pub user_id: Option<UserId>,
    /// The login of the account concerned, or the login someone tried (see
    /// [`AuditEvent::attempted_login`]).
    pub login: Option<String>,
    /// How: `form`, `basic`, `json`, `query`, `key`, `client_credentials`, `cli`, ...
    pub method: Option<String>,
    /// The client's address, when known.
    pub ip: Option<String>,
    /// The client's `User-Agent`, when sent.
    pub user_agent: Option<String>,
    /// Ids of the objects concerned (`token=pat_...`, `role=ops`), never secret values.
    pub detail: Option<String>,
    /// The id of the HTTP request during which it happened (`X-Request-Id`), if any.
    pub request_id: Option<String>,
}

impl AuditEvent {
    /// An event named `event` with outcome `outcome`, happening now, with no user, client
    /// or detail yet.
    pub fn new(event: &str, outcome: &str) -> Self {
        Self {
            at: Timestamp::now(),
            event: event.to_owned(),
            outcome: outcome.to_owned(),
            user_id: None,
            login: None,
            method: None,
            ip: None,
            user_agent: None,
            detail: None,
            request_id: crate::request::current_id().map(|id| id.to_string()),
        }
    }

    /// Names the account the event concerns (its id and login).
    pub fn user(mut self, user: &User) -> Self {
        self.user_id = Some(user.id);
        self.login = Some(user.login.clone());
        self
    }

    /// A login as typed by someone who may not exist. Something that is not a valid login,
    /// or is one of Tessera's secrets (a token or secret pasted into the wrong field), is
    /// recorded as `[redacted]`.
    pub fn attempted_login(mut self, login: &str) -> Self {
        self.login = Some(loggable(login, crate::user::Login::parse(login).is_ok()));
        self
    }

    /// Records how the credential came (`form`, `basic`, `key`, ...) or who acted (`cli`).
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    /// Records the client's address and `User-Agent`, each when known.
    pub fn client(mut self, ip: Option<&str>, user_agent: Option<&str>) -> Self {
        self.ip = ip.map(str::to_owned);
        self.user_agent = user_agent.map(str::to_owned);
        self
    }

    /// Sets the detail: ids of the objects concerned (`token=pat_...`), never secret
    /// values.
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

/// `value` itself when it is plausible and not a secret, else `[redacted]`.
pub fn loggable(value: &str, plausible: bool) -> String {
    let secret = crate::token::parse(value).is_ok()
        || crate::token::TokenKind::ALL
            .iter()
            .any(|k| value.starts_with(k.prefix()));
    if plausible && !secret {
        value.to_owned()
    } else {
        "[redacted]".to_owned()
    }
}

/// Which events a search of the whole audit log returns ([`crate::store::AuditStore::search_audit`]):
/// those meeting every filter that is set, newest first, a page at a time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Events recorded under this login (as recorded: history outlives accounts).
    pub login: Option<String>,
    /// Events of this name (`login`, `user_disabled`, ...).
    pub event: Option<String>,
    /// `success`, `failure` or `throttled`.
    pub outcome: Option<String>,
    /// Events at or after this time.
    pub from: Option<Timestamp>,
    /// Events before this time.
    pub to: Option<Timestamp>,
    /// How many events to skip (the pages before).
    pub offset: u64,
    /// At most this many events.
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_typed_as_logins_are_not_recorded() {
        let t = crate::token::Token::generate(crate::token::TokenKind::ClientSecret);
        assert_eq!(
            AuditEvent::new("login", "failure")
                .attempted_login(t.expose())
                .login
                .unwrap(),
            "[redacted]"
        );
        assert_eq!(
            AuditEvent::new("login", "failure")
                .attempted_login("joe")
                .login
                .unwrap(),
            "joe"
        );
        assert_eq!(
            AuditEvent::new("login", "failure")
                .attempted_login("not a login: with spaces")
                .login
                .unwrap(),
            "[redacted]"
        );
        assert_eq!(loggable("tsx_short", true), "[redacted]");
    }
}
