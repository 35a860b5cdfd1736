//! Responses shaped like VictoriaLogs': headers, content types and the
//! error bodies of each endpoint.
//!
//! Owns: [`Reply`] (status + content type + body), the error styles
//! (`/query` and friends answer 400 `text/plain`; `stats_query` and
//! `stats_query_range` answer 422 JSON), the queue-timeout 503, injected
//! errors, and turning a reply into an HTTP response.
//! Must not: parse args or run queries.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, ACCESS_CONTROL_ALLOW_ORIGIN, CONTENT_TYPE, VARY};
use http::{HeaderMap, Response, StatusCode};

use crate::body::ResponseBody;
use crate::json;
use crate::knobs::{go_duration, Knobs};
use crate::metrics::Endpoint;

/// Content types the target answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctype {
    /// `text/plain; charset=utf-8` (errors, /health, /metrics).
    Text,
    /// `application/json` (stats, hits, field endpoints).
    Json,
    /// `application/stream+json` (/query rows).
    StreamJson,
}

impl Ctype {
    fn value(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Ctype::Text => "text/plain; charset=utf-8",
            Ctype::Json => "application/json",
            Ctype::StreamJson => "application/stream+json",
        })
    }
}

/// A response before headers are attached.
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub ctype: Ctype,
    /// Body.
    pub body: ResponseBody,
}

impl Reply {
    /// A whole body.
    pub fn full(status: u16, ctype: Ctype, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            ctype,
            body: ResponseBody::full(body.into()),
        }
    }

    /// The VictoriaLogs timeout abort: 200, chunked, no data, abort text,
    /// closed connection (what `stats_query` does when it times out).
    pub fn aborted(ctype: Ctype) -> Reply {
        Reply {
            status: 200,
            ctype,
            body: ResponseBody::stream(Bytes::new(), None, true),
        }
    }
}

/// A `text/plain` error: the message plus a newline, as `httpserver.Errorf`.
pub fn text_error(status: u16, msg: &str) -> Reply {
    let mut body = String::with_capacity(msg.len() + 1);
    body.push_str(msg);
    body.push('\n');
    Reply::full(status, Ctype::Text, body)
}

/// `{"status":"error","errorType":"422","error":"..."}`.
pub fn json_422(msg: &str) -> Reply {
    let mut out = Vec::with_capacity(msg.len() + 48);
    out.extend_from_slice(b"{\"status\":\"error\",\"errorType\":\"422\",\"error\":");
    json::push_str(&mut out, msg);
    out.push(b'}');
    Reply::full(422, Ctype::Json, out)
}

/// A bad request in the style of `ep`.
pub fn bad_request(ep: Endpoint, msg: &str) -> Reply {
    match ep {
        Endpoint::StatsQuery | Endpoint::StatsQueryRange => json_422(msg),
        _ => text_error(400, msg),
    }
}

/// VictoriaLogs' 503 for a request that waited too long for a slot.
pub fn queue_timeout(waited: Duration, knobs: &Knobs) -> Reply {
    let msg = format!(
        "couldn't start executing the request in {:.3} seconds, since -search.maxConcurrentRequests={} \
         concurrent requests are executed. Possible solutions: to reduce query load; to add more compute \
         resources to the server; to increase -search.maxQueueDuration={}; to increase \
         -search.maxQueryDuration={}; to increase -search.maxConcurrentRequests; to pass bigger value to \
         'timeout' query arg",
        waited.as_secs_f64(),
        knobs.max_concurrent,
        go_duration(knobs.max_queue),
        go_duration(knobs.max_query),
    );
    text_error(503, &msg)
}

/// An injected error with status `status`: 503 reads like the queue
/// timeout above, 422 on stats endpoints is JSON, anything else is a
/// text/plain message naming the knob.
pub fn injected(ep: Endpoint, status: u16, knobs: &Knobs) -> Reply {
    match (status, ep) {
        (503, _) => {
            let mut r = queue_timeout(Duration::ZERO, knobs);
            r.status = 503;
            r
        }
        (422, Endpoint::StatsQuery | Endpoint::StatsQueryRange) => {
            json_422("simulated error injected by vlbench target (config `errors`)")
        }
        _ => text_error(
            status,
            &format!("simulated HTTP {status} error injected by vlbench target (config `errors`)"),
        ),
    }
}

/// 400 for a path the target does not serve, as VictoriaLogs words it.
pub fn unsupported_path(path: &str) -> Reply {
    text_error(400, &format!("unsupported path requested: {path:?}"))
}

static HOSTNAME: HeaderName = HeaderName::from_static("x-server-hostname");
static NOSNIFF: HeaderName = HeaderName::from_static("x-content-type-options");

/// Builds the HTTP response with VictoriaLogs' headers. `cors` adds
/// `Access-Control-Allow-Origin: *` (select endpoints have it).
pub fn into_response(reply: Reply, cors: bool) -> Response<ResponseBody> {
    let mut resp = Response::new(reply.body);
    *resp.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let nosniff = reply.status >= 400 && reply.ctype == Ctype::Text;
    *resp.headers_mut() = header_set(reply.ctype, cors, nosniff);
    resp
}

/// The headers of a response: cloned from one of the prebuilt sets
/// (cheaper than hashing every insert per request).
fn header_set(ctype: Ctype, cors: bool, nosniff: bool) -> HeaderMap {
    static SETS: OnceLock<Vec<HeaderMap>> = OnceLock::new();
    let sets = SETS.get_or_init(|| {
        let mut sets = Vec::with_capacity(12);
        for ctype in [Ctype::Text, Ctype::Json, Ctype::StreamJson] {
            for cors in [false, true] {
                for nosniff in [false, true] {
                    sets.push(build_headers(ctype, cors, nosniff));
                }
            }
        }
        sets
    });
    let i = (ctype as usize) * 4 + usize::from(cors) * 2 + usize::from(nosniff);
    // `i` < 12 = sets.len() by construction; building one is the fallback.
    sets.get(i)
        .cloned()
        .unwrap_or_else(|| build_headers(ctype, cors, nosniff))
}

fn build_headers(ctype: Ctype, cors: bool, nosniff: bool) -> HeaderMap {
    let mut h = HeaderMap::with_capacity(6);
    if cors {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    }
    h.insert(CONTENT_TYPE, ctype.value());
    h.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    if nosniff {
        h.insert(NOSNIFF.clone(), HeaderValue::from_static("nosniff"));
    }
    h.insert(HOSTNAME.clone(), HeaderValue::from_static("vlbench-target"));
    h
}
