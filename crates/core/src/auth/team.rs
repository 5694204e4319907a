//! Administration acts that shape the team: creating users (by invitation), changing and
//! deleting them, set-password links, roles and their permissions, and other users'
//! credentials. Like those of `admin.rs`, each is checked against what the acting
//! administrator holds and recorded naming them.

use super::admin::holds;
use super::*;
use crate::credential::Invitation;
use crate::permission::ADMIN_ROLE;
use crate::permission::Role;
use crate::store::Owned;
use crate::user::{NewUser, Profile};

/// What an administrator gets back from creating a user: the user, and the
/// set-password link's token (show it once) and record.
#[derive(Debug)]
pub struct Invited {
    /// The new account.
    pub user: User,
    /// The invitation's token: `{base}/ui/setup/{token}` is the link.
    pub token: Token,
    /// The invitation as stored (its expiry).
    pub invitation: Invitation,
}

/// A user as the administration pages show them: when they last logged in, whether
/// failed logins lock them out, and their outstanding set-password link.
#[derive(Debug, Clone)]
pub struct Member {
    /// The account.
    pub user: User,
    /// When the user last logged in (by any method), as far as the audit log remembers.
    pub last_login_at: Option<Timestamp>,
    /// Until when failed logins lock the account out, if they do.
    pub locked_until: Option<Timestamp>,
    /// The outstanding set-password link (expired or not): while it is an invitation,
    /// the user has never chosen a password.
    pub link: Option<Invitation>,
}

impl Authenticator {
    /// `users` with their last login, lock and outstanding set-password link (a few
    /// queries, plus one per user for the lock: meant for a page of users).
    pub async fn admin_members(&self, users: Vec<User>) -> Result<Vec<Member>> {
        let accounts = self.accounts();
        let ids: Vec<_> = users.iter().map(|u| u.id).collect();
        let mut last = accounts.last_logins(&ids).await?;
        let mut links: std::collections::HashMap<_, _> = accounts
            .set_password_links()
            .await?
            .into_iter()
            .map(|i| (i.user_id, i))
            .collect();
        let mut members = Vec::with_capacity(users.len());
        for user in users {
            members.push(Member {
                last_login_at: last.remove(&user.id),
                locked_until: self.locked_until(&user.login).await?,
                link: links.remove(&user.id),
                user,
            });
        }
        Ok(members)
    }

    /// Creates a user without a password and returns its invitation link. The
    /// administrator must hold every permission of the roles given
    /// ([`Error::NotHeld`]); an unknown role creates nothing.
    pub async fn admin_create_user(&self, actor: &Identity, user: NewUser) -> Result<Invited> {
        for role in &user.roles {
            if !self.holds_role(actor, role).await? {
                return Err(Error::Store(StoreError::UnknownRole(role.clone())));
            }
        }
        let accounts = self.accounts();
        let created = accounts
            .create_without_password(user, &actor.user.login)
            .await?;
        let lifetime = self.token_settings().invitation_lifetime;
        let (token, invitation) = accounts
            .invite(&created, lifetime, &actor.user.login)
            .await?;
        Ok(Invited {
            user: created,
            token,
            invitation,
        })
    }

    /// A new set-password link for the account with this login, replacing the one it
    /// had: its invitation again if it never chose a password, else a reset link (whose
    /// use ends its sessions). The administrator must hold every permission of the
    /// account ([`Error::NotHeld`]): whoever holds the link can become the user.
    pub async fn admin_set_password_link(
        &self,
        actor: &Identity,
        login: &str,
    ) -> Result<(Token, Invitation)> {
        let user = self.accounts().find(login).await?;
        self.covers_user(actor, &user).await?;
        let lifetime = self.token_settings().invitation_lifetime;
        self.accounts()
            .make_set_password_link(&user, lifetime, &actor.user.login)
            .await
    }

    /// Uses a set-password link ([`Accounts::use_set_password_link`]), with effect on
    /// this instance's verification cache at once (the sessions it ends stop working).
    pub async fn use_set_password_link(
        &self,
        presented: &str,
        password: &Password,
    ) -> Result<Option<User>> {
        self.forget_cached();
        let used = self
            .accounts()
            .use_set_password_link(presented, password)
            .await;
        self.forget_cached();
        used
    }

    /// Replaces the names, language and e-mail address of the account with this login.
    pub async fn admin_update_user(
        &self,
        actor: &Identity,
        login: &str,
        profile: Profile,
    ) -> Result<User> {
        profile.validate()?;
        let user = self.accounts().find(login).await?;
        self.outranks(actor, &user).await?;
        if !self
            .store()
            .update_profile(user.id, &profile, Timestamp::now())
            .await?
        {
            return Err(Error::UnknownUser(login.to_owned()));
        }
        self.forget_cached();
        self.record("profile_changed", &user, &actor.user, String::new())
            .await;
        Ok(User {
            first_name: profile.first_name,
            last_name: profile.last_name,
            lang: profile.lang,
            email: profile.email,
            ..user
        })
    }

    /// Deletes the account with this login and everything it owns; the audit log keeps
    /// its history. The administrator must hold every permission of the account (its
    /// login becomes free for someone else); nobody deletes themselves here, nor the last
    /// enabled administrator.
    pub async fn admin_delete_user(&self, actor: &Identity, login: &str) -> Result<()> {
        let user = self.accounts().find(login).await?;
        if user.id == actor.user.id {
            return Err(Error::Conflict(
                "you cannot delete your own account; another administrator can".into(),
            ));
        }
        self.covers_user(actor, &user).await?;
        if !user.disabled && user.roles.iter().any(|r| r == ADMIN_ROLE) {
            self.keep_an_administrator(&user).await?;
        }
        self.forget_cached();
        if !self.store().delete_user(user.id).await? {
            return Err(Error::UnknownUser(login.to_owned()));
        }
        self.forget_cached();
        self.record("user_deleted", &user, &actor.user, String::new())
            .await;
        Ok(())
    }

    /// Creates a role whose permissions the administrator all holds.
    pub async fn admin_create_role(
        &self,
        actor: &Identity,
        name: &str,
        permissions: &[String],
    ) -> Result<Role> {
        let role = parse_role(name, permissions)?;
        require_all(actor, &role)?;
        self.store().create_role(&role, Timestamp::now()).await?;
        self.record_role("role_created", &role, actor).await;
        Ok(role)
    }

    /// Replaces the permissions of a role; the administrator must hold every permission
    /// it had and every one it gets. The built-in `admin` role cannot change.
    pub async fn admin_set_role_permissions(
        &self,
        actor: &Identity,
        name: &str,
        permissions: &[String],
    ) -> Result<Role> {
        builtin_stays(name)?;
        let role = parse_role(name, permissions)?;
        if !self.holds_role(actor, name).await? {
            return Err(Error::Store(StoreError::UnknownRole(name.to_owned())));
        }
        require_all(actor, &role)?;
        self.forget_cached();
        if !self.store().set_role_permissions(&role).await? {
            return Err(Error::Store(StoreError::UnknownRole(name.to_owned())));
        }
        self.forget_cached();
        self.record_role("role_changed", &role, actor).await;
        Ok(role)
    }

    /// Deletes a role nobody holds ([`StoreError::Conflict`] while someone does), whose
    /// permissions the administrator all holds. The built-in `admin` role stays.
    pub async fn admin_delete_role(&self, actor: &Identity, name: &str) -> Result<()> {
        builtin_stays(name)?;
        if !self.holds_role(actor, name).await? {
            return Err(Error::Store(StoreError::UnknownRole(name.to_owned())));
        }
        self.store().delete_role(name).await.map_err(|e| match e {
            StoreError::Conflict(_) => Error::Conflict(format!(
                "the role `{name}` is still granted; revoke it from its users first"
            )),
            other => Error::Store(other),
        })?;
        let e = AuditEvent::new("role_deleted", "success")
            .method("admin")
            .detail(format!("by={} role={name}", actor.user.login));
        self.audit(e).await;
        Ok(())
    }

    /// The personal access tokens (expired ones too) and API keys of the account with
    /// this login, newest first; never a secret.
    pub async fn admin_credentials(
        &self,
        login: &str,
    ) -> Result<(User, Vec<PersonalToken>, Vec<ApiKey>)> {
        let user = self.accounts().find(login).await?;
        let tokens = self.store().list_pats(user.id).await?;
        let keys = self.store().list_api_keys(user.id).await?;
        Ok((user, tokens, keys))
    }

    /// Revokes one (`Some(id)`) or all (`None`) of the personal access tokens
    /// ([`Owned::PersonalToken`]) or API keys ([`Owned::ApiKey`], ending the sessions
    /// they opened) of the account with this login, with effect on this instance at
    /// once. Returns how many; 0 for an id that is not one of the user's.
    pub async fn admin_revoke_credentials(
        &self,
        actor: &Identity,
        login: &str,
        what: Owned,
        id: Option<&str>,
    ) -> Result<u64> {
        let (user, tokens, keys) = self.admin_credentials(login).await?;
        self.outranks(actor, &user).await?;
        let ids: Vec<&str> = match what {
            Owned::PersonalToken => tokens.iter().map(|t| t.id.as_str()).collect(),
            Owned::ApiKey => keys.iter().map(|k| k.id.as_str()).collect(),
            Owned::Session => return self.admin_end_sessions(actor, login, id).await,
        };
        let now = Timestamp::now();
        let mut revoked = Vec::new();
        self.forget_cached();
        for candidate in ids.into_iter().filter(|c| id.is_none_or(|id| id == *c)) {
            let done = match what {
                Owned::PersonalToken => self.store().revoke_pat(user.id, candidate, now).await?,
                _ => self.store().delete_api_key(user.id, candidate, now).await?,
            };
            if done {
                revoked.push(candidate.to_owned());
            }
        }
        self.forget_cached();
        let (event, name) = match what {
            Owned::PersonalToken => ("token_revoked", "token"),
            _ => ("api_key_deleted", "key"),
        };
        for id in &revoked {
            self.record(event, &user, &actor.user, format!(" {name}={id}"))
                .await;
        }
        Ok(revoked.len() as u64)
    }

    async fn record_role(&self, event: &str, role: &Role, actor: &Identity) {
        let perms: Vec<&str> = role.permissions.iter().map(Permission::as_str).collect();
        let e = AuditEvent::new(event, "success")
            .method("admin")
            .detail(format!(
                "by={} role={} permissions={}",
                actor.user.login,
                role.name,
                perms.join(",")
            ));
        self.audit(e).await;
    }
}

/// The role `name` with these permissions, each checked.
fn parse_role(name: &str, permissions: &[String]) -> Result<Role> {
    let permissions = permissions
        .iter()
        .map(|p| Permission::parse(p))
        .collect::<std::result::Result<_, _>>()?;
    Role::new(name, permissions)
}

/// `Ok` when the administrator holds every permission of `role`.
fn require_all(actor: &Identity, role: &Role) -> Result<()> {
    match role.permissions.iter().find(|p| !holds(actor, p)) {
        Some(missing) => Err(Error::NotHeld(missing.as_str().to_owned())),
        None => Ok(()),
    }
}

/// Refuses to change or delete the built-in `admin` role.
fn builtin_stays(name: &str) -> Result<()> {
    if name == ADMIN_ROLE {
        Err(Error::Conflict(
            "the built-in role `admin` cannot be changed or deleted".into(),
        ))
    } else {
        Ok(())
    }
}
