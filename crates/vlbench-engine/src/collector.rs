//! Merges the shards' intervals into one [`IntervalReport`] per second.
//!
//! Each shard sends its interval `seq` once a second (in order) and `Done`
//! when it has stopped. Interval `seq` is complete when every shard has
//! either sent it or finished before it; complete intervals go out in seq
//! order. Merged-in buffers go back to their shard for reuse, so rotation
//! does not allocate histograms every second. Must not touch the hot path.

use std::collections::BTreeMap;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use vlbench_stats::{IntervalReport, IntervalStats};

/// What a shard tells the collector.
#[derive(Debug)]
pub(crate) enum ShardMsg {
    /// One interval of one shard.
    Interval {
        shard: usize,
        seq: u64,
        duration_ms: u64,
        stats: IntervalStats,
    },
    /// The shard stopped; it sent every seq below `next_seq`.
    Done { shard: usize, next_seq: u64 },
}

/// A seq being assembled.
struct Pending {
    stats: IntervalStats,
    duration_ms: u64,
}

/// The merging state.
pub(crate) struct Collector {
    start: SystemTime,
    /// Per shard: the next seq it will send (all below were received).
    next: Vec<u64>,
    done: Vec<bool>,
    pending: BTreeMap<u64, Pending>,
    spares: Vec<std_mpsc::Sender<IntervalStats>>,
}

impl Collector {
    /// A collector for shards that all start at `first_seq`; `spares[i]`
    /// returns buffers to shard `i`.
    pub(crate) fn new(
        start: SystemTime,
        first_seq: u64,
        spares: Vec<std_mpsc::Sender<IntervalStats>>,
    ) -> Collector {
        let n = spares.len();
        Collector {
            start,
            next: vec![first_seq; n],
            done: vec![false; n],
            pending: BTreeMap::new(),
            spares,
        }
    }

    /// Whether every shard has stopped.
    pub(crate) fn finished(&self) -> bool {
        self.done.iter().all(|&d| d)
    }

    /// Marks every shard stopped (their channel closed without `Done`).
    pub(crate) fn abandon(&mut self) {
        self.done.iter_mut().for_each(|d| *d = true);
    }

    /// Takes one message; returns the reports that became complete.
    pub(crate) fn take(&mut self, msg: ShardMsg) -> Vec<IntervalReport> {
        match msg {
            ShardMsg::Interval {
                shard,
                seq,
                duration_ms,
                stats,
            } => {
                if let Some(n) = self.next.get_mut(shard) {
                    *n = (*n).max(seq + 1);
                }
                match self.pending.get_mut(&seq) {
                    Some(p) => {
                        p.stats.merge(&stats);
                        p.duration_ms = p.duration_ms.max(duration_ms);
                        if let Some(tx) = self.spares.get(shard) {
                            let _ = tx.send(stats);
                        }
                    }
                    None => {
                        self.pending.insert(seq, Pending { stats, duration_ms });
                    }
                }
            }
            ShardMsg::Done { shard, next_seq } => {
                if let Some(d) = self.done.get_mut(shard) {
                    *d = true;
                }
                if let Some(n) = self.next.get_mut(shard) {
                    *n = (*n).max(next_seq);
                }
            }
        }
        self.complete()
    }

    /// Removes and returns every leading complete seq.
    fn complete(&mut self) -> Vec<IntervalReport> {
        let mut out = Vec::new();
        while let Some((&seq, _)) = self.pending.first_key_value() {
            let ready = self
                .next
                .iter()
                .zip(&self.done)
                .all(|(&n, &d)| n > seq || d);
            if !ready {
                break;
            }
            let Some(p) = self.pending.remove(&seq) else {
                break;
            };
            out.push(self.report(seq, p));
        }
        out
    }

    fn report(&self, seq: u64, p: Pending) -> IntervalReport {
        let start = self.start + Duration::from_secs(seq);
        let start_unix_ms = start
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        IntervalReport {
            seq,
            start_unix_ms,
            duration_ms: p.duration_ms,
            stats: p.stats,
        }
    }
}

/// Receives shard messages until every shard is done, sending merged
/// reports on `reports` (a closed receiver only stops the sending).
pub(crate) async fn collect(
    mut collector: Collector,
    mut rx: mpsc::UnboundedReceiver<ShardMsg>,
    reports: mpsc::Sender<IntervalReport>,
) {
    let mut open = true;
    while !collector.finished() {
        let ready = match rx.recv().await {
            Some(msg) => collector.take(msg),
            None => {
                collector.abandon(); // every shard thread is gone
                collector.complete()
            }
        };
        for r in ready {
            if open && reports.send(r).await.is_err() {
                open = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(shard: usize, seq: u64, planned: u64) -> ShardMsg {
        let mut stats = IntervalStats::new(1);
        stats.ledger.planned = planned;
        ShardMsg::Interval {
            shard,
            seq,
            duration_ms: 1000,
            stats,
        }
    }

    fn collector(n: usize) -> Collector {
        let spares = (0..n).map(|_| std_mpsc::channel().0).collect();
        Collector::new(UNIX_EPOCH + Duration::from_secs(10), 0, spares)
    }

    #[test]
    fn a_seq_is_sent_once_every_shard_has_it() {
        let mut c = collector(2);
        assert!(c.take(interval(0, 0, 1)).is_empty());
        assert!(c.take(interval(0, 1, 1)).is_empty());
        let out = c.take(interval(1, 0, 2));
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].seq, out[0].stats.ledger.planned), (0, 3));
        assert_eq!(out[0].start_unix_ms, 10_000);
        let out = c.take(interval(1, 1, 2));
        assert_eq!((out[0].seq, out[0].start_unix_ms), (1, 11_000));
    }

    #[test]
    fn a_finished_shard_does_not_hold_back_later_seqs() {
        let mut c = collector(2);
        c.take(interval(0, 0, 1));
        c.take(interval(1, 0, 1));
        assert!(c.take(interval(0, 1, 1)).is_empty());
        let out = c.take(ShardMsg::Done {
            shard: 1,
            next_seq: 1,
        });
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].seq, 1);
        assert!(!c.finished());
        assert!(c
            .take(ShardMsg::Done {
                shard: 0,
                next_seq: 2
            })
            .is_empty());
        assert!(c.finished());
    }
}
