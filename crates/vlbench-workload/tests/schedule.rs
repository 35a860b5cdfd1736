//! Schedules: values over time, exact arrivals, live retargeting.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::RngSeed;
use vlbench_workload::{Model, Schedule, Stage};

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

fn stage(d: f64, target: f64) -> Stage {
    Stage {
        duration: secs(d),
        target,
    }
}

fn open(initial: f64, stages: Vec<Stage>) -> Schedule {
    Schedule {
        model: Model::Open { max_in_flight: 100 },
        stages,
        initial,
        rate_cap: None,
    }
}

fn closed(initial: f64, stages: Vec<Stage>, rate_cap: Option<Vec<Stage>>) -> Schedule {
    Schedule {
        model: Model::Closed {
            think_time: Duration::ZERO,
        },
        stages,
        initial,
        rate_cap,
    }
}

fn all_arrivals(s: &Schedule) -> Vec<f64> {
    (0..s.total_arrivals())
        .map(|i| s.arrival_time(i).unwrap().as_secs_f64())
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn stages_ramp_linearly_from_the_previous_value() {
    let s = closed(
        0.0,
        vec![stage(10.0, 100.0), stage(0.0, 20.0), stage(10.0, 20.0)],
        None,
    );
    assert_eq!(s.duration(), secs(20.0));
    assert!(close(s.value_at(secs(0.0)), 0.0));
    assert!(close(s.value_at(secs(2.5)), 25.0));
    assert!(close(s.value_at(secs(9.999_999_999)), 100.0));
    assert!(
        close(s.value_at(secs(10.0)), 20.0),
        "a zero-length stage is a step"
    );
    assert!(close(s.value_at(secs(15.0)), 20.0));
    assert!(
        close(s.value_at(secs(99.0)), 20.0),
        "past the end: the last target"
    );
    assert_eq!(s.users_at(secs(2.55)), 25);
    assert_eq!(s.users_at(secs(10.0)), 20);
    // Closed without a cap has no arrivals.
    assert_eq!(s.total_arrivals(), 0);
    assert_eq!(s.arrival_time(0), None);
    assert_eq!(s.rate_cap_at(secs(1.0)), None);
}

#[test]
fn constant_rate_arrivals_are_evenly_spaced() {
    let s = open(10.0, vec![stage(10.0, 10.0)]);
    assert_eq!(s.total_arrivals(), 100);
    for i in [0, 1, 37, 99] {
        assert!(
            close(s.arrival_time(i).unwrap().as_secs_f64(), i as f64 / 10.0),
            "{i}"
        );
    }
    assert_eq!(s.arrival_time(100), None);
}

#[test]
fn ramp_from_zero_follows_the_integral() {
    // rate = t, N(t) = t²/2, arrival i at sqrt(2i).
    let s = open(0.0, vec![stage(10.0, 10.0)]);
    assert_eq!(s.total_arrivals(), 50);
    for i in [0u64, 1, 2, 18, 49] {
        let t = s.arrival_time(i).unwrap().as_secs_f64();
        assert!(close(t, (2.0 * i as f64).sqrt()), "{i}: {t}");
    }
    // Ramp down to zero: rate = 10 − t, N(10) = 50, last arrival before the end.
    let down = open(10.0, vec![stage(10.0, 0.0)]);
    assert_eq!(down.total_arrivals(), 50);
    let t49 = down.arrival_time(49).unwrap().as_secs_f64();
    assert!(close(t49, 10.0 - 2f64.sqrt()), "{t49}");
}

#[test]
fn zero_rate_stages_send_nothing() {
    let s = open(
        0.0,
        vec![
            stage(5.0, 0.0),
            stage(0.0, 4.0),
            stage(5.0, 4.0),
            stage(5.0, 0.0),
        ],
    );
    assert_eq!(s.total_arrivals(), 30);
    assert!(close(s.arrival_time(0).unwrap().as_secs_f64(), 5.0));
    assert!(close(s.arrival_time(1).unwrap().as_secs_f64(), 5.25));
    let all = all_arrivals(&s);
    assert!(all.iter().all(|&t| (5.0..15.0).contains(&t)), "{all:?}");
    assert_eq!(open(0.0, vec![stage(5.0, 0.0)]).total_arrivals(), 0);
    assert_eq!(open(3.0, vec![]).total_arrivals(), 0);
}

#[test]
fn fractional_totals_round_up() {
    let s = open(2.5, vec![stage(1.0, 2.5)]); // N = 2.5: arrivals 0, 1, 2
    assert_eq!(s.total_arrivals(), 3);
    assert!(close(s.arrival_time(2).unwrap().as_secs_f64(), 0.8));
    assert!(close(s.arrivals_before(secs(0.4)), 1.0));
}

#[test]
fn a_rate_cap_drives_closed_arrivals() {
    let s = closed(5.0, vec![stage(10.0, 5.0)], Some(vec![stage(4.0, 2.0)]));
    // The cap starts at its first target and holds after its last stage.
    assert_eq!(s.rate_cap_at(secs(1.0)), Some(2.0));
    assert_eq!(s.rate_cap_at(secs(8.0)), Some(2.0));
    assert_eq!(s.total_arrivals(), 20);
    assert!(close(s.arrival_time(19).unwrap().as_secs_f64(), 9.5));
}

#[test]
fn retarget_keeps_the_past_and_holds_the_new_value() {
    let s = open(0.0, vec![stage(10.0, 100.0), stage(10.0, 100.0)]);
    let at = secs(5.0);
    let r = s.retarget(at, 20.0);
    assert_eq!(r.duration(), s.duration());
    assert!(close(r.value_at(secs(4.0)), 40.0));
    assert!(close(r.value_at(at), 20.0));
    assert!(close(r.value_at(secs(19.0)), 20.0));
    // N(5) = 125 in both; after: 125 + 15 · 20.
    assert!(close(r.arrivals_before(at), s.arrivals_before(at)));
    assert_eq!(r.total_arrivals(), 125 + 300);
    for i in 0..125 {
        assert_eq!(r.arrival_time(i), s.arrival_time(i), "{i}");
    }
    assert_eq!(
        s.retarget(secs(30.0), 1.0),
        s,
        "after the end nothing changes"
    );
    // A cap is retargeted the same way.
    let c = closed(4.0, vec![stage(10.0, 4.0)], Some(vec![stage(10.0, 10.0)]));
    let rc = c.retarget_rate_cap(secs(2.0), 1.0);
    assert_eq!(rc.total_arrivals(), 20 + 8);
    assert_eq!(rc.rate_cap_at(secs(3.0)), Some(1.0));
    assert_eq!(rc.stages, c.stages);
    // Without a cap, the new one starts at `at` with arrival 0.
    let none = closed(4.0, vec![stage(10.0, 4.0)], None).retarget_rate_cap(secs(6.0), 2.0);
    assert_eq!(none.total_arrivals(), 8);
    assert!(close(none.arrival_time(0).unwrap().as_secs_f64(), 6.0));
    assert_eq!(none.rate_cap_at(secs(7.0)), Some(2.0));
}

fn arb_schedule() -> impl Strategy<Value = Schedule> {
    let target = prop_oneof![Just(0.0), 0.0..120.0f64];
    let st = (prop_oneof![Just(0.0), 0.0..15.0f64], target.clone()).prop_map(|(d, t)| stage(d, t));
    (target, prop::collection::vec(st, 0..5)).prop_map(|(i, s)| open(i, s))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        rng_seed: RngSeed::Fixed(0x5eed_0005),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Any window [a, b) holds the integral of the rate over it, within 1.
    #[test]
    fn window_counts_match_the_integral(s in arb_schedule(), a in 0.0..1.0f64, b in 0.0..1.0f64) {
        let all = all_arrivals(&s);
        let d = s.duration().as_secs_f64();
        prop_assert!(all.windows(2).all(|w| w[0] <= w[1]), "not sorted");
        prop_assert!(all.iter().all(|t| t.is_finite() && *t >= 0.0 && *t <= d + 1e-9));
        prop_assert_eq!(s.arrival_time(s.total_arrivals()), None);
        let (a, b) = (a.min(b) * d, a.max(b) * d);
        let count = all.iter().filter(|&&t| t >= a && t < b).count() as f64;
        let integral = s.arrivals_before(secs(b)) - s.arrivals_before(secs(a));
        prop_assert!((count - integral).abs() <= 1.0 + 1e-6, "count {} integral {}", count, integral);
        let total = s.arrivals_before(s.duration());
        prop_assert_eq!(s.total_arrivals(), total.ceil() as u64);
    }

    /// Retargeting never moves an arrival that happened before the change.
    #[test]
    fn retarget_keeps_earlier_arrivals(s in arb_schedule(), at in 0.0..1.0f64, v in 0.0..100.0f64) {
        let at = secs(at * s.duration().as_secs_f64());
        let r = s.retarget(at, v);
        prop_assert_eq!(r.duration(), s.duration());
        let before = s.arrivals_before(at);
        prop_assert!((r.arrivals_before(at) - before).abs() < 1e-6);
        for i in 0..(before.floor() as u64).min(s.total_arrivals()) {
            let (x, y) = (s.arrival_time(i).unwrap(), r.arrival_time(i).unwrap());
            prop_assert!(x.abs_diff(y) < Duration::from_micros(1), "{}: {:?} {:?}", i, x, y);
        }
    }
}
