//! Many sparse histograms added into one, cheaply: [`SparseAcc`].
//!
//! [`SparseHist::merge`] costs one pass over both histograms whenever the
//! added one brings a new bucket. An accumulator that takes hundreds of
//! small histograms (a node's whole run, or one second of a 200-node
//! fleet) therefore paid its own size again and again: most of the
//! coordinator's merging time (issue 6.4). Here an added bucket that the
//! accumulator already has is counted in place (a binary search); a new
//! one is appended to a pending list; once that holds a quarter of the
//! accumulated buckets (at least [`PENDING_MIN`]), it is sorted, coalesced
//! and joined in one pass. Each added bucket then costs O(log n)
//! amortised, and the pending list stays a fraction of the histogram's
//! size.
//!
//! Must not: answer figures itself (take [`SparseAcc::to_hist`]).

use crate::sparse::SparseHist;
use crate::sparse_stats::{SparseIntervalStats, SparseQueryStats};

/// An exact accumulator of sparse histograms: what a
/// [`SparseIntervalAcc`] keeps each histogram in. [`SparseAcc`] costs
/// memory in proportion to its buckets (per node, for a whole run);
/// [`crate::DenseAcc`] counts in place (the few busiest accumulators).
pub trait HistAcc: Clone + Default {
    /// Adds `h` in.
    fn add(&mut self, h: &SparseHist);
    /// Everything added, as one histogram.
    fn to_hist(&self) -> SparseHist;
    /// Adds everything added into `out`.
    fn merge_into(&self, out: &mut SparseHist);
}

/// Pending buckets below which no compaction happens.
pub const PENDING_MIN: usize = 256;

/// A [`SparseHist`] accumulator with amortised cheap adds. Exact: its
/// [`to_hist`](SparseAcc::to_hist) equals merging every added histogram.
#[derive(Clone, Debug, Default)]
pub struct SparseAcc {
    base: SparseHist,
    /// (index, count) pairs added since the last compaction, any order.
    pending: Vec<(u32, u64)>,
}

impl SparseAcc {
    /// An empty accumulator (no allocation).
    pub fn new() -> Self {
        SparseAcc::default()
    }

    /// Adds `h` in.
    pub fn add(&mut self, h: &SparseHist) {
        // `h`'s buckets ascend: each search starts where the last ended.
        let mut from = 0;
        for (i, c) in h.iter() {
            match self.base.find_from(from, i) {
                Ok(p) => {
                    self.base.add_at_position(p, c);
                    from = p + 1;
                }
                Err(p) => {
                    self.pending.push((i, c));
                    from = p;
                }
            }
        }
        if self.pending.len() >= (self.base.buckets() / 4).max(PENDING_MIN) {
            self.compact();
        }
    }

    /// Values added so far.
    pub fn len(&self) -> u64 {
        self.pending
            .iter()
            .fold(self.base.len(), |a, &(_, c)| a.saturating_add(c))
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Folds the pending buckets into the histogram.
    pub fn compact(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.base.merge(&coalesce(&mut self.pending));
        self.pending.clear();
    }

    /// Everything added, as one histogram.
    pub fn to_hist(&self) -> SparseHist {
        let mut out = self.base.clone();
        if !self.pending.is_empty() {
            out.merge(&coalesce(&mut self.pending.clone()));
        }
        out
    }

    /// Adds everything added to `self` into `out`.
    pub fn merge_into(&self, out: &mut SparseHist) {
        out.merge(&self.base);
        if !self.pending.is_empty() {
            out.merge(&coalesce(&mut self.pending.clone()));
        }
    }
}

impl HistAcc for SparseAcc {
    fn add(&mut self, h: &SparseHist) {
        SparseAcc::add(self, h);
    }

    fn to_hist(&self) -> SparseHist {
        SparseAcc::to_hist(self)
    }

    fn merge_into(&self, out: &mut SparseHist) {
        SparseAcc::merge_into(self, out);
    }
}

/// [`SparseIntervalStats`] accumulated with an accumulator `A` per
/// histogram: with [`SparseAcc`], a node's whole run at the coordinator;
/// with [`crate::DenseAcc`], one second of the fleet.
#[derive(Clone, Debug, Default)]
pub struct SparseIntervalAcc<A: HistAcc = SparseAcc> {
    /// Counters; the histograms here stay empty (they are in the accs).
    counters: SparseIntervalStats,
    latency: Vec<A>,
    service: Vec<A>,
    lag: A,
}

impl<A: HistAcc> SparseIntervalAcc<A> {
    /// Empty, for `n_queries` queries (grows like [`SparseIntervalStats::merge`]).
    pub fn new(n_queries: usize) -> Self {
        SparseIntervalAcc {
            counters: SparseIntervalStats::new(n_queries),
            latency: vec![A::default(); n_queries],
            service: vec![A::default(); n_queries],
            lag: A::default(),
        }
    }

    /// Adds `s` in.
    pub fn add(&mut self, s: &SparseIntervalStats) {
        let n = s.queries.len();
        if n > self.counters.queries.len() {
            self.counters
                .queries
                .resize_with(n, SparseQueryStats::default);
            self.latency.resize_with(n, A::default);
            self.service.resize_with(n, A::default);
        }
        for (k, q) in s.queries.iter().enumerate() {
            self.counters.queries[k].add_counters(q);
            self.latency[k].add(&q.latency);
            self.service[k].add(&q.service);
        }
        self.counters.ledger.add_counters(&s.ledger);
        self.lag.add(&s.ledger.lag);
    }

    /// Adds the latency of every query into `out` (all queries merged).
    pub fn latency_into(&self, out: &mut SparseHist) {
        for acc in &self.latency {
            acc.merge_into(out);
        }
    }

    /// Everything added, as one [`SparseIntervalStats`].
    pub fn to_stats(&self) -> SparseIntervalStats {
        let mut out = self.counters.clone();
        for (k, q) in out.queries.iter_mut().enumerate() {
            q.latency = self.latency[k].to_hist();
            q.service = self.service[k].to_hist();
        }
        out.ledger.lag = self.lag.to_hist();
        out
    }
}

/// Sorts `pairs` by index and sums equal indices: a valid sparse histogram.
fn coalesce(pairs: &mut [(u32, u64)]) -> SparseHist {
    pairs.sort_unstable_by_key(|&(i, _)| i);
    let mut idx: Vec<u32> = Vec::with_capacity(pairs.len());
    let mut counts: Vec<u64> = Vec::with_capacity(pairs.len());
    for &(i, c) in pairs.iter() {
        if c == 0 {
            continue;
        }
        match (idx.last(), counts.last_mut()) {
            (Some(&last), Some(n)) if last == i => *n = n.saturating_add(c),
            _ => {
                idx.push(i);
                counts.push(c);
            }
        }
    }
    SparseHist::from_sorted(idx, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sparse::tests::hist;

    #[test]
    fn equals_merging_one_by_one_across_compactions() {
        let mut acc = SparseAcc::new();
        let mut plain = SparseHist::new();
        // Enough distinct and repeated buckets to compact several times.
        for k in 0..400u64 {
            let h = hist(&[k * 7 + 1, 1_000 + k % 13, 5_000_000 + k * 999, 42]);
            acc.add(&h);
            plain.merge(&h);
            if k % 97 == 0 {
                assert_eq!(acc.to_hist(), plain, "after {k}");
            }
        }
        assert_eq!(acc.len(), plain.len());
        assert_eq!(acc.to_hist(), plain);
        acc.compact();
        assert_eq!(acc.to_hist(), plain);
        let mut into = hist(&[3]);
        acc.merge_into(&mut into);
        plain.merge(&hist(&[3]));
        assert_eq!(into, plain);
        assert!(SparseAcc::new().is_empty());
    }

    #[test]
    fn interval_acc_equals_merging_the_stats() {
        let mut acc = SparseIntervalAcc::<SparseAcc>::new(1);
        let mut dense = SparseIntervalAcc::<crate::DenseAcc>::new(1);
        let mut plain = SparseIntervalStats::new(1);
        for k in 0..300u64 {
            // Grows from 1 to 3 queries, like a merge does.
            let mut s = SparseIntervalStats::new(1 + (k % 3) as usize);
            for (j, q) in s.queries.iter_mut().enumerate() {
                q.latency = hist(&[k * 11 + j as u64, 20_000 + k]);
                q.service = hist(&[k * 5 + 1]);
                q.ok = 2;
                q.errors[1] = k % 2;
                q.bytes = 100 + k;
                q.rows = k;
            }
            s.ledger.planned = 3;
            s.ledger.sent = 2;
            s.ledger.lag = hist(&[k * 3 + 1, 7]);
            acc.add(&s);
            dense.add(&s);
            plain.merge(&s);
        }
        assert_eq!(acc.to_stats(), plain);
        assert_eq!(dense.to_stats(), plain);
    }
}
