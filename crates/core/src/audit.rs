//! The audit log: security events, kept in the store and written as structured log lines
//! (target `tessera::audit`). Never a secret: credentials appear by id only.

use std::sync::Arc;

use crate::store::Store;
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

    /// A login as typed by someone who may not exist (bounded, control characters removed).
    pub fn attempted_login(mut self, login: &str) -> Self {
        self.login = Some(
            login
                .chars()
                .filter(|c| !c.is_control())
                .take(150)
                .collect(),
        );
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

/// Logs the event and stores it. A store failure is logged, not returned: the action the
/// event describes has already happened.
pub async fn record(store: &Arc<dyn Store>, e: AuditEvent) {
    tracing::info!(
        target: "tessera::audit",
        event = %e.event,
        outcome = %e.outcome,
        user = e.login.as_deref().unwrap_or("-"),
        method = e.method.as_deref().unwrap_or("-"),
        ip = e.ip.as_deref().unwrap_or("-"),
        detail = e.detail.as_deref().unwrap_or("-"),
        "audit"
    );
    if let Err(err) = store.append_audit(&e).await {
        tracing::error!(error = %err, event = %e.event, "could not store an audit event");
    }
}
