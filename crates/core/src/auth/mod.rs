//! The `Authenticator`: turns a presented secret into an [`Identity`], opens and ends
//! sessions, mints and revokes long-lived credentials, and records activity without
//! writing on the request path.

mod activity;
mod admin;
mod admission;
mod cache;
mod credentials;
mod external;
mod identity;
mod team;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::accounts::Accounts;
use crate::audit::{self, AuditEvent};
use crate::credential::{ApiKey, PersonalToken, StoredClientSecret, new_public_id};
use crate::error::{Error, Result, StoreError};
use crate::keys::{Keys, Sealer};
use crate::password::Password;
use crate::permission::{Permission, PermissionSet};
use crate::secret::constant_time_eq;
use crate::session::{ClientInfo, Session, SessionKind, new_session_id};
use crate::store::{Store, Touch};
use crate::throttle::{Attempt, Scope, ThrottleSettings};
use crate::time::Timestamp;
use crate::token::{self, Token, TokenKind};
use crate::user::{Login, User};

use crate::token::ParsedToken;

use self::activity::{Activity, write_activity};
use self::cache::{CachedIdentity, Flight, FlightGuard, Flights};
pub use self::cache::{PUSHED_VERIFY_CACHE_TTL, VERIFY_CACHE_TTL};
use self::credentials::pat_as_session;
pub use self::external::{ExternalRefusal, ExternalSignIn};
pub use self::identity::{
    ACCESS_TOKEN_MAX, ACCESS_TOKEN_MIN, AuthFailure, ClientSecret, Identity, LoginOutcome,
    SessionSettings, TokenSettings,
};
pub use self::team::{Invited, Member};

/// What a new session is opened with.
struct NewSession {
    user: User,
    kind: SessionKind,
    api_key_id: Option<String>,
    scopes: Option<Vec<String>>,
    lifetime: Duration,
    idle: Option<Duration>,
    client: ClientInfo,
}

/// A new session and its token, not stored yet.
fn new_session(new: NewSession) -> (Session, Token, User) {
    let NewSession {
        user,
        kind,
        api_key_id,
        scopes,
        lifetime,
        idle,
        client,
    } = new;
    let now = Timestamp::now();
    let expires_at = now.plus(lifetime);
    let session = Session {
        id: new_session_id(),
        kind,
        user_id: user.id,
        api_key_id,
        scopes,
        created_at: now,
        last_seen_at: now,
        idle_expires_at: idle.map(|i| now.plus(i).min(expires_at)),
        expires_at,
        ip: client.ip,
        user_agent: client.user_agent.map(|ua| ua.chars().take(512).collect()),
    };
    let token = Token::generate(kind.token_kind());
    (session, token, user)
}

/// Verifies credentials, opens and ends sessions, and mints and revokes long-lived
/// credentials. Cheap to clone: clones share one verification cache and one activity
/// writer.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    /// Recently verified credentials by token digest.
    cache: std::sync::Mutex<HashMap<[u8; 32], CachedIdentity>>,
    /// Store reads in progress, by token digest and cache generation: when a cached entry
    /// expires under load, one request reads the store and the others wait for it.
    flights: std::sync::Mutex<Flights>,
    /// Store reads made to verify a bearer token or session cookie (cache misses).
    credential_reads: std::sync::atomic::AtomicU64,
    /// Bumped by every local revocation: a verification that read the store before the
    /// bump is not cached after it.
    cache_generation: std::sync::atomic::AtomicU64,
    /// How long a verification is served from memory, in milliseconds:
    /// [`PUSHED_VERIFY_CACHE_TTL`] while the store's revocation feed is live,
    /// [`VERIFY_CACHE_TTL`] otherwise.
    cache_ttl_ms: std::sync::atomic::AtomicU64,
    /// Dropped with the authenticator, which ends its revocation follower.
    alive: tokio::sync::watch::Sender<()>,
    accounts: Accounts,
    settings: SessionSettings,
    tokens: TokenSettings,
    throttle: ThrottleSettings,
    client_secrets: Sealer,
    activity: mpsc::Sender<Activity>,
}

impl Authenticator {
    /// Must be called inside a Tokio runtime: it starts the task that writes coalesced
    /// activity updates once a second.
    pub fn new(
        accounts: Accounts,
        settings: SessionSettings,
        tokens: TokenSettings,
        throttle: ThrottleSettings,
        keys: &Keys,
    ) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(write_activity(Arc::clone(accounts.store()), rx));
        Self {
            inner: Arc::new(Inner {
                cache: std::sync::Mutex::new(HashMap::new()),
                flights: std::sync::Mutex::new(HashMap::new()),
                credential_reads: std::sync::atomic::AtomicU64::new(0),
                cache_generation: std::sync::atomic::AtomicU64::new(0),
                cache_ttl_ms: std::sync::atomic::AtomicU64::new(VERIFY_CACHE_TTL.as_millis() as u64),
                alive: tokio::sync::watch::channel(()).0,
                accounts,
                settings,
                tokens,
                throttle,
                client_secrets: keys.sealer("tessera client secret v1"),
                activity: tx,
            }),
        }
    }

    /// How many times a token or cookie was verified from the store rather than from
    /// memory, since start.
    pub fn credential_reads(&self) -> u64 {
        self.inner
            .credential_reads
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Store reads for credentials in progress (each possibly awaited by many requests).
    pub fn pending_credential_reads(&self) -> usize {
        self.inner
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// The accounts that passwords are checked against and administration goes through.
    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    /// The timeouts of password sessions.
    pub fn settings(&self) -> SessionSettings {
        self.inner.settings
    }

    /// The lifetimes of long-lived credentials and of what they mint.
    pub fn token_settings(&self) -> TokenSettings {
        self.inner.tokens
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.inner.accounts.store()
    }

    /// Checks a login and password under throttling, without opening a session (HTTP
    /// Basic on gateway rules).
    pub async fn check_password(
        &self,
        login: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<std::result::Result<User, AuthFailure>> {
        Ok(
            match self.check_password_only(login, password, client).await? {
                Ok((user, clear)) => {
                    if let Some(subject) = clear {
                        self.clear_failures(Scope::Account, &subject).await;
                    }
                    Ok(user)
                }
                Err(e) => Err(e),
            },
        )
    }

    /// [`Self::check_password`], leaving to the caller the clearing of the account's
    /// failure count after a success: the throttle subject to clear comes with the user.
    async fn check_password_only(
        &self,
        login: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<std::result::Result<(User, Option<String>), AuthFailure>> {
        let subject = Login::key_of(login);
        let ip = client.ip.as_deref();
        let event = || {
            let e = AuditEvent::new("login", "failure")
                .attempted_login(login)
                .client(ip, client.user_agent.as_deref());
            match &client.method {
                Some(m) => e.method(m),
                None => e,
            }
        };
        if let Some(r) = self.admit(Scope::Account, &subject, ip).await? {
            let mut e = event();
            e.outcome = "throttled".into();
            self.audit(e.detail(format!("retry_after={r}"))).await;
            return Ok(Err(AuthFailure::Throttled(r)));
        }
        match self.inner.accounts.authenticate(login, password).await? {
            Some(user) => Ok(Ok((user, self.to_clear(&subject)))),
            None => {
                self.failed(ip).await;
                self.audit(event()).await;
                Ok(Err(AuthFailure::Invalid))
            }
        }
    }

    async fn audit(&self, e: AuditEvent) {
        self.inner.accounts.record_audit(e).await;
    }

    /// Checks a login and password and opens a password session. Unknown login, wrong
    /// password and disabled account are all `Failed`, after the same hashing work.
    pub async fn login(
        &self,
        login: &str,
        password: &Password,
        client: ClientInfo,
    ) -> Result<LoginOutcome> {
        let (user, clear) = match self.check_password_only(login, password, &client).await? {
            Ok(found) => found,
            Err(AuthFailure::Throttled(r)) => return Ok(LoginOutcome::Throttled(r)),
            Err(_) => return Ok(LoginOutcome::Failed),
        };
        let mut event = AuditEvent::new("login", "success")
            .user(&user)
            .client(client.ip.as_deref(), client.user_agent.as_deref());
        event.method = client.method.clone();
        let s = self.inner.settings;
        let (session, token, user) = new_session(NewSession {
            user,
            kind: SessionKind::Password,
            api_key_id: None,
            scopes: None,
            lifetime: s.absolute_timeout,
            idle: Some(s.idle_timeout),
            client,
        });
        let event = event.detail(format!("session={}", session.id));
        // The failure count cleared, the session and its audit record: one transaction,
        // so a login costs the hash and one commit, and never half happens.
        self.store()
            .complete_login(
                clear.as_deref().map(|subject| (Scope::Account, subject)),
                &session,
                &token.digest(),
                &event,
            )
            .await?;
        self.inner.accounts.announce_audit(&event);
        let identity = self.identity_of(user, session).await?;
        Ok(LoginOutcome::Success(Box::new(identity), token))
    }

    async fn open_session(&self, new: NewSession) -> Result<(Identity, Token)> {
        let (session, token, user) = new_session(new);
        self.store()
            .create_session(&session, &token.digest())
            .await?;
        Ok((self.identity_of(user, session).await?, token))
    }

    /// The identity of a session just opened for `user`.
    async fn identity_of(&self, user: User, session: Session) -> Result<Identity> {
        let permissions = self.store().permissions_of(user.id).await?;
        Ok(Identity {
            user,
            permissions,
            session,
        })
    }

    /// Authenticates a presented bearer token (or the token inside a session cookie).
    /// Malformed tokens, and kinds that are not bearer tokens (API secrets, client
    /// secrets), are refused before any database access.
    pub async fn verify_token(
        &self,
        presented: &str,
    ) -> std::result::Result<Arc<Identity>, AuthFailure> {
        let parsed = token::parse(presented).map_err(|_| AuthFailure::Invalid)?;
        if let Some(identity) = self.cached_identity(&parsed.digest) {
            const HITS: &str = "tessera_verification_cache_hits_total";
            crate::meter::increment(&[HITS], || metrics::counter!(HITS));
            return identity;
        }
        const MISSES: &str = "tessera_verification_cache_misses_total";
        crate::meter::increment(&[MISSES], || metrics::counter!(MISSES));
        let generation = self
            .inner
            .cache_generation
            .load(std::sync::atomic::Ordering::Acquire);
        let key = (parsed.digest, generation);
        // Leaves the map when the read is done, or when its last waiter gives up (a client
        // that disconnects mid-read must not leave an entry behind).
        let flight = FlightGuard {
            flights: &self.inner.flights,
            key,
            flight: Arc::clone(
                self.inner
                    .flights
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .entry(key)
                    .or_default(),
            ),
        };
        let mut own_error = None;
        let slot = &mut own_error;
        let parsed = &parsed;
        let outcome = flight
            .flight
            .get_or_init(|| async move {
                // The entry's age counts from before the store was read.
                let read_at = std::time::Instant::now();
                match self.resolve(parsed, true).await {
                    Ok(identity) => {
                        let identity = Arc::new(identity);
                        self.remember(parsed.digest, &identity, generation, read_at);
                        Flight::Found(identity)
                    }
                    Err(AuthFailure::Invalid) => Flight::Invalid,
                    Err(AuthFailure::Expired) => Flight::Expired,
                    Err(e) => {
                        *slot = Some(e);
                        Flight::Failed
                    }
                }
            })
            .await;
        match outcome {
            Flight::Found(identity) => Ok(Arc::clone(identity)),
            Flight::Invalid => Err(AuthFailure::Invalid),
            Flight::Expired => Err(AuthFailure::Expired),
            Flight::Failed => match own_error {
                Some(e) => Err(e),
                None => self.resolve(parsed, true).await.map(Arc::new),
            },
        }
    }

    async fn resolve(
        &self,
        parsed: &ParsedToken,
        record: bool,
    ) -> std::result::Result<Identity, AuthFailure> {
        self.inner
            .credential_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let now = Timestamp::now();
        match parsed.kind {
            TokenKind::PersonalAccess => {
                let Some((pat, user)) = self.store().pat_by_secret(&parsed.digest).await? else {
                    return Err(AuthFailure::Invalid);
                };
                if user.disabled {
                    return Err(AuthFailure::Invalid);
                }
                if now >= pat.expires_at {
                    return Err(AuthFailure::Expired);
                }
                let stale = pat.last_used_at.is_none_or(|t| now.unix() - t.unix() >= 60);
                if record
                    && stale
                    && self
                        .inner
                        .activity
                        .try_send(Activity::Pat(pat.id.clone(), now))
                        .is_err()
                {
                    tracing::warn!("activity queue full; a token's last use was not recorded");
                }
                let permissions = self.store().permissions_of(user.id).await?;
                Ok(Identity {
                    session: pat_as_session(&pat),
                    user,
                    permissions,
                })
            }
            TokenKind::Session | TokenKind::ApiKeySession | TokenKind::AccessToken => {
                let Some(found) = self.store().session_by_secret(&parsed.digest).await? else {
                    return Err(AuthFailure::Invalid);
                };
                if parsed.kind != found.session.kind.token_kind() || found.user.disabled {
                    return Err(AuthFailure::Invalid);
                }
                let mut session = found.session;
                if session.is_expired(now) {
                    return Err(AuthFailure::Expired);
                }
                if record {
                    self.record_activity(&mut session, now);
                }
                let permissions = self.store().permissions_of(found.user.id).await?;
                Ok(Identity {
                    user: found.user,
                    permissions,
                    session,
                })
            }
            TokenKind::ApiSecret | TokenKind::ClientSecret | TokenKind::Invitation => {
                Err(AuthFailure::Invalid)
            }
        }
    }

    /// Ends the credential behind `identity`: its session (cookie and token alike), or the
    /// personal access token itself.
    pub async fn end_session(&self, identity: &Identity) -> Result<bool> {
        let now = Timestamp::now();
        let s = &identity.session;
        let store = self.store();
        let revocation = async {
            match s.kind {
                SessionKind::PersonalAccess => store.revoke_pat(identity.user.id, &s.id, now).await,
                _ => store.revoke_session(identity.user.id, &s.id, now).await,
            }
        };
        let event = AuditEvent::new("logout", "success")
            .user(&identity.user)
            .detail(format!("{}={}", s.kind.as_str(), s.id));
        self.revoke(revocation, event).await
    }

    /// The caller's unrevoked, unexpired sessions, newest first.
    pub async fn list_sessions(&self, identity: &Identity) -> Result<Vec<Session>> {
        Ok(self
            .store()
            .list_sessions(identity.user.id, Timestamp::now())
            .await?)
    }

    /// Ends one of the caller's sessions; `false` if there is no such session of theirs.
    pub async fn revoke_session(&self, identity: &Identity, id: &str) -> Result<bool> {
        let event = AuditEvent::new("session_revoked", "success")
            .user(&identity.user)
            .detail(format!("session={id}"));
        self.revoke(
            self.store()
                .revoke_session(identity.user.id, id, Timestamp::now()),
            event,
        )
        .await
    }

    /// Ends all of the caller's sessions but the current one; returns how many.
    pub async fn revoke_other_sessions(&self, identity: &Identity) -> Result<u64> {
        self.forget_cached();
        let keep = Some(identity.session.id.as_str());
        let n = self
            .store()
            .revoke_sessions(identity.user.id, keep, Timestamp::now())
            .await?;
        self.forget_cached();
        self.audit(
            AuditEvent::new("sessions_revoked", "success")
                .user(&identity.user)
                .detail(format!("count={n}")),
        )
        .await;
        Ok(n)
    }

    /// Replaces the caller's names, language and e-mail address
    /// ([`Accounts::update_profile`]); verifications answered from now on see them.
    pub async fn update_profile(
        &self,
        user: &crate::user::User,
        profile: crate::user::Profile,
    ) -> Result<crate::user::User> {
        let updated = self.accounts().update_profile(user, profile).await?;
        self.forget_cached();
        Ok(updated)
    }

    /// Sets a new password ([`Accounts::set_password`]), which ends every session of the
    /// user, with effect on this instance at once.
    pub async fn change_password(&self, user: &crate::user::User, new: &Password) -> Result<()> {
        self.forget_cached();
        self.accounts()
            .set_password(user.login.as_str(), new)
            .await?;
        self.forget_cached();
        Ok(())
    }

    /// The identity behind a token for introspection, without recording activity.
    pub async fn introspect(&self, presented: &str) -> std::result::Result<Identity, AuthFailure> {
        let parsed = token::parse(presented).map_err(|_| AuthFailure::Invalid)?;
        self.resolve(&parsed, false).await
    }
}
