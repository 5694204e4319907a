//! `SessionStore`: server-side sessions by token digest, activity, revocation.
//!
//! The SQL of one capability, written once for both backends: the macro expands in
//! `sqlite.rs` and `postgres.rs` (see `sql/mod.rs`).

/// Implements `session store` for `$store` on database `$db`.
macro_rules! impl_session_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl tessera_core::store::SessionStore for $store {
            async fn create_session(
                &self,
                session: &tessera_core::session::Session,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<()> {
                let mut tx = self.write().await.db()?;
                sqlx::query(
                    "INSERT INTO sessions (id, secret_hash, kind, user_id, api_key_id, scopes, \
                     created_at, last_seen_at, idle_expires_at, expires_at, ip, user_agent) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                )
                .bind(&session.id)
                .bind(&secret_digest[..])
                .bind(session.kind.as_str())
                .bind(session.user_id.0)
                .bind(&session.api_key_id)
                .bind(tessera_core::session::join_scopes(&session.scopes))
                .bind(session.created_at.unix())
                .bind(session.last_seen_at.unix())
                .bind(session.idle_expires_at.map(|t| t.unix()))
                .bind(session.expires_at.unix())
                .bind(&session.ip)
                .bind(&session.user_agent)
                .execute(&mut *tx)
                .await
                .db()?;
                tx.commit().await.db()
            }

            async fn session_by_secret(
                &self,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<Option<tessera_core::store::SessionRecord>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.secret_hash = $1 AND s.revoked_at IS NULL",
                    $crate::sql::SESSION_COLUMNS,
                    $crate::sql::user_columns_qualified()
                )))
                .bind(&secret_digest[..])
                .fetch_optional(self.reader())
                .await
                .db()?;
                let Some(row) = row else { return Ok(None) };
                let session = $crate::sql::session_from_row(&row).db()?;
                let roles = self.roles_of(session.user_id.0).await?;
                let user = $crate::sql::user_from_row(&row, roles).db()?;
                Ok(Some(tessera_core::store::SessionRecord { session, user }))
            }

            async fn touch_sessions(
                &self,
                touches: &[tessera_core::store::Touch],
            ) -> tessera_core::store::StoreResult<()> {
                if touches.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write().await.db()?;
                for t in touches {
                    sqlx::query(
                        "UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2 \
                         WHERE id = $3 AND last_seen_at < $1 AND revoked_at IS NULL",
                    )
                    .bind(t.last_seen_at.unix())
                    .bind(t.idle_expires_at.map(|i| i.unix()))
                    .bind(&t.session_id)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                }
                tx.commit().await.db()
            }

            async fn list_sessions(
                &self,
                user: tessera_core::UserId,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<Vec<tessera_core::session::Session>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM sessions s WHERE s.user_id = $1 AND s.revoked_at IS NULL \
                     AND s.expires_at > $2 AND (s.idle_expires_at IS NULL OR s.idle_expires_at > $2) \
                     ORDER BY s.created_at DESC, s.id",
                    $crate::sql::SESSION_COLUMNS
                )))
                .bind(user.0)
                .bind(now.unix())
                .fetch_all(self.reader())
                .await
                .db()?;
                rows.iter()
                    .map($crate::sql::session_from_row)
                    .collect::<Result<_, _>>()
                    .db()
            }

            async fn revoke_session(
                &self,
                user: tessera_core::UserId,
                session_id: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                let n = self
                    .write_one(
                        sqlx::query(
                            "UPDATE sessions SET revoked_at = $1 \
                             WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
                        )
                        .bind(now.unix())
                        .bind(user.0)
                        .bind(session_id),
                    )
                    .await?;
                Ok(n == 1)
            }

            async fn revoke_sessions(
                &self,
                user: tessera_core::UserId,
                keep: Option<&str>,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<u64> {
                let n = self
                    .write_one(
                        sqlx::query(
                            "UPDATE sessions SET revoked_at = $1 \
                             WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
                        )
                        .bind(now.unix())
                        .bind(user.0)
                        .bind(keep.unwrap_or("")),
                    )
                    .await?;
                Ok(n)
            }

            async fn purge_sessions(
                &self,
                before: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<u64> {
                let n = self
                    .write_one(
                        sqlx::query(
                            "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1 \
                             OR idle_expires_at < $1",
                        )
                        .bind(before.unix()),
                    )
                    .await?;
                Ok(n)
            }
        }
    };
}

pub(crate) use impl_session_store;
