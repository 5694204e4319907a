//! The verification cache: recently verified credentials served from memory, and single
//! flight, so that when an entry expires under load one request reads the store and the
//! others wait for its answer.
//!
//! Revocations made through this instance clear the cache at once. Those made elsewhere
//! (another instance, the CLI) arrive through the store's revocation feed
//! ([`Authenticator::follow_revocations`]), which drops the entries of the user concerned;
//! while the feed is live an entry may live [`PUSHED_VERIFY_CACHE_TTL`], and while it is
//! not (never started, or lost) only [`VERIFY_CACHE_TTL`], which then bounds how long a
//! revocation made elsewhere can go unseen.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use super::*;
use crate::store::RevocationNotice;
use crate::user::UserId;

/// How long a verified credential may be served from memory while revocations made
/// elsewhere are not pushed to this instance.
pub const VERIFY_CACHE_TTL: Duration = Duration::from_secs(1);

/// How long a verified credential may be served from memory while the store's revocation
/// feed is live: revocations then arrive within milliseconds, and the lifetime only
/// bounds how stale an entry's activity can get.
pub const PUSHED_VERIFY_CACHE_TTL: Duration = Duration::from_secs(30);
const VERIFY_CACHE_MAX: usize = 100_000;

pub(super) struct CachedIdentity {
    pub(super) at: std::time::Instant,
    /// Shared with the requests it answered: a hit is a reference count, and the entry
    /// is copied only when its activity fields change (at most once a second).
    pub(super) identity: Arc<Identity>,
}

/// What a store read for a credential found, shared with the requests that waited for it.
pub(super) enum Flight {
    Found(Arc<Identity>),
    Invalid,
    Expired,
    /// The reader's own error is its own; the others read again.
    Failed,
}

pub(super) type Flights = HashMap<([u8; 32], u64), Arc<tokio::sync::OnceCell<Flight>>>;

pub(super) struct FlightGuard<'a> {
    pub(super) flights: &'a std::sync::Mutex<Flights>,
    pub(super) key: ([u8; 32], u64),
    pub(super) flight: Arc<tokio::sync::OnceCell<Flight>>,
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

impl Authenticator {
    /// A cached identity younger than [`VERIFY_CACHE_TTL`], with expiry re-checked and
    /// activity recorded as on a database read.
    pub(super) fn cached_identity(
        &self,
        digest: &[u8; 32],
    ) -> Option<std::result::Result<Arc<Identity>, AuthFailure>> {
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = cache.get_mut(digest)?;
        let ttl = Duration::from_millis(self.inner.cache_ttl_ms.load(Ordering::Relaxed));
        if entry.at.elapsed() >= ttl {
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

    pub(super) fn remember(
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
    pub(super) fn forget_cached(&self) {
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

    /// Forgets the cached verifications of these users (`None`: of everyone), as
    /// [`Self::forget_cached`] forgets all of them.
    fn forget_users(&self, users: &HashSet<Option<UserId>>) {
        if users.contains(&None) {
            return self.forget_cached();
        }
        let mut cache = self
            .inner
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.inner.cache_generation.fetch_add(1, Ordering::AcqRel);
        cache.retain(|_, entry| !users.contains(&Some(entry.identity.user.id)));
        self.inner
            .flights
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// Follows the store's revocation feed ([`Store::follow_revocations`]) until this
    /// authenticator and its clones are dropped: every revocation committed on the
    /// database, by this process or another, drops the cached verifications of the user
    /// concerned, and the cache lifetime is [`PUSHED_VERIFY_CACHE_TTL`] while the feed is
    /// live, [`VERIFY_CACHE_TTL`] while it is not. Without this call the lifetime stays
    /// the short one. Must be called inside a Tokio runtime.
    pub fn follow_revocations(&self) {
        let (tx, mut rx) = mpsc::channel(4096);
        let store = Arc::clone(self.store());
        tokio::spawn(async move { store.follow_revocations(tx).await });
        let inner = Arc::downgrade(&self.inner);
        let mut alive = self.inner.alive.subscribe();
        metrics::gauge!("tessera_revocation_feed_up").set(0.0);
        tokio::spawn(async move {
            let mut batch = Vec::new();
            loop {
                tokio::select! {
                    // The authenticator is gone: dropping `rx` ends the store's follower.
                    Err(_) = alive.changed() => return,
                    n = rx.recv_many(&mut batch, 4096) => if n == 0 { return },
                }
                let Some(inner) = inner.upgrade() else { return };
                Authenticator { inner }.take_notices(batch.drain(..));
            }
        });
    }

    /// Applies what the revocation feed reported, in order; the users revoked in a row
    /// are forgotten together (one pass over the cache).
    fn take_notices(&self, notices: impl Iterator<Item = RevocationNotice>) {
        let mut users = HashSet::new();
        for notice in notices {
            match notice {
                RevocationNotice::Revoked(user) => {
                    metrics::counter!("tessera_revocations_received_total").increment(1);
                    users.insert(user);
                }
                RevocationNotice::Live => {
                    users.clear();
                    // Whatever was revoked while the feed was down went unseen.
                    self.forget_cached();
                    self.inner.cache_ttl_ms.store(
                        PUSHED_VERIFY_CACHE_TTL.as_millis() as u64,
                        Ordering::Relaxed,
                    );
                    metrics::gauge!("tessera_revocation_feed_up").set(1.0);
                    tracing::info!(
                        cache_lifetime_s = PUSHED_VERIFY_CACHE_TTL.as_secs(),
                        "revocation feed live: revocations made elsewhere take effect at once"
                    );
                }
                RevocationNotice::Lost(why) => {
                    self.forget_users(&std::mem::take(&mut users));
                    self.inner
                        .cache_ttl_ms
                        .store(VERIFY_CACHE_TTL.as_millis() as u64, Ordering::Relaxed);
                    metrics::gauge!("tessera_revocation_feed_up").set(0.0);
                    tracing::warn!(
                        error = %why,
                        cache_lifetime_s = VERIFY_CACHE_TTL.as_secs(),
                        "revocation feed lost: revocations made elsewhere take effect within \
                         the cache lifetime until it is back"
                    );
                }
            }
        }
        if !users.is_empty() {
            self.forget_users(&users);
        }
    }

    /// Runs a revocation with the cache forgotten before and after it (so that no
    /// verification that read the store before it is served after it), and records
    /// `event` when something was revoked. The store call starts when awaited here.
    pub(super) async fn revoke(
        &self,
        revocation: impl std::future::Future<Output = crate::store::StoreResult<bool>>,
        event: AuditEvent,
    ) -> Result<bool> {
        self.forget_cached();
        let done = revocation.await?;
        self.forget_cached();
        if done {
            self.audit(event).await;
        }
        Ok(done)
    }
}
