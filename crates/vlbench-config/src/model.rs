//! The validated, ready-to-use pieces of a benchmark: target, workers,
//! reporting and thresholds, with defaults applied and secrets resolved.
//!
//! Owns the types other crates consume. Values here are already checked:
//! code that uses them does not re-validate. It must not parse YAML or
//! report problems (that is `schema` and `validate`).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::secret::Secret;

/// Where requests go and how they are sent (`spec.target`).
#[derive(Clone, Debug)]
pub struct TargetSpec {
    /// Scheme, authority and optional path prefix, without a trailing `/`
    /// and without credentials or query string.
    pub url: http::Uri,
    /// Custom headers, then `Authorization` (not the tenant's: see
    /// `tenant`). Names are valid header names and values valid header
    /// values (checked), so converting to `http` types cannot fail.
    pub headers: Vec<Header>,
    /// The tenant, to send as `AccountID`/`ProjectID` headers (not in
    /// `headers`, so they are not sent twice).
    pub tenant: Option<Tenant>,
    /// TLS settings for `https://` targets.
    pub tls: TlsSpec,
    /// Limit for one whole request, body included.
    pub timeout: Duration,
    /// Speak HTTP/2.
    pub http2: bool,
    /// Ask for gzip-compressed responses.
    pub accept_gzip: bool,
}

impl TargetSpec {
    /// The URL's path prefix without a trailing `/` (`""` or `/logs`), to
    /// put before `/select/logsql/...`; `url.path()` is `/` when empty.
    pub fn path_prefix(&self) -> &str {
        self.url.path().trim_end_matches('/')
    }
}

/// One request header; credentials are [`Secret`]s.
#[derive(Clone, Debug)]
pub struct Header {
    /// A valid HTTP header name as written (`AccountID`, `X-Scope`).
    pub name: String,
    /// The value; `Secret` for `Authorization` and credential-like names.
    pub value: HeaderText,
}

/// A header value that is either plain or a secret.
#[derive(Clone, Debug)]
pub enum HeaderText {
    /// Safe to show.
    Plain(String),
    /// Must be marked sensitive when sent and never shown.
    Secret(Secret),
}

impl HeaderText {
    /// The value to put on the wire.
    pub fn expose(&self) -> &str {
        match self {
            HeaderText::Plain(text) => text,
            HeaderText::Secret(secret) => secret.expose(),
        }
    }

    /// Whether the HTTP client should mark the header sensitive.
    pub fn is_secret(&self) -> bool {
        matches!(self, HeaderText::Secret(_))
    }
}

/// A VictoriaLogs tenant (`AccountID`, `ProjectID` headers).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Tenant {
    /// `AccountID`.
    pub account_id: u32,
    /// `ProjectID`.
    pub project_id: u32,
}

/// TLS settings (`spec.target.tls`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSpec {
    /// CA bundle to trust instead of the system roots, resolved against the
    /// benchmark file's directory and readable when validated.
    pub ca_file: Option<PathBuf>,
    /// Accept any certificate.
    pub insecure_skip_verify: bool,
}

/// The worker fleet for distributed mode (`spec.workers`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkersSpec {
    /// How many workers share the load (>= 1).
    pub replicas: u32,
    /// Pod resources, as Kubernetes quantity text (validated).
    pub resources: Resources,
    /// How long the coordinator waits for `replicas` workers.
    pub start_timeout: Duration,
}

/// Kubernetes requests and limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    /// Guaranteed resources.
    pub requests: ResourceList,
    /// Upper bounds, each >= its request.
    pub limits: ResourceList,
}

/// CPU and memory quantities as written (`500m`, `1Gi`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResourceList {
    /// CPU cores.
    pub cpu: Option<String>,
    /// Memory in bytes with a suffix.
    pub memory: Option<String>,
}

/// What to write at the end of a run (`spec.reporting`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportingSpec {
    /// Distinct formats, in the order given.
    pub formats: Vec<ReportFormat>,
    /// Where the files go.
    pub storage: StorageSpec,
}

/// A report file format.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportFormat {
    /// The full report model as JSON.
    Json,
    /// One row per query.
    Csv,
    /// Prometheus text exposition.
    Prometheus,
    /// A self-contained page with charts.
    Html,
}

impl ReportFormat {
    /// Every format, in documentation order.
    pub const ALL: [ReportFormat; 4] = [
        ReportFormat::Json,
        ReportFormat::Csv,
        ReportFormat::Prometheus,
        ReportFormat::Html,
    ];

    /// The name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Json => "json",
            ReportFormat::Csv => "csv",
            ReportFormat::Prometheus => "prometheus",
            ReportFormat::Html => "html",
        }
    }

    /// Parses the name used in the file.
    pub fn from_name(name: &str) -> Option<ReportFormat> {
        ReportFormat::ALL.into_iter().find(|f| f.as_str() == name)
    }
}

/// Where report files are stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageSpec {
    /// `local` or `persistent_volume`; both are a directory to vlbench.
    pub kind: StorageKind,
    /// The directory, relative to the working directory unless absolute.
    pub path: PathBuf,
}

/// The storage `type`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StorageKind {
    /// A local directory.
    Local,
    /// A directory on a mounted volume (the S-6 example's type).
    PersistentVolume,
}

/// A result metric that a threshold can limit. Names match the fields of
/// the report's per-query summary, plus `error_rate`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Mean response time, ms.
    AvgResponseTime,
    /// Median response time, ms.
    P50ResponseTime,
    /// 90th percentile response time, ms.
    P90ResponseTime,
    /// 95th percentile response time, ms.
    P95ResponseTime,
    /// 99th percentile response time, ms.
    P99ResponseTime,
    /// 99.9th percentile response time, ms.
    P999ResponseTime,
    /// Slowest response, ms.
    MaxResponseTime,
    /// Mean service time (from the real send), ms.
    AvgServiceTime,
    /// 99th percentile service time, ms.
    P99ServiceTime,
    /// failed_queries / total_queries, 0..1 (0 when nothing was sent).
    ErrorRate,
    /// Completed queries per second.
    Qps,
    /// Queries sent and completed (ok + failed).
    TotalQueries,
    /// Failed queries.
    FailedQueries,
    /// Open model: arrivals dropped because no slot was free.
    DroppedQueries,
}

impl Metric {
    /// Every metric, in documentation order.
    pub const ALL: [Metric; 14] = [
        Metric::AvgResponseTime,
        Metric::P50ResponseTime,
        Metric::P90ResponseTime,
        Metric::P95ResponseTime,
        Metric::P99ResponseTime,
        Metric::P999ResponseTime,
        Metric::MaxResponseTime,
        Metric::AvgServiceTime,
        Metric::P99ServiceTime,
        Metric::ErrorRate,
        Metric::Qps,
        Metric::TotalQueries,
        Metric::FailedQueries,
        Metric::DroppedQueries,
    ];

    /// The name used in the file and in the report summary.
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::AvgResponseTime => "avg_response_time",
            Metric::P50ResponseTime => "p50_response_time",
            Metric::P90ResponseTime => "p90_response_time",
            Metric::P95ResponseTime => "p95_response_time",
            Metric::P99ResponseTime => "p99_response_time",
            Metric::P999ResponseTime => "p999_response_time",
            Metric::MaxResponseTime => "max_response_time",
            Metric::AvgServiceTime => "avg_service_time",
            Metric::P99ServiceTime => "p99_service_time",
            Metric::ErrorRate => "error_rate",
            Metric::Qps => "qps",
            Metric::TotalQueries => "total_queries",
            Metric::FailedQueries => "failed_queries",
            Metric::DroppedQueries => "dropped_queries",
        }
    }

    /// Parses the name used in the file.
    pub fn from_name(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// A fraction (0..=1) rather than a time or count.
    pub fn is_ratio(self) -> bool {
        self == Metric::ErrorRate
    }
}

/// A pass/fail limit checked at the end of a run (B-5).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Threshold {
    /// What is measured.
    pub metric: Metric,
    /// Limit one query's results (by name); `None` means all queries.
    pub query: Option<String>,
    /// Fails when the value is above.
    pub max: Option<f64>,
    /// Fails when the value is below.
    pub min: Option<f64>,
}

impl Threshold {
    /// Whether a measured value is within the limit.
    pub fn passes(&self, value: f64) -> bool {
        self.max.is_none_or(|max| value <= max) && self.min.is_none_or(|min| value >= min)
    }
}

impl fmt::Display for Threshold {
    /// `p99_response_time <= 500` or `qps >= 100 (query basic_filter)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let metric = self.metric.as_str();
        match (self.min, self.max) {
            (Some(min), Some(max)) => write!(f, "{min} <= {metric} <= {max}")?,
            (None, Some(max)) => write!(f, "{metric} <= {max}")?,
            (Some(min), None) => write!(f, "{metric} >= {min}")?,
            (None, None) => f.write_str(metric)?,
        }
        match &self.query {
            Some(query) => write!(f, " (query {query})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_bounds_and_display() {
        let t = Threshold {
            metric: Metric::P99ResponseTime,
            query: None,
            max: Some(500.0),
            min: None,
        };
        assert!(t.passes(500.0) && !t.passes(500.1));
        assert_eq!(t.to_string(), "p99_response_time <= 500");
        let t = Threshold {
            metric: Metric::Qps,
            query: Some("q".into()),
            max: None,
            min: Some(10.0),
        };
        assert!(t.passes(10.0) && !t.passes(9.9));
        assert_eq!(t.to_string(), "qps >= 10 (query q)");
    }

    #[test]
    fn names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(Metric::from_name(m.as_str()), Some(m));
        }
        for f in ReportFormat::ALL {
            assert_eq!(ReportFormat::from_name(f.as_str()), Some(f));
        }
    }
}
