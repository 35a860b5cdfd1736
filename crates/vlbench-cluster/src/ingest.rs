//! The coordinator's reading of an S-5 result report: [`IngestReport`] is
//! [`ResultReport`] with the interval's histograms decoded straight into
//! their recorded buckets ([`SparseIntervalReport`]). Same JSON, both ways
//! (a report log written from either type is read by the other).
//!
//! Why a second type: a `ResultReport` decodes each of its histograms into
//! a full 188 KiB array; with 200 nodes x 21 histograms per second that
//! zeroing and walking was most of the coordinator's CPU (issue 6.4).
//!
//! Must not: merge or validate against a task (the aggregator does).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use vlbench_stats::SparseIntervalReport;

use crate::protocol::{Metrics, ReportStatus, ResultReport};

/// A [`ResultReport`] whose interval is in sparse form.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestReport {
    /// The benchmark's id (must match the path).
    pub task_id: String,
    /// The sending node.
    pub node_id: String,
    /// When the report was made.
    pub timestamp: DateTime<Utc>,
    /// Headline figures of the interval (zeros in a final message).
    pub metrics: Metrics,
    /// The node's execution state.
    pub status: ReportStatus,
    /// Interval number (running); one past the last in a final message.
    pub seq: u64,
    /// Final message only: the first interval's number; absent means 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seq: Option<u64>,
    /// The interval itself (running only).
    #[serde(default)]
    pub interval: Option<SparseIntervalReport>,
    /// Why the node failed (failed only).
    #[serde(default)]
    pub error: Option<String>,
    /// The assignment version the node runs (the report is a heartbeat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_version: Option<u64>,
}

impl From<ResultReport> for IngestReport {
    /// Converts a decoded report (walks its histograms once: for tests and
    /// in-process callers, not for the HTTP path).
    fn from(r: ResultReport) -> Self {
        IngestReport {
            interval: r.interval.as_ref().map(SparseIntervalReport::from_report),
            task_id: r.task_id,
            node_id: r.node_id,
            timestamp: r.timestamp,
            metrics: r.metrics,
            status: r.status,
            seq: r.seq,
            first_seq: r.first_seq,
            error: r.error,
            assignment_version: r.assignment_version,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregator::tests::{interval, report};

    #[test]
    fn same_json_as_result_report_both_ways() {
        let r = report(
            "a",
            3,
            ReportStatus::Running,
            Some(interval(3, &[10, 2000], 1)),
        );
        let json = serde_json::to_string(&r).unwrap();
        let ingest: IngestReport = serde_json::from_str(&json).unwrap();
        assert_eq!(ingest, IngestReport::from(r.clone()));
        let back: ResultReport =
            serde_json::from_str(&serde_json::to_string(&ingest).unwrap()).unwrap();
        assert_eq!(back, r);
        let unknown = json.replacen('{', r#"{"surprise":1,"#, 1);
        assert!(serde_json::from_str::<IngestReport>(&unknown).is_err());
    }
}
