//! The SQL behind both backends, written once as ordinary generic code.
//!
//! [`SqlStore<DB>`] is the store on either database: a pool of readers, a writer pool
//! and how a write transaction begins. `SqliteStore` and `PostgresStore` are its two
//! instances; `sqlite.rs` and `postgres.rs` only open them (SQLite: one writer
//! connection whose transactions begin `BEGIN IMMEDIATE`, beside read-only connections;
//! PostgreSQL: one pool for both). Each capability of [`tessera_core::Store`] is an
//! `impl<DB: Backend> ... for SqlStore<DB>` in a file of its own (`users.rs`,
//! `sessions.rs`, `credentials.rs`, `throttle.rs`, `audit.rs`); `backend.rs` says what
//! the SQL needs of a database, builds statements and maps every database error to a
//! [`tessera_core::StoreError`] in one place; this file has the store, its transactions
//! ([`SqlStore::write`], [`SqlStore::write_one`]) and what the capabilities share (row
//! mappers, column lists, revocation by public id). Only portable SQL appears (`$n`
//! placeholders, which SQLite reads positionally); the conformance suite runs it on both
//! databases.

pub(crate) mod audit;
pub(crate) mod backend;
pub(crate) mod credentials;
pub(crate) mod revocations;
pub(crate) mod sessions;
pub(crate) mod throttle;
pub(crate) mod users;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Database, Pool};
use tessera_core::credential::{ApiKey, PersonalToken};
use tessera_core::session::{Session, SessionKind, split_scopes};
use tessera_core::store::{Owned, RevocationNotice, Store, StoreResult};
use tessera_core::{Permission, PermissionSet, Timestamp, User, UserId};

use backend::{Backend, Columns, Query, Tx, query, unavailable};

/// A [`tessera_core::Store`] on one database: reads on a pool of readers, writes in
/// transactions on the writer pool.
pub struct SqlStore<DB: Database> {
    pub(crate) readers: Pool<DB>,
    pub(crate) writer: Pool<DB>,
    /// The statement that begins a write transaction (SQLite: `BEGIN IMMEDIATE`, so that
    /// a write never fails half-way with `SQLITE_BUSY`); `None` for the driver's own.
    pub(crate) begin: Option<&'static str>,
    /// What [`Store::backend`] answers.
    pub(crate) name: &'static str,
}

impl<DB: Backend> SqlStore<DB> {
    /// The pool that serves reads.
    pub(crate) fn reader(&self) -> &Pool<DB> {
        &self.readers
    }

    /// Begins a write transaction on the writer pool.
    pub(crate) async fn write(&self) -> StoreResult<Tx<DB>> {
        let tx = match self.begin {
            Some(statement) => self.writer.begin_with(statement).await,
            None => self.writer.begin().await,
        };
        tx.map(Tx).map_err(unavailable)
    }

    /// Runs one statement in a write transaction of its own and commits it; returns the
    /// rows it changed.
    pub(crate) async fn write_one(&self, statement: Query<DB>) -> StoreResult<u64> {
        let mut tx = self.write().await?;
        let n = statement.execute(&mut tx).await?;
        tx.commit().await?;
        Ok(n)
    }
}

#[async_trait]
impl<DB: Backend> Store for SqlStore<DB> {
    fn backend(&self) -> &'static str {
        self.name
    }

    async fn ping(&self) -> StoreResult<()> {
        query("SELECT 1").execute(self.reader()).await.map(drop)
    }

    async fn follow_revocations(&self, notices: tokio::sync::mpsc::Sender<RevocationNotice>) {
        DB::follow_revocations(self, notices).await;
    }

    async fn purge_revocations(&self, before: Timestamp) -> StoreResult<u64> {
        DB::purge_revocations(self, before).await
    }
}

/// The columns of `users` every query selects, in this order.
pub(crate) const USER_COLUMNS: &str =
    "id, login, first_name, last_name, lang, email, disabled, created_at, updated_at";

/// `u.id, u.login, ...`: the user columns qualified for a join.
pub(crate) fn user_columns_qualified() -> String {
    USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn user_from_row<R: Columns>(row: &R, roles: Vec<String>) -> StoreResult<User> {
    Ok(User {
        id: UserId(row.value("id")?),
        login: row.value("login")?,
        first_name: row.value("first_name")?,
        last_name: row.value("last_name")?,
        lang: row.value("lang")?,
        email: row.value("email")?,
        disabled: row.value("disabled")?,
        roles,
        created_at: Timestamp::from_unix(row.value("created_at")?),
        updated_at: Timestamp::from_unix(row.value("updated_at")?),
    })
}

/// Turns stored permission strings into a set, skipping (and logging) any that no longer
/// parse rather than failing every request of the users who hold them.
pub(crate) fn permission_set(raw: impl IntoIterator<Item = String>) -> PermissionSet {
    raw.into_iter()
        .filter_map(|p| match Permission::parse(&p) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(error = %e, "ignoring an invalid stored permission");
                None
            }
        })
        .collect()
}

/// The columns of `sessions` every query selects, aliased so they can sit beside `users`.
pub(crate) const SESSION_COLUMNS: &str = "s.id AS s_id, s.kind AS s_kind, s.user_id AS s_user_id, \
     s.api_key_id AS s_api_key_id, s.scopes AS s_scopes, s.created_at AS s_created_at, \
     s.last_seen_at AS s_last_seen_at, s.idle_expires_at AS s_idle_expires_at, \
     s.expires_at AS s_expires_at, s.ip AS s_ip, s.user_agent AS s_user_agent";

pub(crate) fn session_from_row<R: Columns>(row: &R) -> StoreResult<Session> {
    let kind: String = row.value("s_kind")?;
    let Some(kind) = SessionKind::parse(&kind) else {
        let why = format!("unknown session kind `{kind}`");
        return Err(unavailable(sqlx::Error::Decode(why.into())));
    };
    Ok(Session {
        id: row.value("s_id")?,
        kind,
        user_id: UserId(row.value("s_user_id")?),
        api_key_id: row.value("s_api_key_id")?,
        scopes: split_scopes(row.value("s_scopes")?),
        created_at: Timestamp::from_unix(row.value("s_created_at")?),
        last_seen_at: Timestamp::from_unix(row.value("s_last_seen_at")?),
        idle_expires_at: optional_time(row, "s_idle_expires_at")?,
        expires_at: Timestamp::from_unix(row.value("s_expires_at")?),
        ip: row.value("s_ip")?,
        user_agent: row.value("s_user_agent")?,
    })
}

/// The columns of `personal_tokens` every query selects, the table aliased `c`. Its
/// columns are those of `api_keys` (and named alike) plus an expiry.
pub(crate) const PAT_COLUMNS: &str = "c.id AS c_id, c.user_id AS c_user_id, c.name AS c_name, \
     c.scopes AS c_scopes, c.created_at AS c_created_at, c.last_used_at AS c_last_used_at, \
     c.expires_at AS c_expires_at, c.prefix AS c_prefix, CAST(NULL AS BIGINT) AS c_disabled_at";

/// The columns of `api_keys` every query selects, the table aliased `c`.
pub(crate) const KEY_COLUMNS: &str = "c.id AS c_id, c.user_id AS c_user_id, c.name AS c_name, \
     c.scopes AS c_scopes, c.created_at AS c_created_at, c.last_used_at AS c_last_used_at, \
     c.disabled_at AS c_disabled_at";

pub(crate) fn api_key_from_row<R: Columns>(row: &R) -> StoreResult<ApiKey> {
    Ok(ApiKey {
        id: row.value("c_id")?,
        user_id: UserId(row.value("c_user_id")?),
        name: row.value("c_name")?,
        scopes: split_scopes(row.value("c_scopes")?),
        created_at: Timestamp::from_unix(row.value("c_created_at")?),
        last_used_at: optional_time(row, "c_last_used_at")?,
        disabled_at: optional_time(row, "c_disabled_at")?,
    })
}

/// A personal token: the columns of an API key, and an expiry.
pub(crate) fn pat_from_row<R: Columns>(row: &R) -> StoreResult<PersonalToken> {
    let ApiKey {
        id,
        user_id,
        name,
        scopes,
        created_at,
        last_used_at,
        disabled_at: _,
    } = api_key_from_row(row)?;
    let expires_at = Timestamp::from_unix(row.value("c_expires_at")?);
    let prefix = row.value("c_prefix")?;
    Ok(PersonalToken {
        prefix,
        id,
        user_id,
        name,
        scopes,
        created_at,
        expires_at,
        last_used_at,
    })
}

/// A nullable time column.
fn optional_time<R: Columns>(row: &R, name: &str) -> StoreResult<Option<Timestamp>> {
    let unix: Option<i64> = row.value(name)?;
    Ok(unix.map(Timestamp::from_unix))
}

/// The table of what a user owns by public id.
pub(crate) fn table(what: Owned) -> &'static str {
    match what {
        Owned::Session => "sessions",
        Owned::PersonalToken => "personal_tokens",
        Owned::ApiKey => "api_keys",
    }
}

/// The statement that revokes one of the user's sessions, tokens or keys, unless already
/// revoked: it changes one row, or none when the user has no such live one.
pub(crate) fn revocation<DB: Backend>(
    what: Owned,
    user: UserId,
    id: &str,
    now: Timestamp,
) -> Query<DB> {
    query(AssertSqlSafe(format!(
        "UPDATE {} SET revoked_at = $1 WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
        table(what)
    )))
    .bind(now.unix())
    .bind(user.0)
    .bind(id)
}
