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
pub fn push_escaped(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| NEEDS_ESCAPE[usize::from(b)]) {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            b'\'' => b"\\u0027",
            b'<' => b"\\u003c",
            b'>' => b"\\u003e",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                push_control(out, b);
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

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

fn push_control(out: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"\\u00");
    out.push(HEX[usize::from(b >> 4)]);
    out.push(HEX[usize::from(b & 0xf)]);
}

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
    fn integers() {
        for v in [0u64, 7, 10, 1234567890, u64::MAX] {
            let mut out = Vec::new();
            push_u64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }
}
