//! Tessera inside an axum application: the authentication server's behaviour (password
//! login with cookie + CSRF or bearer session, personal access tokens, API keys, the
//! client secret, OAuth2 client credentials, throttling, revocation, the 401/403
//! contract) as a tower layer, axum extractors and a router of the auth endpoints. The
//! `tessera` server is built on exactly this API.
//!
//! - [`Tessera::builder`] opens the store (SQLite or PostgreSQL, migrated) with the same
//!   configuration as the server ([`Config`], typed, or its TOML file).
//! - [`Tessera::layer`] authenticates every request; [`Auth`] extracts who it is from (401
//!   without a credential), `Option<Auth>` when anonymous requests are welcome.
//! - [`require`] guards a route or router with a permission (403 naming it; for a bearer
//!   token the RFC 6750 `insufficient_scope` challenge); [`Tessera::access_rules`] applies
//!   the `[[rules]]` of the configuration, as the gateway does.
//! - [`Tessera::auth_router`] serves login, logout, session, sessions, tokens, API keys,
//!   client secret and OAuth2, to nest under any base path.
//!
//! Every refusal is the same problem+json (RFC 9457) the server sends.
//!
//! ```
//! use std::net::SocketAddr;
//!
//! use axum::Router;
//! use axum::body::Body;
//! use axum::extract::ConnectInfo;
//! use axum::http::{Request, header};
//! use axum::routing::get;
//! use tessera::{Auth, Tessera};
//! use tower::ServiceExt as _;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let url = format!("sqlite://{}/app.db", dir.path().display());
//! let tessera = Tessera::builder()
//!     .database(url) // sqlite://PATH or postgres://...
//!     .key(tessera::SecretKey::generate().0)
//!     .build()
//!     .await?;
//! let app = Router::new()
//!     .route("/me", get(|auth: Auth| async move { auth.user().login.to_string() }))
//!     .route_layer(tessera::require("orders:read"))
//!     .nest("/api", tessera.auth_router())
//!     .layer(tessera.layer());
//!
//! // A user with a personal access token limited to `orders:read`.
//! let accounts = tessera.accounts();
//! accounts.create_role("clerk", &["orders:read".into()], "example").await?;
//! let mut new = tessera::NewUser::new(tessera::Login::parse("ada")?);
//! new.roles = vec!["clerk".into()];
//! let ada = accounts.create_user(new, &tessera::Password::new("correct horse battery")).await?;
//! let held = accounts.permissions_of(&ada).await?;
//! let (_, token) = tessera
//!     .authenticator()
//!     .create_pat(&ada, &held, "ci", Some(vec!["orders:read".into()]), None)
//!     .await?;
//!
//! let get_me = |bearer: Option<&str>| {
//!     let mut req = Request::get("/me").header(header::HOST, "localhost");
//!     if let Some(t) = bearer {
//!         req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
//!     }
//!     let mut req = req.body(Body::empty()).unwrap();
//!     // The client's address, as `into_make_service_with_connect_info` provides it.
//!     req.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
//!     req
//! };
//! assert_eq!(app.clone().oneshot(get_me(None)).await?.status(), 401);
//! assert_eq!(app.oneshot(get_me(Some(token.expose()))).await?.status(), 200);
//! # Ok(())
//! # }
//! ```
//!
//! Serve the application with `into_make_service_with_connect_info::<SocketAddr>()`:
//! without the client's address, credentials are accepted over HTTPS only.

mod builder;
pub mod config;
pub mod keyfile;

pub use builder::{BuildError, Builder, Tessera};
pub use config::{Config, ConfigError, Settings};
pub use keyfile::KEY_FILE;
pub use tessera_core::{
    Accounts, Authenticator, CredentialKind, Identity, Login, NewUser, Password, Permission,
    PermissionSet, SecretKey, Store, User,
};
pub use tessera_http::Problem;
/// Fetches an identity provider's discovery document and keys (what `tessera config
/// check` reports): what was found, or what is wrong.
/// Turns on the per-request HTTP metrics, once a `metrics` recorder is installed.
pub use tessera_http::edge::enable_request_metrics;
pub use tessera_http::extract::Auth;
pub use tessera_http::layer::{AuthLayer, RequireLayer, RulesLayer, require};
pub use tessera_http::oidc::client::check_discovery as check_identity_provider;
pub use tessera_http::principal::Principal;

/// The crates Tessera is made of, for what this crate does not re-export.
pub mod parts {
    pub use tessera_core as core;
    pub use tessera_http as http;
    pub use tessera_store as store;
}

/// The Rust examples of the README, compiled (not run) by `cargo test --doc`, so that the
/// program a newcomer copies keeps building.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeExamples;
