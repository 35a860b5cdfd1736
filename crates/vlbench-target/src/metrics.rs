//! Request counters, readable in-process and rendered on `/metrics`.
//!
//! Owns: the endpoint list, metric names (VictoriaLogs' own
//! `vl_http_requests_total`, `vl_http_request_duration_seconds_{sum,count}`,
//! `vl_http_errors_total`, `vl_concurrent_select_*`, plus
//! `vlbench_target_responses_total{path,status}` and
//! `vlbench_target_aborted_streams_total`) and their lock-free storage.
//! Every select request is recorded exactly once, when its response has
//! been completely handed to the connection or was cut (see `body.rs`).
//! Must not: decide statuses or timings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// The select endpoints the target serves (labels of the counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Endpoint {
    /// `/select/logsql/query`
    Query,
    /// `/select/logsql/stats_query`
    StatsQuery,
    /// `/select/logsql/stats_query_range`
    StatsQueryRange,
    /// `/select/logsql/hits`
    Hits,
    /// `/select/logsql/field_names`
    FieldNames,
    /// `/select/logsql/field_values`
    FieldValues,
    /// `/select/logsql/streams`
    Streams,
}

impl Endpoint {
    /// Every endpoint, in label order.
    pub const ALL: [Endpoint; 7] = [
        Endpoint::FieldNames,
        Endpoint::FieldValues,
        Endpoint::Hits,
        Endpoint::Query,
        Endpoint::StatsQuery,
        Endpoint::StatsQueryRange,
        Endpoint::Streams,
    ];

    /// The URL path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Query => "/select/logsql/query",
            Endpoint::StatsQuery => "/select/logsql/stats_query",
            Endpoint::StatsQueryRange => "/select/logsql/stats_query_range",
            Endpoint::Hits => "/select/logsql/hits",
            Endpoint::FieldNames => "/select/logsql/field_names",
            Endpoint::FieldValues => "/select/logsql/field_values",
            Endpoint::Streams => "/select/logsql/streams",
        }
    }

    /// The endpoint of a URL path.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        Endpoint::ALL.into_iter().find(|e| e.path() == path)
    }

    fn index(self) -> usize {
        self as usize
    }
}

const STATUS_MIN: u16 = 100;
const STATUS_SLOTS: usize = 500;

/// Counters of one endpoint.
struct PathCounters {
    requests: AtomicU64,
    errors: AtomicU64,
    duration_ns: AtomicU64,
    statuses: Box<[AtomicU64]>,
}

impl PathCounters {
    fn new() -> PathCounters {
        PathCounters {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            duration_ns: AtomicU64::new(0),
            statuses: (0..STATUS_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// All counters of a running target. Cheap to update from any thread.
pub struct Counters {
    paths: [PathCounters; 7],
    aborted: AtomicU64,
    concurrent: AtomicI64,
    limit_reached: AtomicU64,
    limit_timeout: AtomicU64,
    capacity: u64,
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Counters")
            .field("snapshot", &self.snapshot())
            .finish()
    }
}

/// A copy of the counters at one moment, for tests and the `demo` command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Completed (or aborted) requests per path.
    pub requests: BTreeMap<&'static str, u64>,
    /// Responses per (path, HTTP status).
    pub responses: BTreeMap<(&'static str, u16), u64>,
    /// Responses with status >= 400 or cut mid-stream, per path.
    pub errors: BTreeMap<&'static str, u64>,
    /// Streams cut mid-response.
    pub aborted_streams: u64,
    /// Requests that had to wait for a concurrency slot.
    pub limit_reached: u64,
    /// Requests answered 503 after waiting too long for a slot.
    pub limit_timeout: u64,
}

impl Snapshot {
    /// Total requests over all paths.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().sum()
    }
}

impl Counters {
    /// Zeroed counters; `capacity` is the concurrency limit shown on
    /// `/metrics` (0 when unlimited).
    pub fn new(capacity: u64) -> Counters {
        Counters {
            paths: std::array::from_fn(|_| PathCounters::new()),
            aborted: AtomicU64::new(0),
            concurrent: AtomicI64::new(0),
            limit_reached: AtomicU64::new(0),
            limit_timeout: AtomicU64::new(0),
            capacity,
        }
    }

    /// Records one finished request.
    pub fn record(&self, ep: Endpoint, status: u16, elapsed: Duration, aborted: bool) {
        let p = &self.paths[ep.index()];
        p.requests.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        p.duration_ns.fetch_add(ns, Ordering::Relaxed);
        if let Some(slot) = status
            .checked_sub(STATUS_MIN)
            .and_then(|i| p.statuses.get(usize::from(i)))
        {
            slot.fetch_add(1, Ordering::Relaxed);
        }
        if status >= 400 || aborted {
            p.errors.fetch_add(1, Ordering::Relaxed);
        }
        if aborted {
            self.aborted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request took a concurrency slot (`delta` = 1) or gave it back (-1).
    pub fn concurrent(&self, delta: i64) {
        self.concurrent.fetch_add(delta, Ordering::Relaxed);
    }

    /// A request found every slot busy.
    pub fn limit_reached(&self) {
        self.limit_reached.fetch_add(1, Ordering::Relaxed);
    }

    /// A request gave up waiting for a slot.
    pub fn limit_timeout(&self) {
        self.limit_timeout.fetch_add(1, Ordering::Relaxed);
    }

    /// A consistent-enough copy (each counter is read once).
    pub fn snapshot(&self) -> Snapshot {
        let mut s = Snapshot::default();
        for ep in Endpoint::ALL {
            let p = &self.paths[ep.index()];
            s.requests
                .insert(ep.path(), p.requests.load(Ordering::Relaxed));
            s.errors.insert(ep.path(), p.errors.load(Ordering::Relaxed));
            for (i, slot) in p.statuses.iter().enumerate() {
                let n = slot.load(Ordering::Relaxed);
                if n > 0 {
                    // i < STATUS_SLOTS (500), so it fits in u16.
                    s.responses.insert((ep.path(), STATUS_MIN + i as u16), n);
                }
            }
        }
        s.aborted_streams = self.aborted.load(Ordering::Relaxed);
        s.limit_reached = self.limit_reached.load(Ordering::Relaxed);
        s.limit_timeout = self.limit_timeout.load(Ordering::Relaxed);
        s
    }

    /// Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let _ = writeln!(out, "vl_concurrent_select_capacity {}", self.capacity);
        let _ = writeln!(
            out,
            "vl_concurrent_select_current {}",
            self.concurrent.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "vl_concurrent_select_limit_reached_total {}",
            self.limit_reached.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "vl_concurrent_select_limit_timeout_total {}",
            self.limit_timeout.load(Ordering::Relaxed)
        );
        for ep in Endpoint::ALL {
            let p = &self.paths[ep.index()];
            let _ = writeln!(
                out,
                "vl_http_errors_total{{path=\"{}\"}} {}",
                ep.path(),
                p.errors.load(Ordering::Relaxed)
            );
        }
        for ep in Endpoint::ALL {
            let p = &self.paths[ep.index()];
            let secs = p.duration_ns.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(
                out,
                "vl_http_request_duration_seconds_sum{{path=\"{}\"}} {secs}",
                ep.path()
            );
            let _ = writeln!(
                out,
                "vl_http_request_duration_seconds_count{{path=\"{}\"}} {}",
                ep.path(),
                p.requests.load(Ordering::Relaxed)
            );
        }
        for ep in Endpoint::ALL {
            let p = &self.paths[ep.index()];
            let _ = writeln!(
                out,
                "vl_http_requests_total{{path=\"{}\"}} {}",
                ep.path(),
                p.requests.load(Ordering::Relaxed)
            );
        }
        let snap = self.snapshot();
        for ((path, status), n) in &snap.responses {
            let _ = writeln!(
                out,
                "vlbench_target_responses_total{{path=\"{path}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "vlbench_target_aborted_streams_total {}",
            snap.aborted_streams
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_once_per_request_and_renders() {
        let c = Counters::new(4);
        c.record(Endpoint::Query, 200, Duration::from_millis(2), false);
        c.record(Endpoint::Query, 503, Duration::from_millis(1), false);
        c.record(Endpoint::Hits, 200, Duration::from_millis(1), true);
        let s = c.snapshot();
        assert_eq!(s.requests["/select/logsql/query"], 2);
        assert_eq!(s.responses[&("/select/logsql/query", 503)], 1);
        assert_eq!(s.errors["/select/logsql/hits"], 1);
        assert_eq!(s.aborted_streams, 1);
        assert_eq!(s.total_requests(), 3);
        let text = c.render();
        assert!(text.contains("vl_http_requests_total{path=\"/select/logsql/query\"} 2\n"));
        assert!(text.contains(
            "vlbench_target_responses_total{path=\"/select/logsql/query\",status=\"503\"} 1\n"
        ));
        assert!(text
            .contains("vl_http_request_duration_seconds_count{path=\"/select/logsql/hits\"} 1\n"));
        assert!(text.contains("vlbench_target_aborted_streams_total 1\n"));
        assert!(text.contains("vl_concurrent_select_capacity 4\n"));
    }
}
