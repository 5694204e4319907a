//! PostgreSQL: a connection pool shared by any number of Tessera instances.

use std::str::FromStr;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use crate::{OpenError, OpenOptions};

/// A [`tessera_core::Store`] on PostgreSQL: one connection pool, for reads and writes.
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
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
        if options.migrate {
            sqlx::migrate!("migrations/postgres")
                .run(&pool)
                .await
                .map_err(|e| OpenError::Migrate(e.to_string()))?;
        }
        Ok(Self { pool })
    }

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    async fn write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }
}

use crate::sql::Db as _;

crate::sql::impl_store!(PostgresStore, Postgres, "postgres");
