//! The server built on the library: [`tessera::Tessera`] provides the store, the core
//! services, the layer, the routers and the background tasks; this adds the health probes
//! at the root, the gateway, TLS and the listener. `tessera serve`, the admin commands and
//! the tests all build it here, so they cannot drift apart.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tessera::{Accounts, Authenticator, Config, Tessera};

/// The account service on the configured database, migrated (admin commands).
pub async fn accounts(config: &Config) -> anyhow::Result<Accounts> {
    Ok(Tessera::builder().config(config.clone()).accounts().await?)
}

/// The authenticator on the configured database and key, without the background tasks
/// (admin commands that mint or revoke credentials).
pub async fn authenticator(config: &Config) -> anyhow::Result<Authenticator> {
    let tessera = Tessera::builder()
        .config(config.clone())
        .maintenance(false)
        .build()
        .await?;
    Ok(tessera.authenticator().clone())
}

/// The application, ready to serve.
pub struct App {
    auth: Authenticator,
    router: axum::Router,
    /// What a configuration reload keeps: the store, the key ring, and the configuration
    /// in force (its restart-only keys stay as they are).
    keys: tessera_core::keys::Keys,
    config: Config,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: crate::listener::Limits,
    base_path: String,
    console: bool,
    rules: usize,
    upstream: Option<String>,
    /// Held while serving: `tessera restore` refuses to replace the database under it.
    serve_lock: Option<crate::backup::ServeLock>,
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
        let tessera = Tessera::builder().config(config.clone()).build().await?;
        let tls = match (&config.server.tls_cert, &config.server.tls_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
            _ => None,
        };
        Ok(Self {
            auth: tessera.authenticator().clone(),
            router: server_router(&tessera),
            keys: tessera.keys().clone(),
            config: config.clone(),
            tls,
            limits: connection_limits(config),
            base_path: config.server.base_path.clone(),
            console: config.ui.enabled,
            rules: config.rules.len(),
            upstream: config.proxy.upstream.clone(),
            serve_lock: crate::backup::ServeLock::acquire(config),
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
        self.serve_reloading(listener, shutdown, None).await
    }

    /// As [`App::serve`]; with `reload`, SIGHUP re-reads the configuration (the file
    /// `reload` names, if any, and the environment) and puts it in force for the next
    /// request on every connection, or refuses it, with a log line naming the key, and
    /// keeps the one in force.
    pub async fn serve_reloading(
        self,
        listener: std::net::TcpListener,
        shutdown: impl Future<Output = ()>,
        reload: Option<Option<std::path::PathBuf>>,
    ) -> anyhow::Result<()> {
        let routes = crate::listener::Routes::new(self.router);
        if let Some(file) = reload {
            let reloader = Reloader {
                file,
                config: self.config,
                store: self.auth.accounts().store().clone(),
                keys: self.keys,
                routes: routes.clone(),
            };
            let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
                .context("cannot listen for SIGHUP")?;
            tokio::spawn(async move {
                let mut reloader = reloader;
                while hangup.recv().await.is_some() {
                    reloader.reload().await;
                }
            });
        }
        let _serve_lock = self.serve_lock;
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
        if self.console {
            // A wildcard address is not one a browser can open: name the loopback one.
            let host = match local.ip() {
                ip if ip.is_unspecified() => format!("localhost:{}", local.port()),
                _ => local.to_string(),
            };
            tracing::info!("web console: {scheme}://{host}{}/ui/", self.base_path);
        }
        crate::listener::serve(
            tokio::net::TcpListener::from_std(listener)?,
            self.tls,
            routes,
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

/// A configuration reload on SIGHUP.
struct Reloader {
    file: Option<std::path::PathBuf>,
    config: Config,
    store: Arc<dyn tessera::Store>,
    keys: tessera_core::keys::Keys,
    routes: crate::listener::Routes,
}

impl Reloader {
    /// Re-reads the configuration and builds the application again on the same store and
    /// key ring; puts it in force, or logs why not and keeps the one in force.
    async fn reload(&mut self) {
        match self.rebuild().await {
            Ok(rules) => tracing::info!(
                rules,
                "configuration reloaded from {}",
                self.file
                    .as_deref()
                    .map_or("the environment".into(), |f| f.display().to_string())
            ),
            Err(e) => tracing::error!(
                "configuration reload refused, the configuration in force stays: {e:#}"
            ),
        }
    }

    async fn rebuild(&mut self) -> anyhow::Result<usize> {
        let mut config = Config::load(self.file.as_deref())?.config;
        keep_restart_only(&self.config, &mut config);
        let tessera = Tessera::builder()
            .config(config.clone())
            .store(self.store.clone())
            .keys(self.keys.clone())
            .maintenance(false)
            .build()
            .await?;
        self.routes.replace(server_router(&tessera));
        let rules = config.rules.len();
        self.config = config;
        Ok(rules)
    }
}

/// Keys a reload cannot change (the listener, the database, the key file, TLS, the
/// connection limits and the metrics listener) keep the values in force; a change to one
/// is logged as waiting for the next restart.
fn keep_restart_only(running: &Config, new: &mut Config) {
    macro_rules! keep {
        ($($key:literal => $($field:ident).+),* $(,)?) => {$(
            if new.$($field).+ != running.$($field).+ {
                tracing::warn!(concat!($key, " changed: it takes effect at the next restart"));
                new.$($field).+ = running.$($field).+.clone();
            }
        )*};
    }
    keep!(
        "server.listen" => server.listen,
        "server.data_dir" => server.data_dir,
        "server.secret_key_file" => server.secret_key_file,
        "server.tls_cert" => server.tls_cert,
        "server.tls_key" => server.tls_key,
        "server.max_connections" => server.max_connections,
        "server.max_header_bytes" => server.max_header_bytes,
        "server.header_read_timeout" => server.header_read_timeout,
        "database.url" => database.url,
        "metrics.listen" => metrics.listen,
    );
}

/// The whole server: the health probes, the auth endpoints under the base path, and the
/// gateway (or a problem+json 404) for every other path, behind the authentication layer.
fn server_router(tessera: &Tessera) -> axum::Router {
    let base = &tessera.config().server.base_path;
    let router = tessera.health_router();
    let router = if base.is_empty() {
        router.merge(tessera.auth_router())
    } else {
        router.nest(base, tessera.auth_router())
    };
    router
        .fallback_service(tessera.gateway())
        .method_not_allowed_fallback(|| async { tessera::Problem::method_not_allowed() })
        .layer(tessera.layer())
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
