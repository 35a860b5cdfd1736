//! Accepting connections and serving HTTP/1.1 on them.
//!
//! Owns: the accept loop with graceful shutdown (every connection task is
//! joined; stragglers are aborted after a drain timeout), and
//! [`AbortableIo`], the socket wrapper that turns an armed abort frame
//! into VictoriaLogs' wire behaviour: the abort text written *unframed*
//! after the last complete chunk, then a TCP close without the final
//! `0\r\n\r\n` chunk, so clients see a chunked-decoding error.
//! Must not: know about endpoints (it hands every request to
//! `http::respond`).

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::body::{ConnCtl, ABORT_TEXT};
use crate::TargetState;

/// How long shutdown waits for open responses before cutting them.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `state` on `listener` until `shutdown` is cancelled.
pub async fn accept_loop(
    state: Arc<TargetState>,
    listener: TcpListener,
    shutdown: CancellationToken,
) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            res = listener.accept() => match res {
                Ok((stream, _)) => {
                    // Small responses must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    tasks.spawn(serve_conn(stream, Arc::clone(&state), shutdown.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    tracing::warn!(error = %e, "vlbench target: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(DRAIN, drain).await.is_err() {
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// hyper's HTTP/1.1 settings for every connection.
fn http1() -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    // One flat write buffer, so the abort frame is found whole (see
    // AbortableIo); it is also one `write` per small response.
    b.writev(false)
        // Pipelined requests get their responses in one write.
        .pipeline_flush(true)
        // hyper's default 30 s header timeout arms (allocates and registers)
        // a timer for every request; a load-test target has no slow-loris
        // clients to defend against, so it is off.
        .header_read_timeout(None);
    b
}

async fn serve_conn(stream: TcpStream, state: Arc<TargetState>, shutdown: CancellationToken) {
    let ctl = Arc::new(ConnCtl::default());
    let io = TokioIo::new(AbortableIo {
        inner: stream,
        ctl: Arc::clone(&ctl),
        state: IoState::Normal,
    });
    // Straight to the handler: axum's routing layers cost more per request
    // than the whole simulated query (see notes in bench/).
    let svc = service_fn(move |req: Request<Incoming>| {
        let reply = crate::http::respond(Arc::clone(&state), req, Some(Arc::clone(&ctl)));
        async move { Ok::<_, Infallible>(reply.await) }
    });
    let conn = http1().serve_connection(io, svc);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

enum IoState {
    Normal,
    /// Writing the abort text; `claim` is what to report to hyper after.
    Raw {
        pos: usize,
        claim: usize,
    },
    Shutdown {
        claim: usize,
    },
    Closed,
}

/// A TCP stream that performs the VictoriaLogs-style abort (module docs).
pub struct AbortableIo {
    inner: TcpStream,
    ctl: Arc<ConnCtl>,
    state: IoState,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

impl AbortableIo {
    /// Where the armed abort frame starts in `buf` (its chunk header
    /// included) and how many bytes of `buf` the frame covers.
    fn locate_abort(buf: &[u8]) -> Option<(usize, usize)> {
        let q = find(buf, ABORT_TEXT)?;
        let header = format!("{:X}\r\n", ABORT_TEXT.len());
        let start = q
            .checked_sub(header.len())
            .filter(|&s| buf[s..q].eq_ignore_ascii_case(header.as_bytes()))
            .unwrap_or(q);
        let mut end = q + ABORT_TEXT.len();
        if buf[end..].starts_with(b"\r\n") {
            end += 2;
        }
        Some((start, end))
    }
}

impl AsyncRead for AbortableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if matches!(self.state, IoState::Closed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for AbortableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        loop {
            match this.state {
                IoState::Normal => {
                    if this.ctl.armed.load(Ordering::Acquire) {
                        if let Some((start, end)) = Self::locate_abort(buf) {
                            if start > 0 {
                                return Pin::new(&mut this.inner).poll_write(cx, &buf[..start]);
                            }
                            this.state = IoState::Raw { pos: 0, claim: end };
                            continue;
                        }
                    }
                    return Pin::new(&mut this.inner).poll_write(cx, buf);
                }
                IoState::Raw { pos, claim } => {
                    let n = ready!(Pin::new(&mut this.inner).poll_write(cx, &ABORT_TEXT[pos..]))?;
                    if n == 0 {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    this.state = if pos + n == ABORT_TEXT.len() {
                        IoState::Shutdown { claim }
                    } else {
                        IoState::Raw {
                            pos: pos + n,
                            claim,
                        }
                    };
                }
                IoState::Shutdown { claim } => {
                    // The peer may already be gone; the close is all that matters.
                    let _ = ready!(Pin::new(&mut this.inner).poll_shutdown(cx));
                    this.state = IoState::Closed;
                    this.ctl.finish();
                    return Poll::Ready(Ok(claim));
                }
                IoState::Closed => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::ConnectionAborted,
                        "response aborted on purpose by vlbench target",
                    )))
                }
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if matches!(self.state, IoState::Closed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if matches!(self.state, IoState::Closed) {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
