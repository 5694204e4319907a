//! `tessera serve`: open the store, make sure there is a first user, and answer HTTP until
//! SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum_server::tls_rustls::RustlsConfig;
use tessera_core::{
    Accounts, Authenticator, Error as CoreError, Login, NewUser, Password, Store, StoreError,
    Timestamp,
};

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<()> {
    crate::keyfile::ensure_data_dir(config)?;
    let key = crate::keyfile::load_or_create(config)?;
    let tls = match (&config.server.tls_cert, &config.server.tls_key) {
        (Some(cert), Some(key)) => Some(tls_config(cert, key).await?),
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
    let app = tessera_http::router(state).into_make_service_with_connect_info::<SocketAddr>();

    let addr = config.listen_addr();
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("server.listen: cannot listen on {addr}"))?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        address = %local,
        database = store.backend(),
        base_path = %config.server.base_path,
        rules = config.rules.len(),
        upstream = config.proxy.upstream.as_deref().unwrap_or("-"),
        "listening on {scheme}://{local}"
    );
    match tls {
        Some(tls) => {
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                h.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            axum_server::from_tcp_rustls(listener, tls)?
                .handle(handle)
                .serve(app)
                .await
                .context("server failed")?;
        }
        None => {
            axum::serve(tokio::net::TcpListener::from_std(listener)?, app)
                .with_graceful_shutdown(shutdown_signal())
                .await
                .context("server failed")?;
        }
    }
    tracing::info!("stopped");
    Ok(())
}

async fn tls_config(cert: &Path, key: &Path) -> anyhow::Result<RustlsConfig> {
    // One crypto provider for the whole process (ring, also used by the database driver).
    let _ = rustls::crypto::ring::default_provider().install_default();
    RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "server.tls_cert/tls_key: cannot load {} and {}",
                cert.display(),
                key.display()
            )
        })
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
