//! The server's secret key: from `TESSERA_SECRET_KEY`, from `server.secret_key_file`, or
//! generated on first start into the data directory with mode 0600.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use tessera_core::SecretKey;

use crate::config::Config;

/// Name of the generated key file in `server.data_dir`, used when
/// `server.secret_key_file` is not set.
pub const KEY_FILE: &str = "secret.key";

/// Creates the data directory (mode 0700) if it does not exist yet.
pub fn ensure_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.server.data_dir;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("server.data_dir: cannot create {}", dir.display()))
}

/// The server key: `TESSERA_SECRET_KEY` when set; otherwise read from
/// `server.secret_key_file`, or from `{data_dir}/secret.key`, generated there (mode 0600)
/// when it does not exist yet. Fails when the key does not parse, when a configured key
/// file is missing, or when the file is readable by group or others (it is then not read).
pub fn load_or_create(config: &Config) -> anyhow::Result<SecretKey> {
    if let Ok(text) = std::env::var("TESSERA_SECRET_KEY") {
        return SecretKey::parse(&text).context("TESSERA_SECRET_KEY");
    }
    let (path, explicit) = match &config.server.secret_key_file {
        Some(p) => (p.clone(), true),
        None => (config.server.data_dir.join(KEY_FILE), false),
    };
    match fs::metadata(&path) {
        Ok(meta) => read_key(&path, meta.permissions().mode()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => create_key(&path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("server.secret_key_file: {} does not exist", path.display())
        }
        Err(e) => bail!("cannot read the secret key {}: {e}", path.display()),
    }
}

fn read_key(path: &Path, mode: u32) -> anyhow::Result<SecretKey> {
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
    SecretKey::parse(&text).with_context(|| format!("secret key {}", path.display()))
}

fn create_key(path: &PathBuf) -> anyhow::Result<SecretKey> {
    let (key, text) = SecretKey::generate();
    // create_new: two instances starting at once cannot overwrite each other's key.
    let mut file = match fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let mode = fs::metadata(path)?.permissions().mode();
            return read_key(path, mode);
        }
        Err(e) => bail!("cannot create the secret key {}: {e}", path.display()),
    };
    file.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write the secret key {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new secret key");
    Ok(key)
}
