//! `AuditStore`: the security-event log.
//!
//! The SQL of one capability, written once for both backends: the macro expands in
//! `sqlite.rs` and `postgres.rs` (see `sql/mod.rs`).

/// Implements `audit store` for `$store` on database `$db`.
macro_rules! impl_audit_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl tessera_core::store::AuditStore for $store {
            async fn append_audit(
                &self,
                e: &tessera_core::audit::AuditEvent,
            ) -> tessera_core::store::StoreResult<()> {
                let mut tx = self.write().await.db()?;
                sqlx::query(
                    "INSERT INTO audit_log (at, event, outcome, user_id, login, method, ip, user_agent, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(e.at.unix())
                .bind(&e.event)
                .bind(&e.outcome)
                .bind(e.user_id.map(|u| u.0))
                .bind(&e.login)
                .bind(&e.method)
                .bind(&e.ip)
                .bind(&e.user_agent)
                .bind(&e.detail)
                .execute(&mut *tx)
                .await
                .db()?;
                tx.commit().await.db()
            }

            async fn list_audit(
                &self,
                user: Option<tessera_core::UserId>,
                since: tessera_core::Timestamp,
                limit: u32,
            ) -> tessera_core::store::StoreResult<Vec<tessera_core::audit::AuditEvent>> {
                type Row = (i64, String, String, Option<i64>, Option<String>, Option<String>, Option<String>, Option<String>, Option<String>);
                let cols = "at, event, outcome, user_id, login, method, ip, user_agent, detail";
                let rows: Vec<Row> = match user {
                    Some(u) => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {cols} FROM audit_log WHERE user_id = $1 AND at >= $2 ORDER BY at DESC, id DESC LIMIT $3"
                    )))
                    .bind(u.0)
                    .bind(since.unix())
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await,
                    None => sqlx::query_as(sqlx::AssertSqlSafe(format!(
                        "SELECT {cols} FROM audit_log WHERE at >= $1 ORDER BY at DESC, id DESC LIMIT $2"
                    )))
                    .bind(since.unix())
                    .bind(i64::from(limit))
                    .fetch_all(self.reader())
                    .await,
                }
                .db()?;
                Ok(rows
                    .into_iter()
                    .map(|(at, event, outcome, user_id, login, method, ip, user_agent, detail)| {
                        tessera_core::audit::AuditEvent {
                            at: tessera_core::Timestamp::from_unix(at),
                            event,
                            outcome,
                            user_id: user_id.map(tessera_core::UserId),
                            login,
                            method,
                            ip,
                            user_agent,
                            detail,
                        }
                    })
                    .collect())
            }
        }
    };
}

pub(crate) use impl_audit_store;
