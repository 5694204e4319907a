//! SQLite: one writer connection whose transactions begin `IMMEDIATE`, so a write can never
//! fail half-way with `SQLITE_BUSY`, and a pool of read-only connections (WAL lets readers
//! run beside the writer). Other processes on the same file (the CLI next to `serve`)
//! wait up to the busy timeout for the write lock.

use std::str::FromStr;
use std::time::Duration;

use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::sql::SqlStore;
use crate::{OpenError, OpenOptions};

/// A [`tessera_core::Store`] on one SQLite file: a single writer connection beside a pool
/// of read-only connections.
pub type SqliteStore = SqlStore<Sqlite>;

impl SqlStore<Sqlite> {
    /// Opens `url` (`sqlite://PATH`) in WAL mode with `synchronous = FULL`, creating the
    /// file if missing (its directory must exist), with up to two readers per core, and
    /// applies pending migrations when `options.migrate`. `options.connect_timeout` bounds
    /// the wait for a pooled connection; a write lock held by another process is waited
    /// for up to 10 seconds. `options.max_connections` does not apply.
    pub async fn open(url: &str, options: &OpenOptions) -> Result<Self, OpenError> {
        let base = SqliteConnectOptions::from_str(url)
            .map_err(|e| OpenError::BadUrl(e.to_string()))?
            .journal_mode(SqliteJournalMode::Wal)
            // FULL: an acknowledged write (a revocation) survives power loss, not only a crash.
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        if let Some(dir) = base.get_filename().parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            return Err(OpenError::Connect(format!(
                "directory {} does not exist",
                dir.display()
            )));
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            // A failed COMMIT (disk full, unwritable file) can leave the connection inside
            // its transaction; such a connection is closed rather than reused, so that
            // writes recover once the disk does.
            .before_acquire(|conn, _| Box::pin(async move { usable_for_writes(conn).await }))
            .acquire_timeout(options.connect_timeout)
            .connect_with(base.clone().create_if_missing(true))
            .await
            .map_err(|e| OpenError::Connect(e.to_string()))?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get()) as u32;
        let readers = SqlitePoolOptions::new()
            .max_connections(cores * 2)
            .acquire_timeout(options.connect_timeout)
            .connect_with(base.read_only(true))
            .await
            .map_err(|e| OpenError::Connect(e.to_string()))?;
        let store = Self {
            readers,
            writer,
            begin: Some("BEGIN IMMEDIATE"),
            name: "sqlite",
        };
        crate::refuse_newer(applied_schema(&store.writer).await?)?;
        if options.migrate {
            sqlx::migrate!("migrations/sqlite")
                .run(&store.writer)
                .await
                .map_err(|e| OpenError::Migrate(e.to_string()))?;
        }
        Ok(store)
    }
}

/// The highest successfully applied migration, `None` on a database never migrated.
pub(crate) async fn applied_schema(pool: &sqlx::SqlitePool) -> Result<Option<i64>, OpenError> {
    let tracked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_one(pool)
    .await
    .map_err(|e| OpenError::Connect(e.to_string()))?;
    if tracked == 0 {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .map_err(|e| OpenError::Connect(e.to_string()))
}

/// Whether the writer connection can still write. A failed COMMIT (disk full,
/// unwritable file) can leave it inside its transaction, and a connection opened while
/// the file was not writable stays read-only after the file becomes writable again: such
/// connections are closed and replaced, so that writes recover once the disk does.
async fn usable_for_writes(conn: &mut sqlx::SqliteConnection) -> Result<bool, sqlx::Error> {
    if sqlx::Connection::is_in_transaction(conn) {
        return Ok(false);
    }
    // Take and release the write lock: a read-only connection fails here.
    let probe = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await;
    if probe.is_ok() {
        sqlx::query("ROLLBACK").execute(&mut *conn).await?;
    }
    Ok(probe.is_ok())
}
