//! What this machine can take (S-3 `capabilities`): CPU cores (cgroup-aware
//! through the standard library), memory (sysinfo, cgroup limit when there
//! is one), the query types the engine sends, and the node id default (the
//! host name, which is the pod name in Kubernetes).
//!
//! Must not: guess at capacity beyond what the user or the machine says.

use vlbench_workload::QueryType;

use crate::protocol::{Capabilities, Resources};

/// Default `max_concurrent_queries` per CPU core when not given.
pub const QUERIES_PER_CORE: u32 = 256;

/// The machine's capabilities; `cpu_cores` and `max_concurrent_queries`
/// override what is detected.
pub fn detect(cpu_cores: Option<u32>, max_concurrent_queries: Option<u32>) -> Capabilities {
    let cores = cpu_cores.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
    });
    let mut sys = sysinfo::System::new();
    sys.refresh_memory();
    let bytes = sys
        .cgroup_limits()
        .map(|c| c.total_memory)
        .filter(|&m| m > 0)
        .unwrap_or_else(|| sys.total_memory());
    Capabilities {
        max_concurrent_queries: max_concurrent_queries
            .unwrap_or(cores.max(1).saturating_mul(QUERIES_PER_CORE)),
        supported_query_types: QueryType::ALL
            .iter()
            .map(|t| t.as_str().to_string())
            .collect(),
        resources: Resources {
            cpu_cores: cores.max(1),
            memory_mb: bytes / (1024 * 1024),
        },
    }
}

/// The default node id: the host name (the pod name in Kubernetes).
pub fn default_node_id() -> String {
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_win_and_detection_fills_the_rest() {
        let c = detect(Some(3), Some(7));
        assert_eq!(c.resources.cpu_cores, 3);
        assert_eq!(c.max_concurrent_queries, 7);
        assert!(c.resources.memory_mb > 0);
        assert!(c.supported_query_types.iter().any(|t| t == "stats_range"));
        let d = detect(Some(2), None);
        assert_eq!(d.max_concurrent_queries, 2 * QUERIES_PER_CORE);
        assert!(!default_node_id().is_empty());
    }
}
