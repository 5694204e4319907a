//! `SessionStore`: server-side sessions by token digest, activity, revocation.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use tessera_core::audit::AuditEvent;
use tessera_core::session::{Session, join_scopes};
use tessera_core::store::{Owned, SessionRecord, SessionStore, StoreResult, Touch};
use tessera_core::throttle::Scope;
use tessera_core::{Timestamp, UserId};

use super::backend::{Backend, Get as _, Query, query};
use super::{SESSION_COLUMNS, SqlStore, revocation, session_from_row, user_columns_qualified};

/// The statement storing a new session under the digest of its secret.
fn insert_session<DB: Backend>(session: &Session, secret_digest: &[u8; 32]) -> Query<DB> {
    query(
        "INSERT INTO sessions (id, secret_hash, kind, user_id, api_key_id, scopes, \
         created_at, last_seen_at, idle_expires_at, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&session.id)
    .bind(&secret_digest[..])
    .bind(session.kind.as_str())
    .bind(session.user_id.0)
    .bind(&session.api_key_id)
    .bind(join_scopes(&session.scopes))
    .bind(session.created_at.unix())
    .bind(session.last_seen_at.unix())
    .bind(session.idle_expires_at.map(|t| t.unix()))
    .bind(session.expires_at.unix())
    .bind(&session.ip)
    .bind(&session.user_agent)
}

#[async_trait]
impl<DB: Backend> SessionStore for SqlStore<DB> {
    async fn create_session(&self, session: &Session, secret_digest: &[u8; 32]) -> StoreResult<()> {
        self.write_one(insert_session(session, secret_digest))
            .await
            .map(drop)
    }

    async fn complete_login(
        &self,
        clear: Option<(Scope, &str)>,
        session: &Session,
        secret_digest: &[u8; 32],
        event: &AuditEvent,
    ) -> StoreResult<()> {
        let mut tx = self.write().await?;
        if let Some((scope, subject)) = clear {
            super::throttle::clear(scope, subject)
                .execute(&mut tx)
                .await?;
        }
        insert_session(session, secret_digest)
            .execute(&mut tx)
            .await?;
        super::audit::insert(event).execute(&mut tx).await?;
        tx.commit().await
    }

    async fn session_by_secret(
        &self,
        secret_digest: &[u8; 32],
    ) -> StoreResult<Option<SessionRecord>> {
        let statement = query(AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
             WHERE s.secret_hash = $1 AND s.revoked_at IS NULL",
            user_columns_qualified()
        )));
        let found = self
            .with_user(statement.bind(&secret_digest[..]), session_from_row)
            .await?;
        Ok(found.map(|(session, user)| SessionRecord { session, user }))
    }

    async fn touch_sessions(&self, touches: &[Touch]) -> StoreResult<()> {
        if touches.is_empty() {
            return Ok(());
        }
        let mut tx = self.write().await?;
        for t in touches {
            query(
                "UPDATE sessions SET last_seen_at = $1, idle_expires_at = $2 \
                 WHERE id = $3 AND last_seen_at < $1 AND revoked_at IS NULL",
            )
            .bind(t.last_seen_at.unix())
            .bind(t.idle_expires_at.map(|i| i.unix()))
            .bind(&t.session_id)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await
    }

    async fn list_sessions(&self, user: UserId, now: Timestamp) -> StoreResult<Vec<Session>> {
        query(AssertSqlSafe(format!(
            "SELECT {SESSION_COLUMNS} FROM sessions s WHERE s.user_id = $1 \
             AND s.revoked_at IS NULL AND s.expires_at > $2 \
             AND (s.idle_expires_at IS NULL OR s.idle_expires_at > $2) \
             ORDER BY s.created_at DESC, s.id"
        )))
        .bind(user.0)
        .bind(now.unix())
        .fetch_all(self.reader(), session_from_row)
        .await
    }

    async fn revoke_session(
        &self,
        user: UserId,
        session_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let revocation = revocation(Owned::Session, user, session_id, now);
        Ok(self.write_one(revocation).await? == 1)
    }

    async fn revoke_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<u64> {
        self.write_one(
            query(
                "UPDATE sessions SET revoked_at = $1 \
                 WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
            )
            .bind(now.unix())
            .bind(user.0)
            .bind(keep.unwrap_or("")),
        )
        .await
    }

    async fn mark_cookie_resealed(&self, session_id: &str, at: Timestamp) -> StoreResult<()> {
        self.write_one(
            query("UPDATE sessions SET cookie_resealed_at = $1 WHERE id = $2")
                .bind(at.unix())
                .bind(session_id),
        )
        .await
        .map(drop)
    }

    async fn sessions_sealed_before(
        &self,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<(u64, Option<Timestamp>)> {
        let row = query(
            "SELECT COUNT(*) AS n, MAX(expires_at) AS last FROM sessions \
             WHERE kind IN ('password', 'idp') AND revoked_at IS NULL \
             AND expires_at > $1 AND (idle_expires_at IS NULL OR idle_expires_at > $1) \
             AND created_at <= $2 AND (cookie_resealed_at IS NULL OR cookie_resealed_at <= $2)",
        )
        .bind(now.unix())
        .bind(until.unix())
        .fetch_one(self.reader())
        .await?;
        let n: i64 = row.value("n")?;
        let last: Option<i64> = row.value("last")?;
        Ok((
            u64::try_from(n).unwrap_or(0),
            last.map(Timestamp::from_unix),
        ))
    }

    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64> {
        self.write_one(
            query(
                "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1 \
                 OR idle_expires_at < $1",
            )
            .bind(before.unix()),
        )
        .await
    }
}
