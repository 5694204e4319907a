//! Account operations that combine the store, the password policy and the hasher: the one
//! place that creates users, changes passwords and checks a login and password.

use std::sync::Arc;

use crate::audit::AuditEvent;
use crate::error::{Error, Result};
use crate::password::{Password, PasswordHasher, PasswordPolicy, Verification};
use crate::store::Store;
use crate::time::Timestamp;
use crate::user::{Login, NewUser, Profile, User};

/// Account operations over a store, with the password policy and hasher they need. Cheap to
/// clone: the store and the hashing pool are shared.
#[derive(Clone)]
pub struct Accounts {
    store: Arc<dyn Store>,
    hasher: PasswordHasher,
    policy: PasswordPolicy,
}

impl Accounts {
    /// Combines a store, the hasher that hashes and verifies passwords, and the policy that
    /// new passwords must meet.
    pub fn new(store: Arc<dyn Store>, hasher: PasswordHasher, policy: PasswordPolicy) -> Self {
        Self {
            store,
            hasher,
            policy,
        }
    }

    /// The store the accounts live in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The policy new passwords must meet.
    pub fn policy(&self) -> &PasswordPolicy {
        &self.policy
    }

    /// The password hasher these accounts use.
    pub fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// Creates a user after checking its profile fields, its role names and its password
    /// (against the policy and the login), and records it in the audit log. A login whose
    /// key is taken is a [`StoreError::Conflict`](crate::StoreError::Conflict), a role that
    /// does not exist a [`StoreError::UnknownRole`](crate::StoreError::UnknownRole).
    pub async fn create_user(&self, user: NewUser, password: &Password) -> Result<User> {
        user.validate()?;
        for role in &user.roles {
            crate::permission::validate_role_name(role)?;
        }
        self.policy
            .check(password, user.login.as_str())
            .map_err(Error::WeakPassword)?;
        let hash = self.hasher.hash(password).await?;
        let created = self
            .store
            .create_user(&user, &hash, Timestamp::now())
            .await?;
        let e = AuditEvent::new("user_created", "success").user(&created);
        self.record_audit(e.detail(format!("roles={}", created.roles.join(","))))
            .await;
        Ok(created)
    }

    /// Finds a user by any spelling of its login (case, Unicode compatibility forms).
    pub async fn find(&self, login: &str) -> Result<User> {
        match self.store.user_by_login(&Login::key_of(login)).await? {
            Some(c) => Ok(c.user),
            None => Err(Error::UnknownUser(login.to_owned())),
        }
    }

    /// Sets a new password and ends all of the user's sessions.
    pub async fn set_password(&self, login: &str, password: &Password) -> Result<()> {
        let user = self.find(login).await?;
        self.policy
            .check(password, &user.login)
            .map_err(Error::WeakPassword)?;
        let hash = self.hasher.hash(password).await?;
        if !self
            .store
            .set_password(user.id, &hash, Timestamp::now())
            .await?
        {
            return Err(Error::UnknownUser(login.to_owned()));
        }
        self.record_audit(AuditEvent::new("password_changed", "success").user(&user))
            .await;
        Ok(())
    }

    /// Replaces `user`'s names, language and e-mail address after checking them, and
    /// records it. Returns the updated user.
    pub async fn update_profile(&self, user: &User, profile: Profile) -> Result<User> {
        profile.validate()?;
        if !self
            .store
            .update_profile(user.id, &profile, Timestamp::now())
            .await?
        {
            return Err(Error::UnknownUser(user.login.to_string()));
        }
        self.record_audit(AuditEvent::new("profile_changed", "success").user(user))
            .await;
        Ok(User {
            first_name: profile.first_name,
            last_name: profile.last_name,
            lang: profile.lang,
            email: profile.email,
            ..user.clone()
        })
    }

    /// Disables or re-enables the account with this login and records it; disabling also
    /// ends all of its sessions. Returns the user with the new flag, or
    /// [`Error::UnknownUser`].
    pub async fn set_disabled(&self, login: &str, disabled: bool) -> Result<User> {
        let user = self.find(login).await?;
        if !self
            .store
            .set_disabled(user.id, disabled, Timestamp::now())
            .await?
        {
            return Err(Error::UnknownUser(login.to_owned()));
        }
        let event = if disabled {
            "user_disabled"
        } else {
            "user_enabled"
        };
        self.record_audit(AuditEvent::new(event, "success").user(&user))
            .await;
        Ok(User { disabled, ..user })
    }

    /// Checks a login and password. `None` for an unknown login, a wrong password and a
    /// disabled account alike, after the same amount of hashing work in each case.
    pub async fn authenticate(&self, login: &str, password: &Password) -> Result<Option<User>> {
        let found = self.store.user_by_login(&Login::key_of(login)).await?;
        let stored = found.as_ref().map(|c| c.password_hash.as_str());
        let verdict = self.hasher.verify(password, stored).await?;
        let (Verification::Match { needs_rehash }, Some(creds)) = (verdict, found) else {
            return Ok(None);
        };
        if creds.user.disabled {
            return Ok(None);
        }
        if needs_rehash {
            // The password is known right now: store it under the current parameters.
            // A failure only means the old hash stays, so it is logged, not returned.
            match self.hasher.hash(password).await {
                Ok(new_hash) => {
                    if let Err(e) = self
                        .store
                        .rehash_password(creds.user.id, &creds.password_hash, &new_hash)
                        .await
                    {
                        tracing::warn!(user = %creds.user.id, error = %e, "password rehash not stored");
                    }
                }
                Err(e) => {
                    tracing::warn!(user = %creds.user.id, error = %e, "password rehash failed")
                }
            }
        }
        Ok(Some(creds.user))
    }
}
