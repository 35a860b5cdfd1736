//! Our own minimal HTTP/1.1 client for one keep-alive connection: the
//! request head goes out in one write, the response head is parsed with
//! `httparse` from a reused buffer, and the body is read by its framing
//! (Content-Length, chunked, or until close) straight into the counting
//! [`Decode`], without copying it.
//!
//! Why not hyper for HTTP/1.1: hyper runs a separate task per connection
//! and passes every request and body frame through channels, which costs
//! about six times the user-space CPU of a load generator like wrk and
//! ~20 KB per idle connection. Here the worker's task owns the socket and
//! a pooled buffer is held only while a request is in flight.
//!
//! **Direct waits.** A round trip the caller marks `direct` (a thread whose
//! only work is this one request: see `Shard::solo`) waits for its answer
//! in the kernel: the plain TCP socket is switched to blocking mode with
//! short socket timeouts ([`DIRECT_WAIT`]) and read with `recv`, which
//! returns as soon as the answer is there. That is two system calls per
//! request (`sendto`, `recvfrom`) and no runtime machinery: no
//! `epoll_wait`, readiness bookkeeping, task wake-up or timer; at one
//! connection a third less CPU per request than the runtime's wait (see
//! `bench/RESULTS.md`). It never blocks the thread for long: each direct
//! read waits at most [`DIRECT_WAIT`], a round trip makes at most
//! [`DIRECT_READS`] of them, and a read that times out (a slow answer)
//! switches the socket back to non-blocking mode and waits through the
//! runtime as usual, where the request timeout applies. tokio never does
//! I/O on the socket while it is blocking: every runtime read or write
//! first switches it back.
//!
//! Owns [`Stream`], [`parse_head`], [`HeadMemo`] and [`round_trip`]. Must not open
//! connections, retry or classify statuses: the client does.

use std::future::poll_fn;
use std::io;
use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::Mutex;
use std::task::{ready, Poll};
use std::time::Duration;

use rustix::net::sockopt::{set_socket_timeout, Timeout};
use rustix::net::{recv, send, RecvFlags, SendFlags};
use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::body::{Decode, Expect, Scan};
use crate::chunked::Chunked;

/// The largest response head accepted (hyper's limit is similar in spirit).
pub(crate) const MAX_HEAD: usize = 64 * 1024;
/// Most header fields in a response head.
const MAX_HEADERS: usize = 64;

/// How long one direct read or write may wait in the kernel (the socket's
/// `SO_RCVTIMEO` and `SO_SNDTIMEO` while it is blocking).
pub(crate) const DIRECT_WAIT: Duration = Duration::from_millis(1);
/// Most direct reads in one round trip: a round trip holds its thread for
/// at most this many [`DIRECT_WAIT`]s before waiting through the runtime.
pub(crate) const DIRECT_READS: u8 = 8;

/// A connection's byte stream: plain TCP or TLS over TCP.
#[derive(Debug)]
pub(crate) enum Stream {
    /// `http`.
    Plain(Plain),
    /// `https` (boxed: the TLS state is large and rarely moved).
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    /// Whether the socket is in blocking mode for direct waits: after a
    /// direct round trip, `false` means it handed over to the runtime.
    pub(crate) fn waits_directly(&self) -> bool {
        matches!(self, Stream::Plain(p) if p.blocking)
    }

    /// Reads through the runtime (switching a blocking socket back first).
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(p) => p.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    /// Writes through the runtime (switching a blocking socket back first).
    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Stream::Plain(p) => p.write_all(data).await,
            Stream::Tls(s) => {
                s.write_all(data).await?;
                s.flush().await // push the TLS records out now
            }
        }
    }
}

/// A plain TCP connection: used through the runtime, or in blocking mode
/// for direct waits (see the module docs). Its reads and writes are
/// `recv`/`send` system calls made by `rustix` (tokio's reactor only says
/// when to make them): glibc's wrappers, which tokio's own I/O goes
/// through, mark each call as a thread-cancellation point with two atomic
/// updates, a few percent of a small request's CPU.
#[derive(Debug)]
pub(crate) struct Plain {
    tcp: TcpStream,
    /// The socket is in blocking mode: tokio must not use it until
    /// [`Plain::runtime`] switches it back.
    blocking: bool,
    /// The socket timeouts last set for direct waits (they only act in
    /// blocking mode).
    timeouts: Option<Duration>,
}

impl Plain {
    /// A connection as tokio made it (non-blocking).
    pub(crate) fn new(tcp: TcpStream) -> Plain {
        Plain {
            tcp,
            blocking: false,
            timeouts: None,
        }
    }

    /// The stream for runtime I/O: non-blocking.
    fn runtime(&mut self) -> io::Result<&TcpStream> {
        if self.blocking {
            rustix::io::ioctl_fionbio(&self.tcp, true)?;
            self.blocking = false;
        }
        Ok(&self.tcp)
    }

    /// Reads through the runtime: waits until the reactor says readable,
    /// then `recv`.
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let tcp = self.runtime()?;
        let len = buf.len();
        poll_fn(|cx| loop {
            ready!(tcp.poll_read_ready(cx))?;
            let got = tcp.try_io(Interest::READABLE, || {
                Ok(recv(tcp, &mut *buf, RecvFlags::empty())?.0)
            });
            match got {
                Ok(n) => {
                    if n > 0 && n < len {
                        // A short read emptied the socket: no `recv` that
                        // would only say "would block" next time (tokio's
                        // own reads do the same). Clearing is safe: only
                        // the readiness event just used is cleared.
                        let _ = tcp.try_io(Interest::READABLE, || {
                            Err::<(), _>(io::ErrorKind::WouldBlock.into())
                        });
                    }
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {} // wait again
                Err(e) => return Poll::Ready(Err(e)),
            }
        })
        .await
    }

    /// Writes all of `data` through the runtime.
    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let tcp = self.runtime()?;
        let mut at = 0;
        poll_fn(|cx| {
            while at < data.len() {
                ready!(tcp.poll_write_ready(cx))?;
                let rest = &data[at..];
                match tcp.try_io(Interest::WRITABLE, || {
                    Ok(send(tcp, rest, SendFlags::NOSIGNAL)?)
                }) {
                    Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Ok(n) => at += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {} // wait again
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// Switches to blocking mode with socket timeouts of `wait`; `false`
    /// if the socket refused (then it is used through the runtime).
    fn direct(&mut self, wait: Duration) -> bool {
        if self.timeouts != Some(wait) {
            let set = set_socket_timeout(&self.tcp, Timeout::Recv, Some(wait))
                .and_then(|()| set_socket_timeout(&self.tcp, Timeout::Send, Some(wait)));
            if set.is_err() {
                return false;
            }
            self.timeouts = Some(wait);
        }
        if !self.blocking {
            if rustix::io::ioctl_fionbio(&self.tcp, false).is_err() {
                return false;
            }
            self.blocking = true;
        }
        true
    }

    /// One read that waits in the kernel for at most `wait`; `None` when
    /// nothing came (or the socket cannot block): the caller then waits
    /// through the runtime.
    fn read_direct(&mut self, buf: &mut [u8], wait: Duration) -> Option<io::Result<usize>> {
        if !self.direct(wait) {
            return None;
        }
        match recv(&self.tcp, buf, RecvFlags::empty()) {
            Ok((n, _)) => Some(Ok(n)),
            Err(e) => {
                let e = io::Error::from(e);
                (!is_wait(&e)).then_some(Err(e))
            }
        }
    }

    /// Writes what the kernel takes within `wait`s: the number of bytes
    /// written (fewer than `data` when it would wait longer, or the socket
    /// cannot block).
    fn write_direct(&mut self, data: &[u8], wait: Duration) -> io::Result<usize> {
        if !self.direct(wait) {
            return Ok(0);
        }
        let mut at = 0;
        while at < data.len() {
            match send(&self.tcp, &data[at..], SendFlags::NOSIGNAL).map_err(io::Error::from) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => at += n,
                Err(e) if is_wait(&e) => break,
                Err(e) => return Err(e),
            }
        }
        Ok(at)
    }
}

/// An error that only says "not now" (timeout or signal): wait through the
/// runtime instead.
fn is_wait(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// One round trip's use of its stream: direct reads (each waiting at
/// most `wait`) while its budget lasts (0: none), then through the
/// runtime.
struct Io<'a> {
    stream: &'a mut Stream,
    direct: u8,
    wait: Duration,
}

impl Io<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let (Stream::Plain(p), 1..) = (&mut *self.stream, self.direct) {
            self.direct -= 1;
            match p.read_direct(buf, self.wait) {
                Some(r) => return r,
                None => self.direct = 0, // slow: wait through the runtime
            }
        }
        self.stream.read(buf).await
    }

    async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        let mut rest = data;
        if let (Stream::Plain(p), 1..) = (&mut *self.stream, self.direct) {
            let n = p.write_direct(data, self.wait)?;
            rest = rest.get(n..).unwrap_or_default();
            if rest.is_empty() {
                return Ok(());
            }
            self.direct = 0;
        }
        self.stream.write_all(rest).await
    }
}

/// How the body of a response is delimited.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body (204, 304).
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    Close,
}

/// What the client needs from a response head.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Head {
    /// Head length in bytes (the body starts here).
    pub len: usize,
    pub status: u16,
    pub framing: Framing,
    /// `Content-Encoding: gzip`.
    pub gzip: bool,
    /// The connection may carry another request after this response.
    pub keep_alive: bool,
}

/// Why bytes from the server are not a usable response head.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    /// Not HTTP/1.x syntax (e.g. another protocol on that port).
    #[error("the answer is not an HTTP/1.1 response: {0}")]
    Parse(#[from] httparse::Error),
    /// A missing, repeated-and-different or non-numeric Content-Length.
    #[error("the response has an invalid Content-Length header")]
    ContentLength,
    /// The head did not end within [`MAX_HEAD`] bytes.
    #[error("the response head is larger than {MAX_HEAD} bytes")]
    TooLarge,
}

/// Parses a response head at the start of `buf`: `Ok(None)` when more
/// bytes are needed. Builds the body's [`Scan`] from the Content-Type
/// (capturing up to `capture` bytes of a non-2xx body).
pub(crate) fn parse_head(
    buf: &[u8],
    expect: Expect,
    capture: usize,
) -> Result<Option<(Head, Scan)>, HeadError> {
    let Some((head, content_type)) = parse_fields(buf)? else {
        return Ok(None);
    };
    Ok(Some((
        head,
        scan_for(&head, &buf[content_type], expect, capture),
    )))
}

/// The body's [`Scan`] for a response with this head and Content-Type.
fn scan_for(head: &Head, content_type: &[u8], expect: Expect, capture: usize) -> Scan {
    let limit = if (200..300).contains(&head.status) {
        0
    } else {
        capture
    };
    Scan::new(expect, content_type, limit)
}

/// The head at the start of `buf` and where in `buf` its Content-Type
/// value is (empty when there is none).
fn parse_fields(buf: &[u8]) -> Result<Option<(Head, Range<usize>)>, HeadError> {
    // Uninitialised: filling 64 empty headers (2 KB) per response cost
    // more than parsing a typical head.
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut resp,
        buf,
        &mut fields,
    )?;
    let httparse::Status::Complete(len) = parsed else {
        return Ok(None);
    };
    let status = resp.code.unwrap_or(0);
    let mut keep_alive = resp.version == Some(1);
    let (mut length, mut chunked, mut encoded, mut gzip) = (None, false, false, false);
    let mut content_type: &[u8] = b"";
    for h in resp.headers.iter() {
        let name = h.name.as_bytes();
        // One case-insensitive compare per header: the length picks it.
        // Servers send canonical case; other cases are compared slowly.
        let is = |want: &[u8]| name == want || name.eq_ignore_ascii_case(want);
        match name.len() {
            14 if is(b"Content-Length") => {
                let n = parse_length(h.value).ok_or(HeadError::ContentLength)?;
                if length.is_some_and(|l| l != n) {
                    return Err(HeadError::ContentLength);
                }
                length = Some(n);
            }
            17 if is(b"Transfer-Encoding") => {
                encoded = true;
                chunked = last_token(h.value).eq_ignore_ascii_case(b"chunked");
            }
            16 if is(b"Content-Encoding") => gzip = h.value.eq_ignore_ascii_case(b"gzip"),
            12 if is(b"Content-Type") => content_type = h.value,
            10 if is(b"Connection") => {
                if h.value == b"keep-alive" {
                    keep_alive = true;
                } else if has_token(h.value, b"close") {
                    keep_alive = false;
                } else if has_token(h.value, b"keep-alive") {
                    keep_alive = true;
                }
            }
            _ => {}
        }
    }
    let framing = if status == 204 || status == 304 || (100..200).contains(&status) {
        Framing::Empty
    } else if chunked {
        Framing::Chunked
    } else if encoded {
        Framing::Close // an encoding we cannot frame: read to the end
    } else {
        length.map_or(Framing::Close, Framing::Length)
    };
    let keep_alive = keep_alive && framing != Framing::Close;
    let head = Head {
        len,
        status,
        framing,
        gzip,
        keep_alive,
    };
    // `content_type` is a part of `buf` (or the empty literal): its offset.
    let at = (content_type.as_ptr() as usize)
        .checked_sub(buf.as_ptr() as usize)
        .filter(|&at| at + content_type.len() <= buf.len())
        .unwrap_or(0);
    Ok(Some((head, at..at + content_type.len())))
}

/// Heads longer than this are not remembered.
const MEMO_MAX: usize = 1024;

/// The last final response head parsed on a shard's connections, by its
/// bytes. Servers repeat the same head response after response (nginx
/// and VictoriaLogs differ only in `Date`, once a second, and in a
/// `Content-Length` that changes with the body); a head whose bytes equal
/// the remembered ones has the same parse, found by one compare instead
/// of a parse (the parse was a third of the user-space CPU of a small
/// request). Any difference, however small, is parsed afresh. A shard's
/// client is used by one thread, so the lock is never contended; it is
/// there because the probe's future must be `Send`.
#[derive(Debug, Default)]
pub(crate) struct HeadMemo(Mutex<Memo>);

#[derive(Debug, Default)]
struct Memo {
    /// The head's bytes, through the blank line; empty before the first.
    bytes: Vec<u8>,
    head: Option<Head>,
    content_type: Range<usize>,
}

impl HeadMemo {
    /// [`parse_head`], answered from the memo when `buf` starts with the
    /// remembered head; a newly parsed final head is remembered.
    pub(crate) fn parse(
        &self,
        buf: &[u8],
        expect: Expect,
        capture: usize,
    ) -> Result<Option<(Head, Scan)>, HeadError> {
        let Ok(mut memo) = self.0.lock() else {
            return parse_head(buf, expect, capture); // poisoned: parse
        };
        if let Some(head) = memo.head.filter(|_| buf.starts_with(&memo.bytes)) {
            let content_type = &memo.bytes[memo.content_type.clone()];
            return Ok(Some((head, scan_for(&head, content_type, expect, capture))));
        }
        let Some((head, content_type)) = parse_fields(buf)? else {
            return Ok(None);
        };
        if head.len <= MEMO_MAX && head.status >= 200 {
            memo.bytes.clear();
            memo.bytes.extend_from_slice(&buf[..head.len]);
            memo.head = Some(head);
            memo.content_type = content_type.clone();
        }
        Ok(Some((
            head,
            scan_for(&head, &buf[content_type], expect, capture),
        )))
    }
}

fn parse_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0')))
}

fn last_token(v: &[u8]) -> &[u8] {
    v.rsplit(|&b| b == b',').next().unwrap_or(b"").trim_ascii()
}

fn has_token(v: &[u8], token: &[u8]) -> bool {
    v.split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

/// How a round trip failed before a whole response head arrived.
#[derive(Debug, thiserror::Error)]
pub(crate) enum NoResponse {
    /// Nothing came back: the write failed, or the connection ended before
    /// the first byte. On a reused connection the server had closed it and
    /// sending again is safe.
    #[error("request failed before a response: {0}")]
    Nothing(io::Error),
    /// The connection failed in the middle of the head.
    #[error("the connection failed while reading the response head: {0}")]
    Io(io::Error),
    /// The bytes are not a usable response head.
    #[error("{0}")]
    Invalid(HeadError),
}

/// The body's bytes (as on the wire, before gzip) and its decoder.
struct Sink {
    decode: Decode,
    decodable: bool,
    bytes: u64,
}

impl Sink {
    fn data(&mut self, d: &[u8]) {
        self.bytes += d.len() as u64;
        if self.decodable {
            self.decodable = self.decode.feed(d);
        }
    }
}

/// How a response ended.
pub(crate) enum Answer {
    /// The body was cut (early close, reset, broken chunked framing).
    Cut { status: u16, bytes: u64 },
    /// The whole body was read; `scan` is `None` when gzip failed.
    Done {
        status: u16,
        bytes: u64,
        scan: Option<Scan>,
        /// The connection can carry the next request.
        reusable: bool,
    },
}

/// Sends the request and reads the whole answer. The request is `fixed`
/// or the first `req_len` bytes of `buf`; the rest of `buf` is the read
/// area (grown only for an unusually large head). `on_head` sees the
/// status as soon as the head is parsed (kept if the body times out).
/// `direct`: the caller's thread has nothing else to do, so a plain TCP
/// connection waits in the kernel, each read for at most this long
/// ([`DIRECT_WAIT`] but in tests; see the module docs).
#[allow(clippy::too_many_arguments)] // one caller; the parts of one exchange
pub(crate) async fn round_trip(
    stream: &mut Stream,
    memo: &HeadMemo,
    fixed: Option<&[u8]>,
    req_len: usize,
    buf: &mut Vec<u8>,
    expect: Expect,
    capture: usize,
    direct: Option<Duration>,
    on_head: &mut u16,
) -> Result<Answer, NoResponse> {
    let io = &mut Io {
        stream,
        direct: if direct.is_some() { DIRECT_READS } else { 0 },
        wait: direct.unwrap_or(DIRECT_WAIT),
    };
    let req = fixed.unwrap_or(buf.get(..req_len).unwrap_or_default());
    io.write_all(req).await.map_err(NoResponse::Nothing)?;
    let (head, scan, filled) = read_head(io, memo, req_len, buf, expect, capture).await?;
    *on_head = head.status;
    let mut sink = Sink {
        decode: Decode::new(scan, head.gzip),
        decodable: true,
        bytes: 0,
    };
    let area = &mut buf[req_len..];
    let body = read_body(io, area, head.len, filled, head.framing, &mut sink).await;
    let Some(leftover) = body else {
        return Ok(Answer::Cut {
            status: head.status,
            bytes: sink.bytes,
        });
    };
    let scan = if sink.decodable {
        sink.decode.finish()
    } else {
        None
    };
    Ok(Answer::Done {
        status: head.status,
        bytes: sink.bytes,
        scan,
        reusable: head.keep_alive && !leftover,
    })
}

/// Reads until a final (non-1xx) head is complete; returns it with the
/// read area's fill level.
async fn read_head(
    io: &mut Io<'_>,
    memo: &HeadMemo,
    req_len: usize,
    buf: &mut Vec<u8>,
    expect: Expect,
    capture: usize,
) -> Result<(Head, Scan, usize), NoResponse> {
    let mut filled = 0;
    let mut got_any = false;
    loop {
        if req_len + filled == buf.len() {
            if filled >= MAX_HEAD {
                return Err(NoResponse::Invalid(HeadError::TooLarge));
            }
            buf.resize((buf.len() * 2).min(req_len + MAX_HEAD), 0);
        }
        let n = match io.read(&mut buf[req_len + filled..]).await {
            Ok(0) | Err(_) if !got_any => {
                return Err(NoResponse::Nothing(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before answering",
                )))
            }
            Ok(0) => return Err(NoResponse::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => n,
            Err(e) => return Err(NoResponse::Io(e)),
        };
        got_any = true;
        filled += n;
        let area = &buf[req_len..req_len + filled];
        match memo
            .parse(area, expect, capture)
            .map_err(NoResponse::Invalid)?
        {
            None => {}
            Some((head, _)) if (100..200).contains(&head.status) => {
                // An interim answer (100 Continue): drop it, read on.
                buf.copy_within(req_len + head.len..req_len + filled, req_len);
                filled -= head.len;
            }
            Some((head, scan)) => return Ok((head, scan, filled)),
        }
    }
}

/// Reads the body after a head of `start` bytes (`filled` bytes of `area`
/// are read already) into `sink`. `None` when the body was cut; else
/// whether bytes beyond the body arrived (the connection is then unusable).
async fn read_body(
    io: &mut Io<'_>,
    area: &mut [u8],
    start: usize,
    filled: usize,
    framing: Framing,
    sink: &mut Sink,
) -> Option<bool> {
    let first = &area[start..filled];
    match framing {
        Framing::Empty => Some(!first.is_empty()),
        Framing::Length(total) => {
            let n = first
                .len()
                .min(usize::try_from(total).unwrap_or(usize::MAX));
            sink.data(&first[..n]);
            let extra = first.len() > n;
            let mut left = total - n as u64;
            while left > 0 {
                let got = io.read(area).await.ok().filter(|&g| g > 0)?;
                let take = got.min(usize::try_from(left).unwrap_or(usize::MAX));
                sink.data(&area[..take]);
                left -= take as u64;
                if got > take {
                    return Some(true);
                }
            }
            Some(extra)
        }
        Framing::Chunked => {
            let mut chunked = Chunked::default();
            let mut used = chunked.feed(first, |d| sink.data(d)).ok()?;
            let mut got = first.len();
            while !chunked.is_done() {
                got = io.read(area).await.ok().filter(|&g| g > 0)?;
                used = chunked.feed(&area[..got], |d| sink.data(d)).ok()?;
            }
            Some(used < got)
        }
        Framing::Close => {
            sink.data(first);
            loop {
                match io.read(area).await {
                    Ok(0) => return Some(true),
                    Ok(n) => sink.data(&area[..n]),
                    Err(_) => return None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{answer, scripted_server};

    const LINES: &str = "application/stream+json";

    fn head(wire: &str) -> Head {
        parse_head(wire.as_bytes(), Expect::JsonLines, 0)
            .unwrap()
            .unwrap()
            .0
    }

    #[test]
    fn framing_keep_alive_and_encoding_come_from_the_head() {
        let h = head("HTTP/1.1 200 OK\r\nContent-Type: application/stream+json\r\nContent-Length: 12\r\n\r\nbody");
        assert_eq!(h.framing, Framing::Length(12));
        assert_eq!((h.status, h.keep_alive, h.gzip), (200, true, false));
        assert_eq!(h.len, h.len.min(100));
        let h = head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\nContent-Encoding: GZIP\r\n\r\n");
        assert_eq!((h.framing, h.gzip), (Framing::Chunked, true));
        let h = head("HTTP/1.1 500 Oops\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n");
        assert_eq!((h.status, h.keep_alive), (500, false));
        let h = head("HTTP/1.0 200 OK\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = head("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n");
        assert!(h.keep_alive);
        let h = head("HTTP/1.1 204 No Content\r\n\r\n");
        assert_eq!((h.framing, h.keep_alive), (Framing::Empty, true));
    }

    #[test]
    fn partial_and_invalid_heads() {
        let partial = parse_head(b"HTTP/1.1 200 OK\r\nContent-Le", Expect::Json, 0).unwrap();
        assert!(partial.is_none());
        let e = parse_head(b"SSH-2.0-OpenSSH_9.6\r\n", Expect::Json, 0).unwrap_err();
        assert!(matches!(e, HeadError::Parse(_)), "{e}");
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        let e = parse_head(wire, Expect::Json, 0).unwrap_err();
        assert!(matches!(e, HeadError::ContentLength));
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n";
        assert!(parse_head(wire, Expect::Json, 0).is_err());
    }

    #[test]
    fn the_scan_follows_content_type_and_status() {
        let wire = format!("HTTP/1.1 200 OK\r\nContent-Type: {LINES}\r\n\r\n");
        let (_, mut scan) = parse_head(wire.as_bytes(), Expect::JsonLines, 9)
            .unwrap()
            .unwrap();
        scan.feed(b"{}\n{}\n");
        assert_eq!((scan.rows(), scan.valid()), (2, true));
        assert!(scan.captured().is_empty(), "2xx bodies are not captured");
        let wire = "HTTP/1.1 400 Bad\r\nContent-Type: text/plain\r\n\r\n";
        let (_, mut scan) = parse_head(wire.as_bytes(), Expect::JsonLines, 3)
            .unwrap()
            .unwrap();
        scan.feed(b"bad query");
        assert_eq!(scan.captured(), b"bad");
    }

    /// One round trip on `stream`: (status, bytes, rows).
    async fn trip(stream: &mut Stream, memo: &HeadMemo, direct: bool) -> (u16, u64, u64) {
        // Generous, so that a quick answer on a busy machine still comes
        // within it; the slow answer below takes longer.
        let direct = direct.then_some(Duration::from_millis(200));
        let mut buf = vec![0; 8 * 1024];
        let req = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n";
        let r = round_trip(
            stream,
            memo,
            Some(req),
            0,
            &mut buf,
            Expect::JsonLines,
            0,
            direct,
            &mut 0,
        )
        .await;
        match r {
            Ok(Answer::Done {
                status,
                bytes,
                scan: Some(scan),
                reusable: true,
            }) => (status, bytes, scan.rows()),
            Ok(Answer::Done { .. }) => panic!("not a reusable, decodable answer"),
            Ok(Answer::Cut { .. }) => panic!("cut"),
            Err(e) => panic!("{e}"),
        }
    }

    /// The socket's real mode, and that the stream knows it.
    fn blocking(stream: &Stream) -> bool {
        let Stream::Plain(p) = stream else {
            panic!("plain TCP")
        };
        let blocking = !socket2::SockRef::from(&p.tcp).nonblocking().unwrap();
        assert_eq!(blocking, p.blocking, "the stream knows the socket's mode");
        blocking
    }

    #[test]
    fn direct_waits_hand_slow_and_long_answers_back_to_the_runtime() {
        let row = "{\"_msg\":\"x\"}\n";
        let long = row.repeat(20_000); // 260 KB: many more reads than DIRECT_READS
        let ms = Duration::from_millis;
        let addr = scripted_server(vec![
            (ms(0), answer(row)),
            (ms(400), answer(&row.repeat(2))),
            (ms(0), answer(&long)),
            (ms(0), answer(row)),
            (ms(0), answer(row)),
            (ms(0), answer(row)),
        ]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let tcp = TcpStream::connect(addr).await.unwrap();
            let mut stream = Stream::Plain(Plain::new(tcp));
            let memo = HeadMemo::default();
            assert!(!blocking(&stream));
            // A quick answer is read in the kernel wait: the socket stays
            // blocking for the next request.
            assert_eq!(trip(&mut stream, &memo, true).await, (200, 13, 1));
            assert!(blocking(&stream));
            // Slower than the direct wait: read through the runtime.
            assert_eq!(trip(&mut stream, &memo, true).await, (200, 26, 2));
            assert!(!blocking(&stream));
            // Longer than DIRECT_READS reads: the rest through the runtime.
            let n = long.len() as u64;
            assert_eq!(trip(&mut stream, &memo, true).await, (200, n, 20_000));
            assert!(!blocking(&stream));
            // Direct again, then a runtime request switches the mode back.
            assert_eq!(trip(&mut stream, &memo, true).await, (200, 13, 1));
            assert!(blocking(&stream));
            assert_eq!(trip(&mut stream, &memo, false).await, (200, 13, 1));
            assert!(!blocking(&stream));
            assert_eq!(trip(&mut stream, &memo, false).await, (200, 13, 1));
        });
    }

    /// A parse as text, to compare memo answers with fresh parses.
    fn parsed(r: Result<Option<(Head, Scan)>, HeadError>) -> String {
        format!("{r:?}")
    }

    #[test]
    fn the_memo_answers_as_a_fresh_parse_would() {
        let memo = HeadMemo::default();
        let a = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {LINES}\r\nContent-Length: 6\r\n\r\n{{}}\n{{}}\n"
        );
        let b = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n";
        let err = "HTTP/1.1 503 Busy\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nbusy";
        let interim = "HTTP/1.1 100 Continue\r\n\r\n";
        let bad = "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n";
        // Repeats, changes, partial heads, errors and interim answers, each
        // with both body shapes and captures: always the fresh parse.
        let wires = [
            &a[..],
            &a,
            b,
            &a,
            &a[..20],
            err,
            err,
            interim,
            &a,
            bad,
            b,
            b,
        ];
        for (i, wire) in wires.iter().enumerate() {
            for (expect, capture) in [(Expect::JsonLines, 0), (Expect::Json, 3)] {
                let want = parsed(parse_head(wire.as_bytes(), expect, capture));
                let got = parsed(memo.parse(wire.as_bytes(), expect, capture));
                assert_eq!(got, want, "wire {i} ({wire:?})");
            }
        }
        // A repeat is answered from the memo: the remembered head is the
        // last final one (b), not a partial, interim or invalid one.
        let m = memo.0.lock().unwrap();
        assert_eq!(m.bytes, b.as_bytes());
        assert_eq!(&m.bytes[m.content_type.clone()], b"application/json");
    }
}
