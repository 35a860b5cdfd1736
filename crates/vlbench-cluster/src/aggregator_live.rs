//! The aggregator's cheap per-report summaries: the S-11 live window
//! ([`LiveSeries`]: the last seconds merged over nodes and queries, in
//! sparse form), the seconds still receiving reports ([`OpenSeqs`]) and
//! the S-10 adjuster's per-node sums ([`window_add`]).
//!
//! Both used to be computed from full histograms: the live window merged
//! ten seconds of 21 full histograms four times a second. Here a report
//! adds its recorded buckets once and a window merges at most
//! [`WINDOW_SECS`] small histograms. The figures are exactly those of the
//! full histograms (same quantile and mean definitions).
//!
//! Must not: keep more than the window (older seconds are dropped), know
//! about nodes or tasks.

use std::collections::BTreeMap;

use vlbench_stats::{
    DenseAcc, ErrorClass, RunStats, SparseHist, SparseIntervalAcc, SparseIntervalReport,
    SparseIntervalStats,
};

use crate::adjust::NodeWindow;
use crate::aggregator::WINDOW_SECS;
use crate::model::LiveWindow;

/// One second of the fleet, all queries merged. Its latency is filled in
/// when the second closes ([`OpenSeqs`]); while it is open, the window
/// reads it from the open second's accumulators, so a report's buckets are
/// added once, not once more here.
#[derive(Default)]
struct LiveSlot {
    latency: SparseHist,
    total: u64,
    failed: u64,
    duration_ms: u64,
}

/// The last [`WINDOW_SECS`] seconds plus the run's request totals.
#[derive(Default)]
pub(crate) struct LiveSeries {
    slots: BTreeMap<u64, LiveSlot>,
    total: u64,
    failed: u64,
}

impl LiveSeries {
    /// Counts one node's interval (its latency comes with
    /// [`Self::add_latency`], once its second is closed).
    pub(crate) fn add(&mut self, r: &SparseIntervalReport) {
        let (mut total, mut failed) = (0, 0);
        for q in &r.stats.queries {
            total += q.total();
            failed += q.failed();
        }
        self.total += total;
        self.failed += failed;
        let last = self.slots.keys().next_back().copied().unwrap_or(0);
        if r.seq + WINDOW_SECS <= last {
            return; // too late to be in any window again
        }
        let slot = self.slots.entry(r.seq).or_default();
        slot.total += total;
        slot.failed += failed;
        slot.duration_ms = slot.duration_ms.max(r.duration_ms);
        let cut = r.seq.max(last).saturating_sub(WINDOW_SECS - 1);
        while self.slots.first_key_value().is_some_and(|(&s, _)| s < cut) {
            self.slots.pop_first();
        }
    }

    /// Adds latency to a second still in the window (a closed second's, or
    /// a late report's for it).
    fn add_latency(&mut self, seq: u64, latency: &SparseHist) {
        if let Some(slot) = self.slots.get_mut(&seq) {
            slot.latency.merge(latency);
        }
    }

    /// The window's qps alone ([`Self::window`]'s, without percentiles).
    pub(crate) fn qps(&self) -> f64 {
        let Some(&last) = self.slots.keys().next_back() else {
            return 0.0;
        };
        let from = last.saturating_sub(WINDOW_SECS - 1);
        let (total, millis) = self
            .slots
            .range(from..=last)
            .fold((0, 0), |(t, m), (_, s)| (t + s.total, m + s.duration_ms));
        qps(total, millis)
    }

    /// The window ending at the latest second (`active_nodes` left 0 for
    /// the caller, who knows the nodes); `open` holds the latency of the
    /// seconds not closed yet.
    pub(crate) fn window(&self, open: &OpenSeqs) -> LiveWindow {
        let mut out = LiveWindow {
            window_seconds: WINDOW_SECS,
            total_queries: self.total,
            failed_queries: self.failed,
            ..LiveWindow::default()
        };
        let Some(&last) = self.slots.keys().next_back() else {
            return out;
        };
        out.last_seq = Some(last);
        let from = last.saturating_sub(WINDOW_SECS - 1);
        let mut latency = SparseHist::new();
        let (mut total, mut failed, mut millis) = (0u64, 0u64, 0u64);
        for (&seq, s) in self.slots.range(from..=last) {
            latency.merge(&s.latency);
            if let Some(o) = open.seqs.get(&seq) {
                o.stats.latency_into(&mut latency);
            }
            total += s.total;
            failed += s.failed;
            millis += s.duration_ms;
        }
        out.qps = qps(total, millis);
        out.p95_response_time = quantile_ms(&latency, 0.95);
        out.p99_response_time = quantile_ms(&latency, 0.99);
        out.error_rate = if total == 0 {
            0.0
        } else {
            failed as f64 / total as f64
        };
        out
    }
}

/// A second is folded into the run's full statistics once it is this many
/// seconds behind the newest one reported.
pub(crate) const OPEN_SECS: u64 = 3;

/// The seconds that still receive reports, merged over nodes in sparse
/// form. Adding each node's report into the run's full histograms (and the
/// run's totals) cost one `record_n` per recorded bucket per report; here
/// a second is folded in once, when it closes, so the full histograms are
/// touched once per second instead of once per node and second.
#[derive(Default)]
pub(crate) struct OpenSeqs {
    seqs: BTreeMap<u64, OpenSeq>,
}

struct OpenSeq {
    start_unix_ms: u64,
    duration_ms: u64,
    /// Every node's report adds to it: counted in place ([`DenseAcc`]).
    stats: SparseIntervalAcc<DenseAcc>,
}

impl OpenSeq {
    fn to_report(&self, seq: u64) -> SparseIntervalReport {
        SparseIntervalReport {
            seq,
            start_unix_ms: self.start_unix_ms,
            duration_ms: self.duration_ms,
            stats: self.stats.to_stats(),
        }
    }
}

impl OpenSeqs {
    /// Adds one node's interval, then folds the seconds that closed into
    /// `run` (and their latency, all queries merged, into `live`). A report
    /// for a second already folded goes straight to both.
    pub(crate) fn add(
        &mut self,
        r: &SparseIntervalReport,
        run: &mut RunStats,
        live: &mut LiveSeries,
    ) {
        if run.contains(r.seq) {
            run.merge_sparse_into_seq(r);
            for q in &r.stats.queries {
                live.add_latency(r.seq, &q.latency);
            }
            return;
        }
        let slot = self.seqs.entry(r.seq).or_insert_with(|| OpenSeq {
            start_unix_ms: r.start_unix_ms,
            duration_ms: r.duration_ms,
            stats: SparseIntervalAcc::new(r.stats.queries.len()),
        });
        slot.start_unix_ms = slot.start_unix_ms.min(r.start_unix_ms);
        slot.duration_ms = slot.duration_ms.max(r.duration_ms);
        slot.stats.add(&r.stats);
        let newest = self.seqs.keys().next_back().copied().unwrap_or(0);
        while let Some(entry) = self.seqs.first_entry() {
            if *entry.key() + OPEN_SECS > newest {
                break;
            }
            let (seq, open) = entry.remove_entry();
            let mut latency = SparseHist::new();
            open.stats.latency_into(&mut latency);
            live.add_latency(seq, &latency);
            run.merge_sparse_into_seq(&open.to_report(seq));
        }
    }

    /// Folds every open second into `run` (a copy for a report).
    pub(crate) fn fold_into(&self, run: &mut RunStats) {
        for (&seq, open) in &self.seqs {
            run.merge_sparse_into_seq(&open.to_report(seq));
        }
    }
}

/// Requests per second over `millis` of intervals.
fn qps(total: u64, millis: u64) -> f64 {
    total as f64 / (millis as f64 / 1000.0).max(0.001)
}

/// `vlbench_stats::hist::quantile_ms` of the sparse form.
fn quantile_ms(h: &SparseHist, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    h.value_at_quantile(q) as f64 / 1000.0
}

/// `NodeWindow::add` for a sparse interval: the same sums.
pub(crate) fn window_add(w: &mut NodeWindow, s: &SparseIntervalStats) {
    if w.queries.len() < s.queries.len() {
        w.queries.resize(s.queries.len(), (0, 0.0));
    }
    for (acc, q) in w.queries.iter_mut().zip(&s.queries) {
        let n = q.latency.len();
        acc.0 += n;
        acc.1 += q.latency.mean() * n as f64;
        w.requests += q.total();
        w.errors += q.failed();
        w.connect_errors += q.errors[ErrorClass::Connect.index()];
    }
    w.planned += s.ledger.planned;
    w.dropped += s.ledger.dropped;
    w.lag_p99_us = w.lag_p99_us.max(s.ledger.lag.value_at_quantile(0.99));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregator::tests::interval;
    use vlbench_stats::{IntervalStats, Summary};

    #[test]
    fn open_seconds_fold_into_the_run_exactly() {
        let names = vec!["q0".to_string(), "q1".to_string()];
        let (mut plain, mut run) = (RunStats::new(names.clone()), RunStats::new(names));
        let mut open = OpenSeqs::default();
        let mut live = LiveSeries::default();
        // Three nodes, ten seconds, one node late by 6 s for seq 1.
        let mut reports = Vec::new();
        for seq in 0..10u64 {
            for node in 0..3u64 {
                if (seq, node) != (1, 2) {
                    reports.push(interval(
                        seq,
                        &[100 * seq + node + 1, 9_000 + node],
                        node % 2,
                    ));
                }
            }
            if seq == 7 {
                reports.push(interval(1, &[12_345], 1));
            }
        }
        for r in &reports {
            plain.merge_into_seq(r);
            open.add(&SparseIntervalReport::from_report(r), &mut run, &mut live);
            let mut copy = run.clone();
            open.fold_into(&mut copy);
            assert_eq!(copy.total, plain.total);
        }
        assert!(open.seqs.len() <= OPEN_SECS as usize);
        open.fold_into(&mut run);
        assert_eq!(run, plain);
    }

    #[test]
    fn window_add_equals_node_window_add() {
        let full = interval(4, &[100, 2_000, 30_000, 400_000], 1).stats;
        let mut a = NodeWindow::default();
        let mut b = NodeWindow::default();
        for _ in 0..2 {
            a.add(&full);
            window_add(&mut b, &SparseIntervalStats::from_stats(&full));
        }
        assert_eq!(a, b);
    }

    #[test]
    fn window_equals_the_full_histogram_figures_and_drops_old_seconds() {
        let mut live = LiveSeries::default();
        let mut open = OpenSeqs::default();
        let mut run = RunStats::new(vec!["q0".into(), "q1".into()]);
        let mut full = IntervalStats::new(2);
        let mut add = |r: &vlbench_stats::IntervalReport| {
            let r = SparseIntervalReport::from_report(r);
            live.add(&r);
            open.add(&r, &mut run, &mut live);
        };
        for seq in 0..25u64 {
            let r = interval(seq, &[1_000 + seq * 10, 50_000 * seq + 7], seq % 2);
            if seq >= 15 {
                full.merge(&r.stats);
            }
            add(&r);
            if seq == 20 {
                // A late report for a closed second in the window.
                let late = interval(18, &[777_777], 0);
                full.merge(&late.stats);
                add(&late);
            }
        }
        // A report too late for the window counts in the totals only.
        add(&interval(2, &[9], 0));
        assert!(live.slots.len() <= WINDOW_SECS as usize);
        assert!(!open.seqs.is_empty(), "the window reads open seconds too");
        let w = live.window(&open);
        let s = Summary::from_stats(&full.total(), 10.0);
        assert_eq!(w.last_seq, Some(24));
        assert_eq!(w.total_queries, 52);
        assert_eq!(w.p95_response_time, s.p95_response_time);
        assert_eq!(w.p99_response_time, s.p99_response_time);
        assert_eq!(w.qps, s.qps);
        assert_eq!(live.qps(), w.qps);
        assert_eq!(w.error_rate, 5.0 / 21.0);
    }
}
