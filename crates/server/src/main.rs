//! `tessera`: the authentication server and its admin commands.

use std::process::ExitCode;

use clap::Parser;
use tessera::Config;
use tessera_server::cli::{Cli, Command, LogFormat};
use tessera_server::{admin, credentials, logging, sched, serve};

/// mimalloc instead of glibc's malloc: the request path allocates small, short-lived
/// objects on two or more threads, where it measured about 1 µs less CPU per verified
/// request (`bench/run.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The configuration says how to log, so it is read first (its errors are one line on
    // stderr either way).
    let loaded = match Config::load(cli.config.as_deref()) {
        Ok(loaded) => loaded,
        Err(e) => return fail(&e.into()),
    };
    let format = match (cli.log_format, loaded.config.log.format) {
        (LogFormat::Auto, tessera::config::LogFormat::Json) => LogFormat::Json,
        (LogFormat::Auto, tessera::config::LogFormat::Text) => LogFormat::Text,
        (explicit, _) => explicit,
    };
    logging::init(
        format,
        &loaded.config.log.level,
        matches!(cli.command, Command::Serve),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(sched::prefer_latency)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&anyhow::anyhow!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(run(cli, loaded)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Every failure is one line on stderr and exit status 1 (clap's usage errors exit 2).
fn fail(e: &anyhow::Error) -> ExitCode {
    let line = format!("{e:#}").replace(['\n', '\r'], " ");
    eprintln!("tessera: {line}");
    ExitCode::FAILURE
}

async fn run(cli: Cli, loaded: tessera::config::Loaded) -> anyhow::Result<()> {
    let config = &loaded.config;
    match cli.command {
        Command::Serve => serve::run(config, loaded.settings.listen, loaded.file.clone()).await,
        Command::Migrate { to: None } => admin::migrate(config).await,
        Command::Migrate { to: Some(url) } => {
            tessera_server::move_to::migrate_to(config, &url).await
        }
        Command::Config { command } => admin::config(config, loaded.file.as_deref(), command).await,
        Command::User { command } => admin::user(config, command).await,
        Command::Role { command } => admin::role(config, command).await,
        Command::Token { command } => credentials::token(config, command).await,
        Command::Apikey { command } => credentials::apikey(config, command).await,
        Command::ClientSecret { command } => credentials::client_secret(config, command).await,
        Command::Session { command } => credentials::session(config, command).await,
        Command::Key { command } => tessera_server::keyring::key(config, command).await,
        Command::Backup { file } => tessera_server::backup::backup(config, &file).await,
        Command::Restore { file } => tessera_server::backup::restore(config, &file).await,
        Command::Audit {
            user,
            since,
            limit,
            json,
        } => admin::audit(config, user.as_deref(), &since, limit, json).await,
    }
}
