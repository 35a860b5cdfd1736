//! The aggregator's cheap per-report summaries: the S-11 live window
//! ([`LiveSeries`]: the last seconds merged over nodes and queries, in
//! sparse form) and the S-10 adjuster's per-node sums ([`window_add`]).
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

use vlbench_stats::{ErrorClass, SparseHist, SparseIntervalReport, SparseIntervalStats};

use crate::adjust::NodeWindow;
use crate::aggregator::WINDOW_SECS;
use crate::model::LiveWindow;

/// One second of the fleet, all queries merged.
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
    /// Adds one node's interval.
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
        for q in &r.stats.queries {
            slot.latency.merge(&q.latency);
        }
        slot.total += total;
        slot.failed += failed;
        slot.duration_ms = slot.duration_ms.max(r.duration_ms);
        let cut = r.seq.max(last).saturating_sub(WINDOW_SECS - 1);
        while self.slots.first_key_value().is_some_and(|(&s, _)| s < cut) {
            self.slots.pop_first();
        }
    }

    /// The window ending at the latest second (`active_nodes` left 0 for
    /// the caller, who knows the nodes).
    pub(crate) fn window(&self) -> LiveWindow {
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
        for s in self.slots.range(from..=last).map(|(_, s)| s) {
            latency.merge(&s.latency);
            total += s.total;
            failed += s.failed;
            millis += s.duration_ms;
        }
        let secs = (millis as f64 / 1000.0).max(0.001);
        out.qps = total as f64 / secs;
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
        let mut full = IntervalStats::new(2);
        for seq in 0..25u64 {
            let r = interval(seq, &[1_000 + seq * 10, 50_000 * seq + 7], seq % 2);
            if seq >= 15 {
                full.merge(&r.stats);
            }
            live.add(&SparseIntervalReport::from_report(&r));
        }
        // A report too late for the window counts in the totals only.
        live.add(&SparseIntervalReport::from_report(&interval(2, &[9], 0)));
        assert!(live.slots.len() <= WINDOW_SECS as usize);
        let w = live.window();
        let s = Summary::from_stats(&full.total(), 10.0);
        assert_eq!(w.last_seq, Some(24));
        assert_eq!(w.total_queries, 51);
        assert_eq!(w.p95_response_time, s.p95_response_time);
        assert_eq!(w.p99_response_time, s.p99_response_time);
        assert_eq!(w.qps, s.qps);
        assert_eq!(w.error_rate, 5.0 / 20.0);
    }
}
