//! Response bodies, frame by frame: counting rows (JSON lines) and a cheap
//! shape check per endpoint, with gzip decoded on the fly. Nothing here
//! buffers a whole body; the only allocation is the gzip decoder of a gzip
//! response (and the probe's 512-byte capture).
//!
//! Must not parse JSON: the check looks at the first byte of each line (or
//! of the document), which is what tells a real answer from an HTML error
//! page, a proxy's text or a cut stream.

use std::io::{self, Write};

use flate2::write::GzDecoder;
use vlbench_workload::QueryType;

/// What a successful answer of an endpoint looks like.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// `/query`: JSON lines, each starting with `{`, the last one ended by `\n`.
    JsonLines,
    /// Every other endpoint: one JSON document (object or array).
    Json,
}

impl Expect {
    /// The answer shape of a query type's endpoint.
    pub(crate) fn of(qtype: QueryType) -> Expect {
        match qtype {
            QueryType::Query => Expect::JsonLines,
            _ => Expect::Json,
        }
    }
}

/// Whether a content type is one JSON object per line (rows are counted).
pub(crate) fn is_json_lines(content_type: &[u8]) -> bool {
    contains(content_type, b"stream+json")
        || contains(content_type, b"ndjson")
        || contains(content_type, b"jsonl")
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Whether a byte may start a line of a JSON-lines body (an object, or an
/// empty line).
fn starts_line(b: u8) -> bool {
    b == b'{' || b == b'\n'
}

/// Counts and checks a decoded body as it streams by.
#[derive(Debug)]
pub(crate) struct Scan {
    expect: Expect,
    /// Count rows (content type is JSON lines).
    count_rows: bool,
    rows: u64,
    /// The next byte starts a line (JSON lines).
    at_line_start: bool,
    /// The first non-whitespace byte (JSON document).
    first: Option<u8>,
    /// The last byte seen, for the final newline check.
    last: Option<u8>,
    bad: bool,
    /// First bytes of the decoded body (probe only; empty limit = no copy).
    capture: Vec<u8>,
    capture_limit: usize,
}

impl Scan {
    /// A scan for a body of `content_type` answering an endpoint of shape
    /// `expect`; keeps the first `capture_limit` decoded bytes.
    pub(crate) fn new(expect: Expect, content_type: &[u8], capture_limit: usize) -> Scan {
        // VictoriaLogs' two content types first: an exact compare is a
        // tenth of the case-insensitive substring searches.
        let (count_rows, json) = match content_type {
            b"application/stream+json" => (true, true),
            b"application/json" => (false, true),
            _ => (is_json_lines(content_type), contains(content_type, b"json")),
        };
        Scan {
            expect,
            count_rows,
            rows: 0,
            at_line_start: true,
            first: None,
            last: None,
            bad: !json,
            capture: Vec::new(),
            capture_limit,
        }
    }

    /// Takes the next piece of the decoded body.
    pub(crate) fn feed(&mut self, data: &[u8]) {
        let Some(&last) = data.last() else {
            return;
        };
        if self.capture.len() < self.capture_limit {
            let n = (self.capture_limit - self.capture.len()).min(data.len());
            self.capture.extend_from_slice(&data[..n]);
        }
        let check = self.expect == Expect::JsonLines && !self.bad;
        if self.count_rows || check {
            self.lines(data, check);
        }
        if self.expect == Expect::Json && self.first.is_none() {
            self.first = data.iter().copied().find(|b| !b.is_ascii_whitespace());
        }
        self.last = Some(last);
    }

    /// One pass over `data` (not empty): counts newlines (when counting
    /// rows) and, with `check`, that every line starts with `{` (empty
    /// lines pass). Newlines are found with `memchr` (SIMD, a vector of
    /// bytes per step); only the byte after each is looked at.
    fn lines(&mut self, data: &[u8], check: bool) {
        let mut bad = check && self.at_line_start && !data.first().is_some_and(|&b| starts_line(b));
        let newlines = if check {
            let mut n = 0u64;
            for at in memchr::memchr_iter(b'\n', data) {
                n += 1;
                bad |= data.get(at + 1).is_some_and(|&b| !starts_line(b));
            }
            n
        } else {
            memchr::memchr_iter(b'\n', data).count() as u64
        };
        if self.count_rows {
            self.rows += newlines;
        }
        self.bad |= bad;
        self.at_line_start = data.last() == Some(&b'\n');
    }

    /// JSON lines counted so far.
    pub(crate) fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether the whole body had the expected shape (call at its end).
    pub(crate) fn valid(&self) -> bool {
        if self.bad {
            return false;
        }
        match self.expect {
            Expect::JsonLines => matches!(self.last, None | Some(b'\n')),
            Expect::Json => matches!(self.first, Some(b'{') | Some(b'[')),
        }
    }

    /// The captured first bytes (probe).
    pub(crate) fn captured(&self) -> &[u8] {
        &self.capture
    }
}

impl Write for Scan {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.feed(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A body decoder: identity or gzip, feeding a [`Scan`].
pub(crate) enum Decode {
    /// The wire bytes are the body.
    Plain(Scan),
    /// `Content-Encoding: gzip`, decoded as it streams.
    Gzip(Box<GzDecoder<Scan>>),
}

impl Decode {
    /// A decoder for a response with `gzip` content encoding or not.
    pub(crate) fn new(scan: Scan, gzip: bool) -> Decode {
        if gzip {
            Decode::gzip(scan)
        } else {
            Decode::Plain(scan)
        }
    }

    /// Apart and never inlined: a `GzDecoder` is built on the stack before
    /// it is boxed, and its 53 KB frame inlined into [`Decode::new`] made
    /// every response, gzip or not, probe 13 stack pages.
    #[cold]
    #[inline(never)]
    fn gzip(scan: Scan) -> Decode {
        Decode::Gzip(Box::new(GzDecoder::new(scan)))
    }

    /// Takes the next wire frame; `false` when it could not be decoded.
    pub(crate) fn feed(&mut self, wire: &[u8]) -> bool {
        match self {
            Decode::Plain(s) => {
                s.feed(wire);
                true
            }
            Decode::Gzip(d) => d.write_all(wire).is_ok(),
        }
    }

    /// Ends the body: the scan, or `None` when the compressed stream is
    /// corrupt or cut short.
    pub(crate) fn finish(self) -> Option<Scan> {
        match self {
            Decode::Plain(s) => Some(s),
            Decode::Gzip(d) => d.finish().ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINES: &[u8] = b"application/stream+json";

    fn scan(expect: Expect, ct: &[u8], parts: &[&[u8]]) -> Scan {
        let mut s = Scan::new(expect, ct, 0);
        for p in parts {
            s.feed(p);
        }
        s
    }

    #[test]
    fn json_lines_count_rows_across_frames() {
        let s = scan(
            Expect::JsonLines,
            LINES,
            &[b"{\"a\":1}\n{\"b", b"\":2}\n", b"{}\n"],
        );
        assert_eq!(s.rows(), 3);
        assert!(s.valid());
    }

    #[test]
    fn every_line_start_is_checked_in_long_frames() {
        // Lines of every length around the 16-byte blocks of the scan.
        let mut body = Vec::new();
        for len in 0..40 {
            body.push(b'{');
            body.extend(std::iter::repeat_n(b'x', len));
            body.extend_from_slice(b"}\n");
        }
        for split in [1, 7, 16, 17, 33, body.len()] {
            let parts: Vec<&[u8]> = body.chunks(split).collect();
            let s = scan(Expect::JsonLines, LINES, &parts);
            assert_eq!((s.rows(), s.valid()), (40, true), "split {split}");
        }
        for at in [15, 16, 31, 200, body.len() - 4] {
            let mut bad = body.clone();
            let start = bad[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            bad[start] = b'x';
            let s = scan(Expect::JsonLines, LINES, &[&bad[..at], &bad[at..]]);
            assert!(!s.valid(), "a bad line start at {start}");
            assert_eq!(s.rows(), 40, "rows are still counted");
        }
    }

    /// Rows and validity of a JSON-lines body, byte by byte.
    fn reference(body: &[u8]) -> (u64, bool) {
        let rows = body.iter().filter(|&&b| b == b'\n').count() as u64;
        let starts_ok = body
            .split_inclusive(|&b| b == b'\n')
            .all(|line| starts_line(line[0]));
        (rows, starts_ok && body.last().is_none_or(|&b| b == b'\n'))
    }

    #[test]
    fn scan_agrees_with_a_byte_by_byte_reference() {
        // Bodies of `{`, `x`, `\n` and bytes with the high bit set (no
        // false newline), from a fixed-seed generator, fed in every split.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..300 {
            let len = (next() % 90) as usize;
            let body: Vec<u8> = (0..len)
                .map(|_| [b'{', b'x', b'\n', b'\n' | 0x80, b'{'][(next() % 5) as usize])
                .collect();
            let want = reference(&body);
            for split in 1..=body.len().max(1) {
                let parts: Vec<&[u8]> = body.chunks(split).collect();
                let s = scan(Expect::JsonLines, LINES, &parts);
                assert_eq!((s.rows(), s.valid()), want, "{body:?} in parts of {split}");
            }
        }
    }

    #[test]
    fn empty_query_answer_is_valid_with_zero_rows() {
        let s = scan(Expect::JsonLines, LINES, &[]);
        assert_eq!(s.rows(), 0);
        assert!(s.valid());
    }

    #[test]
    fn unterminated_last_line_is_invalid() {
        let s = scan(Expect::JsonLines, LINES, &[b"{\"a\":1}\n{\"b\":"]);
        assert_eq!(s.rows(), 1);
        assert!(!s.valid());
    }

    #[test]
    fn line_not_starting_with_brace_is_invalid() {
        let s = scan(Expect::JsonLines, LINES, &[b"{\"a\":1}\n", b"oops\n"]);
        assert!(!s.valid());
        let s = scan(Expect::JsonLines, LINES, &[b"<html>\n"]);
        assert!(!s.valid());
    }

    #[test]
    fn json_document_must_open_an_object_or_array() {
        assert!(scan(Expect::Json, b"application/json", &[b"  ", b"{\"x\":1}"]).valid());
        assert!(scan(Expect::Json, b"application/json", &[b"[1]"]).valid());
        assert!(!scan(Expect::Json, b"application/json", &[b"nope"]).valid());
        assert!(!scan(Expect::Json, b"application/json", &[]).valid());
        let s = scan(Expect::Json, b"application/json", &[b"{\"a\":1}\n"]);
        assert_eq!(s.rows(), 0, "rows are counted only for JSON lines");
    }

    #[test]
    fn wrong_content_type_is_invalid() {
        assert!(!scan(Expect::Json, b"text/html", &[b"{}"]).valid());
        assert!(!scan(Expect::JsonLines, b"text/plain", &[b"{}\n"]).valid());
        assert!(is_json_lines(b"application/x-ndjson"));
        assert!(!is_json_lines(b"application/json"));
    }

    #[test]
    fn capture_keeps_only_the_first_bytes() {
        let mut s = Scan::new(Expect::Json, b"text/plain", 4);
        s.feed(b"ab");
        s.feed(b"cdef");
        assert_eq!(s.captured(), b"abcd");
    }

    #[test]
    fn gzip_is_decoded_and_corruption_detected() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"{\"a\":1}\n{\"b\":2}\n").unwrap();
        let gz = enc.finish().unwrap();
        let mut d = Decode::new(Scan::new(Expect::JsonLines, LINES, 0), true);
        for part in gz.chunks(5) {
            assert!(d.feed(part));
        }
        let s = d.finish().unwrap();
        assert_eq!(s.rows(), 2);
        assert!(s.valid());
        let mut d = Decode::new(Scan::new(Expect::JsonLines, LINES, 0), true);
        d.feed(&gz[..gz.len() / 2]);
        assert!(d.finish().is_none(), "a cut gzip stream must not pass");
    }
}
