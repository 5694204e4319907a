//! `CredentialStore`: personal access tokens, API keys, client secrets, owners of ids.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use tessera_core::credential::{ApiKey, PersonalToken, StoredClientSecret};
use tessera_core::session::join_scopes;
use tessera_core::store::{ApiKeyRecord, CredentialStore, Owned, StoreResult};
use tessera_core::{Timestamp, User, UserId};

use super::backend::{Backend, Get as _, Query, Tx, query};
use super::{
    KEY_COLUMNS, PAT_COLUMNS, SqlStore, api_key_from_row, pat_from_row, revocation, table,
    user_columns_qualified,
};

#[async_trait]
impl<DB: Backend> CredentialStore for SqlStore<DB> {
    async fn create_pat(&self, pat: &PersonalToken, secret_digest: &[u8; 32]) -> StoreResult<()> {
        let mut tx = self.write().await?;
        insert_pat(&mut tx, pat, secret_digest).await?;
        tx.commit().await
    }

    async fn pat_by_secret(
        &self,
        secret_digest: &[u8; 32],
    ) -> StoreResult<Option<(PersonalToken, User)>> {
        let statement = query(AssertSqlSafe(format!(
            "SELECT {PAT_COLUMNS}, {} FROM personal_tokens c JOIN users u ON u.id = c.user_id \
             WHERE c.secret_hash = $1 AND c.revoked_at IS NULL",
            user_columns_qualified()
        )));
        self.with_user(statement.bind(&secret_digest[..]), pat_from_row)
            .await
    }

    async fn list_pats(&self, user: UserId) -> StoreResult<Vec<PersonalToken>> {
        self.unrevoked_of(Owned::PersonalToken, PAT_COLUMNS, user, pat_from_row)
            .await
    }

    async fn revoke_pat(&self, user: UserId, id: &str, now: Timestamp) -> StoreResult<bool> {
        let revocation = revocation(Owned::PersonalToken, user, id, now);
        Ok(self.write_one(revocation).await? == 1)
    }

    async fn replace_pat(
        &self,
        user: UserId,
        old_id: &str,
        new: &PersonalToken,
        secret_digest: &[u8; 32],
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let revocation = revocation(Owned::PersonalToken, user, old_id, now);
        if revocation.execute(&mut tx).await? != 1 {
            return Ok(false);
        }
        insert_pat(&mut tx, new, secret_digest).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn touch_pats(&self, uses: &[(String, Timestamp)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for (id, at) in uses {
            query(
                "UPDATE personal_tokens SET last_used_at = $1 \
                 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
            )
            .bind(at.unix())
            .bind(id)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await
    }

    async fn create_api_key(&self, key: &ApiKey, secret_digest: &[u8; 32]) -> StoreResult<()> {
        self.write_one(
            query(
                "INSERT INTO api_keys (id, user_id, name, secret_hash, scopes, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&key.id)
            .bind(key.user_id.0)
            .bind(&key.name)
            .bind(&secret_digest[..])
            .bind(join_scopes(&key.scopes))
            .bind(key.created_at.unix()),
        )
        .await
        .map(drop)
    }

    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let statement = query(AssertSqlSafe(format!(
            "SELECT {KEY_COLUMNS}, c.secret_hash AS c_secret_hash, {} FROM api_keys c \
             JOIN users u ON u.id = c.user_id WHERE c.id = $1 AND c.revoked_at IS NULL",
            user_columns_qualified()
        )));
        let found = self
            .with_user(statement.bind(id), |row| {
                Ok((api_key_from_row(row)?, row.value("c_secret_hash")?))
            })
            .await?;
        Ok(found.map(|((key, secret_digest), user)| ApiKeyRecord {
            key,
            secret_digest,
            user,
        }))
    }

    async fn list_api_keys(&self, user: UserId) -> StoreResult<Vec<ApiKey>> {
        self.unrevoked_of(Owned::ApiKey, KEY_COLUMNS, user, api_key_from_row)
            .await
    }

    async fn delete_api_key(&self, user: UserId, id: &str, now: Timestamp) -> StoreResult<bool> {
        let revocation = revocation(Owned::ApiKey, user, id, now);
        self.change_key(revocation, user, id, true, now).await
    }

    async fn set_api_key_disabled(
        &self,
        user: UserId,
        id: &str,
        disabled: bool,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let change = query(
            "UPDATE api_keys SET disabled_at = $1 \
             WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(disabled.then_some(now.unix()))
        .bind(user.0)
        .bind(id);
        self.change_key(change, user, id, disabled, now).await
    }

    async fn client_secret(&self, user: UserId) -> StoreResult<Option<StoredClientSecret>> {
        let row = query(
            "SELECT ciphertext, created_at, expires_at FROM client_secrets WHERE user_id = $1",
        )
        .bind(user.0)
        .fetch_optional(self.reader())
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(StoredClientSecret {
            user_id: user,
            ciphertext: row.value("ciphertext")?,
            created_at: Timestamp::from_unix(row.value("created_at")?),
            expires_at: Timestamp::from_unix(row.value("expires_at")?),
        }))
    }

    async fn set_client_secret(
        &self,
        secret: &StoredClientSecret,
        secret_digest: &[u8; 32],
    ) -> StoreResult<()> {
        self.write_one(
            query(
                "INSERT INTO client_secrets \
                 (user_id, secret_hash, ciphertext, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id) DO UPDATE SET \
                 secret_hash = excluded.secret_hash, ciphertext = excluded.ciphertext, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at",
            )
            .bind(secret.user_id.0)
            .bind(&secret_digest[..])
            .bind(&secret.ciphertext)
            .bind(secret.created_at.unix())
            .bind(secret.expires_at.unix()),
        )
        .await
        .map(drop)
    }

    async fn client_secrets(&self) -> StoreResult<Vec<StoredClientSecret>> {
        query("SELECT user_id, ciphertext, created_at, expires_at FROM client_secrets")
            .fetch_all(self.reader(), |row| {
                Ok(StoredClientSecret {
                    user_id: UserId(row.value("user_id")?),
                    ciphertext: row.value("ciphertext")?,
                    created_at: Timestamp::from_unix(row.value("created_at")?),
                    expires_at: Timestamp::from_unix(row.value("expires_at")?),
                })
            })
            .await
    }

    async fn reseal_client_secret(
        &self,
        user: UserId,
        old: &[u8],
        new: &[u8],
    ) -> StoreResult<bool> {
        self.write_one(
            query(
                "UPDATE client_secrets SET ciphertext = $1 WHERE user_id = $2 AND ciphertext = $3",
            )
            .bind(new)
            .bind(user.0)
            .bind(old),
        )
        .await
        .map(|n| n == 1)
    }

    async fn client_secret_owner(
        &self,
        secret_digest: &[u8; 32],
    ) -> StoreResult<Option<(User, Timestamp)>> {
        let statement = query(AssertSqlSafe(format!(
            "SELECT c.expires_at AS c_expires_at, {} FROM client_secrets c \
             JOIN users u ON u.id = c.user_id WHERE c.secret_hash = $1",
            user_columns_qualified()
        )));
        let found = self
            .with_user(statement.bind(&secret_digest[..]), |row| {
                row.value("c_expires_at").map(Timestamp::from_unix)
            })
            .await?;
        Ok(found.map(|(expires, user)| (user, expires)))
    }

    async fn owner_of(&self, what: Owned, id: &str) -> StoreResult<Option<UserId>> {
        let sql = format!("SELECT user_id FROM {} WHERE id = $1", table(what));
        let row = query(AssertSqlSafe(sql))
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        row.map(|row| row.value("user_id").map(UserId)).transpose()
    }
}

impl<DB: Backend> SqlStore<DB> {
    /// The user's unrevoked personal tokens or API keys (`columns`, the table aliased
    /// `c`), newest first.
    async fn unrevoked_of<T>(
        &self,
        what: Owned,
        columns: &str,
        user: UserId,
        decode: fn(&DB::Row) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        query(AssertSqlSafe(format!(
            "SELECT {columns} FROM {} c WHERE c.user_id = $1 AND c.revoked_at IS NULL \
             ORDER BY c.created_at DESC, c.id",
            table(what)
        )))
        .bind(user.0)
        .fetch_all(self.reader(), decode)
        .await
    }
}

async fn insert_pat<DB: Backend>(
    tx: &mut Tx<DB>,
    pat: &PersonalToken,
    secret_digest: &[u8; 32],
) -> StoreResult<()> {
    query(
        "INSERT INTO personal_tokens \
         (id, user_id, name, secret_hash, scopes, created_at, expires_at, prefix) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&pat.id)
    .bind(pat.user_id.0)
    .bind(&pat.name)
    .bind(&secret_digest[..])
    .bind(join_scopes(&pat.scopes))
    .bind(pat.created_at.unix())
    .bind(pat.expires_at.unix())
    .bind(&pat.prefix)
    .execute(tx)
    .await
    .map(drop)
}

impl<DB: Backend> SqlStore<DB> {
    /// Runs `change` on one of `user`'s keys and, when `end_sessions`, ends the sessions
    /// opened with it, in one transaction. `false` when `change` matched no key.
    async fn change_key(
        &self,
        change: Query<DB>,
        user: UserId,
        id: &str,
        end_sessions: bool,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        if change.execute(&mut tx).await? != 1 {
            return Ok(false);
        }
        if end_sessions {
            query(
                "UPDATE sessions SET revoked_at = $1 \
                 WHERE user_id = $2 AND api_key_id = $3 AND revoked_at IS NULL",
            )
            .bind(now.unix())
            .bind(user.0)
            .bind(id)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}
