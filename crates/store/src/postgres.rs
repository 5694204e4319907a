//! PostgreSQL: a connection pool shared by any number of Tessera instances.

use std::str::FromStr;

use sqlx::Connection as _;
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

use crate::sql::SqlStore;
use crate::{OpenError, OpenOptions};

/// A [`tessera_core::Store`] on PostgreSQL: one connection pool, for reads and writes.
pub type PostgresStore = SqlStore<Postgres>;

impl SqlStore<Postgres> {
    /// Connects to `url` (`postgres://USER:PASSWORD@HOST:PORT/DB`) with a pool of
    /// `options.max_connections`, and applies pending migrations when `options.migrate`.
    /// A first direct connection names the cause of a failure ([`OpenError::Connect`]);
    /// waits are bounded by `options.connect_timeout`.
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self, OpenError> {
        let connect = PgConnectOptions::from_str(url)
            .map_err(|e| OpenError::BadUrl(e.to_string()))?
            .application_name("tessera");
        // One direct connection first: a pool only reports "timed out", this names the cause
        // (connection refused, authentication failed, unknown database).
        match tokio::time::timeout(
            options.connect_timeout,
            PgConnection::connect_with(&connect),
        )
        .await
        {
            Ok(Ok(conn)) => drop(conn.close().await),
            Ok(Err(e)) => return Err(OpenError::Connect(e.to_string())),
            Err(_) => {
                return Err(OpenError::Connect(format!(
                    "no answer within {}s",
                    options.connect_timeout.as_secs()
                )));
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .before_acquire(|conn, _| {
                Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
            })
            .acquire_timeout(options.connect_timeout)
            .connect_with(connect)
            .await
            .map_err(|e| OpenError::Connect(e.to_string()))?;
        Self::from_pool(pool, options.migrate).await
    }

    /// The store on a pool the application already has, applying pending migrations
    /// when `migrate`. Tessera's tables and its `_sqlx_migrations` history then live in
    /// the pool's database, in the first schema of its `search_path`: an application
    /// that runs sqlx migrations of its own on the same database should give Tessera a
    /// schema of its own (connect with `options=-csearch_path%3Dtessera`), since the two
    /// histories cannot share one table.
    pub async fn from_pool(pool: sqlx::PgPool, migrate: bool) -> Result<Self, OpenError> {
        crate::refuse_newer(applied_schema(&pool).await?)?;
        if migrate {
            sqlx::migrate!("migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| OpenError::Migrate(e.to_string()))?;
        }
        Ok(Self {
            readers: pool.clone(),
            writer: pool,
            begin: None,
            name: "postgres",
        })
    }
}

/// The highest successfully applied migration, `None` on a database never migrated (its
/// history table is looked up in the `search_path`, where sqlx keeps it).
pub(crate) async fn applied_schema(pool: &sqlx::PgPool) -> Result<Option<i64>, OpenError> {
    let tracked: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(|e| OpenError::Connect(e.to_string()))?;
    if !tracked {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map_err(|e| OpenError::Connect(e.to_string()))
}
