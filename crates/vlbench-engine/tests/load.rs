//! The executor through the public API: closed users and think time, open
//! arrival counts, in-flight bound and queue, coordinated omission under a
//! stalling server, shutdown, interval series, live updates. Timing checks
//! have wide margins; counts are exact where the schedule makes them so.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vlbench_engine::{LiveUpdate, RunOptions};
use vlbench_stats::Histogram;
use vlbench_workload::{QueryType, Share};

const T: Duration = Duration::from_secs(5);

fn q() -> Arc<vlbench_workload::Workload> {
    workload(&[("a", QueryType::Query), ("b", QueryType::Query)])
}

async fn lines_server(delay: Duration) -> TestServer {
    serve(move |_| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        full(200, LINES_CT, lines(3))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_model_runs_exactly_the_users_asked() {
    let s = lines_server(Duration::from_millis(30)).await;
    let p = plan(
        target(&s.url(), T),
        q(),
        closed(5.0, 1.5, Duration::ZERO),
        2,
    );
    let reports = run_all(p, RunOptions::default()).await;
    let total = merged(&reports).total();
    assert_eq!(s.counters.max_in_flight.load(Ordering::SeqCst), 5);
    assert_eq!(
        total.total(),
        s.requests(),
        "every request the server saw is counted"
    );
    assert_eq!(total.ok, total.total());
    // 5 users × 1.5 s / ~30 ms each: about 250; wide margins for a busy machine.
    assert!((100..=260).contains(&total.ok), "{}", total.ok);
    assert_eq!(total.rows, 3 * total.ok);
}

/// A shard whose only worker is one closed user waits for its answers in
/// the kernel, holding the thread (see the engine's `h1`): counts stay
/// exact with quick, slow, long and connection-closing answers, the
/// dispatcher still rotates every interval on time and the run ends on
/// time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shards_only_user_waits_in_the_kernel_and_counts_alike() {
    let (seen, rows) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (seen2, rows2) = (seen.clone(), rows.clone());
    let s = serve(move |_| {
        let k = seen2.fetch_add(1, Ordering::SeqCst);
        let rows = rows2.clone();
        async move {
            if k % 10 == 3 {
                tokio::time::sleep(Duration::from_millis(5)).await; // slower than a direct wait
            }
            let n = if k % 10 == 5 { 4000 } else { 3 }; // ~150 KB: many reads
            rows.fetch_add(n as u64, Ordering::SeqCst);
            let mut r = full(200, LINES_CT, lines(n));
            if k % 17 == 16 {
                r.headers_mut()
                    .insert("connection", "close".parse().unwrap());
            }
            r
        }
    })
    .await;
    let p = plan(
        target(&s.url(), T),
        q(),
        closed(1.0, 2.0, Duration::ZERO),
        1,
    );
    let began = Instant::now();
    let reports = run_all(p, RunOptions::default()).await;
    let took = began.elapsed();
    assert_contiguous(&reports);
    let total = merged(&reports).total();
    assert_eq!(total.ok, total.total(), "no errors: {:?}", total.errors);
    assert_eq!(total.total(), s.requests());
    assert_eq!(total.rows, rows.load(Ordering::SeqCst));
    assert!(total.ok > 50, "{}", total.ok);
    assert_eq!(s.counters.max_in_flight.load(Ordering::SeqCst), 1);
    // The user held the thread, yet each second was closed on time with
    // its requests in it.
    assert!(reports.len() >= 2, "{} intervals", reports.len());
    for r in &reports[..2] {
        assert_eq!(r.duration_ms, 1000);
        assert!(r.stats.total().total() > 10, "{}", r.stats.total().total());
    }
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A shard's only user with quick answers never waits through the
/// runtime, yet lets the dispatcher run: intervals rotate each second and
/// the run stops at its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shards_only_user_yields_to_the_dispatcher() {
    let s = lines_server(Duration::ZERO).await;
    let p = plan(
        target(&s.url(), T),
        q(),
        closed(1.0, 2.0, Duration::ZERO),
        1,
    );
    let began = Instant::now();
    let reports = tokio::time::timeout(Duration::from_secs(20), run_all(p, RunOptions::default()))
        .await
        .expect("the run did not stop at its end");
    let took = began.elapsed();
    assert_contiguous(&reports);
    assert!(reports.len() >= 2, "{} intervals", reports.len());
    for r in &reports[..2] {
        assert_eq!(r.duration_ms, 1000);
        assert!(r.stats.total().ok > 10, "{}", r.stats.total().ok);
    }
    assert_eq!(merged(&reports).total().total(), s.requests());
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

/// The request timeout holds for a shard's only user too (its direct wait
/// hands a slow answer back to the runtime, where the timer is).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shards_only_user_still_times_out() {
    let s = lines_server(Duration::from_secs(3)).await;
    let timeout = Duration::from_millis(200);
    let p = plan(
        target(&s.url(), timeout),
        q(),
        closed(1.0, 1.0, Duration::ZERO),
        1,
    );
    let began = Instant::now();
    let reports = run_all(p, RunOptions::default()).await;
    let total = merged(&reports).total();
    let timeouts = total.errors[vlbench_stats::ErrorClass::Timeout.index()];
    assert_eq!(timeouts, total.total(), "{:?}", total.errors);
    // One second of 200 ms timeouts: 5 or 6, the last one drained.
    assert!((4..=7).contains(&timeouts), "{timeouts}");
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "took {:?}",
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn think_time_paces_each_user() {
    let s = lines_server(Duration::ZERO).await;
    let p = plan(
        target(&s.url(), T),
        q(),
        closed(2.0, 1.0, Duration::from_millis(200)),
        1,
    );
    let reports = run_all(p, RunOptions::default()).await;
    let total = merged(&reports).total();
    // Each user: a request at 0, 200, 400, 600, 800 ms: 5 each.
    assert!((8..=12).contains(&total.ok), "{}", total.ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ramp_up_starts_users_over_time() {
    let s = lines_server(Duration::from_millis(10)).await;
    let mut sched = closed(8.0, 1.0, Duration::ZERO);
    sched.initial = 0.0;
    let p = plan(target(&s.url(), T), q(), sched, 2);
    let reports = run_all(p, RunOptions::default()).await;
    assert_eq!(
        s.counters.max_in_flight.load(Ordering::SeqCst),
        7,
        "floor(users(t)) < 8 before the end"
    );
    assert!(merged(&reports).total().ok > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_model_sends_the_scheduled_arrivals() {
    let s = lines_server(Duration::from_millis(2)).await;
    let p = plan(target(&s.url(), T), q(), open(500.0, 4.0, 200), 2);
    let reports = run_all(p, RunOptions::default()).await;
    assert_contiguous(&reports);
    let all = merged(&reports);
    let total = all.total();
    assert_eq!(all.ledger.planned, 2000, "500/s for 4 s");
    assert_eq!(all.ledger.dropped, 0);
    assert_eq!(all.ledger.sent, 2000);
    assert_eq!(all.ledger.completed, total.total());
    assert_eq!(total.ok, 2000);
    assert_eq!(s.requests(), 2000);
    // Every second holds about 500 arrivals (the first/last may split).
    let planned: Vec<u64> = reports.iter().map(|r| r.stats.ledger.planned).collect();
    assert!(
        planned.iter().take(4).all(|&n| (450..=550).contains(&n)),
        "{planned:?}"
    );
    // Per-query counts add up to the total.
    let by_query: u64 = all.queries.iter().map(|q| q.ok).sum();
    assert_eq!(by_query, total.ok);
    let lag = &all.ledger.lag;
    eprintln!(
        "lag at 500/s: p50 {} µs, p99 {} µs, max {} µs",
        lag.value_at_quantile(0.5),
        lag.value_at_quantile(0.99),
        lag.max()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrivals_beyond_in_flight_and_queue_are_dropped() {
    let s = lines_server(Duration::from_millis(400)).await;
    let p = plan(target(&s.url(), T), q(), open(100.0, 1.0, 4), 1);
    let options = RunOptions {
        max_queued: 6,
        ..Default::default()
    };
    let reports = run_all(p, options).await;
    let all = merged(&reports);
    let total = all.total();
    assert_eq!(all.ledger.planned, 100);
    assert_eq!(s.counters.max_in_flight.load(Ordering::SeqCst), 4);
    assert!(all.ledger.dropped >= 60, "dropped {}", all.ledger.dropped);
    assert_eq!(
        all.ledger.dropped + all.ledger.sent,
        100,
        "each arrival is sent or dropped"
    );
    assert_eq!(
        total.dropped, all.ledger.dropped,
        "drops are counted per query too"
    );
    assert_eq!(
        total.ok, all.ledger.sent,
        "every accepted arrival completes at the end"
    );
    assert_eq!(s.requests(), all.ledger.sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_queue_excess_arrivals_drop_at_once() {
    let s = lines_server(Duration::from_millis(300)).await;
    let p = plan(target(&s.url(), T), q(), open(50.0, 0.5, 2), 1);
    let all = merged(&run_all(p, RunOptions::default()).await);
    assert_eq!(all.ledger.planned, 25);
    assert!(
        all.ledger.sent <= 6,
        "2 slots × 0.5 s / 0.3 s: {}",
        all.ledger.sent
    );
    assert_eq!(all.ledger.sent + all.ledger.dropped, 25);
}

/// Coordinated omission: a server that stalls 1 s every 3 s. With few
/// in-flight slots, arrivals wait in the queue: latency (from the intended
/// start) shows the stall, service time (from the send) mostly does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalls_show_in_latency_not_in_service_time() {
    let epoch = Instant::now();
    let s = serve(move |_| async move {
        let phase = epoch.elapsed().as_millis() % 3000;
        if (1000..2000).contains(&phase) {
            tokio::time::sleep(Duration::from_millis((2000 - phase) as u64)).await;
        }
        full(200, LINES_CT, lines(1))
    })
    .await;
    let p = plan(
        target(&s.url(), T),
        workload(&[("a", QueryType::Query)]),
        open(200.0, 6.0, 2),
        1,
    );
    let options = RunOptions {
        max_queued: 10_000,
        ..Default::default()
    };
    let all = merged(&run_all(p, options).await);
    let total = all.total();
    assert_eq!(all.ledger.dropped, 0);
    assert_eq!(total.ok, 1200);
    let ms = |h: &Histogram<u64>| h.value_at_quantile(0.99) / 1000;
    eprintln!(
        "p99 latency {} ms, p99 service {} ms",
        ms(&total.latency),
        ms(&total.service)
    );
    assert!(
        ms(&total.latency) >= 500,
        "latency p99 {} ms",
        ms(&total.latency)
    );
    assert!(
        ms(&total.service) < 100,
        "service p99 {} ms",
        ms(&total.service)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_mid_run_is_prompt_and_clean() {
    let s = lines_server(Duration::from_millis(5)).await;
    let p = plan(target(&s.url(), T), q(), open(200.0, 60.0, 50), 2);
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1600)).await;
        stopper.cancel();
    });
    let began = Instant::now();
    let reports = run_until(p, RunOptions::default(), stop).await;
    assert!(
        began.elapsed() < Duration::from_secs(4),
        "took {:?}",
        began.elapsed()
    );
    assert_contiguous(&reports);
    let last = reports.last().unwrap();
    assert!(
        last.duration_ms < 1000,
        "the last interval is partial: {}",
        last.duration_ms
    );
    let all = merged(&reports);
    assert!(
        (250..=400).contains(&all.ledger.planned),
        "{}",
        all.ledger.planned
    );
    assert_eq!(
        all.total().total(),
        s.requests(),
        "in-flight requests finished and were counted"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_counts_sum_to_the_total_across_shards() {
    let s = lines_server(Duration::from_millis(1)).await;
    let p = plan(
        target(&s.url(), T),
        q(),
        closed(6.0, 2.5, Duration::from_millis(5)),
        3,
    );
    let reports = run_all(p, RunOptions::default()).await;
    assert_contiguous(&reports);
    assert_eq!(reports.len(), 3, "2 full seconds and a partial one");
    assert!(reports[..2].iter().all(|r| r.duration_ms == 1000));
    let step: Vec<u64> = reports
        .windows(2)
        .map(|w| w[1].start_unix_ms - w[0].start_unix_ms)
        .collect();
    assert_eq!(step, vec![1000, 1000]);
    let sum: u64 = reports.iter().map(|r| r.stats.total().total()).sum();
    assert_eq!(sum, s.requests());
    assert_eq!(s.counters.max_in_flight.load(Ordering::SeqCst), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_waits_for_the_barrier() {
    let s = lines_server(Duration::ZERO).await;
    let mut p = plan(target(&s.url(), T), q(), open(20.0, 0.5, 4), 1);
    p.start = std::time::SystemTime::now() + Duration::from_millis(700);
    let began = Instant::now();
    let engine = tokio::spawn(vlbench_engine::run(
        p,
        tokio::sync::mpsc::channel(8).0,
        CancellationToken::new(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(s.requests(), 0, "nothing before the start instant");
    engine.await.unwrap().unwrap();
    assert!(began.elapsed() >= Duration::from_millis(1200));
    assert_eq!(s.requests(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_update_changes_rate_and_share() {
    let s = lines_server(Duration::ZERO).await;
    let sched = open(100.0, 2.0, 50);
    let (tx, rx) = watch::channel(LiveUpdate {
        schedule: sched.clone(),
        share: Share::whole(),
    });
    let p = plan(target(&s.url(), T), q(), sched.clone(), 2);
    let start = p.start;
    let options = RunOptions {
        updates: Some(rx),
        ..Default::default()
    };
    tokio::spawn(async move {
        let at = Duration::from_secs(1);
        tokio::time::sleep(
            (start + at)
                .duration_since(std::time::SystemTime::now())
                .unwrap_or_default(),
        )
        .await;
        let _ = tx.send(LiveUpdate {
            schedule: sched.retarget(at, 300.0),
            share: Share::whole(),
        });
        tokio::time::sleep(Duration::from_secs(3)).await; // keep the sender alive
    });
    let all = merged(&run_all(p, options).await);
    // 100 in the first second, 300 in the second (± a few around the switch).
    assert!(
        (385..=415).contains(&all.ledger.planned),
        "{}",
        all.ledger.planned
    );
    assert_eq!(all.total().ok, all.ledger.planned);

    // A share of half the fleet halves the load.
    let s = lines_server(Duration::ZERO).await;
    let mut p = plan(target(&s.url(), T), q(), open(100.0, 1.0, 50), 2);
    p.share = Share::from_weights(&[1, 1], 1);
    let all = merged(&run_all(p, RunOptions::default()).await);
    assert_eq!(all.ledger.planned, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_cap_limits_closed_users() {
    let s = lines_server(Duration::ZERO).await;
    let mut sched = closed(10.0, 2.0, Duration::ZERO);
    sched.rate_cap = Some(vec![vlbench_workload::Stage {
        duration: Duration::from_secs(2),
        target: 50.0,
    }]);
    let p = plan(target(&s.url(), T), q(), sched, 2);
    let all = merged(&run_all(p, RunOptions::default()).await);
    assert!(
        (95..=101).contains(&all.total().ok),
        "50/s cap for 2 s: {}",
        all.total().ok
    );
}

/// A node joining a run that started earlier (rebalancing) takes the rest
/// of the schedule from now on: no burst of missed arrivals, seqs continue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_late_takes_only_the_rest_of_the_schedule() {
    let s = lines_server(Duration::ZERO).await;
    let mut p = plan(target(&s.url(), T), q(), open(100.0, 4.0, 20), 1);
    p.start = std::time::SystemTime::now() - Duration::from_millis(2500);
    let reports = run_all(p, RunOptions::default()).await;
    assert_eq!(reports.first().map(|r| r.seq), Some(2));
    let seqs: Vec<u64> = reports.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, vec![2, 3]);
    let planned = merged(&reports).ledger.planned;
    assert!((140..=152).contains(&planned), "{planned}");
}

/// A dispatcher that falls behind (here: far more arrivals than one
/// thread hands out) still plans every arrival of the schedule, also
/// those due just before the end that its last wake found overdue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scheduled_arrival_is_planned_when_the_dispatcher_lags() {
    let s = lines_server(Duration::from_millis(300)).await;
    let p = plan(target(&s.url(), T), q(), open(4_000_000.0, 0.25, 2), 1);
    let options = RunOptions {
        max_queued: 0,
        ..RunOptions::default()
    };
    let all = merged(&run_all(p, options).await);
    assert_eq!(all.ledger.planned, 1_000_000, "4,000,000/s for 0.25 s");
    assert_eq!(all.ledger.sent + all.ledger.dropped, 1_000_000);
}
