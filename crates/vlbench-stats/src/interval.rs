//! One span of measurements: per-query stats plus the schedule ledger.
//! Merging is exact (histogram adds and counter sums), so intervals from
//! shards, seconds and nodes combine into true percentiles (SPEC B-1).
//!
//! Must not: know about wall-clock time or sequence numbers (see `wire`).

use hdrhistogram::Histogram;

use crate::hist::{merge_hist, new_histogram};
use crate::query::QueryStats;

/// Schedule ledger for one interval: how much of the asked load was applied.
/// It tells "the target was slow" apart from "the generator could not keep up".
#[derive(Clone, Debug, PartialEq)]
pub struct Ledger {
    /// Arrivals/requests the schedule asked for.
    pub planned: u64,
    /// Requests actually sent.
    pub sent: u64,
    /// Requests finished (ok or failed).
    pub completed: u64,
    /// Arrivals dropped because `max_in_flight` was reached.
    pub dropped: u64,
    /// Real send time minus intended send time, µs.
    pub lag: Histogram<u64>,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger::new()
    }
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Self {
        Ledger {
            planned: 0,
            sent: 0,
            completed: 0,
            dropped: 0,
            lag: new_histogram(),
        }
    }

    /// Exact merge: counter sums and histogram add.
    pub fn merge(&mut self, other: &Ledger) {
        self.planned += other.planned;
        self.sent += other.sent;
        self.completed += other.completed;
        self.dropped += other.dropped;
        merge_hist(&mut self.lag, &other.lag);
    }

    /// Zeroes in place, keeping the histogram's allocation.
    pub fn reset(&mut self) {
        self.planned = 0;
        self.sent = 0;
        self.completed = 0;
        self.dropped = 0;
        self.lag.reset();
    }
}

/// Everything measured in one span: per query (in the workload's order) and
/// the ledger.
#[derive(Clone, Debug, PartialEq)]
pub struct IntervalStats {
    /// One entry per workload query, by index.
    pub queries: Vec<QueryStats>,
    /// What the schedule asked for and what was done.
    pub ledger: Ledger,
}

impl IntervalStats {
    /// Empty stats for a workload of `n_queries` queries.
    pub fn new(n_queries: usize) -> Self {
        IntervalStats {
            queries: (0..n_queries).map(|_| QueryStats::new()).collect(),
            ledger: Ledger::new(),
        }
    }

    /// Adds `other` in: exact histogram adds and counter sums. If `other`
    /// knows more queries than `self` (a newer workload), `self` grows.
    pub fn merge(&mut self, other: &IntervalStats) {
        if other.queries.len() > self.queries.len() {
            self.queries
                .resize_with(other.queries.len(), QueryStats::new);
        }
        for (a, b) in self.queries.iter_mut().zip(&other.queries) {
            a.merge(b);
        }
        self.ledger.merge(&other.ledger);
    }

    /// All queries merged into one: the run-wide figures.
    pub fn total(&self) -> QueryStats {
        let mut total = QueryStats::new();
        for q in &self.queries {
            total.merge(q);
        }
        total
    }

    /// Zeroes everything in place, keeping allocations.
    pub fn reset(&mut self) {
        for q in &mut self.queries {
            q.reset();
        }
        self.ledger.reset();
    }

    /// True when nothing at all was counted (no request, no plan, no drop).
    pub fn is_empty(&self) -> bool {
        let l = &self.ledger;
        l.planned == 0
            && l.sent == 0
            && l.completed == 0
            && l.dropped == 0
            && l.lag.is_empty()
            && self
                .queries
                .iter()
                .all(|q| q.total() == 0 && q.dropped == 0 && q.statuses.total() == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::class::ErrorClass;
    use crate::query::Outcome;

    fn outcome(query: usize, latency_us: u64) -> Outcome {
        Outcome {
            query,
            latency_us,
            service_us: latency_us,
            status: 200,
            error: None,
            bytes: 1,
            rows: 1,
        }
    }

    #[test]
    fn merge_adds_queries_and_ledger() {
        let mut a = IntervalStats::new(2);
        let mut b = IntervalStats::new(2);
        a.queries[0].record(&outcome(0, 100));
        b.queries[1].record(&outcome(1, 200));
        b.queries[1].errors[ErrorClass::Timeout.index()] += 1;
        a.ledger.planned = 3;
        b.ledger.planned = 4;
        b.ledger.lag.record(50).unwrap();
        a.merge(&b);
        assert_eq!(a.queries[0].ok, 1);
        assert_eq!(a.queries[1].ok, 1);
        assert_eq!(a.queries[1].failed(), 1);
        assert_eq!(a.ledger.planned, 7);
        assert_eq!(a.ledger.lag.len(), 1);
    }

    #[test]
    fn merge_grows_to_the_longer_query_list() {
        let mut a = IntervalStats::new(1);
        let mut b = IntervalStats::new(3);
        b.queries[2].record(&outcome(2, 10));
        a.merge(&b);
        assert_eq!(a.queries.len(), 3);
        assert_eq!(a.queries[2].ok, 1);
    }

    #[test]
    fn total_merges_every_query() {
        let mut a = IntervalStats::new(3);
        for q in 0..3 {
            a.queries[q].record(&outcome(q, 1000 * (q as u64 + 1)));
        }
        let t = a.total();
        assert_eq!(t.ok, 3);
        assert_eq!(t.latency.len(), 3);
        assert!(t.latency.equivalent(t.latency.max(), 3000));
    }

    #[test]
    fn reset_returns_to_new() {
        let mut a = IntervalStats::new(2);
        a.queries[1].record(&outcome(1, 10));
        a.ledger.sent = 1;
        a.ledger.lag.record(5).unwrap();
        assert!(!a.is_empty());
        a.reset();
        assert_eq!(a, IntervalStats::new(2));
        assert!(a.is_empty());
    }
}
