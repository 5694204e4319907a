//! The revocation feed ([`Store::follow_revocations`](tessera_core::Store)): triggers in
//! the schema record every revocation as it commits, whoever commits it (migration
//! `0006_revocations`), and each backend delivers them its own way. PostgreSQL announces
//! them with `NOTIFY tessera_revocations`, which one dedicated listening connection per
//! store receives. SQLite, which has no notifications, writes them to the `revocations`
//! table, which the server reads past the last row it saw every [`POLL_EVERY`].

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPoolOptions};
use sqlx::{Postgres, Sqlite};
use tessera_core::store::{RevocationNotice, StoreResult};
use tessera_core::{Timestamp, UserId};
use tokio::sync::mpsc::Sender;

use super::SqlStore;
use super::backend::{Get, query};

/// How often a SQLite store looks for new revocations: twice within the 100 ms a
/// revocation may take to reach every server.
pub(crate) const POLL_EVERY: Duration = Duration::from_millis(40);

/// How long a lost feed waits before it tries again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The PostgreSQL channel the schema's triggers notify.
const CHANNEL: &str = "tessera_revocations";

/// Sends `notice`; false when nobody listens any more (the follower then ends).
async fn tell(notices: &Sender<RevocationNotice>, notice: RevocationNotice) -> bool {
    notices.send(notice).await.is_ok()
}

/// Waits `pause`; false when nobody listens any more.
async fn pause(notices: &Sender<RevocationNotice>, pause: Duration) -> bool {
    tokio::select! {
        () = notices.closed() => false,
        () = tokio::time::sleep(pause) => true,
    }
}

/// SQLite: reads the rows the triggers add to `revocations`, past the last one seen.
pub(crate) async fn follow_sqlite(store: &SqlStore<Sqlite>, notices: Sender<RevocationNotice>) {
    // The last row seen; `None` while the feed is down (it then starts again from the
    // newest row, having said `Lost`).
    let mut seen: Option<i64> = None;
    let mut said_lost = false;
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = notices.closed() => return,
            _ = tick.tick() => {}
        }
        let read = match seen {
            None => query::<Sqlite>("SELECT coalesce(max(seq), 0) FROM revocations")
                .fetch_one(store.reader())
                .await
                .and_then(|row| row.value_at(0))
                .map(|newest: i64| (newest, Vec::new())),
            Some(last) => query::<Sqlite>(
                "SELECT seq, user_id FROM revocations WHERE seq > $1 ORDER BY seq LIMIT 10000",
            )
            .bind(last)
            .fetch_all(store.reader(), |row| {
                let user: Option<i64> = row.value_at(1)?;
                Ok((row.value_at(0)?, user))
            })
            .await
            .map(|rows: Vec<(i64, Option<i64>)>| {
                let newest = rows.last().map_or(last, |(seq, _)| *seq);
                (newest, rows.into_iter().map(|(_, user)| user).collect())
            }),
        };
        match read {
            Ok((newest, users)) => {
                if seen.is_none() && !tell(&notices, RevocationNotice::Live).await {
                    return;
                }
                seen = Some(newest);
                said_lost = false;
                for user in users {
                    if !tell(&notices, RevocationNotice::Revoked(user.map(UserId))).await {
                        return;
                    }
                }
            }
            Err(e) => {
                seen = None;
                if !said_lost && !tell(&notices, RevocationNotice::Lost(e.to_string())).await {
                    return;
                }
                said_lost = true;
            }
        }
    }
}

/// PostgreSQL: `LISTEN tessera_revocations` on a connection of its own, opened again
/// (after [`RETRY_AFTER`]) whenever it is lost.
pub(crate) async fn follow_postgres(store: &SqlStore<Postgres>, notices: Sender<RevocationNotice>) {
    // A pool of one, beside the store's: the listener holds its connection for good.
    let options = store.reader().connect_options().as_ref().clone();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options.application_name("tessera revocation feed"));
    let mut said_lost = false;
    loop {
        let listening = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            // A lost connection is reported (Ok(None)) before it is replaced: this loop
            // says `Lost`, waits, and opens a new listener.
            listener.eager_reconnect(false);
            listener.ignore_pool_close_event(true);
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let why = match listening {
            Ok(mut listener) => {
                if !tell(&notices, RevocationNotice::Live).await {
                    return;
                }
                said_lost = false;
                loop {
                    let received = tokio::select! {
                        () = notices.closed() => return,
                        received = listener.try_recv() => received,
                    };
                    match received {
                        Ok(Some(notification)) => {
                            let user = notification.payload().parse().ok().map(UserId);
                            if !tell(&notices, RevocationNotice::Revoked(user)).await {
                                return;
                            }
                        }
                        Ok(None) => break "the listening connection was closed".to_owned(),
                        Err(e) => break e.to_string(),
                    }
                }
            }
            Err(e) => e.to_string(),
        };
        if !said_lost && !tell(&notices, RevocationNotice::Lost(why)).await {
            return;
        }
        said_lost = true;
        if !pause(&notices, RETRY_AFTER).await {
            return;
        }
    }
}

/// SQLite: deletes the feed's rows older than `before` (every server has long read them).
pub(crate) async fn purge_sqlite(store: &SqlStore<Sqlite>, before: Timestamp) -> StoreResult<u64> {
    store
        .write_one(query("DELETE FROM revocations WHERE at < $1").bind(before.unix()))
        .await
}
