//! The whole application built from a configuration: the store, the core services, the
//! router and the background tasks. `tessera serve`, the admin commands and the tests
//! all build it here, so they cannot drift apart.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tessera_core::{Accounts, Authenticator, PasswordHasher, SecretKey, Store, Timestamp};

use crate::config::{Config, Settings};

/// Opens the configured database, applying pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    if config.database.url.is_none() {
        crate::keyfile::ensure_data_dir(config)?;
    }
    let options = tessera_store::OpenOptions {
        migrate: true,
        connect_timeout: config.database.connect_timeout.0,
        max_connections: config.database.max_connections,
    };
    let url = config.database_url();
    tessera_store::open(&url, &options)
        .await
        .with_context(|| format!("database {}", tessera_store::redact_url(&url)))
}

/// The account service on the configured database.
pub async fn accounts(config: &Config) -> anyhow::Result<Accounts> {
    let store = open_store(config).await?;
    let hasher = PasswordHasher::new(config.password.params(), None)?;
    Ok(Accounts::new(store, hasher, config.password.policy()))
}

/// The server key (generated on first use) and the authenticator over the accounts.
pub async fn authenticator(config: &Config) -> anyhow::Result<(Authenticator, SecretKey)> {
    authenticator_with(config, &Settings::try_from(config)?).await
}

async fn authenticator_with(
    config: &Config,
    settings: &Settings,
) -> anyhow::Result<(Authenticator, SecretKey)> {
    crate::keyfile::ensure_data_dir(config)?;
    let key = crate::keyfile::load_or_create(config)?;
    let accounts = accounts(config).await?;
    let auth = Authenticator::new(
        accounts,
        settings.session,
        settings.tokens,
        settings.throttle,
        &key,
    );
    Ok((auth, key))
}

/// The application, ready to serve.
pub struct App {
    auth: Authenticator,
    router: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: crate::listener::Limits,
    base_path: String,
    rules: usize,
    upstream: Option<String>,
}

/// An application serving in the background of the current runtime (tests).
pub struct Running {
    /// Where it listens (`127.0.0.1:port`).
    pub addr: SocketAddr,
    /// `http://127.0.0.1:port` or `https://...`.
    pub base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    /// Stops accepting, lets open connections finish, and waits for the server to end.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.context("the server task failed")?
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl App {
    /// Builds everything `serve` needs from `config` (opening and migrating the
    /// database, loading or creating the server key) and starts the background tasks.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let settings = Settings::try_from(config)?;
        let (auth, key) = authenticator_with(config, &settings).await?;
        let tls = match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
            _ => None,
        };
        tokio::spawn(purge_expired_sessions(auth.accounts().store().clone()));
        let state = tessera_http::AppState::new(auth.clone(), settings.http, &key);
        Ok(Self {
            auth,
            router: tessera_http::router(state),
            tls,
            limits: connection_limits(config),
            base_path: config.server.base_path.clone(),
            rules: config.rules.len(),
            upstream: config.proxy.upstream.clone(),
        })
    }

    /// The account service (for start-up tasks such as creating the first user).
    pub fn accounts(&self) -> &Accounts {
        self.auth.accounts()
    }

    /// The authenticator the router uses.
    pub fn authenticator(&self) -> &Authenticator {
        &self.auth
    }

    /// The router of every endpoint, for serving it some other way.
    pub fn router(&self) -> axum::Router {
        self.router.clone()
    }

    /// Serves on `listener` until `shutdown` completes.
    pub async fn serve(
        self,
        listener: std::net::TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        tracing::info!(
            address = %local,
            database = self.auth.accounts().store().backend(),
            base_path = %self.base_path,
            rules = self.rules,
            upstream = self.upstream.as_deref().unwrap_or("-"),
            max_connections = self.limits.max_connections,
            "listening on {scheme}://{local}"
        );
        crate::listener::serve(
            tokio::net::TcpListener::from_std(listener)?,
            self.tls,
            self.router,
            self.limits,
            shutdown,
        )
        .await;
        tracing::info!("stopped");
        Ok(())
    }

    /// Serves on a free loopback port in the background of the current runtime.
    pub async fn spawn(self) -> anyhow::Result<Running> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(self.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(Running {
            addr,
            base: format!("{scheme}://{addr}"),
            stop: Some(stop),
            task,
        })
    }
}

/// The connection limits, with `server.max_connections` lowered when the process may not
/// open that many files (raising the soft limit to the hard one first).
pub fn connection_limits(config: &Config) -> crate::listener::Limits {
    let wanted = config.server.max_connections;
    let mut max_connections = wanted;
    if let Some(files) = raise_open_files_limit() {
        // Room for the database, the upstream pool, logs and the key file.
        let room = usize::try_from(files)
            .unwrap_or(usize::MAX)
            .saturating_sub(128);
        if room < wanted {
            max_connections = room.max(1);
            tracing::warn!(
                open_files_limit = files,
                "server.max_connections lowered from {wanted} to {max_connections}: the process may not open more files (raise `ulimit -n`)"
            );
        }
    }
    crate::listener::Limits {
        header_read_timeout: config.server.header_read_timeout.0,
        max_connections,
        max_header_bytes: config.server.max_header_bytes,
    }
}

/// Raises the soft limit on open files to the hard limit; returns the limit in force.
fn raise_open_files_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return None;
        }
        if lim.rlim_cur < lim.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: lim.rlim_max,
                rlim_max: lim.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                lim = raised;
            }
        }
    }
    (lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// rustls with the certificate chain and key from PEM files; ALPN offers HTTP/2 and 1.1.
fn tls_acceptor(cert: &Path, key: &Path) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let what = || {
        format!(
            "server.tls_cert/tls_key: cannot load {} and {}",
            cert.display(),
            key.display()
        )
    };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(Iterator::collect)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(what)?;
    if chain.is_empty() {
        return Err(anyhow::anyhow!("no certificate in the file")).with_context(what);
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(what)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .with_context(what)?;
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(tls)))
}

/// Deletes sessions a week after they expired or were revoked, once an hour.
async fn purge_expired_sessions(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    loop {
        tick.tick().await;
        let before = Timestamp::now().minus(Duration::from_secs(7 * 86_400));
        match store.purge_sessions(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "purged old sessions"),
            Err(e) => tracing::warn!(error = %e, "could not purge old sessions"),
        }
        // Failure counters idle for a day (well past any window and lock).
        let idle = Timestamp::now().minus(Duration::from_secs(86_400));
        if let Err(e) = store.purge_attempts(idle).await {
            tracing::warn!(error = %e, "could not purge failure counters");
        }
    }
}
