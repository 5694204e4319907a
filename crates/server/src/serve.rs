//! `tessera serve`: open the store, make sure there is a first user, and answer HTTP until
//! SIGINT or SIGTERM.

use anyhow::Context;
use tessera_core::{Accounts, Error as CoreError, Login, NewUser, Password, StoreError};

use crate::app::App;
use tessera::Config;

/// `tessera serve`: binds `addr` (`server.listen`), builds the application (migrating the
/// database, loading or creating the key), creates the first user on an empty database,
/// and serves until SIGINT or SIGTERM. Fails when the port cannot be bound or the
/// application cannot be built.
pub async fn run(
    config: &Config,
    addr: std::net::SocketAddr,
    file: Option<std::path::PathBuf>,
) -> anyhow::Result<()> {
    // Bound first: a taken port fails before anything (such as the first admin) is created.
    let listener = std::net::TcpListener::bind(addr)
        .with_context(|| format!("server.listen: cannot listen on {addr}"))?;
    if let Some(metrics) = config.metrics.address() {
        let listener = tokio::net::TcpListener::bind(metrics)
            .await
            .with_context(|| format!("metrics.listen: cannot listen on {metrics}"))?;
        crate::metrics::serve(listener)?;
    }
    let app = App::build(config).await?;
    let password = std::env::var("TESSERA_ADMIN_PASSWORD").ok();
    bootstrap_admin(app.accounts(), password).await?;
    app.serve_reloading(listener, shutdown_signal(), Some(file))
        .await
}

/// With no user at all, creates `admin` (role `admin`) so that the server can be used.
/// The password is `password` (`TESSERA_ADMIN_PASSWORD`) or generated and printed once.
pub async fn bootstrap_admin(accounts: &Accounts, password: Option<String>) -> anyhow::Result<()> {
    if accounts
        .store()
        .count_users()
        .await
        .map_err(CoreError::from)?
        > 0
    {
        return Ok(());
    }
    let (password, generated) = match password {
        Some(p) => (Password::new(p), false),
        None => (
            Password::new(tessera_core::secret::random_password(20)),
            true,
        ),
    };
    let mut admin = NewUser::new(Login::parse("admin")?);
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
