//! The sparse path (issue 6.4/6.5): decoding the wire form straight into
//! the recorded buckets and merging those must give exactly the histogram
//! (every percentile) of the union of the values, like the full path.

mod common;

use base64::Engine as _;
use common::{event, interval, latency, Event};
use proptest::prelude::*;
use vlbench_stats::hist::{merge_hist, record_clamped};
use vlbench_stats::{
    decode_histogram, decode_sparse, encode_histogram, encode_sparse, new_histogram, Histogram,
    IntervalReport, IntervalStats, SparseHist, SparseIntervalReport, SparseIntervalStats,
    WireError,
};

fn hist_of(values: &[u64]) -> Histogram<u64> {
    let mut h = new_histogram();
    for &v in values {
        record_clamped(&mut h, v);
    }
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn sparse_merge_from_the_wire_equals_one_histogram_of_all_values(
        a in proptest::collection::vec(latency(), 0..300),
        b in proptest::collection::vec(latency(), 0..300),
        c in proptest::collection::vec(latency(), 0..300),
    ) {
        let all: Vec<u64> = a.iter().chain(&b).chain(&c).copied().collect();
        let one = hist_of(&all);
        let mut acc = SparseHist::new();
        let mut full = new_histogram();
        for part in [&c, &a, &b] {
            let text = encode_histogram(&hist_of(part)).unwrap();
            acc.merge(&decode_sparse(&text).unwrap());
            decode_sparse(&text).unwrap().merge_into(&mut full);
        }
        prop_assert_eq!(acc.len(), one.len());
        prop_assert_eq!(&acc.to_histogram(), &one);
        prop_assert_eq!(&full, &one);
        prop_assert_eq!(acc.max(), one.max());
        prop_assert_eq!(acc.mean().to_bits(), one.mean().to_bits());
        for q in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
            prop_assert_eq!(acc.value_at_quantile(q), one.value_at_quantile(q));
        }
        // And back: the sparse encoder writes what the full decoder reads.
        prop_assert_eq!(&decode_histogram(&encode_sparse(&acc).unwrap()).unwrap(), &one);
        prop_assert_eq!(&SparseHist::from_histogram(&one), &acc);
    }

    #[test]
    fn sparse_interval_merge_equals_the_full_merge(
        a in proptest::collection::vec(event(3), 0..150),
        b in proptest::collection::vec(event(3), 0..150),
    ) {
        let (sa, sb) = (interval(3, &a), interval(3, &b));
        let all: Vec<Event> = a.iter().chain(&b).cloned().collect();
        let one = interval(3, &all);
        let wire = |s: &IntervalStats| -> SparseIntervalStats {
            serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap()
        };
        let mut acc = SparseIntervalStats::new(3);
        acc.merge(&wire(&sa));
        acc.merge(&wire(&sb));
        prop_assert_eq!(&acc.to_stats(), &one);
        prop_assert_eq!(&acc, &SparseIntervalStats::from_stats(&one));
        let mut full = sa.clone();
        wire(&sb).merge_into(&mut full);
        prop_assert_eq!(&full, &one);
        // The sparse JSON is read back by the full decoder.
        let back: IntervalStats = serde_json::from_str(&serde_json::to_string(&acc).unwrap()).unwrap();
        prop_assert_eq!(&back, &one);
    }
}

#[test]
fn reports_read_either_way() {
    let stats = interval(2, &[]);
    let r = IntervalReport {
        seq: 7,
        start_unix_ms: 1_000,
        duration_ms: 900,
        stats,
    };
    let json = serde_json::to_string(&r).unwrap();
    let sparse: SparseIntervalReport = serde_json::from_str(&json).unwrap();
    assert_eq!(sparse.to_report(), r);
    assert_eq!(sparse, SparseIntervalReport::from_report(&r));
    let again: IntervalReport =
        serde_json::from_str(&serde_json::to_string(&sparse).unwrap()).unwrap();
    assert_eq!(again, r);
}

#[test]
fn json_histograms_decode_from_text_bytes_and_values_alike() {
    let text = encode_histogram(&hist_of(&[3, 500, 500, 70_000])).unwrap();
    let want = decode_sparse(&text).unwrap();
    // serde_json hands the string over as raw bytes (no UTF-8 pass) ...
    let from_json: SparseHist = serde_json::from_str(&format!("\"{text}\"")).unwrap();
    assert_eq!(from_json, want);
    // ... unescaped first when the writer escaped (e.g. "/" as "\/") ...
    let escaped = format!("\"{}\"", text.replace('/', "\\/"));
    assert_eq!(serde_json::from_str::<SparseHist>(&escaped).unwrap(), want);
    // ... and from a parsed document as a string.
    let value = serde_json::Value::String(text.clone());
    assert_eq!(serde_json::from_value::<SparseHist>(value).unwrap(), want);
    // What is not base64 text is an error that says so, never a panic.
    for bad in ["\"h\u{e9}llo\"", "\"not base64!\"", "[1, 2]", "42", "null"] {
        let err = serde_json::from_str::<SparseHist>(bad)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("base64") || err.contains("histogram"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn corrupt_sparse_histograms_are_errors_not_panics() {
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    assert!(matches!(
        decode_sparse("not base64!"),
        Err(WireError::Base64(_))
    ));
    assert!(matches!(decode_sparse(""), Err(WireError::Header(_))));
    assert!(matches!(
        decode_sparse(&b64(&[1, 2])),
        Err(WireError::Header(_))
    ));
    assert!(matches!(
        decode_sparse(&b64(&[0x1c, 0x84, 0x93, 0x14, 0, 0, 0, 4, 1, 2, 3, 4])),
        Err(WireError::Header(_))
    ));
    let mut huge = vec![0x1c, 0x84, 0x93, 0x13, 0xff, 0xff, 0xff, 0xff];
    huge.resize(40, 0);
    assert!(matches!(
        decode_sparse(&b64(&huge)),
        Err(WireError::Header(_))
    ));
    let foreign = Histogram::<u64>::new_with_bounds(1, 1_000_000, 2).unwrap();
    assert!(matches!(
        decode_sparse(&encode_histogram(&foreign).unwrap()),
        Err(WireError::Bounds { sigfig: 2, .. })
    ));
    // Cut short at every length: an error or a prefix, never a panic.
    let h = hist_of(&(1..2000).map(|v| v * 37).collect::<Vec<_>>());
    let good = base64::engine::general_purpose::STANDARD
        .decode(encode_histogram(&h).unwrap())
        .unwrap();
    for cut in 0..good.len() {
        assert!(decode_sparse(&b64(&good[..cut])).is_err(), "cut at {cut}");
    }
    // A plain V2 histogram whose count lies past the last counter.
    let mut v2 = vec![0x1c, 0x84, 0x93, 0x13, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 3];
    v2.extend_from_slice(&1u64.to_be_bytes());
    v2.extend_from_slice(&3_600_000_000u64.to_be_bytes());
    v2.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
    v2.extend_from_slice(&[0xff, 0xff, 0x03, 0x02]); // skip 32768 zeros, then count 1
    assert!(matches!(
        decode_sparse(&b64(&v2)),
        Err(WireError::Payload(_))
    ));
    assert!(decode_histogram(&b64(&v2)).is_err());
    assert!(matches!(
        decode_sparse(&"A".repeat(3 << 20)),
        Err(WireError::TooLong { .. })
    ));
}

#[test]
fn merge_into_a_full_histogram_matches_merge_hist() {
    let a = hist_of(&[5, 50, 500, 5_000, 5_000_000]);
    let b = hist_of(&[7, 5_000, u64::MAX]);
    let mut full = a.clone();
    merge_hist(&mut full, &b);
    let mut via_sparse = a.clone();
    SparseHist::from_histogram(&b).merge_into(&mut via_sparse);
    assert_eq!(via_sparse, full);
}
