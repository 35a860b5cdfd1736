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
use crate::query::{
    read_status_map, QueryStats, StatusCounts, OTHER_STATUS_KEY, STATUS_MAX, STATUS_MIN,
};
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
    pub statuses: SparseStatuses,
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
        self.statuses.merge_into(&mut q.statuses);
        q.dropped += self.dropped;
        q.bytes += self.bytes;
        q.rows += self.rows;
    }

    /// The full form (allocates its two full histograms).
    pub fn to_stats(&self) -> QueryStats {
        let mut q = QueryStats::new();
        self.merge_into(&mut q);
        q
    }

    /// The sparse form of `q` (walks its histograms: not for hot paths).
    pub fn from_stats(q: &QueryStats) -> Self {
        SparseQueryStats {
            latency: SparseHist::from_histogram(&q.latency),
            service: SparseHist::from_histogram(&q.service),
            ok: q.ok,
            errors: q.errors,
            statuses: SparseStatuses::from_counts(&q.statuses),
            dropped: q.dropped,
            bytes: q.bytes,
            rows: q.rows,
        }
    }
}

/// [`StatusCounts`] holding only the statuses seen: same JSON, same
/// validation. A `StatusCounts` is a 4 KiB array (one counter per status,
/// so the worker's recording is an index); decoding, moving and merging
/// 4 KiB per query per report was a tenth of the coordinator's time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparseStatuses {
    /// (status, count) by ascending status, counts non-zero, statuses in
    /// 100..=599.
    counts: Vec<(u16, u64)>,
    /// Responses whose status is outside 100..=599.
    other: u64,
}

impl SparseStatuses {
    /// The statuses counted in `c`.
    pub fn from_counts(c: &StatusCounts) -> Self {
        SparseStatuses {
            counts: c.iter().collect(),
            other: c.other(),
        }
    }

    /// How many responses had `status` (0 outside 100..=599: see `other`).
    pub fn get(&self, status: u16) -> u64 {
        self.counts
            .binary_search_by_key(&status, |&(s, _)| s)
            .map_or(0, |k| self.counts[k].1)
    }

    /// Adds `n` responses with `status` (0 = no response: ignored).
    pub fn add(&mut self, status: u16, n: u64) {
        if status == 0 || n == 0 {
            return;
        }
        if !STATUS_RANGE.contains(&status) {
            self.other = self.other.saturating_add(n);
            return;
        }
        match self.counts.binary_search_by_key(&status, |&(s, _)| s) {
            Ok(k) => self.counts[k].1 = self.counts[k].1.saturating_add(n),
            Err(k) => self.counts.insert(k, (status, n)),
        }
    }

    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &SparseStatuses) {
        for &(s, n) in &other.counts {
            self.add(s, n);
        }
        self.other = self.other.saturating_add(other.other);
    }

    /// Adds these counts into a full [`StatusCounts`].
    pub fn merge_into(&self, c: &mut StatusCounts) {
        for &(s, n) in &self.counts {
            c.add(s, n);
        }
        c.add_other(self.other);
    }
}

/// The statuses with a counter of their own in [`StatusCounts`].
const STATUS_RANGE: std::ops::RangeInclusive<u16> = STATUS_MIN..=STATUS_MAX;

impl Serialize for SparseStatuses {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let extra = usize::from(self.other > 0);
        let mut map = s.serialize_map(Some(self.counts.len() + extra))?;
        // 3-digit keys in numeric order are in text order, before "other":
        // the order of `StatusCounts::to_map`.
        for (status, n) in &self.counts {
            map.serialize_entry(&status.to_string(), n)?;
        }
        if self.other > 0 {
            map.serialize_entry(OTHER_STATUS_KEY, &self.other)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SparseStatuses {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = SparseStatuses::default();
        read_status_map(d, |status, n| match status {
            Some(status) => out.add(status, n),
            None => out.other = out.other.saturating_add(n),
        })?;
        Ok(out)
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

    /// The full form (allocates the full lag histogram).
    pub fn to_ledger(&self) -> Ledger {
        let mut l = Ledger::default();
        self.merge_into(&mut l);
        l
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

    /// All queries merged into one.
    pub fn total(&self) -> SparseQueryStats {
        let mut all = SparseQueryStats::default();
        for q in &self.queries {
            all.merge(q);
        }
        all
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_have_the_json_and_errors_of_status_counts() {
        let mut full = StatusCounts::default();
        for (status, n) in [(200, 5), (503, 2), (422, 1), (0, 9), (99, 3), (600, 4)] {
            full.add(status, n);
        }
        let sparse = SparseStatuses::from_counts(&full);
        let json = serde_json::to_string(&full).unwrap();
        assert_eq!(serde_json::to_string(&sparse).unwrap(), json);
        assert_eq!(
            serde_json::from_str::<SparseStatuses>(&json).unwrap(),
            sparse
        );
        assert_eq!((sparse.get(503), sparse.get(404)), (2, 0));
        let mut back = StatusCounts::default();
        sparse.merge_into(&mut back);
        assert_eq!(back, full);
        let mut twice = sparse.clone();
        twice.merge(&sparse);
        let mut both = full.clone();
        both.merge(&full);
        assert_eq!(twice, SparseStatuses::from_counts(&both));
        for bad in [r#"{"700":1}"#, r#"{"abc":1}"#] {
            let a = serde_json::from_str::<SparseStatuses>(bad).unwrap_err();
            let b = serde_json::from_str::<StatusCounts>(bad).unwrap_err();
            assert_eq!(a.to_string(), b.to_string());
        }
    }
}
