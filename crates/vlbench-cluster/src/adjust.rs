//! The S-10 load adjuster's policy: from what each node measured over the
//! last period, which nodes should carry less of the global schedule.
//!
//! The spec's rules (slow → weight × 0.8, errors over 5 % → × 0.9,
//! otherwise restore) act only on what is specific to one node. Moving load
//! off a node because the *target* is slow would hide the slowness being
//! measured (coordinated omission) and would not change the total load, so
//! a node is judged against the other nodes for the same queries:
//! - slow: its mean latency, query by query, is more than `latency_ratio`
//!   times the median of the other nodes (a bad network path, a starved
//!   machine) → factor × `slow_factor`;
//! - failing: its error rate (connect errors included) is over `error_rate`,
//!   more than `error_rate` above the other nodes' median and more than
//!   `latency_ratio` times it → factor × `error_factor`;
//! - generator-bound: its send lag p99 is over `lag_p99_ms` and more than
//!   `latency_ratio` times the others', or its share of dropped arrivals is
//!   `drop_ratio` above the others' and more than `latency_ratio` times
//!   theirs → factor × `slow_factor`;
//! - otherwise the factor goes back to 1.
//!
//! Pure functions over plain data. Must not: talk to actors or apply the
//! decisions (the scheduler re-partitions, the control loop calls both).

use std::collections::BTreeMap;
use std::time::Duration;

use vlbench_stats::{ErrorClass, IntervalStats};

/// What one node measured over the adjuster's period (cheap to keep: no
/// histograms).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeWindow {
    /// Per query (workload order): requests completed and their summed
    /// latency in µs.
    pub queries: Vec<(u64, f64)>,
    /// Requests completed (ok + failed).
    pub requests: u64,
    /// Requests failed (any class).
    pub errors: u64,
    /// Requests failed with a connect error.
    pub connect_errors: u64,
    /// Arrivals the schedule asked of the node.
    pub planned: u64,
    /// Arrivals dropped at the in-flight bound.
    pub dropped: u64,
    /// Highest per-second p99 of the send lag, µs.
    pub lag_p99_us: u64,
}

impl NodeWindow {
    /// Adds one interval of the node.
    pub fn add(&mut self, s: &IntervalStats) {
        if self.queries.len() < s.queries.len() {
            self.queries.resize(s.queries.len(), (0, 0.0));
        }
        for (acc, q) in self.queries.iter_mut().zip(&s.queries) {
            let n = q.latency.len();
            acc.0 += n;
            acc.1 += q.latency.mean() * n as f64;
            self.requests += q.total();
            self.errors += q.failed();
            self.connect_errors += q.errors[ErrorClass::Connect.index()];
        }
        self.planned += s.ledger.planned;
        self.dropped += s.ledger.dropped;
        self.lag_p99_us = self.lag_p99_us.max(s.ledger.lag.value_at_quantile(0.99));
    }

    fn rate(n: u64, of: u64) -> f64 {
        if of == 0 {
            0.0
        } else {
            n as f64 / of as f64
        }
    }
}

/// Thresholds and factors of the adjuster (coordinator flags).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdjustPolicy {
    /// How often the adjuster runs; zero turns it off.
    pub period: Duration,
    /// A node slower than this many times the others' median is slow.
    pub latency_ratio: f64,
    /// Error rate (0–1) above which, and above the others' median by which,
    /// a node is failing.
    pub error_rate: f64,
    /// Send lag p99 (ms) above which a node may be generator-bound.
    pub lag_p99_ms: f64,
    /// Share of dropped arrivals above the others' by which a node is
    /// generator-bound.
    pub drop_ratio: f64,
    /// Factor applied to a slow or generator-bound node's weight.
    pub slow_factor: f64,
    /// Factor applied to a failing node's weight.
    pub error_factor: f64,
    /// Lowest factor a node's weight can reach.
    pub min_factor: f64,
    /// Fewer requests than this in the period: no judgement.
    pub min_requests: u64,
}

impl Default for AdjustPolicy {
    fn default() -> Self {
        AdjustPolicy {
            period: Duration::from_secs(10),
            latency_ratio: 2.0,
            error_rate: 0.05,
            lag_p99_ms: 100.0,
            drop_ratio: 0.01,
            slow_factor: 0.8,
            error_factor: 0.9,
            min_factor: 0.1,
            min_requests: 20,
        }
    }
}

/// A change of one node's weight factor, with the measured reasons.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The node.
    pub node: String,
    /// Its factor before.
    pub from: f64,
    /// Its factor after.
    pub to: f64,
    /// Rules that fired with their numbers ("restored" when none did).
    pub reason: String,
}

/// The factor changes for `factors` (node → current factor, the task's
/// live nodes) given what each node measured. Nodes without enough data
/// keep their factor; with fewer than two judged nodes nothing changes.
pub fn decide(
    policy: &AdjustPolicy,
    factors: &BTreeMap<String, f64>,
    windows: &BTreeMap<String, NodeWindow>,
) -> Vec<Decision> {
    let judged: BTreeMap<&String, &NodeWindow> = windows
        .iter()
        .filter(|(id, w)| factors.contains_key(*id) && w.requests >= policy.min_requests)
        .collect();
    if judged.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (&id, &w) in &judged {
        let others: Vec<&NodeWindow> = judged
            .iter()
            .filter(|(o, _)| **o != id)
            .map(|(_, w)| *w)
            .collect();
        let from = factors.get(id).copied().unwrap_or(1.0);
        let (mut to, reasons) = judge(policy, w, &others);
        if reasons.is_empty() {
            to = 1.0;
        } else {
            to = (from * to).max(policy.min_factor);
        }
        if (to - from).abs() > 1e-9 {
            let reason = if reasons.is_empty() {
                "no node-specific problem: weight restored".to_string()
            } else {
                reasons.join("; ")
            };
            out.push(Decision {
                node: id.clone(),
                from,
                to,
                reason,
            });
        }
    }
    out
}

/// The factor the rules ask for (1 when none fires) and why.
fn judge(policy: &AdjustPolicy, w: &NodeWindow, others: &[&NodeWindow]) -> (f64, Vec<String>) {
    let mut factor = 1.0;
    let mut reasons = Vec::new();
    let ratio = latency_ratio(w, others);
    let generator = generator_bound(policy, w, others);
    if ratio > policy.latency_ratio {
        factor *= policy.slow_factor;
        reasons.push(format!(
            "latency {ratio:.1}x the other nodes' median for the same queries (limit {})",
            policy.latency_ratio
        ));
    } else if let Some(why) = generator {
        factor *= policy.slow_factor;
        reasons.push(why);
    }
    let rate = NodeWindow::rate(w.errors, w.requests);
    let others_rate = median(
        others
            .iter()
            .map(|o| NodeWindow::rate(o.errors, o.requests)),
    );
    let apart = rate - others_rate > policy.error_rate && rate > policy.latency_ratio * others_rate;
    if rate > policy.error_rate && apart {
        factor *= policy.error_factor;
        let connect = NodeWindow::rate(w.connect_errors, w.requests);
        reasons.push(format!(
            "error rate {:.1} % ({:.1} % connect) vs {:.1} % on the other nodes (limit +{:.1} %)",
            rate * 100.0,
            connect * 100.0,
            others_rate * 100.0,
            policy.error_rate * 100.0
        ));
    }
    (factor, reasons)
}

/// Count-weighted mean over queries of (node mean / others' median mean).
fn latency_ratio(w: &NodeWindow, others: &[&NodeWindow]) -> f64 {
    let (mut weighted, mut count) = (0.0, 0u64);
    for (q, &(n, sum)) in w.queries.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let means = others.iter().filter_map(|o| match o.queries.get(q) {
            Some(&(m, s)) if m > 0 => Some(s / m as f64),
            _ => None,
        });
        let reference = median(means);
        if reference > 0.0 {
            weighted += n as f64 * (sum / n as f64) / reference;
            count += n;
        }
    }
    if count == 0 {
        1.0
    } else {
        weighted / count as f64
    }
}

/// Why the node cannot keep its schedule when the others can, if so.
fn generator_bound(
    policy: &AdjustPolicy,
    w: &NodeWindow,
    others: &[&NodeWindow],
) -> Option<String> {
    let lag_ms = w.lag_p99_us as f64 / 1000.0;
    let others_lag = median(others.iter().map(|o| o.lag_p99_us as f64 / 1000.0));
    if lag_ms > policy.lag_p99_ms && lag_ms > policy.latency_ratio * others_lag {
        return Some(format!(
            "generator-bound: send lag p99 {lag_ms:.0} ms vs {others_lag:.0} ms on the other nodes (limit {} ms)",
            policy.lag_p99_ms
        ));
    }
    let drops = NodeWindow::rate(w.dropped, w.planned);
    let others_drops = median(
        others
            .iter()
            .map(|o| NodeWindow::rate(o.dropped, o.planned)),
    );
    let apart =
        drops - others_drops > policy.drop_ratio && drops > policy.latency_ratio * others_drops;
    apart.then(|| {
        format!(
            "generator-bound: {:.1} % of arrivals dropped vs {:.1} % on the other nodes",
            drops * 100.0,
            others_drops * 100.0
        )
    })
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// The integer weight a node gets in a split: its base weight scaled by its
/// factor, at a resolution of 1/10 (never below 1).
pub fn effective_weight(base: u32, factor: f64) -> u32 {
    let w = (f64::from(base.max(1)) * factor * 10.0).round();
    if w.is_finite() && w >= 1.0 {
        w.min(f64::from(u32::MAX / 1024)) as u32
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(mean_ms: f64, requests: u64, errors: u64, connect: u64, lag_ms: u64) -> NodeWindow {
        NodeWindow {
            queries: vec![(requests, mean_ms * 1000.0 * requests as f64)],
            requests,
            errors,
            connect_errors: connect,
            planned: requests,
            dropped: 0,
            lag_p99_us: lag_ms * 1000,
        }
    }

    fn factors(ids: &[&str]) -> BTreeMap<String, f64> {
        ids.iter().map(|id| (id.to_string(), 1.0)).collect()
    }

    fn windows(ws: Vec<(&str, NodeWindow)>) -> BTreeMap<String, NodeWindow> {
        ws.into_iter().map(|(id, w)| (id.to_string(), w)).collect()
    }

    #[test]
    fn a_slow_target_moves_nothing() {
        // Every node sees 3 s latencies and 50 % errors: the target, not a node.
        let ws = windows(vec![
            ("a", window(3000.0, 100, 50, 0, 1)),
            ("b", window(3100.0, 100, 52, 0, 1)),
            ("c", window(2900.0, 100, 49, 0, 1)),
        ]);
        assert!(decide(&AdjustPolicy::default(), &factors(&["a", "b", "c"]), &ws).is_empty());
    }

    #[test]
    fn a_node_slower_than_the_fleet_loses_a_fifth_of_its_weight() {
        let ws = windows(vec![
            ("a", window(10.0, 100, 0, 0, 1)),
            ("b", window(11.0, 100, 0, 0, 1)),
            ("c", window(35.0, 100, 0, 0, 1)),
        ]);
        let d = decide(&AdjustPolicy::default(), &factors(&["a", "b", "c"]), &ws);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].node, "c");
        assert!((d[0].to - 0.8).abs() < 1e-9, "{d:?}");
        assert!(d[0].reason.contains("latency"), "{}", d[0].reason);
    }

    #[test]
    fn node_specific_errors_cost_a_tenth_and_recovery_restores() {
        let p = AdjustPolicy::default();
        let ws = windows(vec![
            ("a", window(10.0, 100, 0, 0, 1)),
            ("b", window(10.0, 100, 20, 20, 1)),
        ]);
        let d = decide(&p, &factors(&["a", "b"]), &ws);
        assert_eq!(d.len(), 1);
        assert!((d[0].to - 0.9).abs() < 1e-9);
        assert!(d[0].reason.contains("20.0 % connect"), "{}", d[0].reason);
        // Repeated trouble compounds, down to the floor.
        let mut f = factors(&["a", "b"]);
        f.insert("b".into(), 0.105);
        let d = decide(&p, &f, &ws);
        assert!((d[0].to - p.min_factor).abs() < 1e-9);
        // Healthy again: the weight comes back in one step.
        let healthy = windows(vec![
            ("a", window(10.0, 100, 0, 0, 1)),
            ("b", window(10.0, 100, 0, 0, 1)),
        ]);
        let d = decide(&p, &f, &healthy);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].to, 1.0);
    }

    #[test]
    fn a_lagging_or_dropping_node_is_generator_bound() {
        let p = AdjustPolicy::default();
        let ws = windows(vec![
            ("a", window(10.0, 100, 0, 0, 2)),
            ("b", window(10.0, 100, 0, 0, 450)),
        ]);
        let d = decide(&p, &factors(&["a", "b"]), &ws);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].reason.starts_with("generator-bound: send lag"),
            "{d:?}"
        );
        let mut dropping = window(10.0, 100, 0, 0, 1);
        dropping.dropped = 30;
        let ws = windows(vec![("a", window(10.0, 100, 0, 0, 1)), ("b", dropping)]);
        let d = decide(&p, &factors(&["a", "b"]), &ws);
        assert!(d[0].reason.contains("dropped"), "{d:?}");
    }

    #[test]
    fn drops_everywhere_are_the_targets_not_a_nodes() {
        let w = |dropped| NodeWindow {
            dropped,
            planned: 300,
            ..window(500.0, 150, 0, 0, 5)
        };
        let ws = windows(vec![("a", w(127)), ("b", w(122)), ("c", w(131))]);
        assert!(decide(&AdjustPolicy::default(), &factors(&["a", "b", "c"]), &ws).is_empty());
    }

    #[test]
    fn too_little_data_or_one_node_changes_nothing() {
        let p = AdjustPolicy::default();
        let ws = windows(vec![
            ("a", window(10.0, 5, 0, 0, 1)),
            ("b", window(90.0, 5, 0, 0, 1)),
        ]);
        assert!(decide(&p, &factors(&["a", "b"]), &ws).is_empty());
        let one = windows(vec![("a", window(10.0, 100, 0, 0, 900))]);
        assert!(decide(&p, &factors(&["a"]), &one).is_empty());
    }

    #[test]
    fn effective_weights_keep_a_tenth_of_resolution() {
        assert_eq!(effective_weight(3, 1.0), 30);
        assert_eq!(effective_weight(1, 0.8), 8);
        assert_eq!(effective_weight(1, 0.0), 1);
        assert_eq!(effective_weight(0, f64::NAN), 1);
    }
}
