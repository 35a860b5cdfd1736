//! The wire form of [`SparseHist`]: the same text as [`crate::encode_histogram`]
//! (base64 of HdrHistogram V2+deflate), decoded straight into the non-zero
//! buckets, never through a full 188 KiB histogram.
//!
//! The V2 payload is the counts array run-length encoded (zig-zag LEB128
//! varints, a negative number skips that many zero counters), so decoding
//! only touches recorded buckets. Base64 and inflate buffers and the zlib
//! state are reused per thread. The same checks as the full decoder apply:
//! size limits before anything is sized from the input, standard bounds
//! only, counters past the histogram's end rejected.
//!
//! Must not: do I/O, accept histograms of other bounds.

use std::cell::RefCell;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use flate2::{Decompress, FlushDecompress, Status};
use serde::de::Visitor;
use serde::ser::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hist::{HIST_MAX_US, HIST_SIGFIG};
use crate::sparse::{SparseHist, INDICES};
use crate::wire::{
    WireError, MAX_B64, MAX_PAYLOAD, V2_COMPRESSED_COOKIE, V2_COOKIE, V2_HEADER_SIZE,
};

/// Per-thread buffers reused by every decode.
struct Scratch {
    raw: Vec<u8>,
    inflated: Vec<u8>,
    zlib: Decompress,
    idx: Vec<u32>,
    counts: Vec<u64>,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            raw: Vec::new(),
            inflated: Vec::new(),
            zlib: Decompress::new(true),
            idx: Vec::new(),
            counts: Vec::new(),
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::new());
}

/// Decodes a histogram written by [`crate::encode_histogram`] or
/// [`encode_sparse`] (plain V2 is also accepted) into its non-zero buckets.
pub fn decode_sparse(text: &str) -> Result<SparseHist, WireError> {
    decode_sparse_bytes(text.as_bytes())
}

/// [`decode_sparse`] of the text's bytes (base64 is ASCII: the decoder
/// rejects anything else, so no UTF-8 check is needed first).
fn decode_sparse_bytes(text: &[u8]) -> Result<SparseHist, WireError> {
    if text.len() > MAX_B64 {
        return Err(WireError::TooLong {
            len: text.len(),
            max: MAX_B64,
        });
    }
    SCRATCH.with(|s| {
        // A re-entrant call cannot happen (no callbacks run inside); fall
        // back to fresh buffers rather than panic if it ever did.
        match s.try_borrow_mut() {
            Ok(mut s) => decode_with(text, &mut s),
            Err(_) => decode_with(text, &mut Scratch::new()),
        }
    })
}

fn decode_with(text: &[u8], s: &mut Scratch) -> Result<SparseHist, WireError> {
    s.raw.clear();
    B64.decode_vec(text, &mut s.raw)?;
    let cookie = be_u32(&s.raw, 0).ok_or(WireError::Header("shorter than its cookie"))?;
    let v2: &[u8] = match cookie {
        V2_COOKIE => &s.raw,
        V2_COMPRESSED_COOKIE => {
            let len =
                be_u32(&s.raw, 4).ok_or(WireError::Header("shorter than the compressed header"))?;
            let zlib = s.raw.get(8..).unwrap_or_default();
            let zlib = &zlib[..zlib.len().min(len as usize)];
            inflate(&mut s.zlib, zlib, &mut s.inflated)?;
            &s.inflated
        }
        _ => return Err(WireError::Header("unknown cookie")),
    };
    let payload = check_v2(v2)?;
    s.idx.clear();
    s.counts.clear();
    read_counts(payload, &mut s.idx, &mut s.counts)?;
    Ok(SparseHist::from_sorted(s.idx.clone(), s.counts.clone()))
}

/// Inflates a zlib stream into `out`, at most a V2 header plus
/// [`MAX_PAYLOAD`] bytes.
fn inflate(z: &mut Decompress, input: &[u8], out: &mut Vec<u8>) -> Result<(), WireError> {
    const LIMIT: usize = V2_HEADER_SIZE + MAX_PAYLOAD;
    z.reset(true);
    out.clear();
    // Every round either ends the stream, fails, or makes progress; the
    // size limit bounds the rounds.
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(16 * 1024);
        }
        let consumed = usize::try_from(z.total_in()).unwrap_or(usize::MAX);
        let rest = input.get(consumed..).unwrap_or_default();
        let before = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(rest, out, FlushDecompress::Finish)
            .map_err(|_| WireError::Header("compressed data is not a valid zlib stream"))?;
        if status == Status::StreamEnd {
            return Ok(());
        }
        if out.len() > LIMIT {
            return Err(WireError::Header(
                "payload larger than any vlbench histogram",
            ));
        }
        if (z.total_in(), z.total_out()) == before {
            return Err(WireError::Header("compressed data is cut short"));
        }
    }
}

/// Checks the V2 header; returns the counts payload.
fn check_v2(v2: &[u8]) -> Result<&[u8], WireError> {
    if v2.len() < V2_HEADER_SIZE {
        return Err(WireError::Header("shorter than the V2 header"));
    }
    if be_u32(v2, 0) != Some(V2_COOKIE) {
        return Err(WireError::Header(
            "compressed data does not start with a V2 cookie",
        ));
    }
    let field = |at| be_u32(v2, at).unwrap_or(0);
    let wide = |at| be_u64(v2, at).unwrap_or(0);
    let len = field(4) as usize;
    if len > MAX_PAYLOAD {
        return Err(WireError::Header(
            "payload larger than any vlbench histogram",
        ));
    }
    let (sigfig, low, high) = (field(12), wide(16), wide(24));
    if sigfig != u32::from(HIST_SIGFIG) || low != 1 || high != HIST_MAX_US {
        return Err(WireError::Bounds { low, high, sigfig });
    }
    if field(8) != 0 || f64::from_bits(wide(32)) != 1.0 {
        return Err(WireError::Header(
            "uses a normalizing offset or value ratio vlbench never writes",
        ));
    }
    v2.get(V2_HEADER_SIZE..V2_HEADER_SIZE + len)
        .ok_or(WireError::Header("counts payload is cut short"))
}

/// Decodes the run-length encoded counts into (index, count) pairs.
fn read_counts(p: &[u8], idx: &mut Vec<u32>, counts: &mut Vec<u64>) -> Result<(), WireError> {
    let mut at = 0;
    let mut dest: u64 = 0;
    while at < p.len() {
        let zz = read_varint(p, &mut at).ok_or(WireError::Payload("a count is cut short"))?;
        let n = ((zz >> 1) as i64) ^ -((zz & 1) as i64);
        if n < 0 {
            dest = dest.saturating_add(n.unsigned_abs());
            continue;
        }
        if n > 0 {
            if dest >= INDICES as u64 {
                return Err(WireError::Payload(
                    "a count lies past the histogram's highest value",
                ));
            }
            // dest < INDICES (23552): fits in u32.
            idx.push(dest as u32);
            counts.push(n as u64);
        }
        dest += 1;
    }
    Ok(())
}

/// HdrHistogram's LEB128 variant: 8 bytes of 7 bits, a 9th of 8 bits.
fn read_varint(p: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for k in 0..8 {
        let b = *p.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << (7 * k);
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    let b = *p.get(*at)?;
    *at += 1;
    Some(v | (u64::from(b) << 56))
}

fn write_varint(mut v: u64, out: &mut Vec<u8>) {
    for _ in 0..8 {
        if v >> 7 == 0 {
            out.push(v as u8);
            return;
        }
        out.push((v & 0x7f) as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn write_count(n: i64, out: &mut Vec<u8>) {
    write_varint(((n << 1) ^ (n >> 63)) as u64, out);
}

/// Encodes `h` as base64 of HdrHistogram V2 (uncompressed): the same
/// form (and the same histogram when decoded) as
/// [`crate::encode_histogram`] of the full histogram.
pub fn encode_sparse(h: &SparseHist) -> Result<String, WireError> {
    let mut v2 = Vec::with_capacity(V2_HEADER_SIZE + 3 * h.buckets() + 8);
    v2.extend_from_slice(&V2_COOKIE.to_be_bytes());
    v2.extend_from_slice(&[0; 4]); // payload length, set below
    v2.extend_from_slice(&0u32.to_be_bytes()); // normalizing offset
    v2.extend_from_slice(&u32::from(HIST_SIGFIG).to_be_bytes());
    v2.extend_from_slice(&1u64.to_be_bytes());
    v2.extend_from_slice(&HIST_MAX_US.to_be_bytes());
    v2.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
    let mut next = 0u32;
    for (i, c) in h.iter() {
        if i > next {
            write_count(-i64::from(i - next), &mut v2);
        }
        write_count(i64::try_from(c).unwrap_or(i64::MAX), &mut v2);
        next = i + 1;
    }
    if h.buckets() == 0 {
        write_count(0, &mut v2);
    }
    let len = (v2.len() - V2_HEADER_SIZE) as u32;
    v2[4..8].copy_from_slice(&len.to_be_bytes());
    Ok(B64.encode(v2))
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl Serialize for SparseHist {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        encode_sparse(self).map_err(S::Error::custom)?.serialize(s)
    }
}

struct SparseVisitor;

impl Visitor<'_> for SparseVisitor {
    type Value = SparseHist;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a histogram as base64 of HdrHistogram V2+deflate")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<SparseHist, E> {
        decode_sparse(v).map_err(E::custom)
    }

    fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<SparseHist, E> {
        decode_sparse_bytes(v).map_err(E::custom)
    }
}

impl<'de> Deserialize<'de> for SparseHist {
    /// Decodes the text in place (no `String` is built for it). Asked for
    /// as bytes: serde_json then hands over the string's raw bytes without
    /// checking them as UTF-8 (the base64 decoder checks every byte), a
    /// pass over every report's histograms saved at the coordinator.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_bytes(SparseVisitor)
    }
}
