//! Sparse histograms: only the non-zero buckets of a standard histogram
//! (see [`crate::new_histogram`]), as sorted (bucket index, count) pairs.
//!
//! The coordinator merges hundreds of one-second histograms per second that
//! hold a few dozen values each. A full histogram of our bounds is ~23.5k
//! counters (188 KiB): decoding into one, and adding it, walks and zeroes all
//! of them. A [`SparseHist`] is decoded straight from the wire form (see
//! `sparse_wire`), costs memory and time in proportion to the buckets that
//! were recorded, and converts exactly to and from a full histogram: the
//! bucket layout here is the one hdrhistogram uses for our bounds (tested
//! against hdrhistogram for every index).
//!
//! Must not: know any other histogram shape, do I/O.

use hdrhistogram::Histogram;

use crate::hist::{new_histogram, HIST_MAX_US};

/// log2 of half the sub-buckets per bucket at [`crate::HIST_SIGFIG`] = 3
/// (2048 sub-buckets resolve 3 significant digits).
const HALF_MAG: u32 = 10;
const HALF: usize = 1 << HALF_MAG;
/// Values below this share bucket 0 (sub-bucket count - 1).
const SUB_BUCKET_MASK: u64 = (2 << HALF_MAG) - 1;
/// 64 - unit magnitude (0, since the lowest value is 1) - log2(sub-buckets).
const LEADING_ZERO_BASE: u32 = 64 - (HALF_MAG + 1);
/// Buckets needed to cover [`HIST_MAX_US`] (smallest n with 2048 * 2^(n-1) > max).
const BUCKETS: usize = 22;
/// Counters in a standard histogram: indices are `0..INDICES`.
pub const INDICES: usize = (BUCKETS + 1) * HALF;

/// The bucket index of `value` in a standard histogram (values above
/// [`HIST_MAX_US`] are clamped, like [`crate::hist::record_clamped`]).
#[inline]
pub fn index_of(value: u64) -> u32 {
    let v = value.min(HIST_MAX_US);
    let bucket = LEADING_ZERO_BASE - (v | SUB_BUCKET_MASK).leading_zeros();
    let sub = v >> bucket;
    // bucket <= 21 and sub < 2048, so this is < INDICES and fits in u32.
    (((u64::from(bucket) + 1) << HALF_MAG) + sub - HALF as u64) as u32
}

/// (bucket, first value) of an index.
#[inline]
fn loc(index: u32) -> (u32, u64) {
    let i = index as usize;
    let bucket = (i >> HALF_MAG) as i64 - 1;
    let sub = ((i & (HALF - 1)) + HALF) as u64;
    if bucket < 0 {
        (0, sub - HALF as u64)
    } else {
        (bucket as u32, sub << bucket)
    }
}

/// The lowest value counted at `index` (hdrhistogram's `value_for`).
#[inline]
pub fn lowest_of(index: u32) -> u64 {
    loc(index).1
}

/// The highest value counted at `index` (hdrhistogram's `highest_equivalent`).
#[inline]
pub fn highest_of(index: u32) -> u64 {
    let (bucket, low) = loc(index);
    low + (1u64 << bucket) - 1
}

/// The middle of `index`'s range, rounded up (hdrhistogram's `median_equivalent`).
#[inline]
fn median_of(index: u32) -> u64 {
    let (bucket, low) = loc(index);
    low + ((1u64 << bucket) >> 1)
}

/// The non-zero buckets of a standard histogram, by ascending index.
/// Exact: it converts to and from [`Histogram`] without loss.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SparseHist {
    idx: Vec<u32>,
    counts: Vec<u64>,
    total: u64,
}

impl SparseHist {
    /// An empty histogram (no allocation).
    pub fn new() -> Self {
        SparseHist::default()
    }

    /// The recorded buckets of `h` (which must have the standard bounds; a
    /// histogram of other bounds is re-bucketed, clamped, like
    /// [`crate::hist::merge_hist`] does). Walks `h` once: not for hot paths.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let mut out = SparseHist::new();
        for v in h.iter_recorded() {
            out.add_at(index_of(v.value_iterated_to()), v.count_at_value());
        }
        out
    }

    /// Builds from (index, count) pairs in strictly ascending index order,
    /// all indices `< INDICES` and counts non-zero (the decoder's output).
    pub(crate) fn from_sorted(idx: Vec<u32>, counts: Vec<u64>) -> Self {
        let total = counts.iter().fold(0u64, |a, &c| a.saturating_add(c));
        SparseHist { idx, counts, total }
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Non-zero buckets.
    pub fn buckets(&self) -> usize {
        self.idx.len()
    }

    /// The (index, count) pairs, by ascending index.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.idx.iter().copied().zip(self.counts.iter().copied())
    }

    /// Records `value` `n` times (clamped to [`HIST_MAX_US`]).
    pub fn record_n(&mut self, value: u64, n: u64) {
        self.add_at(index_of(value), n);
    }

    /// Where bucket `index` is, searching at or after position `from`
    /// (every bucket before `from` must be below `index`): `Ok(position)`,
    /// or `Err(insertion point)`. Galloping, so a run of ascending lookups
    /// (the buckets of another histogram) costs O(log distance) each and
    /// walks memory forward.
    #[inline]
    pub(crate) fn find_from(&self, from: usize, index: u32) -> Result<usize, usize> {
        let idx = &self.idx;
        let n = idx.len();
        let (mut lo, mut hi, mut step) = (from.min(n), from.min(n), 1);
        // Invariant: idx[..lo] < index; the answer is in [lo, hi] once
        // idx[hi] >= index (or hi reached the end).
        let end = loop {
            if hi >= n {
                break n;
            }
            if idx[hi] >= index {
                break hi + 1;
            }
            lo = hi + 1;
            hi = hi.saturating_add(step);
            step *= 2;
        };
        match idx[lo..end].binary_search(&index) {
            Ok(p) => Ok(lo + p),
            Err(p) => Err(lo + p),
        }
    }

    /// Adds `n` to the bucket at `position` (from [`Self::find_from`]).
    #[inline]
    pub(crate) fn add_at_position(&mut self, position: usize, n: u64) {
        if let Some(c) = self.counts.get_mut(position) {
            *c = c.saturating_add(n);
            self.total = self.total.saturating_add(n);
        }
    }

    /// Adds `n` at bucket `index` (< [`INDICES`]).
    fn add_at(&mut self, index: u32, n: u64) {
        if n == 0 {
            return;
        }
        match self.idx.binary_search(&index) {
            Ok(p) => self.counts[p] = self.counts[p].saturating_add(n),
            Err(p) => {
                self.idx.insert(p, index);
                self.counts.insert(p, n);
            }
        }
        self.total = self.total.saturating_add(n);
    }

    /// Adds `other` in. Cost: a binary search per bucket of `other` when all
    /// its buckets are already present (the steady state of an
    /// accumulator), else one merge pass over both.
    pub fn merge(&mut self, other: &SparseHist) {
        if other.is_empty() {
            return;
        }
        let mut from = 0;
        let all_present = other
            .idx
            .iter()
            .all(|i| match self.idx[from..].binary_search(i) {
                Ok(p) => {
                    from += p;
                    true
                }
                Err(_) => false,
            });
        if all_present {
            // Second pass: the same searches, now known to succeed.
            let mut from = 0;
            for (i, &c) in other.idx.iter().zip(&other.counts) {
                if let Ok(p) = self.idx[from..].binary_search(i) {
                    from += p;
                    self.counts[from] = self.counts[from].saturating_add(c);
                }
            }
        } else {
            self.merge_join(other);
        }
        self.total = self.total.saturating_add(other.total);
    }

    fn merge_join(&mut self, other: &SparseHist) {
        let n = self.idx.len() + other.idx.len();
        let (mut idx, mut counts) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut a, mut b) = (0, 0);
        while a < self.idx.len() || b < other.idx.len() {
            let ia = self.idx.get(a).copied().unwrap_or(u32::MAX);
            let ib = other.idx.get(b).copied().unwrap_or(u32::MAX);
            if ia < ib {
                idx.push(ia);
                counts.push(self.counts[a]);
                a += 1;
            } else if ib < ia {
                idx.push(ib);
                counts.push(other.counts[b]);
                b += 1;
            } else {
                idx.push(ia);
                counts.push(self.counts[a].saturating_add(other.counts[b]));
                a += 1;
                b += 1;
            }
        }
        self.idx = idx;
        self.counts = counts;
    }

    /// Adds every bucket into the full histogram `h` (standard bounds):
    /// one `record_n` per non-zero bucket.
    pub fn merge_into(&self, h: &mut Histogram<u64>) {
        for (i, c) in self.iter() {
            h.saturating_record_n(lowest_of(i), c);
        }
    }

    /// The full histogram (standard bounds) with these counts.
    pub fn to_histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        self.merge_into(&mut h);
        h
    }

    /// Zeroes, keeping the allocations.
    pub fn reset(&mut self) {
        self.idx.clear();
        self.counts.clear();
        self.total = 0;
    }

    /// Exactly `Histogram::value_at_quantile` of the full histogram.
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        let quantile = quantile.min(1.0);
        let target = ((quantile * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (i, c) in self.iter() {
            seen = seen.saturating_add(c);
            if seen >= target {
                return if quantile == 0.0 {
                    lowest_of(i)
                } else {
                    highest_of(i)
                };
            }
        }
        0
    }

    /// Exactly `Histogram::mean` of the full histogram (same terms, same order).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        let n = self.total as f64;
        self.iter()
            .fold(0.0, |acc, (i, c)| acc + median_of(i) as f64 * c as f64 / n)
    }

    /// Exactly `Histogram::max` of the full histogram (0 when empty).
    pub fn max(&self) -> u64 {
        self.idx.last().map_or(0, |&i| highest_of(i))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A histogram of `values`, each recorded once (tests of every
    /// accumulator build their inputs with it).
    pub(crate) fn hist(values: &[u64]) -> SparseHist {
        let mut h = SparseHist::new();
        for &v in values {
            h.record_n(v, 1);
        }
        h
    }

    #[test]
    fn find_from_equals_a_binary_search_from_any_start() {
        let mut h = SparseHist::new();
        for v in [3u64, 9, 10, 11, 400, 401, 5_000, 77_777, 1 << 30] {
            h.record_n(v, 2);
        }
        let n = h.buckets();
        for probe in (0..40_000u32).step_by(7).chain(h.idx.clone()) {
            let plain = h.idx.binary_search(&probe);
            let first = match plain {
                Ok(p) | Err(p) => p,
            };
            for from in 0..=first.min(n) {
                assert_eq!(h.find_from(from, probe), plain, "probe {probe} from {from}");
            }
        }
        let p = h.find_from(0, index_of(400)).unwrap();
        h.add_at_position(p, 5);
        assert_eq!(h.len(), 18 + 5);
        h.add_at_position(n + 3, 1); // out of range: ignored
        assert_eq!(h.len(), 23);
    }
    use crate::hist::record_clamped;

    #[test]
    fn layout_matches_hdrhistogram_for_every_index() {
        let h = new_histogram();
        assert_eq!(h.distinct_values(), INDICES);
        for i in 0..INDICES as u32 {
            let low = lowest_of(i);
            assert_eq!(h.lowest_equivalent(low), low, "index {i}");
            assert_eq!(h.highest_equivalent(low), highest_of(i), "index {i}");
            assert_eq!(h.median_equivalent(low), median_of(i), "index {i}");
            if low <= HIST_MAX_US {
                assert_eq!(index_of(low), i);
                assert_eq!(index_of(highest_of(i).min(HIST_MAX_US)), i);
            }
        }
        assert_eq!(index_of(u64::MAX), index_of(HIST_MAX_US));
    }

    #[test]
    fn round_trip_and_figures_match_the_full_histogram() {
        let mut h = new_histogram();
        for v in [0, 1, 999, 2048, 2049, 150_000, 150_001, 7_000_000, u64::MAX] {
            record_clamped(&mut h, v);
        }
        let s = SparseHist::from_histogram(&h);
        assert_eq!(s.len(), h.len());
        assert_eq!(s.to_histogram(), h);
        assert_eq!(s.max(), h.max());
        assert_eq!(s.mean().to_bits(), h.mean().to_bits());
        for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0, 1.5] {
            assert_eq!(s.value_at_quantile(q), h.value_at_quantile(q), "q {q}");
        }
        let empty = SparseHist::new();
        assert_eq!(empty.value_at_quantile(0.5), 0);
        assert_eq!((empty.mean(), empty.max()), (0.0, 0));
    }

    #[test]
    fn merge_takes_the_fast_and_the_join_path() {
        let mut a = SparseHist::new();
        a.record_n(100, 2);
        a.record_n(5_000, 1);
        let mut same = SparseHist::new();
        same.record_n(5_000, 4);
        a.merge(&same);
        assert_eq!(a.iter().collect::<Vec<_>>().len(), 2);
        assert_eq!(a.len(), 7);
        let mut new = SparseHist::new();
        new.record_n(1, 1);
        new.record_n(100, 1);
        new.record_n(9_000_000, 1);
        a.merge(&new);
        let got: Vec<(u64, u64)> = a.iter().map(|(i, c)| (lowest_of(i), c)).collect();
        assert_eq!(got[0], (1, 1));
        assert_eq!(got[1], (100, 3));
        assert_eq!(got[2].1, 5);
        assert_eq!(got.len(), 4);
        assert_eq!(a.len(), 10);
    }
}
