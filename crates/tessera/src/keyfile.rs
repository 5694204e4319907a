//! The server's key ring: from `TESSERA_SECRET_KEY`, from `server.secret_key_file`, or
//! generated on first start into the data directory with mode 0600; rewritten by
//! `tessera key rotate | retire`, and watched by a running server, which puts a changed
//! file in force within [`WATCH_INTERVAL`].

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tessera_core::keys::{KeyRing, Keys};

use crate::config::Config;

/// Name of the generated key file in `server.data_dir`, used when
/// `server.secret_key_file` is not set.
pub const KEY_FILE: &str = "secret.key";

/// How often a running server looks at its key file for a rotation or retirement.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(2);

/// Where the key ring comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `TESSERA_SECRET_KEY`: fixed for the life of the process.
    Environment,
    /// A key file, watched while serving.
    File(PathBuf),
}

/// Creates the data directory (mode 0700) if it does not exist yet.
pub fn ensure_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.server.data_dir;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("server.data_dir: cannot create {}", dir.display()))
}

/// The key file `config` names: `server.secret_key_file`, or `{data_dir}/secret.key`.
pub fn key_path(config: &Config) -> PathBuf {
    config
        .server
        .secret_key_file
        .clone()
        .unwrap_or_else(|| config.server.data_dir.join(KEY_FILE))
}

/// The key ring: `TESSERA_SECRET_KEY` when set (a key, or a ring in the key file's
/// format); otherwise read from `server.secret_key_file`, or from `{data_dir}/secret.key`,
/// generated there (mode 0600) when it does not exist yet. Fails when the ring does not
/// parse, when a configured key file is missing, or when the file is readable by group or
/// others (it is then not read).
pub fn load_or_create(config: &Config) -> anyhow::Result<(KeyRing, KeySource)> {
    if let Ok(text) = std::env::var("TESSERA_SECRET_KEY") {
        let ring = KeyRing::parse(&text).context("TESSERA_SECRET_KEY")?;
        return Ok((ring, KeySource::Environment));
    }
    let path = key_path(config);
    let explicit = config.server.secret_key_file.is_some();
    let ring = match fs::metadata(&path) {
        Ok(_) => read_ring(&path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => create_ring(&path)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("server.secret_key_file: {} does not exist", path.display())
        }
        Err(e) => bail!("cannot read the secret key {}: {e}", path.display()),
    };
    Ok((ring, KeySource::File(path)))
}

/// Reads the key ring at `path`, refusing a file readable by group or others.
pub fn read_ring(path: &Path) -> anyhow::Result<KeyRing> {
    let mode = fs::metadata(path)
        .with_context(|| format!("cannot read the secret key {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "refusing to start: the secret key {} is readable by others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        );
    }
    let text = fs::read_to_string(path)
        .with_context(|| format!("cannot read the secret key {}", path.display()))?;
    KeyRing::parse(&text).with_context(|| format!("secret key {}", path.display()))
}

/// Replaces the key file at `path` with `ring`, atomically: a new file (mode 0600) in the
/// same directory, synced, renamed over the old one. A server reading it meanwhile sees
/// the old ring or the new one, never a mixture.
pub fn write_ring(path: &Path, ring: &KeyRing) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let staging = dir.join(format!(
        ".{}.new",
        path.file_name()
            .map_or("secret.key".into(), |n| n.to_string_lossy())
    ));
    let _ = fs::remove_file(&staging);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staging)
        .with_context(|| format!("cannot write {}", staging.display()))?;
    file.write_all(ring.to_file().as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", staging.display()))?;
    fs::rename(&staging, path).with_context(|| format!("cannot replace {}", path.display()))?;
    fs::File::open(&dir).and_then(|d| d.sync_all()).ok();
    Ok(())
}

fn create_ring(path: &Path) -> anyhow::Result<KeyRing> {
    let (_, text) = tessera_core::SecretKey::generate();
    // create_new: two instances starting at once cannot overwrite each other's key.
    let mut file = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return read_ring(path),
        Err(e) => bail!("cannot create the secret key {}: {e}", path.display()),
    };
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the secret key {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    KeyRing::parse(&text).context("the generated key")
}

/// Puts the key file at `path` in force in `keys` whenever it changes (looked at every
/// [`WATCH_INTERVAL`]), until the runtime shuts down. A file that does not read or parse
/// is reported and ignored: the ring in force stays.
pub fn watch(path: PathBuf, keys: Keys) {
    tokio::spawn(async move {
        let mut seen = fingerprint(&path);
        let mut interval = tokio::time::interval(WATCH_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let now = fingerprint(&path);
            if now == seen {
                continue;
            }
            seen = now;
            match read_ring(&path) {
                Ok(ring) => {
                    let ids: Vec<String> = ring.keys().iter().map(|k| k.key.id()).collect();
                    let sealing = ring.keys()[ring.sealing_index(tessera_core::Timestamp::now())]
                        .key
                        .id();
                    keys.replace(ring);
                    tracing::info!(
                        keys = %ids.join(","),
                        sealing = %sealing,
                        "key ring reloaded from {}",
                        path.display()
                    );
                }
                Err(e) => tracing::warn!(
                    "the key file changed but cannot be used ({e:#}); the key ring in force stays"
                ),
            }
        }
    });
}

/// What tells a changed key file apart: inode (a rename puts a new one), size and
/// modification time.
fn fingerprint(path: &Path) -> Option<(u64, u64, i64, i64)> {
    fs::metadata(path)
        .ok()
        .map(|m| (m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
}
