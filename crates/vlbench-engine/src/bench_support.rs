//! Hooks for the crate's benchmarks only (hidden from docs, not a stable
//! API): the real per-request step of a shard, callable one request at a
//! time, so criterion can time render → send → stream body → record; and
//! the hot functions of the HTTP/1.1 client one by one (request build,
//! response head parse, chunked decode with row counting).
//!
//! Must not be used by other crates.

use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::SeedableRng;
use vlbench_stats::IntervalStats;
use vlbench_workload::Workload;

use crate::body::{Decode, Expect, Scan};
use crate::chunked::Chunked;
use crate::client::{Client, Line, Prepared};
use crate::error::EngineError;
use crate::options::TargetOptions;
use crate::shard::{Job, Mode, Shard};

/// One shard's request path with one keep-alive connection.
pub struct OneConnection {
    shard: Rc<Shard>,
    line: Line,
    /// Wait for answers in the kernel, as a shard's only user does.
    direct: bool,
}

impl OneConnection {
    /// A shard for `target` and `workload` (call inside a tokio runtime).
    pub fn new(target: &TargetOptions, workload: Arc<Workload>) -> Result<Self, EngineError> {
        let n = workload.len();
        let client = Client::new(target, workload)?;
        let mode = Mode::Closed {
            think: Duration::ZERO,
            capped: false,
        };
        let shard = Shard::new(client, n, SmallRng::seed_from_u64(1), mode, 0);
        Ok(OneConnection {
            shard: Rc::new(shard),
            line: Line::default(),
            direct: false,
        })
    }

    /// Whether answers are waited for in the kernel (a direct wait, as
    /// when the user is its shard's only worker) or through the runtime.
    pub fn set_direct(&mut self, direct: bool) {
        self.direct = direct && self.shard.client.may_wait_directly();
    }

    /// One request exactly as a closed-model user makes it, recorded.
    pub async fn request(&mut self) {
        let job = Job {
            query: self.shard.pick(),
            intended: None,
            lag_from: Instant::now(),
            slot_wait: None,
        };
        self.shard.execute(&mut self.line, job, self.direct).await;
    }

    /// Everything recorded so far (moved out).
    pub fn take_stats(&self) -> IntervalStats {
        let mut out = IntervalStats::new(0);
        self.shard.recorder.borrow_mut().swap_into(&mut out);
        out
    }
}

/// Parses a response head as the client does; its length, `None` when
/// incomplete or invalid.
pub fn parse_head(wire: &[u8]) -> Option<usize> {
    let parsed = crate::h1::parse_head(wire, Expect::JsonLines, 0).ok()??;
    Some(parsed.0.len)
}

/// The client's memo of the last response head: `HeadMemo::parse` as a
/// shard calls it for every response.
#[derive(Default)]
pub struct HeadMemoBench(crate::h1::HeadMemo);

impl HeadMemoBench {
    /// Parses (or recalls) a response head; its length, `None` when
    /// incomplete or invalid.
    pub fn parse(&self, wire: &[u8]) -> Option<usize> {
        let parsed = self.0.parse(wire, Expect::JsonLines, 0).ok()??;
        Some(parsed.0.len)
    }
}

/// Decodes a whole chunked JSON-lines body, counting rows as the client
/// does: `(body bytes, rows)`, `None` when the framing is invalid.
pub fn chunked_rows(wire: &[u8]) -> Option<(u64, u64)> {
    let scan = Scan::new(Expect::JsonLines, b"application/stream+json", 0);
    let mut decode = Decode::new(scan, false);
    let mut bytes = 0u64;
    let mut chunked = Chunked::default();
    chunked
        .feed(wire, |d| {
            bytes += d.len() as u64;
            decode.feed(d);
        })
        .ok()?;
    let rows = decode.finish()?.rows();
    Some((bytes, rows))
}

/// Builds request heads exactly as a shard does before each send.
pub struct RequestBuilder {
    client: Client,
    rng: SmallRng,
    scratch: String,
}

impl RequestBuilder {
    /// A builder for `target` and `workload`.
    pub fn new(target: &TargetOptions, workload: Arc<Workload>) -> Result<Self, EngineError> {
        Ok(RequestBuilder {
            client: Client::new(target, workload)?,
            rng: SmallRng::seed_from_u64(1),
            scratch: String::with_capacity(256),
        })
    }

    /// Prepares query `q`'s next request; its head length (0 for a
    /// prebuilt head or HTTP/2), `None` when it cannot be sent.
    pub fn build(&mut self, q: usize) -> Option<usize> {
        let req = self.client.prepare(q, &mut self.rng, &mut self.scratch)?;
        let len = match &req {
            Prepared::H1 { len, .. } => *len,
            _ => 0,
        };
        self.client.recycle(req);
        Some(len)
    }
}
