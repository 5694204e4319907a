//! One suite, two backends: every case runs against SQLite and against a real PostgreSQL.

// Not a public API, and a panic here is a failing run.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use tessera_core::{Store, Timestamp};
use tessera_store::OpenOptions;

mod cases;

/// A store on a fresh database, and what keeps that database alive.
pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    /// A second, independent connection to the same database (another instance or process).
    pub async fn reopen(&self) -> Arc<dyn Store> {
        tessera_store::open(&self.url, &OpenOptions::default())
            .await
            .unwrap()
    }
}

pub async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("tessera.db").display());
    let store = tessera_store::open(&url, &OpenOptions::default())
        .await
        .unwrap();
    assert_eq!(store.backend(), "sqlite");
    Fixture {
        store,
        url,
        _dir: Some(dir),
    }
}

pub async fn postgres() -> Option<Fixture> {
    let url = tessera_store::testkit::postgres_url().await?;
    let store = tessera_store::open(&url, &OpenOptions::default())
        .await
        .unwrap();
    assert_eq!(store.backend(), "postgres");
    Some(Fixture {
        store,
        url,
        _dir: None,
    })
}

pub fn now() -> Timestamp {
    Timestamp::now()
}

/// Declares each case once for SQLite and once for PostgreSQL.
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    crate::cases::$case(crate::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(fixture) = crate::postgres().await {
                        crate::cases::$case(fixture).await;
                    }
                }
            )*
        }
    };
}

conformance!(
    migrations_are_idempotent_and_seed_admin,
    users_are_unique_by_normalised_login,
    unknown_role_creates_nothing,
    roles_grant_revoke_and_permissions,
    password_change_and_rehash,
    disable_and_enable,
    profile_updates_replace_names_language_and_email,
    listing_and_counting,
    concurrent_writers_never_fail,
    ping_answers,
    sessions_are_found_by_digest_and_revocable,
    touches_only_move_forward,
    password_change_and_disable_end_sessions,
    purge_deletes_only_old_sessions,
    personal_tokens_lifecycle,
    api_keys_and_their_sessions,
    client_secrets_are_replaced,
    client_secrets_are_listed_and_resealed_only_when_unchanged,
    sessions_sealed_before_a_rotation_are_counted_until_resealed,
    throttling_counts_atomically,
    a_login_is_written_in_one_transaction,
    roles_change_permissions_and_are_deleted_only_when_unused,
    deleting_a_user_removes_what_it_owns,
    set_password_links_are_one_time_and_replace_each_other,
    audit_search_filters_and_pages,
    identity_links_find_users_by_provider_issuer_and_subject,
    revocations_reach_a_follower_on_another_connection,
    a_database_migrated_by_a_newer_version_is_refused,
    the_schema_version_is_the_last_migration,
);
