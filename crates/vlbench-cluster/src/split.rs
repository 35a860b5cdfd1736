//! TaskScheduler's arithmetic (S-4, S-9): splitting one benchmark over the
//! nodes that run it. Every node gets a `Share` of the one global schedule,
//! cut by smooth weighted round-robin over weights derived from the nodes'
//! capabilities, so the shares partition the users and arrivals exactly.
//!
//! Weights: first each node's CPU cores capped by its
//! `max_concurrent_queries`; when that split would give some node more
//! concurrent users than its `max_concurrent_queries`, the weights fall back
//! to the capacities themselves; when even that does not fit, the split
//! fails with an error that says what to change. Pure functions, no state.

use std::collections::BTreeMap;
use vlbench_workload::{Model, Schedule, Share};

use crate::protocol::{Capabilities, NodeAssignment, ShareSpec};

/// Why a benchmark cannot be split over the given nodes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// No node to run on.
    #[error("no active worker node to run the benchmark; start workers with `vlbench worker --coordinator URL`")]
    NoNodes,
    /// The load exceeds what the nodes accept.
    #[error("the benchmark needs {needed} concurrent users but the {nodes} node(s) accept at most {capacity} in total (sum of max_concurrent_queries; node {node} would get {got} > {max}); lower spec.workload.total_concurrent_users or add workers")]
    Capacity {
        /// Peak concurrent users asked.
        needed: u64,
        /// Number of nodes.
        nodes: usize,
        /// Sum of the nodes' max_concurrent_queries.
        capacity: u64,
        /// A node that would be overloaded.
        node: String,
        /// What it would get.
        got: u64,
        /// Its max_concurrent_queries.
        max: u32,
    },
}

/// A node as the splitter sees it.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// Node id.
    pub node_id: String,
    /// Its declared capabilities.
    pub capabilities: Capabilities,
}

/// The peak value of a schedule (users or arrivals/s).
pub fn peak(schedule: &Schedule) -> f64 {
    schedule
        .stages
        .iter()
        .map(|s| s.target)
        .fold(schedule.initial, f64::max)
}

/// The peak of a closed-model rate cap, if any.
fn peak_cap(schedule: &Schedule) -> Option<f64> {
    let cap = schedule.rate_cap.as_ref()?;
    cap.iter().map(|s| s.target).reduce(f64::max)
}

/// Splits `schedule` over `nodes` (sorted by id for a deterministic order).
pub fn split(
    nodes: &[Candidate],
    schedule: &Schedule,
    query_names: &[String],
) -> Result<BTreeMap<String, NodeAssignment>, SplitError> {
    if nodes.is_empty() {
        return Err(SplitError::NoNodes);
    }
    let mut nodes: Vec<&Candidate> = nodes.iter().collect();
    nodes.sort_by(|a, b| a.node_id.cmp(&b.node_id));
    let max = |n: &Candidate| n.capabilities.max_concurrent_queries.max(1);
    let by_cpu: Vec<u32> = nodes
        .iter()
        .map(|n| n.capabilities.resources.cpu_cores.clamp(1, max(n)))
        .collect();
    let by_capacity: Vec<u32> = nodes.iter().map(|n| max(n)).collect();
    match try_weights(&nodes, &by_cpu, schedule, query_names) {
        Ok(split) => Ok(split),
        Err(_) => try_weights(&nodes, &by_capacity, schedule, query_names),
    }
}

/// Splits `schedule` over `nodes` with chosen weights (a rebalance over the
/// survivors, or weights scaled by the load adjuster); falls back to the
/// capacities when the weights would overload a node.
pub fn split_weighted(
    nodes: &[(Candidate, u32)],
    schedule: &Schedule,
    query_names: &[String],
) -> Result<BTreeMap<String, NodeAssignment>, SplitError> {
    if nodes.is_empty() {
        return Err(SplitError::NoNodes);
    }
    let mut nodes: Vec<&(Candidate, u32)> = nodes.iter().collect();
    nodes.sort_by(|a, b| a.0.node_id.cmp(&b.0.node_id));
    let weights: Vec<u32> = nodes.iter().map(|(_, w)| (*w).max(1)).collect();
    let by_capacity: Vec<u32> = nodes
        .iter()
        .map(|(n, _)| n.capabilities.max_concurrent_queries.max(1))
        .collect();
    let nodes: Vec<&Candidate> = nodes.iter().map(|(n, _)| n).collect();
    match try_weights(&nodes, &weights, schedule, query_names) {
        Ok(split) => Ok(split),
        Err(_) => try_weights(&nodes, &by_capacity, schedule, query_names),
    }
}

/// Node → its weight in a split.
pub fn weights_of(split: &BTreeMap<String, NodeAssignment>) -> BTreeMap<String, u32> {
    split
        .iter()
        .map(|(id, a)| {
            let w = a.share.weights.get(a.share.index).copied().unwrap_or(1);
            (id.clone(), w)
        })
        .collect()
}

fn try_weights(
    nodes: &[&Candidate],
    weights: &[u32],
    schedule: &Schedule,
    query_names: &[String],
) -> Result<BTreeMap<String, NodeAssignment>, SplitError> {
    let total_weight: f64 = weights.iter().map(|&w| f64::from(w)).sum();
    let peak = peak(schedule);
    let duration = schedule.duration().as_secs_f64();
    let capacity: u64 = nodes
        .iter()
        .map(|n| u64::from(n.capabilities.max_concurrent_queries))
        .sum();
    let mut out = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let fraction = f64::from(weights[i]) / total_weight;
        let max = node.capabilities.max_concurrent_queries;
        let (users, target_qps) = match schedule.model {
            Model::Closed { .. } => {
                // Users are whole: user j runs on the node owning item j.
                let needed = (peak + 1e-9).floor() as u64;
                let users = Share::from_weights(weights, i).count_below(needed);
                if users > u64::from(max) {
                    return Err(SplitError::Capacity {
                        needed,
                        nodes: nodes.len(),
                        capacity,
                        node: node.node_id.clone(),
                        got: users,
                        max,
                    });
                }
                (users, peak_cap(schedule).map(|c| c * fraction))
            }
            Model::Open { max_in_flight } => {
                // The in-flight bound is per process: cut it by weight too.
                let cap = (f64::from(max_in_flight) * fraction).ceil() as u64;
                (cap.clamp(1, u64::from(max.max(1))), Some(peak * fraction))
            }
        };
        out.insert(
            node.node_id.clone(),
            NodeAssignment {
                concurrent_users: u32::try_from(users).unwrap_or(u32::MAX),
                duration,
                query_templates: query_names.to_vec(),
                target_qps,
                share: ShareSpec {
                    weights: weights.to_vec(),
                    index: i,
                },
            },
        );
    }
    Ok(out)
}

/// The schedule one node runs: the global one, with the open model's
/// in-flight bound replaced by the node's own.
pub fn node_schedule(global: &Schedule, node: &NodeAssignment) -> Schedule {
    let mut s = global.clone();
    if let Model::Open { .. } = s.model {
        s.model = Model::Open {
            max_in_flight: node.concurrent_users.max(1),
        };
    }
    s
}

/// The `Share` a node runs, rebuilt from its wire form; `None` when the
/// index is out of range (a malformed assignment).
pub fn share_of(spec: &ShareSpec) -> Option<Share> {
    (spec.index < spec.weights.len() && spec.weights.iter().any(|&w| w > 0))
        .then(|| Share::from_weights(&spec.weights, spec.index))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Resources;
    use std::time::Duration;
    use vlbench_workload::Stage;

    fn node(id: &str, cpu: u32, max: u32) -> Candidate {
        Candidate {
            node_id: id.into(),
            capabilities: Capabilities {
                max_concurrent_queries: max,
                supported_query_types: vec![],
                resources: Resources {
                    cpu_cores: cpu,
                    memory_mb: 1,
                },
            },
        }
    }

    fn closed(users: f64) -> Schedule {
        Schedule {
            model: Model::Closed {
                think_time: Duration::ZERO,
            },
            stages: vec![Stage {
                duration: Duration::from_secs(10),
                target: users,
            }],
            initial: users,
            rate_cap: None,
        }
    }

    fn open(rate: f64, max_in_flight: u32) -> Schedule {
        Schedule {
            model: Model::Open { max_in_flight },
            ..closed(rate)
        }
    }

    fn names() -> Vec<String> {
        vec!["q".into()]
    }

    #[test]
    fn users_follow_cpu_weights_and_add_up() {
        let nodes = [node("c", 3, 100), node("a", 1, 100), node("b", 2, 100)];
        let split = split(&nodes, &closed(12.0), &names()).unwrap();
        let users: Vec<u32> = split.values().map(|a| a.concurrent_users).collect();
        assert_eq!(users, [2, 4, 6]);
        assert_eq!(split["a"].share.weights, [1, 2, 3]);
        assert_eq!(split["c"].share.index, 2);
        assert_eq!(split["a"].duration, 10.0);
        assert_eq!(split["a"].target_qps, None);
    }

    #[test]
    fn capacity_weights_are_used_when_cpu_weights_overload_a_node() {
        // By CPU, "a" (8 cores) would get 40 of 50 users but takes 10.
        let nodes = [node("a", 8, 10), node("b", 2, 100)];
        let split = split(&nodes, &closed(50.0), &names()).unwrap();
        assert!(split["a"].concurrent_users <= 10);
        let total: u32 = split.values().map(|a| a.concurrent_users).sum();
        assert_eq!(total, 50);
    }

    #[test]
    fn too_many_users_is_a_capacity_error() {
        let nodes = [node("a", 2, 10), node("b", 2, 10)];
        let err = split(&nodes, &closed(25.0), &names()).unwrap_err();
        assert!(matches!(
            err,
            SplitError::Capacity {
                needed: 25,
                capacity: 20,
                ..
            }
        ));
        assert!(err.to_string().contains("total_concurrent_users"));
    }

    #[test]
    fn no_nodes_is_an_error() {
        assert_eq!(split(&[], &closed(1.0), &names()), Err(SplitError::NoNodes));
    }

    #[test]
    fn open_rate_and_in_flight_are_cut_by_weight() {
        let nodes = [node("a", 1, 1000), node("b", 3, 1000)];
        let split = split(&nodes, &open(100.0, 40), &names()).unwrap();
        assert_eq!(split["a"].target_qps, Some(25.0));
        assert_eq!(split["b"].target_qps, Some(75.0));
        assert_eq!(split["a"].concurrent_users, 10);
        assert_eq!(split["b"].concurrent_users, 30);
        let s = node_schedule(&open(100.0, 40), &split["b"]);
        assert_eq!(s.model, Model::Open { max_in_flight: 30 });
    }

    #[test]
    fn shares_partition_the_arrivals() {
        let nodes = [node("a", 1, 1000), node("b", 2, 1000), node("c", 4, 1000)];
        let split = split(&nodes, &open(100.0, 40), &names()).unwrap();
        let shares: Vec<Share> = split
            .values()
            .map(|a| share_of(&a.share).unwrap())
            .collect();
        for i in 0..1000u64 {
            assert_eq!(
                shares.iter().filter(|s| s.contains(i)).count(),
                1,
                "item {i}"
            );
        }
        let counts: Vec<u64> = shares.iter().map(|s| s.count_below(700)).collect();
        assert_eq!(counts, [100, 200, 400]);
    }

    #[test]
    fn a_weighted_split_covers_only_the_given_nodes() {
        let nodes = [(node("b", 1, 1000), 3), (node("a", 4, 1000), 1)];
        let split = split_weighted(&nodes, &open(100.0, 40), &names()).unwrap();
        assert_eq!(split["a"].target_qps, Some(25.0));
        assert_eq!(split["b"].share.weights, [1, 3]);
        assert_eq!(weights_of(&split)["b"], 3);
        // Weights that overload a node fall back to the capacities.
        let small = [(node("a", 1, 5), 9), (node("b", 1, 100), 1)];
        let split = split_weighted(&small, &closed(20.0), &names()).unwrap();
        assert!(split["a"].concurrent_users <= 5);
        assert_eq!(
            split_weighted(&[], &closed(1.0), &names()),
            Err(SplitError::NoNodes)
        );
    }

    #[test]
    fn a_malformed_share_is_refused() {
        assert!(share_of(&ShareSpec {
            weights: vec![1],
            index: 1
        })
        .is_none());
        assert!(share_of(&ShareSpec {
            weights: vec![0, 0],
            index: 0
        })
        .is_none());
    }
}
