//! `UserStore`: users, password hashes, roles and grants.
//!
//! The SQL of one capability, written once for both backends: the macro expands in
//! `sqlite.rs` and `postgres.rs` (see `sql/mod.rs`).

/// Implements `user store` for `$store` on database `$db`.
macro_rules! impl_user_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl tessera_core::store::UserStore for $store {
            async fn create_user(
                &self,
                user: &tessera_core::NewUser,
                password_hash: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<tessera_core::User> {
                let mut tx = self.write().await.db()?;
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
                    Err(e) => return Err($crate::sql::unavailable(e)),
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
                            .db()?;
                    if exists.is_none() {
                        return Err(tessera_core::StoreError::UnknownRole(role.clone()));
                    }
                    sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                        .bind(id)
                        .bind(role)
                        .execute(&mut *tx)
                        .await
                        .db()?;
                }
                tx.commit().await.db()?;
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
                use sqlx::Row as _;
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {}, password_hash FROM users WHERE login_key = $1",
                    $crate::sql::USER_COLUMNS
                )))
                .bind(login_key)
                .fetch_optional(self.reader())
                .await
                .db()?;
                let Some(row) = row else { return Ok(None) };
                let id: i64 = row.try_get("id").db()?;
                let roles = self.roles_of(id).await?;
                let user = $crate::sql::user_from_row(&row, roles).db()?;
                let password_hash = row.try_get("password_hash").db()?;
                Ok(Some(tessera_core::store::UserCredentials { user, password_hash }))
            }

            async fn user_by_id(
                &self,
                id: tessera_core::UserId,
            ) -> tessera_core::store::StoreResult<Option<tessera_core::User>> {
                let row = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users WHERE id = $1",
                    $crate::sql::USER_COLUMNS
                )))
                .bind(id.0)
                .fetch_optional(self.reader())
                .await
                .db()?;
                let Some(row) = row else { return Ok(None) };
                let roles = self.roles_of(id.0).await?;
                Ok(Some($crate::sql::user_from_row(&row, roles).db()?))
            }

            async fn list_users(&self) -> tessera_core::store::StoreResult<Vec<tessera_core::User>> {
                use sqlx::Row as _;
                let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT {} FROM users ORDER BY login_key",
                    $crate::sql::USER_COLUMNS
                )))
                .fetch_all(self.reader())
                .await
                .db()?;
                let pairs: Vec<(i64, String)> =
                    sqlx::query_as("SELECT user_id, role FROM user_roles ORDER BY user_id, role")
                        .fetch_all(self.reader())
                        .await
                        .db()?;
                let mut roles = $crate::sql::group(pairs);
                rows.iter()
                    .map(|row| {
                        let id: i64 = row.try_get("id")?;
                        $crate::sql::user_from_row(row, roles.remove(&id).unwrap_or_default())
                    })
                    .collect::<Result<_, _>>()
                    .db()
            }

            async fn count_users(&self) -> tessera_core::store::StoreResult<u64> {
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
                    .fetch_one(self.reader())
                    .await
                    .db()?;
                Ok(n.max(0) as u64)
            }

            async fn set_password(
                &self,
                id: tessera_core::UserId,
                hash: &str,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                let mut tx = self.write().await.db()?;
                let updated = sqlx::query(
                    "UPDATE users SET password_hash = $1, password_changed_at = $2, \
                     updated_at = $2 WHERE id = $3",
                )
                .bind(hash)
                .bind(now.unix())
                .bind(id.0)
                .execute(&mut *tx)
                .await
                .db()?
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
                .db()?;
                tx.commit().await.db()?;
                Ok(updated == 1)
            }

            async fn rehash_password(
                &self,
                id: tessera_core::UserId,
                old_hash: &str,
                new_hash: &str,
            ) -> tessera_core::store::StoreResult<()> {
                let mut tx = self.write().await.db()?;
                sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                    .bind(new_hash)
                    .bind(id.0)
                    .bind(old_hash)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                tx.commit().await.db()
            }

            async fn set_disabled(
                &self,
                id: tessera_core::UserId,
                disabled: bool,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<bool> {
                let mut tx = self.write().await.db()?;
                let updated =
                    sqlx::query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
                        .bind(disabled)
                        .bind(now.unix())
                        .bind(id.0)
                        .execute(&mut *tx)
                        .await
                        .db()?
                        .rows_affected();
                if disabled {
                    sqlx::query(
                        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(now.unix())
                    .bind(id.0)
                    .execute(&mut *tx)
                    .await
                    .db()?;
                }
                tx.commit().await.db()?;
                Ok(updated == 1)
            }

            async fn create_role(
                &self,
                role: &tessera_core::Role,
                now: tessera_core::Timestamp,
            ) -> tessera_core::store::StoreResult<()> {
                let mut tx = self.write().await.db()?;
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
                    Err(e) => return Err($crate::sql::unavailable(e)),
                }
                for permission in role.permissions.iter() {
                    sqlx::query("INSERT INTO role_permissions (role, permission) VALUES ($1, $2)")
                        .bind(&role.name)
                        .bind(permission.as_str())
                        .execute(&mut *tx)
                        .await
                        .db()?;
                }
                tx.commit().await.db()
            }

            async fn list_roles(&self) -> tessera_core::store::StoreResult<Vec<tessera_core::Role>> {
                let names: Vec<String> = sqlx::query_scalar("SELECT name FROM roles ORDER BY name")
                    .fetch_all(self.reader())
                    .await
                    .db()?;
                let pairs: Vec<(String, String)> = sqlx::query_as(
                    "SELECT role, permission FROM role_permissions ORDER BY role, permission",
                )
                .fetch_all(self.reader())
                .await
                .db()?;
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
                let mut tx = self.write().await.db()?;
                let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM roles WHERE name = $1")
                    .bind(role)
                    .fetch_optional(&mut *tx)
                    .await
                    .db()?;
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
                .db()?
                .rows_affected();
                tx.commit().await.db()?;
                Ok(granted == 1)
            }

            async fn revoke_role(
                &self,
                id: tessera_core::UserId,
                role: &str,
            ) -> tessera_core::store::StoreResult<bool> {
                let revoked = self
                    .write_one(
                        sqlx::query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
                            .bind(id.0)
                            .bind(role),
                    )
                    .await?;
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
                .db()?;
                Ok($crate::sql::permission_set(raw))
            }
        }

        impl $store {
            async fn roles_of(&self, id: i64) -> tessera_core::store::StoreResult<Vec<String>> {
                sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
                    .bind(id)
                    .fetch_all(self.reader())
                    .await
                    .db()
            }
        }
    };
}

pub(crate) use impl_user_store;
