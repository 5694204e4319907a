use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tessera_core::credential::{
    ApiKey, IdentityLink, Invitation, InvitationPurpose, PersonalToken, StoredClientSecret,
};
use tessera_core::session::{Session, SessionKind};
use tessera_core::store::{RevocationNotice, SessionRecord, Touch};
use tessera_core::throttle::{Attempt, Limit, Scope};
use tessera_core::{
    Login, NewUser, Permission, PermissionSet, Role, Store, StoreError, Timestamp, User, UserId,
};

use crate::{Fixture, now};

fn new_user(login: &str, roles: &[&str]) -> NewUser {
    let mut u = NewUser::new(Login::parse(login).unwrap());
    u.first_name = "Joe".into();
    u.last_name = "Bloggs".into();
    u.email = Some(format!("{login}@example.com"));
    u.roles = roles.iter().map(|r| r.to_string()).collect();
    u
}

fn role(name: &str, perms: &[&str]) -> Role {
    Role::new(
        name,
        perms
            .iter()
            .map(|p| Permission::parse(p).unwrap())
            .collect(),
    )
    .unwrap()
}

fn perms(set: &PermissionSet) -> Vec<&str> {
    set.iter().map(|p| p.as_str()).collect()
}

/// A fixed time, far from now, that the session and token cases count from.
const T0: i64 = 1_800_000_000;

/// Creates `login` (password hash `h`) with `roles`.
async fn add_user(s: &dyn Store, login: &str, roles: &[&str]) -> User {
    s.create_user(&new_user(login, roles), "h", now())
        .await
        .unwrap()
}

/// Creates `login`, without roles, with the password hash `hash`.
async fn add_user_hashed(s: &dyn Store, login: &str, hash: &str) -> User {
    s.create_user(&new_user(login, &[]), hash, now())
        .await
        .unwrap()
}

/// The stored password hash of `login`.
async fn hash_of(s: &dyn Store, login: &str) -> String {
    s.user_by_login(login).await.unwrap().unwrap().password_hash
}

pub async fn migrations_are_idempotent_and_seed_admin(f: Fixture) {
    let again = f.reopen().await; // runs the migrator a second time
    let roles = again.list_roles().await.unwrap();
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].name, "admin");
    assert_eq!(perms(&roles[0].permissions), ["*"]);
}

pub async fn users_are_unique_by_normalised_login(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user_hashed(s, "Joe", "$argon2id$fake").await;
    assert_eq!(joe.login, "Joe");
    assert_eq!(joe.lang, "en");
    for dup in ["joe", "JOE", "ｊｏｅ"] {
        let err = s
            .create_user(&new_user(dup, &[]), "h", now())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{dup}: {err:?}");
    }
    let found = s
        .user_by_login(&Login::key_of("jOe"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user, joe);
    assert_eq!(found.password_hash, "$argon2id$fake");
    assert_eq!(s.user_by_id(joe.id).await.unwrap().unwrap(), joe);
    assert!(s.user_by_login("nobody").await.unwrap().is_none());
    assert!(s.user_by_id(UserId(987_654)).await.unwrap().is_none());
    assert_eq!(s.count_users().await.unwrap(), 1);
}

pub async fn unknown_role_creates_nothing(f: Fixture) {
    let s = f.store.as_ref();
    let err = s
        .create_user(&new_user("ann", &["admin", "ghost"]), "h", now())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::UnknownRole(r) if r == "ghost"),
        "{err:?}"
    );
    assert!(
        s.user_by_login("ann").await.unwrap().is_none(),
        "the transaction must roll back"
    );
    assert_eq!(s.count_users().await.unwrap(), 0);
    // The login is still free afterwards.
    add_user(s, "ann", &["admin"]).await;
}

pub async fn roles_grant_revoke_and_permissions(f: Fixture) {
    let s = f.store.as_ref();
    s.create_role(&role("orders-reader", &["orders:read"]), now())
        .await
        .unwrap();
    s.create_role(&role("billing", &["invoices:*", "orders:read"]), now())
        .await
        .unwrap();
    let err = s
        .create_role(&role("billing", &[]), now())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

    let names: Vec<String> = s
        .list_roles()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["admin", "billing", "orders-reader"]);

    let joe = add_user(s, "joe", &["orders-reader"]).await;
    assert_eq!(joe.roles, ["orders-reader"]);
    assert_eq!(
        perms(&s.permissions_of(joe.id).await.unwrap()),
        ["orders:read"]
    );

    assert!(s.grant_role(joe.id, "billing").await.unwrap());
    assert!(
        !s.grant_role(joe.id, "billing").await.unwrap(),
        "second grant is a no-op"
    );
    let p = s.permissions_of(joe.id).await.unwrap();
    assert_eq!(perms(&p), ["invoices:*", "orders:read"]);
    assert!(p.allows("invoices:pay"));
    assert!(!p.allows("users:write"));

    let err = s.grant_role(joe.id, "ghost").await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownRole(_)), "{err:?}");

    assert!(s.revoke_role(joe.id, "orders-reader").await.unwrap());
    assert!(!s.revoke_role(joe.id, "orders-reader").await.unwrap());
    let joe = s.user_by_id(joe.id).await.unwrap().unwrap();
    assert_eq!(joe.roles, ["billing"]);

    assert!(s.grant_role(joe.id, "admin").await.unwrap());
    assert!(
        s.permissions_of(joe.id)
            .await
            .unwrap()
            .allows("anything:at-all")
    );
}

pub async fn password_change_and_rehash(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user_hashed(s, "joe", "old").await;
    assert!(s.set_password(joe.id, "new", now()).await.unwrap());
    assert_eq!(hash_of(s, "joe").await, "new");
    assert!(!s.set_password(UserId(424_242), "x", now()).await.unwrap());

    // A rehash only replaces the hash it was computed from (a concurrent password
    // change wins).
    s.rehash_password(joe.id, "stale", "rehashed")
        .await
        .unwrap();
    assert_eq!(hash_of(s, "joe").await, "new");
    s.rehash_password(joe.id, "new", "rehashed").await.unwrap();
    assert_eq!(hash_of(s, "joe").await, "rehashed");
}

pub async fn disable_and_enable(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    assert!(!joe.disabled);
    assert!(s.set_disabled(joe.id, true, now()).await.unwrap());
    assert!(s.user_by_id(joe.id).await.unwrap().unwrap().disabled);
    assert!(s.user_by_login("joe").await.unwrap().unwrap().user.disabled);
    assert!(s.set_disabled(joe.id, false, now()).await.unwrap());
    assert!(!s.user_by_id(joe.id).await.unwrap().unwrap().disabled);
    assert!(!s.set_disabled(UserId(5_555), true, now()).await.unwrap());
}

pub async fn profile_updates_replace_names_language_and_email(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    let profile = tessera_core::Profile {
        first_name: "Joé".into(),
        last_name: "Bloggs".into(),
        lang: "fr-CA".into(),
        email: Some("joe@example.com".into()),
    };
    assert!(s.update_profile(joe.id, &profile, now()).await.unwrap());
    let stored = s.user_by_id(joe.id).await.unwrap().unwrap();
    assert_eq!(tessera_core::Profile::of(&stored), profile);
    assert_eq!(stored.login, joe.login, "the login does not change");
    let cleared = tessera_core::Profile {
        email: None,
        ..profile
    };
    assert!(s.update_profile(joe.id, &cleared, now()).await.unwrap());
    assert_eq!(s.user_by_id(joe.id).await.unwrap().unwrap().email, None);
    assert!(
        !s.update_profile(UserId(5_555), &cleared, now())
            .await
            .unwrap()
    );
}

pub async fn listing_and_counting(f: Fixture) {
    let s = f.store.as_ref();
    s.create_role(&role("ops", &["deploy:run"]), now())
        .await
        .unwrap();
    for (login, roles) in [
        ("zoe", vec!["ops"]),
        ("Adam", vec![]),
        ("mia", vec!["admin", "ops"]),
    ] {
        add_user(s, login, &roles).await;
    }
    let users = s.list_users().await.unwrap();
    let logins: Vec<&str> = users.iter().map(|u| u.login.as_str()).collect();
    assert_eq!(logins, ["Adam", "mia", "zoe"], "ordered case-insensitively");
    assert_eq!(users[0].roles, Vec::<String>::new());
    assert_eq!(users[1].roles, ["admin", "ops"]);
    assert_eq!(users[2].roles, ["ops"]);
    assert_eq!(users[1].email.as_deref(), Some("mia@example.com"));
    assert_eq!(s.count_users().await.unwrap(), 3);
}

/// Many writers at once, through two independent stores on the same database (as the CLI
/// beside a running server): every write succeeds, none sees "database is locked".
pub async fn concurrent_writers_never_fail(f: Fixture) {
    let other = f.reopen().await;
    f.store
        .create_role(&role("team", &["team:read"]), now())
        .await
        .unwrap();
    let results = concurrently(60, [&f.store, &other], |i, s| async move {
        let u = s
            .create_user(&new_user(&format!("user{i}"), &[]), "h", now())
            .await?;
        s.grant_role(u.id, "team").await?;
        s.set_password(u.id, "h2", now()).await?;
        s.set_disabled(u.id, i % 3 == 0, now()).await?;
        Ok::<_, StoreError>(u.id)
    })
    .await;
    let mut ids = HashSet::new();
    for result in results {
        ids.insert(result.unwrap_or_else(|e| panic!("concurrent write failed: {e}")));
    }
    assert_eq!(ids.len(), 60);
    assert_eq!(f.store.count_users().await.unwrap(), 60);
    let users = other.list_users().await.unwrap();
    assert!(users.iter().all(|u| u.roles == ["team"]));
    assert_eq!(users.iter().filter(|u| u.disabled).count(), 20);
}

/// Runs `task(i, store)` for each `i` in `0..n`, all at once, alternately on each of
/// `stores` (independent stores on the same database); their results, in order.
async fn concurrently<T, F, Fut>(n: usize, stores: [&Arc<dyn Store>; 2], task: F) -> Vec<T>
where
    F: Fn(usize, Arc<dyn Store>) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let tasks: Vec<_> = (0..n)
        .map(|i| tokio::spawn(task(i, Arc::clone(stores[i % 2]))))
        .collect();
    let mut results = Vec::with_capacity(n);
    for t in tasks {
        results.push(t.await.unwrap());
    }
    results
}

pub async fn ping_answers(f: Fixture) {
    f.store.ping().await.unwrap();
}

fn session(id: &str, user: UserId, created: i64) -> Session {
    Session {
        id: id.into(),
        kind: SessionKind::Password,
        user_id: user,
        api_key_id: None,
        scopes: None,
        created_at: Timestamp::from_unix(created),
        last_seen_at: Timestamp::from_unix(created),
        idle_expires_at: Some(Timestamp::from_unix(created + 1800)),
        expires_at: Timestamp::from_unix(created + 43_200),
        ip: Some("192.0.2.7".into()),
        user_agent: Some("curl/8".into()),
    }
}

fn digest(s: &str) -> [u8; 32] {
    tessera_core::secret::digest(s.as_bytes())
}

/// Stores `session` under the digest of `secret`.
async fn add_session(s: &dyn Store, session: &Session, secret: &str) {
    s.create_session(session, &digest(secret)).await.unwrap();
}

/// The unrevoked session whose secret is `secret`, with its user.
async fn by_secret(s: &dyn Store, secret: &str) -> Option<SessionRecord> {
    s.session_by_secret(&digest(secret)).await.unwrap()
}

/// The unrevoked personal token whose value is `secret`, with its user.
async fn pat_by_secret(s: &dyn Store, secret: &str) -> Option<(PersonalToken, User)> {
    s.pat_by_secret(&digest(secret)).await.unwrap()
}

pub async fn sessions_are_found_by_digest_and_revocable(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &["admin"]).await;
    let ann = add_user(s, "ann", &[]).await;
    let mut scoped = session("s2", joe.id, T0 + 10);
    scoped.scopes = Some(vec!["orders:read".into(), "orders:write".into()]);
    scoped.kind = SessionKind::AccessToken;
    scoped.idle_expires_at = None;
    add_session(s, &session("s1", joe.id, T0), "secret-1").await;
    add_session(s, &scoped, "secret-2").await;
    add_session(s, &session("a1", ann.id, T0), "secret-3").await;

    let found = by_secret(s, "secret-1").await.unwrap();
    assert_eq!(found.session, session("s1", joe.id, T0));
    assert_eq!(found.user.login, "joe");
    assert_eq!(found.user.roles, ["admin"]);
    let found = by_secret(s, "secret-2").await.unwrap();
    assert_eq!(
        found.session, scoped,
        "scopes, kind and a missing idle expiry round-trip"
    );
    assert!(by_secret(s, "nope").await.is_none());

    let at = Timestamp::from_unix(T0 + 100);
    let listed = s.list_sessions(joe.id, at).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|x| x.id.as_str()).collect();
    assert_eq!(ids, ["s2", "s1"], "newest first, only the user's");
    // Expired sessions are not listed.
    let later = Timestamp::from_unix(T0 + 50_000);
    assert!(s.list_sessions(joe.id, later).await.unwrap().is_empty());

    // Someone else's session cannot be revoked through my account.
    assert!(!s.revoke_session(joe.id, "a1", at).await.unwrap());
    assert!(by_secret(s, "secret-3").await.is_some());
    assert!(s.revoke_session(joe.id, "s1", at).await.unwrap());
    assert!(
        !s.revoke_session(joe.id, "s1", at).await.unwrap(),
        "already revoked"
    );
    assert!(by_secret(s, "secret-1").await.is_none());

    // Revoke all but one.
    add_session(s, &session("s3", joe.id, T0 + 20), "secret-4").await;
    assert_eq!(s.revoke_sessions(joe.id, Some("s3"), at).await.unwrap(), 1);
    assert!(by_secret(s, "secret-2").await.is_none());
    assert!(by_secret(s, "secret-4").await.is_some());
    assert_eq!(s.revoke_sessions(joe.id, None, at).await.unwrap(), 1);
    assert!(by_secret(s, "secret-4").await.is_none());
    assert!(by_secret(s, "secret-3").await.is_some(), "ann untouched");
}

pub async fn touches_only_move_forward(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    add_session(s, &session("s1", joe.id, T0), "k").await;
    let touch = |seen: i64| Touch {
        session_id: "s1".into(),
        last_seen_at: Timestamp::from_unix(seen),
        idle_expires_at: Some(Timestamp::from_unix(seen + 1800)),
    };
    s.touch_sessions(&[touch(T0 + 600), touch(T0 + 300)])
        .await
        .unwrap();
    let got = by_secret(s, "k").await.unwrap().session;
    assert_eq!(got.last_seen_at.unix(), T0 + 600);
    assert_eq!(got.idle_expires_at.unwrap().unix(), T0 + 2400);
    s.touch_sessions(&[]).await.unwrap();
}

pub async fn password_change_and_disable_end_sessions(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    add_session(s, &session("p1", joe.id, T0), "p1").await;
    let mut token = session("t1", joe.id, T0);
    token.kind = SessionKind::AccessToken;
    add_session(s, &token, "t1").await;
    s.set_password(joe.id, "new", now()).await.unwrap();
    assert!(by_secret(s, "p1").await.is_none());
    assert!(
        by_secret(s, "t1").await.is_some(),
        "client-credential tokens do not depend on the password"
    );
    s.set_disabled(joe.id, true, now()).await.unwrap();
    assert!(by_secret(s, "t1").await.is_none());
}

pub async fn purge_deletes_only_old_sessions(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    add_session(s, &session("old", joe.id, T0), "old").await;
    add_session(s, &session("new", joe.id, T0 + 100_000), "new").await;
    let n = s
        .purge_sessions(Timestamp::from_unix(T0 + 50_000))
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert!(by_secret(s, "old").await.is_none());
    assert!(by_secret(s, "new").await.is_some());
}

fn pat(id: &str, user: UserId, created: i64) -> PersonalToken {
    PersonalToken {
        id: id.into(),
        user_id: user,
        name: format!("token {id}"),
        scopes: Some(vec!["orders:read".into()]),
        created_at: Timestamp::from_unix(created),
        expires_at: Timestamp::from_unix(created + 86_400),
        last_used_at: None,
        prefix: Some("tsp_abcd".into()),
    }
}

pub async fn personal_tokens_lifecycle(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    let ann = add_user(s, "ann", &[]).await;
    s.create_pat(&pat("p1", joe.id, T0), &digest("v1"))
        .await
        .unwrap();
    s.create_pat(&pat("p2", joe.id, T0 + 5), &digest("v2"))
        .await
        .unwrap();
    let (found, user) = pat_by_secret(s, "v1").await.unwrap();
    assert_eq!(found, pat("p1", joe.id, T0));
    assert_eq!(user.login, "joe");
    let ids: Vec<String> = s
        .list_pats(joe.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["p2", "p1"]);
    assert!(s.list_pats(ann.id).await.unwrap().is_empty());

    for used in [T0 + 100, T0 + 50] {
        let uses = [("p1".to_owned(), Timestamp::from_unix(used))];
        s.touch_pats(&uses).await.unwrap();
    }
    let (p1, _) = pat_by_secret(s, "v1").await.unwrap();
    assert_eq!(p1.last_used_at, Some(Timestamp::from_unix(T0 + 100)));

    assert!(
        !s.revoke_pat(ann.id, "p1", now()).await.unwrap(),
        "not ann's token"
    );
    assert!(s.revoke_pat(joe.id, "p1", now()).await.unwrap());
    assert!(pat_by_secret(s, "v1").await.is_none());
    let p3 = pat("p3", joe.id, T0);
    assert!(
        !s.replace_pat(joe.id, "p1", &p3, &digest("v3"), now())
            .await
            .unwrap()
    );
    assert!(pat_by_secret(s, "v3").await.is_none(), "nothing written");
    let p4 = pat("p4", joe.id, T0 + 9);
    assert!(
        s.replace_pat(joe.id, "p2", &p4, &digest("v4"), now())
            .await
            .unwrap()
    );
    assert!(pat_by_secret(s, "v2").await.is_none());
    assert_eq!(pat_by_secret(s, "v4").await.unwrap().0.id, "p4");
}

pub async fn api_keys_and_their_sessions(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    let ann = add_user(s, "ann", &[]).await;
    let key = ApiKey {
        id: "key_1".into(),
        user_id: joe.id,
        name: "ci".into(),
        scopes: None,
        created_at: Timestamp::from_unix(T0),
        last_used_at: None,
        disabled_at: None,
    };
    s.create_api_key(&key, &digest("secret")).await.unwrap();
    let rec = s.api_key("key_1").await.unwrap().unwrap();
    assert_eq!(rec.key, key);
    assert_eq!(rec.secret_digest, digest("secret"));
    assert_eq!(rec.user.login, "joe");
    assert_eq!(
        s.list_api_keys(joe.id).await.unwrap(),
        std::slice::from_ref(&key)
    );
    assert!(s.api_key("key_2").await.unwrap().is_none());

    let mut sess = session("ks", joe.id, T0);
    sess.kind = SessionKind::ApiKey;
    sess.api_key_id = Some("key_1".into());
    add_session(s, &sess, "ks").await;

    // Disabling ends its sessions and is seen by the lookup; enabling clears the mark.
    let mut first = sess.clone();
    first.id = "ks0".into();
    add_session(s, &first, "ks0").await;
    assert!(
        !s.set_api_key_disabled(ann.id, "key_1", true, now())
            .await
            .unwrap()
    );
    let at = now();
    assert!(
        s.set_api_key_disabled(joe.id, "key_1", true, at)
            .await
            .unwrap()
    );
    let disabled = s.api_key("key_1").await.unwrap().unwrap().key;
    assert_eq!(disabled.disabled_at, Some(at));
    assert!(
        by_secret(s, "ks0").await.is_none(),
        "its sessions end when disabled"
    );
    assert!(
        s.set_api_key_disabled(joe.id, "key_1", false, now())
            .await
            .unwrap()
    );
    assert_eq!(s.api_key("key_1").await.unwrap().unwrap().key, key);
    let mut again = sess.clone();
    again.id = "ks2".into();
    add_session(s, &again, "ks2").await;

    assert!(!s.delete_api_key(ann.id, "key_1", now()).await.unwrap());
    assert!(by_secret(s, "ks2").await.is_some());
    assert!(s.delete_api_key(joe.id, "key_1", now()).await.unwrap());
    assert!(s.api_key("key_1").await.unwrap().is_none());
    assert!(
        by_secret(s, "ks2").await.is_none(),
        "its sessions end with it"
    );
}

pub async fn client_secrets_are_replaced(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    assert!(s.client_secret(joe.id).await.unwrap().is_none());
    let first = StoredClientSecret {
        user_id: joe.id,
        ciphertext: vec![1, 2, 3],
        created_at: Timestamp::from_unix(10),
        expires_at: Timestamp::from_unix(20),
    };
    s.set_client_secret(&first, &digest("c1")).await.unwrap();
    assert_eq!(s.client_secret(joe.id).await.unwrap().unwrap(), first);
    let (owner, exp) = s.client_secret_owner(&digest("c1")).await.unwrap().unwrap();
    assert_eq!((owner.login.as_str(), exp.unix()), ("joe", 20));
    let second = StoredClientSecret {
        ciphertext: vec![9],
        created_at: Timestamp::from_unix(30),
        expires_at: Timestamp::from_unix(40),
        ..first
    };
    s.set_client_secret(&second, &digest("c2")).await.unwrap();
    assert_eq!(s.client_secret(joe.id).await.unwrap().unwrap(), second);
    let owner = |secret| async move { s.client_secret_owner(&digest(secret)).await.unwrap() };
    assert!(owner("c1").await.is_none(), "the old secret is gone");
    assert!(owner("c2").await.is_some());
}

pub async fn client_secrets_are_listed_and_resealed_only_when_unchanged(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    let ann = add_user(s, "ann", &[]).await;
    assert!(s.client_secrets().await.unwrap().is_empty());
    let stored = |user: UserId, ciphertext: Vec<u8>| StoredClientSecret {
        user_id: user,
        ciphertext,
        created_at: Timestamp::from_unix(10),
        expires_at: Timestamp::from_unix(20),
    };
    s.set_client_secret(&stored(joe.id, vec![1]), &digest("j"))
        .await
        .unwrap();
    s.set_client_secret(&stored(ann.id, vec![2]), &digest("a"))
        .await
        .unwrap();
    let mut all = s.client_secrets().await.unwrap();
    all.sort_by_key(|c| c.user_id.0);
    assert_eq!(all, [stored(joe.id, vec![1]), stored(ann.id, vec![2])]);

    // Sealed again: only the ciphertext changes; the digest still authenticates.
    assert!(s.reseal_client_secret(joe.id, &[1], &[7, 7]).await.unwrap());
    assert_eq!(
        s.client_secret(joe.id).await.unwrap().unwrap(),
        stored(joe.id, vec![7, 7])
    );
    assert!(s.client_secret_owner(&digest("j")).await.unwrap().is_some());
    // A rotation in between wins: an outdated ciphertext replaces nothing.
    assert!(!s.reseal_client_secret(ann.id, &[9], &[8]).await.unwrap());
    assert_eq!(
        s.client_secret(ann.id).await.unwrap().unwrap().ciphertext,
        [2]
    );
}

pub async fn sessions_sealed_before_a_rotation_are_counted_until_resealed(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    let now = now();
    let t = now.unix();
    // Opened before the rotation at t - 100, after it, and one that ended.
    let before = session("s_before", joe.id, t - 200);
    let after = session("s_after", joe.id, t - 50);
    let mut ended = session("s_ended", joe.id, t - 300);
    ended.expires_at = Timestamp::from_unix(t - 1);
    let mut key = session("s_key", joe.id, t - 300);
    key.kind = SessionKind::ApiKey;
    for (sess, secret) in [(&before, "b"), (&after, "a"), (&ended, "e"), (&key, "k")] {
        add_session(s, sess, secret).await;
    }
    let until = Timestamp::from_unix(t - 100);
    let (n, last) = s.sessions_sealed_before(until, now).await.unwrap();
    assert_eq!(n, 1, "only the live sign-in session opened before");
    assert_eq!(last, Some(before.expires_at));
    // Its cookie sealed again before the rotation still counts; after it, no longer.
    s.mark_cookie_resealed("s_before", Timestamp::from_unix(t - 150))
        .await
        .unwrap();
    assert_eq!(s.sessions_sealed_before(until, now).await.unwrap().0, 1);
    s.mark_cookie_resealed("s_before", Timestamp::from_unix(t - 10))
        .await
        .unwrap();
    assert_eq!(
        s.sessions_sealed_before(until, now).await.unwrap(),
        (0, None)
    );
}

/// At most 5 failures in 15 minutes; locks of 1 minute, doubling, up to 15.
const LIMIT: Limit = Limit {
    max_failures: 5,
    window: Duration::from_secs(900),
    base_delay: Duration::from_secs(60),
    max_lockout: Duration::from_secs(900),
};

/// Counts an attempt of `subject` in `scope` at `at`, under [`LIMIT`].
async fn attempt(s: &dyn Store, scope: Scope, subject: &str, at: Timestamp) -> Attempt {
    s.register_attempt(scope, subject, &LIMIT, at)
        .await
        .unwrap()
}

/// Attempts are counted atomically before any password is checked: many concurrent
/// guesses, through two stores, let through no more than the limit.
pub async fn throttling_counts_atomically(f: Fixture) {
    let t0 = Timestamp::from_unix(T0);
    let other = f.reopen().await;
    let attempts = concurrently(40, [&f.store, &other], |_, s| async move {
        attempt(s.as_ref(), Scope::Account, "joe", t0).await
    })
    .await;
    let allowed = attempts.iter().filter(|a| **a == Attempt::Allowed).count();
    assert_eq!(allowed, 5, "exactly the limit got through");
    // Locked for base_delay after the fifth; other subjects and scopes are unaffected.
    let s = f.store.as_ref();
    let secs = Duration::from_secs;
    let locked = attempt(s, Scope::Account, "joe", t0.plus(secs(30))).await;
    let until = t0.plus(secs(60));
    assert_eq!(locked, Attempt::Throttled { until });
    assert_eq!(
        attempt(s, Scope::Account, "ann", t0).await,
        Attempt::Allowed
    );
    assert_eq!(attempt(s, Scope::Ip, "joe", t0).await, Attempt::Allowed);
    // After the lock: one more attempt, then a doubled lock.
    let t1 = t0.plus(secs(61));
    assert_eq!(
        attempt(s, Scope::Account, "joe", t1).await,
        Attempt::Allowed
    );
    let until = t1.plus(secs(120));
    let locked = attempt(s, Scope::Account, "joe", t1).await;
    assert_eq!(locked, Attempt::Throttled { until });
    // A success clears the count; an old count is forgotten after the window.
    s.clear_attempts(Scope::Account, "joe").await.unwrap();
    assert_eq!(
        attempt(s, Scope::Account, "joe", t1).await,
        Attempt::Allowed
    );
    for _ in 0..4 {
        attempt(s, Scope::Account, "ann", t0).await;
    }
    let later = t0.plus(secs(3600));
    for _ in 0..4 {
        assert_eq!(
            attempt(s, Scope::Account, "ann", later).await,
            Attempt::Allowed
        );
    }
}

/// What a successful login writes (the failure count cleared, the session, its audit
/// record) commits together, or not at all.
pub async fn a_login_is_written_in_one_transaction(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    let ann = add_user(s, "ann", &[]).await;
    let t0 = Timestamp::from_unix(T0);
    let audited = |user: UserId| async move {
        s.list_audit(Some(user), Timestamp::from_unix(0), 100)
            .await
            .unwrap()
            .len()
    };
    for who in ["joe", "ann"] {
        for _ in 0..4 {
            assert_eq!(attempt(s, Scope::Account, who, t0).await, Attempt::Allowed);
        }
    }
    let event = |user: &User, session: &str| {
        tessera_core::audit::AuditEvent::new("login", "success")
            .user(user)
            .detail(format!("session={session}"))
    };
    s.complete_login(
        Some((Scope::Account, "joe")),
        &session("s1", joe.id, T0),
        &digest("tss_one"),
        &event(&joe, "s1"),
    )
    .await
    .unwrap();
    assert_eq!(by_secret(s, "tss_one").await.unwrap().session.id, "s1");
    assert_eq!(audited(joe.id).await, 1);
    // Cleared: the whole limit again before a lock.
    for _ in 0..5 {
        assert_eq!(
            attempt(s, Scope::Account, "joe", t0).await,
            Attempt::Allowed
        );
    }

    // A login whose session cannot be stored (its id is taken) leaves nothing behind:
    // no audit record, and the failures it would have cleared still count.
    let failed = s
        .complete_login(
            Some((Scope::Account, "ann")),
            &session("s1", ann.id, T0),
            &digest("tss_two"),
            &event(&ann, "s1"),
        )
        .await;
    assert!(failed.is_err());
    assert!(by_secret(s, "tss_two").await.is_none());
    assert_eq!(audited(ann.id).await, 0);
    assert_eq!(
        attempt(s, Scope::Account, "ann", t0).await,
        Attempt::Allowed
    );
    assert!(matches!(
        attempt(s, Scope::Account, "ann", t0).await,
        Attempt::Throttled { .. }
    ));
}

pub async fn roles_change_permissions_and_are_deleted_only_when_unused(f: Fixture) {
    let s = f.store.as_ref();
    s.create_role(&role("clerk", &["orders:read"]), now())
        .await
        .unwrap();
    let joe = add_user(s, "joe", &["clerk"]).await;
    assert!(
        s.set_role_permissions(&role("clerk", &["orders:write", "invoices:read"]))
            .await
            .unwrap()
    );
    assert_eq!(
        perms(&s.permissions_of(joe.id).await.unwrap()),
        ["invoices:read", "orders:write"],
        "the old permissions are replaced, not added to"
    );
    assert!(
        !s.set_role_permissions(&role("ghost", &["x:y"]))
            .await
            .unwrap()
    );

    let err = s.delete_role("clerk").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        s.list_roles()
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == "clerk")
    );
    let err = s.delete_role("ghost").await.unwrap_err();
    assert!(matches!(err, StoreError::UnknownRole(_)), "{err:?}");

    s.revoke_role(joe.id, "clerk").await.unwrap();
    s.delete_role("clerk").await.unwrap();
    assert!(
        !s.list_roles()
            .await
            .unwrap()
            .iter()
            .any(|r| r.name == "clerk")
    );
    // A role of the same name starts without the old permissions.
    s.create_role(&role("clerk", &[]), now()).await.unwrap();
    s.grant_role(joe.id, "clerk").await.unwrap();
    assert!(
        s.permissions_of(joe.id)
            .await
            .unwrap()
            .iter()
            .next()
            .is_none()
    );
}

pub async fn deleting_a_user_removes_what_it_owns(f: Fixture) {
    let s = f.store.as_ref();
    let ann = add_user(s, "ann", &[]).await;
    // joe has the highest id, the one a database could hand out again.
    let joe = add_user(s, "joe", &["admin"]).await;
    add_session(s, &session("s1", joe.id, T0), "joe-session").await;
    add_session(s, &session("a1", ann.id, T0), "ann-session").await;
    s.append_audit(&tessera_core::audit::AuditEvent::new("login", "success").user(&joe))
        .await
        .unwrap();

    assert!(s.delete_user(joe.id).await.unwrap());
    assert!(!s.delete_user(joe.id).await.unwrap(), "already gone");
    assert!(s.user_by_login("joe").await.unwrap().is_none());
    assert!(by_secret(s, "joe-session").await.is_none());
    assert!(by_secret(s, "ann-session").await.is_some());
    let history = s
        .list_audit(Some(joe.id), Timestamp::from_unix(0), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "the audit log outlives the account");
    // The login is free again; the id is never given again (the audit log keeps it).
    let again = add_user(s, "joe", &[]).await;
    assert!(again.id.0 > joe.id.0, "{:?} after {:?}", again.id, joe.id);
    assert!(
        s.list_audit(Some(again.id), Timestamp::from_unix(0), 10)
            .await
            .unwrap()
            .is_empty(),
        "a new user inherits no history"
    );
}

fn invitation(id: &str, user: UserId, purpose: InvitationPurpose, expires: i64) -> Invitation {
    Invitation {
        id: id.into(),
        user_id: user,
        purpose,
        created_by: "root".into(),
        created_at: Timestamp::from_unix(expires - 86_400),
        expires_at: Timestamp::from_unix(expires),
    }
}

pub async fn set_password_links_are_one_time_and_replace_each_other(f: Fixture) {
    let s = f.store.as_ref();
    let joe = add_user_hashed(s, "joe", "unusable").await;
    let at = Timestamp::from_unix(T0);
    let first = invitation("inv_1", joe.id, InvitationPurpose::Invite, T0 + 100);
    s.create_invitation(&first, &digest("link-1"))
        .await
        .unwrap();
    let (found, user) = s
        .invitation_by_secret(&digest("link-1"), at)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found, user.login.as_str()), (first, "joe"));
    assert!(
        s.invitation_by_secret(&digest("link-1"), Timestamp::from_unix(T0 + 100))
            .await
            .unwrap()
            .is_none(),
        "expired at its expiry"
    );

    // A new link replaces the outstanding one.
    let reset = invitation("inv_2", joe.id, InvitationPurpose::Reset, T0 + 100);
    s.create_invitation(&reset, &digest("link-2"))
        .await
        .unwrap();
    assert!(
        s.redeem_invitation(&digest("link-1"), "h1", at)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(s.list_invitations().await.unwrap(), [reset]);

    add_session(s, &session("p1", joe.id, T0), "p1").await;
    let late = Timestamp::from_unix(T0 + 100);
    assert!(
        s.redeem_invitation(&digest("link-2"), "h2", late)
            .await
            .unwrap()
            .is_none(),
        "not after its expiry"
    );
    assert_eq!(hash_of(s, "joe").await, "unusable");
    assert_eq!(
        s.redeem_invitation(&digest("link-2"), "h2", at)
            .await
            .unwrap(),
        Some(joe.id)
    );
    assert_eq!(hash_of(s, "joe").await, "h2");
    assert!(by_secret(s, "p1").await.is_none(), "sessions ended");
    assert!(
        s.redeem_invitation(&digest("link-2"), "h3", at)
            .await
            .unwrap()
            .is_none(),
        "used once only"
    );
    assert_eq!(hash_of(s, "joe").await, "h2");
    assert!(s.list_invitations().await.unwrap().is_empty());
}

pub async fn audit_search_filters_and_pages(f: Fixture) {
    use tessera_core::audit::{AuditEvent, AuditFilter};
    let s = f.store.as_ref();
    let joe = add_user(s, "joe", &[]).await;
    let ann = add_user(s, "ann", &[]).await;
    for (i, (user, event, outcome)) in [
        (&joe, "login", "success"),
        (&joe, "login", "failure"),
        (&ann, "login", "success"),
        (&joe, "token_created", "success"),
        (&ann, "login", "success"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut e = AuditEvent::new(event, outcome).user(user);
        e.at = Timestamp::from_unix(T0 + i as i64);
        s.append_audit(&e).await.unwrap();
    }
    let search = |filter: AuditFilter| async move {
        s.search_audit(&AuditFilter {
            limit: 10,
            ..filter
        })
        .await
        .unwrap()
        .iter()
        .map(|e| (e.at.unix() - T0, e.event.clone()))
        .collect::<Vec<_>>()
    };
    assert_eq!(search(AuditFilter::default()).await.len(), 5);
    let joes = search(AuditFilter {
        login: Some("JOE".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        joes,
        [
            (3, "token_created".into()),
            (1, "login".into()),
            (0, "login".into())
        ]
    );
    let failures = search(AuditFilter {
        event: Some("login".into()),
        outcome: Some("failure".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(failures, [(1, "login".into())]);
    let window = search(AuditFilter {
        from: Some(Timestamp::from_unix(T0 + 1)),
        to: Some(Timestamp::from_unix(T0 + 3)),
        ..Default::default()
    })
    .await;
    assert_eq!(window, [(2, "login".into()), (1, "login".into())]);
    let page = s
        .search_audit(&AuditFilter {
            offset: 2,
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let at: Vec<i64> = page.iter().map(|e| e.at.unix() - T0).collect();
    assert_eq!(at, [2, 1], "the second page of two, newest first");

    let mut last = s.last_logins(&[joe.id, ann.id]).await.unwrap();
    last.sort_by_key(|(id, _)| id.0);
    assert_eq!(
        last,
        [
            (joe.id, Timestamp::from_unix(T0)),
            (ann.id, Timestamp::from_unix(T0 + 4))
        ],
        "the newest successful login of each"
    );
    assert_eq!(s.last_logins(&[ann.id]).await.unwrap().len(), 1);
    assert!(s.last_logins(&[]).await.unwrap().is_empty());
}

pub async fn identity_links_find_users_by_provider_issuer_and_subject(f: Fixture) {
    let s = f.store.as_ref();
    const ISSUER: &str = "https://id.example.com";
    let link = |provider: &str, subject: &str| IdentityLink {
        provider: provider.into(),
        subject: subject.into(),
        issuer: ISSUER.into(),
        user_id: UserId(0),
        created_at: Timestamp::from_unix(T0),
        last_login_at: Timestamp::from_unix(T0),
    };
    let linked = |provider: &'static str, issuer: &'static str, at: Timestamp| async move {
        s.linked_user(provider, issuer, "sub-1", at).await.unwrap()
    };
    assert!(linked("corp", ISSUER, now()).await.is_none());
    let mut joe_new = new_user("joe", &["admin"]);
    joe_new.email = None;
    let joe = s
        .create_linked_user(&joe_new, "h", &link("corp", "sub-1"))
        .await
        .unwrap();
    // Linked once only, and a taken login links nothing: each is one transaction.
    let err = s
        .create_linked_user(&new_user("joe2", &[]), "h", &link("corp", "sub-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        s.user_by_login("joe2").await.unwrap().is_none(),
        "rolled back"
    );
    let err = s
        .create_linked_user(&new_user("JOE", &[]), "h", &link("corp", "sub-2"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // The same subject at another provider, or at another issuer, is another account.
    assert!(linked("other", ISSUER, now()).await.is_none());
    assert!(
        linked("corp", "https://evil.example.com", now())
            .await
            .is_none()
    );
    let later = Timestamp::from_unix(T0 + 60);
    let found = linked("corp", ISSUER, later).await.unwrap();
    assert_eq!(
        (found.login.as_str(), found.roles.clone()),
        ("joe", vec!["admin".to_owned()])
    );
    let links = s.identity_links(joe.id).await.unwrap();
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].last_login_at, later, "the sign-in is recorded");
    assert_eq!(links[0].issuer, ISSUER);

    // Sessions of kind `idp` are stored and found like password sessions.
    let mut idp = session("i1", joe.id, T0);
    idp.kind = SessionKind::Idp;
    add_session(s, &idp, "idp-secret").await;
    assert_eq!(
        by_secret(s, "idp-secret").await.unwrap().session.kind,
        SessionKind::Idp
    );

    s.delete_user(joe.id).await.unwrap();
    assert!(
        linked("corp", ISSUER, now()).await.is_none(),
        "links go with their user"
    );
}

/// Follows the revocation feed of `store` on a task of its own; the receiver gets what it
/// reports.
async fn follow(store: Arc<dyn Store>) -> tokio::sync::mpsc::Receiver<RevocationNotice> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(1024);
    tokio::spawn(async move { store.follow_revocations(tx).await });
    assert_eq!(next_notice(&mut rx).await, RevocationNotice::Live);
    rx
}

async fn next_notice(rx: &mut tokio::sync::mpsc::Receiver<RevocationNotice>) -> RevocationNotice {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("the feed reports within 10 s")
        .expect("the feed stays open")
}

/// The users revoked, in order, until (and with) `last`, a repeat of the same user in a
/// row counted once (one change can revoke several rows of the same user).
async fn revoked_until(
    rx: &mut tokio::sync::mpsc::Receiver<RevocationNotice>,
    last: Option<UserId>,
) -> Vec<Option<UserId>> {
    let mut seen: Vec<Option<UserId>> = Vec::new();
    while seen.last() != Some(&last) {
        match next_notice(rx).await {
            RevocationNotice::Revoked(user) if seen.last() != Some(&user) => seen.push(user),
            RevocationNotice::Revoked(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    seen
}

pub async fn revocations_reach_a_follower_on_another_connection(f: Fixture) {
    let s = f.store.as_ref();
    s.create_role(&role("orders", &["orders:read"]), now())
        .await
        .unwrap();
    let joe = add_user(s, "joe", &[]).await;
    let ann = add_user(s, "ann", &[]).await;
    let marker = add_user(s, "marker", &["orders"]).await;
    // Another instance of the server, on its own connections.
    let mut rx = follow(f.reopen().await).await;

    // What is not a revocation is not reported: a session opened, its activity, a token
    // minted, a login recorded.
    add_session(s, &session("s1", joe.id, T0), "c1").await;
    s.touch_sessions(&[Touch {
        session_id: "s1".into(),
        last_seen_at: Timestamp::from_unix(T0 + 60),
        idle_expires_at: None,
    }])
    .await
    .unwrap();
    s.create_pat(&pat("p1", ann.id, T0), &digest("v1"))
        .await
        .unwrap();
    assert!(s.revoke_session(joe.id, "s1", now()).await.unwrap());
    assert!(s.revoke_pat(ann.id, "p1", now()).await.unwrap());
    assert!(s.set_disabled(joe.id, true, now()).await.unwrap());
    assert!(s.set_role_permissions(&role("orders", &[])).await.unwrap());
    assert!(s.grant_role(ann.id, "orders").await.unwrap());
    assert!(s.set_password(ann.id, "h2", now()).await.unwrap());
    assert!(s.delete_user(joe.id).await.unwrap());
    assert!(s.revoke_role(marker.id, "orders").await.unwrap());
    assert_eq!(
        revoked_until(&mut rx, Some(marker.id)).await,
        [
            Some(joe.id),
            Some(ann.id),
            Some(joe.id),
            None,
            Some(ann.id),
            Some(joe.id),
            Some(marker.id)
        ]
    );

    // A revocation rolled back is not reported: a token regenerated into a value that
    // already exists fails after revoking the old one, and only the marker arrives.
    s.create_pat(&pat("p2", ann.id, T0), &digest("v2"))
        .await
        .unwrap();
    s.create_pat(&pat("p3", ann.id, T0), &digest("v3"))
        .await
        .unwrap();
    let replaced = s
        .replace_pat(ann.id, "p2", &pat("p4", ann.id, T0), &digest("v3"), now())
        .await;
    assert!(replaced.is_err(), "{replaced:?}");
    assert!(
        pat_by_secret(s, "v2").await.is_some(),
        "the revocation rolled back"
    );
    assert!(s.grant_role(marker.id, "orders").await.unwrap());
    assert_eq!(
        revoked_until(&mut rx, Some(marker.id)).await,
        [Some(marker.id)]
    );

    if s.backend() == "postgres" {
        // The listening connection is killed: the feed says so, listens again, and
        // reports what follows.
        let killed = sqlx_terminate_listeners(&f.url).await;
        assert_eq!(killed, 1, "one listening connection per follower");
        assert!(matches!(
            next_notice(&mut rx).await,
            RevocationNotice::Lost(_)
        ));
        assert_eq!(next_notice(&mut rx).await, RevocationNotice::Live);
        assert!(s.set_password(ann.id, "h3", now()).await.unwrap());
        assert_eq!(revoked_until(&mut rx, Some(ann.id)).await, [Some(ann.id)]);
    }
}

/// Ends the connections that listen for revocations on the database at `url`; returns
/// how many there were.
async fn sqlx_terminate_listeners(url: &str) -> i64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'tessera revocation feed'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    pool.close().await;
    killed
}

/// Runs one statement on the database at `url` outside the store (what another version
/// of Tessera, or an operator, would have done to it).
async fn execute_raw(url: &str, sql: &'static str) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

pub async fn a_database_migrated_by_a_newer_version_is_refused(f: Fixture) {
    use tessera_store::{OpenError, OpenOptions, SCHEMA_VERSION};
    // SQLite and PostgreSQL spell a one-byte blob differently.
    execute_raw(
        &f.url,
        if f.url.starts_with("sqlite:") {
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from a later release', TRUE, x'00', 0)"
        } else {
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (9999, 'from a later release', TRUE, '\\x00'::bytea, 0)"
        },
    )
    .await;
    for migrate in [true, false] {
        let options = OpenOptions {
            migrate,
            ..OpenOptions::default()
        };
        let err = match tessera_store::open(&f.url, &options).await {
            Ok(_) => panic!("a database of schema 9999 was opened (migrate = {migrate})"),
            Err(e) => e,
        };
        assert!(
            matches!(err, OpenError::TooNew { database: 9999 }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains("version 9999"), "{message}");
        assert!(
            message.contains(&format!("(schema {SCHEMA_VERSION})")),
            "{message}"
        );
        assert!(message.contains(env!("CARGO_PKG_VERSION")), "{message}");
    }
    // What the store already held is untouched: the refusal wrote nothing.
    assert_eq!(f.store.list_roles().await.unwrap().len(), 1);
}

pub async fn the_schema_version_is_the_last_migration(f: Fixture) {
    let applied: i64 = if f.url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&f.url).await.unwrap();
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap()
    } else {
        let pool = sqlx::PgPool::connect(&f.url).await.unwrap();
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(applied, tessera_store::SCHEMA_VERSION);
}
