//! Strategies shared by the property tests.
#![allow(dead_code)]

use proptest::prelude::*;
use vlbench_stats::{ErrorClass, IntervalReport, IntervalStats, Outcome, Recorder};

/// Latencies: mostly realistic, sometimes 0 or far beyond the histogram max.
pub fn latency() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0u64..5_000_000,
        1 => Just(0u64),
        1 => any::<u64>(),
    ]
}

pub fn outcome(n_queries: usize) -> impl Strategy<Value = Outcome> {
    (
        0..n_queries,
        latency(),
        latency(),
        prop_oneof![
            Just(0u16),
            Just(200u16),
            Just(404u16),
            Just(503u16),
            100u16..1000
        ],
        proptest::option::of(proptest::sample::select(ErrorClass::ALL.to_vec())),
        0u64..1_000_000,
        0u64..10_000,
    )
        .prop_map(
            |(query, latency_us, service_us, status, error, bytes, rows)| Outcome {
                query,
                latency_us,
                service_us,
                status,
                error,
                bytes,
                rows,
            },
        )
}

/// One event on a recorder.
#[derive(Clone, Debug)]
pub enum Event {
    Record(Outcome),
    Planned(u64),
    Sent(u64),
    Dropped(usize),
}

pub fn event(n_queries: usize) -> impl Strategy<Value = Event> {
    prop_oneof![
        6 => outcome(n_queries).prop_map(Event::Record),
        1 => (0u64..100).prop_map(Event::Planned),
        2 => latency().prop_map(Event::Sent),
        1 => (0..n_queries).prop_map(Event::Dropped),
    ]
}

pub fn apply(r: &mut Recorder, events: &[Event]) {
    for e in events {
        match e {
            Event::Record(o) => r.record(o),
            Event::Planned(n) => r.planned(*n),
            Event::Sent(lag) => r.sent(*lag),
            Event::Dropped(q) => r.dropped(*q),
        }
    }
}

/// The interval that recording `events` produces.
pub fn interval(n_queries: usize, events: &[Event]) -> IntervalStats {
    let mut r = Recorder::new(n_queries);
    apply(&mut r, events);
    let mut out = IntervalStats::new(n_queries);
    r.swap_into(&mut out);
    out
}

pub fn report(n_queries: usize) -> impl Strategy<Value = IntervalReport> {
    (
        any::<u64>(),
        any::<u64>(),
        0u64..2000,
        proptest::collection::vec(event(n_queries), 0..200),
    )
        .prop_map(
            move |(seq, start_unix_ms, duration_ms, events)| IntervalReport {
                seq,
                start_unix_ms,
                duration_ms,
                stats: interval(n_queries, &events),
            },
        )
}
