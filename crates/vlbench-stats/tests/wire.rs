//! The wire form of `IntervalReport`: lossless JSON round trip, histogram
//! encoding, and rejection of corrupt or foreign histograms.

mod common;

use base64::Engine as _;
use proptest::prelude::*;
use vlbench_stats::{
    decode_histogram, encode_histogram, ErrorClass, Histogram, IntervalReport, IntervalStats,
    Outcome, WireError, HIST_MAX_US,
};

proptest! {
    // Each case encodes 7 full-size histograms: fewer cases keep debug test runs short.
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn interval_report_round_trip_is_lossless(r in common::report(3)) {
        let json = serde_json::to_string(&r).unwrap();
        let back: IntervalReport = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&back, &r);
        // And stable: encoding the decoded value gives the same text.
        prop_assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }
}

fn sample() -> IntervalReport {
    let mut stats = IntervalStats::new(2);
    stats.queries[1].record(&Outcome {
        query: 1,
        latency_us: 12_000,
        service_us: 9_000,
        status: 503,
        error: Some(ErrorClass::Http5xx),
        bytes: 42,
        rows: 0,
    });
    stats.queries[1].dropped = 2;
    stats.ledger.planned = 4;
    stats.ledger.sent = 1;
    stats.ledger.completed = 1;
    stats.ledger.dropped = 2;
    stats.ledger.lag.record(300).unwrap();
    IntervalReport {
        seq: 7,
        start_unix_ms: 1_700_000_000_000,
        duration_ms: 1000,
        stats,
    }
}

#[test]
fn json_shape_has_plain_counters_and_maps() {
    let v = serde_json::to_value(sample()).unwrap();
    assert_eq!(v["seq"], 7);
    assert_eq!(v["duration_ms"], 1000);
    let q = &v["stats"]["queries"][1];
    assert!(q["latency"].is_string());
    assert!(q["service"].is_string());
    assert_eq!(q["ok"], 0);
    assert_eq!(q["errors"], serde_json::json!({"http_5xx": 1}));
    assert_eq!(q["statuses"], serde_json::json!({"503": 1}));
    assert_eq!(q["dropped"], 2);
    assert_eq!(q["bytes"], 42);
    let l = &v["stats"]["ledger"];
    assert_eq!(
        (l["planned"].as_u64(), l["sent"].as_u64()),
        (Some(4), Some(1))
    );
    assert!(l["lag"].is_string());
}

#[test]
fn missing_counters_default_to_zero() {
    let empty = encode_histogram(&vlbench_stats::new_histogram()).unwrap();
    let json = format!(
        r#"{{"seq":1,"start_unix_ms":5,"duration_ms":1000,"stats":{{"queries":[{{"latency":"{empty}","service":"{empty}"}}],"ledger":{{"lag":"{empty}"}}}}}}"#
    );
    let r: IntervalReport = serde_json::from_str(&json).unwrap();
    assert_eq!(r.stats, IntervalStats::new(1));
}

#[test]
fn histogram_encoding_round_trips_clamped_values() {
    let mut h = vlbench_stats::new_histogram();
    h.record(1).unwrap();
    h.record_n(HIST_MAX_US, 5).unwrap();
    let back = decode_histogram(&encode_histogram(&h).unwrap()).unwrap();
    assert_eq!(back, h);
}

#[test]
fn foreign_bounds_are_rejected_with_a_clear_error() {
    let foreign = Histogram::<u64>::new_with_bounds(1, 1_000_000, 2).unwrap();
    let err = decode_histogram(&encode_histogram(&foreign).unwrap()).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Bounds {
                high: 1_000_000,
                sigfig: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("expected low=1"), "{err}");
}

#[test]
fn corrupt_histograms_are_errors_not_panics() {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    assert!(matches!(
        decode_histogram("not base64!"),
        Err(WireError::Base64(_))
    ));
    assert!(matches!(
        decode_histogram(&b64(&[1, 2])),
        Err(WireError::Header(_))
    ));
    assert!(matches!(
        decode_histogram(&b64(&[0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0])),
        Err(WireError::Header(_))
    ));
    // A compressed cookie followed by garbage instead of zlib data.
    assert!(matches!(
        decode_histogram(&b64(&[0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 4, 1, 2, 3, 4])),
        Err(WireError::Header(_))
    ));
    // A plain V2 header that claims a 4 GiB payload.
    let mut huge = vec![0x1c, 0x84, 0x93, 0x13, 0xff, 0xff, 0xff, 0xff];
    huge.resize(40, 0);
    assert!(matches!(
        decode_histogram(&b64(&huge)),
        Err(WireError::Header(_))
    ));
    // A valid histogram cut short.
    let mut h = vlbench_stats::new_histogram();
    for v in 1..2000 {
        h.record(v * 37).unwrap();
    }
    let good = base64::engine::general_purpose::STANDARD
        .decode(encode_histogram(&h).unwrap())
        .unwrap();
    assert!(decode_histogram(&b64(&good[..good.len() / 2])).is_err());
    // Too long to be ours.
    assert!(matches!(
        decode_histogram(&"A".repeat(3 << 20)),
        Err(WireError::TooLong { .. })
    ));
}

#[test]
fn bad_report_json_names_the_problem() {
    let err = serde_json::from_str::<IntervalReport>(
        r#"{"seq":1,"start_unix_ms":5,"duration_ms":1000,"stats":{"queries":[{"latency":"!!!","service":""}],"ledger":{"lag":""}}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("base64"), "{err}");
    let err = serde_json::from_str::<IntervalReport>(
        r#"{"seq":1,"start_unix_ms":5,"duration_ms":1000,"stats":{"queries":[],"ledger":{"lag":"","planned":1,"x":{}}}}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("histogram"), "{err}");
}
