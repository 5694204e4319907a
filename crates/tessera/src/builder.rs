//! [`Builder`] opens the store, loads the key and starts the background tasks;
//! [`Tessera`] hands out the layers and routers built on them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tessera_core::keys::{KeyRing, Keys};
use tessera_core::{Accounts, Authenticator, PasswordHasher, SecretKey, Store, Timestamp};
use tessera_http::AppState;
use tessera_http::layer::{AuthLayer, RulesLayer};

use crate::config::{Config, ConfigError, Settings};

/// Why [`Builder::build`] failed: one line, naming the key, file or database at fault.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The configuration is not valid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened or migrated (its URL shown without password).
    #[error("database {url}: {cause}")]
    Database {
        /// The URL, password redacted.
        url: String,
        /// What went wrong.
        cause: tessera_store::OpenError,
    },
    /// The server key could not be read or created.
    #[error("{0}")]
    Key(String),
    /// The core services could not start (password hashing parameters).
    #[error(transparent)]
    Core(#[from] tessera_core::Error),
}

/// Where the store comes from.
enum Source {
    /// `database.url`, or SQLite in `server.data_dir`.
    Configured,
    /// A URL given to the builder.
    Url(String),
    /// A store opened by the application.
    Store(Arc<dyn Store>),
}

/// Builds a [`Tessera`]: the same configuration as the server (typed [`Config`] values,
/// or the server's TOML file), a store, and the server key.
pub struct Builder {
    config: Config,
    source: Source,
    keys: Option<Keys>,
    maintenance: bool,
}

impl Builder {
    pub(crate) fn new() -> Self {
        Self {
            config: Config::default(),
            source: Source::Configured,
            keys: None,
            maintenance: true,
        }
    }

    /// The settings, as typed values: every key of the server's configuration file, with
    /// the same defaults and the same validation (at [`build`](Self::build)).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Reads the server's TOML configuration file (not the environment).
    pub fn config_file(mut self, path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        self.config = Config::load_from(Some(path.as_ref()), &[])?.config;
        Ok(self)
    }

    /// The database: `sqlite://PATH` (created when missing) or
    /// `postgres://USER:PASSWORD@HOST/DB`; pending migrations are applied. Without it,
    /// `database.url` of the configuration, else SQLite in `server.data_dir`.
    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.source = Source::Url(url.into());
        self
    }

    /// A store the application opened itself (for example
    /// [`tessera_store::PostgresStore::from_pool`] on its own pool).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.source = Source::Store(store);
        self
    }

    /// The server key (cookie sealing, CSRF signing, client secrets). Without it, the
    /// key the server would use: `TESSERA_SECRET_KEY`, `server.secret_key_file`, or
    /// `{server.data_dir}/secret.key`, generated there on first use.
    pub fn key(mut self, key: SecretKey) -> Self {
        self.keys = Some(Keys::new(KeyRing::new(key)));
        self
    }

    /// A key ring the application manages: it may [`Keys::replace`] the ring while
    /// Tessera runs (a rotation), and every cookie, CSRF token and client secret follows.
    pub fn keys(mut self, keys: Keys) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Whether to start the hourly purge of long-ended sessions and idle failure counters
    /// (default on; short-lived tools turn it off).
    pub fn maintenance(mut self, on: bool) -> Self {
        self.maintenance = on;
        self
    }

    /// Opens the store and the account service only (no key, no background task): what
    /// administrative tools need.
    pub async fn accounts(&self) -> Result<Accounts, BuildError> {
        let store = self.open_store().await?;
        let hasher = PasswordHasher::new(self.config.password.params(), None)?;
        Ok(Accounts::new(store, hasher, self.config.password.policy()))
    }

    /// Validates the configuration, opens (and migrates) the store, loads or creates the
    /// key, and starts the background tasks. Must run inside a Tokio runtime.
    pub async fn build(self) -> Result<Tessera, BuildError> {
        let settings = Settings::try_from(&self.config)?;
        let keys = match &self.keys {
            Some(k) => k.clone(),
            None => {
                let (ring, source) = crate::keyfile::ensure_data_dir(&self.config)
                    .and_then(|()| crate::keyfile::load_or_create(&self.config))
                    .map_err(|e| BuildError::Key(format!("{e:#}")))?;
                let keys = Keys::new(ring);
                if let (true, crate::keyfile::KeySource::File(path)) = (self.maintenance, source) {
                    crate::keyfile::watch(path, keys.clone());
                }
                keys
            }
        };
        let accounts = self.accounts().await?;
        if self.maintenance {
            tokio::spawn(purge_expired(accounts.store().clone()));
        }
        let auth = Authenticator::new(
            accounts,
            settings.session,
            settings.tokens,
            settings.throttle,
            &keys,
        );
        auth.follow_revocations();
        if self.maintenance {
            tokio::spawn(reseal_client_secrets(auth.clone(), keys.clone()));
        }
        let state = AppState::new(auth, settings.http.clone(), &keys);
        Ok(Tessera {
            state,
            settings,
            config: self.config,
            keys,
        })
    }

    async fn open_store(&self) -> Result<Arc<dyn Store>, BuildError> {
        let url = match &self.source {
            Source::Store(s) => return Ok(s.clone()),
            Source::Url(u) => u.clone(),
            Source::Configured => {
                if self.config.database.url.is_none() {
                    crate::keyfile::ensure_data_dir(&self.config)
                        .map_err(|e| BuildError::Key(format!("{e:#}")))?;
                }
                self.config.database_url()
            }
        };
        let options = tessera_store::OpenOptions {
            migrate: true,
            connect_timeout: self.config.database.connect_timeout.0,
            max_connections: self.config.database.max_connections,
        };
        tessera_store::open(&url, &options)
            .await
            .map_err(|cause| BuildError::Database {
                url: tessera_store::redact_url(&url),
                cause,
            })
    }
}

/// Tessera inside an application: the authentication layer, the auth endpoints, the
/// access rules, and the services behind them. Cheap to clone.
#[derive(Clone)]
pub struct Tessera {
    state: AppState,
    settings: Settings,
    config: Config,
    keys: Keys,
}

impl Tessera {
    /// A builder with the default configuration.
    pub fn builder() -> Builder {
        Builder::new()
    }

    /// The layer that authenticates every request: put it outermost (the last
    /// `.layer(...)` of the application), in front of the routes, the
    /// [`auth_router`](Self::auth_router) and any [`require`](crate::require) or
    /// [`access_rules`](Self::access_rules) layer.
    pub fn layer(&self) -> AuthLayer {
        AuthLayer::new(self.state.clone())
    }

    /// The auth endpoints (login, logout, session, sessions, tokens, API keys, client
    /// secret, OAuth2, verify, audit), to `nest` under a base path of the application.
    pub fn auth_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        tessera_http::auth_router(self.state.clone())
    }

    /// `/healthz` (the process answers) and `/readyz` (the database answers).
    pub fn health_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        tessera_http::health_router(self.state.clone())
    }

    /// The configured `[[rules]]` as a layer, decided exactly as the gateway decides: the
    /// first rule matching the method and normalised path names the credential kinds it
    /// accepts and the permissions it needs; `public` needs none; no matching rule is 403.
    pub fn access_rules(&self) -> RulesLayer {
        RulesLayer::new(self.state.clone(), self.settings.http.rules.clone())
    }

    /// The gateway: decides every request by the access rules and forwards it to
    /// `proxy.upstream` with the identity headers; a problem+json 404 without an upstream.
    /// For `Router::fallback_service`.
    pub fn gateway<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let state = self.state.clone();
        if state.settings.proxy.is_some() {
            Router::new()
                .fallback(tessera_http::proxy::gateway)
                .with_state(state)
        } else {
            Router::new().fallback(|| async { tessera_http::Problem::not_found() })
        }
    }

    /// Verifies credentials and manages sessions, tokens and keys.
    pub fn authenticator(&self) -> &Authenticator {
        &self.state.auth
    }

    /// Users, roles and the audit log.
    pub fn accounts(&self) -> &Accounts {
        self.state.auth.accounts()
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The key ring in force (replace its ring to rotate keys while serving).
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The state the handlers share (for the server's own composition).
    pub fn state(&self) -> &AppState {
        &self.state
    }
}

/// Deletes sessions a week after they expired or were revoked, once an hour, failure
/// counters idle for a day, and the revocation feed's records after an hour.
/// Seals every client secret again under the key that seals now, at start and whenever
/// another key starts sealing (a rotation, or a pending key's activation), so that older
/// keys can be retired without losing any.
async fn reseal_client_secrets(auth: Authenticator, keys: Keys) {
    let mut done_for: Option<String> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let ring = keys.ring();
        let sealing = ring.keys()[ring.sealing_index(Timestamp::now())].key.id();
        if ring.keys().len() == 1 && done_for.is_none() {
            // A ring of one key: everything readable is sealed under it already.
            done_for = Some(sealing);
            continue;
        }
        if done_for.as_deref() == Some(sealing.as_str()) {
            continue;
        }
        match auth.reseal_client_secrets().await {
            Ok(_) => done_for = Some(sealing),
            Err(e) => tracing::warn!(error = %e, "could not seal client secrets again"),
        }
    }
}

async fn purge_expired(store: Arc<dyn Store>) {
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
        let read_long_ago = Timestamp::now().minus(Duration::from_secs(3600));
        if let Err(e) = store.purge_revocations(read_long_ago).await {
            tracing::warn!(error = %e, "could not purge the revocation feed");
        }
    }
}
