//! The `Authenticator`: turns a presented secret into an [`Identity`], opens and ends
//! sessions, and records activity without writing on the request path.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::accounts::Accounts;
use crate::error::{Result, StoreError};
use crate::password::Password;
use crate::permission::{Permission, PermissionSet};
use crate::session::{ClientInfo, Session, SessionKind, new_session_id};
use crate::store::{Store, Touch};
use crate::time::Timestamp;
use crate::token::{self, Token, TokenKind};
use crate::user::User;

/// Timeouts of password sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSettings {
    pub idle_timeout: Duration,
    pub absolute_timeout: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(30 * 60),
            absolute_timeout: Duration::from_secs(12 * 3600),
        }
    }
}

impl SessionSettings {
    /// How stale `last_seen_at` may get before it is written again: a minute, or a tenth
    /// of the idle timeout when that is shorter (at least a second).
    pub fn touch_interval(&self) -> Duration {
        (self.idle_timeout / 10).clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// Who a request comes from and what it may do.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    /// The user's permissions through its roles, read on every verification.
    pub permissions: PermissionSet,
    pub session: Session,
}

impl Identity {
    /// The effective check: granted by the user's roles and, when the credential is
    /// scoped, by one of its scopes too.
    pub fn allows(&self, required: &str) -> bool {
        self.permissions.allows(required)
            && self.session.scopes.as_ref().is_none_or(|scopes| {
                scopes
                    .iter()
                    .filter_map(|s| Permission::parse(s).ok())
                    .any(|s| s.grants(required))
            })
    }
}

/// Why a presented credential does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    /// Malformed, unknown, revoked, or its user is disabled: all alike to the client.
    #[error("invalid credential")]
    Invalid,
    #[error("session expired")]
    Expired,
    /// The store cannot answer: fail closed.
    #[error(transparent)]
    Unavailable(StoreError),
}

impl From<StoreError> for AuthFailure {
    fn from(e: StoreError) -> Self {
        Self::Unavailable(e)
    }
}

#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    accounts: Accounts,
    settings: SessionSettings,
    touches: mpsc::Sender<Touch>,
}

impl Authenticator {
    /// Must be called inside a Tokio runtime: it starts the task that writes coalesced
    /// activity updates once a second.
    pub fn new(accounts: Accounts, settings: SessionSettings) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(write_touches(Arc::clone(accounts.store()), rx));
        Self {
            inner: Arc::new(Inner {
                accounts,
                settings,
                touches: tx,
            }),
        }
    }

    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    pub fn settings(&self) -> SessionSettings {
        self.inner.settings
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.inner.accounts.store()
    }

    /// Checks a login and password and opens a password session. `Ok(None)` for an
    /// unknown login, a wrong password and a disabled account alike.
    pub async fn login(
        &self,
        login: &str,
        password: &Password,
        client: ClientInfo,
    ) -> Result<Option<(Identity, Token)>> {
        let Some(user) = self.inner.accounts.authenticate(login, password).await? else {
            return Ok(None);
        };
        let now = Timestamp::now();
        let s = self.inner.settings;
        let expires_at = now.plus(s.absolute_timeout);
        let session = Session {
            id: new_session_id(),
            kind: SessionKind::Password,
            user_id: user.id,
            api_key_id: None,
            scopes: None,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: Some(now.plus(s.idle_timeout).min(expires_at)),
            expires_at,
            ip: client.ip,
            user_agent: client.user_agent.map(|ua| ua.chars().take(512).collect()),
        };
        let token = Token::generate(TokenKind::Session);
        self.store()
            .create_session(&session, &token.digest())
            .await?;
        let permissions = self.store().permissions_of(user.id).await?;
        Ok(Some((
            Identity {
                user,
                permissions,
                session,
            },
            token,
        )))
    }

    /// Authenticates a presented bearer token or the token inside a session cookie.
    /// Malformed tokens are refused before any database access.
    pub async fn verify_token(
        &self,
        presented: &str,
    ) -> std::result::Result<Identity, AuthFailure> {
        let parsed = token::parse(presented).map_err(|_| AuthFailure::Invalid)?;
        if !parsed.kind.is_bearer() || parsed.kind == TokenKind::PersonalAccess {
            return Err(AuthFailure::Invalid);
        }
        let Some(record) = self.store().session_by_secret(&parsed.digest).await? else {
            return Err(AuthFailure::Invalid);
        };
        let expected = match record.session.kind {
            SessionKind::Password => TokenKind::Session,
            SessionKind::ApiKey => TokenKind::ApiKeySession,
            SessionKind::AccessToken => TokenKind::AccessToken,
        };
        if parsed.kind != expected || record.user.disabled {
            return Err(AuthFailure::Invalid);
        }
        let now = Timestamp::now();
        let mut session = record.session;
        if session.is_expired(now) {
            return Err(AuthFailure::Expired);
        }
        self.record_activity(&mut session, now);
        let permissions = self.store().permissions_of(record.user.id).await?;
        Ok(Identity {
            user: record.user,
            permissions,
            session,
        })
    }

    /// Slides the idle expiry; writes it (later, batched) only when it is stale enough.
    fn record_activity(&self, session: &mut Session, now: Timestamp) {
        let Some(_) = session.idle_expires_at else {
            return;
        };
        let stale = now.unix() - session.last_seen_at.unix()
            >= self.inner.settings.touch_interval().as_secs() as i64;
        session.idle_expires_at =
            Some(session.idle_expiry_after(now, self.inner.settings.idle_timeout));
        if stale {
            session.last_seen_at = now;
            let touch = Touch {
                session_id: session.id.clone(),
                last_seen_at: now,
                idle_expires_at: session.idle_expires_at,
            };
            if self.inner.touches.try_send(touch).is_err() {
                tracing::warn!("activity queue full; an idle-timeout update was dropped");
            }
        }
    }

    /// Ends the session behind `identity` (both its cookie and its token).
    pub async fn end_session(&self, identity: &Identity) -> Result<bool> {
        Ok(self
            .store()
            .revoke_session(identity.user.id, &identity.session.id, Timestamp::now())
            .await?)
    }

    pub async fn list_sessions(&self, identity: &Identity) -> Result<Vec<Session>> {
        Ok(self
            .store()
            .list_sessions(identity.user.id, Timestamp::now())
            .await?)
    }

    /// Ends one of the caller's sessions; `false` if there is no such session of theirs.
    pub async fn revoke_session(&self, identity: &Identity, id: &str) -> Result<bool> {
        Ok(self
            .store()
            .revoke_session(identity.user.id, id, Timestamp::now())
            .await?)
    }

    /// Ends all of the caller's sessions but the current one; returns how many.
    pub async fn revoke_other_sessions(&self, identity: &Identity) -> Result<u64> {
        Ok(self
            .store()
            .revoke_sessions(
                identity.user.id,
                Some(&identity.session.id),
                Timestamp::now(),
            )
            .await?)
    }
}

/// Drains activity updates and writes them in one transaction per second, keeping only
/// the latest per session.
async fn write_touches(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Touch>) {
    let mut pending: HashMap<String, Touch> = HashMap::new();
    loop {
        let Some(first) = rx.recv().await else { return };
        pending.insert(first.session_id.clone(), first);
        tokio::time::sleep(Duration::from_secs(1)).await;
        while let Ok(t) = rx.try_recv() {
            match pending.get(&t.session_id) {
                Some(old) if old.last_seen_at >= t.last_seen_at => {}
                _ => {
                    pending.insert(t.session_id.clone(), t);
                }
            }
        }
        let batch: Vec<Touch> = pending.drain().map(|(_, t)| t).collect();
        if let Err(e) = store.touch_sessions(&batch).await {
            tracing::warn!(error = %e, sessions = batch.len(), "could not record session activity");
        }
    }
}
