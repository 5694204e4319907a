//! SQLite and PostgreSQL implementations of [`tessera_core::Store`].
//!
//! Both are one generic store, `sql::SqlStore<DB>`, so they run the same SQL (portable
//! `$n` placeholders, which SQLite reads positionally), written once in the `sql` module,
//! and the conformance suite in `tests/conformance` holds them to identical behaviour.
//! What differs is connection handling: SQLite gets one writer connection
//! (`BEGIN IMMEDIATE`) beside a pool of readers, PostgreSQL a pool.

use std::sync::Arc;
use std::time::Duration;

use tessera_core::Store;

mod postgres;
mod sql;
mod sqlite;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// Why a database could not be opened. The message is one line and names no secret.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL is not a `sqlite:` or `postgres://` URL, or does not parse as one.
    #[error("database.url: {0}")]
    BadUrl(String),
    /// The database could not be reached or opened: no answer within the connect timeout,
    /// a refused connection or login, an unknown database, or (SQLite) a missing directory
    /// or a file that cannot be opened.
    #[error("cannot open the database: {0}")]
    Connect(String),
    /// A pending migration failed, or a migration already applied is unknown to this
    /// version or differs from its own.
    #[error("cannot apply migrations: {0}")]
    Migrate(String),
    /// The database was migrated by a newer Tessera: this one does not know its schema
    /// and refuses to touch it.
    #[error(
        "the database's schema is version {database}, newer than this tessera {} knows (schema {SCHEMA_VERSION}): run the newer tessera again, or restore a backup made before the upgrade",
        env!("CARGO_PKG_VERSION")
    )]
    TooNew {
        /// The schema version recorded in the database.
        database: i64,
    },
}

/// The schema version this build migrates to: the number of its last migration (the same
/// on both backends).
pub const SCHEMA_VERSION: i64 = 7;

/// The highest migration recorded as applied in a database, 0 for a fresh one.
pub(crate) fn refuse_newer(applied: Option<i64>) -> Result<(), OpenError> {
    match applied {
        Some(database) if database > SCHEMA_VERSION => Err(OpenError::TooNew { database }),
        _ => Ok(()),
    }
}

/// How [`open`] connects.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Apply pending migrations after connecting.
    pub migrate: bool,
    /// How long to wait for the database before giving up.
    pub connect_timeout: Duration,
    /// Largest number of PostgreSQL connections (SQLite readers are sized to the cores).
    pub max_connections: u32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            migrate: true,
            connect_timeout: Duration::from_secs(5),
            max_connections: 16,
        }
    }
}

/// Opens `url` (`sqlite://PATH` or `postgres://...`).
pub async fn open(url: &str, options: &OpenOptions) -> Result<Arc<dyn Store>, OpenError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, options).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PostgresStore::open(url, options).await?))
    } else {
        Err(OpenError::BadUrl(
            "expected `sqlite://PATH` or `postgres://USER@HOST/DB`".to_owned(),
        ))
    }
}

/// `url` with any password replaced by `***`, for logs and `config show`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            let tail = redact_query_password(tail);
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => format!("{scheme}://{authority}{}", redact_query_password(tail)),
    }
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let params: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_owned(),
        })
        .collect();
    format!("{path}?{}", params.join("&"))
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact_url("postgres://u:s3cret@db:5432/t"),
            "postgres://u:***@db:5432/t"
        );
        assert_eq!(redact_url("postgres://u@db/t"), "postgres://u@db/t");
        assert_eq!(
            redact_url("postgres://db/t?user=u&password=s3cret&sslmode=require"),
            "postgres://db/t?user=u&password=***&sslmode=require"
        );
        assert_eq!(
            redact_url("sqlite://./tessera-data/tessera.db"),
            "sqlite://./tessera-data/tessera.db"
        );
    }
}
