//! Raw TCP connections to the server: exact request targets, partial heads and bodies,
//! idle and upgraded connections, which an HTTP client would not send.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The `host:port` of a server's base URL.
pub fn addr_of(base: &str) -> String {
    base.trim_start_matches("http://")
        .trim_start_matches("https://")
        .to_owned()
}

/// Opens a new connection and writes `bytes` on it (a partial head or body, say) without
/// reading anything.
pub async fn open(addr: &str, bytes: &[u8]) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(bytes).await.unwrap();
    tcp
}

/// Reads until the server closes the connection or `limit` passes; returns what was read
/// and whether the connection was closed.
pub async fn read_until_closed(tcp: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut out = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&out).into(), true),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into(), false),
        }
    }
}

/// What one read on the connection returns (at most 4 KiB), as text.
pub async fn read_some(tcp: &mut TcpStream) -> String {
    let mut buf = [0u8; 4096];
    let n = tcp.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Sends one raw request on a new connection and returns the whole answer.
pub async fn raw(addr: &str, request: &str) -> String {
    let mut tcp = open(addr, request.as_bytes()).await;
    read_until_closed(&mut tcp, Duration::from_secs(10)).await.0
}

/// As [`raw`], asserting the HTTP/1.1 status of the answer.
pub async fn raw_expecting(addr: &str, request: &str, status: u16) -> String {
    let answer = raw(addr, request).await;
    let target = request.lines().next().unwrap_or_default();
    assert!(
        answer.starts_with(&format!("HTTP/1.1 {status}")),
        "{target}: {answer}"
    );
    answer
}

/// Whether `GET /healthz` on a new connection is answered 200 within 3 s.
pub async fn healthz_answers(addr: &str) -> bool {
    let answer = tokio::time::timeout(
        Duration::from_secs(3),
        raw(
            addr,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ),
    )
    .await;
    answer.is_ok_and(|a| a.starts_with("HTTP/1.1 200"))
}
