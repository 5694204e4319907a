//! A small upstream API for gateway tests: echoes what it received, streams large bodies,
//! answers slowly on request, and speaks a raw `Upgrade: echo` protocol.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn echo(req: Request) -> Response {
    let headers: BTreeMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    axum::Json(serde_json::json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "query": req.uri().query(),
        "headers": headers,
    }))
    .into_response()
}

async fn big(Path(n): Path<usize>) -> Response {
    let chunk = bytes_chunk();
    let chunks = n / chunk.len();
    let stream = futures_util::stream::iter(
        (0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
    );
    Body::from_stream(stream).into_response()
}

fn bytes_chunk() -> axum::body::Bytes {
    axum::body::Bytes::from(vec![b'x'; 64 * 1024])
}

async fn upload(req: Request) -> Response {
    let mut stream = req.into_body().into_data_stream();
    let mut n = 0usize;
    while let Some(chunk) = stream.next().await {
        n += chunk.map(|c| c.len()).unwrap_or(0);
    }
    axum::Json(serde_json::json!({ "bytes": n })).into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    "late"
}

async fn upgrade(mut req: Request) -> Response {
    let on = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        if let Ok(up) = on.await {
            let mut io = hyper_util::rt::TokioIo::new(up);
            let mut buf = [0u8; 1024];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    });
    (
        StatusCode::SWITCHING_PROTOCOLS,
        [(header::CONNECTION, "upgrade"), (header::UPGRADE, "echo")],
    )
        .into_response()
}

/// Starts the upstream on a free loopback port; it lives as long as the test's runtime.
pub async fn start() -> SocketAddr {
    let app = Router::new()
        .route("/files/big/{n}", get(big))
        .route("/files/upload", post(upload))
        .route("/slow", get(slow))
        .route("/ws", get(upgrade))
        .fallback(echo);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}
