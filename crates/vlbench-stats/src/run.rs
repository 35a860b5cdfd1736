//! A whole run (one node or the merged fleet): the per-second series by
//! sequence number and the run's totals, both merged exactly.
//!
//! Must not: decide about time or nodes (callers dedup per node and know
//! the run's duration).

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::archive::Archive;
use crate::interval::IntervalStats;
use crate::sparse_stats::SparseIntervalReport;
use crate::wire::IntervalReport;

/// How many of the latest seqs are kept as full in-memory stats. Older ones
/// are archived in their wire form, deflated: a full interval holds two
/// 188 KiB histograms per query, so keeping every second of a one-hour run
/// in full would take gigabytes, while the archived form is a few KiB.
pub const RECENT_INTERVALS: usize = 32;

/// A whole run: the interval series and totals.
#[derive(Clone, Debug)]
pub struct RunStats {
    /// The workload's query names, by index.
    pub query_names: Vec<String>,
    /// The latest intervals in full ([`RECENT_INTERVALS`] unless set with
    /// [`RunStats::keep_recent`]), by seq. Use [`RunStats::all_intervals`]
    /// for the series.
    pub intervals: BTreeMap<u64, IntervalReport>,
    /// Older intervals, packed (exact, compact), in memory or spilled to a
    /// file ([`RunStats::spill_to`]).
    archived: Archive,
    /// Every interval merged.
    pub total: IntervalStats,
    /// How many intervals `intervals` keeps in full.
    recent: usize,
}

impl PartialEq for RunStats {
    /// Equal figures: names, totals and the same series (wherever each
    /// second is kept).
    fn eq(&self, other: &Self) -> bool {
        self.query_names == other.query_names
            && self.total == other.total
            && self.len() == other.len()
            && self.all_intervals().eq(other.all_intervals())
    }
}

impl RunStats {
    /// An empty run of a workload with these query names.
    pub fn new(query_names: Vec<String>) -> Self {
        let total = IntervalStats::new(query_names.len());
        RunStats {
            query_names,
            intervals: BTreeMap::new(),
            archived: Archive::default(),
            total,
            recent: RECENT_INTERVALS,
        }
    }

    /// Keeps only the latest `n` intervals in full; older ones are
    /// archived. With 0, every second is archived as it arrives and a
    /// sparse one ([`RunStats::merge_sparse_into_seq`]) never takes the
    /// full form: the coordinator, which folds each second in once it is
    /// complete, keeps none (each full interval of a 10-query workload is
    /// ~4 MB).
    pub fn keep_recent(mut self, n: usize) -> Self {
        self.recent = n;
        self.archive_old();
        self
    }

    /// Archives to `file` (an empty file, read and written from offset 0)
    /// instead of memory, so that a long run's series does not grow the
    /// process (see `archive.rs`). Seconds already archived move there.
    pub fn spill_to(mut self, file: std::fs::File) -> Self {
        self.archived.spill_to(file);
        self
    }

    /// Adds one node's interval; false (and nothing counted) when its seq is
    /// already present, so a retried delivery is not counted twice.
    pub fn add(&mut self, r: IntervalReport) -> bool {
        if self.contains(r.seq) {
            return false;
        }
        self.total.merge(&r.stats);
        self.intervals.insert(r.seq, r);
        self.archive_old();
        true
    }

    /// Merges a report from another node into the seq slot (adds, no dedup;
    /// the caller dedups per node). The slot spans the earliest start and the
    /// longest duration seen for that seq.
    pub fn merge_into_seq(&mut self, r: &IntervalReport) {
        self.total.merge(&r.stats);
        if self.archived.contains(r.seq) {
            // A late report for an archived second: a part of its own,
            // merged when the series is read (a node delivering its
            // backlog must not cost a decode and encode of the second).
            if let Some(bytes) = pack(r) {
                self.archived.add_part(r.seq, bytes);
                return;
            }
        }
        match self.intervals.get_mut(&r.seq) {
            Some(slot) => merge_slot(slot, r),
            None => {
                self.intervals.insert(r.seq, r.clone());
                self.archive_old();
            }
        }
    }

    /// [`RunStats::merge_into_seq`] for a sparse report: the same result,
    /// at a cost in proportion to the report's recorded buckets. A new seq
    /// takes its full form only when full intervals are kept
    /// ([`RunStats::keep_recent`]); otherwise it is archived as it is.
    pub fn merge_sparse_into_seq(&mut self, r: &SparseIntervalReport) {
        r.stats.merge_into(&mut self.total);
        if self.archived.contains(r.seq) {
            // Late report for an archived second: see `merge_into_seq`.
            if let Some(bytes) = pack(r) {
                self.archived.add_part(r.seq, bytes);
                return;
            }
        }
        match self.intervals.get_mut(&r.seq) {
            Some(slot) => merge_sparse_slot(slot, r),
            None if self.recent == 0 => match pack(r) {
                Some(encoded) => self.archived.put(r.seq, encoded),
                // Cannot happen for our own types; keep it in full anyway.
                None => {
                    self.intervals.insert(r.seq, r.to_report());
                }
            },
            None => {
                self.intervals.insert(r.seq, r.to_report());
                self.archive_old();
            }
        }
    }

    /// Whether an interval with this seq was received.
    pub fn contains(&self, seq: u64) -> bool {
        self.intervals.contains_key(&seq) || self.archived.contains(seq)
    }

    /// Number of distinct seqs received.
    pub fn len(&self) -> usize {
        self.intervals.len() + self.archived.len()
    }

    /// True when no interval was received.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every interval in seq order: archived ones are decoded one at a time,
    /// so building a report of a long run never holds the whole series in
    /// full. Archived bytes are this type's own serialisation, whose round
    /// trip is lossless (tested); one that failed to decode (or to be read
    /// back from a spill file) would be skipped and show as a missing second
    /// in a report, never as wrong numbers.
    pub fn all_intervals(&self) -> impl Iterator<Item = Cow<'_, IntervalReport>> {
        let mut archived = self.archived.seqs().peekable();
        let mut full = self.intervals.iter().peekable();
        std::iter::from_fn(move || loop {
            // Merge the two ascending seq lists (a seq is in one of them).
            let take_archived = match (archived.peek(), full.peek()) {
                (Some(&a), Some((&f, _))) => a < f,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => return None,
            };
            if !take_archived {
                return full.next().map(|(_, r)| Cow::Borrowed(r));
            }
            let seq = archived.next()?;
            if let Some(r) = self.archived_second(seq) {
                return Some(Cow::Owned(r));
            }
        })
    }

    /// An archived second, its parts merged (None when none decodes).
    fn archived_second(&self, seq: u64) -> Option<IntervalReport> {
        let mut parts = self
            .archived
            .get(seq)?
            .into_iter()
            .filter_map(|b| unpack::<IntervalReport>(&b));
        let mut slot = parts.next()?;
        for late in parts {
            merge_slot(&mut slot, &late);
        }
        Some(slot)
    }

    /// Moves all but the latest `recent` full intervals into the
    /// archive. An interval that cannot be encoded stays in full: memory over
    /// loss.
    fn archive_old(&mut self) {
        while self.intervals.len() > self.recent {
            let Some((seq, r)) = self.intervals.pop_first() else {
                return;
            };
            match pack(&r) {
                Some(bytes) => self.archived.put(seq, bytes),
                None => {
                    self.intervals.insert(seq, r);
                    return;
                }
            }
        }
    }
}

/// Adds `r` into the slot of the same seq.
fn merge_slot(slot: &mut IntervalReport, r: &IntervalReport) {
    slot.start_unix_ms = slot.start_unix_ms.min(r.start_unix_ms);
    slot.duration_ms = slot.duration_ms.max(r.duration_ms);
    slot.stats.merge(&r.stats);
}

/// An archived interval: its JSON wire form, deflated as a whole (the
/// wire form's histograms are plain V2; one deflate of the whole interval
/// keeps a long run's archive a few KiB per second). Either form: a
/// [`SparseIntervalReport`] has the same JSON.
fn pack<T: serde::Serialize>(r: &T) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let json = serde_json::to_vec(r).ok()?;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&json).ok()?;
    z.finish().ok()
}

/// The interval [`pack`] archived, in either form.
fn unpack<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    use std::io::Read as _;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .read_to_end(&mut json)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// Adds the sparse `r` into the slot of the same seq.
fn merge_sparse_slot(slot: &mut IntervalReport, r: &SparseIntervalReport) {
    slot.start_unix_ms = slot.start_unix_ms.min(r.start_unix_ms);
    slot.duration_ms = slot.duration_ms.max(r.duration_ms);
    r.stats.merge_into(&mut slot.stats);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Outcome;

    fn report(seq: u64, start: u64, latency_us: u64) -> IntervalReport {
        let mut stats = IntervalStats::new(2);
        stats.queries[seq as usize % 2].record(&Outcome {
            query: 0,
            latency_us,
            service_us: latency_us,
            status: 200,
            error: None,
            bytes: 1,
            rows: 0,
        });
        stats.ledger.planned = 1;
        IntervalReport {
            seq,
            start_unix_ms: start,
            duration_ms: 1000,
            stats,
        }
    }

    #[test]
    fn add_dedups_by_seq() {
        let mut run = RunStats::new(vec!["a".into(), "b".into()]);
        assert!(run.add(report(0, 1000, 10)));
        assert!(run.add(report(1, 2000, 20)));
        assert!(!run.add(report(1, 2000, 20)));
        assert_eq!(run.intervals.len(), 2);
        assert_eq!(run.total.ledger.planned, 2);
        assert_eq!(run.total.total().ok, 2);
    }

    #[test]
    fn old_intervals_are_archived_exactly_and_still_deduped_and_merged() {
        let n = RECENT_INTERVALS as u64 + 20;
        let mut run = RunStats::new(vec!["a".into(), "b".into()]);
        for seq in 0..n {
            assert!(run.add(report(seq, 1000 * seq, 10 + seq)));
        }
        assert_eq!(run.intervals.len(), RECENT_INTERVALS);
        assert_eq!(run.len(), n as usize);
        // A retried old seq is still recognised.
        assert!(!run.add(report(3, 3000, 99)));
        // A late node report for an archived seq merges exactly.
        run.merge_into_seq(&report(3, 2990, 77));
        let all: Vec<_> = run.all_intervals().collect();
        assert_eq!(all.len(), n as usize);
        let seqs: Vec<u64> = all.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..n).collect::<Vec<_>>());
        let third = &all[3];
        assert_eq!(third.start_unix_ms, 2990);
        assert_eq!(third.stats.queries[1].latency.len(), 2);
        assert_eq!(third.stats.queries[1].latency.max(), 77);
        assert_eq!(run.total.total().ok, n + 1);
    }

    #[test]
    fn sparse_seconds_spilled_to_a_file_equal_the_full_series() {
        let names = vec!["a".to_string(), "b".to_string()];
        let mut plain = RunStats::new(names.clone());
        let mut spilled = RunStats::new(names)
            .keep_recent(0)
            .spill_to(tempfile::tempfile().unwrap());
        // Two nodes per second, seconds out of order, one very late report.
        let mut reports = Vec::new();
        for seq in [0u64, 2, 1, 3, 5, 4] {
            reports.push(report(seq, 1000 * seq + 5, 10 + seq));
            reports.push(report(seq, 1000 * seq, 1000 + seq));
        }
        reports.push(report(1, 900, 77_777));
        for r in &reports {
            plain.merge_into_seq(r);
            spilled.merge_sparse_into_seq(&SparseIntervalReport::from_report(r));
        }
        assert!(spilled.intervals.is_empty(), "nothing kept in full");
        assert_eq!(spilled.len(), 6);
        assert_eq!(spilled, plain);
        let seqs: Vec<u64> = spilled.all_intervals().map(|r| r.seq).collect();
        assert_eq!(seqs, (0..6).collect::<Vec<_>>());
        let second = spilled.all_intervals().nth(1).unwrap().into_owned();
        assert_eq!(second.start_unix_ms, 900);
        assert_eq!(second.stats.queries[1].latency.len(), 3);
        // A copy that keeps new seconds in full merges them in order.
        let mut copy = spilled.clone().keep_recent(usize::MAX);
        copy.merge_sparse_into_seq(&SparseIntervalReport::from_report(&report(9, 9000, 5)));
        copy.merge_sparse_into_seq(&SparseIntervalReport::from_report(&report(7, 7000, 5)));
        let seqs: Vec<u64> = copy.all_intervals().map(|r| r.seq).collect();
        assert_eq!(seqs, vec![0, 1, 2, 3, 4, 5, 7, 9]);
        assert_eq!(spilled.len(), 6, "the original is unchanged");
    }

    #[test]
    fn merge_into_seq_adds_nodes() {
        let mut run = RunStats::new(vec!["a".into(), "b".into()]);
        run.merge_into_seq(&report(0, 1005, 10));
        run.merge_into_seq(&report(0, 1000, 30));
        let slot = &run.intervals[&0];
        assert_eq!(slot.start_unix_ms, 1000);
        assert_eq!(slot.stats.queries[0].ok, 2);
        assert_eq!(slot.stats.queries[0].latency.len(), 2);
        assert_eq!(run.total.ledger.planned, 2);
    }
}
