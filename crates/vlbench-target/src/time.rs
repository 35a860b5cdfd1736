//! Time arithmetic and the time formats VictoriaLogs accepts and prints.
//!
//! Owns: duration strings (`5m`, `1h30m`, `0.5`), the `start`/`end`/`time`
//! query args (unix seconds, RFC3339, relative durations, `now`) and RFC3339
//! rendering of nanosecond timestamps without allocation. Times are `i64`
//! nanoseconds since the Unix epoch throughout the crate.
//! Must not: read the clock itself except in [`now_ns`].

use std::time::{SystemTime, UNIX_EPOCH};

/// Nanoseconds per second.
pub const NS_PER_SEC: i64 = 1_000_000_000;

/// The current wall-clock time in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Parses a VictoriaLogs/Prometheus duration such as `5m`, `1h30m`, `1.5s`,
/// `500ms`, `2d`, `1w`; a bare number means seconds. Returns nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_ns(secs);
    }
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_end == 0 {
            return None;
        }
        let n: f64 = rest[..num_end].parse().ok()?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let mult = unit_ns(&rest[..unit_end])?;
        total += n * mult;
        rest = &rest[unit_end..];
    }
    let ns = if neg { -total } else { total };
    if ns.is_finite() && ns.abs() < 9.2e18 {
        // Range checked on the line above, so the cast cannot saturate.
        Some(ns as i64)
    } else {
        None
    }
}

fn unit_ns(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        "d" => 86_400e9,
        "w" => 7.0 * 86_400e9,
        "y" => 365.0 * 86_400e9,
        _ => return None,
    })
}

fn secs_to_ns(secs: f64) -> Option<i64> {
    let ns = secs * 1e9;
    // Range checked here, so the cast cannot saturate.
    (ns.is_finite() && ns.abs() < 9.2e18).then_some(ns as i64)
}

/// Parses a `start`/`end`/`time` arg the way VictoriaLogs does: `now`,
/// unix seconds (fractions allowed), RFC3339 (also date-only forms), or a
/// duration meaning "that long before now". The error text matches the
/// server's (`cannot parse duration "yesterday"`).
pub fn parse_time_arg(s: &str, now: i64) -> Result<i64, String> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if let Ok(secs) = s.parse::<f64>() {
        return secs_to_ns(secs).ok_or_else(|| format!("cannot parse timestamp {s:?}"));
    }
    let looks_absolute = s.len() >= 4 && s.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    if looks_absolute && s.contains('-') {
        return parse_rfc3339(s).ok_or_else(|| format!("cannot parse timestamp {s:?}"));
    }
    match parse_duration(s) {
        Some(d) => Ok(now.saturating_sub(d.abs())),
        None => Err(format!("cannot parse duration {s:?}")),
    }
}

/// Parses RFC3339 and its shorter VictoriaLogs forms (`2026-11-25`,
/// `2026-11-25T04:00`, with or without a zone).
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return t.timestamp_nanos_opt();
    }
    let fmts = ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H"];
    let trimmed = s.trim_end_matches('Z');
    for f in fmts {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(trimmed, f) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    let date = chrono::NaiveDate::parse_from_str(trimmed, "%Y-%m-%d").ok()?;
    date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt()
}

/// Appends `ts` as RFC3339 in UTC with the fraction trimmed of trailing
/// zeros, as VictoriaLogs prints `_time` (`2026-11-25T04:10:02.50757Z`).
pub fn push_rfc3339(out: &mut Vec<u8>, ts: i64, with_fraction: bool) {
    let secs = ts.div_euclid(NS_PER_SEC);
    let nanos = ts.rem_euclid(NS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        return push_rfc3339_wide(out, (y, m, d), sod, nanos, with_fraction);
    }
    // Four-digit years (every real timestamp): fill one stack buffer and
    // copy it once.
    let mut b = *b"0000-00-00T00:00:00.000000000Z";
    put_digits(&mut b[0..4], y);
    put_digits(&mut b[5..7], m);
    put_digits(&mut b[8..10], d);
    put_digits(&mut b[11..13], sod / 3600);
    put_digits(&mut b[14..16], sod / 60 % 60);
    put_digits(&mut b[17..19], sod % 60);
    let mut len = 19;
    if with_fraction && nanos != 0 {
        put_digits(&mut b[20..29], nanos);
        // nanos != 0, so at least one fraction digit is not zero.
        len = 20
            + b[20..29]
                .iter()
                .rposition(|&c| c != b'0')
                .map_or(0, |i| i + 1);
    }
    b[len] = b'Z';
    out.extend_from_slice(&b[..=len]);
}

/// Writes `v` (non-negative) as decimal digits filling `dst`.
fn put_digits(dst: &mut [u8], mut v: i64) {
    for c in dst.iter_mut().rev() {
        // `v % 10` is in 0..10 for non-negative `v`, so the cast is exact.
        *c = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// [`push_rfc3339`] for years outside 0..=9999 (digits as many as needed).
fn push_rfc3339_wide(
    out: &mut Vec<u8>,
    (y, m, d): (i64, i64, i64),
    sod: i64,
    nanos: i64,
    with_fraction: bool,
) {
    push_num(out, y, 4);
    out.push(b'-');
    push_num(out, m, 2);
    out.push(b'-');
    push_num(out, d, 2);
    out.push(b'T');
    push_num(out, sod / 3600, 2);
    out.push(b':');
    push_num(out, sod / 60 % 60, 2);
    out.push(b':');
    push_num(out, sod % 60, 2);
    if with_fraction && nanos != 0 {
        let mut digits = 9;
        let mut frac = nanos;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        out.push(b'.');
        push_num(out, frac, digits);
    }
    out.push(b'Z');
}

fn push_num(out: &mut Vec<u8>, v: i64, width: usize) {
    let mut buf = [b'0'; 20];
    let mut i = buf.len();
    let mut v = v.unsigned_abs();
    while v > 0 && i > 0 {
        i -= 1;
        // `v % 10` is below 10, so the cast cannot truncate.
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let start = i.min(buf.len().saturating_sub(width));
    out.extend_from_slice(&buf[start..]);
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Appends `ts` as unix seconds with up to 7 decimals, the form of the
/// `value` timestamps in `stats_query` answers (`1795579804.376607`).
pub fn push_unix_secs(out: &mut Vec<u8>, ts: i64) {
    let secs = ts.div_euclid(NS_PER_SEC);
    let frac = ts.rem_euclid(NS_PER_SEC) / 100;
    push_num(out, secs, 1);
    if frac != 0 {
        let mut digits = 7;
        let mut f = frac;
        while f % 10 == 0 {
            f /= 10;
            digits -= 1;
        }
        out.push(b'.');
        push_num(out, f, digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300 * NS_PER_SEC));
        assert_eq!(parse_duration("1h30m"), Some(5400 * NS_PER_SEC));
        assert_eq!(parse_duration("0.05"), Some(50_000_000));
        assert_eq!(parse_duration("50ms"), Some(50_000_000));
        assert_eq!(parse_duration("1d"), Some(86_400 * NS_PER_SEC));
        assert_eq!(parse_duration("0s"), Some(0));
        assert_eq!(parse_duration("yesterday"), None);
        assert_eq!(parse_duration("5x"), None);
    }

    #[test]
    fn time_args() {
        let now = 1_795_579_804 * NS_PER_SEC;
        assert_eq!(parse_time_arg("now", now), Ok(now));
        assert_eq!(parse_time_arg("10m", now), Ok(now - 600 * NS_PER_SEC));
        assert_eq!(
            parse_time_arg("1795579203", now),
            Ok(1_795_579_203 * NS_PER_SEC)
        );
        assert_eq!(
            parse_time_arg("2026-11-25T04:00:03Z", now),
            Ok(1_795_579_203 * NS_PER_SEC)
        );
        assert_eq!(
            parse_time_arg("yesterday", now),
            Err("cannot parse duration \"yesterday\"".to_string())
        );
    }

    #[test]
    fn rfc3339_rendering_matches_chrono() {
        for ts in [0i64, 1_795_579_802_507_572_000, 951_782_400_000_000_001, -1] {
            let mut out = Vec::new();
            push_rfc3339(&mut out, ts, true);
            let s = String::from_utf8(out).unwrap();
            assert_eq!(parse_rfc3339(&s), Some(ts), "{s}");
        }
        let mut out = Vec::new();
        push_rfc3339(&mut out, 1_795_579_802_507_572_000, true);
        assert_eq!(out, b"2026-11-25T04:10:02.507572Z");
        let mut out = Vec::new();
        push_unix_secs(&mut out, 1_795_579_804_376_607_000);
        assert_eq!(out, b"1795579804.376607");
    }

    #[test]
    fn fast_rfc3339_matches_the_digit_by_digit_form() {
        let mut ts = 1_700_000_000_123_456_789i64;
        for i in 0..2000i64 {
            ts = ts.wrapping_add(i * 7_919_000_003 + 1_000);
            for frac in [true, false] {
                for t in [ts, ts / 1000 * 1000, ts / NS_PER_SEC * NS_PER_SEC] {
                    let mut fast = Vec::new();
                    push_rfc3339(&mut fast, t, frac);
                    let secs = t.div_euclid(NS_PER_SEC);
                    let mut slow = Vec::new();
                    push_rfc3339_wide(
                        &mut slow,
                        civil_from_days(secs.div_euclid(86_400)),
                        secs.rem_euclid(86_400),
                        t.rem_euclid(NS_PER_SEC),
                        frac,
                    );
                    assert_eq!(fast, slow, "{t}");
                }
            }
        }
    }
}
