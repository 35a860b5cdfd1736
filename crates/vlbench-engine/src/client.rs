//! One request/response exchange with the target: the per-request hot path.
//!
//! Owns building the request (prepared headers, URI from the rendered
//! path), the connection policy (HTTP/1.1: the caller's own keep-alive
//! connection, reconnected after errors; HTTP/2: one multiplexed connection
//! per [`Client`]), the timeout over headers *and* body, streaming the body
//! to its end and the classification into an [`ErrorClass`].
//!
//! Must not record statistics or know about schedules: it returns a small
//! [`Exchange`] value and the caller records it. No `String` per request
//! unless the caller asks for details (probe).

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use vlbench_stats::ErrorClass;
use vlbench_workload::{TimeValue, Workload};

use crate::body::{Decode, Expect, Scan};
use crate::conn::{uri_base, Conn, ConnectError, Connector, ReqBody};
use crate::error::EngineError;
use crate::options::TargetOptions;

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
    /// Per query: its URI when every rendering is the same text (no
    /// variables, no relative times), so the hot path clones instead of
    /// rendering and parsing.
    fixed: Vec<Option<Uri>>,
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
        let mut client = Client {
            connector,
            headers,
            base,
            timeout: target.timeout,
            workload,
            shared: Mutex::new(None),
            fixed: Vec::new(),
        };
        client.fixed = (0..client.workload.len())
            .map(|q| client.fixed_uri(q))
            .collect();
        Ok(client)
    }

    /// Asks for small per-connection read buffers (many connections).
    pub(crate) fn with_small_buffers(mut self) -> Client {
        self.connector.small_buffers();
        self
    }

    /// The URI of query `q` if it never changes between requests.
    fn fixed_uri(&self, q: usize) -> Option<Uri> {
        let def = self.workload.queries.get(q)?;
        let fixed_time = |t: &Option<TimeValue>| matches!(t, None | Some(TimeValue::Absolute(_)));
        if !def.template.is_static()
            || !fixed_time(&def.params.start)
            || !fixed_time(&def.params.end)
        {
            return None;
        }
        let mut rng = SmallRng::seed_from_u64(0); // unused by a static template
        self.render(q, &mut rng, SystemTime::UNIX_EPOCH, &mut String::new())
    }

    /// The workload requests are rendered from.
    pub(crate) fn workload(&self) -> &Workload {
        &self.workload
    }

    /// The URI of the next request for query `q`: the fixed one, or a
    /// rendering into the reused `scratch` buffer (one small copy into the
    /// URI's own storage).
    pub(crate) fn uri(
        &self,
        q: usize,
        rng: &mut impl Rng,
        now: SystemTime,
        scratch: &mut String,
    ) -> Option<Uri> {
        if let Some(Some(uri)) = self.fixed.get(q) {
            return Some(uri.clone()); // a reference count, no copy
        }
        self.render(q, rng, now, scratch)
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

    /// Sends one request for query `q` to `uri` and reads the whole answer,
    /// all within the timeout. `own` is the caller's HTTP/1.1 connection
    /// (taken and put back when reusable). `capture` > 0 asks for details.
    pub(crate) async fn exchange(
        &self,
        own: &mut Option<Conn>,
        uri: &Uri,
        q: usize,
        capture: usize,
    ) -> Exchange {
        let mut ex = Exchange::default();
        let expect = self
            .workload
            .queries
            .get(q)
            .map_or(Expect::Json, |d| Expect::of(d.qtype));
        let attempt = self.attempt(own, uri, expect, capture, &mut ex);
        if tokio::time::timeout(self.timeout, attempt).await.is_err() {
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

    async fn attempt(
        &self,
        own: &mut Option<Conn>,
        uri: &Uri,
        expect: Expect,
        capture: usize,
        ex: &mut Exchange,
    ) {
        let resp = match self.send(own, uri).await {
            Ok(pair) => pair,
            Err(fail) => {
                ex.error = Some(fail.class());
                if capture > 0 {
                    ex.detail = Some(fail.to_string());
                }
                return;
            }
        };
        let (resp, conn) = resp;
        ex.status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .map_or(&b""[..], |v| v.as_bytes());
        let gzip = resp
            .headers()
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
        let ok = resp.status().is_success();
        let limit = if ok { 0 } else { capture };
        let decode = Decode::new(Scan::new(expect, ct, limit), gzip);
        let BodyEnd::Done(scan) = read_body(resp.into_body(), decode, ex).await else {
            ex.error = Some(ErrorClass::Body);
            return; // the connection is in an unknown state: dropped
        };
        if let Some(s) = &scan {
            ex.rows = s.rows();
            if capture > 0 && !s.captured().is_empty() {
                ex.detail = Some(String::from_utf8_lossy(s.captured()).into_owned());
            }
        }
        ex.error = match ErrorClass::from_status(ex.status) {
            Some(class) => Some(class),
            None if ok && scan.as_ref().is_some_and(Scan::valid) => None,
            None => Some(ErrorClass::InvalidResponse),
        };
        if !conn.is_closed() && conn.share().is_none() {
            *own = Some(conn); // keep-alive: the next request reuses it
        }
    }

    /// Gets a connection and sends; retries once on a fresh connection when
    /// a reused keep-alive connection turns out closed by the server.
    async fn send(
        &self,
        own: &mut Option<Conn>,
        uri: &Uri,
    ) -> Result<(Response<Incoming>, Conn), Failure> {
        let (mut conn, reused) = self.checkout(own).await?;
        match send_on(&mut conn, self.request(uri)).await {
            Ok(resp) => Ok((resp, conn)),
            Err(e) if reused && is_stale(&e) => {
                drop(conn);
                self.forget_shared();
                let mut conn = self.open().await?;
                let resp = send_on(&mut conn, self.request(uri))
                    .await
                    .map_err(Failure::Http)?;
                Ok((resp, conn))
            }
            Err(e) => {
                self.forget_shared();
                Err(Failure::Http(e))
            }
        }
    }

    fn request(&self, uri: &Uri) -> Request<ReqBody> {
        let mut req = Request::new(ReqBody::new());
        *req.uri_mut() = uri.clone();
        *req.headers_mut() = self.headers.clone();
        req
    }

    /// A connection to send on, and whether it was used before.
    async fn checkout(&self, own: &mut Option<Conn>) -> Result<(Conn, bool), Failure> {
        if self.connector.http2() {
            if let Some(conn) = self
                .shared
                .lock()
                .ok()
                .and_then(|s| s.as_ref().and_then(Conn::share))
            {
                if !conn.is_closed() {
                    return Ok((conn, true));
                }
            }
            return Ok((self.open().await?, false));
        }
        match own.take() {
            Some(conn) if !conn.is_closed() => Ok((conn, true)),
            _ => Ok((self.open().await?, false)),
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

async fn send_on(
    conn: &mut Conn,
    req: Request<ReqBody>,
) -> Result<Response<Incoming>, hyper::Error> {
    match conn {
        Conn::H1(s) => {
            s.ready().await?;
            s.send_request(req).await
        }
        Conn::H2(s) => {
            s.ready().await?;
            s.send_request(req).await
        }
    }
}

/// Errors of a reused connection that mean "the server had closed it": the
/// request never reached a live connection, so sending again is safe.
fn is_stale(e: &hyper::Error) -> bool {
    e.is_canceled() || e.is_closed() || e.is_incomplete_message()
}

/// How a body ended.
enum BodyEnd {
    /// The stream was cut (chunked decoding error, early close, reset).
    Cut,
    /// Read to its end; the scan, or `None` when gzip could not be decoded.
    Done(Option<Scan>),
}

/// Streams `body` to its end into `decode`, counting wire bytes.
async fn read_body(mut body: Incoming, mut decode: Decode, ex: &mut Exchange) -> BodyEnd {
    let mut decodable = true;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return BodyEnd::Cut;
        };
        if let Some(data) = frame.data_ref() {
            ex.bytes += data.len() as u64;
            if decodable {
                decodable = decode.feed(data);
            }
        }
    }
    BodyEnd::Done(if decodable { decode.finish() } else { None })
}

/// Why no response arrived.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error("{0}")]
    Connect(ConnectError),
    #[error("request failed before a response: {0}")]
    Http(hyper::Error),
}

impl Failure {
    fn class(&self) -> ErrorClass {
        match self {
            Failure::Connect(_) => ErrorClass::Connect,
            // Not an HTTP answer at all (garbage instead of a status line).
            Failure::Http(e) if e.is_parse() => ErrorClass::InvalidResponse,
            Failure::Http(_) => ErrorClass::Connect,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use vlbench_workload::{QueryDef, QueryParams, QueryType, Template};

    use super::*;

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
        let fixed: Vec<bool> = c.fixed.iter().map(Option::is_some).collect();
        assert_eq!(fixed, vec![true, false, false]);
        let mut rng = SmallRng::seed_from_u64(1);
        let uri = c
            .uri(0, &mut rng, SystemTime::now(), &mut String::new())
            .unwrap();
        assert_eq!(uri.to_string(), "/vl/select/logsql/query?query=error");
        let uri = c
            .uri(2, &mut rng, SystemTime::now(), &mut String::new())
            .unwrap();
        assert!(uri.query().unwrap().contains("start="), "{uri}");
    }
}
