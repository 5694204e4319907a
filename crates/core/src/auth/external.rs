//! Sign-in through an identity provider, once the HTTP edge has validated the provider's
//! ID token: find the user by its link (provider, subject), or create it when allowed;
//! never by e-mail or login alone, so that a provider cannot take over a local account.
//! The provider's groups are mapped to roles at every sign-in, and a session of kind
//! `idp` opens with the timeouts of a password session.

use super::*;
use crate::credential::IdentityLink;
use crate::user::NewUser;

/// What an identity provider says about the person who signed in (validated claims).
#[derive(Debug, Clone)]
pub struct ExternalSignIn {
    /// The provider's configured id (`oidc:{id}` in the audit log).
    pub provider: String,
    /// The provider's issuer (links made at another issuer do not count).
    pub issuer: String,
    /// The ID token's `sub`.
    pub subject: String,
    /// The login a new user gets (the provider's login claim, or its e-mail address).
    pub login: Option<String>,
    /// The e-mail address, when the provider gives one.
    pub email: Option<String>,
    /// Given and family names, when given.
    pub first_name: String,
    /// The family name, when given.
    pub last_name: String,
    /// The roles the provider's groups map to, and every role the mapping can give
    /// (`None`: no mapping; roles are left as they are).
    pub roles: Option<(Vec<String>, Vec<String>)>,
    /// Create a user for an unknown subject.
    pub create_users: bool,
}

/// Why a sign-in through a provider opened no session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalRefusal {
    /// The account is disabled.
    Disabled,
    /// No user is linked and the provider may not create users.
    NotLinked,
    /// No usable login in the provider's claims.
    NoLogin,
    /// An account with this login or e-mail address exists and is not linked to this
    /// provider account: it is not taken over.
    Taken,
}

impl Authenticator {
    /// Signs in the person an identity provider vouched for: the linked user (its role
    /// mapping re-applied), or a new user when allowed. `Ok(Err(..))` says why no session
    /// opened; every outcome is audited with method `oidc:{provider}`.
    pub async fn sign_in_external(
        &self,
        who: ExternalSignIn,
        client: ClientInfo,
    ) -> Result<std::result::Result<(Identity, Token), ExternalRefusal>> {
        let method = format!("oidc:{}", who.provider);
        let now = Timestamp::now();
        let found = self
            .store()
            .linked_user(&who.provider, &who.issuer, &who.subject, now)
            .await?;
        let user = match found {
            Some(user) => user,
            None => match self.create_external(&who, now).await? {
                Ok(user) => user,
                Err(refusal) => {
                    let e = AuditEvent::new("login", "failure")
                        .attempted_login(who.login.as_deref().unwrap_or("-"))
                        .method(&method)
                        .client(client.ip.as_deref(), client.user_agent.as_deref())
                        .detail(format!("reason={refusal:?}"));
                    self.audit(e).await;
                    return Ok(Err(refusal));
                }
            },
        };
        if user.disabled {
            let e = AuditEvent::new("login", "failure")
                .user(&user)
                .method(&method)
                .client(client.ip.as_deref(), client.user_agent.as_deref())
                .detail("reason=Disabled");
            self.audit(e).await;
            return Ok(Err(ExternalRefusal::Disabled));
        }
        let user = match &who.roles {
            Some((wanted, managed)) => self.map_roles(user, wanted, managed, &method).await?,
            None => user,
        };
        let event = AuditEvent::new("login", "success")
            .user(&user)
            .method(&method)
            .client(client.ip.as_deref(), client.user_agent.as_deref());
        let s = self.inner.settings;
        let (identity, token) = self
            .open_session(NewSession {
                user,
                kind: SessionKind::Idp,
                api_key_id: None,
                scopes: None,
                lifetime: s.absolute_timeout,
                idle: Some(s.idle_timeout),
                client,
            })
            .await?;
        self.audit(event.detail(format!("session={}", identity.session.id)))
            .await;
        Ok(Ok((identity, token)))
    }

    /// Creates the user for a provider account seen for the first time, and links it;
    /// refuses when a user has its login or e-mail address already.
    async fn create_external(
        &self,
        who: &ExternalSignIn,
        now: Timestamp,
    ) -> Result<std::result::Result<User, ExternalRefusal>> {
        if !who.create_users {
            return Ok(Err(ExternalRefusal::NotLinked));
        }
        let Some(login) = who.login.as_deref().and_then(|l| Login::parse(l).ok()) else {
            return Ok(Err(ExternalRefusal::NoLogin));
        };
        let accounts = self.accounts();
        let users = accounts.list_users().await?;
        let email = who.email.as_deref().map(str::to_lowercase);
        let taken = users.iter().any(|u| {
            Login::key_of(&u.login) == login.key()
                || email.is_some() && u.email.as_deref().map(str::to_lowercase) == email
        });
        if taken {
            return Ok(Err(ExternalRefusal::Taken));
        }
        let mut new = NewUser::new(login);
        new.first_name = who.first_name.chars().take(150).collect();
        new.last_name = who.last_name.chars().take(150).collect();
        new.email = who.email.clone();
        // What the provider sends is kept when it passes the profile checks.
        if new.validate().is_err() {
            new.email = None;
        }
        if new.validate().is_err() {
            new.first_name.clear();
            new.last_name.clear();
        }
        let by = format!("oidc:{}", who.provider);
        let link = IdentityLink {
            provider: who.provider.clone(),
            subject: who.subject.clone(),
            issuer: who.issuer.clone(),
            user_id: crate::user::UserId(0),
            created_at: now,
            last_login_at: now,
        };
        // The user and its link in one transaction: never a user its provider cannot reach.
        let hash = accounts.unknowable_password_hash().await?;
        let user = match self.store().create_linked_user(&new, &hash, &link).await {
            Ok(user) => user,
            Err(StoreError::Conflict(_)) => return Ok(Err(ExternalRefusal::Taken)),
            Err(e) => return Err(e.into()),
        };
        let e = AuditEvent::new("user_created", "success")
            .user(&user)
            .detail(format!("by={by} roles="));
        self.audit(e).await;
        Ok(Ok(user))
    }

    /// Grants the mapped roles the user lacks and revokes the mapped ones it no longer
    /// gets (roles outside the mapping stay); a mapped role that does not exist is
    /// skipped with a warning.
    async fn map_roles(
        &self,
        mut user: User,
        wanted: &[String],
        managed: &[String],
        method: &str,
    ) -> Result<User> {
        let mut changed = false;
        for role in managed {
            let has = user.roles.contains(role);
            let wants = wanted.contains(role);
            let accounts = self.accounts();
            if wants && !has {
                match accounts.grant_role(&user, role, method).await {
                    Ok(_) => {
                        user.roles.push(role.clone());
                        changed = true;
                    }
                    Err(Error::Store(StoreError::UnknownRole(_))) => {
                        tracing::warn!(role = %role, "identity provider role mapping names an unknown role");
                    }
                    Err(e) => return Err(e),
                }
            } else if has && !wants {
                accounts.revoke_role(&user, role, method).await?;
                user.roles.retain(|r| r != role);
                changed = true;
            }
        }
        if changed {
            user.roles.sort();
            self.forget_cached();
        }
        Ok(user)
    }
}
