//! The HTTP surface: routing and the per-request pipeline of select
//! endpoints.
//!
//! Owns: [`router`], the order in which knobs apply to a select request
//! (stall → concurrency slot → latency → injected error → stall → tenant →
//! endpoint), and the args every endpoint shares (query, time bounds).
//! Must not: own data or counters (see `TargetState`).
//!
//! Layout: `args.rs` request args and tenants, `reply.rs` response shapes,
//! `render.rs` row JSON, one file per endpoint group (`query.rs`,
//! `stats.rs`, `hits.rs`, `fields.rs`).

// Handlers return `Result<Reply, Reply>`: the error side is the response to
// send, built once and moved out; boxing it would cost an allocation per
// failed request for nothing.
#![allow(clippy::result_large_err)]

mod args;
mod fields;
mod hits;
mod query;
mod render;
mod reply;
mod stats;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::Router;
use bytes::Bytes;
use http_body_util::BodyExt;

use crate::body::{Completion, ConnCtl, ResponseBody};
use crate::data::Dataset;
use crate::knobs::QueueTimeout;
use crate::logsql::Query;
use crate::metrics::Endpoint;
use crate::time::now_ns;
use crate::TargetState;

pub use args::Args;
pub(crate) use render::stream_json;
use reply::{bad_request, Ctype, Reply};

/// Largest POST form body read (bigger bodies are ignored, as if empty).
const MAX_FORM_BODY: usize = 1 << 20;

/// The whole HTTP API as an axum router (tests drive it with `oneshot`,
/// no socket needed). It answers exactly like the socket path, which
/// calls [`respond`] without axum's routing layers.
pub fn router(state: Arc<TargetState>) -> Router {
    Router::new()
        .fallback(
            |State(state): State<Arc<TargetState>>, req: Request| async move {
                respond(state, req, None).await.map(axum::body::Body::new)
            },
        )
        .with_state(state)
}

/// Answers one request. `conn` is the control of the connection it came
/// on (None without a socket: aborts then only end the body).
pub(crate) async fn respond<B>(
    state: Arc<TargetState>,
    req: http::Request<B>,
    conn: Option<Arc<ConnCtl>>,
) -> http::Response<ResponseBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match req.uri().path() {
        "/health" => reply::into_response(Reply::full(200, Ctype::Text, "OK"), false),
        "/metrics" => {
            let text = state.counters().render();
            reply::into_response(Reply::full(200, Ctype::Text, text), false)
        }
        path => match Endpoint::from_path(path) {
            Some(ep) => select(state, ep, req, conn).await,
            None => {
                let cors = path.starts_with("/select/");
                reply::into_response(reply::unsupported_path(path), cors)
            }
        },
    }
}

async fn select<B>(
    state: Arc<TargetState>,
    ep: Endpoint,
    req: http::Request<B>,
    conn: Option<Arc<ConnCtl>>,
) -> http::Response<ResponseBody>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut guard = Completion::new(Arc::clone(&state), ep, Instant::now());
    state.knobs().wait_stall().await;
    let (parts, body) = req.into_parts();
    let form = read_form(&parts, body).await;
    let args = Args::parse(parts.uri.query(), &form);
    let mut reply = handle(&state, ep, &parts.headers, &args, &mut guard).await;
    guard.status = reply.status;
    reply.body.attach(guard, state, conn);
    reply::into_response(reply, true)
}

/// The form body of a POST (empty for other requests and content types).
async fn read_form<B>(parts: &http::request::Parts, body: B) -> Bytes
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let is_form = parts.method == http::Method::POST
        && parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|v| {
                v.as_bytes()
                    .starts_with(b"application/x-www-form-urlencoded")
            });
    if !is_form {
        return Bytes::new();
    }
    let limited = http_body_util::Limited::new(body, MAX_FORM_BODY);
    match limited.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => Bytes::new(),
    }
}

async fn handle(
    state: &Arc<TargetState>,
    ep: Endpoint,
    headers: &http::HeaderMap,
    args: &Args<'_>,
    guard: &mut Completion,
) -> Reply {
    let knobs = state.knobs();
    let timeout = match args.timeout() {
        Ok(t) => t,
        Err(msg) => return bad_request(ep, &msg),
    };
    match knobs.acquire(state.counters(), timeout).await {
        Ok(permit) => guard.hold(permit),
        Err(QueueTimeout(waited)) => return reply::queue_timeout(waited, knobs),
    }
    if let Some(d) = knobs.latency(ep) {
        crate::timer::sleep(d).await;
    }
    if let Some(status) = knobs.pick_error() {
        return reply::injected(ep, status, knobs);
    }
    knobs.wait_stall().await;
    let tenant = match args::tenant(headers) {
        Ok(t) => t,
        Err(msg) => return bad_request(ep, &msg),
    };
    let ds = state.dataset(tenant);
    let abort = knobs.should_abort(timeout);
    let result = match ep {
        Endpoint::Query => query::handle(state, ds, args, abort),
        Endpoint::StatsQuery => stats::instant(state, ds, args, abort),
        Endpoint::StatsQueryRange => stats::range(state, ds, args, abort),
        Endpoint::Hits => hits::handle(state, ds, args, abort),
        Endpoint::FieldNames => fields::names(state, ds, args, abort),
        Endpoint::FieldValues => fields::values(state, ds, args, abort),
        Endpoint::Streams => fields::streams(state, ds, args, abort),
    };
    result.unwrap_or_else(|r| r)
}

/// What every endpoint reads first: the parsed query and time bounds.
pub(crate) struct Prepared {
    /// The query (shared with the cache).
    pub query: Arc<Query>,
    /// The request's "now" (ns).
    pub now: i64,
    /// `start` (ns; unbounded when missing).
    pub lo: i64,
    /// `end` (ns; now when missing).
    pub hi: i64,
}

/// Parses `query`, `start` and `end` (or `time` as the end when
/// `time_arg`), answering errors in `ep`'s style.
pub(crate) fn prepare(
    state: &TargetState,
    ep: Endpoint,
    args: &Args<'_>,
    time_arg: bool,
) -> Result<Prepared, Reply> {
    let raw = args.query_raw.unwrap_or_default();
    let query = state
        .cache()
        .get(raw, args::decode)
        .map_err(|e| bad_request(ep, &e.render(&args.query_text())))?;
    let now = now_ns();
    let (lo, hi) = if time_arg {
        (
            i64::MIN,
            args.time("time", now, now)
                .map_err(|m| bad_request(ep, &m))?,
        )
    } else {
        let lo = args
            .time("start", now, i64::MIN)
            .map_err(|m| bad_request(ep, &m))?;
        (
            lo,
            args.time("end", now, now)
                .map_err(|m| bad_request(ep, &m))?,
        )
    };
    Ok(Prepared { query, now, lo, hi })
}

/// The data of a tenant, for handlers.
pub(crate) type Data = Arc<Dataset>;
