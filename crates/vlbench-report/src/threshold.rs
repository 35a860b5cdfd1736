//! Pass/fail thresholds (SLOs, SPEC B-5): a metric of the run or of one
//! query must stay at or below a maximum and/or at or above a minimum. Evaluated against the built report so
//! that what passes is exactly what the report shows.
//!
//! Must not: exit the process (the binary turns a failure into its status).

use serde::{Deserialize, Serialize};

use crate::model::{Metrics, Report};

/// One SLO: `metric` (a key of the report's `metrics`, e.g.
/// `p99_response_time` in ms or `error_rate` in 0..=1) of the whole run, or
/// of `query` when given, must be at most `max` and at least `min` (each
/// optional; a threshold with neither always passes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// A metrics key name.
    pub metric: String,
    /// A query name; none means the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Highest acceptable value (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Lowest acceptable value (inclusive), e.g. for `qps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
}

/// The outcome of one threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// The metric checked.
    pub metric: String,
    /// The query checked; none means the whole run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The upper limit, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The lower limit, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// The measured value; none when the metric or query does not exist.
    pub actual: Option<f64>,
    /// True when `actual` is within `min..=max`.
    pub passed: bool,
    /// One line for people: what was compared, or what was wrong.
    pub message: String,
}

impl Threshold {
    /// Checks this threshold against `report`. An unknown metric or query
    /// fails (a typo must not pass CI silently) with a message naming the
    /// valid choices.
    pub fn evaluate(&self, report: &Report) -> ThresholdResult {
        let result = |actual: Option<f64>, passed: bool, message: String| ThresholdResult {
            metric: self.metric.clone(),
            query: self.query.clone(),
            max: self.max,
            min: self.min,
            actual,
            passed,
            message,
        };
        let (metrics, scope): (&Metrics, String) = match &self.query {
            None => (&report.metrics, "run".to_string()),
            Some(q) => match report.queries.get(q) {
                Some(m) => (m, format!("query {q:?}")),
                None => {
                    let known: Vec<&str> = report.queries.keys().map(String::as_str).collect();
                    return result(
                        None,
                        false,
                        format!("threshold query {q:?} is not a query of this run; use one of {known:?}"),
                    );
                }
            },
        };
        let Some(actual) = metrics.get(&self.metric) else {
            return result(
                None,
                false,
                format!(
                    "threshold metric {:?} is unknown; use one of {:?}",
                    self.metric,
                    Metrics::KEYS
                ),
            );
        };
        let passed =
            self.max.is_none_or(|max| actual <= max) && self.min.is_none_or(|min| actual >= min);
        let verdict = if passed { "ok" } else { "FAILED" };
        let mut bounds = Vec::with_capacity(2);
        if let Some(min) = self.min {
            bounds.push(format!(">= {min}"));
        }
        if let Some(max) = self.max {
            bounds.push(format!("<= {max}"));
        }
        result(
            Some(actual),
            passed,
            format!(
                "{} of {scope}: {actual} {}: {verdict}",
                self.metric,
                bounds.join(" and ")
            ),
        )
    }
}
