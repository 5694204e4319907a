//! The SQL behind both backends, written once.
//!
//! `impl_store!(Type, Db, "name")` implements [`tessera_core::Store`] for a type that
//! provides `fn reader(&self) -> &Pool<Db>` and
//! `async fn write(&self) -> Result<Transaction<'static, Db>, sqlx::Error>`.
//! Only portable SQL appears here; the conformance suite runs it on both databases.

use std::collections::HashMap;

use tessera_core::credential::{ApiKey, PersonalToken};
use tessera_core::session::{Session, SessionKind, split_scopes};
use tessera_core::{Permission, PermissionSet, StoreError, Timestamp, User, UserId};

pub(crate) fn unavailable(e: sqlx::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
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
                    .map_err($crate::sql::unavailable)
            }
        }

        #[async_trait::async_trait]
        impl tessera_core::store::UserStore for $store {
            async fn create_user(
                &self,
                user: &tessera_core::NewUser,
                password_hash: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<tessera_core::User> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let inserted: Result<i64, sqlx::Error> = sqlx::query_scalar(
                    "INSERT INTO users (login, login_key, password_hash, first_name, last_name, \
                     lang, email, disabled, password_changed_at, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE, $8, $8, $8) RETURNING id",
                )
                .bind(user.login.as_str())
                .bind(user.login.key())
                .bind(password_hash)
                .bind(&user.first_name)
                .bind(&user.last_name)
                .bind(&user.lang)
                .bind(&user.email)
                .bind(now.unix())
                .fetch_one(&mut *tx)
                .await;
                let id = match inserted {
                    Ok(id) => id,
                    Err(e) if $crate::sql::is_unique_violation(&e) => {
                        return Err(tessera_core::StoreError::Conflict(format!(
                            "a user with the login `{}` (compared ignoring case)",
                            user.login
                        )));
                    }
                    Err(e) => return Err(unavailable(e)),
                };
                let mut roles = user.roles.clone();
                roles.sort();
                roles.dedup();
                for role in &roles {
                    let exists: Option<i32> =
                        sqlx::query_scalar("SELECT 1 FROM roles WHERE name = $1")
                            .bind(role)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(unavailable)?;
                    if exists.is_none() {
                        return Err(tessera_core::StoreError::UnknownRole(role.clone()));
                    }
                    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                        .bind(id)
                        .bind(role)
                        .execute(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                }
                tx.commit().await.map_err(unavailable)?;
                Ok(tessera_core::User {
                    id: tessera_core::UserId(id),
                    login: user.login.as_str().to_owned(),
                    first_name: user.first_name.clone(),
                    last_name: user.last_name.clone(),
                    lang: user.lang.clone(),
                    email: user.email.clone(),
                    disabled: false,
                    roles,
                    created_at: now,
                    updated_at: now,
                })
            }

            async fn user_by_login(
                &self,
                login_key: &str,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::store::UserCredentials>>
            {
                use $crate::sql::unavailable;
                use sqlx::Row as _;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, password_hash FROM users WHERE login_key = $1",
                    $crate::sql::USER_COLUMNS
                )))
                .bind(login_key)
                .fetch_optional(self.reader())
                .await
                .map_err(unavailable)?;
                let Some(row) = row else { return Ok(None) };
                let id: i64 = row.try_get("id").map_err(unavailable)?;
                let roles = self.roles_of(id).await?;
                let user = $crate::sql::user_from_row(&row, roles).map_err(unavailable)?;
                let password_hash = row.try_get("password_hash").map_err(unavailable)?;
                Ok(Some(tessera_core::store::UserCredentials { user, password_hash }))
            }

            async fn user_by_id(
                &self,
                id: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::User>> {
                use $crate::sql::unavailable;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users WHERE id = $1",
                    $crate::sql::USER_COLUMNS
                )))
                .bind(id.0)
                .fetch_optional(self.reader())
                .await
                .map_err(unavailable)?;
                let Some(row) = row else { return Ok(None) };
                let roles = self.roles_of(id.0).await?;
                Ok(Some($crate::sql::user_from_row(&row, roles).map_err(unavailable)?))
            }

            async fn list_users(&self) -> tessera_core::store::StoreResult<Vec<tessera_core::User>> {
                use $crate::sql::unavailable;
                use sqlx::Row as _;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users ORDER BY login_key",
                    $crate::sql::USER_COLUMNS
                )))
                .fetch_all(self.reader())
                .await
                .map_err(unavailable)?;
                let pairs: Vec<(i64, String)> =
                    sqlx::query_as("SELECT user_id, role FROM user_roles ORDER BY user_id, role")
                        .fetch_all(self.reader())
                        .await
                        .map_err(unavailable)?;
                let mut roles = $crate::sql::group(pairs);
                rows.iter()
                    .map(|row| {
                        let id: i64 = row.try_get("id")?;
                        $crate::sql::user_from_row(row, roles.remove(&id).unwrap_or_default())
                    })
                    .collect::<Result<_, _>>()
                    .map_err(unavailable)
            }

            async fn count_users(&self) -> tessera_core::store::StoreResult<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(self.reader())
                    .await
                    .map_err($crate::sql::unavailable)?;
                Ok(n.max(0) as u64)
            }

            async fn set_password(
                &self,
                id: tessera_core::UserId,
                hash: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let updated = sqlx::query(
                    "UPDATE users SET password_hash = $1, password_changed_at = $2, \
                     updated_at = $2 WHERE id = $3",
                )
                .bind(hash)
                .bind(now.unix())
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                // A new password ends what the old one opened (directly or through keys).
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 \
                     AND revoked_at IS NULL AND kind IN ('password', 'api_key')",
                )
                .bind(now.unix())
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)?;
                Ok(updated == 1)
            }

            async fn rehash_password(
                &self,
                id: tessera_core::UserId,
                old_hash: &str,
                new_hash: &str,
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                    .bind(new_hash)
                    .bind(id.0)
                    .bind(old_hash)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)
            }

            async fn set_disabled(
                &self,
                id: tessera_core::UserId,
                disabled: bool,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let updated =
                    sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
                        .bind(disabled)
                        .bind(now.unix())
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(unavailable)?
                        .rows_affected();
                if disabled {
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now.unix())
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                }
                tx.commit().await.map_err(unavailable)?;
                Ok(updated == 1)
            }

            async fn create_role(
                &self,
                role: &tessera_core::Role,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let inserted = sqlx::query(
                    "INSERT INTO roles (name, builtin, created_at) VALUES ($1, FALSE, $2)",
                )
                .bind(&role.name)
                .bind(now.unix())
                .execute(&mut *tx)
                .await;
                match inserted {
                    Ok(_) => {}
                    Err(e) if $crate::sql::is_unique_violation(&e) => {
                        return Err(tessera_core::StoreError::Conflict(format!(
                            "a role named `{}`",
                            role.name
                        )));
                    }
                    Err(e) => return Err(unavailable(e)),
                }
                for permission in role.permissions.iter() {
                    sqlx::query("INSERT INTO role_permissions (role, permission) VALUES ($1, $2)")
                        .bind(&role.name)
                        .bind(permission.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(unavailable)?;
                }
                tx.commit().await.map_err(unavailable)
            }

            async fn list_roles(&self) -> tessera_core::store::StoreResult<Vec<tessera_core::Role>> {
                use $crate::sql::unavailable;
                let names: Vec<String> = sqlx::query_scalar("SELECT name FROM roles ORDER BY name")
                    .fetch_all(self.reader())
                    .await
                    .map_err(unavailable)?;
                let pairs: Vec<(String, String)> = sqlx::query_as(
                    "SELECT role, permission FROM role_permissions ORDER BY role, permission",
                )
                .fetch_all(self.reader())
                .await
                .map_err(unavailable)?;
                let mut perms = $crate::sql::group(pairs);
                Ok(names
                    .into_iter()
                    .map(|name| tessera_core::Role {
                        permissions: $crate::sql::permission_set(
                            perms.remove(&name).unwrap_or_default(),
                        ),
                        name,
                    })
                    .collect())
            }

            async fn grant_role(
                &self,
                id: tessera_core::UserId,
                role: &str,
            ) -> tessera_core::store::StoreResult<bool> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM roles WHERE name = $1")
                    .bind(role)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                if exists.is_none() {
                    return Err(tessera_core::StoreError::UnknownRole(role.to_owned()));
                }
                let granted = sqlx::query(
                    "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                )
                .bind(id.0)
                .bind(role)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                tx.commit().await.map_err(unavailable)?;
                Ok(granted == 1)
            }

            async fn revoke_role(
                &self,
                id: tessera_core::UserId,
                role: &str,
            ) -> tessera_core::store::StoreResult<bool> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let revoked = sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
                    .bind(id.0)
                    .bind(role)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?
                    .rows_affected();
                tx.commit().await.map_err(unavailable)?;
                Ok(revoked == 1)
            }

            async fn permissions_of(
                &self,
                id: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<tessera_core::PermissionSet> {
                let raw: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT rp.permission FROM user_roles ur \
                     JOIN role_permissions rp ON rp.role = ur.role WHERE ur.user_id = $1",
                )
                .bind(id.0)
                .fetch_all(self.reader())
                .await
                .map_err($crate::sql::unavailable)?;
                Ok($crate::sql::permission_set(raw))
            }
        }

        #[async_trait::async_trait]
        impl tessera_core::store::SessionStore for $store {
            async fn create_session(
                &self,
                session: &tessera_core::session::Session,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
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
                .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)
            }

            async fn session_by_secret(
                &self,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<Option<tessera_core::store::SessionRecord>> {
                use $crate::sql::unavailable;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, {} FROM sessions s JOIN users u ON u.id = s.user_id \
                     WHERE s.secret_hash = $1 AND s.revoked_at IS NULL",
                    $crate::sql::SESSION_COLUMNS,
                    $crate::sql::user_columns_qualified()
                )))
                .bind(&secret_digest[..])
                .fetch_optional(self.reader())
                .await
                .map_err(unavailable)?;
                let Some(row) = row else { return Ok(None) };
                let session = $crate::sql::session_from_row(&row).map_err(unavailable)?;
                let roles = self.roles_of(session.user_id.0).await?;
                let user = $crate::sql::user_from_row(&row, roles).map_err(unavailable)?;
                Ok(Some(tessera_core::store::SessionRecord { session, user }))
            }

            async fn touch_sessions(
                &self,
                touches: &[tessera_core::store::Touch],
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                if touches.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write().await.map_err(unavailable)?;
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
                    .map_err(unavailable)?;
                }
                tx.commit().await.map_err(unavailable)
            }

            async fn list_sessions(
                &self,
                user: tessera_core::UserId,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<Vec<tessera_core::session::Session>> {
                use $crate::sql::unavailable;
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
                .map_err(unavailable)?;
                rows.iter()
                    .map($crate::sql::session_from_row)
                    .collect::<Result<_, _>>()
                    .map_err(unavailable)
            }

            async fn revoke_session(
                &self,
                user: tessera_core::UserId,
                session_id: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let n = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 \
                     WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(now.unix())
                .bind(user.0)
                .bind(session_id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                tx.commit().await.map_err(unavailable)?;
                Ok(n == 1)
            }

            async fn revoke_sessions(
                &self,
                user: tessera_core::UserId,
                keep: Option<&str>,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<u64> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let n = sqlx::query(
                    "UPDATE sessions SET revoked_at = $1 \
                     WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
                )
                .bind(now.unix())
                .bind(user.0)
                .bind(keep.unwrap_or(""))
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                tx.commit().await.map_err(unavailable)?;
                Ok(n)
            }

            async fn purge_sessions(
                &self,
                before: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<u64> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let n = sqlx::query(
                    "DELETE FROM sessions WHERE expires_at < $1 OR revoked_at < $1 \
                     OR idle_expires_at < $1",
                )
                .bind(before.unix())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                tx.commit().await.map_err(unavailable)?;
                Ok(n)
            }
        }

        #[async_trait::async_trait]
        impl tessera_core::store::CredentialStore for $store {
            async fn create_pat(
                &self,
                pat: &tessera_core::credential::PersonalToken,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                insert_pat(&mut tx, pat, secret_digest).await?;
                tx.commit().await.map_err(unavailable)
            }

            async fn pat_by_secret(
                &self,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<
                Option<(tessera_core::credential::PersonalToken, tessera_core::User)>,
            > {
                use $crate::sql::unavailable;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, {} FROM personal_tokens p JOIN users u ON u.id = p.user_id \
                     WHERE p.secret_hash = $1 AND p.revoked_at IS NULL",
                    $crate::sql::PAT_COLUMNS,
                    $crate::sql::user_columns_qualified()
                )))
                .bind(&secret_digest[..])
                .fetch_optional(self.reader())
                .await
                .map_err(unavailable)?;
                let Some(row) = row else { return Ok(None) };
                let pat = $crate::sql::pat_from_row(&row).map_err(unavailable)?;
                let roles = self.roles_of(pat.user_id.0).await?;
                let user = $crate::sql::user_from_row(&row, roles).map_err(unavailable)?;
                Ok(Some((pat, user)))
            }

            async fn list_pats(
                &self,
                user: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<Vec<tessera_core::credential::PersonalToken>> {
                use $crate::sql::unavailable;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM personal_tokens p WHERE p.user_id = $1 AND p.revoked_at IS NULL \
                     ORDER BY p.created_at DESC, p.id",
                    $crate::sql::PAT_COLUMNS
                )))
                .bind(user.0)
                .fetch_all(self.reader())
                .await
                .map_err(unavailable)?;
                rows.iter().map($crate::sql::pat_from_row).collect::<Result<_, _>>().map_err(unavailable)
            }

            async fn revoke_pat(
                &self,
                user: tessera_core::UserId,
                id: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let n = sqlx::query(
                    "UPDATE personal_tokens SET revoked_at = $1 \
                     WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(now.unix())
                .bind(user.0)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                tx.commit().await.map_err(unavailable)?;
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
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let n = sqlx::query(
                    "UPDATE personal_tokens SET revoked_at = $1 \
                     WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(now.unix())
                .bind(user.0)
                .bind(old_id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                if n != 1 {
                    return Ok(false);
                }
                insert_pat(&mut tx, new, secret_digest).await?;
                tx.commit().await.map_err(unavailable)?;
                Ok(true)
            }

            async fn touch_pats(
                &self,
                uses: &[(String, tessera_core::Timestamp)],
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                if uses.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write().await.map_err(unavailable)?;
                for (id, at) in uses {
                    sqlx::query(
                        "UPDATE personal_tokens SET last_used_at = $1 \
                         WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
                    )
                    .bind(at.unix())
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                }
                tx.commit().await.map_err(unavailable)
            }

            async fn create_api_key(
                &self,
                key: &tessera_core::credential::ApiKey,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
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
                .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)
            }

            async fn api_key(
                &self,
                id: &str,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::store::ApiKeyRecord>> {
                use $crate::sql::unavailable;
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
                .map_err(unavailable)?;
                let Some(row) = row else { return Ok(None) };
                let key = $crate::sql::api_key_from_row(&row).map_err(unavailable)?;
                let secret_digest: Vec<u8> = row.try_get("k_secret_hash").map_err(unavailable)?;
                let roles = self.roles_of(key.user_id.0).await?;
                let user = $crate::sql::user_from_row(&row, roles).map_err(unavailable)?;
                Ok(Some(tessera_core::store::ApiKeyRecord { key, secret_digest, user }))
            }

            async fn list_api_keys(
                &self,
                user: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<Vec<tessera_core::credential::ApiKey>> {
                use $crate::sql::unavailable;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM api_keys k WHERE k.user_id = $1 AND k.revoked_at IS NULL \
                     ORDER BY k.created_at DESC, k.id",
                    $crate::sql::KEY_COLUMNS
                )))
                .bind(user.0)
                .fetch_all(self.reader())
                .await
                .map_err(unavailable)?;
                rows.iter().map($crate::sql::api_key_from_row).collect::<Result<_, _>>().map_err(unavailable)
            }

            async fn delete_api_key(
                &self,
                user: tessera_core::UserId,
                id: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let n = sqlx::query(
                    "UPDATE api_keys SET revoked_at = $1 WHERE user_id = $2 AND id = $3 AND revoked_at IS NULL",
                )
                .bind(now.unix())
                .bind(user.0)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
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
                .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)?;
                Ok(true)
            }

            async fn client_secret(
                &self,
                user: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::credential::StoredClientSecret>> {
                use $crate::sql::unavailable;
                let row: Option<(Vec<u8>, i64, i64)> = sqlx::query_as(
                    "SELECT ciphertext, created_at, expires_at FROM client_secrets WHERE user_id = $1",
                )
                .bind(user.0)
                .fetch_optional(self.reader())
                .await
                .map_err(unavailable)?;
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
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
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
                .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)
            }

            async fn client_secret_owner(
                &self,
                secret_digest: &[u8; 32],
            ) -> tessera_core::store::StoreResult<Option<(tessera_core::User, tessera_core::Timestamp)>> {
                use $crate::sql::unavailable;
                use sqlx::Row as _;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT c.expires_at AS c_expires_at, {} FROM client_secrets c \
                     JOIN users u ON u.id = c.user_id WHERE c.secret_hash = $1",
                    $crate::sql::user_columns_qualified()
                )))
                .bind(&secret_digest[..])
                .fetch_optional(self.reader())
                .await
                .map_err(unavailable)?;
                let Some(row) = row else { return Ok(None) };
                let id: i64 = row.try_get("id").map_err(unavailable)?;
                let expires: i64 = row.try_get("c_expires_at").map_err(unavailable)?;
                let roles = self.roles_of(id).await?;
                let user = $crate::sql::user_from_row(&row, roles).map_err(unavailable)?;
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
                    .map_err($crate::sql::unavailable)?;
                Ok(owner.map(tessera_core::UserId))
            }
        }

        #[async_trait::async_trait]
        impl tessera_core::store::ThrottleStore for $store {
            async fn register_attempt(
                &self,
                scope: tessera_core::throttle::Scope,
                subject: &str,
                limit: &tessera_core::throttle::Limit,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<tessera_core::throttle::Attempt> {
                use $crate::sql::unavailable;
                use tessera_core::throttle::Attempt;
                let mut tx = self.write().await.map_err(unavailable)?;
                sqlx::query(
                    "INSERT INTO login_failures (scope, subject, failures, first_failed_at, last_failed_at) \
                     VALUES ($1, $2, 0, $3, $3) ON CONFLICT (scope, subject) DO NOTHING",
                )
                .bind(scope.as_str())
                .bind(subject)
                .bind(now.unix())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?;
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
                .map_err(unavailable)?;
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
                        .map_err(unavailable)?;
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
                                .map_err(unavailable)?;
                        }
                        Attempt::Allowed
                    }
                };
                tx.commit().await.map_err(unavailable)?;
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
                .map_err($crate::sql::unavailable)?;
                Ok(until.flatten().filter(|u| *u > now.unix()).map(tessera_core::Timestamp::from_unix))
            }

            async fn purge_attempts(
                &self,
                before: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<u64> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                let n = sqlx::query(
                    "DELETE FROM login_failures WHERE last_failed_at < $1 \
                     AND (locked_until IS NULL OR locked_until < $1)",
                )
                .bind(before.unix())
                .execute(&mut *tx)
                .await
                .map_err(unavailable)?
                .rows_affected();
                tx.commit().await.map_err(unavailable)?;
                Ok(n)
            }

            async fn clear_attempts(
                &self,
                scope: tessera_core::throttle::Scope,
                subject: &str,
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
                sqlx::query("DELETE FROM login_failures WHERE scope = $1 AND subject = $2")
                    .bind(scope.as_str())
                    .bind(subject)
                    .execute(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)
            }
        }

        #[async_trait::async_trait]
        impl tessera_core::store::AuditStore for $store {
            async fn append_audit(
                &self,
                e: &tessera_core::audit::AuditEvent,
            ) -> tessera_core::store::StoreResult<()> {
                use $crate::sql::unavailable;
                let mut tx = self.write().await.map_err(unavailable)?;
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
                .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)
            }

            async fn list_audit(
                &self,
                user: Option<tessera_core::UserId>,
                since: tessera_core::Timestamp,
                limit: u32,
            ) -> tessera_core::store::StoreResult<Vec<tessera_core::audit::AuditEvent>> {
                use $crate::sql::unavailable;
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
                .map_err(unavailable)?;
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
            .map_err($crate::sql::unavailable)
        }

        impl $store {
            async fn roles_of(&self, id: i64) -> tessera_core::store::StoreResult<Vec<String>> {
                sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
                    .bind(id)
                    .fetch_all(self.reader())
                    .await
                    .map_err($crate::sql::unavailable)
            }
        }
    };
}

pub(crate) use impl_store;
