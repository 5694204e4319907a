//! `ThrottleStore`: failure counters and locks, counted atomically in the database.

use async_trait::async_trait;
use tessera_core::Timestamp;
use tessera_core::store::{StoreResult, ThrottleStore};
use tessera_core::throttle::{Attempt, Limit, Scope};

use super::SqlStore;
use super::backend::{Backend, Get as _, On, Query, query};

#[async_trait]
impl<DB: Backend> ThrottleStore for SqlStore<DB> {
    async fn register_attempt(
        &self,
        scope: Scope,
        subject: &str,
        limit: &Limit,
        now: Timestamp,
    ) -> StoreResult<Attempt> {
        let mut tx = self.write().await?;
        query(
            "INSERT INTO login_failures (scope, subject, failures, first_failed_at, \
             last_failed_at) VALUES ($1, $2, 0, $3, $3) ON CONFLICT (scope, subject) DO NOTHING",
        )
        .bind(scope.as_str())
        .bind(subject)
        .bind(now.unix())
        .execute(&mut tx)
        .await?;
        // One statement: the row lock (PostgreSQL) or the write transaction (SQLite)
        // makes concurrent attempts count one after another.
        let window_start = now.minus(limit.window).unix();
        let counted = query(
            "UPDATE login_failures SET \
             failures = CASE WHEN first_failed_at < $3 THEN 1 ELSE failures + 1 END, \
             first_failed_at = CASE WHEN first_failed_at < $3 THEN $4 ELSE first_failed_at END, \
             last_failed_at = $4 \
             WHERE scope = $1 AND subject = $2 AND (locked_until IS NULL OR locked_until <= $4) \
             RETURNING failures",
        )
        .bind(scope.as_str())
        .bind(subject)
        .bind(window_start)
        .bind(now.unix())
        .fetch_optional(&mut tx)
        .await?;
        let verdict = match counted {
            // Locked, or the row was cleared by a concurrent success (PostgreSQL): then
            // this attempt is simply allowed.
            None => match lock_of(&mut tx, scope, subject, now).await? {
                Some(until) => Attempt::Throttled { until },
                None => Attempt::Allowed,
            },
            Some(row) => {
                let n: i64 = row.value("failures")?;
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                if n >= limit.max_failures {
                    query(
                        "UPDATE login_failures SET locked_until = $3 \
                         WHERE scope = $1 AND subject = $2",
                    )
                    .bind(scope.as_str())
                    .bind(subject)
                    .bind(now.plus(limit.lockout(n)).unix())
                    .execute(&mut tx)
                    .await?;
                }
                Attempt::Allowed
            }
        };
        tx.commit().await?;
        Ok(verdict)
    }

    async fn locked_until(
        &self,
        scope: Scope,
        subject: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>> {
        lock_of(self.reader(), scope, subject, now).await
    }

    async fn purge_attempts(&self, before: Timestamp) -> StoreResult<u64> {
        self.write_one(
            query(
                "DELETE FROM login_failures WHERE last_failed_at < $1 \
                 AND (locked_until IS NULL OR locked_until < $1)",
            )
            .bind(before.unix()),
        )
        .await
    }

    async fn clear_attempts(&self, scope: Scope, subject: &str) -> StoreResult<()> {
        self.write_one(clear(scope, subject)).await.map(drop)
    }
}

/// The statement forgetting the subject's failures (after a success).
pub(super) fn clear<DB: Backend>(scope: Scope, subject: &str) -> Query<DB> {
    query("DELETE FROM login_failures WHERE scope = $1 AND subject = $2")
        .bind(scope.as_str())
        .bind(subject)
}

/// Until when the subject is locked, if it is locked beyond `now`.
async fn lock_of<DB: Backend>(
    on: impl On<DB>,
    scope: Scope,
    subject: &str,
    now: Timestamp,
) -> StoreResult<Option<Timestamp>> {
    let row = query("SELECT locked_until FROM login_failures WHERE scope = $1 AND subject = $2")
        .bind(scope.as_str())
        .bind(subject)
        .fetch_optional(on)
        .await?;
    let until: Option<i64> = match row {
        Some(row) => row.value("locked_until")?,
        None => None,
    };
    Ok(until.filter(|u| *u > now.unix()).map(Timestamp::from_unix))
}
