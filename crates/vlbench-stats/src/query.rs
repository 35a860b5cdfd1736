//! Per-query counting: what one finished request contributes ([`Outcome`])
//! and the counters + histograms it lands in ([`QueryStats`], [`StatusCounts`]).
//!
//! Must not: allocate when recording, know about time or intervals.

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::class::ErrorClass;
use crate::hist::{merge_hist, new_histogram, record_clamped};

/// What one finished request contributes. Built on the stack by the engine,
/// so recording needs no allocation and no message per request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Index into the workload's query list.
    pub query: usize,
    /// From the *intended* start (open model) or the send (closed model), µs.
    pub latency_us: u64,
    /// From the real send to the end of the body, µs.
    pub service_us: u64,
    /// HTTP status; 0 when there was no response (connect, early timeout).
    pub status: u16,
    /// Why the request failed; `None` for a success.
    pub error: Option<ErrorClass>,
    /// Body bytes received (the decoded size is not counted).
    pub bytes: u64,
    /// JSON lines in a stream+json body (0 for other bodies).
    pub rows: u64,
}

/// Lowest status with its own counter.
pub(crate) const STATUS_MIN: u16 = 100;
/// Highest status with its own counter.
pub(crate) const STATUS_MAX: u16 = 599;
const STATUS_SLOTS: usize = (STATUS_MAX - STATUS_MIN + 1) as usize;
/// The map key of statuses outside 100..=599 (other than 0, which is "no
/// response" and never counted).
pub const OTHER_STATUS_KEY: &str = "other";

/// Count per HTTP status. A fixed array over 100..=599 so that recording is
/// an index, never an allocation; rarer statuses share one `other` counter.
/// Status 0 (no response) is not counted.
#[derive(Clone, PartialEq, Eq)]
pub struct StatusCounts {
    counts: [u64; STATUS_SLOTS],
    other: u64,
}

impl Default for StatusCounts {
    fn default() -> Self {
        StatusCounts {
            counts: [0; STATUS_SLOTS],
            other: 0,
        }
    }
}

impl StatusCounts {
    /// Counts one response with `status` (0 = no response: ignored).
    #[inline]
    pub fn record(&mut self, status: u16) {
        self.add(status, 1);
    }

    /// Adds `n` responses with `status` (0 = no response: ignored).
    #[inline]
    pub fn add(&mut self, status: u16, n: u64) {
        if status == 0 {
            return;
        }
        match self
            .counts
            .get_mut(usize::from(status.wrapping_sub(STATUS_MIN)))
        {
            Some(c) => *c += n,
            None => self.other += n,
        }
    }

    /// How many responses had `status` (for statuses outside 100..=599 see
    /// [`StatusCounts::other`]).
    pub fn get(&self, status: u16) -> u64 {
        self.counts
            .get(usize::from(status.wrapping_sub(STATUS_MIN)))
            .copied()
            .unwrap_or(0)
    }

    /// Counts `n` responses whose status is outside 100..=599.
    pub fn add_other(&mut self, n: u64) {
        self.other += n;
    }

    /// Responses whose status is outside 100..=599.
    pub fn other(&self) -> u64 {
        self.other
    }

    /// The non-zero counts of 100..=599, in status order.
    pub fn iter(&self) -> impl Iterator<Item = (u16, u64)> + '_ {
        (STATUS_MIN..=STATUS_MAX)
            .zip(self.counts.iter().copied())
            .filter(|&(_, n)| n > 0)
    }

    /// All responses counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.other
    }

    /// Adds every counter of `other`.
    pub fn merge(&mut self, other: &StatusCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.other += other.other;
    }

    /// Zeroes every counter.
    pub fn reset(&mut self) {
        self.counts.fill(0);
        self.other = 0;
    }

    /// The non-zero counts keyed by status text ("200", ..., "other"): the
    /// form used on the wire and in reports.
    pub fn to_map(&self) -> BTreeMap<String, u64> {
        let mut map: BTreeMap<String, u64> = self.iter().map(|(s, n)| (s.to_string(), n)).collect();
        if self.other > 0 {
            map.insert(OTHER_STATUS_KEY.to_string(), self.other);
        }
        map
    }
}

/// The error for a status map key that is neither 100..=599 nor "other".
fn bad_status_key(key: &str) -> String {
    format!("status code key {key:?} is not a status in 100..=599 or \"other\"")
}

impl fmt::Debug for StatusCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.to_map()).finish()
    }
}

impl Serialize for StatusCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(s)
    }
}

impl<'de> Deserialize<'de> for StatusCounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut out = StatusCounts::default();
        read_status_map(d, |status, n| match status {
            Some(status) => out.add(status, n),
            None => out.other += n,
        })?;
        Ok(out)
    }
}

/// Reads a status map (`"200": n`, ..., `"other": n`: the wire form of
/// [`StatusCounts`] and of the coordinator's sparse counts), handing each
/// entry to `add` (`None` for "other"); a key that is neither 100..=599
/// nor "other" is an error naming it.
pub(crate) fn read_status_map<'de, D: Deserializer<'de>>(
    d: D,
    mut add: impl FnMut(Option<u16>, u64),
) -> Result<(), D::Error> {
    for (key, n) in BTreeMap::<String, u64>::deserialize(d)? {
        if key == OTHER_STATUS_KEY {
            add(None, n);
            continue;
        }
        match key.parse::<u16>() {
            Ok(status) if (STATUS_MIN..=STATUS_MAX).contains(&status) => add(Some(status), n),
            _ => return Err(D::Error::custom(bad_status_key(&key))),
        }
    }
    Ok(())
}

/// Per-query counters and histograms for one interval (or, merged, any span).
#[derive(Clone, Debug, PartialEq)]
pub struct QueryStats {
    /// Every completed request, ok or failed, in µs.
    pub latency: Histogram<u64>,
    /// Service time of every completed request, in µs.
    pub service: Histogram<u64>,
    /// Successful requests.
    pub ok: u64,
    /// Failed requests by [`ErrorClass::index`].
    pub errors: [u64; 6],
    /// Count per HTTP status.
    pub statuses: StatusCounts,
    /// Open model: arrivals not sent because `max_in_flight` was reached.
    pub dropped: u64,
    /// Body bytes received.
    pub bytes: u64,
    /// JSON lines received.
    pub rows: u64,
}

impl Default for QueryStats {
    fn default() -> Self {
        QueryStats::new()
    }
}

impl QueryStats {
    /// Empty stats with standard histograms.
    pub fn new() -> Self {
        QueryStats {
            latency: new_histogram(),
            service: new_histogram(),
            ok: 0,
            errors: [0; 6],
            statuses: StatusCounts::default(),
            dropped: 0,
            bytes: 0,
            rows: 0,
        }
    }

    /// Counts one finished request. No allocation.
    #[inline]
    pub fn record(&mut self, o: &Outcome) {
        record_clamped(&mut self.latency, o.latency_us);
        record_clamped(&mut self.service, o.service_us);
        match o.error {
            None => self.ok += 1,
            Some(class) => self.errors[class.index()] += 1,
        }
        self.statuses.record(o.status);
        self.bytes += o.bytes;
        self.rows += o.rows;
    }

    /// Failed requests, all classes.
    pub fn failed(&self) -> u64 {
        self.errors.iter().sum()
    }

    /// Requests that completed (ok + failed); dropped arrivals are not queries.
    pub fn total(&self) -> u64 {
        self.ok + self.failed()
    }

    /// Exact merge: histogram add and counter sums.
    pub fn merge(&mut self, other: &QueryStats) {
        merge_hist(&mut self.latency, &other.latency);
        merge_hist(&mut self.service, &other.service);
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.statuses.merge(&other.statuses);
        self.dropped += other.dropped;
        self.bytes += other.bytes;
        self.rows += other.rows;
    }

    /// Zeroes everything in place, keeping the histograms' allocations.
    pub fn reset(&mut self) {
        self.latency.reset();
        self.service.reset();
        self.ok = 0;
        self.errors = [0; 6];
        self.statuses.reset();
        self.dropped = 0;
        self.bytes = 0;
        self.rows = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: u16, error: Option<ErrorClass>) -> Outcome {
        Outcome {
            query: 0,
            latency_us: 1500,
            service_us: 1000,
            status,
            error,
            bytes: 10,
            rows: 2,
        }
    }

    #[test]
    fn status_counts_index_other_and_zero() {
        let mut s = StatusCounts::default();
        s.record(200);
        s.record(200);
        s.record(503);
        s.record(0);
        s.record(99);
        s.record(700);
        assert_eq!(s.get(200), 2);
        assert_eq!(s.get(503), 1);
        assert_eq!(s.get(0), 0);
        assert_eq!(s.other(), 2);
        assert_eq!(s.total(), 5);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![(200, 2), (503, 1)]);
    }

    #[test]
    fn status_counts_serde_is_a_map_of_non_zero() {
        let mut s = StatusCounts::default();
        s.add(200, 7);
        s.add(404, 1);
        s.add(999, 3);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"200":7,"404":1,"other":3}"#);
        let back: StatusCounts = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn status_counts_reject_bad_keys() {
        let err = serde_json::from_str::<StatusCounts>(r#"{"abc":1}"#).unwrap_err();
        assert!(err.to_string().contains("abc"), "{err}");
        assert!(serde_json::from_str::<StatusCounts>(r#"{"42":1}"#).is_err());
    }

    #[test]
    fn record_counts_ok_errors_and_sizes() {
        let mut q = QueryStats::new();
        q.record(&outcome(200, None));
        q.record(&outcome(500, Some(ErrorClass::Http5xx)));
        q.record(&outcome(0, Some(ErrorClass::Connect)));
        assert_eq!(q.ok, 1);
        assert_eq!(q.failed(), 2);
        assert_eq!(q.total(), 3);
        assert_eq!(q.latency.len(), 3);
        assert_eq!(q.service.len(), 3);
        assert_eq!(q.errors[ErrorClass::Http5xx.index()], 1);
        assert_eq!(q.errors[ErrorClass::Connect.index()], 1);
        assert_eq!(q.statuses.total(), 2);
        assert_eq!((q.bytes, q.rows), (30, 6));
    }

    #[test]
    fn merge_sums_and_reset_zeroes() {
        let mut a = QueryStats::new();
        let mut b = QueryStats::new();
        a.record(&outcome(200, None));
        b.record(&outcome(404, Some(ErrorClass::Http4xx)));
        b.dropped = 4;
        a.merge(&b);
        assert_eq!(a.total(), 2);
        assert_eq!(a.dropped, 4);
        assert_eq!(a.latency.len(), 2);
        assert_eq!(a.statuses.get(404), 1);
        a.reset();
        assert_eq!(a, QueryStats::new());
    }
}
