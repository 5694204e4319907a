//! Set-password links through [`Accounts`]: accounts made without a password, the
//! one-time links (an invitation for a new account, a reset link for a forgotten
//! password) that let their user choose one, and the use of a link.

use std::time::Duration;

use crate::accounts::Accounts;
use crate::audit::AuditEvent;
use crate::credential::{Invitation, InvitationPurpose, new_public_id};
use crate::error::{Error, Result};
use crate::password::Password;
use crate::throttle::Scope;
use crate::time::Timestamp;
use crate::token::{Token, TokenKind};
use crate::user::{Login, NewUser, User};

impl Accounts {
    /// Creates a user who has no password yet (until a set-password link is used, no
    /// password logs in: its stored hash is of a random value nobody knows), after
    /// checking its profile fields and role names, and records it naming `by`.
    pub async fn create_without_password(&self, user: NewUser, by: &str) -> Result<User> {
        user.validate()?;
        for role in &user.roles {
            crate::permission::validate_role_name(role)?;
        }
        let hash = self.unknowable_password_hash().await?;
        let created = self
            .store()
            .create_user(&user, &hash, Timestamp::now())
            .await?;
        let e = AuditEvent::new("user_created", "success").user(&created);
        let detail = format!("by={by} roles={}", created.roles.join(","));
        self.record_audit(e.detail(detail)).await;
        Ok(created)
    }

    /// The hash of a random password nobody knows: an account with it has no usable
    /// password, and a login for it costs what a wrong password costs.
    pub(crate) async fn unknowable_password_hash(&self) -> Result<String> {
        let mut unknowable = String::new();
        crate::token::random_base62(&mut unknowable, 43);
        self.hasher().hash(&Password::new(unknowable)).await
    }

    /// Makes a set-password link for `user`, valid for `lifetime`, replacing the one the
    /// user had: an invitation while the user has never chosen a password (see
    /// [`Self::invite`]), a reset link otherwise. Returns the link's
    /// token, to show once, and the link as stored. `by` names who made it.
    pub async fn make_set_password_link(
        &self,
        user: &User,
        lifetime: Duration,
        by: &str,
    ) -> Result<(Token, Invitation)> {
        let outstanding = self.store().list_invitations().await?;
        // A link stays stored, expired or not, until it is used or replaced: a user
        // whose (last) link is an invitation has never chosen a password.
        let purpose = outstanding
            .iter()
            .find(|i| i.user_id == user.id)
            .map_or(InvitationPurpose::Reset, |previous| previous.purpose);
        self.issue(user, purpose, lifetime, by).await
    }

    async fn issue(
        &self,
        user: &User,
        purpose: InvitationPurpose,
        lifetime: Duration,
        by: &str,
    ) -> Result<(Token, Invitation)> {
        let now = Timestamp::now();
        let token = Token::generate(TokenKind::Invitation);
        let invitation = Invitation {
            id: new_public_id("inv_"),
            user_id: user.id,
            purpose,
            created_by: by.to_owned(),
            created_at: now,
            expires_at: now.plus(lifetime),
        };
        self.store()
            .create_invitation(&invitation, &token.digest())
            .await?;
        let e = AuditEvent::new("set_password_link_created", "success").user(user);
        let detail = format!(
            "by={by} link={} purpose={}",
            invitation.id,
            purpose.as_str()
        );
        self.record_audit(e.detail(detail)).await;
        Ok((token, invitation))
    }

    /// Makes the first set-password link of a user [created without a
    /// password](Self::create_without_password).
    pub async fn invite(
        &self,
        user: &User,
        lifetime: Duration,
        by: &str,
    ) -> Result<(Token, Invitation)> {
        self.issue(user, InvitationPurpose::Invite, lifetime, by)
            .await
    }

    /// The unexpired link `presented` is, with its user, if it is one.
    pub async fn set_password_link(&self, presented: &str) -> Result<Option<(Invitation, User)>> {
        let Ok(parsed) = crate::token::parse(presented) else {
            return Ok(None);
        };
        if parsed.kind != TokenKind::Invitation {
            return Ok(None);
        }
        let found = self
            .store()
            .invitation_by_secret(&parsed.digest, Timestamp::now())
            .await?;
        match found {
            Some((invitation, user)) if self.maker_still_covers(&invitation, &user).await? => {
                Ok(Some((invitation, user)))
            }
            _ => Ok(None),
        }
    }

    /// Whether the link's maker may still hand out this account: the command line
    /// always; an administrator while enabled and holding every permission the user
    /// holds now (a role granted after the link was made does not travel with it).
    async fn maker_still_covers(&self, invitation: &Invitation, user: &User) -> Result<bool> {
        if invitation.created_by == "cli" {
            return Ok(true);
        }
        let maker = match self.find(&invitation.created_by).await {
            Ok(maker) if !maker.disabled => maker,
            Ok(_) | Err(Error::UnknownUser(_)) => return Ok(false),
            Err(e) => return Err(e),
        };
        let theirs = self.permissions_of(user).await?;
        let mine = self.permissions_of(&maker).await?;
        Ok(theirs.iter().all(|p| mine.covers(p)))
    }

    /// Uses the link `presented` to set `password` (checked against the policy), once:
    /// the user's password and API-key sessions end and the failed-login lock is cleared.
    /// `None` when the link is not (or no longer) valid; nothing changes then.
    pub async fn use_set_password_link(
        &self,
        presented: &str,
        password: &Password,
    ) -> Result<Option<User>> {
        let Some((invitation, user)) = self.set_password_link(presented).await? else {
            return Ok(None);
        };
        self.policy()
            .check(password, &user.login)
            .map_err(Error::WeakPassword)?;
        let hash = self.hasher().hash(password).await?;
        let digest = crate::token::parse(presented)
            .map(|p| p.digest)
            .map_err(|_| Error::Internal("a parsed link no longer parses".into()))?;
        let used = self
            .store()
            .redeem_invitation(&digest, &hash, Timestamp::now())
            .await?;
        if used != Some(user.id) {
            return Ok(None);
        }
        let subject = crate::throttle::subject(&Login::key_of(&user.login));
        if let Err(e) = self.store().clear_attempts(Scope::Account, &subject).await {
            tracing::warn!(error = %e, "a failed-login lock was not cleared");
        }
        let e = AuditEvent::new("set_password_link_used", "success").user(&user);
        let detail = format!(
            "link={} purpose={}",
            invitation.id,
            invitation.purpose.as_str()
        );
        self.record_audit(e.detail(detail)).await;
        Ok(Some(user))
    }

    /// Every outstanding set-password link (expired ones too), ordered by user.
    pub async fn set_password_links(&self) -> Result<Vec<Invitation>> {
        Ok(self.store().list_invitations().await?)
    }
}
