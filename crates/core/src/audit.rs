//! The audit log: security events, kept in the store and written as structured log lines
//! (target `tessera::audit`). Never a secret: credentials appear by id only.

use crate::time::Timestamp;
use crate::user::{User, UserId};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AuditEvent {
    pub at: Timestamp,
    /// `login`, `logout`, `session_revoked`, `token_created`, `user_disabled`, ...
    pub event: String,
    /// `success`, `failure` or `throttled`.
    pub outcome: String,
    pub user_id: Option<UserId>,
    pub login: Option<String>,
    /// How: `form`, `basic`, `json`, `query`, `key`, `client_credentials`, `cli`, ...
    pub method: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Ids of the objects concerned (`token=pat_...`, `role=ops`), never secret values.
    pub detail: Option<String>,
}

impl AuditEvent {
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
        }
    }

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

    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_owned());
        self
    }

    pub fn client(mut self, ip: Option<&str>, user_agent: Option<&str>) -> Self {
        self.ip = ip.map(str::to_owned);
        self.user_agent = user_agent.map(str::to_owned);
        self
    }

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
