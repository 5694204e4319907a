//! Tessera's HTTP edge: the router of the auth endpoints, credential extraction, CSRF,
//! cookies, problem+json errors and security headers. Knows nothing of SQL: it talks to
//! the core only.

pub mod auth;
pub(crate) mod body;
pub mod context;
pub mod cookies;
pub mod credentials;
pub mod csrf;
pub mod decision;
pub mod edge;
pub mod extract;
pub mod layer;
pub mod net;
pub mod oidc;
pub mod params;
pub mod paths;
pub mod principal;
pub mod problem;
pub mod proxy;
pub mod ratelimit;
mod routes;
pub mod settings;
mod state;
pub mod timeout;
mod ui;
pub mod upstream;

pub use net::IpNet;
pub use problem::Problem;
pub use routes::{BODY_LIMIT, auth_router, health_router};
pub use settings::HttpSettings;
pub use state::{AppState, Shared};
