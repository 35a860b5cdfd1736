//! Accepting connections and serving HTTP/1.1 on them.
//!
//! Owns: the accept loop with graceful shutdown (every connection task is
//! joined; stragglers are aborted after a drain timeout), and
//! [`AbortableIo`], the socket wrapper that turns an armed abort frame
//! into VictoriaLogs' wire behaviour: the abort text written *unframed*
//! after the last complete chunk, then a TCP close without the final
//! `0\r\n\r\n` chunk, so clients see a chunked-decoding error.
//! Must not: know about endpoints (it serves whatever router it gets).

use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use crate::body::{ConnCtl, ABORT_TEXT};

/// How long shutdown waits for open responses before cutting them.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` is cancelled.
pub async fn accept_loop(router: Router, listener: TcpListener, shutdown: CancellationToken) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            res = listener.accept() => match res {
                Ok((stream, _)) => {
                    // Small responses must not wait for Nagle's algorithm.
                    let _ = stream.set_nodelay(true);
                    tasks.spawn(serve_conn(stream, router.clone(), shutdown.clone()));
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

async fn serve_conn(stream: TcpStream, router: Router, shutdown: CancellationToken) {
    let ctl = Arc::new(ConnCtl::default());
    let io = TokioIo::new(AbortableIo {
        inner: stream,
        ctl: Arc::clone(&ctl),
        state: IoState::Normal,
    });
    let svc = router.map_request(|req: http::Request<Incoming>| req.map(axum::body::Body::new));
    let mut builder = hyper::server::conn::http1::Builder::new();
    // One flat write buffer, so the abort frame is found whole (see AbortableIo).
    builder.writev(false).timer(TokioTimer::new());
    let conn = builder.serve_connection(io, TowerToHyperService::new(svc));
    // hyper polls handlers and bodies inside this task, so they find the
    // connection's control here without a per-request allocation.
    CONN.scope(ctl, async move {
        tokio::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => {}
            _ = shutdown.cancelled() => {
                conn.as_mut().graceful_shutdown();
                let _ = conn.await;
            }
        }
    })
    .await;
}

tokio::task_local! {
    /// The control of the connection whose task is running.
    static CONN: Arc<ConnCtl>;
}

/// The current connection's control, when called from a connection task
/// (None in router tests without a socket).
pub fn current_conn() -> Option<Arc<ConnCtl>> {
    CONN.try_with(Arc::clone).ok()
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
