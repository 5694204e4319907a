//! Request bodies with a deadline, so a client that sends half a body cannot hold a
//! connection (and a task) forever.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

/// The error a timed body ends with when the client is too slow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

/// Whether `e`, or anything that caused it, is [`BodyTimedOut`].
pub fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(e);
    while let Some(err) = source {
        if err.is::<BodyTimedOut>() {
            return true;
        }
        source = err.source();
    }
    false
}

/// How a body's deadline is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// The whole body within the timeout, from when the request head arrived (bodies the
    /// server reads itself, which are small).
    Whole,
    /// No wait longer than the timeout for the next chunk (bodies streamed to the
    /// upstream, which may be long uploads).
    EachChunk,
}

/// `body` with a deadline; bodies already complete are returned as they are.
pub fn timed(body: Body, timeout: Duration, deadline: Deadline) -> Body {
    if http_body::Body::is_end_stream(&body) {
        return body;
    }
    let sleep = match deadline {
        Deadline::Whole => Some(Box::pin(tokio::time::sleep(timeout))),
        Deadline::EachChunk => None,
    };
    Body::new(TimedBody {
        inner: body,
        timeout,
        sleep,
        deadline,
    })
}

struct TimedBody {
    inner: Body,
    timeout: Duration,
    /// Running while a frame is awaited (always, for [`Deadline::Whole`]).
    sleep: Option<Pin<Box<Sleep>>>,
    deadline: Deadline,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            if this.deadline == Deadline::EachChunk {
                this.sleep = None;
            }
            return Poll::Ready(frame.map(|r| r.map_err(Into::into)));
        }
        let timeout = this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(body: Body) -> Result<Vec<u8>, axum::Error> {
        axum::body::to_bytes(body, usize::MAX)
            .await
            .map(|b| b.to_vec())
    }

    /// A body fed by a channel.
    struct ChannelBody(tokio::sync::mpsc::Receiver<Frame<Bytes>>);

    impl http_body::Body for ChannelBody {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|f| f.map(Ok))
        }
    }

    /// A body that sends `chunks` bytes, pausing `gap` before each.
    fn dripping(chunks: usize, gap: Duration) -> Body {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        tokio::spawn(async move {
            for _ in 0..chunks {
                tokio::time::sleep(gap).await;
                if tx
                    .send(Frame::data(Bytes::from_static(b"x")))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        Body::new(ChannelBody(rx))
    }

    #[tokio::test(start_paused = true)]
    async fn a_whole_body_must_arrive_within_the_deadline() {
        let slow = timed(
            dripping(10, Duration::from_secs(1)),
            Duration::from_secs(5),
            Deadline::Whole,
        );
        let e = collect(slow).await.unwrap_err();
        assert!(is_body_timeout(&e), "{e}");
        let quick = timed(
            dripping(4, Duration::from_secs(1)),
            Duration::from_secs(5),
            Deadline::Whole,
        );
        assert_eq!(collect(quick).await.unwrap(), b"xxxx");
    }

    #[tokio::test(start_paused = true)]
    async fn a_streamed_body_may_be_long_but_not_stall() {
        let long = timed(
            dripping(10, Duration::from_secs(1)),
            Duration::from_secs(2),
            Deadline::EachChunk,
        );
        assert_eq!(collect(long).await.unwrap().len(), 10);
        let stalled = timed(
            dripping(2, Duration::from_secs(3)),
            Duration::from_secs(2),
            Deadline::EachChunk,
        );
        let e = collect(stalled).await.unwrap_err();
        assert!(is_body_timeout(&e), "{e}");
    }

    #[test]
    fn empty_bodies_are_not_wrapped() {
        let b = timed(Body::empty(), Duration::from_secs(1), Deadline::Whole);
        assert!(http_body::Body::is_end_stream(&b));
    }
}
