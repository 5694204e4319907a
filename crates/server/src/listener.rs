//! The accept loop: TCP (optionally TLS) connections served as HTTP/1.1 or HTTP/2, with
//! the limits that keep slow or greedy clients from exhausting the server.
//!
//! - At most `max_connections` connections are served at once; beyond that new ones wait
//!   in the kernel's accept queue until a slot frees.
//! - A connection must complete its TLS handshake, its HTTP/2 preface and every HTTP/1
//!   request head within `header_read_timeout`, counted from the moment the server starts
//!   waiting for it; on a kept-alive HTTP/1 connection that moment is the end of the
//!   previous response, so the same timeout also closes idle connections.
//! - A request head larger than `max_header_bytes` is answered 431 and the connection
//!   closed.
//! - Request bodies are timed by the HTTP edge (`server.body_read_timeout`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;
use tower::Service;

/// How long connections may take and how many there may be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest wait for a TLS handshake, the HTTP/2 preface or an HTTP/1 request head,
    /// counted from when the server starts waiting (so also the idle timeout of kept-alive
    /// HTTP/1 connections), and for the answer to an HTTP/2 keep-alive ping
    /// (`server.header_read_timeout`).
    pub header_read_timeout: Duration,
    /// Connections served at once; further ones wait in the kernel's accept queue until
    /// one closes (`server.max_connections`, possibly lowered to the open-files limit).
    pub max_connections: usize,
    /// Largest request head in bytes: an HTTP/1 head larger than this is answered 431 and
    /// the connection closed; for HTTP/2 it caps the header list size
    /// (`server.max_header_bytes`).
    pub max_header_bytes: usize,
}

/// The smallest read buffer hyper accepts for HTTP/1.
const MIN_BUF: usize = 8192;

/// How long open connections get to finish after a shutdown signal.
const GRACE: Duration = Duration::from_secs(10);

const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The router in force: every request takes the one current when it arrives, so that a
/// configuration reload ([`Routes::replace`]) applies to the next request on every open
/// connection, while requests in flight finish on the router they started with.
#[derive(Clone)]
pub struct Routes(Arc<std::sync::RwLock<Router>>);

impl Routes {
    /// Routes starting with `router`.
    pub fn new(router: Router) -> Self {
        Self(Arc::new(std::sync::RwLock::new(router)))
    }

    /// The router for the next request.
    pub fn current(&self) -> Router {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Puts `router` in force for every request from now on.
    pub fn replace(&self, router: Router) {
        *self
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = router;
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections
/// finish for up to ten seconds.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Routes,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = watch::channel(false);
    let last_full_warning = AtomicU64::new(0);
    tokio::pin!(shutdown);
    loop {
        if slots.available_permits() == 0 {
            warn_at_most_once_a_minute(&last_full_warning, || {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    "server.max_connections reached: new connections wait until one closes"
                );
            });
        }
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(conn) => conn,
                Err(e) => {
                    accept_error(&e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (tls, app, stop) = (tls.clone(), app.clone(), stop_rx.clone());
        tokio::spawn(async move {
            connection(stream, peer, tls, app, limits, stop).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    // Every connection holds a slot: all slots free means all connections are done.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(GRACE, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period are closed");
    }
}

fn warn_at_most_once_a_minute(last: &AtomicU64, warn: impl FnOnce()) {
    let now = tessera_core::Timestamp::now().unix().max(0).unsigned_abs();
    let before = last.load(Ordering::Relaxed);
    if now >= before + 60
        && last
            .compare_exchange(before, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        warn();
    }
}

/// Accept errors are about one connection (reset before accepted) or about resources
/// (out of file descriptors): the loop goes on, pausing briefly in the second case so it
/// does not spin.
async fn accept_error(e: &std::io::Error) {
    use std::io::ErrorKind;
    match e.kind() {
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted => {}
        _ => {
            tracing::warn!(error = %e, "cannot accept connections (out of file descriptors?)");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    tls: Option<TlsAcceptor>,
    app: Routes,
    limits: Limits,
    stop: watch::Receiver<bool>,
) {
    let deadline = limits.header_read_timeout;
    // Before its first request a connection has nothing to finish: a shutdown closes it
    // at once rather than waiting for the header-read timeout.
    let mut waiting = stop.clone();
    let stopping = async move {
        let _ = waiting.wait_for(|s| *s).await;
    };
    match tls {
        None => {
            let opening = tokio::time::timeout(deadline, starts_with_h2_preface(&stream));
            let h2 = tokio::select! {
                r = opening => r,
                () = stopping => return,
            };
            let Ok(Ok(h2)) = h2 else {
                return;
            };
            http(TokioIo::new(stream), h2, peer, app, limits, stop).await;
        }
        Some(acceptor) => {
            let handshake = tokio::time::timeout(deadline, acceptor.accept(stream));
            let stream = tokio::select! {
                r = handshake => r,
                () = stopping => return,
            };
            let Ok(Ok(stream)) = stream else {
                return;
            };
            let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
            http(TokioIo::new(stream), h2, peer, app, limits, stop).await;
        }
    }
}

/// Whether a plain-text connection opens with the HTTP/2 preface (prior knowledge),
/// looking without consuming. Called under the header-read timeout.
async fn starts_with_h2_preface(stream: &TcpStream) -> std::io::Result<bool> {
    let mut buf = [0u8; 24];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(false);
        }
        if n == H2_PREFACE.len() {
            return Ok(true);
        }
        // A prefix of the preface so far: wait for more (peek returns at once while any
        // byte is buffered).
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn http<I>(
    io: I,
    h2: bool,
    peer: SocketAddr,
    app: Routes,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.current();
        async move { Ok::<_, Infallible>(app.call(req).await.unwrap_or_else(|e| match e {})) }
    });
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if h2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .max_concurrent_streams(256)
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(limits.header_read_timeout);
        let conn = builder.serve_connection(io, service);
        until_stopped(conn, stopped, |c| c.graceful_shutdown()).await;
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_header_size(limits.max_header_bytes)
            .max_buf_size(limits.max_header_bytes.max(MIN_BUF));
        let conn = builder.serve_connection(io, service).with_upgrades();
        until_stopped(conn, stopped, |c| c.graceful_shutdown()).await;
    }
}

/// Drives a connection until it ends or `stopped` completes; then asks it to finish the
/// request in flight and close (`shutdown`), and waits for that.
async fn until_stopped<C>(
    conn: C,
    stopped: impl Future<Output = ()>,
    shutdown: impl FnOnce(std::pin::Pin<&mut C>),
) where
    C: Future<Output = Result<(), hyper::Error>>,
{
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => log_end(r),
        () = stopped => {
            shutdown(conn.as_mut());
            log_end(conn.await);
        }
    }
}

fn log_end(r: Result<(), hyper::Error>) {
    if let Err(e) = r {
        // Timeouts, resets and malformed requests are the client's business.
        tracing::debug!(error = %e, "connection ended");
    }
}
