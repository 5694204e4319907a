//! `UserStore`: users, password hashes, roles and grants.

use std::collections::HashMap;
use std::hash::Hash;

use async_trait::async_trait;
use sqlx::AssertSqlSafe;
use tessera_core::credential::{IdentityLink, Invitation, InvitationPurpose};
use tessera_core::store::{StoreResult, UserCredentials, UserStore};
use tessera_core::{NewUser, PermissionSet, Profile, Role, StoreError, Timestamp, User, UserId};

use super::backend::{Backend, Get, Query, Tx, query};
use super::{SqlStore, USER_COLUMNS, permission_set, user_from_row};

#[async_trait]
impl<DB: Backend> UserStore for SqlStore<DB> {
    async fn create_user(
        &self,
        user: &NewUser,
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<User> {
        let mut tx = self.write().await?;
        let created = insert_user(&mut tx, user, password_hash, now).await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn user_by_login(&self, login_key: &str) -> StoreResult<Option<UserCredentials>> {
        let statement = query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS}, password_hash FROM users WHERE login_key = $1"
        )));
        let found = self
            .with_user(statement.bind(login_key), |row| row.value("password_hash"))
            .await?;
        Ok(found.map(|(password_hash, user)| UserCredentials {
            user,
            password_hash,
        }))
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>> {
        let statement = query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users WHERE id = $1"
        )));
        let found = self.with_user(statement.bind(id.0), |_| Ok(())).await?;
        Ok(found.map(|((), user)| user))
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let mut users = query(AssertSqlSafe(format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY login_key"
        )))
        .fetch_all(self.reader(), |row| user_from_row(row, Vec::new()))
        .await?;
        let mut roles: HashMap<i64, _> = self
            .grouped("SELECT user_id, role FROM user_roles ORDER BY user_id, role")
            .await?;
        for user in &mut users {
            user.roles = roles.remove(&user.id.0).unwrap_or_default();
        }
        Ok(users)
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = query("SELECT COUNT(*) FROM users")
            .fetch_one(self.reader())
            .await?
            .value_at(0)?;
        Ok(n.max(0) as u64)
    }

    async fn set_password(&self, id: UserId, hash: &str, now: Timestamp) -> StoreResult<bool> {
        let update = query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, \
             updated_at = $2 WHERE id = $3",
        )
        .bind(hash)
        .bind(now.unix())
        .bind(id.0);
        // A new password ends what the old one opened (directly or through keys).
        let opened_by_password = " AND kind IN ('password', 'api_key')";
        self.update_user(id, update, Some(opened_by_password), now)
            .await
    }

    async fn rehash_password(&self, id: UserId, old_hash: &str, new_hash: &str) -> StoreResult<()> {
        self.write_one(
            query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
                .bind(new_hash)
                .bind(id.0)
                .bind(old_hash),
        )
        .await
        .map(drop)
    }

    async fn set_disabled(&self, id: UserId, disabled: bool, now: Timestamp) -> StoreResult<bool> {
        let update = query("UPDATE users SET disabled = $1, updated_at = $2 WHERE id = $3")
            .bind(disabled)
            .bind(now.unix())
            .bind(id.0);
        // Disabling ends every session.
        self.update_user(id, update, disabled.then_some(""), now)
            .await
    }

    async fn update_profile(
        &self,
        id: UserId,
        profile: &Profile,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let update = query(
            "UPDATE users SET first_name = $1, last_name = $2, lang = $3, email = $4, \
             updated_at = $5 WHERE id = $6",
        )
        .bind(&profile.first_name)
        .bind(&profile.last_name)
        .bind(&profile.lang)
        .bind(&profile.email)
        .bind(now.unix())
        .bind(id.0);
        self.update_user(id, update, None, now).await
    }

    async fn create_role(&self, role: &Role, now: Timestamp) -> StoreResult<()> {
        let mut tx = self.write().await?;
        query("INSERT INTO roles (name, builtin, created_at) VALUES ($1, FALSE, $2)")
            .bind(&role.name)
            .bind(now.unix())
            .conflict(format!("a role named `{}`", role.name))
            .execute(&mut tx)
            .await?;
        insert_permissions(&mut tx, role).await?;
        tx.commit().await
    }

    async fn list_roles(&self) -> StoreResult<Vec<Role>> {
        let names: Vec<String> = query("SELECT name FROM roles ORDER BY name")
            .fetch_all(self.reader(), |row| row.value("name"))
            .await?;
        let mut perms: HashMap<String, _> = self
            .grouped("SELECT role, permission FROM role_permissions ORDER BY role, permission")
            .await?;
        Ok(names
            .into_iter()
            .map(|name| Role {
                permissions: permission_set(perms.remove(&name).unwrap_or_default()),
                name,
            })
            .collect())
    }

    async fn grant_role(&self, id: UserId, role: &str) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        require_role(&mut tx, role).await?;
        let granted =
            query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(id.0)
                .bind(role)
                .execute(&mut tx)
                .await?;
        tx.commit().await?;
        Ok(granted == 1)
    }

    async fn revoke_role(&self, id: UserId, role: &str) -> StoreResult<bool> {
        let revoked = self
            .write_one(
                query("DELETE FROM user_roles WHERE user_id = $1 AND role = $2")
                    .bind(id.0)
                    .bind(role),
            )
            .await?;
        Ok(revoked == 1)
    }

    async fn permissions_of(&self, id: UserId) -> StoreResult<PermissionSet> {
        let raw: Vec<String> = query(
            "SELECT DISTINCT rp.permission FROM user_roles ur \
             JOIN role_permissions rp ON rp.role = ur.role WHERE ur.user_id = $1",
        )
        .bind(id.0)
        .fetch_all(self.reader(), |row| row.value("permission"))
        .await?;
        Ok(permission_set(raw))
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let deleted = self
            .write_one(query("DELETE FROM users WHERE id = $1").bind(id.0))
            .await?;
        Ok(deleted == 1)
    }

    async fn set_role_permissions(&self, role: &Role) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        if query("SELECT 1 FROM roles WHERE name = $1")
            .bind(&role.name)
            .fetch_optional(&mut tx)
            .await?
            .is_none()
        {
            return Ok(false);
        }
        query("DELETE FROM role_permissions WHERE role = $1")
            .bind(&role.name)
            .execute(&mut tx)
            .await?;
        insert_permissions(&mut tx, role).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_role(&self, name: &str) -> StoreResult<()> {
        let mut tx = self.write().await?;
        require_role(&mut tx, name).await?;
        let holders: i64 = query("SELECT COUNT(*) FROM user_roles WHERE role = $1")
            .bind(name)
            .fetch_one(&mut tx)
            .await?
            .value_at(0)?;
        if holders > 0 {
            return Err(StoreError::Conflict(format!(
                "a grant of `{name}` to {holders} user(s)"
            )));
        }
        query("DELETE FROM roles WHERE name = $1")
            .bind(name)
            .execute(&mut tx)
            .await?;
        tx.commit().await
    }

    async fn create_invitation(
        &self,
        invitation: &Invitation,
        secret_digest: &[u8; 32],
    ) -> StoreResult<()> {
        // One statement: two links made at once for one user leave the later one.
        self.write_one(
            query(AssertSqlSafe(format!(
                "INSERT INTO invitations ({INVITATION_COLUMNS}, secret_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (user_id) DO UPDATE SET id = excluded.id, \
                 purpose = excluded.purpose, created_by = excluded.created_by, \
                 created_at = excluded.created_at, expires_at = excluded.expires_at, \
                 secret_hash = excluded.secret_hash"
            )))
            .bind(&invitation.id)
            .bind(invitation.user_id.0)
            .bind(invitation.purpose.as_str())
            .bind(&invitation.created_by)
            .bind(invitation.created_at.unix())
            .bind(invitation.expires_at.unix())
            .bind(&secret_digest[..]),
        )
        .await
        .map(drop)
    }

    async fn invitation_by_secret(
        &self,
        secret_digest: &[u8; 32],
        now: Timestamp,
    ) -> StoreResult<Option<(Invitation, User)>> {
        // Beside the columns of `users`, the invitation's are renamed `i_...`.
        let columns = INVITATION_COLUMNS
            .split(", ")
            .map(|c| format!("i.{c} AS i_{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let statement = query(AssertSqlSafe(format!(
            "SELECT {columns}, {} FROM invitations i JOIN users u ON u.id = i.user_id \
             WHERE i.secret_hash = $1 AND i.expires_at > $2",
            super::user_columns_qualified()
        )));
        self.with_user(statement.bind(&secret_digest[..]).bind(now.unix()), |row| {
            invitation_from_row(row, "i_")
        })
        .await
    }

    async fn redeem_invitation(
        &self,
        secret_digest: &[u8; 32],
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<UserId>> {
        let mut tx = self.write().await?;
        let used = query(
            "DELETE FROM invitations WHERE secret_hash = $1 AND expires_at > $2 RETURNING user_id",
        )
        .bind(&secret_digest[..])
        .bind(now.unix())
        .fetch_optional(&mut tx)
        .await?;
        let Some(row) = used else {
            return Ok(None);
        };
        let id: i64 = row.value("user_id")?;
        query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, \
             updated_at = $2 WHERE id = $3",
        )
        .bind(password_hash)
        .bind(now.unix())
        .bind(id)
        .execute(&mut tx)
        .await?;
        query(
            "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL \
             AND kind IN ('password', 'api_key')",
        )
        .bind(now.unix())
        .bind(id)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(Some(UserId(id)))
    }

    async fn list_invitations(&self) -> StoreResult<Vec<Invitation>> {
        query(AssertSqlSafe(format!(
            "SELECT {INVITATION_COLUMNS} FROM invitations ORDER BY user_id"
        )))
        .fetch_all(self.reader(), |row| invitation_from_row(row, ""))
        .await
    }

    async fn linked_user(
        &self,
        provider: &str,
        issuer: &str,
        subject: &str,
        now: Timestamp,
    ) -> StoreResult<Option<User>> {
        let touched = self
            .write_one(
                query(
                    "UPDATE identity_links SET last_login_at = $1 \
                     WHERE provider = $2 AND subject = $3 AND issuer = $4",
                )
                .bind(now.unix())
                .bind(provider)
                .bind(subject)
                .bind(issuer),
            )
            .await?;
        if touched == 0 {
            return Ok(None);
        }
        let statement = query(AssertSqlSafe(format!(
            "SELECT {} FROM identity_links l JOIN users u ON u.id = l.user_id \
             WHERE l.provider = $1 AND l.subject = $2 AND l.issuer = $3",
            super::user_columns_qualified()
        )));
        let found = self
            .with_user(statement.bind(provider).bind(subject).bind(issuer), |_| {
                Ok(())
            })
            .await?;
        Ok(found.map(|((), user)| user))
    }

    async fn create_linked_user(
        &self,
        user: &NewUser,
        password_hash: &str,
        link: &IdentityLink,
    ) -> StoreResult<User> {
        let mut tx = self.write().await?;
        let created = insert_user(&mut tx, user, password_hash, link.created_at).await?;
        query(
            "INSERT INTO identity_links (provider, subject, issuer, user_id, created_at, \
             last_login_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&link.provider)
        .bind(&link.subject)
        .bind(&link.issuer)
        .bind(created.id.0)
        .bind(link.created_at.unix())
        .bind(link.last_login_at.unix())
        .conflict(format!("a link to this `{}` account", link.provider))
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(created)
    }

    async fn identity_links(&self, user: UserId) -> StoreResult<Vec<IdentityLink>> {
        query(
            "SELECT provider, subject, issuer, user_id, created_at, last_login_at \
             FROM identity_links WHERE user_id = $1 ORDER BY provider",
        )
        .bind(user.0)
        .fetch_all(self.reader(), |row| {
            Ok(IdentityLink {
                provider: row.value("provider")?,
                subject: row.value("subject")?,
                issuer: row.value("issuer")?,
                user_id: UserId(row.value("user_id")?),
                created_at: Timestamp::from_unix(row.value("created_at")?),
                last_login_at: Timestamp::from_unix(row.value("last_login_at")?),
            })
        })
        .await
    }
}

/// The columns of `invitations` every query selects (all but the digest).
const INVITATION_COLUMNS: &str = "id, user_id, purpose, created_by, created_at, expires_at";

/// The invitation in `row`, whose columns are named `{prefix}id`, `{prefix}user_id`, ...
fn invitation_from_row<R: super::backend::Columns>(
    row: &R,
    prefix: &str,
) -> StoreResult<Invitation> {
    let column = |name: &str| format!("{prefix}{name}");
    let purpose: String = row.value(&column("purpose"))?;
    Ok(Invitation {
        id: row.value(&column("id"))?,
        user_id: UserId(row.value(&column("user_id"))?),
        purpose: InvitationPurpose::parse(&purpose).ok_or_else(|| {
            StoreError::Unavailable(format!("unknown invitation purpose `{purpose}`"))
        })?,
        created_by: row.value(&column("created_by"))?,
        created_at: Timestamp::from_unix(row.value(&column("created_at"))?),
        expires_at: Timestamp::from_unix(row.value(&column("expires_at"))?),
    })
}

/// Inserts the permissions of `role` (whose row exists).
async fn insert_permissions<DB: Backend>(tx: &mut Tx<DB>, role: &Role) -> StoreResult<()> {
    for permission in role.permissions.iter() {
        query("INSERT INTO role_permissions (role, permission) VALUES ($1, $2)")
            .bind(&role.name)
            .bind(permission.as_str())
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

impl<DB: Backend> SqlStore<DB> {
    /// The names of the user's roles, sorted.
    async fn roles_of(&self, id: i64) -> StoreResult<Vec<String>> {
        query("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(id)
            .fetch_all(self.reader(), |row| row.value("role"))
            .await
    }

    /// Runs `update`, a statement on the user's row, and in the same transaction, when
    /// `end_sessions` is given, revokes the user's unrevoked sessions that also meet it
    /// (more SQL conditions, each starting with `AND`). `false` when the user does not
    /// exist.
    async fn update_user(
        &self,
        id: UserId,
        update: Query<DB>,
        end_sessions: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<bool> {
        let mut tx = self.write().await?;
        let updated = update.execute(&mut tx).await?;
        if let Some(conditions) = end_sessions {
            query(AssertSqlSafe(format!(
                "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL\
                 {conditions}"
            )))
            .bind(now.unix())
            .bind(id.0)
            .execute(&mut tx)
            .await?;
        }
        tx.commit().await?;
        Ok(updated == 1)
    }

    /// What `statement` finds, decoded by `decode`, with the user the row carries (the
    /// columns of `users`, unprefixed: its own row, or a join on `users u` selecting
    /// [`super::user_columns_qualified`]) and that user's roles.
    pub(crate) async fn with_user<T>(
        &self,
        statement: Query<DB>,
        decode: impl FnOnce(&DB::Row) -> StoreResult<T>,
    ) -> StoreResult<Option<(T, User)>> {
        let Some(row) = statement.fetch_optional(self.reader()).await? else {
            return Ok(None);
        };
        let found = decode(&row)?;
        let roles = self.roles_of(row.value("id")?).await?;
        Ok(Some((found, user_from_row(&row, roles)?)))
    }

    /// The rows of `sql`, two columns, as lists of second values by first value (the
    /// roles of each user, the permissions of each role).
    async fn grouped<K, V>(&self, sql: &'static str) -> StoreResult<HashMap<K, Vec<V>>>
    where
        K: Hash + Eq,
        DB::Row: Get<K> + Get<V>,
    {
        let pairs = query(sql)
            .fetch_all(self.reader(), |row| {
                Ok((row.value_at(0)?, row.value_at(1)?))
            })
            .await?;
        let mut map: HashMap<K, Vec<V>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().push(v);
        }
        Ok(map)
    }
}

/// Fails with `UnknownRole` unless the role exists.
async fn require_role<DB: Backend>(tx: &mut Tx<DB>, role: &str) -> StoreResult<()> {
    let exists = query("SELECT 1 FROM roles WHERE name = $1")
        .bind(role)
        .fetch_optional(tx)
        .await?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::UnknownRole(role.to_owned())),
    }
}

/// Inserts a user with its roles in `tx` (which the caller commits).
async fn insert_user<DB: Backend>(
    tx: &mut Tx<DB>,
    user: &NewUser,
    password_hash: &str,
    now: Timestamp,
) -> StoreResult<User> {
    let id: i64 = query(
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
    .conflict(format!(
        "a user with the login `{}` (compared ignoring case)",
        user.login
    ))
    .fetch_one(&mut *tx)
    .await?
    .value("id")?;
    let mut roles = user.roles.clone();
    roles.sort();
    roles.dedup();
    for role in &roles {
        require_role(tx, role).await?;
        query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
            .bind(id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
    }
    Ok(User {
        id: UserId(id),
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
