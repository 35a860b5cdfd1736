//! Shared helpers of the engine's integration tests: small in-process
//! HTTP servers on 127.0.0.1:0 (hyper, HTTP/1.1 and h2c), a raw TCP server
//! for broken streams, and builders for workloads, targets and plans.
#![allow(dead_code)] // each test binary uses a different subset

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use vlbench_engine::{EnginePlan, RunOptions, TargetOptions, TlsOptions};
use vlbench_stats::{IntervalReport, IntervalStats};
use vlbench_workload::{
    Model, QueryDef, QueryParams, QueryType, Schedule, Share, Stage, Template, Workload,
};

pub type Body = BoxBody<Bytes, Infallible>;
type BoxFut = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;
type Handler = Arc<dyn Fn(Request<Incoming>) -> BoxFut + Send + Sync>;

/// Counters every test server keeps.
#[derive(Default)]
pub struct Counters {
    pub requests: AtomicU64,
    pub in_flight: AtomicU64,
    pub max_in_flight: AtomicU64,
    pub http2: AtomicU64,
}

/// A running test server; stops when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub counters: Arc<Counters>,
    stop: CancellationToken,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl TestServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
    pub fn requests(&self) -> u64 {
        self.counters.requests.load(Ordering::SeqCst)
    }
}

/// Serves `handler` over HTTP/1.1 and h2c (prior knowledge).
pub async fn serve<F, Fut>(handler: F) -> TestServer
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let handler: Handler = Arc::new(move |r| Box::pin(handler(r)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counters = Arc::new(Counters::default());
    let stop = CancellationToken::new();
    let (c, s) = (counters.clone(), stop.clone());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                _ = s.cancelled() => return,
            };
            tokio::spawn(serve_conn(
                TokioIo::new(tcp),
                handler.clone(),
                c.clone(),
                s.clone(),
            ));
        }
    });
    TestServer {
        addr,
        counters,
        stop,
    }
}

async fn serve_conn<I>(io: I, handler: Handler, c: Arc<Counters>, stop: CancellationToken)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (handler, c) = (handler.clone(), c.clone());
        async move {
            c.requests.fetch_add(1, Ordering::SeqCst);
            if req.version() == http::Version::HTTP_2 {
                c.http2.fetch_add(1, Ordering::SeqCst);
            }
            let now = c.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            c.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let resp = handler(req).await;
            c.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Infallible>(resp)
        }
    });
    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    tokio::select! {
        _ = builder.serve_connection(io, svc) => {}
        _ = stop.cancelled() => {}
    }
}

/// Serves `handler` over TLS with the test certificate (ALPN h2 + http/1.1).
pub async fn serve_tls<F, Fut>(handler: F) -> TestServer
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let dir = fixtures();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .map(|c| c.unwrap())
        .collect();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let handler: Handler = Arc::new(move |r| Box::pin(handler(r)));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counters = Arc::new(Counters::default());
    let stop = CancellationToken::new();
    let (c, s) = (counters.clone(), stop.clone());
    tokio::spawn(async move {
        loop {
            let (tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                _ = s.cancelled() => return,
            };
            let (acceptor, h, c, s) = (acceptor.clone(), handler.clone(), c.clone(), s.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    serve_conn(TokioIo::new(tls), h, c, s).await;
                }
            });
        }
    });
    TestServer {
        addr,
        counters,
        stop,
    }
}

/// A raw TCP server that answers every connection with `wire` and closes.
pub async fn serve_raw(wire: Vec<u8>) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counters = Arc::new(Counters::default());
    let stop = CancellationToken::new();
    let (c, s) = (counters.clone(), stop.clone());
    let wire = Arc::new(wire);
    tokio::spawn(async move {
        loop {
            let (mut tcp, _) = tokio::select! {
                r = listener.accept() => match r { Ok(x) => x, Err(_) => continue },
                _ = s.cancelled() => return,
            };
            c.requests.fetch_add(1, Ordering::SeqCst);
            let wire = wire.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tokio::io::AsyncReadExt::read(&mut tcp, &mut buf).await;
                let _ = tcp.write_all(&wire).await;
                let _ = tcp.shutdown().await;
            });
        }
    });
    TestServer {
        addr,
        counters,
        stop,
    }
}

/// A complete response with a `Content-Length`.
pub fn full(status: u16, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

/// A chunked response: one chunk per part.
pub fn chunked(status: u16, content_type: &str, parts: Vec<Bytes>) -> Response<Body> {
    let frames = futures_util::stream::iter(
        parts
            .into_iter()
            .map(|b| Ok::<_, Infallible>(Frame::data(b))),
    );
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(BodyExt::boxed(StreamBody::new(frames)))
        .unwrap()
}

/// `n` JSON lines, each ending with a newline.
pub fn lines(n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"_msg\":\"line {i}\",\"level\":\"info\"}}\n"))
        .collect()
}

pub const LINES_CT: &str = "application/stream+json";

pub fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// The `response` object of a recorded VictoriaLogs fixture.
pub fn fixture(name: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join(name)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v
}

/// A workload of the given (name, type) queries, template `*`, weight 1.
pub fn workload(queries: &[(&str, QueryType)]) -> Arc<Workload> {
    let defs = queries
        .iter()
        .map(|(name, qtype)| QueryDef {
            name: (*name).to_owned(),
            category: None,
            qtype: *qtype,
            template: Template::parse("*", Path::new(".")).unwrap(),
            params: QueryParams::default(),
            weight: 1,
        })
        .collect();
    Arc::new(Workload::new(defs).unwrap())
}

pub fn target(url: &str, timeout: Duration) -> TargetOptions {
    TargetOptions {
        base_url: url.parse().unwrap(),
        headers: Vec::new(),
        timeout,
        http2: false,
        accept_gzip: false,
        tls: TlsOptions::default(),
    }
}

/// A constant open-model schedule.
pub fn open(rate: f64, secs: f64, max_in_flight: u32) -> Schedule {
    Schedule {
        model: Model::Open { max_in_flight },
        stages: vec![Stage {
            duration: Duration::from_secs_f64(secs),
            target: rate,
        }],
        initial: rate,
        rate_cap: None,
    }
}

/// A constant closed-model schedule.
pub fn closed(users: f64, secs: f64, think: Duration) -> Schedule {
    Schedule {
        model: Model::Closed { think_time: think },
        stages: vec![Stage {
            duration: Duration::from_secs_f64(secs),
            target: users,
        }],
        initial: users,
        rate_cap: None,
    }
}

pub fn plan(
    target: TargetOptions,
    workload: Arc<Workload>,
    schedule: Schedule,
    threads: usize,
) -> EnginePlan {
    EnginePlan {
        target,
        workload,
        schedule,
        share: Share::whole(),
        threads,
        start: SystemTime::now() + Duration::from_millis(50),
    }
}

/// Runs `plan` to its end and returns every report, in arrival order.
pub async fn run_all(plan: EnginePlan, options: RunOptions) -> Vec<IntervalReport> {
    run_until(plan, options, CancellationToken::new()).await
}

pub async fn run_until(
    plan: EnginePlan,
    options: RunOptions,
    shutdown: CancellationToken,
) -> Vec<IntervalReport> {
    let (tx, mut rx) = mpsc::channel(64);
    let engine = tokio::spawn(vlbench_engine::run_with_control(
        plan, options, tx, shutdown,
    ));
    let mut out = Vec::new();
    while let Some(r) = rx.recv().await {
        out.push(r);
    }
    engine.await.unwrap().unwrap();
    out
}

/// Everything in `reports` merged.
pub fn merged(reports: &[IntervalReport]) -> IntervalStats {
    let mut total = IntervalStats::new(reports.first().map_or(0, |r| r.stats.queries.len()));
    for r in reports {
        total.merge(&r.stats);
    }
    total
}

/// Asserts the reports' seqs are 0, 1, 2, ... with no gap.
pub fn assert_contiguous(reports: &[IntervalReport]) {
    let seqs: Vec<u64> = reports.iter().map(|r| r.seq).collect();
    let want: Vec<u64> = (0..reports.len() as u64).collect();
    assert_eq!(seqs, want, "interval seqs must be contiguous from 0");
}
