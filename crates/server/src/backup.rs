//! `tessera backup FILE` and `tessera restore FILE`: a consistent copy of the SQLite
//! database taken while the server serves, and putting one back while no server runs.
//!
//! The copy is SQLite's `VACUUM INTO`: one read transaction, so the file holds exactly the
//! writes committed when it began, and writers are never blocked. A server holds a shared
//! `flock` on the database file for as long as it runs ([`ServeLock`]); `restore` takes
//! it exclusively and refuses when it cannot.

use std::fs;
use std::io::{IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tessera::Config;

/// The SQLite file `config` names, or why these commands do not apply to its database.
pub fn sqlite_file(config: &Config, command: &str) -> anyhow::Result<PathBuf> {
    let url = config.database_url();
    if !url.starts_with("sqlite:") {
        bail!(
            "database.url is PostgreSQL: `tessera {command}` copies the SQLite file; use pg_dump --format=custom and pg_restore (README, Operating Tessera)"
        );
    }
    let options =
        SqliteConnectOptions::from_str(&url).map_err(|e| anyhow::anyhow!("database.url: {e}"))?;
    Ok(options.get_filename().to_path_buf())
}

/// A shared lock on the database file held by a running server: `restore` cannot replace
/// the file under it. Released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct ServeLock {
    _file: fs::File,
}

impl ServeLock {
    /// Takes the shared lock on `config`'s SQLite file; `None` for PostgreSQL, or when the
    /// file cannot be opened (the store reports that itself).
    pub fn acquire(config: &Config) -> Option<Self> {
        let path = sqlite_file(config, "serve").ok()?;
        let file = fs::File::open(path).ok()?;
        // SAFETY: flock only reads the descriptor, which `file` keeps open.
        let locked = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) } == 0;
        if !locked {
            // Only a restore in progress holds it exclusively; serving from under it
            // would be serving the database being replaced.
            tracing::warn!("the database is being restored; not holding the serve lock");
            return None;
        }
        Some(Self { _file: file })
    }
}

/// `tessera backup FILE`.
pub async fn backup(config: &Config, dest: &Path) -> anyhow::Result<()> {
    let source = sqlite_file(config, "backup")?;
    if !source.exists() {
        bail!("no database at {}: nothing to back up", source.display());
    }
    if dest.exists() {
        bail!("{} already exists: name a new file", dest.display());
    }
    let dest_dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if !dest_dir.is_dir() {
        bail!("directory {} does not exist", dest_dir.display());
    }
    let Some(dest_text) = dest.to_str() else {
        bail!("the backup file name must be UTF-8");
    };
    let mut conn = open(&source, false).await?;
    let total = database_bytes(&mut conn).await?;
    let started = Instant::now();
    let copy = sqlx::query("VACUUM INTO $1")
        .bind(dest_text)
        .execute(&mut conn);
    let result = with_progress("backup", total, copy, || {
        fs::metadata(dest).map(|m| m.len()).unwrap_or(0)
    })
    .await;
    if let Err(e) = result {
        let _ = fs::remove_file(dest);
        bail!("the copy failed: {e}");
    }
    conn.close().await.ok();
    // The copy holds password hashes and encrypted client secrets: owner only.
    fs::set_permissions(dest, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot restrict {}", dest.display()))?;
    let summary = check_database(dest).await?;
    println!(
        "backup written to {} ({}, {:.1} s): {summary}",
        dest.display(),
        mib(fs::metadata(dest).map(|m| m.len()).unwrap_or(0)),
        started.elapsed().as_secs_f64()
    );
    println!(
        "the server key is not in the backup: keep a copy of {} with it",
        tessera::keyfile::key_path(config).display()
    );
    Ok(())
}

/// `tessera restore FILE`.
pub async fn restore(config: &Config, from: &Path) -> anyhow::Result<()> {
    let target = sqlite_file(config, "restore")?;
    if !from.is_file() {
        bail!("{} is not a file", from.display());
    }
    let summary = check_database(from)
        .await
        .with_context(|| format!("{} is not a Tessera backup", from.display()))?;
    let Some(dir) = target.parent() else {
        bail!("database.url names no file");
    };
    if !dir.is_dir() {
        bail!(
            "directory {} does not exist (server.data_dir)",
            dir.display()
        );
    }
    // Held until the new file is in place: no server can start on the old one meanwhile.
    let _exclusive = match fs::File::open(&target) {
        Ok(file) => {
            // SAFETY: flock only reads the descriptor, which `file` keeps open.
            let free = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0;
            if !free {
                bail!(
                    "a server is using {}: stop it first (restore replaces the whole database)",
                    target.display()
                );
            }
            Some(file)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => bail!("cannot open {}: {e}", target.display()),
    };
    let staging = target.with_extension("db.restoring");
    copy_with_progress(from, &staging).await?;
    let kept = if target.exists() {
        // Fold the write-ahead log into the file, so that the copy kept aside is whole.
        let mut conn = open(&target, false).await?;
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .context("cannot checkpoint the current database")?;
        conn.close().await.ok();
        let kept = PathBuf::from(format!(
            "{}.before-restore-{}",
            target.display(),
            tessera_core::Timestamp::now().unix()
        ));
        fs::rename(&target, &kept)
            .with_context(|| format!("cannot move {} aside", target.display()))?;
        Some(kept)
    } else {
        None
    };
    // A log or shared-memory file left by the old database must not be applied to the new.
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", target.display()));
        match fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("cannot remove {}: {e}", side.display()),
        }
    }
    fs::rename(&staging, &target)
        .with_context(|| format!("cannot put the backup in place at {}", target.display()))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    println!(
        "restored {} into {}: {summary}",
        from.display(),
        target.display()
    );
    if let Some(kept) = kept {
        println!("the database it replaced is kept as {}", kept.display());
    }
    println!(
        "sessions and credentials need the server key the backup was made with ({})",
        tessera::keyfile::key_path(config).display()
    );
    Ok(())
}

async fn open(path: &Path, read_only: bool) -> anyhow::Result<SqliteConnection> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(read_only)
        .busy_timeout(Duration::from_secs(10));
    SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("cannot open {}", path.display()))
}

async fn database_bytes(conn: &mut SqliteConnection) -> anyhow::Result<u64> {
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&mut *conn)
        .await?;
    let size: i64 = sqlx::query_scalar("PRAGMA page_size")
        .fetch_one(&mut *conn)
        .await?;
    Ok(u64::try_from(pages.saturating_mul(size)).unwrap_or(0))
}

/// Checks that `path` is a sound Tessera database this version can use, and describes it.
async fn check_database(path: &Path) -> anyhow::Result<String> {
    let mut conn = open(path, true).await?;
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .context("not an SQLite database")?;
    if integrity != "ok" {
        bail!("the integrity check failed: {integrity}");
    }
    let schema: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut conn)
            .await
            .map_err(|_| anyhow::anyhow!("it has no Tessera schema"))?;
    let schema = schema.unwrap_or(0);
    if schema > tessera_store::SCHEMA_VERSION {
        bail!(
            "its schema is version {schema}, newer than this tessera {} knows (schema {})",
            env!("CARGO_PKG_VERSION"),
            tessera_store::SCHEMA_VERSION
        );
    }
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut conn)
        .await?;
    let sessions: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sessions")
        .fetch_one(&mut conn)
        .await?;
    conn.close().await.ok();
    Ok(format!(
        "schema {schema}, {users} users, {sessions} sessions, integrity ok"
    ))
}

/// Copies `from` to `to` (created with mode 0600, synced), showing progress on a terminal.
async fn copy_with_progress(from: &Path, to: &Path) -> anyhow::Result<()> {
    let (from, to) = (from.to_path_buf(), to.to_path_buf());
    let total = fs::metadata(&from).map(|m| m.len()).unwrap_or(0);
    let progress = Progress::new("restore", total);
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        let mut input =
            fs::File::open(&from).with_context(|| format!("cannot read {}", from.display()))?;
        let mut output = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&to)
            .with_context(|| format!("cannot write {}", to.display()))?;
        let mut buf = vec![0u8; 1 << 20];
        let mut done = 0u64;
        loop {
            let n = input.read(&mut buf)?;
            if n == 0 {
                break;
            }
            output.write_all(&buf[..n])?;
            done += n as u64;
            progress.show(done);
        }
        output.sync_all()?;
        progress.finish();
        Ok(())
    })
    .await
    .context("the copy was interrupted")?
}

/// Runs `work`, showing `current()` of `total` bytes on a terminal every 200 ms.
async fn with_progress<T>(
    label: &'static str,
    total: u64,
    work: impl Future<Output = T>,
    current: impl Fn() -> u64,
) -> T {
    let progress = Progress::new(label, total);
    let mut work = std::pin::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            out = &mut work => {
                progress.finish();
                return out;
            }
            _ = tick.tick() => progress.show(current()),
        }
    }
}

/// A one-line progress display on stderr, shown only when stderr is a terminal.
pub struct Progress {
    label: &'static str,
    /// Counting rows rather than bytes.
    rows: bool,
    total: u64,
    started: Instant,
    shown: std::sync::atomic::AtomicBool,
    on_terminal: bool,
}

impl Progress {
    /// Progress of `label` out of `total` bytes.
    pub fn new(label: &'static str, total: u64) -> Self {
        Self {
            label,
            rows: false,
            total,
            started: Instant::now(),
            shown: std::sync::atomic::AtomicBool::new(false),
            on_terminal: std::io::stderr().is_terminal(),
        }
    }

    /// Progress of `label` out of `total` rows.
    pub fn rows(label: &'static str, total: u64) -> Self {
        Self {
            rows: true,
            ..Self::new(label, total)
        }
    }

    /// Shows `done` of the total, the rate and the time left.
    pub fn show(&self, done: u64) {
        if !self.on_terminal || self.started.elapsed() < Duration::from_millis(500) {
            return;
        }
        self.shown.store(true, std::sync::atomic::Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(0.001);
        let left = self.total.saturating_sub(done) as f64 / rate.max(1.0);
        let pct = if self.total == 0 {
            100.0
        } else {
            (done as f64 * 100.0 / self.total as f64).min(100.0)
        };
        let amount = |n: u64| if self.rows { n.to_string() } else { mib(n) };
        eprint!(
            "\r{}: {pct:5.1} % ({} of {}, {}/s, {:.0} s left)   ",
            self.label,
            amount(done),
            amount(self.total),
            amount(rate as u64),
            left
        );
    }

    /// Ends the progress line, if one was shown.
    pub fn finish(&self) {
        if self.shown.load(std::sync::atomic::Ordering::Relaxed) {
            eprintln!();
        }
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
