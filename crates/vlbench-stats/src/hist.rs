//! Latency histograms: the one place that knows their bounds and how values
//! are clamped into them and merged. Everything else calls these helpers so
//! that every histogram in a run has the same shape and merges exactly.
//!
//! Must not: allocate on the record path, panic on any value.

use hdrhistogram::Histogram;

/// Highest trackable latency, in microseconds (one hour). Longer values are
/// clamped to it: a request that took over an hour is a failed run anyway.
pub const HIST_MAX_US: u64 = 3_600_000_000;

/// Significant decimal digits kept: values are exact to 0.1 %.
pub const HIST_SIGFIG: u8 = 3;

/// A latency histogram in microseconds, 1 µs ..= [`HIST_MAX_US`], with
/// [`HIST_SIGFIG`] digits. Every histogram of a run comes from here so that
/// merges across shards, intervals and nodes are exact and cannot fail.
pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that satisfy hdrhistogram's rules
    // (low >= 1, high >= 2 * low, sigfig <= 5); the unit test
    // `new_histogram_has_contract_bounds` proves this cannot fail.
    Histogram::new_with_bounds(1, HIST_MAX_US, HIST_SIGFIG)
        .expect("constant histogram bounds are valid")
}

/// Records `value_us`, clamped to `0..=HIST_MAX_US`. Never allocates, never
/// fails: the histogram has the fixed bounds of [`new_histogram`].
#[inline]
pub fn record_clamped(h: &mut Histogram<u64>, value_us: u64) {
    h.saturating_record(value_us.min(HIST_MAX_US));
}

/// Adds `src` into `dst`. With two histograms of the standard shape this is
/// an exact counts add. If `src` has other bounds (it came from elsewhere),
/// its values are re-recorded one bucket at a time, clamped, so a merge never
/// fails and never loses a count.
pub fn merge_hist(dst: &mut Histogram<u64>, src: &Histogram<u64>) {
    if src.is_empty() {
        return;
    }
    if dst.add(src).is_err() {
        for v in src.iter_recorded() {
            dst.saturating_record_n(v.value_iterated_to().min(HIST_MAX_US), v.count_at_value());
        }
    }
}

/// The value at `quantile` (0.0..=1.0) in milliseconds; 0 for an empty
/// histogram (no request, no latency).
pub fn quantile_ms(h: &Histogram<u64>, quantile: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    us_to_ms(h.value_at_quantile(quantile))
}

/// The mean in milliseconds; 0 for an empty histogram.
pub fn mean_ms(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    h.mean() / 1000.0
}

/// The maximum in milliseconds; 0 for an empty histogram.
pub fn max_ms(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    us_to_ms(h.max())
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_histogram_has_contract_bounds() {
        let h = new_histogram();
        assert_eq!(h.low(), 1);
        assert_eq!(h.high(), HIST_MAX_US);
        assert_eq!(h.sigfig(), HIST_SIGFIG);
        assert!(!h.is_auto_resize());
    }

    #[test]
    fn out_of_range_values_are_clamped_to_the_max() {
        let mut h = new_histogram();
        record_clamped(&mut h, u64::MAX);
        record_clamped(&mut h, HIST_MAX_US * 10);
        record_clamped(&mut h, 0);
        assert_eq!(h.len(), 3);
        assert!(h.equivalent(h.max(), HIST_MAX_US));
        assert_eq!(h.count_at(HIST_MAX_US), 2);
        assert_eq!(h.count_at(0), 1);
    }

    #[test]
    fn merge_of_foreign_bounds_re_records_clamped() {
        let mut foreign = Histogram::<u64>::new_with_bounds(1, u64::MAX / 4, 2).unwrap();
        foreign.record_n(10_000_000_000_000, 3).unwrap();
        foreign.record_n(500, 2).unwrap();
        let mut dst = new_histogram();
        merge_hist(&mut dst, &foreign);
        assert_eq!(dst.len(), 5);
        assert_eq!(dst.count_at(HIST_MAX_US), 3);
        assert!(dst.value_at_quantile(0.1) <= 505);
    }

    #[test]
    fn empty_histogram_figures_are_zero() {
        let h = new_histogram();
        assert_eq!(quantile_ms(&h, 0.99), 0.0);
        assert_eq!(mean_ms(&h), 0.0);
        assert_eq!(max_ms(&h), 0.0);
    }

    #[test]
    fn figures_are_in_milliseconds() {
        let mut h = new_histogram();
        for v in [1_000, 2_000, 3_000] {
            record_clamped(&mut h, v);
        }
        assert!((mean_ms(&h) - 2.0).abs() < 0.01);
        assert!((quantile_ms(&h, 0.5) - 2.0).abs() < 0.01);
        assert!((max_ms(&h) - 3.0).abs() < 0.01);
    }
}
