//! `CredentialStore`: personal access tokens, API keys, client secrets, owners of ids.
//!
//! The SQL of one capability, written once for both backends: the macro expands in
//! `sqlite.rs` and `postgres.rs` (see `sql/mod.rs`).

/// Implements `credential store` for `$store` on database `$db`.
macro_rules! impl_credential_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl tessera_core::store::CredentialStore for $store {
            async fn create_pat(
                &self,
                pat: &tessera_core::credential::PersonalToken,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<()> {
                let mut tx = self.write().await.db()?;
                insert_pat(&mut tx, pat, secret_digest).await?;
                tx.commit().await.db()
            }

            async fn pat_by_secret(
                &self,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<
                Option<(tessera_core::credential::PersonalToken, tessera_core::User)>,
            > {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, {} FROM personal_tokens p JOIN users u ON u.id = p.user_id \
                     WHERE p.secret_hash = $1 AND p.revoked_at IS NULL",
                    $crate::sql::PAT_COLUMNS,
                    $crate::sql::user_columns_qualified()
                )))
                .bind(&secret_digest[..])
                .fetch_optional(self.reader())
                .await
                .db()?;
                let Some(row) = row else { return Ok(None) };
                let pat = $crate::sql::pat_from_row(&row).db()?;
                let roles = self.roles_of(pat.user_id.0).await?;
                let user = $crate::sql::user_from_row(&row, roles).db()?;
                Ok(Some((pat, user)))
            }

            async fn list_pats(
                &self,
                user: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<Vec<tessera_core::credential::PersonalToken>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM personal_tokens p WHERE p.user_id = $1 AND p.revoked_at IS NULL \
                     ORDER BY p.created_at DESC, p.id",
                    $crate::sql::PAT_COLUMNS
                )))
                .bind(user.0)
                .fetch_all(self.reader())
                .await
                .db()?;
                rows.iter().map($crate::sql::pat_from_row).collect::<Result<_, _>>().db()
            }

            async fn revoke_pat(
                &self,
                user: tessera_core::UserId,
                id: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                let n = self
                    .write_one(
                        sqlx::query(
                            "UPDATE personal_tokens SET revoked_at = $1 \
                             WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
                        )
                        .bind(now.unix())
                        .bind(user.0)
                        .bind(id),
                    )
                    .await?;
                Ok(n == 1)
            }

            async fn replace_pat(
                &self,
                user: tessera_core::UserId,
                old_id: &str,
                new: &tessera_core::credential::PersonalToken,
                secret_digest: &[u8; 32],
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                let mut tx = self.write().await.db()?;
                let n = sqlx::query(
                    "UPDATE personal_tokens SET revoked_at = $1 \
                     WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(now.unix())
                .bind(user.0)
                .bind(old_id)
                .execute(&mut *tx)
                .await
                .db()?
                .rows_affected();
                if n != 1 {
                    return Ok(false);
                }
                insert_pat(&mut tx, new, secret_digest).await?;
                tx.commit().await.db()?;
                Ok(true)
            }

            async fn touch_pats(
                &self,
                uses: &[(String, tessera_core::Timestamp)],
            ) -> tessera_core::store::StoreResult<()> {
                if uses.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write().await.db()?;
                for (id, at) in uses {
                    sqlx::query(
                        "UPDATE personal_tokens SET last_used_at = $1 \
                         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
                    )
                    .bind(at.unix())
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                }
                tx.commit().await.db()
            }

            async fn create_api_key(
                &self,
                key: &tessera_core::credential::ApiKey,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<()> {
                let mut tx = self.write().await.db()?;
                sqlx::query(
                    "INSERT INTO api_keys (id, user_id, name, secret_hash, scopes, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&key.id)
                .bind(key.user_id.0)
                .bind(&key.name)
                .bind(&secret_digest[..])
                .bind(tessera_core::session::join_scopes(&key.scopes))
                .bind(key.created_at.unix())
                .execute(&mut *tx)
                .await
                .db()?;
                tx.commit().await.db()
            }

            async fn api_key(
                &self,
                id: &str,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::store::ApiKeyRecord>> {
                use sqlx::Row as _;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, k.secret_hash AS k_secret_hash, {} FROM api_keys k \
                     JOIN users u ON u.id = k.user_id WHERE k.id = $1 AND k.revoked_at IS NULL",
                    $crate::sql::KEY_COLUMNS,
                    $crate::sql::user_columns_qualified()
                )))
                .bind(id)
                .fetch_optional(self.reader())
                .await
                .db()?;
                let Some(row) = row else { return Ok(None) };
                let key = $crate::sql::api_key_from_row(&row).db()?;
                let secret_digest: Vec<u8> = row.try_get("k_secret_hash").db()?;
                let roles = self.roles_of(key.user_id.0).await?;
                let user = $crate::sql::user_from_row(&row, roles).db()?;
                Ok(Some(tessera_core::store::ApiKeyRecord { key, secret_digest, user }))
            }

            async fn list_api_keys(
                &self,
                user: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<Vec<tessera_core::credential::ApiKey>> {
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM api_keys k WHERE k.user_id = $1 AND k.revoked_at IS NULL \
                     ORDER BY k.created_at DESC, k.id",
                    $crate::sql::KEY_COLUMNS
                )))
                .bind(user.0)
                .fetch_all(self.reader())
                .await
                .db()?;
                rows.iter().map($crate::sql::api_key_from_row).collect::<Result<_, _>>().db()
            }

            async fn delete_api_key(
                &self,
                user: tessera_core::UserId,
                id: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                let mut tx = self.write().await.db()?;
                let n = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(now.unix())
                .bind(user.0)
                .bind(id)
                .execute(&mut *tx)
                .await
                .db()?
                .rows_affected();
                if n != 1 {
                    return Ok(false);
                }
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 \
                     WHERE user_id = $2 AND api_key_id = $3 AND revoked_at IS NULL",
                )
                .bind(now.unix())
                .bind(user.0)
                .bind(id)
                .execute(&mut *tx)
                .await
                .db()?;
                tx.commit().await.db()?;
                Ok(true)
            }

            async fn client_secret(
                &self,
                user: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::credential::StoredClientSecret>> {
                let row: Option<(Vec<u8>, i64, i64)> = sqlx::query_as(
                    "SELECT ciphertext, created_at, expires_at FROM client_secrets WHERE user_id = $1",
                )
                .bind(user.0)
                .fetch_optional(self.reader())
                .await
                .db()?;
                Ok(row.map(|(ciphertext, created, expires)| tessera_core::credential::StoredClientSecret {
                    user_id: user,
                    ciphertext,
                    created_at: tessera_core::Timestamp::from_unix(created),
                    expires_at: tessera_core::Timestamp::from_unix(expires),
                }))
            }

            async fn set_client_secret(
                &self,
                secret: &tessera_core::credential::StoredClientSecret,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<()> {
                let mut tx = self.write().await.db()?;
                sqlx::query(
                    "INSERT INTO client_secrets (user_id, secret_hash, ciphertext, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET \
                     secret_hash = excluded.secret_hash, ciphertext = excluded.ciphertext, \
                     created_at = excluded.created_at, expires_at = excluded.expires_at",
                )
                .bind(secret.user_id.0)
                .bind(&secret_digest[..])
                .bind(&secret.ciphertext)
                .bind(secret.created_at.unix())
                .bind(secret.expires_at.unix())
                .execute(&mut *tx)
                .await
                .db()?;
                tx.commit().await.db()
            }

            async fn client_secret_owner(
                &self,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<Option<(tessera_core::User, tessera_core::Timestamp)>> {
                use sqlx::Row as _;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT c.expires_at AS c_expires_at, {} FROM client_secrets c \
                     JOIN users u ON u.id = c.user_id WHERE c.secret_hash = $1",
                    $crate::sql::user_columns_qualified()
                )))
                .bind(&secret_digest[..])
                .fetch_optional(self.reader())
                .await
                .db()?;
                let Some(row) = row else { return Ok(None) };
                let id: i64 = row.try_get("id").db()?;
                let expires: i64 = row.try_get("c_expires_at").db()?;
                let roles = self.roles_of(id).await?;
                let user = $crate::sql::user_from_row(&row, roles).db()?;
                Ok(Some((user, tessera_core::Timestamp::from_unix(expires))))
            }

            async fn owner_of(
                &self,
                what: tessera_core::store::Owned,
                id: &str,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::UserId>> {
                let sql = match what {
                    tessera_core::store::Owned::Session => "SELECT user_id FROM sessions WHERE id = $1",
                    tessera_core::store::Owned::PersonalToken => "SELECT user_id FROM personal_tokens WHERE id = $1",
                    tessera_core::store::Owned::ApiKey => "SELECT user_id FROM api_keys WHERE id = $1",
                };
                let owner: Option<i64> = sqlx::query_scalar(sql)
                    .bind(id)
                    .fetch_optional(self.reader())
                    .await
                    .db()?;
                Ok(owner.map(tessera_core::UserId))
            }
        }

        async fn insert_pat(
            tx: &mut sqlx::Transaction<'static, $db>,
            pat: &tessera_core::credential::PersonalToken,
            secret_digest: &[u8; 32],
        ) -> tessera_core::store::StoreResult<()> {
            sqlx::query(
                "INSERT INTO personal_tokens (id, user_id, name, secret_hash, scopes, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&pat.id)
            .bind(pat.user_id.0)
            .bind(&pat.name)
            .bind(&secret_digest[..])
            .bind(tessera_core::session::join_scopes(&pat.scopes))
            .bind(pat.created_at.unix())
            .bind(pat.expires_at.unix())
            .execute(&mut **tx)
            .await
            .map(drop)
            .db()
        }
    };
}

pub(crate) use impl_credential_store;
