//! The per-shard recorder: the hot path. Each engine thread owns one; it
//! counts into a local [`IntervalStats`] and hands the whole interval over
//! once a second with a swap (convention 2: aggregates, never one message per
//! request).
//!
//! Must not: allocate or lock in `record`/`planned`/`sent`/`dropped`, or be
//! shared between threads.

use crate::hist::record_clamped;
use crate::interval::IntervalStats;
use crate::query::{Outcome, QueryStats};

/// One shard's recorder (one per engine thread, not shared).
#[derive(Debug)]
pub struct Recorder {
    current: IntervalStats,
}

impl Recorder {
    /// A recorder for a workload of `n_queries` queries. All allocation
    /// happens here (histograms are fixed-size).
    pub fn new(n_queries: usize) -> Self {
        Recorder {
            current: IntervalStats::new(n_queries),
        }
    }

    /// Counts one finished request. No allocation; latencies above
    /// [`crate::HIST_MAX_US`] are clamped. An out-of-range `o.query` is an
    /// engine bug: caught in debug builds, ignored in release.
    #[inline]
    pub fn record(&mut self, o: &Outcome) {
        debug_assert!(
            o.query < self.current.queries.len(),
            "query index {} out of range",
            o.query
        );
        if let Some(q) = self.current.queries.get_mut(o.query) {
            q.record(o);
            self.current.ledger.completed += 1;
        }
    }

    /// The schedule asked for `n` more arrivals/requests.
    #[inline]
    pub fn planned(&mut self, n: u64) {
        self.current.ledger.planned += n;
    }

    /// One request was sent `lag_us` after its intended time.
    #[inline]
    pub fn sent(&mut self, lag_us: u64) {
        self.current.ledger.sent += 1;
        record_clamped(&mut self.current.ledger.lag, lag_us);
    }

    /// One arrival for `query` was dropped (open model, `max_in_flight`).
    #[inline]
    pub fn dropped(&mut self, query: usize) {
        debug_assert!(
            query < self.current.queries.len(),
            "query index {query} out of range"
        );
        if let Some(q) = self.current.queries.get_mut(query) {
            q.dropped += 1;
        }
        self.current.ledger.dropped += 1;
    }

    /// The interval counted so far (read-only; for tests and live peeks).
    pub fn current(&self) -> &IntervalStats {
        &self.current
    }

    /// Moves the current interval out into `into` (which is reset first) and
    /// starts a new one, reusing allocations: a swap, no allocation once
    /// `into` has the recorder's shape (the first call may size it).
    pub fn swap_into(&mut self, into: &mut IntervalStats) {
        into.reset();
        let n = self.current.queries.len();
        if into.queries.len() != n {
            into.queries.truncate(n);
            into.queries.resize_with(n, QueryStats::new);
        }
        std::mem::swap(&mut self.current, into);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::ErrorClass;
    use crate::hist::HIST_MAX_US;

    fn outcome(query: usize, latency_us: u64, error: Option<ErrorClass>) -> Outcome {
        Outcome {
            query,
            latency_us,
            service_us: latency_us / 2,
            status: 200,
            error,
            bytes: 5,
            rows: 1,
        }
    }

    #[test]
    fn records_planned_sent_dropped() {
        let mut r = Recorder::new(2);
        r.planned(3);
        r.sent(10);
        r.sent(20);
        r.dropped(1);
        r.record(&outcome(0, 1000, None));
        r.record(&outcome(1, 2000, Some(ErrorClass::Timeout)));
        let c = r.current();
        assert_eq!(
            (
                c.ledger.planned,
                c.ledger.sent,
                c.ledger.completed,
                c.ledger.dropped
            ),
            (3, 2, 2, 1)
        );
        assert_eq!(c.ledger.lag.len(), 2);
        assert_eq!(c.queries[0].ok, 1);
        assert_eq!(c.queries[1].errors[ErrorClass::Timeout.index()], 1);
        assert_eq!(c.queries[1].dropped, 1);
    }

    #[test]
    fn out_of_range_latency_is_clamped_not_an_error() {
        let mut r = Recorder::new(1);
        r.record(&outcome(0, u64::MAX, None));
        r.record(&outcome(0, HIST_MAX_US + 1, None));
        r.sent(u64::MAX);
        let q = &r.current().queries[0];
        assert_eq!(q.latency.len(), 2);
        assert_eq!(q.latency.count_at(HIST_MAX_US), 2);
        assert!(q.latency.equivalent(q.latency.max(), HIST_MAX_US));
        assert_eq!(r.current().ledger.lag.count_at(HIST_MAX_US), 1);
    }

    #[test]
    fn swap_into_moves_the_interval_and_starts_fresh() {
        let mut r = Recorder::new(2);
        r.record(&outcome(1, 500, None));
        let mut out = IntervalStats::new(2);
        out.ledger.planned = 99; // stale content must be reset
        r.swap_into(&mut out);
        assert_eq!(out.queries[1].ok, 1);
        assert_eq!(out.ledger.planned, 0);
        assert_eq!(out.ledger.completed, 1);
        assert_eq!(r.current(), &IntervalStats::new(2));
        r.record(&outcome(0, 500, None));
        r.swap_into(&mut out);
        assert_eq!(out.queries[0].ok, 1);
        assert_eq!(out.queries[1].ok, 0);
    }

    #[test]
    fn swap_into_sizes_a_mismatched_target() {
        let mut r = Recorder::new(3);
        r.record(&outcome(2, 500, None));
        let mut out = IntervalStats::new(1);
        r.swap_into(&mut out);
        assert_eq!(out.queries.len(), 3);
        assert_eq!(r.current().queries.len(), 3);
        assert_eq!(out.queries[2].ok, 1);
    }
}
