//! `ThrottleStore`: failure counters and locks, counted atomically in the database.
//!
//! The SQL of one capability, written once for both backends: the macro expands in
//! `sqlite.rs` and `postgres.rs` (see `sql/mod.rs`).

/// Implements `throttle store` for `$store` on database `$db`.
macro_rules! impl_throttle_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl tessera_core::store::ThrottleStore for $store {
            async fn register_attempt(
                &self,
                scope: tessera_core::throttle::Scope,
                subject: &str,
                limit: &tessera_core::throttle::Limit,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<tessera_core::throttle::Attempt> {
                use tessera_core::throttle::Attempt;
                let mut tx = self.write().await.db()?;
                sqlx::query(
                    "INSERT INTO login_failures (scope, subject, failures, first_failed_at, last_failed_at) \
                     VALUES ($1, $2, 0, $3, $3) ON CONFLICT (scope, subject) DO NOTHING",
                )
                .bind(scope.as_str())
                .bind(subject)
                .bind(now.unix())
                .execute(&mut *tx)
                .await
                .db()?;
                // One statement: the row lock (PostgreSQL) or the write transaction (SQLite)
                // makes concurrent attempts count one after another.
                let window_start = now.minus(limit.window).unix();
                let counted: Option<(i64,)> = sqlx::query_as(
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
                .fetch_optional(&mut *tx)
                .await
                .db()?;
                let verdict = match counted {
                    None => {
                        // Locked, or the row was cleared by a concurrent success
                        // (PostgreSQL): then this attempt is simply allowed.
                        let until: Option<Option<i64>> = sqlx::query_scalar(
                            "SELECT locked_until FROM login_failures WHERE scope = $1 AND subject = $2",
                        )
                        .bind(scope.as_str())
                        .bind(subject)
                        .fetch_optional(&mut *tx)
                        .await
                        .db()?;
                        match until.flatten() {
                            Some(u) if u > now.unix() => {
                                Attempt::Throttled { until: tessera_core::Timestamp::from_unix(u) }
                            }
                            _ => Attempt::Allowed,
                        }
                    }
                    Some((n,)) => {
                        let n = u32::try_from(n).unwrap_or(u32::MAX);
                        if n >= limit.max_failures {
                            sqlx::query("UPDATE login_failures SET locked_until = $3 WHERE scope = $1 AND subject = $2")
                                .bind(scope.as_str())
                                .bind(subject)
                                .bind(now.plus(limit.lockout(n)).unix())
                                .execute(&mut *tx)
                                .await
                                .db()?;
                        }
                        Attempt::Allowed
                    }
                };
                tx.commit().await.db()?;
                Ok(verdict)
            }

            async fn locked_until(
                &self,
                scope: tessera_core::throttle::Scope,
                subject: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::Timestamp>> {
                let until: Option<Option<i64>> = sqlx::query_scalar(
                    "SELECT locked_until FROM login_failures WHERE scope = $1 AND subject = $2",
                )
                .bind(scope.as_str())
                .bind(subject)
                .fetch_optional(self.reader())
                .await
                .db()?;
                Ok(until.flatten().filter(|u| *u > now.unix()).map(tessera_core::Timestamp::from_unix))
            }

            async fn purge_attempts(
                &self,
                before: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<u64> {
                let n = self
                    .write_one(
                        sqlx::query(
                            "DELETE FROM login_failures WHERE last_failed_at < $1 \
                             AND (locked_until IS NULL OR locked_until < $1)",
                        )
                        .bind(before.unix()),
                    )
                    .await?;
                Ok(n)
            }

            async fn clear_attempts(
                &self,
                scope: tessera_core::throttle::Scope,
                subject: &str,
            ) -> tessera_core::store::StoreResult<()> {
                let mut tx = self.write().await.db()?;
                sqlx::query("DELETE FROM login_failures WHERE scope = $1 AND subject = $2")
                    .bind(scope.as_str())
                    .bind(subject)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                tx.commit().await.db()
            }
        }
    };
}

pub(crate) use impl_throttle_store;
