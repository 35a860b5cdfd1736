//! One request/response exchange with the target: the per-request hot path.
//!
//! Owns building the request (HTTP/1.1: the head prebuilt per static
//! query, only the path written per templated request; HTTP/2: prepared
//! headers and a URI), the connection policy (HTTP/1.1: the caller's own
//! keep-alive connection through `h1`, reconnected after errors; HTTP/2:
//! one multiplexed hyper connection per [`Client`]), the buffer pool, the
//! timeout over headers *and* body, and the classification into an
//! [`ErrorClass`].
//!
//! Must not record statistics or know about schedules: it returns a small
//! [`Exchange`] value and the caller records it. No `String` per request
//! unless the caller asks for details (probe).

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use http::header::{self, HeaderMap, HeaderValue};
use http::Uri;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::time::Sleep;
use vlbench_stats::ErrorClass;
use vlbench_workload::{TimeValue, Workload};

mod h2;

use crate::body::{Expect, Scan};
use crate::conn::{uri_base, Conn, ConnectError, Connector};
use crate::error::EngineError;
use crate::h1::{self, Answer, HeadMemo, NoResponse};
use crate::options::TargetOptions;

/// The read area of an HTTP/1.1 exchange buffer (the request head comes
/// before it). Held only while a request is in flight.
const READ_BUF: usize = 8 * 1024;
/// Spare buffers a client keeps (more in flight allocate and free).
const POOL_MAX: usize = 4096;

/// Direct waits need a request timeout of at least this (it is checked
/// only when a request waits through the runtime).
const MIN_DIRECT_TIMEOUT: Duration = Duration::from_millis(100);

/// How an HTTP/1.1 attempt waits and what it keeps.
#[derive(Copy, Clone, Debug)]
struct Wait {
    /// Bytes of an error body to keep for humans (0: none).
    capture: usize,
    /// Wait for the answer in the kernel (see `h1`).
    direct: bool,
    /// Set by the attempt: the direct wait handed over to the runtime.
    handed_over: bool,
}

/// One request, ready to send.
pub(crate) enum Prepared {
    /// HTTP/2: the URI (headers are the client's).
    H2(Uri),
    /// HTTP/1.1, query `q`'s prebuilt head.
    H1Fixed(usize),
    /// HTTP/1.1: a pooled buffer with the head in its first `len` bytes.
    H1 { buf: Vec<u8>, len: usize },
}

/// What one exchange produced (the caller adds timings).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Exchange {
    /// HTTP status; 0 without a response.
    pub status: u16,
    /// Why it failed; `None` for a success.
    pub error: Option<ErrorClass>,
    /// Body bytes on the wire.
    pub bytes: u64,
    /// JSON lines in the (decoded) body.
    pub rows: u64,
    /// Details for humans, filled only when asked (probe): an error text or
    /// the first bytes of an error body.
    pub detail: Option<String>,
}

/// What one worker keeps between its requests: its HTTP/1.1 keep-alive
/// connection, its request timer and its direct-wait pause.
#[derive(Debug, Default)]
pub(crate) struct Line {
    /// The keep-alive connection (HTTP/1.1); `None` before the first
    /// request and after an error.
    pub conn: Option<Conn>,
    timer: Timer,
    /// Requests to make through the runtime before the next direct wait:
    /// set after a direct wait had to hand over to the runtime (a slow or
    /// long answer), so that a slow target does not cost a blocked
    /// [`h1::DIRECT_WAIT`] and two mode switches per request.
    direct_pause: u8,
}

/// Requests made through the runtime after a direct wait handed over.
const DIRECT_PAUSE: u8 = 32;

/// A request timeout that is re-armed instead of re-created: pushing a
/// registered tokio timer later is one atomic update, while a fresh
/// `tokio::time::timeout` per request inserts and removes a timer-wheel
/// entry under the driver's lock (a tenth of a 1-connection request's CPU).
/// The timer stays registered between requests, and is only moved when it
/// has fired (see [`Timer::arm_by`]); when it fires while no request runs,
/// or before the running request's deadline, its task is woken once for
/// nothing.
#[derive(Debug, Default)]
struct Timer(Option<Pin<Box<Sleep>>>);

impl Timer {
    /// Makes the timer fire at `at` or earlier. A timer still pending for
    /// an earlier instant (the previous request's deadline: deadlines only
    /// grow) is left alone, and [`within`] re-arms it if it fires before
    /// `at`: one timer update per timeout period instead of per request.
    fn arm_by(&mut self, at: Instant) {
        let at = tokio::time::Instant::from_std(at);
        match self.0.as_mut() {
            Some(sleep) if !sleep.is_elapsed() && sleep.deadline() <= at => {}
            Some(sleep) => sleep.as_mut().reset(at),
            None => self.0 = Some(Box::pin(tokio::time::sleep_until(at))),
        }
    }

    /// Sets the timer to fire at `at`.
    fn reset(&mut self, at: Instant) {
        if let Some(sleep) = self.0.as_mut() {
            sleep.as_mut().reset(tokio::time::Instant::from_std(at));
        }
    }

    /// Ready once the armed time has passed (never, before the first arm).
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.0.as_mut() {
            Some(sleep) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

/// Runs `fut` until it ends (`Some`) or `deadline` passes first (`None`).
/// The future is polled first; `timer` is armed only if it has to wait (a
/// request answered within its first poll, as a direct wait is, needs no
/// timer).
///
/// The caller pins the future where it is made (`pin!(make())`, scoped
/// to the request): taken by value, a request's future (near 1 KB, most of it unused before its
/// first poll) was copied into this one on every request, touching 28
/// cache lines.
async fn within<F: Future>(
    mut fut: Pin<&mut F>,
    timer: &mut Timer,
    deadline: Instant,
) -> Option<F::Output> {
    let mut armed = false;
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        if !armed {
            timer.arm_by(deadline);
            armed = true;
        }
        match timer.poll(cx) {
            // Fired for an earlier deadline (see `Timer::arm_by`): wait on.
            Poll::Ready(()) if Instant::now() < deadline => {
                timer.reset(deadline);
                timer.poll(cx).map(|()| None)
            }
            fired => fired.map(|()| None),
        }
    })
    .await
}

/// The shard's HTTP client for one target and workload.
pub(crate) struct Client {
    connector: Connector,
    headers: HeaderMap,
    /// Text before the endpoint path in every request URI.
    base: String,
    timeout: Duration,
    workload: Arc<Workload>,
    /// The HTTP/2 connection shared by every request of this client.
    shared: Mutex<Option<Conn>>,
    /// HTTP/2, per query: its URI when every rendering is the same text
    /// (no variables, no relative times), so the hot path clones instead of
    /// rendering and parsing.
    fixed: Vec<Option<Uri>>,
    /// HTTP/1.1: `GET <base>` before the rendered path.
    head_start: Vec<u8>,
    /// HTTP/1.1: ` HTTP/1.1` and the header lines after the path.
    head_end: Vec<u8>,
    /// HTTP/1.1, per query: the whole request head when it never changes.
    fixed_heads: Vec<Option<Box<[u8]>>>,
    /// Exchange buffers not in use (HTTP/1.1).
    bufs: Mutex<Vec<Vec<u8>>>,
    /// The last response head, to skip parsing its repeats (HTTP/1.1).
    head_memo: HeadMemo,
    /// How long one direct read may wait ([`h1::DIRECT_WAIT`]; longer in
    /// tests, so that a quick answer on a busy machine still counts).
    direct_wait: Duration,
}

impl Client {
    /// Checks the target options and prepares what every request reuses.
    pub(crate) fn new(
        target: &TargetOptions,
        workload: Arc<Workload>,
    ) -> Result<Client, EngineError> {
        let connector = Connector::new(target)?;
        let mut headers = HeaderMap::with_capacity(target.headers.len() + 3);
        if !target.http2 {
            // HTTP/2 carries the authority in the URI instead.
            let authority = target.base_url.authority().map_or("", |a| a.as_str());
            let host = HeaderValue::from_str(authority).map_err(|_| EngineError::Header {
                name: "host".to_owned(),
                reason: "the URL's authority is not a valid header value",
            })?;
            headers.insert(header::HOST, host);
        }
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_static(concat!("vlbench/", env!("CARGO_PKG_VERSION"))),
        );
        if target.accept_gzip {
            headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        }
        for (name, value) in &target.headers {
            let mut value = value.clone();
            if *name == header::AUTHORIZATION || *name == header::PROXY_AUTHORIZATION {
                value.set_sensitive(true);
            }
            headers.append(name.clone(), value);
        }
        let base = uri_base(&target.base_url, connector.http2());
        let mut head_end = b" HTTP/1.1\r\n".to_vec();
        for (name, value) in &headers {
            head_end.extend_from_slice(name.as_str().as_bytes());
            head_end.extend_from_slice(b": ");
            head_end.extend_from_slice(value.as_bytes());
            head_end.extend_from_slice(b"\r\n");
        }
        head_end.extend_from_slice(b"\r\n");
        let mut client = Client {
            head_start: format!("GET {base}").into_bytes(),
            head_end,
            connector,
            headers,
            base,
            timeout: target.timeout,
            workload,
            shared: Mutex::new(None),
            fixed: Vec::new(),
            fixed_heads: Vec::new(),
            bufs: Mutex::new(Vec::new()),
            head_memo: HeadMemo::default(),
            direct_wait: h1::DIRECT_WAIT,
        };
        let n = client.workload.len();
        if client.connector.http2() {
            client.fixed = (0..n).map(|q| client.fixed_uri(q)).collect();
        } else {
            client.fixed_heads = (0..n).map(|q| client.fixed_head(q)).collect();
        }
        Ok(client)
    }

    /// Whether every rendering of query `q` is the same text.
    fn is_fixed(&self, q: usize) -> bool {
        let Some(def) = self.workload.queries.get(q) else {
            return false;
        };
        let fixed_time = |t: &Option<TimeValue>| matches!(t, None | Some(TimeValue::Absolute(_)));
        def.template.is_static() && fixed_time(&def.params.start) && fixed_time(&def.params.end)
    }

    /// The URI of query `q` if it never changes between requests (HTTP/2).
    fn fixed_uri(&self, q: usize) -> Option<Uri> {
        if !self.is_fixed(q) {
            return None;
        }
        let mut rng = SmallRng::seed_from_u64(0); // unused by a static template
        self.render(q, &mut rng, SystemTime::UNIX_EPOCH, &mut String::new())
    }

    /// The request head of query `q` if it never changes (HTTP/1.1).
    fn fixed_head(&self, q: usize) -> Option<Box<[u8]>> {
        if !self.is_fixed(q) {
            return None;
        }
        let mut rng = SmallRng::seed_from_u64(0); // unused by a static template
        let mut buf = Vec::new();
        let len = self.write_head(
            q,
            &mut rng,
            SystemTime::UNIX_EPOCH,
            &mut String::new(),
            &mut buf,
        )?;
        buf.truncate(len);
        Some(buf.into_boxed_slice())
    }

    /// Renders query `q`'s request head into the start of `buf` (grown when
    /// needed); its length, or `None` when the path cannot be sent.
    fn write_head(
        &self,
        q: usize,
        rng: &mut impl Rng,
        now: SystemTime,
        scratch: &mut String,
        buf: &mut Vec<u8>,
    ) -> Option<usize> {
        self.workload.render_request(q, rng, now, scratch);
        // Form-encoded text is always visible ASCII; check, don't trust.
        if !scratch.bytes().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let parts = [&self.head_start[..], scratch.as_bytes(), &self.head_end[..]];
        let len: usize = parts.iter().map(|p| p.len()).sum();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let mut at = 0;
        for p in parts {
            buf[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        Some(len)
    }

    /// The next request for query `q`: HTTP/1.1 a prebuilt head or one
    /// rendered into a pooled buffer; HTTP/2 a URI. `None` when the
    /// rendered path is not a valid request target.
    pub(crate) fn prepare(
        &self,
        q: usize,
        rng: &mut impl Rng,
        scratch: &mut String,
    ) -> Option<Prepared> {
        if self.connector.http2() {
            return self.uri(q, rng, scratch).map(Prepared::H2);
        }
        if let Some(Some(_)) = self.fixed_heads.get(q) {
            return Some(Prepared::H1Fixed(q));
        }
        // The wall clock only for a rendering (relative times need it).
        let now = SystemTime::now();
        let mut buf = self.take_buf();
        match self.write_head(q, rng, now, scratch, &mut buf) {
            Some(len) => Some(Prepared::H1 { buf, len }),
            None => {
                self.put_buf(buf);
                None
            }
        }
    }

    /// Gives a prepared request's buffer back without sending it.
    pub(crate) fn recycle(&self, req: Prepared) {
        if let Prepared::H1 { buf, .. } = req {
            self.put_buf(buf);
        }
    }

    /// Whether a request may wait for its answer in the kernel when its
    /// thread has nothing else to do: HTTP/1.1 (plain TCP: `h1` decides per
    /// connection), with a request timeout long enough that a few
    /// [`h1::DIRECT_WAIT`]s cannot matter (that timeout is only checked
    /// while waiting through the runtime).
    pub(crate) fn may_wait_directly(&self) -> bool {
        !self.connector.http2() && self.timeout >= MIN_DIRECT_TIMEOUT
    }

    fn take_buf(&self) -> Vec<u8> {
        let spare = self.bufs.lock().ok().and_then(|mut b| b.pop());
        spare.unwrap_or_else(|| vec![0; READ_BUF + 512])
    }

    fn put_buf(&self, buf: Vec<u8>) {
        if buf.len() > READ_BUF + 4096 {
            return; // grown for a huge head or path: let it go
        }
        if let Ok(mut b) = self.bufs.lock() {
            if b.len() < POOL_MAX {
                b.push(buf);
            }
        }
    }

    /// The workload requests are rendered from.
    pub(crate) fn workload(&self) -> &Workload {
        &self.workload
    }

    /// HTTP/2: the URI of the next request for query `q`: the fixed one,
    /// or a rendering into the reused `scratch` buffer (one small copy into
    /// the URI's own storage).
    fn uri(&self, q: usize, rng: &mut impl Rng, scratch: &mut String) -> Option<Uri> {
        if let Some(Some(uri)) = self.fixed.get(q) {
            return Some(uri.clone()); // a reference count, no copy
        }
        self.render(q, rng, SystemTime::now(), scratch)
    }

    fn render(
        &self,
        q: usize,
        rng: &mut impl Rng,
        now: SystemTime,
        scratch: &mut String,
    ) -> Option<Uri> {
        self.workload.render_request(q, rng, now, scratch);
        if self.base.is_empty() {
            return Uri::try_from(scratch.as_str()).ok();
        }
        let mut full = String::with_capacity(self.base.len() + scratch.len());
        full.push_str(&self.base);
        full.push_str(scratch);
        Uri::try_from(full).ok()
    }

    /// Sends one request for query `q` and reads the whole answer, all
    /// within the timeout from `sent`. `line` is the caller's: its HTTP/1.1
    /// connection (taken and put back when reusable) and request timer.
    /// `capture` > 0 asks for details. `direct`: the caller's thread has
    /// nothing else to do meanwhile and [`Client::may_wait_directly`]
    /// holds, so an HTTP/1.1 answer may be waited for in the kernel (see
    /// `h1`).
    pub(crate) async fn exchange(
        &self,
        line: &mut Line,
        req: Prepared,
        q: usize,
        capture: usize,
        sent: Instant,
        direct: bool,
    ) -> Exchange {
        let mut ex = Exchange::default();
        let expect = self
            .workload
            .queries
            .get(q)
            .map_or(Expect::Json, |d| Expect::of(d.qtype));
        let deadline = sent + self.timeout;
        let direct = direct && line.direct_pause == 0;
        line.direct_pause = line.direct_pause.saturating_sub(1);
        let (own, timer) = (&mut line.conn, &mut line.timer);
        let mut wait = Wait {
            capture,
            direct,
            handed_over: false,
        };
        let mut spare = None;
        let done = match req {
            Prepared::H2(uri) => {
                let attempt = pin!(self.attempt_h2(&uri, expect, capture, &mut ex));
                within(attempt, timer, deadline).await
            }
            Prepared::H1Fixed(q) => {
                let fixed = self.fixed_heads.get(q).and_then(|h| h.as_deref());
                let mut buf = self.take_buf();
                let r = {
                    let attempt =
                        pin!(self.attempt_h1(own, fixed, 0, &mut buf, expect, &mut wait, &mut ex));
                    within(attempt, timer, deadline).await
                };
                spare = Some(buf);
                r
            }
            Prepared::H1 { mut buf, len } => {
                let r = {
                    let attempt =
                        pin!(self.attempt_h1(own, None, len, &mut buf, expect, &mut wait, &mut ex));
                    within(attempt, timer, deadline).await
                };
                spare = Some(buf);
                r
            }
        };
        if let Some(buf) = spare {
            self.put_buf(buf);
        }
        if wait.handed_over || (direct && done.is_none()) {
            line.direct_pause = DIRECT_PAUSE;
        }
        if done.is_none() {
            ex.error = Some(ErrorClass::Timeout);
            if capture > 0 {
                ex.detail = Some(format!(
                    "no complete response within the timeout of {:?}",
                    self.timeout
                ));
            }
        }
        ex
    }

    /// HTTP/1.1: sends on the caller's connection (or a new one) and reads
    /// the answer; sends once more on a fresh connection when a reused one
    /// turns out closed by the server before answering.
    #[allow(clippy::too_many_arguments)] // one call site; the parts of one exchange
    async fn attempt_h1(
        &self,
        own: &mut Option<Conn>,
        fixed: Option<&[u8]>,
        req_len: usize,
        buf: &mut Vec<u8>,
        expect: Expect,
        wait: &mut Wait,
        ex: &mut Exchange,
    ) {
        let Wait {
            capture, direct, ..
        } = *wait;
        let direct = direct.then_some(self.direct_wait);
        let (mut stream, reused) = match own.take() {
            Some(Conn::H1(s)) => (s, true),
            _ => match self.open_h1().await {
                Ok(s) => (s, false),
                Err(fail) => return fail_with(ex, fail, capture),
            },
        };
        let mut r = h1::round_trip(
            &mut stream,
            &self.head_memo,
            fixed,
            req_len,
            buf,
            expect,
            capture,
            direct,
            &mut ex.status,
        )
        .await;
        if reused && matches!(r, Err(NoResponse::Nothing(_))) {
            stream = match self.open_h1().await {
                Ok(s) => s,
                Err(fail) => return fail_with(ex, fail, capture),
            };
            r = h1::round_trip(
                &mut stream,
                &self.head_memo,
                fixed,
                req_len,
                buf,
                expect,
                capture,
                direct,
                &mut ex.status,
            )
            .await;
        }
        wait.handed_over = direct.is_some() && !stream.waits_directly();
        match r {
            Err(e) => fail_with(ex, Failure::H1(e), capture),
            Ok(Answer::Cut { status, bytes }) => {
                (ex.status, ex.bytes) = (status, bytes);
                ex.error = Some(ErrorClass::Body);
            }
            Ok(Answer::Done {
                status,
                bytes,
                scan,
                reusable,
            }) => {
                (ex.status, ex.bytes) = (status, bytes);
                judge(ex, scan, capture);
                if reusable {
                    *own = Some(Conn::H1(stream)); // keep-alive: the next request reuses it
                }
            }
        }
    }

    async fn open_h1(&self) -> Result<h1::Stream, Failure> {
        match self.open().await? {
            Conn::H1(s) => Ok(s),
            Conn::H2(_) => Err(mismatch()),
        }
    }

    /// Opens a connection; an HTTP/2 one becomes the shared connection.
    async fn open(&self) -> Result<Conn, Failure> {
        // Boxed: connecting (TCP, TLS, handshake) is a large future that is
        // rarely live; inline, it would grow every user's task by kilobytes.
        let conn = Box::pin(self.connector.connect())
            .await
            .map_err(Failure::Connect)?;
        if let Some(handle) = conn.share() {
            if let Ok(mut s) = self.shared.lock() {
                *s = Some(handle);
            }
        }
        Ok(conn)
    }

    fn forget_shared(&self) {
        if let Ok(mut s) = self.shared.lock() {
            if s.as_ref().is_some_and(Conn::is_closed) {
                *s = None;
            }
        }
    }
}

/// Records a failure without a response.
fn fail_with(ex: &mut Exchange, fail: Failure, capture: usize) {
    ex.error = Some(fail.class());
    if capture > 0 {
        ex.detail = Some(fail.to_string());
    }
}

/// The error class of a complete answer: by status, then by body shape.
fn judge(ex: &mut Exchange, scan: Option<Scan>, capture: usize) {
    if let Some(s) = &scan {
        ex.rows = s.rows();
        if capture > 0 && !s.captured().is_empty() {
            ex.detail = Some(String::from_utf8_lossy(s.captured()).into_owned());
        }
    }
    let ok = (200..300).contains(&ex.status);
    ex.error = match ErrorClass::from_status(ex.status) {
        Some(class) => Some(class),
        None if ok && scan.as_ref().is_some_and(Scan::valid) => None,
        None => Some(ErrorClass::InvalidResponse),
    };
}

/// The connector made a connection of the other HTTP version (cannot
/// happen: both follow `target.http2`); counted as a connect error.
fn mismatch() -> Failure {
    Failure::Connect(ConnectError::Tcp {
        addr: String::new(),
        source: std::io::Error::other("connection of the wrong HTTP version"),
    })
}

/// Why no response arrived.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Connect(ConnectError),
    #[error("request failed before a response: {0}")]
    Http(hyper::Error),
    #[error("{0}")]
    H1(NoResponse),
}

impl Failure {
    fn class(&self) -> ErrorClass {
        match self {
            Failure::Connect(_) => ErrorClass::Connect,
            // Not an HTTP answer at all (garbage instead of a status line).
            Failure::Http(e) if e.is_parse() => ErrorClass::InvalidResponse,
            Failure::Http(_) => ErrorClass::Connect,
            Failure::H1(NoResponse::Invalid(_)) => ErrorClass::InvalidResponse,
            Failure::H1(_) => ErrorClass::Connect,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use vlbench_workload::{QueryDef, QueryParams, QueryType, Template};

    use super::*;
    use crate::test_util::{answer, scripted_server};

    fn def(name: &str, src: &str, start: Option<TimeValue>) -> QueryDef {
        QueryDef {
            name: name.to_owned(),
            category: None,
            qtype: QueryType::Query,
            template: Template::parse(src, Path::new(".")).unwrap(),
            params: QueryParams {
                start,
                ..Default::default()
            },
            weight: 1,
        }
    }

    /// A client of one `*` query for the server at `addr`, and a runtime
    /// to drive it.
    fn client_of(
        addr: std::net::SocketAddr,
        timeout: Duration,
    ) -> (Client, tokio::runtime::Runtime) {
        let target = TargetOptions {
            base_url: format!("http://{addr}").parse().unwrap(),
            headers: Vec::new(),
            timeout,
            http2: false,
            accept_gzip: false,
            tls: Default::default(),
        };
        let w = Workload::new(vec![def("q", "*", None)]).unwrap();
        let mut client = Client::new(&target, Arc::new(w)).unwrap();
        // Generous, so that a quick answer on a busy machine still comes
        // within it; the slow answers of the tests take longer.
        client.direct_wait = Duration::from_millis(200);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (client, rt)
    }

    /// After a direct wait hands over to the runtime (a slow answer), the
    /// line's next [`DIRECT_PAUSE`] requests wait through the runtime,
    /// then direct waits resume.
    #[test]
    fn direct_waits_pause_after_a_slow_answer() {
        let row = "{\"_msg\":\"x\"}\n";
        let ms = Duration::from_millis;
        let n = usize::from(DIRECT_PAUSE) + 4;
        let mut answers = vec![(ms(0), answer(row)), (ms(400), answer(row))];
        answers.resize(n, (ms(0), answer(row)));
        let addr = scripted_server(answers);
        let (client, rt) = client_of(addr, Duration::from_secs(5));
        let modes = rt.block_on(async {
            let (mut line, mut modes) = (Line::default(), Vec::new());
            let mut rng = SmallRng::seed_from_u64(1);
            let mut scratch = String::new();
            for _ in 0..n {
                let req = client.prepare(0, &mut rng, &mut scratch).unwrap();
                let ex = client
                    .exchange(&mut line, req, 0, 0, Instant::now(), true)
                    .await;
                assert_eq!((ex.status, ex.error, ex.rows), (200, None, 1));
                modes.push(matches!(&line.conn, Some(Conn::H1(s)) if s.waits_directly()));
            }
            modes
        });
        let mut want = vec![true, false];
        want.resize(n - 2, false);
        want.extend([true, true]);
        assert_eq!(modes, want);
    }

    /// The request timer is left at the previous request's deadline (see
    /// `Timer::arm_by`); when it fires there, a later request waits on to
    /// its own full timeout.
    #[test]
    fn a_timer_left_at_an_earlier_deadline_does_not_cut_the_next_request() {
        let ms = Duration::from_millis;
        let row = "{\"_msg\":\"x\"}\n";
        // The first answer comes at once, the second after 30 ms, the
        // third never within the timeout.
        let addr = scripted_server(vec![
            (ms(0), answer(row)),
            (ms(30), answer(row)),
            (ms(2000), answer(row)),
        ]);
        let timeout = ms(300);
        let (client, rt) = client_of(addr, timeout);
        rt.block_on(async {
            let mut line = Line::default();
            let mut rng = SmallRng::seed_from_u64(1);
            let mut scratch = String::new();
            let mut results = Vec::new();
            for pause in [ms(0), ms(0), ms(150)] {
                tokio::time::sleep(pause).await;
                let req = client.prepare(0, &mut rng, &mut scratch).unwrap();
                let sent = Instant::now();
                let ex = client.exchange(&mut line, req, 0, 0, sent, false).await;
                results.push((ex.error, sent.elapsed()));
            }
            assert_eq!(results[0].0, None);
            assert_eq!(results[1].0, None, "the 30 ms answer armed the timer");
            // The timer still waits for the second request's deadline,
            // 150+ ms before the third's: the third must get its 300 ms.
            let (error, took) = results[2];
            assert_eq!(error, Some(ErrorClass::Timeout));
            assert!(took >= timeout, "timed out after {took:?}");
        });
    }

    #[test]
    fn only_unchanging_requests_are_cached() {
        let w = Workload::new(vec![
            def("static", "error", None),
            def("random", r#"level:{{ choice "a" "b" }}"#, None),
            def(
                "relative",
                "error",
                Some(TimeValue::Relative(Duration::from_secs(60))),
            ),
        ])
        .unwrap();
        let target = TargetOptions {
            base_url: "http://h:1/vl".parse().unwrap(),
            headers: Vec::new(),
            timeout: Duration::from_secs(1),
            http2: false,
            accept_gzip: false,
            tls: Default::default(),
        };
        let c = Client::new(&target, Arc::new(w)).unwrap();
        let fixed: Vec<bool> = c.fixed_heads.iter().map(Option::is_some).collect();
        assert_eq!(fixed, vec![true, false, false]);
        let mut rng = SmallRng::seed_from_u64(1);
        let head = |req: Prepared| match req {
            Prepared::H1Fixed(q) => c.fixed_heads[q].as_deref().unwrap().to_vec(),
            Prepared::H1 { buf, len } => buf[..len].to_vec(),
            Prepared::H2(_) => panic!("an HTTP/1.1 target"),
        };
        let mut scratch = String::new();
        let req = c.prepare(0, &mut rng, &mut scratch);
        let text = String::from_utf8(head(req.unwrap())).unwrap();
        assert_eq!(
            text,
            concat!(
                "GET /vl/select/logsql/query?query=error HTTP/1.1\r\nhost: h:1\r\n",
                "user-agent: vlbench/",
                env!("CARGO_PKG_VERSION"),
                "\r\n\r\n"
            )
        );
        let req = c.prepare(2, &mut rng, &mut scratch);
        let text = String::from_utf8(head(req.unwrap())).unwrap();
        assert!(
            text.starts_with("GET /vl/select/logsql/query?query=error&start="),
            "{text}"
        );
        assert!(text.contains(" HTTP/1.1\r\nhost: h:1\r\n"), "{text}");

        let h2 = Client::new(
            &TargetOptions {
                http2: true,
                ..target
            },
            c.workload.clone(),
        )
        .unwrap();
        let uri = h2.uri(0, &mut rng, &mut scratch).unwrap();
        assert_eq!(
            uri.to_string(),
            "http://h:1/vl/select/logsql/query?query=error"
        );
        assert!(h2.fixed[0].is_some() && h2.fixed[2].is_none());
    }
}
