//! JSON string escaping for hand-written response bodies.
//!
//! Owns: appending a JSON string literal to a byte buffer the way
//! VictoriaLogs' templates do (`'` as `\u0027`, control characters as
//! `\u00XX`). Bodies are written by hand instead of through serde so the
//! hot path appends into one reused buffer without intermediate values.
//! Must not: know about rows or endpoints.

/// Appends `s` as a quoted JSON string.
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    push_escaped(out, s);
    out.push(b'"');
}

/// Appends the escaped contents of `s` without the surrounding quotes.
/// Strings without anything to escape are copied whole; others from the
/// first byte to rewrite on through a stack buffer, with each escape a
/// fixed six-byte copy from [`ESCAPES`] (JSON messages have a quote every
/// few bytes, so a copy per run of plain bytes would cost more).
pub fn push_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let Some(first) = bytes.iter().position(|&b| NEEDS_ESCAPE[usize::from(b)]) else {
        out.extend_from_slice(bytes);
        return;
    };
    out.extend_from_slice(&bytes[..first]);
    let mut buf = [0u8; 256];
    let mut n = 0;
    for &b in &bytes[first..] {
        if n + 6 > buf.len() {
            out.extend_from_slice(&buf[..n]);
            n = 0;
        }
        let (esc, len) = &ESCAPES[usize::from(b)];
        if *len == 0 {
            buf[n] = b;
            n += 1;
        } else {
            buf[n..n + 6].copy_from_slice(esc);
            n += usize::from(*len);
        }
    }
    out.extend_from_slice(&buf[..n]);
}

/// The escape of each byte (padded to six bytes) and its length; 0 for
/// bytes copied as they are.
const ESCAPES: [([u8; 6], u8); 256] = {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut t = [([0u8; 6], 0u8); 256];
    let mut i = 0;
    while i < 256 {
        if NEEDS_ESCAPE[i] {
            t[i] = match i as u8 {
                b'"' => (*b"\\\"    ", 2),
                b'\\' => (*b"\\\\    ", 2),
                b'\n' => (*b"\\n    ", 2),
                b'\r' => (*b"\\r    ", 2),
                b'\t' => (*b"\\t    ", 2),
                b => (
                    [
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(b >> 4) as usize],
                        HEX[(b & 0xf) as usize],
                    ],
                    6,
                ),
            };
        }
        i += 1;
    }
    t
};

/// Bytes [`push_escaped`] rewrites.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'\'' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t
};

/// Appends a decimal integer.
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        // `v % 10` is below 10, so the cast cannot truncate.
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut v = Vec::new();
        push_str(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn escapes_like_victorialogs_and_round_trips() {
        let s = "cannot parse 'stats' pipe: \"x\"\n\u{1}<ü>";
        let e = esc(s);
        assert!(e.contains("\\u0027stats\\u0027"));
        assert!(e.contains("\\u0001"));
        let back: String = serde_json::from_str(&e).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn every_byte_escapes_as_serde_reads_it() {
        let all: String = (0u8..128).map(char::from).collect();
        let long = all.repeat(5) + "é\"ü";
        for s in [all.as_str(), long.as_str(), "plain", "", "\"", "a'b<c>d"] {
            let back: String = serde_json::from_str(&esc(s)).unwrap();
            assert_eq!(back, s);
        }
        assert_eq!(esc("\u{1f}'<>"), "\"\\u001f\\u0027\\u003c\\u003e\"");
    }

    #[test]
    fn integers() {
        for v in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }
}
