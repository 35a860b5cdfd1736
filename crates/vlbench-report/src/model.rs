//! The `Report` model: everything a report file shows, built once from a
//! [`RunStats`] (and optional per-node stats) plus context. JSON is its
//! serialisation; CSV and Prometheus text are renderings of it, so every
//! format shows the same numbers.
//!
//! Must not: write files or know about formats (see `json`, `csv`, `prom`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use vlbench_stats::hist::{max_ms, mean_ms, quantile_ms};
use vlbench_stats::{ErrorClass, IntervalReport, QueryStats, RunStats, Summary};

use crate::schedule::ScheduleSummary;
use crate::threshold::{Threshold, ThresholdResult};

/// The name used for "all queries" in per-interval series and CSV rows.
pub const TOTAL_QUERY: &str = "__total__";

/// What the caller knows about the run beyond the measurements.
#[derive(Clone, Debug)]
pub struct ReportContext {
    /// The benchmark's `metadata.name`.
    pub name: String,
    /// vlbench version that ran it.
    pub version: String,
    /// Wall-clock start of the run (the first interval's start).
    pub start: DateTime<Utc>,
    /// Wall-clock end of the run.
    pub end: DateTime<Utc>,
    /// How long load was applied; the divisor of every run-wide `qps`.
    pub duration: Duration,
    /// How long the schedule asked for (differs when stopped early).
    pub planned_duration: Duration,
    /// Load model, e.g. "open" or "closed".
    pub model: String,
    /// The benchmark config, already redacted by the caller.
    pub config: serde_json::Value,
    /// Things the user should know (e.g. "stopped early by Ctrl-C").
    pub warnings: Vec<String>,
    /// SLOs to evaluate; none means no `thresholds` section.
    pub thresholds: Vec<Threshold>,
}

/// A benchmark's report: the JSON file's schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Name, version, times, node count, warnings.
    pub meta: Meta,
    /// Run-wide figures (S-5 names and more).
    pub metrics: Metrics,
    /// Failures by class (every class, zeros included) and statuses.
    pub errors: Errors,
    /// Query name -> its figures.
    pub queries: BTreeMap<String, Metrics>,
    /// The per-second series, gaps included as `missing: true`.
    pub intervals: Vec<IntervalPoint>,
    /// How much of the asked load was applied, and whether the generator kept up.
    pub schedule: ScheduleSummary,
    /// The benchmark config as given (redacted by the caller).
    pub config: serde_json::Value,
    /// Node id -> its figures; only in distributed runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<BTreeMap<String, Metrics>>,
    /// Threshold results; only when thresholds were given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<ThresholdResult>>,
}

/// Identification of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// The benchmark's name.
    pub name: String,
    /// vlbench version.
    pub version: String,
    /// Start, RFC 3339 UTC.
    pub start: String,
    /// End, RFC 3339 UTC.
    pub end: String,
    /// Length of the run, s.
    pub duration_secs: f64,
    /// Length the schedule asked for, s.
    pub planned_duration_secs: f64,
    /// Load model.
    pub model: String,
    /// Nodes that generated load (1 for a one-process run).
    pub nodes: usize,
    /// Things the user should know.
    pub warnings: Vec<String>,
}

/// Figures of one query, one node or the whole run. Times in ms; every
/// percentile from a merged histogram.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Completed requests (ok + failed; dropped arrivals are not queries).
    pub total_queries: u64,
    /// Requests without error.
    pub successful_queries: u64,
    /// Requests with an error.
    pub failed_queries: u64,
    /// Arrivals dropped at `max_in_flight` (open model).
    pub dropped_queries: u64,
    /// failed / total, 0..=1 (0 when nothing completed).
    pub error_rate: f64,
    /// Completed requests per second of the run.
    pub qps: f64,
    /// Mean latency, ms.
    pub avg_response_time: f64,
    /// Median latency, ms.
    pub p50_response_time: f64,
    /// 90th percentile latency, ms.
    pub p90_response_time: f64,
    /// 95th percentile latency, ms.
    pub p95_response_time: f64,
    /// 99th percentile latency, ms.
    pub p99_response_time: f64,
    /// 99.9th percentile latency, ms.
    pub p999_response_time: f64,
    /// Highest latency, ms.
    pub max_response_time: f64,
    /// Mean service time (send to end of body), ms.
    pub avg_service_time: f64,
    /// Median service time, ms.
    pub p50_service_time: f64,
    /// 99th percentile service time, ms.
    pub p99_service_time: f64,
    /// Body bytes received.
    pub bytes: u64,
    /// JSON lines received.
    pub rows: u64,
}

impl Metrics {
    /// The figures of `s` over `elapsed_secs`.
    pub fn from_stats(s: &QueryStats, elapsed_secs: f64) -> Metrics {
        let m = Summary::from_stats(s, elapsed_secs);
        Metrics {
            total_queries: m.total_queries,
            successful_queries: m.successful_queries,
            failed_queries: m.failed_queries,
            dropped_queries: m.dropped_queries,
            error_rate: ratio(m.failed_queries, m.total_queries),
            qps: m.qps,
            avg_response_time: m.avg_response_time,
            p50_response_time: m.p50_response_time,
            p90_response_time: m.p90_response_time,
            p95_response_time: m.p95_response_time,
            p99_response_time: m.p99_response_time,
            p999_response_time: m.p999_response_time,
            max_response_time: m.max_response_time,
            avg_service_time: m.avg_service_time,
            p50_service_time: m.p50_service_time,
            p99_service_time: m.p99_service_time,
            bytes: m.bytes,
            rows: m.rows,
        }
    }

    /// The value of the metric named `key` (a field name above).
    pub fn get(&self, key: &str) -> Option<f64> {
        Some(match key {
            "total_queries" => self.total_queries as f64,
            "successful_queries" => self.successful_queries as f64,
            "failed_queries" => self.failed_queries as f64,
            "dropped_queries" => self.dropped_queries as f64,
            "error_rate" => self.error_rate,
            "qps" => self.qps,
            "avg_response_time" => self.avg_response_time,
            "p50_response_time" => self.p50_response_time,
            "p90_response_time" => self.p90_response_time,
            "p95_response_time" => self.p95_response_time,
            "p99_response_time" => self.p99_response_time,
            "p999_response_time" => self.p999_response_time,
            "max_response_time" => self.max_response_time,
            "avg_service_time" => self.avg_service_time,
            "p50_service_time" => self.p50_service_time,
            "p99_service_time" => self.p99_service_time,
            "bytes" => self.bytes as f64,
            "rows" => self.rows as f64,
            _ => return None,
        })
    }

    /// Every key [`Metrics::get`] knows, for error messages.
    pub const KEYS: [&'static str; 18] = [
        "total_queries",
        "successful_queries",
        "failed_queries",
        "dropped_queries",
        "error_rate",
        "qps",
        "avg_response_time",
        "p50_response_time",
        "p90_response_time",
        "p95_response_time",
        "p99_response_time",
        "p999_response_time",
        "max_response_time",
        "avg_service_time",
        "p50_service_time",
        "p99_service_time",
        "bytes",
        "rows",
    ];
}

/// Failures of the whole run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    /// Class name -> count, every class present (zeros included).
    pub by_class: BTreeMap<String, u64>,
    /// Status text ("200", ...) -> count, non-zero only.
    pub status_codes: BTreeMap<String, u64>,
}

impl Errors {
    fn from_stats(s: &QueryStats) -> Errors {
        Errors {
            by_class: ErrorClass::ALL
                .into_iter()
                .map(|c| (c.as_str().to_string(), s.errors[c.index()]))
                .collect(),
            status_codes: s.statuses.to_map(),
        }
    }
}

/// One second of the run. A second without a report is listed with
/// `missing: true` and no figures, never left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalPoint {
    /// Second index since the start.
    pub seq: u64,
    /// True when no report arrived for this second.
    pub missing: bool,
    /// Start, ms since the Unix epoch (estimated from the run start when missing).
    pub start_unix_ms: u64,
    /// Start, RFC 3339 UTC.
    pub start: String,
    /// Length, ms (0 when missing).
    pub duration_ms: u64,
    /// All queries merged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<IntervalFigures>,
    /// Query name -> its figures in this second.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub queries: BTreeMap<String, IntervalFigures>,
    /// The schedule ledger of this second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<IntervalLedger>,
}

/// Figures of one query (or all) in one second. Times in ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalFigures {
    /// Completed requests.
    pub total_queries: u64,
    /// Requests with an error.
    pub failed_queries: u64,
    /// Dropped arrivals.
    pub dropped_queries: u64,
    /// Completed requests per second of this interval.
    pub qps: f64,
    /// Mean latency, ms.
    pub avg_response_time: f64,
    /// Median latency, ms.
    pub p50_response_time: f64,
    /// 95th percentile latency, ms.
    pub p95_response_time: f64,
    /// 99th percentile latency, ms.
    pub p99_response_time: f64,
    /// Highest latency, ms.
    pub max_response_time: f64,
}

impl IntervalFigures {
    /// Only the figures a series needs (cheaper than a full summary: reports
    /// of long runs compute thousands of these).
    fn from_stats(s: &QueryStats, secs: f64) -> IntervalFigures {
        let total = s.total();
        IntervalFigures {
            total_queries: total,
            failed_queries: s.failed(),
            dropped_queries: s.dropped,
            qps: if secs > 0.0 { total as f64 / secs } else { 0.0 },
            avg_response_time: mean_ms(&s.latency),
            p50_response_time: quantile_ms(&s.latency, 0.50),
            p95_response_time: quantile_ms(&s.latency, 0.95),
            p99_response_time: quantile_ms(&s.latency, 0.99),
            max_response_time: max_ms(&s.latency),
        }
    }
}

/// The schedule ledger of one second.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalLedger {
    /// Arrivals/requests the schedule asked for.
    pub planned: u64,
    /// Requests sent.
    pub sent: u64,
    /// Requests finished.
    pub completed: u64,
    /// Arrivals dropped at `max_in_flight`.
    pub dropped: u64,
    /// 99th percentile of send lag (real minus intended send), ms.
    pub lag_p99_ms: f64,
}

impl Report {
    /// Builds the report of `run` (the merged fleet in distributed mode),
    /// with per-node figures when `nodes` (node id -> that node's stats) is
    /// given, and evaluates `ctx.thresholds`.
    pub fn build(
        run: &RunStats,
        nodes: Option<&BTreeMap<String, RunStats>>,
        ctx: ReportContext,
    ) -> Report {
        let secs = ctx.duration.as_secs_f64();
        let nodes = nodes.map(|m| {
            m.iter()
                .map(|(id, r)| (id.clone(), Metrics::from_stats(&r.total.total(), secs)))
                .collect::<BTreeMap<_, _>>()
        });
        Report::build_with_node_metrics(run, nodes, ctx)
    }

    /// [`Report::build`] with each node's figures already computed (over
    /// `ctx.duration`): a caller holding many nodes' statistics in another
    /// form (the coordinator's sparse ones) need not build each node's full
    /// histograms at once.
    pub fn build_with_node_metrics(
        run: &RunStats,
        nodes: Option<BTreeMap<String, Metrics>>,
        ctx: ReportContext,
    ) -> Report {
        let secs = ctx.duration.as_secs_f64();
        let total = run.total.total();
        let names = unique_names(&run.query_names, run.total.queries.len());
        let queries = names
            .iter()
            .zip(&run.total.queries)
            .map(|(n, q)| (n.clone(), Metrics::from_stats(q, secs)));
        let start_ms = u64::try_from(ctx.start.timestamp_millis()).unwrap_or(0);
        let (intervals, unlisted) = series(run, &names, start_ms, expected_intervals(secs));
        let mut warnings = ctx.warnings;
        if unlisted > 0 {
            warnings.push(format!(
                "{unlisted} missing second(s) are not listed in intervals (at most {MAX_MISSING_LISTED} are)"
            ));
        }
        let mut report = Report {
            meta: Meta {
                name: ctx.name,
                version: ctx.version,
                start: rfc3339(ctx.start),
                end: rfc3339(ctx.end),
                duration_secs: secs,
                planned_duration_secs: ctx.planned_duration.as_secs_f64(),
                model: ctx.model,
                nodes: nodes.as_ref().map_or(1, BTreeMap::len),
                warnings,
            },
            metrics: Metrics::from_stats(&total, secs),
            errors: Errors::from_stats(&total),
            queries: queries.collect(),
            intervals,
            schedule: ScheduleSummary::from_ledger(&run.total.ledger),
            config: ctx.config,
            nodes,
            thresholds: None,
        };
        if !ctx.thresholds.is_empty() {
            report.thresholds = Some(ctx.thresholds.iter().map(|t| t.evaluate(&report)).collect());
        }
        report
    }

    /// False when any threshold failed (true when there are none): the
    /// binary's exit status for CI (SPEC B-5).
    pub fn passed(&self) -> bool {
        self.thresholds
            .as_ref()
            .is_none_or(|ts| ts.iter().all(|t| t.passed))
    }
}

/// Whole seconds the run covered: each of them must have a report, so a lost
/// last report shows as missing too. A trailing partial second is optional.
fn expected_intervals(secs: f64) -> u64 {
    if secs.is_finite() && secs > 0.0 {
        secs.floor() as u64
    } else {
        0
    }
}

/// Query names by index, made unique (a repeated name gets "#<index>") so no
/// query's figures overwrite another's; unnamed indexes get "query#<index>".
fn unique_names(names: &[String], n: usize) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    (0..n)
        .map(|i| {
            let base = names
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("query#{i}"));
            let name = if seen.contains(&base) || base == TOTAL_QUERY {
                format!("{base}#{i}")
            } else {
                base
            };
            seen.insert(name.clone());
            name
        })
        .collect()
}

/// Most missing seconds listed: a corrupt seq (say 2^60) must not make the
/// report allocate without bound. One day of seconds.
pub const MAX_MISSING_LISTED: u64 = 86_400;

/// The per-second series: seqs 0..max(last received + 1, expected), each
/// present or marked missing. Returns how many missing seconds were not
/// listed because of [`MAX_MISSING_LISTED`] (normally 0).
fn series(
    run: &RunStats,
    names: &[String],
    start_ms: u64,
    expected: u64,
) -> (Vec<IntervalPoint>, u64) {
    let mut out = Vec::with_capacity(run.len());
    let mut budget = MAX_MISSING_LISTED;
    let mut unlisted = 0;
    let mut gap = |from: u64, to: u64, out: &mut Vec<IntervalPoint>| {
        let n = to.saturating_sub(from);
        let listed = n.min(budget);
        out.extend((from..from + listed).map(|seq| missing_point(seq, start_ms)));
        budget -= listed;
        unlisted += n - listed;
    };
    let mut next = 0;
    for r in run.all_intervals() {
        let seq = r.seq;
        gap(next, seq, &mut out);
        out.push(point(&r, names));
        next = seq.saturating_add(1);
    }
    gap(next, expected, &mut out);
    (out, unlisted)
}

fn missing_point(seq: u64, start_ms: u64) -> IntervalPoint {
    let start_unix_ms = start_ms.saturating_add(seq.saturating_mul(1000));
    IntervalPoint {
        seq,
        missing: true,
        start_unix_ms,
        start: rfc3339_ms(start_unix_ms),
        duration_ms: 0,
        total: None,
        queries: BTreeMap::new(),
        ledger: None,
    }
}

fn point(r: &IntervalReport, names: &[String]) -> IntervalPoint {
    let secs = r.duration_ms as f64 / 1000.0;
    let l = &r.stats.ledger;
    IntervalPoint {
        seq: r.seq,
        missing: false,
        start_unix_ms: r.start_unix_ms,
        start: rfc3339_ms(r.start_unix_ms),
        duration_ms: r.duration_ms,
        total: Some(IntervalFigures::from_stats(&r.stats.total(), secs)),
        queries: names
            .iter()
            .zip(&r.stats.queries)
            .map(|(n, q)| (n.clone(), IntervalFigures::from_stats(q, secs)))
            .collect(),
        ledger: Some(IntervalLedger {
            planned: l.planned,
            sent: l.sent,
            completed: l.completed,
            dropped: l.dropped,
            lag_p99_ms: quantile_ms(&l.lag, 0.99),
        }),
    }
}

/// `num / den`, 0 when `den` is 0.
pub(crate) fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn rfc3339_ms(unix_ms: u64) -> String {
    let t = i64::try_from(unix_ms)
        .ok()
        .and_then(DateTime::from_timestamp_millis)
        .unwrap_or_default();
    rfc3339(t)
}
