//! Per-request costs: picking a query, rendering its request, and the
//! schedule and share look-ups the engine makes per arrival.
//!
//! Run: `cargo bench -p vlbench-workload --bench workload`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use vlbench_workload::{
    Model, QueryDef, QueryParams, QueryType, Schedule, Share, Stage, Template, TimeValue, Workload,
};

fn query(name: &str, weight: u32, qtype: QueryType, src: &str, params: QueryParams) -> QueryDef {
    QueryDef {
        name: name.into(),
        category: None,
        qtype,
        template: Template::parse(src, Path::new(".")).expect("bench template parses"),
        params,
        weight,
    }
}

fn workload() -> Workload {
    let ranged = QueryParams {
        start: Some(TimeValue::parse("-1h").expect("valid")),
        end: Some(TimeValue::Now),
        limit: Some(100),
        step: Some("5m".into()),
        field: None,
    };
    let mut queries = vec![
        query(
            "static",
            1,
            QueryType::Query,
            r#"job:"loki.source.kubernetes.pods" | limit 10"#,
            QueryParams::default(),
        ),
        query(
            "templated",
            3,
            QueryType::StatsRange,
            r#"_time:[{{ now "-1h" }}, {{ now }}) level:{{ choice "error" "warn" "info" }} _msg:~'"status":{{ int 400 599 }}' | stats by (namespace) count() hits"#,
            ranged,
        ),
    ];
    for i in 0..18 {
        queries.push(query(
            &format!("q{i}"),
            i + 1,
            QueryType::Stats,
            "* | stats count()",
            QueryParams::default(),
        ));
    }
    Workload::new(queries).expect("valid workload")
}

fn bench_workload(c: &mut Criterion) {
    let w = workload();
    let mut rng = SmallRng::seed_from_u64(1);
    let now = UNIX_EPOCH + Duration::from_secs(1_795_579_803);
    let mut out = String::with_capacity(1024);
    c.bench_function("pick (20 queries)", |b| {
        b.iter(|| black_box(w.pick(&mut rng)))
    });
    let one = Workload::new(vec![query(
        "only",
        1,
        QueryType::Query,
        "*",
        QueryParams::default(),
    )])
    .expect("valid workload");
    c.bench_function("pick (1 query)", |b| {
        b.iter(|| black_box(black_box(&one).pick(&mut rng)))
    });
    c.bench_function("render_request static", |b| {
        b.iter(|| w.render_request(black_box(0), &mut rng, now, &mut out))
    });
    c.bench_function("render_request templated", |b| {
        b.iter(|| w.render_request(black_box(1), &mut rng, now, &mut out))
    });
}

fn bench_schedule(c: &mut Criterion) {
    let stage = |secs, target| Stage {
        duration: Duration::from_secs(secs),
        target,
    };
    let s = Schedule {
        model: Model::Open {
            max_in_flight: 1000,
        },
        stages: vec![
            stage(60, 1000.0),
            stage(600, 1000.0),
            stage(60, 2000.0),
            stage(60, 0.0),
        ],
        initial: 0.0,
        rate_cap: None,
    };
    let total = s.total_arrivals();
    let mut i = 0u64;
    c.bench_function("arrival_time (4 stages)", |b| {
        b.iter(|| {
            i = (i + 7919) % total;
            black_box(s.arrival_time(i))
        })
    });
    let share = Share::from_weights(&[4, 2, 3, 1], 2).split(8, 3);
    let mut k = 0u64;
    c.bench_function("share nth + contains", |b| {
        b.iter(|| {
            k += 1;
            black_box(share.contains(share.nth(k)))
        })
    });
}

criterion_group!(benches, bench_workload, bench_schedule);
criterion_main!(benches);
