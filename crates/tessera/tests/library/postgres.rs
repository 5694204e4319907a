//! The library on PostgreSQL: on a pool the application already has, and shared by two
//! instances.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use tessera_store::PostgresStore;

use crate::App;

#[tokio::test]
async fn instances_sharing_postgres_accept_each_others_tokens_and_revocations() {
    let Some(url) = tessera_store::testkit::postgres_url().await else {
        return;
    };
    // One instance on the application's own pool, one opened by URL.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let store = Arc::new(PostgresStore::from_pool(pool, true).await.unwrap());
    let key = tessera::SecretKey::generate().0;
    let first = App::start_with(|b| b.store(store).key(key.clone()), true).await;
    let second = App::start_with(|b| b.database(url).key(key), false).await;
    assert_eq!(first.tessera.accounts().store().backend(), "postgres");

    let token = first.session_token("ada").await;
    let c = second.client();
    let r = c.place(c.bearer(Method::POST, "/orders", &token)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Logged out on the first: refused on the second once its one-second cache lapses.
    let f = first.client();
    let r = f.send(f.bearer(Method::POST, "/api/logout", &token)).await;
    assert!(r.status.is_success(), "{}", r.body);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    c.send(c.bearer(Method::GET, "/orders", &token))
        .await
        .assert_problem(StatusCode::UNAUTHORIZED, "invalid_token");
}
