//! A strict, incremental decoder of HTTP/1.1 chunked bodies (RFC 9112
//! §7.1): sizes in hex, chunk extensions skipped, trailers skipped, every
//! line ended by CRLF. It hands out the chunk data as slices of the input
//! (no copy) and keeps only a few bytes of state between reads.
//!
//! Strict on purpose: VictoriaLogs aborts a streamed answer by writing raw
//! text where the next chunk size belongs and closing the connection
//! (`tests/fixtures/query_timeout_param_wire.json`); that must be an error,
//! never data. Must not do I/O or count anything itself.

/// Why a chunked body is not valid; the request counts as a `body` error.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ChunkError {
    /// A chunk-size line does not start with a hex digit or holds junk.
    #[error("invalid chunk size line")]
    Size,
    /// A chunk size does not fit 64 bits.
    #[error("chunk size too large")]
    TooLarge,
    /// A line is not ended by CRLF.
    #[error("chunk line not ended by CRLF")]
    LineEnd,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    /// Reading a chunk size (kept in `Chunked::size`); `digits` seen so far.
    Size { digits: u8 },
    /// Spaces after the size, before an extension or the CR.
    SizeSpace,
    /// Skipping a chunk extension up to the CR.
    Ext,
    /// After the size line's CR: expecting LF.
    SizeLf,
    /// Inside chunk data.
    Data(u64),
    /// After chunk data: expecting CR.
    DataCr,
    /// After chunk data's CR: expecting LF.
    DataLf,
    /// At the start of a trailer line (or the final empty line).
    TrailerStart,
    /// Skipping a trailer field up to the CR.
    Trailer,
    /// After a trailer field's CR: expecting LF.
    TrailerLf,
    /// After the final empty line's CR: expecting LF.
    EndLf,
    /// The body is complete.
    Done,
}

/// Incremental chunked decoder; feed it the wire bytes as they arrive.
#[derive(Debug)]
pub(crate) struct Chunked {
    state: State,
    /// The size of the chunk whose size line is being read.
    size: u64,
}

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size { digits: 0 },
            size: 0,
        }
    }
}

impl Chunked {
    /// Whether the terminating chunk and trailers were read.
    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes `input`, passing each run of chunk data to `data`. Returns
    /// how many bytes were used: all of `input`, or fewer once the body is
    /// complete (the rest belongs to no response).
    pub(crate) fn feed(
        &mut self,
        input: &[u8],
        mut data: impl FnMut(&[u8]),
    ) -> Result<usize, ChunkError> {
        let mut i = 0;
        while i < input.len() {
            if let State::Data(left) = self.state {
                let n = usize::try_from(left)
                    .unwrap_or(usize::MAX)
                    .min(input.len() - i);
                data(&input[i..i + n]);
                i += n;
                let left = left - n as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data(left)
                };
                continue;
            }
            if self.state == State::Done {
                break;
            }
            self.state = self.step(input[i])?;
            i += 1;
        }
        Ok(i)
    }

    /// One byte of framing (everything but chunk data).
    fn step(&mut self, b: u8) -> Result<State, ChunkError> {
        Ok(match (self.state, b) {
            (State::Size { digits }, _) if b.is_ascii_hexdigit() => {
                if digits >= 16 {
                    return Err(ChunkError::TooLarge);
                }
                self.size = self.size << 4 | u64::from(hex(b));
                State::Size { digits: digits + 1 }
            }
            (State::Size { digits: 0, .. }, _) => return Err(ChunkError::Size),
            (State::Size { .. } | State::SizeSpace, b' ' | b'\t') => State::SizeSpace,
            (State::Size { .. } | State::SizeSpace, b';') => State::Ext,
            (State::Size { .. } | State::SizeSpace | State::Ext, b'\r') => State::SizeLf,
            (State::Size { .. } | State::SizeSpace, _) => return Err(ChunkError::Size),
            (State::Ext, b'\n') => return Err(ChunkError::LineEnd),
            (State::Ext, _) => State::Ext,
            (State::SizeLf, b'\n') => match std::mem::take(&mut self.size) {
                0 => State::TrailerStart,
                n => State::Data(n),
            },
            (State::DataCr, b'\r') => State::DataLf,
            (State::DataLf, b'\n') => State::Size { digits: 0 },
            (State::TrailerStart, b'\r') => State::EndLf,
            (State::TrailerStart | State::Trailer, b'\n') => return Err(ChunkError::LineEnd),
            (State::Trailer, b'\r') => State::TrailerLf,
            (State::TrailerStart | State::Trailer, _) => State::Trailer,
            (State::TrailerLf, b'\n') => State::TrailerStart,
            (State::EndLf, b'\n') => State::Done,
            _ => return Err(ChunkError::LineEnd),
        })
    }
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `wire` split into pieces of `step` bytes: (data, used, done).
    fn decode(wire: &[u8], step: usize) -> Result<(Vec<u8>, usize, bool), ChunkError> {
        let mut c = Chunked::default();
        let mut out = Vec::new();
        let mut used = 0;
        for piece in wire.chunks(step) {
            used += c.feed(piece, |d| out.extend_from_slice(d))?;
            if c.is_done() {
                break;
            }
        }
        Ok((out, used, c.is_done()))
    }

    #[test]
    fn chunks_decode_at_every_split() {
        let wire = b"5\r\nhello\r\n1A\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n";
        for step in 1..=wire.len() {
            let (data, used, done) = decode(wire, step).unwrap();
            assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
            assert_eq!((used, done), (wire.len(), true));
        }
    }

    #[test]
    fn extensions_trailers_and_padding_are_skipped() {
        let wire =
            b"3;name=\"v\"\r\nabc\r\n2 \t;x\r\nde\r\n0;end\r\nX-Trace: 1\r\nY: 2\r\n\r\nNEXT";
        for step in 1..=wire.len() {
            let (data, used, done) = decode(wire, step).unwrap();
            assert_eq!((data.as_slice(), done), (&b"abcde"[..], true));
            assert_eq!(used, wire.len() - 4, "bytes after the body are left over");
        }
    }

    #[test]
    fn incomplete_body_is_not_done() {
        let (data, _, done) = decode(b"5\r\nhel", 2).unwrap();
        assert_eq!((data.as_slice(), done), (&b"hel"[..], false));
        let (_, _, done) = decode(b"0\r\n", 1).unwrap();
        assert!(!done, "the final CRLF is missing");
    }

    #[test]
    fn victorialogs_abort_text_is_an_error() {
        // A chunk, then the raw abort text where the next size belongs.
        let wire = b"3\r\n{}\n\r\n\nthe connection has been aborted\n";
        assert_eq!(decode(wire, 7).unwrap_err(), ChunkError::Size);
        assert_eq!(decode(b"zz\r\n", 1).unwrap_err(), ChunkError::Size);
        assert_eq!(decode(b"5 x\r\n", 1).unwrap_err(), ChunkError::Size);
    }

    #[test]
    fn bad_line_ends_and_huge_sizes_are_errors() {
        assert_eq!(decode(b"3\r\nabcX", 1).unwrap_err(), ChunkError::LineEnd);
        assert_eq!(decode(b"3\nabc", 1).unwrap_err(), ChunkError::Size);
        assert_eq!(decode(b"3\r\nabc\r\r", 1).unwrap_err(), ChunkError::LineEnd);
        assert_eq!(decode(b"0\r\nbad\n", 1).unwrap_err(), ChunkError::LineEnd);
        let huge = b"10000000000000000\r\n";
        assert_eq!(decode(huge, 4).unwrap_err(), ChunkError::TooLarge);
        let (_, _, done) = decode(b"ffffffffffffffff\r\nab", 64).unwrap();
        assert!(!done);
    }
}
