//! [`DenseAcc`]: a histogram accumulator that counts straight into paged
//! counter arrays, for the few histograms that take many adds at once.
//!
//! The coordinator keeps one accumulator per histogram for each second
//! still receiving reports (a handful of seconds) and for the live window.
//! Each receives one small histogram from every node, and the result holds
//! thousands of buckets: a [`crate::SparseAcc`] pays a binary search over
//! them (and its cache misses) per added bucket, which was most of the
//! coordinator's CPU with 200 nodes (issue 6.4). Here an added bucket is
//! one indexed add. The standard histogram's index space (see
//! [`crate::sparse::INDICES`]) is cut into pages of [`PAGE`] counters,
//! allocated when first touched: latencies of one query fill a few
//! magnitudes, so an accumulator holds a few pages (8 KiB each), never the
//! 188 KiB of a full histogram unless values span every magnitude.
//!
//! Must not: be kept per node or per second of a long series (a
//! [`crate::SparseAcc`] costs memory in proportion to its buckets, this
//! costs pages).

use crate::sparse::{SparseHist, INDICES};
use crate::sparse_acc::HistAcc;

/// Counters per page.
pub const PAGE: usize = 1024;
const PAGE_BITS: u32 = PAGE.trailing_zeros();
/// Pages that cover every index of a standard histogram.
const PAGES: usize = INDICES.div_ceil(PAGE);

/// Exact accumulator of [`SparseHist`]s in paged dense counters.
#[derive(Clone, Debug, Default)]
pub struct DenseAcc {
    /// `PAGES` slots once anything was added; a page is allocated zeroed
    /// when one of its indices is first counted.
    pages: Vec<Option<Box<[u64]>>>,
    total: u64,
}

impl DenseAcc {
    /// An empty accumulator (no allocation).
    pub fn new() -> Self {
        DenseAcc::default()
    }

    /// Values added so far.
    pub fn len(&self) -> u64 {
        self.total
    }

    /// True when nothing was added.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Pages allocated (for tests and memory estimates).
    pub fn pages(&self) -> usize {
        self.pages.iter().flatten().count()
    }
}

impl HistAcc for DenseAcc {
    fn add(&mut self, h: &SparseHist) {
        if h.is_empty() {
            return;
        }
        if self.pages.is_empty() {
            self.pages.resize_with(PAGES, || None);
        }
        for (i, c) in h.iter() {
            // A SparseHist's indices are < INDICES (its invariant), so the
            // page exists; an index past it would be skipped, never panic.
            let Some(slot) = self.pages.get_mut((i >> PAGE_BITS) as usize) else {
                continue;
            };
            let page = slot.get_or_insert_with(|| vec![0u64; PAGE].into_boxed_slice());
            let n = &mut page[i as usize & (PAGE - 1)];
            *n = n.saturating_add(c);
            self.total = self.total.saturating_add(c);
        }
    }

    fn to_hist(&self) -> SparseHist {
        let (mut idx, mut counts) = (Vec::new(), Vec::new());
        for (p, page) in self.pages.iter().enumerate() {
            let Some(page) = page else { continue };
            for (k, &c) in page.iter().enumerate() {
                if c != 0 {
                    // p < PAGES and k < PAGE, so the index is < INDICES (u32).
                    idx.push(((p << PAGE_BITS) + k) as u32);
                    counts.push(c);
                }
            }
        }
        SparseHist::from_sorted(idx, counts)
    }

    fn merge_into(&self, out: &mut SparseHist) {
        out.merge(&self.to_hist());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hist::HIST_MAX_US;
    use crate::SparseAcc;

    use crate::sparse::tests::hist;

    #[test]
    fn equals_a_sparse_accumulator_over_every_magnitude() {
        let (mut dense, mut sparse) = (DenseAcc::new(), SparseAcc::new());
        assert!(dense.to_hist().is_empty());
        for k in 0..500u64 {
            let h = hist(&[k, k * 37 + 1, 1 << (k % 40), HIST_MAX_US, u64::MAX, 10_000]);
            dense.add(&h);
            sparse.add(&h);
        }
        assert_eq!(dense.to_hist(), sparse.to_hist());
        assert_eq!(dense.len(), sparse.len());
        let mut out = hist(&[5, 77_777]);
        let mut expected = out.clone();
        dense.merge_into(&mut out);
        sparse.merge_into(&mut expected);
        assert_eq!(out, expected);
    }

    #[test]
    fn allocates_only_the_pages_it_counts_in() {
        let mut acc = DenseAcc::new();
        acc.add(&SparseHist::new());
        assert_eq!(acc.pages(), 0);
        // 10-20 ms: two magnitudes of the histogram, so at most two pages.
        acc.add(&hist(&[10_000, 12_345, 19_999]));
        assert!(acc.pages() <= 2, "{} pages", acc.pages());
        assert_eq!(acc.len(), 3);
    }

    #[test]
    fn counts_saturate_instead_of_wrapping() {
        let mut big = SparseHist::new();
        big.record_n(100, u64::MAX);
        let mut acc = DenseAcc::new();
        acc.add(&big);
        acc.add(&big);
        assert_eq!(acc.to_hist().len(), u64::MAX);
    }
}
