//! The gateway's HTTP/1.1 client to `proxy.upstream`, driven by the request's own task.
//!
//! A general-purpose client (hyper-util's pooled `Client`) hands every request to a task
//! that owns the connection and waits for that task to hand the answer back: two
//! wake-ups and a pool checkout per request, which cost the gateway as much as the rest
//! of its work. Here the request's task writes the request and reads the answer's head
//! itself, and the answer's body reads the same socket as the server polls it. When the
//! body is done, the connection goes back to an idle list (newest first) if the upstream
//! allows it. Nothing else runs per request.
//!
//! What it speaks:
//! - **Requests**: HTTP/1.1, headers written as given. A body streams with its
//!   `Content-Length` when known, chunked otherwise.
//! - **Answers**: the body is delimited by `Content-Length`, by chunked encoding, or by the
//!   connection's close; HTTP/1.0 answers and `Connection: close` end the connection.
//!   Interim answers (`100 Continue`) are skipped.
//! - **Upgrades**: a `101 Switching Protocols` hands the socket over in the answer's
//!   extensions ([`Upgraded`]).
//! - **Stale connections**: an idle connection the upstream has closed is noticed before
//!   use, without a system call, from the readiness the runtime already tracks. A request
//!   without a body that finds its pooled connection closed under it is sent again, once,
//!   on a new connection.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, Request, Response, StatusCode, Uri, Version};
use bytes::{Buf, Bytes, BytesMut};
use http_body::{Body as _, Frame, SizeHint};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Idle connections kept for reuse.
const MAX_IDLE: usize = 64;
/// How long a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer head accepted (status line and headers).
const MAX_HEAD: usize = 64 * 1024;
/// The most headers an answer may carry.
const MAX_HEADERS: usize = 128;
/// How much is read from the upstream at a time.
const READ_CHUNK: usize = 16 * 1024;

/// Connections to `proxy.upstream`: cheap to clone, clones share the idle connections.
#[derive(Clone, Default)]
pub struct UpstreamClient {
    idle: Arc<Mutex<Vec<TcpStream>>>,
}

/// A new client with no connection yet.
pub fn client() -> UpstreamClient {
    UpstreamClient::default()
}

/// Why the upstream gave no answer.
#[derive(Debug)]
pub enum UpstreamError {
    /// No connection could be opened.
    Connect(io::Error),
    /// The connection failed, or closed, before the answer's head was complete.
    Io(io::Error),
    /// The answer is not HTTP/1.x as this client reads it.
    Malformed(&'static str),
    /// Forwarding the request's body failed: the client stopped sending it, or sent it
    /// too slowly (the cause is kept, see [`crate::timeout::is_body_timeout`]).
    RequestBody(axum::Error),
    /// The upstream URL is not an `http://` URL with a host.
    Unsupported(&'static str),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "cannot connect: {e}"),
            Self::Io(e) => write!(f, "connection failed: {e}"),
            Self::Malformed(what) => write!(f, "malformed answer: {what}"),
            Self::RequestBody(e) => write!(f, "request body: {e}"),
            Self::Unsupported(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Connect(e) | Self::Io(e) => Some(e),
            Self::RequestBody(e) => Some(e),
            Self::Malformed(_) | Self::Unsupported(_) => None,
        }
    }
}

/// The upstream's side of a switched protocol (`101`): its socket, and the bytes it sent
/// after the answer's head, which belong to the new protocol.
pub struct Upgraded {
    /// The connection to the upstream.
    pub io: TcpStream,
    /// Read past the head; to be delivered to the client first.
    pub buffered: Bytes,
}

/// Where a `101` answer carries its [`Upgraded`] connection, in its extensions (which
/// hold only values that can be cloned): taken once.
#[derive(Clone)]
pub struct UpgradedSlot(Arc<Mutex<Option<Upgraded>>>);

impl UpgradedSlot {
    /// The upstream's side of the switched protocol, the first time it is asked for.
    pub fn take(&self) -> Option<Upgraded> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl UpstreamClient {
    /// Sends `req` (its URI the upstream's, with the path and query to ask for) and
    /// returns the answer once its head has arrived; the body streams as it is polled.
    pub async fn send(&self, req: Request<Body>) -> Result<Response<Body>, UpstreamError> {
        let (parts, body) = req.into_parts();
        let target = Target::of(&parts.uri)?;
        let no_body = body.is_end_stream();
        let head = encode_head(&parts.method, &parts.uri, &parts.headers, &target, &body);
        let pooled = if no_body { self.checkout() } else { None };
        let (io, mut buf, answer) = match pooled {
            Some(io) => match exchange(io, &head, None, &parts.method).await {
                Ok(done) => done,
                // Closed under us before any answer: a request without a body is sent
                // again on a new connection (it cannot have been acted on twice).
                Err(Failure::Stale(_)) => {
                    exchange(target.connect().await?, &head, None, &parts.method)
                        .await
                        .map_err(Failure::into_error)?
                }
                Err(f) => return Err(f.into_error()),
            },
            None => {
                let body = (!no_body).then_some(body);
                exchange(target.connect().await?, &head, body, &parts.method)
                    .await
                    .map_err(Failure::into_error)?
            }
        };
        let Answer {
            status,
            version,
            headers,
            framing,
            reusable,
        } = answer;
        let mut res = Response::new(Body::empty());
        *res.status_mut() = status;
        *res.version_mut() = version;
        *res.headers_mut() = headers;
        if status == StatusCode::SWITCHING_PROTOCOLS {
            res.extensions_mut()
                .insert(UpgradedSlot(Arc::new(Mutex::new(Some(Upgraded {
                    io,
                    buffered: buf.split().freeze(),
                })))));
            return Ok(res);
        }
        let body = AnswerBody {
            io: Some(io),
            buf,
            framing,
            reusable,
            idle: Arc::clone(&self.idle),
        };
        if body.framing == Framing::Done {
            body.finish();
        } else {
            *res.body_mut() = Body::new(body);
        }
        Ok(res)
    }

    /// The newest idle connection the upstream has not closed.
    fn checkout(&self) -> Option<TcpStream> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        while let Some(io) = idle.pop() {
            if still_open(&io) {
                return Some(io);
            }
        }
        None
    }
}

/// Whether an idle connection can be used: nothing arrived on it since it went idle (an
/// idle upstream sends nothing but its close). Asks the readiness the runtime tracks, so
/// no system call is made for a quiet connection.
fn still_open(io: &TcpStream) -> bool {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match io.poll_read_ready(&mut cx) {
        Poll::Pending => true,
        // Readable: a close (or stray bytes) arrived; either way it is not reused.
        Poll::Ready(_) => {
            let mut probe = [0u8; 1];
            matches!(io.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
        }
    }
}

/// Where the upstream listens, and what a request without `Host` names.
struct Target<'a> {
    host: &'a str,
    port: u16,
    authority: &'a str,
}

impl<'a> Target<'a> {
    fn of(uri: &'a Uri) -> Result<Self, UpstreamError> {
        if uri.scheme_str() != Some("http") {
            return Err(UpstreamError::Unsupported(
                "the upstream URL must be http://",
            ));
        }
        let authority = uri
            .authority()
            .ok_or(UpstreamError::Unsupported("the upstream URL has no host"))?;
        let host = authority.host();
        Ok(Self {
            host: host
                .strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .unwrap_or(host),
            port: authority.port_u16().unwrap_or(80),
            authority: authority.as_str(),
        })
    }

    async fn connect(&self) -> Result<TcpStream, UpstreamError> {
        let io = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((self.host, self.port)))
            .await
            .map_err(|_| {
                UpstreamError::Connect(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no connection within 5 s",
                ))
            })?
            .map_err(UpstreamError::Connect)?;
        io.set_nodelay(true).map_err(UpstreamError::Connect)?;
        Ok(io)
    }
}

/// The request line and headers. The body's framing is Tessera's: a `Content-Length` or
/// `Transfer-Encoding` the client sent is replaced by what the body really is.
fn encode_head(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    target: &Target<'_>,
    body: &Body,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + headers.len() * 48);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(
        uri.path_and_query()
            .map_or("/", |pq| pq.as_str())
            .as_bytes(),
    );
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains_key(header::HOST) {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(target.authority.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    for (name, value) in headers {
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if http_body::Body::is_end_stream(body) {
        // A client's explicit empty body (`Content-Length: 0` on a POST) stays explicit.
        if headers.contains_key(header::CONTENT_LENGTH) {
            out.extend_from_slice(b"content-length: 0\r\n");
        }
    } else if let Some(n) = http_body::Body::size_hint(body).exact() {
        out.extend_from_slice(format!("content-length: {n}\r\n").as_bytes());
    } else {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Why an exchange failed, and whether sending again is safe.
enum Failure {
    /// The connection was closed or reset before any byte of an answer arrived.
    Stale(io::Error),
    Other(UpstreamError),
}

impl Failure {
    fn into_error(self) -> UpstreamError {
        match self {
            Self::Stale(e) => UpstreamError::Io(e),
            Self::Other(e) => e,
        }
    }
}

impl From<UpstreamError> for Failure {
    fn from(e: UpstreamError) -> Self {
        Self::Other(e)
    }
}

/// An answer's head, and how its body is delimited.
struct Answer {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    framing: Framing,
    /// Whether the upstream keeps the connection open after this answer.
    reusable: bool,
}

/// Writes the request (`head`, then `body` if any) on `io` and reads the answer's head.
/// Returns the connection, what was read past the head, and the head.
async fn exchange(
    mut io: TcpStream,
    head: &[u8],
    body: Option<Body>,
    method: &Method,
) -> Result<(TcpStream, BytesMut, Answer), Failure> {
    if let Err(e) = io.write_all(head).await {
        return Err(Failure::Stale(e));
    }
    if let Some(body) = body {
        write_body(&mut io, body).await?;
    }
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        let read = match read_some(&io, &mut buf).await {
            Ok(0) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the upstream closed the connection before answering",
            )),
            Ok(n) => Ok(n),
            Err(e) => Err(e),
        };
        if let Err(e) = read {
            // Nothing of an answer yet: the connection was stale.
            return Err(if buf.is_empty() {
                Failure::Stale(e)
            } else {
                Failure::Other(UpstreamError::Io(e))
            });
        }
        while let Some(answer) = parse_head(&mut buf, method)? {
            if answer.status.is_informational() && answer.status != StatusCode::SWITCHING_PROTOCOLS
            {
                // `100 Continue` and other interim answers: the final one follows.
                continue;
            }
            return Ok((io, buf, answer));
        }
        if buf.len() > MAX_HEAD {
            return Err(UpstreamError::Malformed("the answer's head is too large").into());
        }
    }
}

/// Streams the request body, with `Content-Length` (the head said so) or chunked.
async fn write_body(io: &mut TcpStream, mut body: Body) -> Result<(), Failure> {
    let chunked = http_body::Body::size_hint(&body).exact().is_none();
    let mut pending = Vec::new();
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let data = match frame {
            None => break,
            Some(Err(e)) => return Err(UpstreamError::RequestBody(e).into()),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                // Trailers are not forwarded.
                Err(_) => continue,
            },
        };
        if data.is_empty() {
            continue;
        }
        pending.clear();
        if chunked {
            pending.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
        }
        pending.extend_from_slice(&data);
        if chunked {
            pending.extend_from_slice(b"\r\n");
        }
        io.write_all(&pending)
            .await
            .map_err(|e| Failure::Other(UpstreamError::Io(e)))?;
    }
    if chunked {
        io.write_all(b"0\r\n\r\n")
            .await
            .map_err(|e| Failure::Other(UpstreamError::Io(e)))?;
    }
    Ok(())
}

/// Reads into `buf` as soon as the socket has something; 0 at its close.
async fn read_some(io: &TcpStream, buf: &mut BytesMut) -> io::Result<usize> {
    buf.reserve(READ_CHUNK);
    std::future::poll_fn(|cx| poll_read(io, cx, buf)).await
}

/// One read into `buf` (which has room), or `Pending` until the socket is readable.
fn poll_read(io: &TcpStream, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
    loop {
        match io.poll_read_ready(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {}
        }
        match io.try_read_buf(buf) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            done => return Poll::Ready(done),
        }
    }
}

/// Parses an answer's head from the front of `buf`, consuming it; `None` when more bytes
/// are needed.
fn parse_head(buf: &mut BytesMut, method: &Method) -> Result<Option<Answer>, Failure> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Response::new(&mut slots);
    let len = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(UpstreamError::Malformed("not an HTTP/1.x answer").into()),
    };
    let status = parsed
        .code
        .and_then(|c| StatusCode::from_u16(c).ok())
        .ok_or(UpstreamError::Malformed("bad status code"))?;
    let version = if parsed.version == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let mut headers = HeaderMap::with_capacity(parsed.headers.len());
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut close = version == Version::HTTP_10;
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| UpstreamError::Malformed("bad header name"))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| UpstreamError::Malformed("bad header value"))?;
        if name == header::CONTENT_LENGTH {
            let n = value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .ok_or(UpstreamError::Malformed("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(UpstreamError::Malformed("conflicting Content-Length").into());
            }
            length = Some(n);
        } else if name == header::TRANSFER_ENCODING {
            chunked = value
                .to_str()
                .ok()
                .and_then(|v| v.rsplit(',').next())
                .is_some_and(|last| last.trim().eq_ignore_ascii_case("chunked"));
            if !chunked {
                // Some other coding last: the body runs to the close (RFC 9112 §6.3).
                close = true;
            }
        } else if name == header::CONNECTION {
            let tokens = value.to_str().unwrap_or("");
            for t in tokens.split(',').map(str::trim) {
                if t.eq_ignore_ascii_case("close") {
                    close = true;
                } else if t.eq_ignore_ascii_case("keep-alive") && version == Version::HTTP_10 {
                    close = false;
                }
            }
        }
        headers.append(name, value);
    }
    buf.advance(len);
    let bodiless = *method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let framing = if bodiless {
        Framing::Done
    } else if chunked {
        // Transfer-Encoding wins over Content-Length, which is not passed on with it.
        headers.remove(header::CONTENT_LENGTH);
        Framing::Chunked(Chunk::Size)
    } else if close && headers.contains_key(header::TRANSFER_ENCODING) {
        Framing::UntilClose
    } else if let Some(n) = length {
        if n == 0 {
            Framing::Done
        } else {
            Framing::Length(n)
        }
    } else {
        close = true;
        Framing::UntilClose
    };
    Ok(Some(Answer {
        status,
        version,
        headers,
        framing,
        reusable: !close,
    }))
}

/// How much of an answer's body is left, and how it is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
}

/// Where in chunked encoding the reader is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk, with this much data left.
    Data(u64),
    /// After a chunk's data, before its CRLF.
    DataEnd,
    /// After the last chunk, in the trailer section (not forwarded).
    Trailers,
}

/// An answer's body, read from the upstream connection as the server polls it; the
/// connection goes back to the idle list when the body is complete.
struct AnswerBody {
    io: Option<TcpStream>,
    buf: BytesMut,
    framing: Framing,
    reusable: bool,
    idle: Arc<Mutex<Vec<TcpStream>>>,
}

impl AnswerBody {
    /// The body is complete: the connection is kept for the next request if the upstream
    /// keeps it open and sent nothing more.
    fn finish(mut self) {
        self.release();
    }

    fn release(&mut self) {
        self.framing = Framing::Done;
        if let Some(io) = self.io.take()
            && self.reusable
            && self.buf.is_empty()
        {
            let mut idle = self
                .idle
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if idle.len() < MAX_IDLE {
                idle.push(io);
            }
        }
    }

    /// Reads more from the upstream; `Ok(false)` at its close.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<bool>> {
        let Some(io) = &self.io else {
            return Poll::Ready(Ok(false));
        };
        self.buf.reserve(READ_CHUNK);
        poll_read(io, cx, &mut self.buf).map_ok(|n| n > 0)
    }

    /// The next piece of chunked encoding from `buf`: data, or `None` with the state
    /// advanced (or more bytes needed, when nothing of `buf` was consumed).
    fn next_chunked(&mut self, state: Chunk) -> Result<(Option<Bytes>, Chunk), io::Error> {
        let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad chunked encoding");
        match state {
            Chunk::Size => {
                let Some(end) = find_crlf(&self.buf) else {
                    if self.buf.len() > 4096 {
                        return Err(bad());
                    }
                    return Ok((None, Chunk::Size));
                };
                let line = std::str::from_utf8(&self.buf[..end]).map_err(|_| bad())?;
                let size = line.split(';').next().unwrap_or("").trim();
                let n = u64::from_str_radix(size, 16).map_err(|_| bad())?;
                self.buf.advance(end + 2);
                Ok((
                    None,
                    if n == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(n)
                    },
                ))
            }
            Chunk::Data(left) => {
                if self.buf.is_empty() {
                    return Ok((None, Chunk::Data(left)));
                }
                let take = (self.buf.len() as u64).min(left) as usize;
                let data = self.buf.split_to(take).freeze();
                let left = left - take as u64;
                Ok((
                    Some(data),
                    if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    },
                ))
            }
            Chunk::DataEnd => {
                if self.buf.len() < 2 {
                    return Ok((None, Chunk::DataEnd));
                }
                if &self.buf[..2] != b"\r\n" {
                    return Err(bad());
                }
                self.buf.advance(2);
                Ok((None, Chunk::Size))
            }
            Chunk::Trailers => {
                let Some(end) = find_crlf(&self.buf) else {
                    if self.buf.len() > MAX_HEAD {
                        return Err(bad());
                    }
                    return Ok((None, Chunk::Trailers));
                };
                self.buf.advance(end + 2);
                // An empty line ends the trailers, and the body.
                if end == 0 {
                    self.framing = Framing::Done;
                }
                Ok((None, Chunk::Trailers))
            }
        }
    }
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

impl http_body::Body for AnswerBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            match this.framing {
                Framing::Done => {
                    this.release();
                    return Poll::Ready(None);
                }
                Framing::Length(left) => {
                    if !this.buf.is_empty() {
                        let take = (this.buf.len() as u64).min(left) as usize;
                        let data = this.buf.split_to(take).freeze();
                        this.framing = match left - take as u64 {
                            0 => Framing::Done,
                            n => Framing::Length(n),
                        };
                        if this.framing == Framing::Done {
                            this.release();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Framing::UntilClose => {
                    if !this.buf.is_empty() {
                        let data = this.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                Framing::Chunked(state) => {
                    let before = this.buf.len();
                    let (data, next) = match this.next_chunked(state) {
                        Ok(step) => step,
                        Err(e) => {
                            this.io = None;
                            return Poll::Ready(Some(Err(e)));
                        }
                    };
                    if this.framing != Framing::Done {
                        this.framing = Framing::Chunked(next);
                    }
                    if let Some(data) = data {
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                    // Progress (a size line, a chunk's end, a trailer line read): go on
                    // with what is buffered.
                    if this.buf.len() != before || this.framing == Framing::Done {
                        continue;
                    }
                }
            }
            // More bytes are needed.
            match this.poll_fill(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(true)) => {}
                Poll::Ready(Ok(false)) if this.framing == Framing::UntilClose => {
                    this.io = None;
                    this.framing = Framing::Done;
                    return Poll::Ready(None);
                }
                Poll::Ready(Ok(false)) => {
                    this.io = None;
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the upstream closed the connection in the middle of the body",
                    ))));
                }
                Poll::Ready(Err(e)) => {
                    this.io = None;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.framing == Framing::Done
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(n) => SizeHint::with_exact(n),
            Framing::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str, method: &Method) -> Answer {
        let mut buf = BytesMut::from(text);
        match parse_head(&mut buf, method) {
            Ok(Some(a)) => a,
            _ => panic!("no head in {text:?}"),
        }
    }

    #[test]
    fn answers_are_delimited_as_http_1_1_says() {
        let get = Method::GET;
        let a = head("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", &get);
        assert_eq!((a.framing, a.reusable), (Framing::Length(5), true));
        let a = head(
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n",
            &get,
        );
        assert_eq!(a.framing, Framing::Chunked(Chunk::Size));
        assert!(!a.headers.contains_key(header::CONTENT_LENGTH));
        let a = head("HTTP/1.1 200 OK\r\n\r\n", &get);
        assert_eq!((a.framing, a.reusable), (Framing::UntilClose, false));
        let a = head("HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\n", &get);
        assert_eq!((a.framing, a.reusable), (Framing::Length(2), false));
        let a = head(
            "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\n",
            &get,
        );
        assert!(!a.reusable);
        let a = head("HTTP/1.1 204 No Content\r\n\r\n", &get);
        assert_eq!((a.framing, a.reusable), (Framing::Done, true));
        let a = head(
            "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n",
            &Method::HEAD,
        );
        assert_eq!(a.framing, Framing::Done);
    }

    #[test]
    fn conflicting_lengths_and_garbage_are_refused() {
        for bad in [
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\ncontent-length: 6\r\n\r\n",
            "HTTP/1.1 200 OK\r\ncontent-length: x\r\n\r\n",
            "SSH-2.0-OpenSSH\r\n\r\n",
        ] {
            let mut buf = BytesMut::from(bad);
            assert!(
                matches!(parse_head(&mut buf, &Method::GET), Err(Failure::Other(_))),
                "{bad:?}"
            );
        }
        let mut partial = BytesMut::from("HTTP/1.1 200 OK\r\ncontent-le");
        assert!(matches!(parse_head(&mut partial, &Method::GET), Ok(None)));
    }

    #[test]
    fn the_request_head_carries_the_body_framing_tessera_chose() {
        let uri: Uri = "http://127.0.0.1:9000/svc/x?a=1".parse().unwrap();
        let target = Target::of(&uri).unwrap();
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("999"));
        h.insert("x-a", HeaderValue::from_static("1"));
        let text = |body: &Body| {
            String::from_utf8(encode_head(&Method::POST, &uri, &h, &target, body)).unwrap()
        };
        let sized = text(&Body::from("abc"));
        assert!(sized.starts_with("POST /svc/x?a=1 HTTP/1.1\r\nhost: 127.0.0.1:9000\r\n"));
        assert!(sized.contains("content-length: 3\r\n") && !sized.contains("999"));
        // A body of unknown length, as a client's chunked upload is.
        let streamed = text(&Body::new(AnswerBody {
            io: None,
            buf: BytesMut::from("abc"),
            framing: Framing::UntilClose,
            reusable: false,
            idle: Arc::default(),
        }));
        assert!(streamed.contains("transfer-encoding: chunked\r\n"));
        assert!(text(&Body::empty()).contains("content-length: 0\r\n"));
        assert!(matches!(
            Target::of(&"https://example.com/".parse().unwrap()),
            Err(UpstreamError::Unsupported(_))
        ));
    }

    #[tokio::test]
    async fn chunked_bodies_are_decoded_across_reads() {
        let mut body = AnswerBody {
            io: None,
            buf: BytesMut::from("3;ext=1\r\nabc\r\n5\r\nde"),
            framing: Framing::Chunked(Chunk::Size),
            reusable: false,
            idle: Arc::default(),
        };
        let mut got = Vec::new();
        let mut rest = Some(BytesMut::from("fgh\r\n0\r\nx-trailer: 1\r\n\r\n"));
        loop {
            let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
            match frame {
                Some(Ok(f)) => got.extend_from_slice(&f.into_data().unwrap()),
                None => break,
                // The buffer ran dry (no socket here): feed the rest.
                Some(Err(_)) => match rest.take() {
                    Some(more) => {
                        body.buf.extend_from_slice(&more);
                        body.framing = Framing::Chunked(Chunk::Data(3));
                    }
                    None => panic!("ran dry twice"),
                },
            }
        }
        assert_eq!(got, b"abcdefgh");
        assert!(body.is_end_stream());
    }
}
