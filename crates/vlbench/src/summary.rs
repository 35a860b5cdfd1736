//! The end-of-run summary printed to stdout: one table row per query and the
//! total, the schedule ledger, thresholds, and where the files went.

use std::fmt::Write as _;
use std::path::PathBuf;

use vlbench_report::{Metrics, Report};

/// Prints the summary of a finished run.
pub fn print(report: &Report, files: &[PathBuf]) {
    print!("{}", render(report, files));
}

/// The summary as text (separate from printing so tests can read it).
pub fn render(report: &Report, files: &[PathBuf]) -> String {
    let mut out = String::new();
    let name_width = report
        .queries
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(0)
        .max("TOTAL".len());
    let _ = writeln!(
        out,
        "\n{:<name_width$}  {:>9} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "query",
        "requests",
        "failed",
        "qps",
        "avg ms",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms"
    );
    for (name, m) in &report.queries {
        row(&mut out, name, m, name_width);
    }
    row(&mut out, "TOTAL", &report.metrics, name_width);
    if let Some(nodes) = report.nodes.as_ref().filter(|n| !n.is_empty()) {
        let width = nodes.keys().map(String::len).max().unwrap_or(0).max(4);
        let _ = writeln!(
            out,
            "\n{:<width$}  {:>9} {:>9} {:>8} {:>9} {:>9} {:>9}",
            "node", "requests", "failed", "qps", "avg ms", "p95 ms", "p99 ms"
        );
        for (id, m) in nodes {
            let _ = writeln!(
                out,
                "{id:<width$}  {:>9} {:>9} {:>8.1} {:>9.2} {:>9.2} {:>9.2}",
                m.total_queries,
                m.failed_queries,
                m.qps,
                m.avg_response_time,
                m.p95_response_time,
                m.p99_response_time
            );
        }
    }

    let errors: Vec<String> = report
        .errors
        .by_class
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(class, n)| format!("{class}={n}"))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\nerrors: {}", errors.join(" "));
    }
    let s = &report.schedule;
    let _ = writeln!(
        out,
        "\nschedule: planned {} sent {} dropped {} ({:.1}% of the asked load applied), scheduling lag p99 {:.2} ms",
        s.planned,
        s.sent,
        s.dropped,
        100.0 * s.achieved,
        s.lag_p99_ms
    );
    if s.generator_bound {
        let _ = writeln!(
            out,
            "WARNING: the generator could not keep its schedule ({}); these figures measure vlbench, not only the target",
            s.generator_bound_reason.as_deref().unwrap_or("see the schedule ledger")
        );
    }
    for w in &report.meta.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    for t in report.thresholds.iter().flatten() {
        let verdict = if t.passed { "pass" } else { "FAIL" };
        let _ = writeln!(out, "threshold {verdict}: {}", t.message);
    }
    if !files.is_empty() {
        let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        let _ = writeln!(out, "\nreports: {}", names.join(", "));
    }
    out
}

fn row(out: &mut String, name: &str, m: &Metrics, width: usize) {
    let _ = writeln!(
        out,
        "{name:<width$}  {:>9} {:>9} {:>8.1} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
        m.total_queries,
        m.failed_queries,
        m.qps,
        m.avg_response_time,
        m.p50_response_time,
        m.p95_response_time,
        m.p99_response_time,
        m.p999_response_time,
        m.max_response_time
    );
}
