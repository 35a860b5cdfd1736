//! The benchmark file exactly as written: one struct per YAML map, one
//! documented field per key (S-6 plus vlbench's extensions).
//!
//! Owns the names of the keys and what each one means; docs/config.md
//! repeats these docs for readers. Every field is optional here so that a
//! file with mistakes still deserializes and `validate` can report *all*
//! missing or wrong values at once; which fields are required, the defaults
//! and every semantic rule live in `validate`. Text-like fields are `String`:
//! the schema walk has already turned numbers written there (`duration: 600`)
//! into text. Secrets are [`Secret`]s, so printing or serialising a raw file
//! is safe: that is what reports embed.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

use crate::secret::{is_sensitive_header, Secret, REDACTED};

/// A whole benchmark file.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkFile {
    /// Required. Must be `benchmark.victorialogs.io/v1`.
    #[serde(rename = "apiVersion", skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Required. Must be `BenchmarkConfig`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Required. Names the benchmark.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Required. What to load, how hard, and what to report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<Spec>,
}

/// `metadata`: identifies the benchmark in reports and on the coordinator.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Required. The benchmark's name, used in reports and result file names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Optional free-form `key: value` labels, copied into reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// `spec`: the benchmark itself.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Required. The VictoriaLogs endpoint under test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    /// Required. How much load, for how long, in which shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workload: Option<Workload>,
    /// Required, at least one. The LogsQL queries to send, picked by weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queries: Option<Vec<Query>>,
    /// Optional. Worker fleet for distributed mode; ignored by `vlbench run`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<Workers>,
    /// Optional. Which report files to write, and where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporting: Option<Reporting>,
    /// Optional. Pass/fail limits checked at the end of the run (exit code 1
    /// when one fails).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<Vec<Threshold>>,
}

/// `spec.target`: where requests go and how they are sent.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Required. Base URL of VictoriaLogs (or vlselect), `http://` or
    /// `https://`, with an optional path prefix; vlbench appends
    /// `/select/logsql/...`. No credentials and no query string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
    /// Optional. Credentials sent in the `Authorization` header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// Optional. Extra request headers, `Name: value`. Values of names that
    /// look like credentials (Authorization, *token*, *key*, ...) are
    /// redacted in reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Headers>,
    /// Optional. VictoriaLogs tenant, sent as `AccountID`/`ProjectID` headers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<Tenant>,
    /// Optional. TLS settings for `https://` targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// Optional, default `30s`. Limit for one whole request, body included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
    /// Optional, default `false`. Speak HTTP/2 to the target instead of
    /// HTTP/1.1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http2: Option<bool>,
    /// Optional, default `true`. Send `Accept-Encoding: gzip` and decompress.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_gzip: Option<bool>,
}

/// `spec.target.auth`: bearer token or basic credentials. Each secret comes
/// from exactly one source: inline, a file, or an environment variable.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// Required. `bearer` or `basic`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// bearer: the token itself (prefer `token_file` or `token_env`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
    /// bearer: a file holding the token (trailing newline ignored); relative
    /// paths are relative to the benchmark file's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// bearer: the name of an environment variable holding the token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_env: Option<String>,
    /// basic: the user name (required for basic).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// basic: the password itself (prefer `password_file` or `password_env`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// basic: a file holding the password (trailing newline ignored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    /// basic: the name of an environment variable holding the password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
}

/// `spec.target.tenant`: a VictoriaLogs tenant (both default to 0).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tenant {
    /// Optional, default 0. Sent as the `AccountID` header (0..=4294967295).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<i64>,
    /// Optional, default 0. Sent as the `ProjectID` header (0..=4294967295).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
}

/// `spec.target.tls`: how to trust an `https://` target.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Optional. PEM file of CA certificates to trust instead of the system
    /// roots; relative to the benchmark file's directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Optional, default `false`. Accept any certificate (testing only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// `spec.workload`: the load shape.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    /// Optional, default `closed`. `closed`: a fixed number of users, each
    /// sending its next query when the previous one finished (plus
    /// `think_time`). `open`: queries arrive at `target_qps` per second
    /// whether or not earlier ones finished; latency counts from the
    /// intended send time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// closed: concurrent users (required unless `stages` are given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_concurrent_users: Option<i64>,
    /// Required unless `stages` are given. Length of the run including
    /// `ramp_up_time`: `600`, `600s`, `10m`, `1h30m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// Optional, default 0. Time to go linearly from zero to the full load.
    /// Part of `duration`; with `stages`, added before the first stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ramp_up_time: Option<String>,
    /// closed: optional global cap in queries per second over all users.
    /// open: the arrival rate, required unless `stages` are given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_qps: Option<f64>,
    /// open: optional, default 1000. Most queries in flight at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<i64>,
    /// open: optional, default = `max_in_flight`. Arrivals that may wait
    /// for a free in-flight slot; an arrival beyond it is dropped and counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_queued: Option<i64>,
    /// closed: optional, default 0. Pause of each user between queries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub think_time: Option<String>,
    /// Optional. Load over time: each stage moves linearly from the previous
    /// stage's value to its own over its `duration`. When given, the stages
    /// define the run (no `duration`, `total_concurrent_users` or open
    /// `target_qps`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stages: Option<Vec<Stage>>,
}

/// One entry of `spec.workload.stages`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Required. How long this stage lasts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// closed model: the number of users reached at the end of the stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<i64>,
    /// open model: the arrival rate reached at the end of the stage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_qps: Option<f64>,
}

/// One entry of `spec.queries`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Query {
    /// Required, unique. Names the query in reports and thresholds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Required. A LogsQL query with optional `{{ ... }}` variables. Must not
    /// start with `|` (write `* | ...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// Optional, default 1. Relative share of this query in the mix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// Optional free-form group name shown in reports (`filter`, `complex`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Optional, default `query`. The endpoint: `query`, `stats`,
    /// `stats_range`, `hits`, `field_names`, `field_values`, `streams`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Optional. Endpoint arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Params>,
}

/// `spec.queries[].params`: query-string arguments of the endpoint.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// Optional. Start of the time range: `now`, relative `-1h`, RFC3339, or
    /// unix seconds. Relative values are resolved when each query is sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Optional. End of the time range, same forms as `start`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// Optional. Most rows (or values) returned; > 0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// stats_range and hits only: bucket width, a duration such as `5m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// field_values (required) and hits (optional grouping): a field name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// `spec.workers`: the worker fleet in distributed mode.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Workers {
    /// Optional, default 1. How many workers share the load.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i64>,
    /// Optional. Kubernetes resources of each worker pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Optional, default `60s`. How long the coordinator waits for
    /// `replicas` workers before it gives up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_timeout: Option<String>,
}

/// `spec.workers.resources`: Kubernetes requests and limits.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Optional. Guaranteed resources.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<ResourceList>,
    /// Optional. Upper bounds; each must be >= the matching request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<ResourceList>,
}

/// CPU and memory as Kubernetes quantities.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceList {
    /// Optional. CPU cores: `2`, `0.5`, `500m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Optional. Memory: `512Mi`, `1Gi`, `1G`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<String>,
}

/// `spec.reporting`: the report files written at the end.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reporting {
    /// Optional, default `[json, csv, prometheus]`. Any of `json`, `csv`,
    /// `prometheus`, `html`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub formats: Option<Vec<String>>,
    /// Optional. Where report files go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
}

/// `spec.reporting.storage`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Storage {
    /// Optional, default `local`. `local` (a directory) or
    /// `persistent_volume` (a directory on a mounted volume; the same to
    /// vlbench).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Optional, default `./results`. Directory for report files, relative to
    /// the working directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// One entry of `spec.thresholds`: a limit on a result metric.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Threshold {
    /// Required. A result metric, e.g. `p99_response_time` (ms) or
    /// `error_rate` (0..1); see docs/config.md for the list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The run fails when the metric is above this value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// The run fails when the metric is below this value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// Optional. Apply to this query's results (by `name`) instead of the
    /// total over all queries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
}

/// `spec.target.url` as written; prints without credentials or query string.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Url(pub String);

impl Url {
    /// The URL with any `user:password@` and `?query` replaced by `***`.
    pub fn redacted(&self) -> String {
        let text = &self.0;
        let (scheme, rest) = text
            .split_once("://")
            .map_or(("", text.as_str()), |(s, r)| (s, r));
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rsplit_once('@') {
            Some((_, host)) => format!("{REDACTED}@{host}"),
            None => authority.to_string(),
        };
        let tail = match tail.split_once('?') {
            Some((path, _)) => format!("{path}?{REDACTED}"),
            None => tail.to_string(),
        };
        let sep = if scheme.is_empty() { "" } else { "://" };
        format!("{scheme}{sep}{authority}{tail}")
    }
}

impl fmt::Debug for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.redacted())
    }
}

impl Serialize for Url {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.redacted())
    }
}

/// `spec.target.headers` as written; prints credential-like values as `***`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Headers(pub BTreeMap<String, String>);

impl Headers {
    fn redacted(&self) -> BTreeMap<&str, &str> {
        self.0
            .iter()
            .map(|(name, value)| {
                let shown = if is_sensitive_header(name) {
                    REDACTED
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.redacted()).finish()
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.redacted().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_redaction() {
        let cases = [
            ("http://127.0.0.1:9428", "http://127.0.0.1:9428"),
            (
                "https://u:p@host:1/prefix?token=x",
                "https://***@host:1/prefix?***",
            ),
            ("host?x=1", "host?***"),
        ];
        for (raw, shown) in cases {
            assert_eq!(Url(raw.to_string()).redacted(), shown);
        }
    }
}
