//! Plain-text tables for `vlbench nodes` and `vlbench status`: one row per
//! node or benchmark, aligned columns, ages instead of raw timestamps.
//!
//! Must not: fetch anything (the caller passes the records and "now").

use std::fmt::Write as _;

use chrono::{DateTime, Utc};
use vlbench_cluster::model::{NodeRecord, TaskRecord};

/// The worker nodes, one row each.
pub fn nodes(nodes: &[NodeRecord], now: DateTime<Utc>) -> String {
    if nodes.is_empty() {
        return "no worker node has registered\n".into();
    }
    let rows: Vec<[String; 7]> = nodes
        .iter()
        .map(|n| {
            [
                n.node_id.clone(),
                n.status.as_str().to_string(),
                n.capabilities.resources.cpu_cores.to_string(),
                n.capabilities.max_concurrent_queries.to_string(),
                format!("{:.0}%", n.current_load * 100.0),
                age(now, n.last_heartbeat),
                n.assigned_tasks.join(","),
            ]
        })
        .collect();
    table(
        &[
            "NODE",
            "STATUS",
            "CORES",
            "MAX QUERIES",
            "LOAD",
            "HEARD",
            "TASKS",
        ],
        &rows,
    )
}

/// The benchmarks, newest last, one row each.
pub fn benchmarks(tasks: &[TaskRecord]) -> String {
    if tasks.is_empty() {
        return "no benchmark has been submitted\n".into();
    }
    let rows: Vec<[String; 5]> = tasks
        .iter()
        .map(|t| {
            let qps = t
                .live
                .as_ref()
                .map_or_else(String::new, |l| format!("{:.0}", l.qps));
            [
                t.task_id.clone(),
                t.status.as_str().to_string(),
                t.name.clone(),
                t.submitted_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                qps,
            ]
        })
        .collect();
    table(&["ID", "STATUS", "NAME", "SUBMITTED (UTC)", "QPS"], &rows)
}

/// "3s ago", "2m ago", "1h ago".
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> String {
    let s = (now - then).num_seconds().max(0);
    match s {
        0..120 => format!("{s}s ago"),
        120..7200 => format!("{}m ago", s / 60),
        _ => format!("{}h ago", s / 3600),
    }
}

/// Left-aligned columns separated by two spaces.
fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut width: [usize; N] = header.map(str::len);
    for r in rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut l = String::new();
        for (i, c) in cells.enumerate() {
            let _ = write!(l, "{c:<w$}  ", w = width[i]);
        }
        out.push_str(l.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for r in rows {
        line(&mut r.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_and_ages_read_as_ages() {
        let rows = [
            ["w1".to_string(), "busy".to_string()],
            ["worker-long".to_string(), "active".to_string()],
        ];
        let t = table(&["NODE", "STATUS"], &rows);
        assert_eq!(
            t,
            "NODE         STATUS\nw1           busy\nworker-long  active\n"
        );
        let now = Utc::now();
        assert_eq!(age(now, now - chrono::Duration::seconds(3)), "3s ago");
        assert_eq!(age(now, now - chrono::Duration::seconds(600)), "10m ago");
        assert_eq!(age(now, now - chrono::Duration::hours(5)), "5h ago");
        assert_eq!(age(now, now + chrono::Duration::seconds(2)), "0s ago");
    }
}
