//! Hot-path and merge costs of vlbench-stats.
//!
//! Run: `cargo bench -p vlbench-stats` (add `-- record` to filter).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use vlbench_stats::hist::merge_hist;
use vlbench_stats::{
    decode_histogram, decode_sparse, encode_histogram, DenseAcc, ErrorClass, HistAcc,
    IntervalReport, IntervalStats, Outcome, Recorder, RunStats, SparseAcc, SparseHist,
    SparseIntervalAcc, SparseIntervalReport, SparseIntervalStats,
};

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

/// The coordinator's per-report work (issue 6.4), full path vs sparse path,
/// on a worker-sized interval: 10 queries x 50 requests.
fn bench_coordinator(c: &mut Criterion) {
    let small = filled(50);
    let text = encode_histogram(&small.queries[3].latency).unwrap_or_default();
    c.bench_function("decode_histogram (50 values, full)", |b| {
        b.iter(|| decode_histogram(black_box(&text)).ok())
    });
    c.bench_function("decode_sparse (50 values)", |b| {
        b.iter(|| decode_sparse(black_box(&text)).ok())
    });
    // An accumulator that has seen 600 s of such intervals.
    let mut acc_full = vlbench_stats::new_histogram();
    let mut acc_sparse = SparseHist::new();
    for s in (0..600).map(|_| filled(50)) {
        merge_hist(&mut acc_full, &s.queries[3].latency);
        acc_sparse.merge(&SparseHist::from_histogram(&s.queries[3].latency));
    }
    let one_full = small.queries[3].latency.clone();
    let one_sparse = SparseHist::from_histogram(&one_full);
    c.bench_function("merge_hist (50 values into an accumulator)", |b| {
        b.iter(|| merge_hist(black_box(&mut acc_full), black_box(&one_full)))
    });
    c.bench_function("SparseHist::merge (50 values into an accumulator)", |b| {
        b.iter(|| black_box(&mut acc_sparse).merge(black_box(&one_sparse)))
    });
    c.bench_function(
        "SparseHist::merge_into (50 values into a full histogram)",
        |b| b.iter(|| one_sparse.merge_into(black_box(&mut acc_full))),
    );
    let report = IntervalReport {
        seq: 1,
        start_unix_ms: 1_700_000_000_000,
        duration_ms: 1000,
        stats: small.clone(),
    };
    let json = serde_json::to_string(&report).unwrap_or_default();
    c.bench_function("deserialize IntervalReport (10 queries x 50, full)", |b| {
        b.iter(|| serde_json::from_str::<IntervalReport>(black_box(&json)).ok())
    });
    c.bench_function("deserialize SparseIntervalReport (10 queries x 50)", |b| {
        b.iter(|| serde_json::from_str::<SparseIntervalReport>(black_box(&json)).ok())
    });
    let sparse = SparseIntervalReport::from_report(&report);
    let mut node_total = SparseIntervalStats::new(QUERIES);
    c.bench_function("SparseIntervalStats::merge (node total)", |b| {
        b.iter(|| node_total.merge(black_box(&sparse.stats)))
    });
    // The accumulators the coordinator uses now: different intervals in
    // turn (new buckets keep arriving, as in a real run).
    let pool: Vec<SparseIntervalStats> = (0..64)
        .map(|_| SparseIntervalStats::from_stats(&filled(50)))
        .collect();
    let mut acc = SparseAcc::new();
    let mut k = 0;
    c.bench_function("SparseAcc::add (50 values, varying)", |b| {
        b.iter(|| {
            k = (k + 1) % pool.len();
            acc.add(black_box(&pool[k].queries[3].latency));
        })
    });
    let mut node_acc = SparseIntervalAcc::<SparseAcc>::new(QUERIES);
    c.bench_function("SparseIntervalAcc::add (node total, varying)", |b| {
        b.iter(|| {
            k = (k + 1) % pool.len();
            node_acc.add(black_box(&pool[k]));
        })
    });
    // One second of a 200-node fleet: every node's report into the same
    // accumulators (the coordinator's open seconds).
    let mut dense = DenseAcc::new();
    c.bench_function("DenseAcc::add (50 values, varying)", |b| {
        b.iter(|| {
            k = (k + 1) % pool.len();
            dense.add(black_box(&pool[k].queries[3].latency));
        })
    });
    let mut second = SparseIntervalAcc::<DenseAcc>::new(QUERIES);
    c.bench_function(
        "SparseIntervalAcc<DenseAcc>::add (open second, varying)",
        |b| {
            b.iter(|| {
                k = (k + 1) % pool.len();
                second.add(black_box(&pool[k]));
            })
        },
    );
    // Closing one second of 200 nodes: accumulators to sparse stats, then
    // archived (packed, spilled to a file) without a full histogram.
    let mut fleet_second = SparseIntervalAcc::<DenseAcc>::new(QUERIES);
    for n in 0..200 {
        fleet_second.add(&pool[n % pool.len()]);
    }
    let names: Vec<String> = (0..QUERIES).map(|q| format!("q{q}")).collect();
    if let Ok(file) = tempfile::tempfile() {
        let mut spilled = RunStats::new(names.clone()).keep_recent(0).spill_to(file);
        let mut seq = 0;
        c.bench_function(
            "close a 200-node second (to_stats + spilled archive)",
            |b| {
                b.iter(|| {
                    seq += 1;
                    let r = SparseIntervalReport {
                        seq,
                        start_unix_ms: 0,
                        duration_ms: 1000,
                        stats: fleet_second.to_stats(),
                    };
                    spilled.merge_sparse_into_seq(black_box(&r));
                })
            },
        );
    }
    let mut run = RunStats::new(names);
    run.merge_sparse_into_seq(&sparse);
    c.bench_function("RunStats::merge_sparse_into_seq (existing second)", |b| {
        b.iter(|| run.merge_sparse_into_seq(black_box(&sparse)))
    });
}

criterion_group!(
    benches,
    bench_record,
    bench_swap,
    bench_merge,
    bench_wire,
    bench_coordinator
);
criterion_main!(benches);
