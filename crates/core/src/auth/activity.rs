//! Activity without writes on the request path: the idle expiry slides in memory, and
//! `last_seen_at` / `last_used_at` updates are queued and written in batches once a second.

use super::*;

pub(super) enum Activity {
    Session(Touch),
    Pat(String, Timestamp),
}

impl Authenticator {
    /// Whether [`Self::record_activity`] would change `session` at `now`.
    pub(super) fn activity_due(&self, session: &Session, now: Timestamp) -> bool {
        session.idle_expires_at.is_some_and(|idle| {
            idle != session.idle_expiry_after(now, self.inner.settings.idle_timeout)
                || now.unix() - session.last_seen_at.unix()
                    >= self.inner.settings.touch_interval().as_secs() as i64
        })
    }

    /// Slides the idle expiry; writes it (later, batched) only when it is stale enough.
    pub(super) fn record_activity(&self, session: &mut Session, now: Timestamp) {
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
}

/// Drains activity updates and writes them once a second, keeping only the latest per
/// session or token.
pub(super) async fn write_activity(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Activity>) {
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
