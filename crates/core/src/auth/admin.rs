//! Administration acts on other users: each is checked against what the acting
//! administrator holds, keeps at least one enabled administrator, and is recorded naming
//! the administrator. Which acts a credential may attempt at all (`tessera:*`
//! permissions) is the caller's check.

use super::*;
use crate::permission::{ADMIN_ROLE, Permission};
use crate::throttle::Scope;
use crate::user::Login;

impl Authenticator {
    /// Disables (ending every session of the user) or enables the account with this
    /// login. Refused with [`Error::LastAdministrator`] when it would leave no enabled
    /// administrator, and with [`Error::NotHeld`] when the user holds a permission the
    /// administrator does not (a help desk cannot act on administrators).
    pub async fn admin_set_disabled(
        &self,
        actor: &Identity,
        login: &str,
        disabled: bool,
    ) -> Result<User> {
        let user = self.accounts().find(login).await?;
        self.outranks(actor, &user).await?;
        if disabled && user.roles.iter().any(|r| r == ADMIN_ROLE) {
            self.keep_an_administrator(&user).await?;
        }
        self.forget_cached();
        if !self
            .store()
            .set_disabled(user.id, disabled, Timestamp::now())
            .await?
        {
            return Err(Error::UnknownUser(login.to_owned()));
        }
        self.forget_cached();
        let event = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        self.record(event, &user, &actor.user, String::new()).await;
        Ok(User { disabled, ..user })
    }

    /// Clears the failed-login lock and counter of the account with this login (whose
    /// permissions the administrator must all hold).
    pub async fn admin_unlock(&self, actor: &Identity, login: &str) -> Result<User> {
        let user = self.accounts().find(login).await?;
        self.outranks(actor, &user).await?;
        let subject = crate::throttle::subject(&Login::key_of(login));
        self.store()
            .clear_attempts(Scope::Account, &subject)
            .await?;
        self.record("user_unlocked", &user, &actor.user, String::new())
            .await;
        Ok(user)
    }

    /// Until when the account with this login is locked by failed logins, if it is.
    pub async fn locked_until(&self, login: &str) -> Result<Option<Timestamp>> {
        let subject = crate::throttle::subject(&Login::key_of(login));
        Ok(self
            .store()
            .locked_until(Scope::Account, &subject, Timestamp::now())
            .await?)
    }

    /// Grants a role. The administrator must hold every permission of the role
    /// ([`Error::NotHeld`] names the first one missing). `false` when the user had it.
    pub async fn admin_grant_role(
        &self,
        actor: &Identity,
        login: &str,
        role: &str,
    ) -> Result<bool> {
        let user = self.accounts().find(login).await?;
        if !self.holds_role(actor, role).await? {
            return Err(Error::Store(StoreError::UnknownRole(role.to_owned())));
        }
        self.forget_cached();
        let granted = self.store().grant_role(user.id, role).await?;
        self.forget_cached();
        if granted {
            self.record("role_granted", &user, &actor.user, format!(" role={role}"))
                .await;
        }
        Ok(granted)
    }

    /// Revokes a role, whose permissions the administrator must all hold; the `admin`
    /// role cannot be taken from the last enabled administrator. `false` when the user
    /// did not have it.
    pub async fn admin_revoke_role(
        &self,
        actor: &Identity,
        login: &str,
        role: &str,
    ) -> Result<bool> {
        let user = self.accounts().find(login).await?;
        self.holds_role(actor, role).await?;
        if role == ADMIN_ROLE && !user.disabled && user.roles.iter().any(|r| r == ADMIN_ROLE) {
            self.keep_an_administrator(&user).await?;
        }
        self.forget_cached();
        let revoked = self.store().revoke_role(user.id, role).await?;
        self.forget_cached();
        if revoked {
            self.record("role_revoked", &user, &actor.user, format!(" role={role}"))
                .await;
        }
        Ok(revoked)
    }

    /// The sessions of the account with this login that have not ended.
    pub async fn admin_sessions(&self, login: &str) -> Result<Vec<crate::session::Session>> {
        let user = self.accounts().find(login).await?;
        Ok(self
            .store()
            .list_sessions(user.id, Timestamp::now())
            .await?)
    }

    /// Ends one session (`Some(id)`; `false` when it is not one of the user's open
    /// sessions) or all of them (`None`) of the account with this login, with effect on
    /// this instance at once. Returns how many ended.
    pub async fn admin_end_sessions(
        &self,
        actor: &Identity,
        login: &str,
        id: Option<&str>,
    ) -> Result<u64> {
        let user = self.accounts().find(login).await?;
        self.outranks(actor, &user).await?;
        let now = Timestamp::now();
        self.forget_cached();
        let ended = match id {
            Some(id) => u64::from(self.store().revoke_session(user.id, id, now).await?),
            None => self.store().revoke_sessions(user.id, None, now).await?,
        };
        self.forget_cached();
        if ended > 0 {
            let what = id.map_or_else(|| format!(" count={ended}"), |id| format!(" session={id}"));
            self.record("sessions_revoked", &user, &actor.user, what)
                .await;
        }
        Ok(ended)
    }

    /// Whether the role exists (`false` when it does not), after checking that the
    /// administrator holds every one of its permissions ([`Error::NotHeld`] names the
    /// first one missing).
    pub(super) async fn holds_role(&self, actor: &Identity, role: &str) -> Result<bool> {
        let roles = self.accounts().list_roles().await?;
        let Some(found) = roles.iter().find(|r| r.name == role) else {
            return Ok(false);
        };
        match found.permissions.iter().find(|p| !holds(actor, p)) {
            Some(missing) => Err(Error::NotHeld(missing.as_str().to_owned())),
            None => Ok(true),
        }
    }

    /// `Ok` when the administrator holds every administration permission `user` holds:
    /// a help desk may disable or unlock ordinary users, not administrators.
    pub(super) async fn outranks(&self, actor: &Identity, user: &User) -> Result<()> {
        let theirs = self.accounts().permissions_of(user).await?;
        let missing = crate::permission::ADMINISTRATION
            .iter()
            .find(|p| theirs.allows(p) && !actor.allows(p));
        match missing {
            Some(p) => Err(Error::NotHeld((*p).to_owned())),
            None => Ok(()),
        }
    }

    /// `Ok` when the administrator holds every permission `user` holds: acts that hand
    /// the account to someone else (a set-password link) or free its login for someone
    /// else (deletion) need as much as the account has, or a help desk could become any
    /// user it may reset.
    pub(super) async fn covers_user(&self, actor: &Identity, user: &User) -> Result<()> {
        let theirs = self.accounts().permissions_of(user).await?;
        match theirs.iter().find(|p| !holds(actor, p)) {
            Some(missing) => Err(Error::NotHeld(missing.as_str().to_owned())),
            None => Ok(()),
        }
    }

    /// `Ok` when an enabled user other than `leaving` holds the `admin` role.
    pub(super) async fn keep_an_administrator(&self, leaving: &User) -> Result<()> {
        let others = self.accounts().list_users().await?;
        let another = others
            .iter()
            .any(|u| u.id != leaving.id && !u.disabled && u.roles.iter().any(|r| r == ADMIN_ROLE));
        if another {
            Ok(())
        } else {
            Err(Error::LastAdministrator)
        }
    }

    /// Records an administration act on `user`, naming the administrator.
    pub(super) async fn record(&self, event: &str, user: &User, actor: &User, detail: String) {
        let e = AuditEvent::new(event, "success")
            .user(user)
            .method("admin")
            .detail(format!("by={}{detail}", actor.login));
        self.audit(e).await;
    }
}

/// Whether the credential of `actor` holds `p` (its user's permissions and its scopes).
pub(super) fn holds(actor: &Identity, p: &Permission) -> bool {
    let mine = &actor.permissions;
    mine.covers(p)
        && actor.session.scopes.as_ref().is_none_or(|scopes| {
            scopes
                .iter()
                .filter_map(|s| Permission::parse(s).ok())
                .any(|s| s.covers(p))
        })
}
