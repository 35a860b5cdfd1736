//! `target.yaml`: every knob of the simulated VictoriaLogs.
//!
//! Owns: the serde model (with `deny_unknown_fields`, one doc per field:
//! these docs are what users read), the small string forms the CLI flags
//! use (`20ms`, `10ms..50ms`, `lognormal:20ms,200ms`, `503=0.1`,
//! `30s/2s`), and `validate()`, whose errors name the field path.
//! Must not: build runtime state (see `knobs.rs`) or touch the network.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::error::TargetError;
use crate::time::parse_duration;

/// The whole target configuration. Every field has a default, so an empty
/// file (or no file) gives a fast, error-free target with 100k rows.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct TargetConfig {
    /// Rows generated for the default tenant (AccountID 0, ProjectID 0).
    pub rows: u32,
    /// Seed of the generated data (and of the knobs' random choices), so two
    /// targets with the same config serve the same rows and errors.
    pub seed: u64,
    /// Time span the rows cover. The layout is rolling: row timestamps are
    /// recomputed from "now" on every request, so the newest rows are always
    /// seconds old and `_time:5m` always has data.
    pub span: Dur,
    /// More tenants with their own data. Requests for any other tenant get
    /// empty results (as VictoriaLogs answers for a tenant without data).
    pub tenants: Vec<TenantConfig>,
    /// Added latency before the response headers, per query type.
    pub latency: LatencyConfig,
    /// Injected errors: HTTP status -> probability per request (e.g.
    /// `503: 0.1`). Applies to every `/select/logsql/*` endpoint.
    pub errors: BTreeMap<u16, f64>,
    /// Periodic stall windows: requests arriving or in flight inside a
    /// window are held until it ends.
    pub stalls: Vec<StallConfig>,
    /// Limit of concurrently executing select requests, as
    /// `-search.maxConcurrentRequests` does.
    pub concurrency: ConcurrencyConfig,
    /// Mid-stream aborts, as VictoriaLogs does when a query times out after
    /// the response started.
    pub abort: AbortConfig,
    /// Parsed queries kept in memory, keyed by query text (the map is
    /// cleared when it is full).
    pub query_cache_size: usize,
}

impl Default for TargetConfig {
    fn default() -> Self {
        TargetConfig {
            rows: 100_000,
            seed: 42,
            span: Dur(Duration::from_secs(24 * 3600)),
            tenants: vec![TenantConfig {
                account_id: 1,
                project_id: 2,
                rows: 20_000,
                seed: 1,
            }],
            latency: LatencyConfig::default(),
            errors: BTreeMap::new(),
            stalls: Vec::new(),
            concurrency: ConcurrencyConfig::default(),
            abort: AbortConfig::default(),
            query_cache_size: 1024,
        }
    }
}

/// One extra tenant and the size of its data.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TenantConfig {
    /// `AccountID` header value of the tenant.
    pub account_id: u32,
    /// `ProjectID` header value of the tenant.
    pub project_id: u32,
    /// Rows generated for this tenant.
    pub rows: u32,
    /// Seed of this tenant's data.
    #[serde(default)]
    pub seed: u64,
}

/// Latency per query type; a type without an entry uses `default`, and no
/// entry at all means no added latency.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LatencyConfig {
    /// Used by every endpoint without its own entry.
    pub default: Option<LatencySpec>,
    /// `/select/logsql/query`.
    pub query: Option<LatencySpec>,
    /// `/select/logsql/stats_query`.
    pub stats_query: Option<LatencySpec>,
    /// `/select/logsql/stats_query_range`.
    pub stats_query_range: Option<LatencySpec>,
    /// `/select/logsql/hits`.
    pub hits: Option<LatencySpec>,
    /// `/select/logsql/field_names`.
    pub field_names: Option<LatencySpec>,
    /// `/select/logsql/field_values`.
    pub field_values: Option<LatencySpec>,
    /// `/select/logsql/streams`.
    pub streams: Option<LatencySpec>,
}

/// A latency distribution. In YAML exactly one of `fixed`, `uniform`,
/// `lognormal` is given: `{fixed: 20ms}`, `{uniform: {min: 10ms, max: 50ms}}`,
/// `{lognormal: {median: 20ms, p99: 200ms}}`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(try_from = "LatencyRepr")]
pub enum LatencySpec {
    /// Always this long.
    Fixed(Dur),
    /// Uniform between `min` and `max`.
    Uniform {
        /// Shortest latency.
        min: Dur,
        /// Longest latency.
        max: Dur,
    },
    /// Log-normal with the given median and 99th percentile: a long tail
    /// like real query latencies.
    Lognormal {
        /// 50th percentile.
        median: Dur,
        /// 99th percentile (at least the median).
        p99: Dur,
    },
}

/// The YAML form of [`LatencySpec`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyRepr {
    /// Always this long.
    fixed: Option<Dur>,
    /// `{min, max}`.
    uniform: Option<MinMax>,
    /// `{median, p99}`.
    lognormal: Option<MedianP99>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MinMax {
    min: Dur,
    max: Dur,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MedianP99 {
    median: Dur,
    p99: Dur,
}

impl TryFrom<LatencyRepr> for LatencySpec {
    type Error = String;
    fn try_from(r: LatencyRepr) -> Result<Self, Self::Error> {
        match (r.fixed, r.uniform, r.lognormal) {
            (Some(d), None, None) => Ok(LatencySpec::Fixed(d)),
            (None, Some(u), None) => Ok(LatencySpec::Uniform {
                min: u.min,
                max: u.max,
            }),
            (None, None, Some(l)) => Ok(LatencySpec::Lognormal {
                median: l.median,
                p99: l.p99,
            }),
            _ => Err("give exactly one of fixed, uniform or lognormal".to_string()),
        }
    }
}

/// A stall window that repeats `every` for `for`, starting `offset` after
/// the target starts.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StallConfig {
    /// Period of the windows.
    pub every: Dur,
    /// Length of each window (shorter than `every`).
    #[serde(rename = "for")]
    pub length: Dur,
    /// Start of the first window after the target started.
    #[serde(default)]
    pub offset: Dur,
}

/// Concurrency limit with a queue, as VictoriaLogs' search flags.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConcurrencyConfig {
    /// Requests executed at once (`-search.maxConcurrentRequests`); none
    /// means unlimited. Further requests wait in a queue.
    pub max_concurrent: Option<u32>,
    /// Longest queue wait (`-search.maxQueueDuration`); a request's own
    /// `timeout` arg and `max_query_duration` shorten it. A request that
    /// waits longer gets VictoriaLogs' 503.
    pub max_queue_duration: Dur,
    /// `-search.maxQueryDuration`: the default and cap of `timeout`.
    pub max_query_duration: Dur,
}

impl Default for ConcurrencyConfig {
    fn default() -> Self {
        ConcurrencyConfig {
            max_concurrent: None,
            max_queue_duration: Dur(Duration::from_secs(10)),
            max_query_duration: Dur(Duration::from_secs(30)),
        }
    }
}

/// When to cut a streamed response like a server-side query timeout:
/// HTTP 200, some rows, the abort text, then a TCP close.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct AbortConfig {
    /// Probability that a select request is aborted mid-stream.
    pub probability: f64,
    /// Requests whose `timeout` arg is below this are always aborted.
    pub timeout_below: Option<Dur>,
    /// Rows of `/query` sent before the abort (other endpoints abort before
    /// any data, as VictoriaLogs does for `stats_query`).
    pub after_rows: u32,
}

impl Default for AbortConfig {
    fn default() -> Self {
        AbortConfig {
            probability: 0.0,
            timeout_below: None,
            after_rows: 10,
        }
    }
}

/// A duration written as `20ms`, `1.5s`, `1h30m` or a number of seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Dur(pub Duration);

impl FromStr for Dur {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match parse_duration(s) {
            Some(ns) if ns >= 0 => Ok(Dur(Duration::from_nanos(ns.unsigned_abs()))),
            _ => Err(format!(
                "cannot parse duration {s:?}: use a number with a unit such as 20ms, 1.5s, 5m or 1h"
            )),
        }
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 20ms, 1.5s or 5m")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Dur, E> {
                s.parse().map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Ok(Dur(Duration::from_secs(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                u64::try_from(v)
                    .map(|v| Dur(Duration::from_secs(v)))
                    .map_err(|_| E::custom("a duration cannot be negative"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                Duration::try_from_secs_f64(v)
                    .map(Dur)
                    .map_err(|_| E::custom("a duration must be a non-negative number"))
            }
        }
        d.deserialize_any(V)
    }
}

impl FromStr for LatencySpec {
    type Err = String;
    /// `20ms` (fixed), `10ms..50ms` (uniform), `lognormal:20ms,200ms`
    /// (median, p99).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("lognormal:") {
            let (median, p99) = rest.split_once(',').ok_or_else(|| {
                format!("{s:?}: write lognormal:MEDIAN,P99, e.g. lognormal:20ms,200ms")
            })?;
            return Ok(LatencySpec::Lognormal {
                median: median.trim().parse()?,
                p99: p99.trim().parse()?,
            });
        }
        if let Some((min, max)) = s.split_once("..") {
            return Ok(LatencySpec::Uniform {
                min: min.trim().parse()?,
                max: max.trim().parse()?,
            });
        }
        Ok(LatencySpec::Fixed(s.trim().parse()?))
    }
}

impl FromStr for StallConfig {
    type Err = String;
    /// `EVERY/FOR`, e.g. `30s/2s`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (every, length) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: write EVERY/FOR, e.g. 30s/2s"))?;
        Ok(StallConfig {
            every: every.trim().parse()?,
            length: length.trim().parse()?,
            offset: Dur::default(),
        })
    }
}

/// Parses `STATUS=PROBABILITY` (`503=0.1`), the form of `--error-rate`.
pub fn parse_error_rate(s: &str) -> Result<(u16, f64), String> {
    let (status, p) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: write STATUS=PROBABILITY, e.g. 503=0.1"))?;
    let status = status
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: {status:?} is not an HTTP status code"))?;
    let p = p
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: {p:?} is not a probability between 0 and 1"))?;
    Ok((status, p))
}

impl LatencyConfig {
    /// Sets the latency of one query type by its endpoint name (`query`,
    /// `stats_query`, ...) or `default`; the form of `--latency TYPE=SPEC`.
    pub fn set(&mut self, kind: &str, spec: LatencySpec) -> Result<(), String> {
        let slot = match kind {
            "default" => &mut self.default,
            "query" => &mut self.query,
            "stats_query" => &mut self.stats_query,
            "stats_query_range" => &mut self.stats_query_range,
            "hits" => &mut self.hits,
            "field_names" => &mut self.field_names,
            "field_values" => &mut self.field_values,
            "streams" => &mut self.streams,
            other => {
                return Err(format!(
                    "unknown query type {other:?}: use default, query, stats_query, \
                     stats_query_range, hits, field_names, field_values or streams"
                ))
            }
        };
        *slot = Some(spec);
        Ok(())
    }

    fn entries(&self) -> [(&'static str, Option<LatencySpec>); 8] {
        [
            ("default", self.default),
            ("query", self.query),
            ("stats_query", self.stats_query),
            ("stats_query_range", self.stats_query_range),
            ("hits", self.hits),
            ("field_names", self.field_names),
            ("field_values", self.field_values),
            ("streams", self.streams),
        ]
    }
}

impl TargetConfig {
    /// Reads and validates a YAML file.
    pub fn from_yaml_file(path: &Path) -> Result<TargetConfig, TargetError> {
        let text = std::fs::read_to_string(path).map_err(|source| TargetError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        let cfg: TargetConfig =
            serde_yaml_ng::from_str(&text).map_err(|source| TargetError::ParseConfig {
                path: path.to_path_buf(),
                source,
            })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks value ranges; the error names the field path.
    pub fn validate(&self) -> Result<(), TargetError> {
        let bad = |field: String, message: String| Err(TargetError::Config { field, message });
        if self.rows > 10_000_000 {
            return bad(
                "rows".into(),
                "at most 10,000,000 rows are supported".into(),
            );
        }
        if self.span.0 < Duration::from_secs(1) {
            return bad("span".into(), "must be at least 1s".into());
        }
        for (i, t) in self.tenants.iter().enumerate() {
            if (t.account_id, t.project_id) == (0, 0) {
                return bad(
                    format!("tenants[{i}]"),
                    "tenant 0:0 is set by `rows`".into(),
                );
            }
            if self.tenants[..i]
                .iter()
                .any(|o| (o.account_id, o.project_id) == (t.account_id, t.project_id))
            {
                return bad(format!("tenants[{i}]"), "tenant listed twice".into());
            }
            if t.rows > 10_000_000 {
                return bad(format!("tenants[{i}].rows"), "at most 10,000,000".into());
            }
        }
        for (name, spec) in self.latency.entries() {
            if let Some(spec) = spec {
                validate_latency(spec).or_else(|m| bad(format!("latency.{name}"), m))?;
            }
        }
        let mut sum = 0.0;
        for (&status, &p) in &self.errors {
            if !(400..=599).contains(&status) {
                return bad(
                    format!("errors.{status}"),
                    "status must be 400..=599".into(),
                );
            }
            if !(0.0..=1.0).contains(&p) {
                return bad(
                    format!("errors.{status}"),
                    "probability must be in 0..=1".into(),
                );
            }
            sum += p;
        }
        if sum > 1.0 + 1e-9 {
            return bad(
                "errors".into(),
                format!("probabilities add up to {sum}, above 1"),
            );
        }
        for (i, s) in self.stalls.iter().enumerate() {
            if s.every.0.is_zero() || s.length.0 >= s.every.0 {
                return bad(
                    format!("stalls[{i}]"),
                    "`for` must be shorter than `every`, and `every` above zero".into(),
                );
            }
        }
        if self.concurrency.max_concurrent == Some(0) {
            return bad(
                "concurrency.max_concurrent".into(),
                "must be at least 1 (leave it out for no limit)".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.abort.probability) {
            return bad("abort.probability".into(), "must be in 0..=1".into());
        }
        if self.query_cache_size == 0 {
            return bad("query_cache_size".into(), "must be at least 1".into());
        }
        Ok(())
    }
}

fn validate_latency(spec: LatencySpec) -> Result<(), String> {
    match spec {
        LatencySpec::Fixed(_) => Ok(()),
        LatencySpec::Uniform { min, max } if min > max => Err("min is above max".into()),
        LatencySpec::Uniform { .. } => Ok(()),
        LatencySpec::Lognormal { median, p99 } if median.0.is_zero() || p99 < median => {
            Err("median must be above zero and p99 at least the median".into())
        }
        LatencySpec::Lognormal { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_with_every_knob() {
        let yaml = r#"
rows: 5000
seed: 7
span: 2h
tenants: [{account_id: 3, project_id: 4, rows: 100}]
latency:
  default: {fixed: 20ms}
  stats_query: {uniform: {min: 10ms, max: 50ms}}
  hits: {lognormal: {median: 5ms, p99: 100ms}}
errors: {503: 0.1, 500: 0.05}
stalls: [{every: 30s, for: 2s, offset: 5s}]
concurrency: {max_concurrent: 4, max_queue_duration: 1s}
abort: {probability: 0.01, timeout_below: 100ms, after_rows: 3}
"#;
        let cfg: TargetConfig = serde_yaml_ng::from_str(yaml).unwrap();
        cfg.validate().unwrap();
        assert_eq!(
            cfg.latency.default,
            Some(LatencySpec::Fixed("20ms".parse().unwrap()))
        );
        assert_eq!(cfg.errors.get(&503), Some(&0.1));
        assert_eq!(cfg.stalls[0].length.0, Duration::from_secs(2));
        assert_eq!(cfg.concurrency.max_concurrent, Some(4));
        assert_eq!(
            cfg.concurrency.max_query_duration.0,
            Duration::from_secs(30)
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_yaml_ng::from_str::<TargetConfig>("rowz: 5").unwrap_err();
        assert!(err.to_string().contains("rowz"), "{err}");
        let err = serde_yaml_ng::from_str::<TargetConfig>("abort: {probabilty: 1}").unwrap_err();
        assert!(err.to_string().contains("probabilty"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let mut cfg = TargetConfig::default();
        cfg.errors.insert(503, 0.7);
        cfg.errors.insert(500, 0.7);
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains("errors"), "{err}");
        let mut cfg = TargetConfig::default();
        cfg.stalls.push("2s/3s".parse().unwrap());
        assert!(cfg
            .validate()
            .unwrap_err()
            .to_string()
            .contains("stalls[0]"));
    }

    #[test]
    fn flag_forms() {
        assert_eq!(
            "10ms..50ms".parse::<LatencySpec>().unwrap(),
            LatencySpec::Uniform {
                min: Dur(Duration::from_millis(10)),
                max: Dur(Duration::from_millis(50))
            }
        );
        assert!(matches!(
            "lognormal:20ms,200ms".parse::<LatencySpec>().unwrap(),
            LatencySpec::Lognormal { .. }
        ));
        assert_eq!(parse_error_rate("503=0.1").unwrap(), (503, 0.1));
        assert!(parse_error_rate("x=0.1").is_err());
        assert!("soon".parse::<Dur>().is_err());
    }
}
