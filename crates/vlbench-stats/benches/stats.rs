//! Hot-path and merge costs of vlbench-stats.
//!
//! Run: `cargo bench -p vlbench-stats` (add `-- record` to filter).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use vlbench_stats::{ErrorClass, IntervalReport, IntervalStats, Outcome, Recorder};

const QUERIES: usize = 10;

/// Deterministic, spread-out latencies (a cheap LCG, no rand dependency).
fn outcomes(n: usize) -> Vec<Outcome> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let latency_us = 1_000 + (x >> 40) % 2_000_000;
            let error = (i % 50 == 0).then_some(ErrorClass::Http5xx);
            Outcome {
                query: i % QUERIES,
                latency_us,
                service_us: latency_us / 2,
                status: if error.is_some() { 503 } else { 200 },
                error,
                bytes: 2048,
                rows: 10,
            }
        })
        .collect()
}

/// An interval with `per_query` requests for each of the queries.
fn filled(per_query: usize) -> IntervalStats {
    let mut r = Recorder::new(QUERIES);
    r.planned((per_query * QUERIES) as u64);
    for o in outcomes(per_query * QUERIES) {
        r.sent(o.latency_us % 997);
        r.record(&o);
    }
    let mut out = IntervalStats::new(QUERIES);
    r.swap_into(&mut out);
    out
}

fn bench_record(c: &mut Criterion) {
    let os = outcomes(4096);
    let mut r = Recorder::new(QUERIES);
    let mut i = 0;
    c.bench_function("record", |b| {
        b.iter(|| {
            r.record(black_box(&os[i & 4095]));
            i += 1;
        })
    });
    c.bench_function("sent", |b| {
        b.iter(|| {
            r.sent(black_box(os[i & 4095].latency_us));
            i += 1;
        })
    });
}

fn bench_swap(c: &mut Criterion) {
    let mut r = Recorder::new(QUERIES);
    let mut into = IntervalStats::new(QUERIES);
    let os = outcomes(100);
    c.bench_function("swap_into (10 queries, 100 requests)", |b| {
        b.iter(|| {
            for o in &os {
                r.record(o);
            }
            r.swap_into(black_box(&mut into));
        })
    });
}

fn bench_merge(c: &mut Criterion) {
    let intervals: Vec<IntervalStats> = (0..200).map(|_| filled(100)).collect();
    let mut acc = IntervalStats::new(QUERIES);
    c.bench_function("merge 200 intervals x 10 queries", |b| {
        b.iter(|| {
            acc.reset();
            for s in &intervals {
                acc.merge(s);
            }
            black_box(&acc);
        })
    });
    c.bench_function("total() of 10 queries", |b| {
        b.iter(|| black_box(intervals[0].total()))
    });
}

fn bench_wire(c: &mut Criterion) {
    let report = IntervalReport {
        seq: 1,
        start_unix_ms: 1_700_000_000_000,
        duration_ms: 1000,
        stats: filled(100),
    };
    let json = serde_json::to_string(&report).unwrap_or_default();
    println!(
        "IntervalReport (10 queries x 100 requests) JSON size: {} bytes",
        json.len()
    );
    c.bench_function("serialize IntervalReport", |b| {
        b.iter(|| serde_json::to_string(black_box(&report)).unwrap_or_default())
    });
    c.bench_function("deserialize IntervalReport", |b| {
        b.iter_batched(
            || json.clone(),
            |j| serde_json::from_str::<IntervalReport>(&j).ok(),
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench_record, bench_swap, bench_merge, bench_wire);
criterion_main!(benches);
