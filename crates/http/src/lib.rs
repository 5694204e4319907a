//! Tessera's HTTP edge: the router of the auth endpoints, problem+json errors and the
//! headers every response carries. Knows nothing of SQL: it talks to the core only.

pub mod problem;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use tessera_core::Store;

pub use problem::Problem;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
}

/// The whole application: health probes, the auth endpoints under the base path, and a
/// problem+json 404 for everything else.
pub fn router(state: AppState) -> Router {
    routes::health()
        .fallback(|| async { Problem::not_found() })
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers on every response, errors included.
async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::SERVER, HeaderValue::from_static("tessera"));
    res
}
