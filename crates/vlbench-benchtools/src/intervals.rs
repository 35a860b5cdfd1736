//! Realistic interval statistics for fake workers: what a worker's engine
//! would have measured in one second (per-query latency and service
//! histograms with a log-normal spread, statuses, a few errors, the
//! schedule ledger with its lag histogram).
//!
//! Owns only data generation; no I/O. The numbers are seeded, so a fleet's
//! reports are reproducible.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, LogNormal};
use serde_json::value::RawValue;
use vlbench_cluster::protocol::Metrics;
use vlbench_cluster::worker::reporter::interval_metrics;
use vlbench_stats::{ErrorClass, IntervalReport, IntervalStats, Outcome};

/// How one fake node's intervals look.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Queries in the workload (one `QueryStats` each).
    pub queries: usize,
    /// Requests recorded per query per interval.
    pub requests_per_query: u64,
}

/// Builds `variants` distinct intervals for one node; the poster cycles
/// through them, changing only `seq` and the start time, so that a report
/// costs a serialisation but no statistics work.
pub fn variants(shape: Shape, seed: u64, variants: usize) -> Vec<IntervalStats> {
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..variants).map(|_| one(shape, &mut rng)).collect()
}

fn one(shape: Shape, rng: &mut SmallRng) -> IntervalStats {
    let mut stats = IntervalStats::new(shape.queries);
    for q in 0..shape.queries {
        // Each query has its own median, 2 ms .. 200 ms, and a wide tail.
        let median_ms = 2.0 * 100f64.powf(q as f64 / shape.queries.max(1) as f64);
        let dist = match LogNormal::new((median_ms * 1000.0).ln(), 0.8) {
            Ok(d) => d,
            // The parameters above are finite and sigma > 0: cannot fail.
            Err(_) => continue,
        };
        for _ in 0..shape.requests_per_query {
            let service_us = dist.sample(rng).clamp(1.0, 3.0e9) as u64;
            let error = match rng.random_range(0..1000u32) {
                0 => Some(ErrorClass::Http5xx),
                1 => Some(ErrorClass::Timeout),
                _ => None,
            };
            let status = match error {
                Some(ErrorClass::Http5xx) => 503,
                Some(_) => 0,
                None => 200,
            };
            stats.queries[q].record(&Outcome {
                query: q,
                latency_us: service_us + rng.random_range(0..200),
                service_us,
                status,
                error,
                bytes: rng.random_range(200..20_000),
                rows: rng.random_range(1..100),
            });
        }
    }
    let n = shape.requests_per_query * shape.queries as u64;
    let ledger = &mut stats.ledger;
    ledger.planned = n;
    ledger.sent = n;
    ledger.completed = n;
    for _ in 0..n {
        let lag = rng.random_range(1..300);
        vlbench_stats::hist::record_clamped(&mut ledger.lag, lag);
    }
    stats
}

/// One variant as the poster sends it: the interval's statistics encoded
/// once (the JSON `IntervalStats` serialises to, histograms as the worker
/// writes them) and the headline figures the worker's reporter derives from
/// them. A real worker encodes each report on its own CPU; one harness CPU
/// encoding 200 reports in turn (~1.1 ms each) would deliver them one at a
/// time over a quarter of a second instead of together, as 200 machines do.
pub struct Prepared {
    /// `IntervalStats` as JSON.
    pub stats: Box<RawValue>,
    /// `interval_metrics` of a one-second interval of these statistics.
    pub metrics: Metrics,
}

/// Encodes each variant once (see [`Prepared`]).
pub fn prepare(variants: &[IntervalStats]) -> Result<Vec<Prepared>, serde_json::Error> {
    variants
        .iter()
        .map(|v| {
            let metrics = interval_metrics(&IntervalReport {
                seq: 0,
                start_unix_ms: 0,
                duration_ms: 1000,
                stats: v.clone(),
            });
            Ok(Prepared {
                stats: serde_json::value::to_raw_value(v)?,
                metrics,
            })
        })
        .collect()
}

/// The interval report of `seq`, from one of the node's variants (what
/// [`prepare`] encodes; the tests compare the two).
#[cfg(test)]
pub fn report(variants: &[IntervalStats], seq: u64, start_unix_ms: u64) -> Option<IntervalReport> {
    let len = u64::try_from(variants.len()).ok()?;
    let idx = usize::try_from(seq.checked_rem(len)?).ok()?;
    Some(IntervalReport {
        seq,
        start_unix_ms: start_unix_ms + seq * 1000,
        duration_ms: 1000,
        stats: variants.get(idx)?.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHAPE: Shape = Shape {
        queries: 10,
        requests_per_query: 50,
    };

    #[test]
    fn every_query_gets_its_requests() {
        let v = variants(SHAPE, 7, 2);
        assert_eq!(v.len(), 2);
        for s in &v {
            assert_eq!(s.queries.len(), 10);
            for q in &s.queries {
                assert_eq!(q.total(), 50);
                assert_eq!(q.latency.len(), 50);
            }
            assert_eq!(s.ledger.sent, 500);
            assert_eq!(s.ledger.lag.len(), 500);
        }
    }

    #[test]
    fn medians_grow_with_the_query_index() {
        let v = variants(SHAPE, 1, 1);
        let first = v[0].queries[0].service.value_at_quantile(0.5);
        let last = v[0].queries[9].service.value_at_quantile(0.5);
        assert!(first < last, "{first} vs {last}");
    }

    #[test]
    fn reports_cycle_through_the_variants() {
        let v = variants(SHAPE, 3, 3);
        let r = report(&v, 4, 1_000).expect("non-empty variants");
        assert_eq!(r.seq, 4);
        assert_eq!(r.start_unix_ms, 5_000);
        assert_eq!(r.stats, v[1]);
        assert!(report(&[], 0, 0).is_none());
    }

    #[test]
    fn same_seed_same_numbers() {
        assert_eq!(variants(SHAPE, 9, 2), variants(SHAPE, 9, 2));
    }
}
