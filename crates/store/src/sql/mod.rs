//! The SQL behind both backends, written once.
//!
//! `impl_store!(Type, Db, "name")` implements [`tessera_core::Store`] and its five
//! capabilities for a type that provides `fn reader(&self) -> &Pool<Db>` and
//! `async fn write(&self) -> Result<Transaction<'static, Db>, sqlx::Error>`. Each
//! capability's SQL lives in its own file (`users.rs`, `sessions.rs`, `credentials.rs`,
//! `throttle.rs`, `audit.rs`); this file has what they share (row mappers, column lists,
//! error mapping). Only portable SQL appears; the conformance suite runs it on both
//! databases.

pub(crate) mod audit;
pub(crate) mod credentials;
pub(crate) mod sessions;
pub(crate) mod throttle;
pub(crate) mod users;

use std::collections::HashMap;

use tessera_core::credential::{ApiKey, PersonalToken};
use tessera_core::session::{Session, SessionKind, split_scopes};
use tessera_core::{Permission, PermissionSet, StoreError, Timestamp, User, UserId};

pub(crate) fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// Database errors as the store reports them: [`StoreError::Unavailable`], which every
/// caller turns into a refusal (fail closed). `query.await.db()?` instead of repeating
/// the mapping at each of the hundred calls.
pub(crate) trait Db<T> {
    fn db(self) -> Result<T, StoreError>;
}

impl<T> Db<T> for Result<T, sqlx::Error> {
    fn db(self) -> Result<T, StoreError> {
        self.map_err(unavailable)
    }
}

pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

/// The columns of `users` every query selects, in this order.
pub(crate) const USER_COLUMNS: &str =
    "id, login, first_name, last_name, lang, email, disabled, created_at, updated_at";

pub(crate) fn user_from_row<R>(row: &R, roles: Vec<String>) -> Result<User, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(User {
        id: UserId(row.try_get("id")?),
        login: row.try_get("login")?,
        first_name: row.try_get("first_name")?,
        last_name: row.try_get("last_name")?,
        lang: row.try_get("lang")?,
        email: row.try_get("email")?,
        disabled: row.try_get("disabled")?,
        roles,
        created_at: Timestamp::from_unix(row.try_get("created_at")?),
        updated_at: Timestamp::from_unix(row.try_get("updated_at")?),
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

pub(crate) fn session_from_row<R>(row: &R) -> Result<Session, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let kind: String = row.try_get("s_kind")?;
    Ok(Session {
        id: row.try_get("s_id")?,
        kind: SessionKind::parse(&kind)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown session kind `{kind}`").into()))?,
        user_id: UserId(row.try_get("s_user_id")?),
        api_key_id: row.try_get("s_api_key_id")?,
        scopes: split_scopes(row.try_get("s_scopes")?),
        created_at: Timestamp::from_unix(row.try_get("s_created_at")?),
        last_seen_at: Timestamp::from_unix(row.try_get("s_last_seen_at")?),
        idle_expires_at: row
            .try_get::<Option<i64>, _>("s_idle_expires_at")?
            .map(Timestamp::from_unix),
        expires_at: Timestamp::from_unix(row.try_get("s_expires_at")?),
        ip: row.try_get("s_ip")?,
        user_agent: row.try_get("s_user_agent")?,
    })
}

pub(crate) const PAT_COLUMNS: &str = "p.id AS p_id, p.user_id AS p_user_id, p.name AS p_name, \
     p.scopes AS p_scopes, p.created_at AS p_created_at, p.expires_at AS p_expires_at, \
     p.last_used_at AS p_last_used_at";

pub(crate) fn pat_from_row<R>(row: &R) -> Result<PersonalToken, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(PersonalToken {
        id: row.try_get("p_id")?,
        user_id: UserId(row.try_get("p_user_id")?),
        name: row.try_get("p_name")?,
        scopes: split_scopes(row.try_get("p_scopes")?),
        created_at: Timestamp::from_unix(row.try_get("p_created_at")?),
        expires_at: Timestamp::from_unix(row.try_get("p_expires_at")?),
        last_used_at: row
            .try_get::<Option<i64>, _>("p_last_used_at")?
            .map(Timestamp::from_unix),
    })
}

pub(crate) const KEY_COLUMNS: &str = "k.id AS k_id, k.user_id AS k_user_id, k.name AS k_name, \
     k.scopes AS k_scopes, k.created_at AS k_created_at, k.last_used_at AS k_last_used_at";

pub(crate) fn api_key_from_row<R>(row: &R) -> Result<ApiKey, sqlx::Error>
where
    R: sqlx::Row,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<i64>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> Option<String>: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ApiKey {
        id: row.try_get("k_id")?,
        user_id: UserId(row.try_get("k_user_id")?),
        name: row.try_get("k_name")?,
        scopes: split_scopes(row.try_get("k_scopes")?),
        created_at: Timestamp::from_unix(row.try_get("k_created_at")?),
        last_used_at: row
            .try_get::<Option<i64>, _>("k_last_used_at")?
            .map(Timestamp::from_unix),
    })
}

/// `u.id, u.login, ...`: the user columns qualified for a join.
pub(crate) fn user_columns_qualified() -> String {
    USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn group<K: std::hash::Hash + Eq, V>(pairs: Vec<(K, V)>) -> HashMap<K, Vec<V>> {
    let mut map: HashMap<K, Vec<V>> = HashMap::new();
    for (k, v) in pairs {
        map.entry(k).or_default().push(v);
    }
    map
}

/// Implements [`tessera_core::Store`] and every capability trait for `$store` on `$db`.
macro_rules! impl_store {
    ($store:ty, $db:ty, $name:literal) => {
        #[async_trait::async_trait]
        impl tessera_core::store::Store for $store {
            fn backend(&self) -> &'static str {
                $name
            }

            async fn ping(&self) -> tessera_core::store::StoreResult<()> {
                sqlx::query("SELECT 1")
                    .execute(self.reader())
                    .await
                    .map(drop)
                    .db()
            }
        }

        impl $store {
            /// Runs one statement in a write transaction of its own and commits it;
            /// returns the rows it affected. Any database error is `Unavailable`.
            async fn write_one(
                &self,
                query: sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments>,
            ) -> tessera_core::store::StoreResult<u64> {
                let mut tx = self.write().await.db()?;
                let n = query.execute(&mut *tx).await.db()?.rows_affected();
                tx.commit().await.db()?;
                Ok(n)
            }
        }

        $crate::sql::users::impl_user_store!($store, $db);
        $crate::sql::sessions::impl_session_store!($store, $db);
        $crate::sql::credentials::impl_credential_store!($store, $db);
        $crate::sql::throttle::impl_throttle_store!($store, $db);
        $crate::sql::audit::impl_audit_store!($store, $db);
    };
}

pub(crate) use impl_store;
