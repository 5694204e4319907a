//! `AuditStore`: the security-event log.

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use tessera_core::audit::{AuditEvent, AuditFilter};
use tessera_core::store::{AuditStore, StoreResult};
use tessera_core::{Timestamp, UserId};

use super::SqlStore;
use super::backend::{Backend, Columns, Get, Query, query};

/// The columns of `audit_log` a listing selects.
const AUDIT_COLUMNS: &str =
    "at, event, outcome, user_id, login, method, ip, user_agent, detail, request_id";

/// The statement appending an event to the audit log.
pub(super) fn insert<DB: Backend>(e: &AuditEvent) -> Query<DB> {
    // Every field, by name: one added to the event cannot be left out here.
    let AuditEvent {
        at,
        event,
        outcome,
        user_id,
        login,
        method,
        ip,
        user_agent,
        detail,
        request_id,
    } = e;
    query(AssertSqlSafe(format!(
        "INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )))
    .bind(at.unix())
    .bind(event)
    .bind(outcome)
    .bind(user_id.map(|u| u.0))
    .bind(login)
    .bind(method)
    .bind(ip)
    .bind(user_agent)
    .bind(detail)
    .bind(request_id)
}

#[async_trait]
impl<DB: Backend> AuditStore for SqlStore<DB> {
    async fn append_audit(&self, e: &AuditEvent) -> StoreResult<()> {
        self.write_one(insert(e)).await.map(drop)
    }

    async fn list_audit(
        &self,
        user: Option<UserId>,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>> {
        match user {
            Some(u) => query(AssertSqlSafe(format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE user_id = $1 AND at >= $2 \
                 ORDER BY at DESC, id DESC LIMIT $3"
            )))
            .bind(u.0),
            None => query(AssertSqlSafe(format!(
                "SELECT {AUDIT_COLUMNS} FROM audit_log WHERE at >= $1 \
                 ORDER BY at DESC, id DESC LIMIT $2"
            ))),
        }
        .bind(since.unix())
        .bind(i64::from(limit))
        .fetch_all(self.reader(), audit_from_row)
        .await
    }

    async fn search_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>> {
        let AuditFilter {
            login,
            event,
            outcome,
            from,
            to,
            offset,
            limit,
        } = filter;
        // Only the conditions that are set, each with the next placeholder.
        let mut conditions = Vec::new();
        let mut condition = |sql: &str| {
            let n = conditions.len() + 1;
            // `lower(` opens a call the placeholder closes.
            let close = if sql.ends_with('(') { ")" } else { "" };
            conditions.push(format!("{sql}${n}{close}"));
        };
        for (set, sql) in [
            (login.is_some(), "lower(login) = lower("),
            (event.is_some(), "event = "),
            (outcome.is_some(), "outcome = "),
            (from.is_some(), "at >= "),
            (to.is_some(), "at < "),
        ] {
            if set {
                condition(sql);
            }
        }
        let next = conditions.len() + 1;
        let wheres = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let mut statement = query(AssertSqlSafe(format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_log {wheres} \
             ORDER BY at DESC, id DESC LIMIT ${next} OFFSET ${}",
            next + 1
        )));
        for text in [login, event, outcome].into_iter().flatten() {
            statement = statement.bind(text);
        }
        for time in [from, to].into_iter().flatten() {
            statement = statement.bind(time.unix());
        }
        statement
            .bind(i64::from(*limit))
            .bind(i64::try_from(*offset).unwrap_or(i64::MAX))
            .fetch_all(self.reader(), audit_from_row)
            .await
    }

    async fn last_logins(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Timestamp)>> {
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=users.len()).map(|n| format!("${n}")).collect();
        let mut statement = query(AssertSqlSafe(format!(
            "SELECT user_id, MAX(at) FROM audit_log \
             WHERE user_id IN ({}) AND event = 'login' AND outcome = 'success' \
             GROUP BY user_id",
            placeholders.join(", ")
        )));
        for user in users {
            statement = statement.bind(user.0);
        }
        statement
            .fetch_all(self.reader(), |row| {
                Ok((
                    UserId(row.value_at(0)?),
                    Timestamp::from_unix(row.value_at(1)?),
                ))
            })
            .await
    }
}

fn audit_from_row<R: Columns>(row: &R) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        at: Timestamp::from_unix(row.value("at")?),
        event: row.value("event")?,
        outcome: row.value("outcome")?,
        user_id: Get::<Option<i64>>::value(row, "user_id")?.map(UserId),
        login: row.value("login")?,
        method: row.value("method")?,
        ip: row.value("ip")?,
        user_agent: row.value("user_agent")?,
        detail: row.value("detail")?,
        request_id: row.value("request_id")?,
    })
}
