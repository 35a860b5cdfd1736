//! The wire form: [`IntervalReport`] (one node's interval, the unit that
//! travels from engine to coordinator) and the serde of the stats types.
//!
//! JSON, with each histogram as base64 of HdrHistogram's V2 serialisation
//! (small: runs of empty buckets are one number; V2+deflate is accepted
//! too, but inflating 21 small streams per report was a sixth of the
//! coordinator's CPU with a big fleet, for little size gained), counters as
//! plain numbers, error counts and statuses as maps of their non-zero
//! entries. Decoding checks a histogram's header before hdrhistogram sizes
//! anything from it, so a hostile or corrupt report cannot make us allocate
//! gigabytes; histograms with bounds other than [`crate::new_histogram`]'s
//! are rejected.
//!
//! Must not: do I/O (callers own sockets and files).

use std::collections::BTreeMap;
use std::io::Read;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hdrhistogram::serialization::{
    Deserializer as HistDeserializer, Serializer as _, V2Serializer,
};
use hdrhistogram::Histogram;
use serde::de::Error as _;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::class::ErrorClass;
use crate::hist::{HIST_MAX_US, HIST_SIGFIG};
use crate::interval::{IntervalStats, Ledger};
use crate::query::{QueryStats, StatusCounts};

/// The unit that travels: one node's interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IntervalReport {
    /// 0, 1, 2, ...: second index since the run's start.
    pub seq: u64,
    /// Wall-clock start of the interval, ms since the Unix epoch.
    pub start_unix_ms: u64,
    /// Normally 1000; the last interval may be shorter.
    pub duration_ms: u64,
    /// What was measured.
    pub stats: IntervalStats,
}

/// Why a histogram could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The text is not base64.
    #[error("histogram is not valid base64: {0}; send the field as written by vlbench")]
    Base64(#[from] base64::DecodeError),
    /// The base64 text is longer than any histogram vlbench writes.
    #[error(
        "histogram text is {len} bytes, more than the {max} allowed; is the report from vlbench?"
    )]
    TooLong { len: usize, max: usize },
    /// The header is cut short, has an unknown cookie or a payload too large.
    #[error("histogram header is invalid: {0}; send histograms as written by vlbench")]
    Header(&'static str),
    /// The histogram has other bounds than every vlbench histogram.
    #[error(
        "histogram bounds are low={low} high={high} sigfig={sigfig}, expected low=1 \
         high={HIST_MAX_US} sigfig={HIST_SIGFIG}; are both sides the same vlbench version?"
    )]
    Bounds { low: u64, high: u64, sigfig: u32 },
    /// The counts after the header are corrupt.
    #[error("histogram counts are invalid: {0}; send histograms as written by vlbench")]
    Payload(&'static str),
    /// hdrhistogram rejected the encoding.
    #[error("histogram could not be decoded: {0}")]
    Decode(#[from] hdrhistogram::serialization::DeserializeError),
    /// hdrhistogram could not encode (does not happen with in-memory buffers).
    #[error("histogram could not be encoded: {0}")]
    Encode(#[from] hdrhistogram::serialization::V2SerializeError),
}

pub(crate) const V2_COOKIE: u32 = 0x1c84_9313;
pub(crate) const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;
pub(crate) const V2_HEADER_SIZE: usize = 40;
/// Largest encoded counts payload accepted: a full histogram of our bounds
/// is ~23.5k counters of at most 9 bytes each (~212 KiB).
pub(crate) const MAX_PAYLOAD: usize = 1 << 20;
/// Largest base64 text accepted (compressed is never larger than raw + slack).
pub(crate) const MAX_B64: usize = 2 * MAX_PAYLOAD;

/// Encodes `h` as base64 of HdrHistogram V2.
pub fn encode_histogram(h: &Histogram<u64>) -> Result<String, WireError> {
    let mut buf = Vec::new();
    V2Serializer::new().serialize(h, &mut buf)?;
    Ok(B64.encode(buf))
}

/// Decodes a histogram written by [`encode_histogram`] (V2+deflate is
/// also accepted). Only histograms with the standard bounds are accepted.
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, WireError> {
    if text.len() > MAX_B64 {
        return Err(WireError::TooLong {
            len: text.len(),
            max: MAX_B64,
        });
    }
    let bytes = B64.decode(text)?;
    check_header(&bytes)?;
    Ok(HistDeserializer::new().deserialize(&mut bytes.as_slice())?)
}

/// Checks the V2 header (decompressing only its first 40 bytes if needed)
/// before hdrhistogram allocates anything sized from it.
fn check_header(bytes: &[u8]) -> Result<(), WireError> {
    let cookie = be_u32(bytes, 0).ok_or(WireError::Header("shorter than its cookie"))?;
    let mut header = [0u8; V2_HEADER_SIZE];
    match cookie {
        V2_COOKIE => {
            let src = bytes
                .get(..V2_HEADER_SIZE)
                .ok_or(WireError::Header("shorter than the V2 header"))?;
            header.copy_from_slice(src);
        }
        V2_COMPRESSED_COOKIE => {
            let zlib = bytes
                .get(8..)
                .ok_or(WireError::Header("shorter than the compressed header"))?;
            flate2::read::ZlibDecoder::new(zlib)
                .read_exact(&mut header)
                .map_err(|_| {
                    WireError::Header("compressed data does not start with a V2 header")
                })?;
            if be_u32(&header, 0) != Some(V2_COOKIE) {
                return Err(WireError::Header(
                    "compressed data does not start with a V2 cookie",
                ));
            }
        }
        _ => return Err(WireError::Header("unknown cookie")),
    }
    let field = |at| be_u32(&header, at).unwrap_or(0);
    let wide = |at| be_u64(&header, at).unwrap_or(0);
    if field(4) as usize > MAX_PAYLOAD {
        return Err(WireError::Header(
            "payload larger than any vlbench histogram",
        ));
    }
    let (sigfig, low, high) = (field(12), wide(16), wide(24));
    if sigfig != u32::from(HIST_SIGFIG) || low != 1 || high != HIST_MAX_US {
        return Err(WireError::Bounds { low, high, sigfig });
    }
    Ok(())
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn ser_hist<S: Serializer>(h: &&Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
    encode_histogram(h).map_err(S::Error::custom)?.serialize(s)
}

fn de_hist<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
    decode_histogram(&String::deserialize(d)?).map_err(D::Error::custom)
}

pub(crate) fn errors_map(errors: &[u64; 6]) -> BTreeMap<&'static str, u64> {
    ErrorClass::ALL
        .into_iter()
        .map(|c| (c.as_str(), errors[c.index()]))
        .filter(|&(_, n)| n > 0)
        .collect()
}

pub(crate) fn errors_array(map: &BTreeMap<ErrorClass, u64>) -> [u64; 6] {
    let mut out = [0; 6];
    for (c, n) in map {
        out[c.index()] += n;
    }
    out
}

#[derive(Serialize)]
struct QueryOut<'a> {
    #[serde(serialize_with = "ser_hist")]
    latency: &'a Histogram<u64>,
    #[serde(serialize_with = "ser_hist")]
    service: &'a Histogram<u64>,
    ok: u64,
    errors: BTreeMap<&'static str, u64>,
    statuses: &'a StatusCounts,
    dropped: u64,
    bytes: u64,
    rows: u64,
}

#[derive(Deserialize)]
struct QueryIn {
    #[serde(deserialize_with = "de_hist")]
    latency: Histogram<u64>,
    #[serde(deserialize_with = "de_hist")]
    service: Histogram<u64>,
    #[serde(default)]
    ok: u64,
    #[serde(default)]
    errors: BTreeMap<ErrorClass, u64>,
    #[serde(default)]
    statuses: StatusCounts,
    #[serde(default)]
    dropped: u64,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    rows: u64,
}

impl Serialize for QueryStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        QueryOut {
            latency: &self.latency,
            service: &self.service,
            ok: self.ok,
            errors: errors_map(&self.errors),
            statuses: &self.statuses,
            dropped: self.dropped,
            bytes: self.bytes,
            rows: self.rows,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for QueryStats {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = QueryIn::deserialize(d)?;
        Ok(QueryStats {
            latency: w.latency,
            service: w.service,
            ok: w.ok,
            errors: errors_array(&w.errors),
            statuses: w.statuses,
            dropped: w.dropped,
            bytes: w.bytes,
            rows: w.rows,
        })
    }
}

#[derive(Serialize)]
struct LedgerOut<'a> {
    planned: u64,
    sent: u64,
    completed: u64,
    dropped: u64,
    #[serde(serialize_with = "ser_hist")]
    lag: &'a Histogram<u64>,
}

#[derive(Deserialize)]
struct LedgerIn {
    #[serde(default)]
    planned: u64,
    #[serde(default)]
    sent: u64,
    #[serde(default)]
    completed: u64,
    #[serde(default)]
    dropped: u64,
    #[serde(deserialize_with = "de_hist")]
    lag: Histogram<u64>,
}

impl Serialize for Ledger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LedgerOut {
            planned: self.planned,
            sent: self.sent,
            completed: self.completed,
            dropped: self.dropped,
            lag: &self.lag,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ledger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = LedgerIn::deserialize(d)?;
        Ok(Ledger {
            planned: w.planned,
            sent: w.sent,
            completed: w.completed,
            dropped: w.dropped,
            lag: w.lag,
        })
    }
}

#[derive(Serialize)]
struct StatsOut<'a> {
    queries: &'a [QueryStats],
    ledger: &'a Ledger,
}

#[derive(Deserialize)]
struct StatsIn {
    queries: Vec<QueryStats>,
    ledger: Ledger,
}

impl Serialize for IntervalStats {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StatsOut {
            queries: &self.queries,
            ledger: &self.ledger,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for IntervalStats {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = StatsIn::deserialize(d)?;
        Ok(IntervalStats {
            queries: w.queries,
            ledger: w.ledger,
        })
    }
}
