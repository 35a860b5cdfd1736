//! Interval statistics with [`SparseHist`] histograms: the form in which a
//! coordinator receives and accumulates reports. Same JSON as
//! [`IntervalStats`] / [`IntervalReport`] (either side can read what the
//! other wrote), same counters, and exact conversions both ways; merging
//! costs in proportion to the recorded buckets, not the histogram size.
//!
//! Must not: know about nodes, tasks or time (callers do), do I/O.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::class::ErrorClass;
use crate::interval::{IntervalStats, Ledger};
use crate::query::{QueryStats, StatusCounts};
use crate::sparse::SparseHist;
use crate::wire::{errors_array, errors_map, IntervalReport};

/// [`QueryStats`] with sparse histograms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseQueryStats {
    /// Every completed request, ok or failed, in µs.
    pub latency: SparseHist,
    /// Service time of every completed request, in µs.
    pub service: SparseHist,
    /// Successful requests.
    #[serde(default)]
    pub ok: u64,
    /// Failed requests by [`ErrorClass::index`].
    #[serde(default, serialize_with = "ser_errors", deserialize_with = "de_errors")]
    pub errors: [u64; 6],
    /// Count per HTTP status.
    #[serde(default)]
    pub statuses: StatusCounts,
    /// Open model: arrivals not sent because `max_in_flight` was reached.
    #[serde(default)]
    pub dropped: u64,
    /// Body bytes received.
    #[serde(default)]
    pub bytes: u64,
    /// JSON lines received.
    #[serde(default)]
    pub rows: u64,
}

fn ser_errors<S: Serializer>(e: &[u64; 6], s: S) -> Result<S::Ok, S::Error> {
    errors_map(e).serialize(s)
}

fn de_errors<'de, D: Deserializer<'de>>(d: D) -> Result<[u64; 6], D::Error> {
    Ok(errors_array(&BTreeMap::<ErrorClass, u64>::deserialize(d)?))
}

impl SparseQueryStats {
    /// Failed requests, all classes.
    pub fn failed(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Requests that completed (ok + failed).
    pub fn total(&self) -> u64 {
        self.ok + self.failed()
    }

    /// Exact merge: histogram adds and counter sums.
    pub fn merge(&mut self, other: &SparseQueryStats) {
        self.latency.merge(&other.latency);
        self.service.merge(&other.service);
        self.add_counters(other);
    }

    /// Adds `other`'s counters, not its histograms.
    pub(crate) fn add_counters(&mut self, other: &SparseQueryStats) {
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.statuses.merge(&other.statuses);
        self.dropped += other.dropped;
        self.bytes += other.bytes;
        self.rows += other.rows;
    }

    /// Adds these stats into full ones (one `record_n` per bucket).
    pub fn merge_into(&self, q: &mut QueryStats) {
        self.latency.merge_into(&mut q.latency);
        self.service.merge_into(&mut q.service);
        q.ok += self.ok;
        for (a, b) in q.errors.iter_mut().zip(self.errors) {
            *a += b;
        }
        q.statuses.merge(&self.statuses);
        q.dropped += self.dropped;
        q.bytes += self.bytes;
        q.rows += self.rows;
    }

    /// The sparse form of `q` (walks its histograms: not for hot paths).
    pub fn from_stats(q: &QueryStats) -> Self {
        SparseQueryStats {
            latency: SparseHist::from_histogram(&q.latency),
            service: SparseHist::from_histogram(&q.service),
            ok: q.ok,
            errors: q.errors,
            statuses: q.statuses.clone(),
            dropped: q.dropped,
            bytes: q.bytes,
            rows: q.rows,
        }
    }
}

/// [`Ledger`] with a sparse lag histogram.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseLedger {
    /// Arrivals/requests the schedule asked for.
    #[serde(default)]
    pub planned: u64,
    /// Requests actually sent.
    #[serde(default)]
    pub sent: u64,
    /// Requests finished (ok or failed).
    #[serde(default)]
    pub completed: u64,
    /// Arrivals dropped because `max_in_flight` was reached.
    #[serde(default)]
    pub dropped: u64,
    /// Real send time minus intended send time, µs.
    pub lag: SparseHist,
}

impl SparseLedger {
    /// Exact merge.
    pub fn merge(&mut self, other: &SparseLedger) {
        self.add_counters(other);
        self.lag.merge(&other.lag);
    }

    /// Adds `other`'s counters, not its lag histogram.
    pub(crate) fn add_counters(&mut self, other: &SparseLedger) {
        self.planned += other.planned;
        self.sent += other.sent;
        self.completed += other.completed;
        self.dropped += other.dropped;
    }

    fn merge_into(&self, l: &mut Ledger) {
        l.planned += self.planned;
        l.sent += self.sent;
        l.completed += self.completed;
        l.dropped += self.dropped;
        self.lag.merge_into(&mut l.lag);
    }
}

/// [`IntervalStats`] with sparse histograms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SparseIntervalStats {
    /// One entry per workload query, by index.
    pub queries: Vec<SparseQueryStats>,
    /// What the schedule asked for and what was done.
    pub ledger: SparseLedger,
}

impl SparseIntervalStats {
    /// Empty stats for `n_queries` queries (no histogram allocation).
    pub fn new(n_queries: usize) -> Self {
        SparseIntervalStats {
            queries: vec![SparseQueryStats::default(); n_queries],
            ledger: SparseLedger::default(),
        }
    }

    /// Adds `other` in exactly; grows to `other`'s query count like
    /// [`IntervalStats::merge`].
    pub fn merge(&mut self, other: &SparseIntervalStats) {
        if other.queries.len() > self.queries.len() {
            self.queries
                .resize_with(other.queries.len(), SparseQueryStats::default);
        }
        for (a, b) in self.queries.iter_mut().zip(&other.queries) {
            a.merge(b);
        }
        self.ledger.merge(&other.ledger);
    }

    /// Adds these stats into full ones (which grow to this query count).
    pub fn merge_into(&self, s: &mut IntervalStats) {
        if self.queries.len() > s.queries.len() {
            s.queries.resize_with(self.queries.len(), QueryStats::new);
        }
        for (q, full) in self.queries.iter().zip(s.queries.iter_mut()) {
            q.merge_into(full);
        }
        self.ledger.merge_into(&mut s.ledger);
    }

    /// The full form (allocates the full histograms).
    pub fn to_stats(&self) -> IntervalStats {
        let mut s = IntervalStats::new(self.queries.len());
        self.merge_into(&mut s);
        s
    }

    /// The sparse form of `s` (walks its histograms: not for hot paths).
    pub fn from_stats(s: &IntervalStats) -> Self {
        SparseIntervalStats {
            queries: s.queries.iter().map(SparseQueryStats::from_stats).collect(),
            ledger: SparseLedger {
                planned: s.ledger.planned,
                sent: s.ledger.sent,
                completed: s.ledger.completed,
                dropped: s.ledger.dropped,
                lag: SparseHist::from_histogram(&s.ledger.lag),
            },
        }
    }
}

/// [`IntervalReport`] with sparse histograms: same JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SparseIntervalReport {
    /// 0, 1, 2, ...: second index since the run's start.
    pub seq: u64,
    /// Wall-clock start of the interval, ms since the Unix epoch.
    pub start_unix_ms: u64,
    /// Normally 1000; the last interval may be shorter.
    pub duration_ms: u64,
    /// What was measured.
    pub stats: SparseIntervalStats,
}

impl SparseIntervalReport {
    /// The sparse form of `r` (walks its histograms: not for hot paths).
    pub fn from_report(r: &IntervalReport) -> Self {
        SparseIntervalReport {
            seq: r.seq,
            start_unix_ms: r.start_unix_ms,
            duration_ms: r.duration_ms,
            stats: SparseIntervalStats::from_stats(&r.stats),
        }
    }

    /// The full form.
    pub fn to_report(&self) -> IntervalReport {
        IntervalReport {
            seq: self.seq,
            start_unix_ms: self.start_unix_ms,
            duration_ms: self.duration_ms,
            stats: self.stats.to_stats(),
        }
    }
}
