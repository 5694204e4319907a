//! The verification cache: recently verified credentials served from memory for up to
//! [`VERIFY_CACHE_TTL`], and single flight, so that when an entry expires under load one
//! request reads the store and the others wait for its answer.

use super::*;

/// How long a verified credential may be served from memory. Revocations made through
/// this instance clear the cache at once; made elsewhere (another instance, the CLI),
/// they take effect within this time, as the README promises.
pub const VERIFY_CACHE_TTL: Duration = Duration::from_secs(1);
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
