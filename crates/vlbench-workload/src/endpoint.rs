//! VictoriaLogs query endpoints and the parameters each request carries.
//!
//! Owns the mapping from a query's type to its HTTP path and the typed
//! parameters (`start`, `end`, `limit`, `step`, `field`). It does not encode
//! requests (see `workload`) and knows nothing about HTTP clients.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::time::TimeValue;

/// Which VictoriaLogs endpoint a query goes to (B-3: every query endpoint,
/// not only `/query`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryType {
    /// Log lines: `/select/logsql/query` (JSON lines).
    Query,
    /// Instant stats: `/select/logsql/stats_query`.
    Stats,
    /// Stats over time: `/select/logsql/stats_query_range`.
    StatsRange,
    /// Hit counts over time: `/select/logsql/hits`.
    Hits,
    /// Field names: `/select/logsql/field_names`.
    FieldNames,
    /// Values of one field: `/select/logsql/field_values` (needs `field`).
    FieldValues,
    /// Log streams: `/select/logsql/streams`.
    Streams,
}

impl QueryType {
    /// Every type, in declaration order (for help texts and tests).
    pub const ALL: [QueryType; 7] = [
        QueryType::Query,
        QueryType::Stats,
        QueryType::StatsRange,
        QueryType::Hits,
        QueryType::FieldNames,
        QueryType::FieldValues,
        QueryType::Streams,
    ];

    /// The HTTP path of the endpoint, relative to the target's base URL.
    pub fn path(self) -> &'static str {
        match self {
            QueryType::Query => "/select/logsql/query",
            QueryType::Stats => "/select/logsql/stats_query",
            QueryType::StatsRange => "/select/logsql/stats_query_range",
            QueryType::Hits => "/select/logsql/hits",
            QueryType::FieldNames => "/select/logsql/field_names",
            QueryType::FieldValues => "/select/logsql/field_values",
            QueryType::Streams => "/select/logsql/streams",
        }
    }

    /// The name used in config files (`type: stats_range`).
    pub fn as_str(self) -> &'static str {
        match self {
            QueryType::Query => "query",
            QueryType::Stats => "stats",
            QueryType::StatsRange => "stats_range",
            QueryType::Hits => "hits",
            QueryType::FieldNames => "field_names",
            QueryType::FieldValues => "field_values",
            QueryType::Streams => "streams",
        }
    }

    /// The type whose endpoint is `path` (the simulated target routes by it).
    pub fn from_path(path: &str) -> Option<QueryType> {
        QueryType::ALL.into_iter().find(|t| t.path() == path)
    }
}

impl fmt::Display for QueryType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A query type name that is not one of [`QueryType::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown query type {0:?}; use one of: query, stats, stats_range, hits, field_names, \
     field_values, streams"
)]
pub struct UnknownQueryType(pub String);

impl FromStr for QueryType {
    type Err = UnknownQueryType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QueryType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownQueryType(s.to_owned()))
    }
}

/// Request parameters besides `query`; each is sent only when set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryParams {
    /// Lower time bound (`start`), resolved per request.
    pub start: Option<TimeValue>,
    /// Upper time bound (`end`), resolved per request.
    pub end: Option<TimeValue>,
    /// Maximum rows or values returned (`limit`).
    pub limit: Option<u64>,
    /// Bucket width for `stats_range` and `hits` (`step`, e.g. `5m`), sent verbatim.
    pub step: Option<String>,
    /// The field whose values `field_values` lists (`field`), sent verbatim.
    pub field: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_paths_and_parsing_agree() {
        for t in QueryType::ALL {
            assert_eq!(t.as_str().parse::<QueryType>().unwrap(), t);
            assert_eq!(QueryType::from_path(t.path()), Some(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(
            QueryType::StatsRange.path(),
            "/select/logsql/stats_query_range"
        );
        assert_eq!(QueryType::from_path("/select/logsql/tail"), None);
        let e = "stat".parse::<QueryType>().unwrap_err().to_string();
        assert!(e.contains("\"stat\"") && e.contains("stats_range"), "{e}");
    }
}
