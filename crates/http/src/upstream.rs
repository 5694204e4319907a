//! The pooled HTTP client the gateway forwards with.

use axum::body::Body;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Pooled connections to `proxy.upstream`.
pub type UpstreamClient = Client<HttpConnector, Body>;

/// A client with `TCP_NODELAY`, a 5 s connect timeout and up to 64 idle connections.
pub fn client() -> UpstreamClient {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(std::time::Duration::from_secs(5)));
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(64)
        .build(connector)
}
