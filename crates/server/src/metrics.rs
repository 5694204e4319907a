//! Prometheus metrics: the recorder every `metrics::counter!` and `histogram!` of the
//! crates reports to, and `GET /metrics` on a listener of its own (`metrics.listen`),
//! never the main one. Labels are bounded: route templates, methods, statuses, credential
//! kinds, outcomes; never a login, token, address or raw path.

use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::PrometheusBuilder;

/// Buckets of the latency histograms, in seconds (100 µs to 10 s).
const BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 2.5, 10.0,
];

/// How often histogram samples are folded into their buckets when nobody scrapes.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the recorder and serves its exposition on `listener` in the background.
pub fn serve(listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&BUCKETS)
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    // Histogram samples wait in the recorder until upkeep folds them into the buckets.
    // A scrape runs it, but nothing else does: without this, a server nobody scrapes
    // grows by every sample it records (about 20 bytes per request).
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    describe();
    tessera::enable_request_metrics();
    metrics::gauge!(
        "tessera_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "commit" => env!("TESSERA_BUILD_COMMIT")
    )
    .set(1.0);
    let address = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let handle = handle.clone();
            async move {
                handle.run_upkeep();
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    handle.render(),
                )
                    .into_response()
            }
        }),
    );
    tracing::info!("metrics: http://{address}/metrics");
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// The help text of every metric.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "tessera_http_requests_total",
        "HTTP requests answered, by route template, method and status"
    );
    describe_histogram!(
        "tessera_http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request (until the response head), by route template and method"
    );
    describe_counter!(
        "tessera_decisions_total",
        "Access decisions of the gateway and {base}/verify, by credential kind and outcome"
    );
    describe_counter!("tessera_logins_total", "Logins, by method and outcome");
    describe_counter!(
        "tessera_throttled_total",
        "Attempts refused by brute-force throttling, by event"
    );
    describe_gauge!(
        "tessera_password_hash_queue_depth",
        "Password hashes waiting for a hashing thread"
    );
    describe_histogram!(
        "tessera_password_hash_wait_seconds",
        Unit::Seconds,
        "Time a password hash waited for a hashing thread"
    );
    describe_counter!(
        "tessera_verification_cache_hits_total",
        "Token verifications answered from the in-process cache"
    );
    describe_counter!(
        "tessera_verification_cache_misses_total",
        "Token verifications that read the store"
    );
    describe_gauge!(
        "tessera_revocation_feed_up",
        "1 while revocations made elsewhere are pushed to this instance; 0 while verifications \
         are cached for one second only"
    );
    describe_counter!(
        "tessera_revocations_received_total",
        "Revocations announced by the database, made here or elsewhere"
    );
    describe_counter!("tessera_store_errors_total", "Store operations that failed");
    describe_histogram!(
        "tessera_store_query_duration_seconds",
        Unit::Seconds,
        "Time of one store statement"
    );
    describe_gauge!(
        "tessera_build_info",
        "The running version and the commit it was built from (always 1)"
    );
}
