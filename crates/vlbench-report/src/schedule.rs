//! The schedule section: how much of the asked load was applied, and
//! whether the load generator (not the target) was the bottleneck. Without
//! this a "slow target" and a "slow generator" look the same in a report.
//!
//! Must not: judge the target; only the generator's own ledger.

use serde::{Deserialize, Serialize};
use vlbench_stats::hist::{max_ms, quantile_ms};
use vlbench_stats::Ledger;

use crate::model::ratio;

/// Send lag p99 above which the generator is considered behind, ms.
pub const LAG_P99_LIMIT_MS: f64 = 10.0;
/// Fraction of the sendable load (planned minus dropped) that must be sent.
pub const MIN_SENT_FRACTION: f64 = 0.99;

/// Ledger totals of the run and the generator verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduleSummary {
    /// Arrivals/requests the schedule asked for.
    pub planned: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests finished.
    pub completed: u64,
    /// Arrivals dropped at `max_in_flight` (the target was too slow, not us).
    pub dropped: u64,
    /// sent / planned (1 when nothing was planned).
    pub achieved: f64,
    /// Median send lag (real minus intended send time), ms.
    pub lag_p50_ms: f64,
    /// 99th percentile send lag, ms.
    pub lag_p99_ms: f64,
    /// Highest send lag, ms.
    pub lag_max_ms: f64,
    /// True when the generator could not keep up with the schedule: the
    /// measured latencies then understate what the asked load would cause.
    pub generator_bound: bool,
    /// Why `generator_bound` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator_bound_reason: Option<String>,
}

impl ScheduleSummary {
    /// The summary of a run's merged ledger.
    pub fn from_ledger(l: &Ledger) -> ScheduleSummary {
        let lag_p99_ms = quantile_ms(&l.lag, 0.99);
        let sendable = l.planned.saturating_sub(l.dropped);
        let mut reasons = Vec::new();
        if lag_p99_ms > LAG_P99_LIMIT_MS {
            reasons.push(format!(
                "send lag p99 is {lag_p99_ms:.1} ms (limit {LAG_P99_LIMIT_MS} ms): requests left later than scheduled"
            ));
        }
        if sendable > 0 && (l.sent as f64) < MIN_SENT_FRACTION * sendable as f64 {
            reasons.push(format!(
                "sent {} of {} planned requests not dropped by max_in_flight ({:.1} %, minimum {:.0} %)",
                l.sent,
                sendable,
                100.0 * ratio(l.sent, sendable),
                100.0 * MIN_SENT_FRACTION
            ));
        }
        let generator_bound = !reasons.is_empty();
        if generator_bound {
            reasons.push("add threads or nodes, or lower the load".to_string());
        }
        ScheduleSummary {
            planned: l.planned,
            sent: l.sent,
            completed: l.completed,
            dropped: l.dropped,
            achieved: if l.planned == 0 {
                1.0
            } else {
                ratio(l.sent, l.planned)
            },
            lag_p50_ms: quantile_ms(&l.lag, 0.50),
            lag_p99_ms,
            lag_max_ms: max_ms(&l.lag),
            generator_bound,
            generator_bound_reason: generator_bound.then(|| reasons.join("; ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(planned: u64, sent: u64, dropped: u64, lag_us: u64) -> Ledger {
        let mut l = Ledger::new();
        l.planned = planned;
        l.sent = sent;
        l.completed = sent;
        l.dropped = dropped;
        l.lag.record_n(lag_us, sent.max(1)).unwrap();
        l
    }

    #[test]
    fn keeping_up_is_not_generator_bound() {
        let s = ScheduleSummary::from_ledger(&ledger(1000, 995, 0, 500));
        assert!(!s.generator_bound, "{s:?}");
        assert!(s.generator_bound_reason.is_none());
        assert!((s.achieved - 0.995).abs() < 1e-9);
        assert!((s.lag_p99_ms - 0.5).abs() < 0.01);
    }

    #[test]
    fn drops_are_the_targets_fault_not_ours() {
        let s = ScheduleSummary::from_ledger(&ledger(1000, 500, 500, 500));
        assert!(!s.generator_bound, "{s:?}");
        assert!((s.achieved - 0.5).abs() < 1e-9);
    }

    #[test]
    fn unsent_load_is_generator_bound() {
        let s = ScheduleSummary::from_ledger(&ledger(1000, 900, 0, 500));
        assert!(s.generator_bound);
        assert!(s
            .generator_bound_reason
            .unwrap()
            .contains("sent 900 of 1000"));
    }

    #[test]
    fn late_sends_are_generator_bound() {
        let s = ScheduleSummary::from_ledger(&ledger(1000, 1000, 0, 25_000));
        assert!(s.generator_bound);
        assert!(s.generator_bound_reason.unwrap().contains("lag p99"));
    }

    #[test]
    fn nothing_planned_is_fully_achieved() {
        let s = ScheduleSummary::from_ledger(&Ledger::new());
        assert_eq!(s.achieved, 1.0);
        assert!(!s.generator_bound);
        assert_eq!(s.lag_max_ms, 0.0);
    }
}
