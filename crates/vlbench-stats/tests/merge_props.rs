//! Properties of merging (issue 4's acceptance): histogram and interval
//! merges are associative and commutative and equal one histogram (one
//! recorder) of all values.

mod common;

use common::{event, interval, latency, Event};
use proptest::prelude::*;
use vlbench_stats::hist::{merge_hist, record_clamped};
use vlbench_stats::{new_histogram, Histogram, IntervalStats};

fn hist_of(values: &[u64]) -> Histogram<u64> {
    let mut h = new_histogram();
    for &v in values {
        record_clamped(&mut h, v);
    }
    h
}

fn merged(parts: &[&Histogram<u64>]) -> Histogram<u64> {
    let mut h = new_histogram();
    for p in parts {
        merge_hist(&mut h, p);
    }
    h
}

fn merged_stats(n: usize, parts: &[&IntervalStats]) -> IntervalStats {
    let mut s = IntervalStats::new(n);
    for p in parts {
        s.merge(p);
    }
    s
}

proptest! {
    // Each case merges dozens of full-size histograms (188 KiB each): fewer
    // cases keep debug test runs short.
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn histogram_merge_is_associative_commutative_and_exact(
        a in proptest::collection::vec(latency(), 0..300),
        b in proptest::collection::vec(latency(), 0..300),
        c in proptest::collection::vec(latency(), 0..300),
    ) {
        let (ha, hb, hc) = (hist_of(&a), hist_of(&b), hist_of(&c));
        let all: Vec<u64> = a.iter().chain(&b).chain(&c).copied().collect();
        let one = hist_of(&all);

        let left = merged(&[&merged(&[&ha, &hb]), &hc]);
        let right = merged(&[&ha, &merged(&[&hb, &hc])]);
        let reversed = merged(&[&hc, &hb, &ha]);
        prop_assert_eq!(&left, &one);
        prop_assert_eq!(&right, &one);
        prop_assert_eq!(&reversed, &one);
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            prop_assert_eq!(left.value_at_quantile(q), one.value_at_quantile(q));
        }
    }

    #[test]
    fn interval_merge_is_associative_commutative_and_exact(
        a in proptest::collection::vec(event(3), 0..150),
        b in proptest::collection::vec(event(3), 0..150),
        c in proptest::collection::vec(event(3), 0..150),
    ) {
        let (sa, sb, sc) = (interval(3, &a), interval(3, &b), interval(3, &c));
        let all: Vec<Event> = a.iter().chain(&b).chain(&c).cloned().collect();
        let one = interval(3, &all);

        let left = merged_stats(3, &[&merged_stats(3, &[&sa, &sb]), &sc]);
        let right = merged_stats(3, &[&sa, &merged_stats(3, &[&sb, &sc])]);
        let reversed = merged_stats(3, &[&sc, &sb, &sa]);
        prop_assert_eq!(&left, &one);
        prop_assert_eq!(&right, &one);
        prop_assert_eq!(&reversed, &one);
        prop_assert_eq!(left.total(), one.total());
    }
}
