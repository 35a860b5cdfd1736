//! Duration text as users write it in a benchmark file: `600` (seconds),
//! `600s`, `10m`, `1h30m`, `250ms`, `1.5h`.
//!
//! Owns parsing and the canonical rendering. Other crates (the CLI's
//! `--duration`, the worker protocol) use the same parser so every duration a
//! user types reads the same way. It must not know about config paths: callers
//! attach the field path to the error.

use std::time::Duration;

/// Why a duration text was rejected. Messages quote the text and say what a
/// valid duration looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Nothing to parse.
    #[error("empty duration; write e.g. `30s`, `10m`, `1h30m`, `250ms` or `600` (seconds)")]
    Empty,
    /// A leading minus sign.
    #[error("negative duration `{0}`; durations must be >= 0")]
    Negative(String),
    /// A character where a number was expected.
    #[error("invalid duration `{text}`: expected a number at `{rest}`; write e.g. `30s`, `10m` or `1h30m`")]
    ExpectedNumber {
        /// The whole input.
        text: String,
        /// The unparsed remainder.
        rest: String,
    },
    /// A number followed by nothing in a text that has units elsewhere (`1h30`).
    #[error("invalid duration `{0}`: the last number has no unit; add one of ms, s, m, h, d, w")]
    MissingUnit(String),
    /// A unit that is not one of ms, s, m, h, d, w.
    #[error("invalid duration `{text}`: unknown unit `{unit}`; use ms, s, m, h, d or w")]
    UnknownUnit {
        /// The whole input.
        text: String,
        /// The unit as written.
        unit: String,
    },
    /// More than nine digits after the decimal point, or a value beyond
    /// what `Duration` holds.
    #[error("invalid duration `{0}`: too large or too precise (at most 9 decimal places)")]
    OutOfRange(String),
}

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// Nanoseconds per unit; longest unit names first so `ms` wins over `m`.
const UNITS: [(&str, u128); 6] = [
    ("ms", 1_000_000),
    ("s", NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("h", 3600 * NANOS_PER_SEC),
    ("d", 86_400 * NANOS_PER_SEC),
    ("w", 7 * 86_400 * NANOS_PER_SEC),
];

/// Parses a duration as users write it: a plain number is seconds (`600`,
/// `0.5`); otherwise a sequence of number+unit pairs (`1h30m`, `250ms`,
/// `1.5h`) with units ms, s, m, h, d (24h) and w (7d).
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(DurationError::Empty);
    }
    if trimmed.starts_with('-') {
        return Err(DurationError::Negative(trimmed.to_string()));
    }
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let mut rest = body;
    let mut total: u128 = 0;
    let mut first = true;
    while !rest.is_empty() {
        let (int, frac, after) =
            split_number(rest).ok_or_else(|| DurationError::ExpectedNumber {
                text: trimmed.to_string(),
                rest: rest.to_string(),
            })?;
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        // Spaces around a unit are allowed: `1h 30m`, `30 s`.
        let unit = after[..unit_len].trim();
        let scale = if unit.is_empty() {
            // A bare number is seconds only when it is the whole text.
            if !first {
                return Err(DurationError::MissingUnit(trimmed.to_string()));
            }
            if unit_len != after.len() {
                return Err(DurationError::MissingUnit(trimmed.to_string()));
            }
            NANOS_PER_SEC
        } else {
            unit_scale(unit).ok_or_else(|| DurationError::UnknownUnit {
                text: trimmed.to_string(),
                unit: unit.to_string(),
            })?
        };
        let nanos = scaled(int, frac, scale)
            .ok_or_else(|| DurationError::OutOfRange(trimmed.to_string()))?;
        total = total
            .checked_add(nanos)
            .ok_or_else(|| DurationError::OutOfRange(trimmed.to_string()))?;
        rest = &after[unit_len..];
        first = false;
    }
    let secs = u64::try_from(total / NANOS_PER_SEC)
        .map_err(|_| DurationError::OutOfRange(trimmed.to_string()))?;
    // The remainder of a division by 10^9 always fits in u32.
    let sub = (total % NANOS_PER_SEC) as u32;
    Ok(Duration::new(secs, sub))
}

/// Splits `12.5rest` into ("12", "5", "rest"); None when no digits lead.
fn split_number(s: &str) -> Option<(&str, &str, &str)> {
    let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let int = &s[..int_len];
    let after_int = &s[int_len..];
    let (frac, after) = match after_int.strip_prefix('.') {
        Some(f) => {
            let len = f.find(|c: char| !c.is_ascii_digit()).unwrap_or(f.len());
            (&f[..len], &f[len..])
        }
        None => ("", after_int),
    };
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    Some((int, frac, after))
}

fn unit_scale(unit: &str) -> Option<u128> {
    UNITS
        .iter()
        .find(|(name, _)| *name == unit)
        .map(|(_, scale)| *scale)
}

/// `int.frac` × `scale` in nanoseconds, exactly; None on overflow or when
/// the fraction has more than nine digits.
fn scaled(int: &str, frac: &str, scale: u128) -> Option<u128> {
    if frac.len() > 9 || int.len() > 30 {
        return None;
    }
    let int_value: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut nanos = int_value.checked_mul(scale)?;
    if !frac.is_empty() {
        let frac_value: u128 = frac.parse().ok()?;
        let denom = 10u128.pow(frac.len() as u32);
        nanos = nanos.checked_add(frac_value.checked_mul(scale)? / denom)?;
    }
    Some(nanos)
}

/// Renders a duration the way [`parse_duration`] reads it and VictoriaLogs
/// accepts it as a `step`: `1h30m`, `45s`, `250ms`, `1.5s`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let secs = d.as_secs();
    let nanos = d.subsec_nanos();
    if secs == 0 && nanos == 0 {
        return "0s".to_string();
    }
    if secs == 0 && nanos % 1_000_000 == 0 {
        return format!("{}ms", nanos / 1_000_000);
    }
    let (h, m, s) = (secs / 3600, (secs / 60) % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        out.push_str(&format!("{s}.{}s", frac.trim_end_matches('0')));
    } else if s > 0 {
        out.push_str(&format!("{s}s"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Duration {
        parse_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn plain_numbers_are_seconds() {
        assert_eq!(ok("600"), Duration::from_secs(600));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("0.5"), Duration::from_millis(500));
        assert_eq!(ok(" 30 "), Duration::from_secs(30));
    }

    #[test]
    fn units_and_combinations() {
        assert_eq!(ok("600s"), Duration::from_secs(600));
        assert_eq!(ok("10m"), Duration::from_secs(600));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("250ms"), Duration::from_millis(250));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok("1m30s500ms"), Duration::from_millis(90_500));
        assert_eq!(ok("1d"), Duration::from_secs(86_400));
        assert_eq!(ok("2w"), Duration::from_secs(14 * 86_400));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1h 30m"), Duration::from_secs(5400));
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(parse_duration(""), Err(DurationError::Empty));
        assert_eq!(
            parse_duration("-5s"),
            Err(DurationError::Negative("-5s".into()))
        );
        assert_eq!(
            parse_duration("1h30"),
            Err(DurationError::MissingUnit("1h30".into()))
        );
        assert_eq!(
            parse_duration("10sec"),
            Err(DurationError::UnknownUnit {
                text: "10sec".into(),
                unit: "sec".into()
            })
        );
        assert_eq!(
            parse_duration("abc"),
            Err(DurationError::ExpectedNumber {
                text: "abc".into(),
                rest: "abc".into()
            })
        );
        assert_eq!(
            parse_duration("10s x"),
            Err(DurationError::UnknownUnit {
                text: "10s x".into(),
                unit: "s x".into()
            })
        );
        assert_eq!(
            parse_duration("30 seconds"),
            Err(DurationError::UnknownUnit {
                text: "30 seconds".into(),
                unit: "seconds".into()
            })
        );
        assert!(matches!(
            parse_duration("1.0000000001s"),
            Err(DurationError::OutOfRange(_))
        ));
        assert!(matches!(
            parse_duration("99999999999999999999999w"),
            Err(DurationError::OutOfRange(_))
        ));
        let msg = parse_duration("10sec").map_err(|e| e.to_string()).err();
        assert_eq!(
            msg.as_deref(),
            Some("invalid duration `10sec`: unknown unit `sec`; use ms, s, m, h, d or w")
        );
    }

    #[test]
    fn format_round_trips() {
        for (d, text) in [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_secs(45), "45s"),
            (Duration::from_secs(5400), "1h30m"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(3661), "1h1m1s"),
        ] {
            assert_eq!(format_duration(d), text);
            assert_eq!(ok(text), d);
        }
    }
}
