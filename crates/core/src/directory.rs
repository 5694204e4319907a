//! Administration through [`Accounts`]: roles and grants with their audit records, the
//! listings the CLI and the HTTP edge show, and the audit log itself. Callers outside
//! the core read and change domain data here, never through the raw store.

use crate::accounts::Accounts;
use crate::audit::{AuditEvent, AuditFilter};
use crate::error::Result;
use crate::permission::{Permission, PermissionSet, Role};
use crate::session::Session;
use crate::store::Owned;
use crate::time::Timestamp;
use crate::user::{User, UserId};

impl Accounts {
    /// Logs the event and stores it. A store failure is logged, not returned: the action
    /// the event describes has already happened.
    pub async fn record_audit(&self, e: AuditEvent) {
        self.announce_audit(&e);
        if let Err(err) = self.store().append_audit(&e).await {
            tracing::error!(error = %err, event = %e.event, "could not store an audit event");
        }
    }

    /// Counts the event in the metrics and writes its log line, without storing it: for
    /// an event the caller stores in its own transaction.
    pub(crate) fn announce_audit(&self, e: &AuditEvent) {
        if e.event == "login" {
            let method = e.method.clone().unwrap_or_else(|| "-".to_owned());
            metrics::counter!("tessera_logins_total", "method" => method, "outcome" => e.outcome.clone())
                .increment(1);
        }
        if e.outcome == "throttled" {
            metrics::counter!("tessera_throttled_total", "event" => e.event.clone()).increment(1);
        }
        tracing::info!(
            target: "tessera::audit",
            request = e.request_id.as_deref().unwrap_or("-"),
            event = %e.event,
            outcome = %e.outcome,
            user = e.login.as_deref().unwrap_or("-"),
            method = e.method.as_deref().unwrap_or("-"),
            ip = e.ip.as_deref().unwrap_or("-"),
            detail = e.detail.as_deref().unwrap_or("-"),
            "audit"
        );
    }

    /// Security events since `since`, of one user or of all, newest first.
    pub async fn audit_events(
        &self,
        user: Option<UserId>,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        Ok(self.store().list_audit(user, since, limit).await?)
    }

    /// Events of every user meeting `filter`, newest first.
    pub async fn search_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>> {
        Ok(self.store().search_audit(filter).await?)
    }

    /// When each of `users` last logged in, as far as the audit log remembers.
    pub async fn last_logins(
        &self,
        users: &[UserId],
    ) -> Result<std::collections::HashMap<UserId, Timestamp>> {
        Ok(self.store().last_logins(users).await?.into_iter().collect())
    }

    /// The users whose login, names or e-mail address contain `q` (ignoring case; every
    /// user for an empty `q`), ordered by login. Filtered in memory: meant for teams of
    /// up to some thousands of users.
    pub async fn search_users(&self, q: &str) -> Result<Vec<User>> {
        let q = q.trim().to_lowercase();
        let mut users = self.store().list_users().await?;
        if !q.is_empty() {
            users.retain(|u| {
                [
                    u.login.as_str(),
                    &u.first_name,
                    &u.last_name,
                    u.email.as_deref().unwrap_or(""),
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&q))
            });
        }
        Ok(users)
    }

    /// The user's links to identity-provider accounts (how it signs in besides a
    /// password).
    pub async fn identity_links(
        &self,
        user: &User,
    ) -> Result<Vec<crate::credential::IdentityLink>> {
        Ok(self.store().identity_links(user.id).await?)
    }

    /// Every user, ordered by login.
    pub async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.store().list_users().await?)
    }

    /// The user's permissions, through its roles.
    pub async fn permissions_of(&self, user: &User) -> Result<PermissionSet> {
        Ok(self.store().permissions_of(user.id).await?)
    }

    /// The owner of a session, personal access token or API key, by id.
    pub async fn owner_of(&self, what: Owned, id: &str) -> Result<Option<User>> {
        match self.store().owner_of(what, id).await? {
            Some(uid) => Ok(self.store().user_by_id(uid).await?),
            None => Ok(None),
        }
    }

    /// The user's sessions that have not ended.
    pub async fn sessions_of(&self, user: &User) -> Result<Vec<Session>> {
        Ok(self
            .store()
            .list_sessions(user.id, Timestamp::now())
            .await?)
    }

    /// Ends one session by id, whoever owns it. `None` when there is no such session,
    /// `Some(false)` when it had already ended.
    pub async fn end_session_by_id(&self, id: &str) -> Result<Option<bool>> {
        let Some(owner) = self.store().owner_of(Owned::Session, id).await? else {
            return Ok(None);
        };
        Ok(Some(
            self.store()
                .revoke_session(owner, id, Timestamp::now())
                .await?,
        ))
    }

    /// Ends every session of the user; returns how many.
    pub async fn end_all_sessions(&self, user: &User) -> Result<u64> {
        Ok(self
            .store()
            .revoke_sessions(user.id, None, Timestamp::now())
            .await?)
    }

    /// Every role, ordered by name.
    pub async fn list_roles(&self) -> Result<Vec<Role>> {
        Ok(self.store().list_roles().await?)
    }

    /// Creates a role and records it; `method` names who acted (`cli`, ...).
    pub async fn create_role(
        &self,
        name: &str,
        permissions: &[String],
        method: &str,
    ) -> Result<Role> {
        let permissions = permissions
            .iter()
            .map(|p| Permission::parse(p))
            .collect::<std::result::Result<_, _>>()?;
        let role = Role::new(name, permissions)?;
        self.store().create_role(&role, Timestamp::now()).await?;
        let perms: Vec<&str> = role.permissions.iter().map(Permission::as_str).collect();
        let e = AuditEvent::new("role_created", "success").method(method);
        self.record_audit(e.detail(format!("role={name} permissions={}", perms.join(","))))
            .await;
        Ok(role)
    }

    /// Grants a role and records it. `false` when the user already had it.
    pub async fn grant_role(&self, user: &User, role: &str, method: &str) -> Result<bool> {
        let granted = self.store().grant_role(user.id, role).await?;
        if granted {
            let e = AuditEvent::new("role_granted", "success")
                .user(user)
                .method(method);
            self.record_audit(e.detail(format!("role={role}"))).await;
        }
        Ok(granted)
    }

    /// Revokes a role and records it. `false` when the user did not have it.
    pub async fn revoke_role(&self, user: &User, role: &str, method: &str) -> Result<bool> {
        if !self.store().revoke_role(user.id, role).await? {
            return Ok(false);
        }
        let e = AuditEvent::new("role_revoked", "success")
            .user(user)
            .method(method);
        self.record_audit(e.detail(format!("role={role}"))).await;
        Ok(true)
    }
}
