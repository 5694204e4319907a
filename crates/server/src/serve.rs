//! `tessera serve`: open the store, make sure there is a first user, and answer HTTP until
//! SIGINT or SIGTERM.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tessera_core::{
    Accounts, Authenticator, Error as CoreError, Login, NewUser, Password, Store, StoreError,
    Timestamp,
};

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    // Bound first: a taken port fails before anything (such as the first admin) is created.
    let addr = config.listen_addr();
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("server.listen: cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    crate::keyfile::ensure_data_dir(config)?;
    let key = crate::keyfile::load_or_create(config)?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
        _ => None,
    };
    let accounts = crate::admin::accounts(config).await?;
    bootstrap_admin(&accounts).await?;
    let store = accounts.store().clone();
    tokio::spawn(purge_expired_sessions(store.clone()));

    let auth = Authenticator::new(
        accounts,
        config.session_settings(),
        config.token_settings(),
        config.throttle_settings(),
        &key,
    );
    let state = tessera_http::AppState::new(auth, config.http_settings(), &key);
    let app = tessera_http::router(state);

    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let limits = connection_limits(config);
    tracing::info!(
        address = %local,
        database = store.backend(),
        base_path = %config.server.base_path,
        rules = config.rules.len(),
        upstream = config.proxy.upstream.as_deref().unwrap_or("-"),
        max_connections = limits.max_connections,
        "listening on {scheme}://{local}"
    );
    crate::listener::serve(
        tokio::net::TcpListener::from_std(listener)?,
        tls,
        app,
        limits,
        shutdown_signal(),
    )
    .await;
    tracing::info!("stopped");
    Ok(())
}

/// The connection limits, with `server.max_connections` lowered when the process may not
/// open that many files (raising the soft limit to the hard one first).
fn connection_limits(config: &Config) -> crate::listener::Limits {
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

/// With no user at all, creates `admin` (role `admin`) so that the server can be used.
/// The password comes from `TESSERA_ADMIN_PASSWORD` or is generated and printed once.
async fn bootstrap_admin(accounts: &Accounts) -> anyhow::Result<()> {
    if accounts
        .store()
        .count_users()
        .await
        .map_err(CoreError::from)?
        > 0
    {
        return Ok(());
    }
    let (password, generated) = match std::env::var("TESSERA_ADMIN_PASSWORD") {
        Ok(p) => (Password::new(p), false),
        Err(_) => (
            Password::new(tessera_core::secret::random_password(20)),
            true,
        ),
    };
    let mut admin = NewUser::new(Login::parse("admin").expect("valid login"));
    admin.roles = vec![tessera_core::permission::ADMIN_ROLE.to_owned()];
    match accounts.create_user(admin, &password).await {
        Ok(_) => {}
        // Another instance on the same database created it first.
        Err(CoreError::Store(StoreError::Conflict(_))) => return Ok(()),
        Err(e @ CoreError::WeakPassword(_)) => {
            anyhow::bail!("TESSERA_ADMIN_PASSWORD: {e}")
        }
        Err(e) => return Err(e.into()),
    }
    if generated {
        // Deliberately not a log event: log pipelines keep lines, this must not be kept.
        eprintln!(
            "\ntessera: created the first user `admin` (role admin).\n\
             tessera: its password, shown only this once: {}\n\
             tessera: change it with `tessera user passwd admin --password-stdin`.\n",
            password.expose()
        );
    } else {
        tracing::info!(
            "created the first user `admin` with the password from TESSERA_ADMIN_PASSWORD"
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
