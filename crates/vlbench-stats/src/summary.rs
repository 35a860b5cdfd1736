//! Summary numbers of one [`QueryStats`] over a span: the figures users read
//! (S-5 names), times in milliseconds. Every percentile comes from the
//! (merged) histogram, never from averaged averages (SPEC B-1).
//!
//! Must not: merge or store anything; it only reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::class::ErrorClass;
use crate::hist::{max_ms, mean_ms, quantile_ms};
use crate::query::QueryStats;

/// Summary numbers of one [`QueryStats`] over a span, times in ms.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Completed requests, ok + failed (dropped arrivals are not queries).
    pub total_queries: u64,
    /// Requests without an error.
    pub successful_queries: u64,
    /// Requests with an error of any class.
    pub failed_queries: u64,
    /// Open model: arrivals dropped at `max_in_flight`.
    pub dropped_queries: u64,
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
    /// Completed requests per second of the span.
    pub qps: f64,
    /// Mean service time (send to end of body), ms.
    pub avg_service_time: f64,
    /// Median service time, ms. (Beyond docs/internals.md: reports show it.)
    pub p50_service_time: f64,
    /// 99th percentile service time, ms.
    pub p99_service_time: f64,
    /// Body bytes received.
    pub bytes: u64,
    /// JSON lines received.
    pub rows: u64,
    /// Error class name -> count (only non-zero).
    pub errors: BTreeMap<String, u64>,
    /// Status text ("200", ..., "other") -> count (only non-zero).
    pub status_codes: BTreeMap<String, u64>,
}

impl Summary {
    /// The summary of `s` over a span of `elapsed_secs` seconds (`qps` is 0
    /// when the span is not positive).
    pub fn from_stats(s: &QueryStats, elapsed_secs: f64) -> Summary {
        let total = s.total();
        let qps = if elapsed_secs > 0.0 && elapsed_secs.is_finite() {
            total as f64 / elapsed_secs
        } else {
            0.0
        };
        let errors = ErrorClass::ALL
            .into_iter()
            .map(|c| (c.as_str().to_string(), s.errors[c.index()]))
            .filter(|&(_, n)| n > 0)
            .collect();
        Summary {
            total_queries: total,
            successful_queries: s.ok,
            failed_queries: s.failed(),
            dropped_queries: s.dropped,
            avg_response_time: mean_ms(&s.latency),
            p50_response_time: quantile_ms(&s.latency, 0.50),
            p90_response_time: quantile_ms(&s.latency, 0.90),
            p95_response_time: quantile_ms(&s.latency, 0.95),
            p99_response_time: quantile_ms(&s.latency, 0.99),
            p999_response_time: quantile_ms(&s.latency, 0.999),
            max_response_time: max_ms(&s.latency),
            qps,
            avg_service_time: mean_ms(&s.service),
            p50_service_time: quantile_ms(&s.service, 0.50),
            p99_service_time: quantile_ms(&s.service, 0.99),
            bytes: s.bytes,
            rows: s.rows,
            errors,
            status_codes: s.statuses.to_map(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Outcome;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= b.abs() * 0.001 + 1e-9
    }

    #[test]
    fn known_data() {
        let mut q = QueryStats::new();
        // Latencies 1..=1000 ms, service half of that; every 10th fails with 500.
        for i in 1..=1000u64 {
            let error = (i % 10 == 0).then_some(ErrorClass::Http5xx);
            let status = if error.is_some() { 500 } else { 200 };
            q.record(&Outcome {
                query: 0,
                latency_us: i * 1000,
                service_us: i * 500,
                status,
                error,
                bytes: 100,
                rows: 3,
            });
        }
        q.dropped = 7;
        let s = Summary::from_stats(&q, 10.0);
        assert_eq!(s.total_queries, 1000);
        assert_eq!(s.successful_queries, 900);
        assert_eq!(s.failed_queries, 100);
        assert_eq!(s.dropped_queries, 7);
        assert!(close(s.qps, 100.0), "{}", s.qps);
        assert!(close(s.avg_response_time, 500.5), "{}", s.avg_response_time);
        assert!(close(s.p50_response_time, 500.0), "{}", s.p50_response_time);
        assert!(close(s.p90_response_time, 900.0), "{}", s.p90_response_time);
        assert!(close(s.p95_response_time, 950.0), "{}", s.p95_response_time);
        assert!(close(s.p99_response_time, 990.0), "{}", s.p99_response_time);
        assert!(
            close(s.p999_response_time, 999.0),
            "{}",
            s.p999_response_time
        );
        assert!(
            close(s.max_response_time, 1000.0),
            "{}",
            s.max_response_time
        );
        assert!(close(s.avg_service_time, 250.25), "{}", s.avg_service_time);
        assert!(close(s.p50_service_time, 250.0), "{}", s.p50_service_time);
        assert!(close(s.p99_service_time, 495.0), "{}", s.p99_service_time);
        assert_eq!((s.bytes, s.rows), (100_000, 3000));
        assert_eq!(s.errors, BTreeMap::from([("http_5xx".to_string(), 100)]));
        assert_eq!(
            s.status_codes,
            BTreeMap::from([("200".to_string(), 900), ("500".to_string(), 100)])
        );
    }

    #[test]
    fn empty_stats_and_zero_span() {
        let s = Summary::from_stats(&QueryStats::new(), 0.0);
        assert_eq!(s.total_queries, 0);
        assert_eq!(s.qps, 0.0);
        assert_eq!(s.p99_response_time, 0.0);
        assert!(s.errors.is_empty() && s.status_codes.is_empty());
        assert_eq!(Summary::from_stats(&QueryStats::new(), f64::NAN).qps, 0.0);
    }
}
