//! The `Authenticator`: turns a presented secret into an [`Identity`], opens and ends
//! sessions, mints and revokes long-lived credentials, and records activity without
//! writing on the request path.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::accounts::Accounts;
use crate::audit::{self, AuditEvent};
use crate::credential::{ApiKey, PersonalToken, StoredClientSecret, new_public_id};
use crate::error::{Error, Result, StoreError};
use crate::keys::{Sealer, SecretKey};
use crate::password::Password;
use crate::permission::{Permission, PermissionSet};
use crate::secret::constant_time_eq;
use crate::session::{ClientInfo, Session, SessionKind, new_session_id};
use crate::store::{Store, Touch};
use crate::throttle::{Attempt, Scope, ThrottleSettings};
use crate::time::Timestamp;
use crate::token::{self, Token, TokenKind};
use crate::user::{Login, User};

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

/// Lifetimes of the long-lived credentials and what they mint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSettings {
    pub api_key_session_lifetime: Duration,
    pub pat_default_lifetime: Duration,
    pub pat_max_lifetime: Duration,
    pub client_secret_lifetime: Duration,
    pub access_token_default_lifetime: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            api_key_session_lifetime: Duration::from_secs(30 * 60),
            pat_default_lifetime: Duration::from_secs(86_400),
            pat_max_lifetime: Duration::from_secs(365 * 86_400),
            client_secret_lifetime: Duration::from_secs(90 * 86_400),
            access_token_default_lifetime: Duration::from_secs(3600),
        }
    }
}

/// Shortest and longest OAuth2 access token a client may ask for.
pub const ACCESS_TOKEN_MIN: Duration = Duration::from_secs(60);
pub const ACCESS_TOKEN_MAX: Duration = Duration::from_secs(365 * 86_400);

/// Who a request comes from and what it may do.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    /// The user's permissions through its roles, read on every verification.
    pub permissions: PermissionSet,
    /// The credential: a session, or a personal access token described as one
    /// (kind [`SessionKind::PersonalAccess`]).
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

    /// The permissions in effect, as shown to clients (`scope` of OAuth2 answers).
    pub fn effective_scope(&self) -> String {
        self.effective_permissions().join(" ")
    }

    /// The user's current permissions intersected with the credential's scopes: a scope
    /// the user still covers, or the user's narrower permissions inside a scope.
    pub fn effective_permissions(&self) -> Vec<String> {
        let mine = || self.permissions.iter().map(|p| p.as_str().to_owned());
        let Some(scopes) = &self.session.scopes else {
            return mine().collect();
        };
        let mut out: Vec<String> = Vec::new();
        for s in scopes.iter().filter_map(|s| Permission::parse(s).ok()) {
            if self.permissions.covers(&s) {
                out.push(s.as_str().to_owned());
            } else {
                out.extend(
                    self.permissions
                        .iter()
                        .filter(|p| s.covers(p))
                        .map(|p| p.as_str().to_owned()),
                );
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The outcome of a login attempt.
#[derive(Debug)]
pub enum LoginOutcome {
    Success(Box<Identity>, Token),
    /// Unknown login, wrong password or secret, disabled account: all alike.
    Failed,
    /// Too many recent failures for this account, key or address: retry after so many
    /// seconds. The password was not checked.
    Throttled(u64),
}

/// Why a presented credential does not authenticate.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("too many failed attempts")]
    Throttled(u64),
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

/// The account's client secret, decrypted for its owner.
#[derive(Clone)]
pub struct ClientSecret {
    pub secret: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSecret")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

enum Activity {
    Session(Touch),
    Pat(String, Timestamp),
}

#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

/// How long a verified credential may be served from memory. Revocations made through
/// this instance clear the cache at once; made elsewhere (another instance, the CLI),
/// they take effect within this time, as the README promises.
pub const VERIFY_CACHE_TTL: Duration = Duration::from_secs(1);
const VERIFY_CACHE_MAX: usize = 100_000;

struct CachedIdentity {
    at: std::time::Instant,
    /// Shared with the requests it answered: a hit is a reference count, and the entry
    /// is copied only when its activity fields change (at most once a second).
    identity: Arc<Identity>,
}

/// What a store read for a credential found, shared with the requests that waited for it.
enum Flight {
    Found(Arc<Identity>),
    Invalid,
    Expired,
    /// The reader's own error is its own; the others read again.
    Failed,
}

type Flights = HashMap<([u8; 32], u64), Arc<tokio::sync::OnceCell<Flight>>>;

struct FlightGuard<'a> {
    flights: &'a std::sync::Mutex<Flights>,
    key: ([u8; 32], u64),
    flight: Arc<tokio::sync::OnceCell<Flight>>,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        let mut flights = self
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Held by the map and by this guard only: nobody else waits for it (each waiter
        // holds it through its own guard).
        let last = Arc::strong_count(&self.flight) <= 2;
        if (self.flight.initialized() || last)
            && flights
                .get(&self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
        {
            flights.remove(&self.key);
        }
    }
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
        key: &SecretKey,
    ) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(write_activity(Arc::clone(accounts.store()), rx));
        Self {
            inner: Arc::new(Inner {
                cache: std::sync::Mutex::new(HashMap::new()),
                flights: std::sync::Mutex::new(HashMap::new()),
                credential_reads: std::sync::atomic::AtomicU64::new(0),
                cache_generation: std::sync::atomic::AtomicU64::new(0),
                accounts,
                settings,
                tokens,
                throttle,
                client_secrets: key.sealer("tessera client secret v1"),
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

    pub fn accounts(&self) -> &Accounts {
        &self.inner.accounts
    }

    pub fn settings(&self) -> SessionSettings {
        self.inner.settings
    }

    pub fn token_settings(&self) -> TokenSettings {
        self.inner.tokens
    }

    fn store(&self) -> &Arc<dyn Store> {
        self.inner.accounts.store()
    }

    /// Counts an attempt for the client address and the subject before any secret is
    /// checked. `Some(seconds)` when either is throttled.
    async fn admit(&self, scope: Scope, subject: &str, ip: Option<&str>) -> Result<Option<u64>> {
        let t = self.inner.throttle;
        let subject = &crate::throttle::subject(subject);
        if !t.enabled {
            return Ok(None);
        }
        if let Some(r) = self.admit_address(ip).await? {
            return Ok(Some(r));
        }
        let now = Timestamp::now();
        // The account is counted before its secret is checked, atomically, so concurrent
        // guesses cannot exceed the limit.
        let a: Attempt = self
            .store()
            .register_attempt(scope, subject, &t.account, now)
            .await?;
        if let Some(r) = a.retry_after(now) {
            tracing::warn!(
                scope = scope.as_str(),
                retry_after = r,
                "login attempts throttled"
            );
            return Ok(Some(r));
        }
        Ok(None)
    }

    /// Checks the client address only. Machine secrets (API secrets, client secrets) carry
    /// 190 random bits, so guessing one needs no per-account limit; counting failures per
    /// key or client would only let anyone who knows a key id or login lock its real
    /// client out. Failures are counted against the address ([`Self::failed`]).
    async fn admit_address(&self, ip: Option<&str>) -> Result<Option<u64>> {
        if !self.inner.throttle.enabled {
            return Ok(None);
        }
        let now = Timestamp::now();
        // The address is only checked here and counted on failure: a busy address with
        // good credentials (a NAT, a gateway client using Basic) is never locked out.
        if let Some(ip) = ip
            && let Some(until) = self.store().locked_until(Scope::Ip, ip, now).await?
        {
            let r = Attempt::Throttled { until }.retry_after(now).unwrap_or(1);
            tracing::warn!(scope = "ip", subject = %ip, retry_after = r, "login attempts throttled");
            return Ok(Some(r));
        }
        Ok(None)
    }

    /// Counts a failed attempt against the client address.
    async fn failed(&self, ip: Option<&str>) {
        let t = self.inner.throttle;
        if let (true, Some(ip)) = (t.enabled, ip)
            && let Err(e) = self
                .store()
                .register_attempt(Scope::Ip, ip, &t.ip, Timestamp::now())
                .await
        {
            tracing::warn!(error = %e, "could not count a failed attempt");
        }
    }

    async fn succeeded(&self, scope: Scope, subject: &str) {
        let subject = &crate::throttle::subject(subject);
        if self.inner.throttle.enabled
            && let Err(e) = self.store().clear_attempts(scope, subject).await
        {
            tracing::warn!(error = %e, "could not reset a failure counter");
        }
    }

    /// Checks a login and password under throttling, without opening a session (HTTP
    /// Basic on gateway rules).
    pub async fn check_password(
        &self,
        login: &str,
        password: &Password,
        client: &ClientInfo,
    ) -> Result<std::result::Result<User, AuthFailure>> {
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
            Some(user) => {
                self.succeeded(Scope::Account, &subject).await;
                Ok(Ok(user))
            }
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
        let user = match self.check_password(login, password, &client).await? {
            Ok(user) => user,
            Err(AuthFailure::Throttled(r)) => return Ok(LoginOutcome::Throttled(r)),
            Err(_) => return Ok(LoginOutcome::Failed),
        };
        let mut event = AuditEvent::new("login", "success")
            .user(&user)
            .client(client.ip.as_deref(), client.user_agent.as_deref());
        event.method = client.method.clone();
        let s = self.inner.settings;
        let (identity, token) = self
            .open_session(
                user,
                SessionKind::Password,
                None,
                None,
                s.absolute_timeout,
                Some(s.idle_timeout),
                client,
            )
            .await?;
        self.audit(event.detail(format!("session={}", identity.session.id)))
            .await;
        Ok(LoginOutcome::Success(Box::new(identity), token))
    }

    #[allow(clippy::too_many_arguments)]
    async fn open_session(
        &self,
        user: User,
        kind: SessionKind,
        api_key_id: Option<String>,
        scopes: Option<Vec<String>>,
        lifetime: Duration,
        idle: Option<Duration>,
        client: ClientInfo,
    ) -> Result<(Identity, Token)> {
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
        let token_kind = match kind {
            SessionKind::Password => TokenKind::Session,
            SessionKind::ApiKey => TokenKind::ApiKeySession,
            SessionKind::AccessToken | SessionKind::PersonalAccess => TokenKind::AccessToken,
        };
        let token = Token::generate(token_kind);
        self.store()
            .create_session(&session, &token.digest())
            .await?;
        let permissions = self.store().permissions_of(user.id).await?;
        Ok((
            Identity {
                user,
                permissions,
                session,
            },
            token,
        ))
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
            return identity;
        }
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
        let outcome = flight
            .flight
            .get_or_init(|| async move {
                // The entry's age counts from before the store was read.
                let read_at = std::time::Instant::now();
                match self.resolve(presented, true).await {
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
                None => self.resolve(presented, true).await.map(Arc::new),
            },
        }
    }

    /// A cached identity younger than [`VERIFY_CACHE_TTL`], with expiry re-checked and
    /// activity recorded as on a database read.
    fn cached_identity(
        &self,
        digest: &[u8; 32],
    ) -> Option<std::result::Result<Arc<Identity>, AuthFailure>> {
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = cache.get_mut(digest)?;
        if entry.at.elapsed() >= VERIFY_CACHE_TTL {
            cache.remove(digest);
            return None;
        }
        let now = Timestamp::now();
        let session = &entry.identity.session;
        if session.is_expired(now) {
            return Some(Err(AuthFailure::Expired));
        }
        if session.kind == SessionKind::PersonalAccess {
            if now.unix() - session.last_seen_at.unix() >= 60 {
                let session = &mut Arc::make_mut(&mut entry.identity).session;
                session.last_seen_at = now;
                let _ = self
                    .inner
                    .activity
                    .try_send(Activity::Pat(session.id.clone(), now));
            }
        } else if self.activity_due(session, now) {
            self.record_activity(&mut Arc::make_mut(&mut entry.identity).session, now);
        }
        Some(Ok(Arc::clone(&entry.identity)))
    }

    fn remember(
        &self,
        digest: [u8; 32],
        identity: &Arc<Identity>,
        generation: u64,
        read_at: std::time::Instant,
    ) {
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self
            .inner
            .cache_generation
            .load(std::sync::atomic::Ordering::Acquire)
            != generation
        {
            return;
        }
        if cache.len() >= VERIFY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(
            digest,
            CachedIdentity {
                at: read_at,
                identity: Arc::clone(identity),
            },
        );
    }

    /// Forgets every cached verification: called on every revocation made here, so that
    /// it takes effect on this instance at once.
    fn forget_cached(&self) {
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.inner
            .cache_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        cache.clear();
        // Reads of the old generation finish for those already waiting; nobody new joins.
        self.inner
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    async fn resolve(
        &self,
        presented: &str,
        record: bool,
    ) -> std::result::Result<Identity, AuthFailure> {
        self.inner
            .credential_reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let parsed = token::parse(presented).map_err(|_| AuthFailure::Invalid)?;
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
                let expected = match found.session.kind {
                    SessionKind::Password => TokenKind::Session,
                    SessionKind::ApiKey => TokenKind::ApiKeySession,
                    SessionKind::AccessToken | SessionKind::PersonalAccess => {
                        TokenKind::AccessToken
                    }
                };
                if parsed.kind != expected || found.user.disabled {
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
            TokenKind::ApiSecret | TokenKind::ClientSecret => Err(AuthFailure::Invalid),
        }
    }

    /// Whether [`Self::record_activity`] would change `session` at `now`.
    fn activity_due(&self, session: &Session, now: Timestamp) -> bool {
        session.idle_expires_at.is_some_and(|idle| {
            idle != session.idle_expiry_after(now, self.inner.settings.idle_timeout)
                || now.unix() - session.last_seen_at.unix()
                    >= self.inner.settings.touch_interval().as_secs() as i64
        })
    }

    /// Slides the idle expiry; writes it (later, batched) only when it is stale enough.
    fn record_activity(&self, session: &mut Session, now: Timestamp) {
        if session.idle_expires_at.is_none() {
            return;
        }
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
            if self
                .inner
                .activity
                .try_send(Activity::Session(touch))
                .is_err()
            {
                tracing::warn!("activity queue full; an idle-timeout update was dropped");
            }
        }
    }

    /// Ends the credential behind `identity`: its session (cookie and token alike), or the
    /// personal access token itself.
    pub async fn end_session(&self, identity: &Identity) -> Result<bool> {
        let now = Timestamp::now();
        let s = &identity.session;
        self.forget_cached();
        let ended = match s.kind {
            SessionKind::PersonalAccess => {
                self.store()
                    .revoke_pat(identity.user.id, &s.id, now)
                    .await?
            }
            _ => {
                self.store()
                    .revoke_session(identity.user.id, &s.id, now)
                    .await?
            }
        };
        self.forget_cached();
        if ended {
            let e = AuditEvent::new("logout", "success").user(&identity.user);
            self.audit(e.detail(format!("{}={}", s.kind.as_str(), s.id)))
                .await;
        }
        Ok(ended)
    }

    pub async fn list_sessions(&self, identity: &Identity) -> Result<Vec<Session>> {
        Ok(self
            .store()
            .list_sessions(identity.user.id, Timestamp::now())
            .await?)
    }

    /// Ends one of the caller's sessions; `false` if there is no such session of theirs.
    pub async fn revoke_session(&self, identity: &Identity, id: &str) -> Result<bool> {
        self.forget_cached();
        let done = self
            .store()
            .revoke_session(identity.user.id, id, Timestamp::now())
            .await?;
        self.forget_cached();
        if done {
            self.audit(
                AuditEvent::new("session_revoked", "success")
                    .user(&identity.user)
                    .detail(format!("session={id}")),
            )
            .await;
        }
        Ok(done)
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

    /// Validates requested scopes: each must be a permission the owner holds now.
    /// `None` (no scopes asked) means the owner's full permissions.
    pub fn check_scopes(
        &self,
        owner: &PermissionSet,
        requested: Option<Vec<String>>,
    ) -> Result<Option<Vec<String>>> {
        let Some(requested) = requested else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(requested.len());
        for raw in requested {
            let p = Permission::parse(&raw)?;
            if !owner.covers(&p) {
                return Err(Error::ScopeNotHeld(raw));
            }
            if !out.contains(&raw) {
                out.push(raw);
            }
        }
        Ok(Some(out))
    }

    fn check_name(name: &str) -> Result<()> {
        if name.trim().is_empty()
            || name.chars().count() > 100
            || name.chars().any(char::is_control)
        {
            return Err(Error::Invalid {
                field: "name",
                reason: "use 1 to 100 printable characters",
            });
        }
        Ok(())
    }

    /// Mints a personal access token for the caller. The value is returned once.
    pub async fn create_pat(
        &self,
        owner: &User,
        permissions: &PermissionSet,
        name: &str,
        scopes: Option<Vec<String>>,
        lifetime: Option<Duration>,
    ) -> Result<(PersonalToken, Token)> {
        Self::check_name(name)?;
        let scopes = self.check_scopes(permissions, scopes)?;
        let t = self.inner.tokens;
        let lifetime = lifetime.unwrap_or(t.pat_default_lifetime);
        if lifetime.is_zero() || lifetime > t.pat_max_lifetime {
            return Err(Error::Invalid {
                field: "expires_in",
                reason: "must be positive and at most tokens.pat_max_lifetime",
            });
        }
        let now = Timestamp::now();
        let pat = PersonalToken {
            id: new_public_id("pat_"),
            user_id: owner.id,
            name: name.trim().to_owned(),
            scopes,
            created_at: now,
            expires_at: now.plus(lifetime),
            last_used_at: None,
        };
        let token = Token::generate(TokenKind::PersonalAccess);
        self.store().create_pat(&pat, &token.digest()).await?;
        self.audit(
            AuditEvent::new("token_created", "success")
                .user(owner)
                .detail(format!("token={}", pat.id)),
        )
        .await;
        Ok((pat, token))
    }

    pub async fn list_pats(&self, owner: &User) -> Result<Vec<PersonalToken>> {
        Ok(self.store().list_pats(owner.id).await?)
    }

    pub async fn revoke_pat(&self, owner: &User, id: &str) -> Result<bool> {
        self.forget_cached();
        let done = self
            .store()
            .revoke_pat(owner.id, id, Timestamp::now())
            .await?;
        self.forget_cached();
        if done {
            self.audit(
                AuditEvent::new("token_revoked", "success")
                    .user(owner)
                    .detail(format!("token={id}")),
            )
            .await;
        }
        Ok(done)
    }

    /// Revokes a token and issues a new one with the same name, scopes and lifetime.
    pub async fn regenerate_pat(
        &self,
        owner: &User,
        id: &str,
    ) -> Result<Option<(PersonalToken, Token)>> {
        let Some(old) = self
            .store()
            .list_pats(owner.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
        else {
            return Ok(None);
        };
        let lifetime = Duration::from_secs(
            u64::try_from(old.expires_at.unix() - old.created_at.unix()).unwrap_or(0),
        )
        .min(self.inner.tokens.pat_max_lifetime)
        .max(Duration::from_secs(1));
        let now = Timestamp::now();
        let new = PersonalToken {
            id: new_public_id("pat_"),
            created_at: now,
            expires_at: now.plus(lifetime),
            last_used_at: None,
            ..old
        };
        self.forget_cached();
        let token = Token::generate(TokenKind::PersonalAccess);
        if !self
            .store()
            .replace_pat(owner.id, id, &new, &token.digest(), now)
            .await?
        {
            return Ok(None);
        }
        self.forget_cached();
        let detail = format!("token={id} new={}", new.id);
        self.audit(
            AuditEvent::new("token_regenerated", "success")
                .user(owner)
                .detail(detail),
        )
        .await;
        Ok(Some((new, token)))
    }

    /// Creates an API key/secret pair; the secret is returned once.
    pub async fn create_api_key(
        &self,
        owner: &User,
        permissions: &PermissionSet,
        name: &str,
        scopes: Option<Vec<String>>,
    ) -> Result<(ApiKey, Token)> {
        Self::check_name(name)?;
        let scopes = self.check_scopes(permissions, scopes)?;
        let key = ApiKey {
            id: new_public_id("key_"),
            user_id: owner.id,
            name: name.trim().to_owned(),
            scopes,
            created_at: Timestamp::now(),
            last_used_at: None,
        };
        let secret = Token::generate(TokenKind::ApiSecret);
        self.store().create_api_key(&key, &secret.digest()).await?;
        self.audit(
            AuditEvent::new("api_key_created", "success")
                .user(owner)
                .detail(format!("key={}", key.id)),
        )
        .await;
        Ok((key, secret))
    }

    pub async fn list_api_keys(&self, owner: &User) -> Result<Vec<ApiKey>> {
        Ok(self.store().list_api_keys(owner.id).await?)
    }

    /// Deletes a key and ends every session opened with it.
    pub async fn delete_api_key(&self, owner: &User, id: &str) -> Result<bool> {
        self.forget_cached();
        let done = self
            .store()
            .delete_api_key(owner.id, id, Timestamp::now())
            .await?;
        self.forget_cached();
        if done {
            self.audit(
                AuditEvent::new("api_key_deleted", "success")
                    .user(owner)
                    .detail(format!("key={id}")),
            )
            .await;
        }
        Ok(done)
    }

    /// Exchanges an API key and secret for an API-key session token
    /// (`tokens.api_key_session_lifetime`). `None` for any mismatch, alike.
    pub async fn login_with_api_key(
        &self,
        key_id: &str,
        secret: &str,
        client: ClientInfo,
    ) -> Result<LoginOutcome> {
        if key_id.is_empty() || key_id.len() > 64 {
            return Ok(LoginOutcome::Failed);
        }
        let event = |outcome: &str| {
            AuditEvent::new("login", outcome)
                .method("key")
                .client(client.ip.as_deref(), client.user_agent.as_deref())
                .detail(format!(
                    "key={}",
                    audit::loggable(
                        key_id,
                        key_id.starts_with("key_")
                            && key_id.len() <= 40
                            && key_id
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
                    )
                ))
        };
        if let Some(r) = self.admit_address(client.ip.as_deref()).await? {
            self.audit(event("throttled")).await;
            return Ok(LoginOutcome::Throttled(r));
        }
        let parsed = token::parse(secret)
            .ok()
            .filter(|p| p.kind == TokenKind::ApiSecret);
        let record = self.store().api_key(key_id).await?;
        let ok = matches!((&parsed, &record), (Some(p), Some(r))
            if constant_time_eq(&r.secret_digest, &p.digest) && !r.user.disabled);
        let (true, Some(record)) = (ok, record) else {
            self.failed(client.ip.as_deref()).await;
            self.audit(event("failure")).await;
            return Ok(LoginOutcome::Failed);
        };
        self.audit(event("success").user(&record.user)).await;
        let lifetime = self.inner.tokens.api_key_session_lifetime;
        let key_id = record.key.id.clone();
        let scopes = record.key.scopes.clone();
        let (identity, token) = self
            .open_session(
                record.user,
                SessionKind::ApiKey,
                Some(key_id),
                scopes,
                lifetime,
                None,
                client,
            )
            .await?;
        Ok(LoginOutcome::Success(Box::new(identity), token))
    }

    /// The user's client secret, generated when it has none or the old one expired.
    pub async fn client_secret(&self, user: &User) -> Result<ClientSecret> {
        if let Some(stored) = self.store().client_secret(user.id).await?
            && Timestamp::now() < stored.expires_at
        {
            let plain = self
                .inner
                .client_secrets
                .open(&stored.ciphertext, &user.id.0.to_be_bytes())
                .ok_or_else(|| {
                    Error::Internal(
                        "a client secret does not decrypt with the current server key".into(),
                    )
                })?;
            let secret = String::from_utf8(plain)
                .map_err(|_| Error::Internal("client secret is not UTF-8".into()))?;
            return Ok(ClientSecret {
                secret,
                created_at: stored.created_at,
                expires_at: stored.expires_at,
            });
        }
        self.rotate_client_secret(user).await
    }

    /// Replaces the user's client secret. Access tokens already issued keep their lifetime.
    pub async fn rotate_client_secret(&self, user: &User) -> Result<ClientSecret> {
        let token = Token::generate(TokenKind::ClientSecret);
        let now = Timestamp::now();
        let stored = StoredClientSecret {
            user_id: user.id,
            ciphertext: self
                .inner
                .client_secrets
                .seal(token.expose().as_bytes(), &user.id.0.to_be_bytes()),
            created_at: now,
            expires_at: now.plus(self.inner.tokens.client_secret_lifetime),
        };
        self.store()
            .set_client_secret(&stored, &token.digest())
            .await?;
        self.audit(AuditEvent::new("client_secret_rotated", "success").user(user))
            .await;
        Ok(ClientSecret {
            secret: token.expose().to_owned(),
            created_at: now,
            expires_at: stored.expires_at,
        })
    }

    /// Authenticates `Authorization: Secret <s>`: the account whose current client secret
    /// this is.
    pub async fn verify_client_secret(
        &self,
        presented: &str,
    ) -> std::result::Result<(User, PermissionSet), AuthFailure> {
        let parsed = token::parse(presented).map_err(|_| AuthFailure::Invalid)?;
        if parsed.kind != TokenKind::ClientSecret {
            return Err(AuthFailure::Invalid);
        }
        let Some((user, expires_at)) = self.store().client_secret_owner(&parsed.digest).await?
        else {
            return Err(AuthFailure::Invalid);
        };
        if user.disabled {
            return Err(AuthFailure::Invalid);
        }
        if Timestamp::now() >= expires_at {
            return Err(AuthFailure::Expired);
        }
        let permissions = self.store().permissions_of(user.id).await?;
        Ok((user, permissions))
    }

    /// OAuth2 client authentication (RFC 6749 §2.3.1): client id = login, client secret.
    pub async fn authenticate_client(
        &self,
        client_id: &str,
        secret: &str,
        ip: Option<&str>,
    ) -> std::result::Result<(User, PermissionSet), AuthFailure> {
        let subject = Login::key_of(client_id);
        match self.admit_address(ip).await {
            Ok(Some(r)) => {
                let e = AuditEvent::new("login", "throttled")
                    .attempted_login(client_id)
                    .method("client_credentials");
                self.audit(e.client(ip, None)).await;
                return Err(AuthFailure::Throttled(r));
            }
            Ok(None) => {}
            Err(Error::Store(e)) => return Err(AuthFailure::Unavailable(e)),
            Err(e) => {
                return Err(AuthFailure::Unavailable(StoreError::Unavailable(
                    e.to_string(),
                )));
            }
        }
        let verified = self.verify_client_secret(secret).await;
        let (user, permissions) = match verified {
            Ok(found) if subject == Login::key_of(&found.0.login) => found,
            Err(AuthFailure::Unavailable(e)) => return Err(AuthFailure::Unavailable(e)),
            _ => {
                self.failed(ip).await;
                let e = AuditEvent::new("login", "failure")
                    .attempted_login(client_id)
                    .method("client_credentials");
                self.audit(e.client(ip, None)).await;
                return Err(AuthFailure::Invalid);
            }
        };
        Ok((user, permissions))
    }

    /// Issues an OAuth2 client-credentials access token.
    pub async fn issue_access_token(
        &self,
        user: User,
        permissions: &PermissionSet,
        scopes: Option<Vec<String>>,
        lifetime: Option<Duration>,
        client: ClientInfo,
    ) -> Result<(Identity, Token)> {
        let scopes = self.check_scopes(permissions, scopes)?;
        let lifetime = lifetime.unwrap_or(self.inner.tokens.access_token_default_lifetime);
        if !(ACCESS_TOKEN_MIN..=ACCESS_TOKEN_MAX).contains(&lifetime) {
            return Err(Error::Invalid {
                field: "expires_in",
                reason: "must be between 60 seconds and one year",
            });
        }
        let issued = self
            .open_session(
                user,
                SessionKind::AccessToken,
                None,
                scopes,
                lifetime,
                None,
                client,
            )
            .await?;
        let e = AuditEvent::new("access_token_issued", "success")
            .user(&issued.0.user)
            .method("client_credentials");
        self.audit(e.detail(format!("session={}", issued.0.session.id)))
            .await;

        Ok(issued)
    }

    /// The identity behind a token for introspection, without recording activity.
    pub async fn introspect(&self, presented: &str) -> std::result::Result<Identity, AuthFailure> {
        self.resolve(presented, false).await
    }
}

fn pat_as_session(pat: &PersonalToken) -> Session {
    Session {
        id: pat.id.clone(),
        kind: SessionKind::PersonalAccess,
        user_id: pat.user_id,
        api_key_id: None,
        scopes: pat.scopes.clone(),
        created_at: pat.created_at,
        last_seen_at: pat.last_used_at.unwrap_or(pat.created_at),
        idle_expires_at: None,
        expires_at: pat.expires_at,
        ip: None,
        user_agent: None,
    }
}

/// Drains activity updates and writes them once a second, keeping only the latest per
/// session or token.
async fn write_activity(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Activity>) {
    let mut sessions: HashMap<String, Touch> = HashMap::new();
    let mut pats: HashMap<String, Timestamp> = HashMap::new();
    let add = |a: Activity,
               sessions: &mut HashMap<String, Touch>,
               pats: &mut HashMap<String, Timestamp>| match a {
        Activity::Session(t) => {
            if sessions
                .get(&t.session_id)
                .is_none_or(|old| old.last_seen_at < t.last_seen_at)
            {
                sessions.insert(t.session_id.clone(), t);
            }
        }
        Activity::Pat(id, at) => {
            let e = pats.entry(id).or_insert(at);
            *e = (*e).max(at);
        }
    };
    loop {
        let Some(first) = rx.recv().await else { return };
        add(first, &mut sessions, &mut pats);
        tokio::time::sleep(Duration::from_secs(1)).await;
        while let Ok(a) = rx.try_recv() {
            add(a, &mut sessions, &mut pats);
        }
        let batch: Vec<Touch> = sessions.drain().map(|(_, t)| t).collect();
        if let Err(e) = store.touch_sessions(&batch).await {
            tracing::warn!(error = %e, sessions = batch.len(), "could not record session activity");
        }
        let uses: Vec<(String, Timestamp)> = pats.drain().collect();
        if let Err(e) = store.touch_pats(&uses).await {
            tracing::warn!(error = %e, tokens = uses.len(), "could not record token use");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserId;

    fn identity(perms: &[&str], scopes: Option<&[&str]>) -> Identity {
        let now = Timestamp::from_unix(0);
        Identity {
            user: User {
                id: UserId(1),
                login: "joe".into(),
                first_name: String::new(),
                last_name: String::new(),
                lang: "en".into(),
                email: None,
                disabled: false,
                roles: vec![],
                created_at: now,
                updated_at: now,
            },
            permissions: perms
                .iter()
                .map(|p| Permission::parse(p).unwrap())
                .collect(),
            session: Session {
                id: "s".into(),
                kind: SessionKind::PersonalAccess,
                user_id: UserId(1),
                api_key_id: None,
                scopes: scopes.map(|s| s.iter().map(|x| x.to_string()).collect()),
                created_at: now,
                last_seen_at: now,
                idle_expires_at: None,
                expires_at: now,
                ip: None,
                user_agent: None,
            },
        }
    }

    #[test]
    fn scopes_intersect_with_current_permissions() {
        let i = identity(
            &["orders:read", "users:*"],
            Some(&["orders:*", "users:read"]),
        );
        assert!(i.allows("orders:read"));
        assert!(
            !i.allows("orders:write"),
            "the user lacks it although the scope has it"
        );
        assert!(i.allows("users:read"));
        assert!(
            !i.allows("users:write"),
            "the scope lacks it although the user has it"
        );
        assert_eq!(i.effective_permissions(), ["orders:read", "users:read"]);
        let unscoped = identity(&["orders:read"], None);
        assert_eq!(unscoped.effective_permissions(), ["orders:read"]);
        let admin = identity(&["*"], Some(&["orders:*"]));
        assert_eq!(admin.effective_permissions(), ["orders:*"]);
    }
}
