//! Response bodies: small ones whole, big ones streamed, aborted ones cut.
//!
//! Owns: [`ResponseBody`] (an `http_body::Body`), the [`Completion`] guard
//! that records each select request exactly once when its body is dropped
//! (hyper drops it after handing over the last frame, or when the
//! connection dies), and the abort sequence: the abort text as the last
//! data frame, after arming the connection's [`ConnCtl`] so the socket
//! writer sends it raw and closes (see `conn.rs`), then a body error.
//! Must not: decide what to send.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;

use crate::metrics::Endpoint;
use crate::TargetState;

/// What VictoriaLogs writes, unframed, before closing a timed-out stream.
pub const ABORT_TEXT: &[u8] =
    b"\nthe connection has been aborted; see the last line in the response and/or in the server log for the reason\n";

/// Bodies up to this size get a Content-Length (Go's net/http buffers this
/// much before switching to chunked encoding).
pub const SMALL_BODY: usize = 2048;

/// Streamed bodies are produced in chunks of about this size.
pub const CHUNK: usize = 16 * 1024;

/// Per-connection control shared by the socket writer and the bodies of
/// its responses.
#[derive(Debug, Default)]
pub struct ConnCtl {
    /// Set right before the abort frame is handed to hyper: the writer then
    /// looks for it, writes it raw and closes the socket.
    pub armed: AtomicBool,
    /// Set by the writer once the abort text is on the wire.
    done: AtomicBool,
    /// The body waiting for `done` (hyper must flush before the body ends
    /// with an error, or buffered rows would be lost).
    waiter: Mutex<Option<Waker>>,
}

impl ConnCtl {
    /// Called by the writer when the abort text is written and the socket
    /// shut down.
    pub fn finish(&self) {
        self.done.store(true, Ordering::Release);
        if let Some(w) = self.lock().take() {
            w.wake();
        }
    }

    /// Ready once [`ConnCtl::finish`] was called.
    fn poll_done(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.done.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        *self.lock() = Some(cx.waker().clone());
        if self.done.load(Ordering::Acquire) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        // Only a waker is stored; a poisoned lock still holds a usable value.
        self.waiter.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Produces the rest of a streamed body.
pub trait Producer: Send {
    /// Appends data to `buf` until it holds at least `target` bytes or the
    /// data ends; returns false at the end.
    fn fill(&mut self, buf: &mut Vec<u8>, target: usize) -> bool;
}

/// Records one select request when dropped. Holds the concurrency slot, so
/// the slot is freed exactly when the response is over.
pub struct Completion {
    state: Arc<TargetState>,
    ep: Endpoint,
    start: Instant,
    /// Response status (set before the response is built).
    pub status: u16,
    /// True when the stream was cut on purpose.
    pub aborted: bool,
    permit: Option<OwnedSemaphorePermit>,
}

impl Completion {
    /// Starts timing a request.
    pub fn new(state: Arc<TargetState>, ep: Endpoint, start: Instant) -> Completion {
        Completion {
            state,
            ep,
            start,
            status: 200,
            aborted: false,
            permit: None,
        }
    }

    /// Keeps the concurrency slot until the response is over.
    pub fn hold(&mut self, permit: Option<OwnedSemaphorePermit>) {
        if permit.is_some() {
            self.state.counters().concurrent(1);
        }
        self.permit = permit;
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        if self.permit.take().is_some() {
            self.state.counters().concurrent(-1);
        }
        self.state
            .counters()
            .record(self.ep, self.status, self.start.elapsed(), self.aborted);
    }
}

/// The error that ends an aborted body (hyper then drops the connection).
#[derive(Debug, thiserror::Error)]
#[error("response stream aborted on purpose (simulated query timeout)")]
pub struct Aborted;

enum Phase {
    Data,
    Marker,
    Error,
    Done,
}

/// A response body; see the module docs.
pub struct ResponseBody {
    pending: Option<Bytes>,
    producer: Option<Box<dyn Producer>>,
    chunked: bool,
    abort: bool,
    phase: Phase,
    stall: Option<Pin<Box<tokio::time::Sleep>>>,
    state: Option<Arc<TargetState>>,
    conn: Option<Arc<ConnCtl>>,
    guard: Option<Completion>,
}

impl ResponseBody {
    /// A whole body (Content-Length).
    pub fn full(data: Bytes) -> ResponseBody {
        ResponseBody {
            pending: (!data.is_empty()).then_some(data),
            producer: None,
            chunked: false,
            abort: false,
            phase: Phase::Data,
            stall: None,
            state: None,
            conn: None,
            guard: None,
        }
    }

    /// A chunked body: `first`, then whatever `producer` makes; when
    /// `abort`, the abort text and a cut connection follow.
    pub fn stream(first: Bytes, producer: Option<Box<dyn Producer>>, abort: bool) -> ResponseBody {
        let mut b = ResponseBody::full(first);
        b.producer = producer;
        b.chunked = true;
        b.abort = abort;
        b
    }

    /// Attaches the request's guard, state (for stalls between chunks) and
    /// connection control.
    pub fn attach(
        &mut self,
        guard: Completion,
        state: Arc<TargetState>,
        conn: Option<Arc<ConnCtl>>,
    ) {
        self.guard = Some(guard);
        self.state = Some(state);
        self.conn = conn;
    }

    fn next_data(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if let Some(b) = self.pending.take() {
            return Poll::Ready(Some(b));
        }
        if self.producer.is_none() {
            return Poll::Ready(None);
        }
        // Stall windows hold streams in flight too.
        if let Some(sleep) = self.stall.as_mut() {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.stall = None;
        } else if let Some(d) = self.stall_remaining() {
            let mut sleep = Box::pin(tokio::time::sleep(d));
            if sleep.as_mut().poll(cx).is_pending() {
                self.stall = Some(sleep);
                return Poll::Pending;
            }
        }
        let mut buf = Vec::with_capacity(CHUNK + 1024);
        let more = self
            .producer
            .as_mut()
            .is_some_and(|p| p.fill(&mut buf, CHUNK));
        if !more {
            self.producer = None;
        }
        if buf.is_empty() {
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Bytes::from(buf)))
    }

    fn stall_remaining(&self) -> Option<Duration> {
        self.state.as_ref()?.knobs().stall_remaining(Instant::now())
    }
}

impl http_body::Body for ResponseBody {
    type Data = Bytes;
    type Error = Aborted;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Aborted>>> {
        let this = &mut *self;
        loop {
            match this.phase {
                Phase::Data => match this.next_data(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(b)) => return Poll::Ready(Some(Ok(Frame::data(b)))),
                    Poll::Ready(None) if this.abort => this.phase = Phase::Marker,
                    Poll::Ready(None) => {
                        this.phase = Phase::Done;
                        this.guard = None;
                        return Poll::Ready(None);
                    }
                },
                Phase::Marker => {
                    if let Some(g) = this.guard.as_mut() {
                        g.aborted = true;
                    }
                    if let Some(c) = &this.conn {
                        c.armed.store(true, Ordering::Release);
                    }
                    this.phase = Phase::Error;
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(ABORT_TEXT)))));
                }
                Phase::Error => {
                    // Let hyper flush the abort frame before the error ends
                    // the connection.
                    if let Some(c) = &this.conn {
                        if c.poll_done(cx).is_pending() {
                            return Poll::Pending;
                        }
                    }
                    this.phase = Phase::Done;
                    this.guard = None;
                    return Poll::Ready(Some(Err(Aborted)));
                }
                Phase::Done => return Poll::Ready(None),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.phase, Phase::Done)
            || (!self.chunked && self.pending.is_none() && self.producer.is_none())
    }

    fn size_hint(&self) -> SizeHint {
        if self.chunked {
            return SizeHint::default();
        }
        SizeHint::with_exact(self.pending.as_ref().map_or(0, |b| b.len() as u64))
    }
}
