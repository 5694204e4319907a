//! The storage contract. `tessera-store` implements it for SQLite and PostgreSQL, and one
//! conformance suite holds both implementations to the same behaviour.

use async_trait::async_trait;

use crate::audit::AuditEvent;
use crate::audit::AuditFilter;
use crate::credential::{ApiKey, IdentityLink, Invitation, PersonalToken, StoredClientSecret};
use crate::error::StoreError;
use crate::permission::{PermissionSet, Role};
use crate::session::Session;
use crate::throttle::{Attempt, Limit, Scope};
use crate::time::Timestamp;
use crate::user::{NewUser, User, UserId};

/// The result of a store operation: `Unavailable` when the database cannot answer
/// (callers fail closed), `Conflict`/`UnknownRole` for the documented refusals.
pub type StoreResult<T> = Result<T, StoreError>;

/// A live session and its user, as found by the digest of its secret.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// The session as stored.
    pub session: Session,
    /// Its user, with roles.
    pub user: User,
}

/// What a store's revocation feed reports ([`Store::follow_revocations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevocationNotice {
    /// The feed is live (again): revocations committed from now on are reported. Those
    /// committed while it was down were not, so everything cached before is suspect.
    Live,
    /// The feed is down, for this reason; nothing is reported until the next `Live`.
    Lost(String),
    /// A credential of this user was revoked, or the account or its permissions changed;
    /// `None`: every user (a role's permissions changed).
    Revoked(Option<UserId>),
}

/// A coalesced activity update: `last_seen_at` and the slid idle expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touch {
    /// The session's public id.
    pub session_id: String,
    /// The latest activity seen.
    pub last_seen_at: Timestamp,
    /// The idle expiry slid to that activity (`None` for sessions without one).
    pub idle_expires_at: Option<Timestamp>,
}

/// The tables whose rows belong to a user and have a public id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owned {
    /// A row of `sessions` (any kind).
    Session,
    /// A personal access token.
    PersonalToken,
    /// An API key.
    ApiKey,
}

/// A live API key with the digest of its secret and its user.
#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    /// The key's public fields.
    pub key: ApiKey,
    /// SHA-256 of its secret, compared in constant time by the caller.
    pub secret_digest: Vec<u8>,
    /// Its owner, with roles.
    pub user: User,
}

/// A user together with its password hash, for the login path only.
#[derive(Clone)]
pub struct UserCredentials {
    /// The user, with roles.
    pub user: User,
    /// Its Argon2id PHC string.
    pub password_hash: String,
}

/// Users, their password hashes, roles and permissions.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user with its roles in one transaction. A login whose key is taken is
    /// `Conflict`; a role that does not exist is `UnknownRole` and nothing is written.
    async fn create_user(
        &self,
        user: &NewUser,
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<User>;

    /// Looks a user up by [`crate::Login::key`].
    async fn user_by_login(&self, login_key: &str) -> StoreResult<Option<UserCredentials>>;

    /// The user with this id, if any.
    async fn user_by_id(&self, id: UserId) -> StoreResult<Option<User>>;

    /// All users, ordered by login key.
    async fn list_users(&self) -> StoreResult<Vec<User>>;

    /// How many users exist (the first start creates `admin` when none do).
    async fn count_users(&self) -> StoreResult<u64>;

    /// Sets a new password chosen by or for the user and, in the same transaction, ends
    /// its password sessions and API-key sessions (personal access tokens, access
    /// tokens, API keys and the client secret are left as they are). `false` when the
    /// user does not exist.
    async fn set_password(&self, id: UserId, hash: &str, now: Timestamp) -> StoreResult<bool>;

    /// Replaces `old_hash` by `new_hash` (same password, current parameters) if it is still
    /// the stored hash; sessions are unaffected.
    async fn rehash_password(&self, id: UserId, old_hash: &str, new_hash: &str) -> StoreResult<()>;

    /// Disabling ends every session of the user in the same transaction. `false` when the
    /// user does not exist.
    async fn set_disabled(&self, id: UserId, disabled: bool, now: Timestamp) -> StoreResult<bool>;

    /// Replaces the names, language and e-mail address (validated by the caller). `false`
    /// when the user does not exist.
    async fn update_profile(
        &self,
        id: UserId,
        profile: &crate::user::Profile,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Creates a role; an existing name is `Conflict`.
    async fn create_role(&self, role: &Role, now: Timestamp) -> StoreResult<()>;

    /// All roles with their permissions, ordered by name.
    async fn list_roles(&self) -> StoreResult<Vec<Role>>;

    /// `true` if granted now, `false` if the user already had it.
    async fn grant_role(&self, id: UserId, role: &str) -> StoreResult<bool>;

    /// `true` if revoked now, `false` if the user did not have it.
    async fn revoke_role(&self, id: UserId, role: &str) -> StoreResult<bool>;

    /// The union of the permissions of the user's roles.
    async fn permissions_of(&self, id: UserId) -> StoreResult<PermissionSet>;

    /// Deletes the user and everything it owns (sessions, credentials, grants, its
    /// set-password link); the audit log keeps its history. `false` when it did not exist.
    async fn delete_user(&self, id: UserId) -> StoreResult<bool>;

    /// Replaces the permissions of a role. `false` when there is no such role.
    async fn set_role_permissions(&self, role: &Role) -> StoreResult<bool>;

    /// Deletes a role nobody holds: `Conflict` while someone does, `UnknownRole` when
    /// there is none. The caller keeps the built-in role.
    async fn delete_role(&self, name: &str) -> StoreResult<()>;

    /// Stores a set-password link, replacing the one the user had, if any.
    async fn create_invitation(
        &self,
        invitation: &Invitation,
        secret_digest: &[u8; 32],
    ) -> StoreResult<()>;

    /// The unexpired link whose token has this digest, with its user.
    async fn invitation_by_secret(
        &self,
        secret_digest: &[u8; 32],
        now: Timestamp,
    ) -> StoreResult<Option<(Invitation, User)>>;

    /// Uses the unexpired link whose token has this digest, once: in one transaction,
    /// deletes it, sets the password hash, and ends the user's password and API-key
    /// sessions. The user's id, or `None` when there is no such link (used, replaced,
    /// expired).
    async fn redeem_invitation(
        &self,
        secret_digest: &[u8; 32],
        password_hash: &str,
        now: Timestamp,
    ) -> StoreResult<Option<UserId>>;

    /// Every outstanding link (expired ones too), ordered by user.
    async fn list_invitations(&self) -> StoreResult<Vec<Invitation>>;

    /// The user linked to the provider's account `subject` at `issuer`, if any, after
    /// recording `now` as the link's latest sign-in.
    async fn linked_user(
        &self,
        provider: &str,
        issuer: &str,
        subject: &str,
        now: Timestamp,
    ) -> StoreResult<Option<User>>;

    /// Creates a user without a usable password (see `create_user`) linked to the
    /// provider's account, in one transaction: `Conflict` when the login is taken or the
    /// account is linked already, and nothing is written.
    async fn create_linked_user(
        &self,
        user: &NewUser,
        password_hash: &str,
        link: &IdentityLink,
    ) -> StoreResult<User>;

    /// The user's links to identity-provider accounts, by provider.
    async fn identity_links(&self, user: UserId) -> StoreResult<Vec<IdentityLink>>;
}

/// Server-side sessions (password, API-key and access-token sessions), by token digest.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session under the digest of its secret.
    async fn create_session(&self, session: &Session, secret_digest: &[u8; 32]) -> StoreResult<()>;

    /// What a successful login leaves behind, in one transaction: the subject's failure
    /// count cleared (when given), the new session, and the audit event. All or nothing.
    async fn complete_login(
        &self,
        clear: Option<(Scope, &str)>,
        session: &Session,
        secret_digest: &[u8; 32],
        event: &AuditEvent,
    ) -> StoreResult<()>;

    /// The unrevoked session whose secret has this digest, with its user (disabled or
    /// not: the caller decides). Expired sessions are returned too, so that the caller can
    /// say "expired" rather than "unknown".
    async fn session_by_secret(
        &self,
        secret_digest: &[u8; 32],
    ) -> StoreResult<Option<SessionRecord>>;

    /// Applies coalesced activity updates in one transaction. An update never moves
    /// `last_seen_at` backwards.
    async fn touch_sessions(&self, touches: &[Touch]) -> StoreResult<()>;

    /// The user's unrevoked, unexpired sessions, newest first.
    async fn list_sessions(&self, user: UserId, now: Timestamp) -> StoreResult<Vec<Session>>;

    /// Revokes one of the user's sessions. `false` if it does not exist, is not the
    /// user's, or is already revoked.
    async fn revoke_session(
        &self,
        user: UserId,
        session_id: &str,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Revokes every unrevoked session of the user except `keep`; returns how many.
    async fn revoke_sessions(
        &self,
        user: UserId,
        keep: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<u64>;

    /// Deletes sessions that expired or were revoked before `before`; returns how many.
    async fn purge_sessions(&self, before: Timestamp) -> StoreResult<u64>;

    /// Records that the session's cookie was sealed again, at `at`, under the key that
    /// seals now (after a key rotation).
    async fn mark_cookie_resealed(&self, session_id: &str, at: Timestamp) -> StoreResult<()>;

    /// The live sign-in sessions (password or identity provider) opened at or before
    /// `until` whose cookie was not sealed again after `until`, and when the last of them
    /// ends: those whose cookie may need the key that sealed until then.
    async fn sessions_sealed_before(
        &self,
        until: Timestamp,
        now: Timestamp,
    ) -> StoreResult<(u64, Option<Timestamp>)>;
}

/// Long-lived credentials: personal access tokens, API keys, client secrets, and who owns an id.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    /// Stores a personal access token under the digest of its value.
    async fn create_pat(&self, pat: &PersonalToken, secret_digest: &[u8; 32]) -> StoreResult<()>;

    /// The unrevoked token with this digest (expired ones too) and its user.
    async fn pat_by_secret(
        &self,
        secret_digest: &[u8; 32],
    ) -> StoreResult<Option<(PersonalToken, User)>>;

    /// The user's unrevoked tokens, newest first (expired ones included).
    async fn list_pats(&self, user: UserId) -> StoreResult<Vec<PersonalToken>>;

    /// `false` when the user has no such unrevoked token.
    async fn revoke_pat(&self, user: UserId, id: &str, now: Timestamp) -> StoreResult<bool>;

    /// Revokes token `old_id` and stores `new` in one transaction; `false` (and nothing
    /// written) when the user has no such unrevoked token.
    async fn replace_pat(
        &self,
        user: UserId,
        old_id: &str,
        new: &PersonalToken,
        secret_digest: &[u8; 32],
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// Records coalesced `last_used_at` updates (token id, time).
    async fn touch_pats(&self, uses: &[(String, Timestamp)]) -> StoreResult<()>;

    /// Stores a new API key with the SHA-256 of its secret.
    async fn create_api_key(&self, key: &ApiKey, secret_digest: &[u8; 32]) -> StoreResult<()>;

    /// The unrevoked key with this public id.
    async fn api_key(&self, id: &str) -> StoreResult<Option<ApiKeyRecord>>;

    /// The user's unrevoked API keys, newest first.
    async fn list_api_keys(&self, user: UserId) -> StoreResult<Vec<ApiKey>>;

    /// Revokes the key and, in the same transaction, every session opened with it.
    async fn delete_api_key(&self, user: UserId, id: &str, now: Timestamp) -> StoreResult<bool>;

    /// Disables (ending every session opened with it, in the same transaction) or enables
    /// one of `user`'s undeleted keys. `false` when the user has no such key.
    async fn set_api_key_disabled(
        &self,
        user: UserId,
        id: &str,
        disabled: bool,
        now: Timestamp,
    ) -> StoreResult<bool>;

    /// The user's client secret (sealed), if one was ever generated.
    async fn client_secret(&self, user: UserId) -> StoreResult<Option<StoredClientSecret>>;

    /// Replaces the user's client secret.
    async fn set_client_secret(
        &self,
        secret: &StoredClientSecret,
        secret_digest: &[u8; 32],
    ) -> StoreResult<()>;

    /// Every stored client secret (sealed), for sealing them again under a new key.
    async fn client_secrets(&self) -> StoreResult<Vec<StoredClientSecret>>;

    /// Replaces the sealed form of `user`'s client secret with `new` if it is still
    /// `old` (a rotation in between wins); whether it was replaced. The secret itself,
    /// its digest and its lifetime are unchanged.
    async fn reseal_client_secret(&self, user: UserId, old: &[u8], new: &[u8])
    -> StoreResult<bool>;

    /// The user whose current client secret has this digest, with the secret's expiry.
    async fn client_secret_owner(
        &self,
        secret_digest: &[u8; 32],
    ) -> StoreResult<Option<(User, Timestamp)>>;

    /// Who owns the session, token or key with this public id (revoked ones included).
    async fn owner_of(&self, what: Owned, id: &str) -> StoreResult<Option<UserId>>;
}

/// Failure counters and locks for brute-force throttling, shared by every instance.
#[async_trait]
pub trait ThrottleStore: Send + Sync + 'static {
    /// Counts an attempt for `subject` atomically, before any password is checked:
    /// `Throttled` (and nothing counted) while the subject is locked; otherwise counted,
    /// locking the subject from the `max_failures`-th attempt in the window on.
    async fn register_attempt(
        &self,
        scope: Scope,
        subject: &str,
        limit: &Limit,
        now: Timestamp,
    ) -> StoreResult<Attempt>;

    /// Until when the subject is locked, if it is (nothing is counted).
    async fn locked_until(
        &self,
        scope: Scope,
        subject: &str,
        now: Timestamp,
    ) -> StoreResult<Option<Timestamp>>;

    /// Deletes counters idle since `before` and not locked beyond it; returns how many.
    async fn purge_attempts(&self, before: Timestamp) -> StoreResult<u64>;

    /// Forgets the subject's attempts (after a success).
    async fn clear_attempts(&self, scope: Scope, subject: &str) -> StoreResult<()>;
}

/// The security-event log.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Appends one event.
    async fn append_audit(&self, event: &AuditEvent) -> StoreResult<()>;

    /// Events since `since`, of one user or of all, newest first, at most `limit`.
    async fn list_audit(
        &self,
        user: Option<UserId>,
        since: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<AuditEvent>>;

    /// Events of every user meeting the filter (the login compared ignoring ASCII case),
    /// newest first.
    async fn search_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEvent>>;

    /// For each of `users` who ever logged in successfully (by any method), when they
    /// last did, as far as the audit log remembers.
    async fn last_logins(&self, users: &[UserId]) -> StoreResult<Vec<(UserId, Timestamp)>>;
}

/// Everything Tessera keeps, by capability; a backend implements all of them. Callers
/// that need only one capability can take that trait instead.
#[async_trait]
pub trait Store:
    UserStore + SessionStore + CredentialStore + ThrottleStore + AuditStore + Send + Sync + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    /// Reports to `notices` every revocation committed on this database by any process
    /// (this one, another instance, the CLI) as it commits, until `notices` closes. It
    /// says [`RevocationNotice::Live`] once it follows, and [`RevocationNotice::Lost`]
    /// when it stops following (the database is unreachable) until it can again. A
    /// backend without a feed returns at once, having sent nothing.
    async fn follow_revocations(&self, notices: tokio::sync::mpsc::Sender<RevocationNotice>) {
        drop(notices);
    }

    /// Deletes what the revocation feed kept of revocations older than `before`; returns
    /// how many records went.
    async fn purge_revocations(&self, before: Timestamp) -> StoreResult<u64> {
        let _ = before;
        Ok(0)
    }
}
