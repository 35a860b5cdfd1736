//! Time values and durations as users write them and VictoriaLogs reads them.
//!
//! Owns parsing `start`/`end` values (`now`, `-1h`, RFC3339, unix seconds) and
//! durations (`90s`, `1h30m`), and writing resolved instants in a form
//! VictoriaLogs accepts. Resolution happens per request against the `now` the
//! caller passes in; nothing here reads the clock. Writing goes through
//! [`std::fmt::Write`] so the hot path never allocates.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, Timelike, Utc};

/// A `start`/`end` value of a query: fixed, or relative to the send time.
///
/// Relative values are resolved when a request is rendered, so a long run
/// keeps querying "the last hour" rather than the hour before it started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeValue {
    /// The send time.
    Now,
    /// This long before the send time.
    Relative(Duration),
    /// A fixed instant.
    Absolute(DateTime<Utc>),
}

/// A time value that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid time value {input:?}: {reason}; use `now`, a relative duration such as \
     `-1h`, `15m` or `now-90s`, RFC3339 such as `2024-01-02T03:04:05Z`, or unix seconds"
)]
pub struct TimeValueError {
    /// The text as given.
    pub input: String,
    /// What was wrong with it.
    pub reason: String,
}

/// A duration that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason}; write a number and a unit (ms, s, m, h, d, w, y), \
     e.g. `90s`, `15m` or `1h30m`"
)]
pub struct DurationError {
    /// The text as given.
    pub input: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

/// Parses a VictoriaLogs-style duration: `500ms`, `90s`, `15m`, `1h30m`,
/// `1.5h`, `2d`, `1w`, `1y` (365 days). No sign; see [`TimeValue::parse`].
pub fn parse_duration(s: &str) -> Result<Duration, DurationError> {
    let err = |reason| DurationError {
        input: s.to_owned(),
        reason,
    };
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(err("it is empty"));
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or(err("a number needs a unit"))?;
        if num_len == 0 {
            return Err(err("expected a number"));
        }
        let n: f64 = rest[..num_len]
            .parse()
            .map_err(|_| err("the number is malformed"))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit_secs = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            "w" => 7.0 * 86_400.0,
            "y" => 365.0 * 86_400.0,
            _ => return Err(err("unknown unit")),
        };
        total += n * unit_secs;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| err("it is out of range"))
}

impl TimeValue {
    /// Parses `now`, `-1h` / `1h` / `now-1h` (all meaning one hour before the
    /// send time, as VictoriaLogs reads them), RFC3339, or unix seconds
    /// (integer or fractional). Instants before 1970 are rejected because
    /// VictoriaLogs would read a leading `-` as a relative duration.
    pub fn parse(s: &str) -> Result<TimeValue, TimeValueError> {
        let t = s.trim();
        let err = |reason: &str| TimeValueError {
            input: s.to_owned(),
            reason: reason.to_owned(),
        };
        if t == "now" {
            return Ok(TimeValue::Now);
        }
        if t.is_empty() {
            return Err(err("it is empty"));
        }
        if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            let secs: f64 = t.parse().map_err(|_| err("malformed unix seconds"))?;
            let secs_whole = secs.trunc();
            let nanos = ((secs - secs_whole) * 1e9).round().min(999_999_999.0) as u32;
            return DateTime::from_timestamp(secs_whole as i64, nanos)
                .map(TimeValue::Absolute)
                .ok_or_else(|| err("unix seconds out of range"));
        }
        let rel = t.strip_prefix("now").unwrap_or(t);
        let rel = rel.strip_prefix('-').unwrap_or(rel);
        if rel.ends_with(|c: char| c.is_ascii_alphabetic() && c != 'Z') {
            return parse_duration(rel)
                .map(TimeValue::Relative)
                .map_err(|e| err(e.reason));
        }
        match DateTime::parse_from_rfc3339(t) {
            Ok(dt) if dt.timestamp() >= 0 => Ok(TimeValue::Absolute(dt.with_timezone(&Utc))),
            Ok(_) => Err(err("instants before 1970 are not supported")),
            Err(e) => Err(err(&format!("not RFC3339 ({e})"))),
        }
    }

    /// The instant this value means for a request sent at `now`, as seconds
    /// and nanoseconds since the unix epoch (saturating at the epoch).
    /// `Now` and `Relative` are cut to whole seconds.
    pub fn resolve(&self, now: SystemTime) -> (i64, u32) {
        match self {
            TimeValue::Now => (whole_secs(now), 0),
            TimeValue::Relative(d) => (whole_secs(now.checked_sub(*d).unwrap_or(UNIX_EPOCH)), 0),
            TimeValue::Absolute(dt) => (dt.timestamp().max(0), dt.timestamp_subsec_nanos()),
        }
    }

    /// Writes the value resolved at `now` as unix seconds (`1700000000` or
    /// `1700000000.25`), the form VictoriaLogs accepts for `start`/`end`.
    pub fn write_unix<W: fmt::Write + ?Sized>(&self, now: SystemTime, w: &mut W) -> fmt::Result {
        let (secs, nanos) = self.resolve(now);
        write_unix(secs, nanos, w)
    }

    /// Writes the value resolved at `now` as RFC3339 in UTC
    /// (`2024-01-02T03:04:05Z`), for templates that embed times in LogsQL.
    pub fn write_rfc3339<W: fmt::Write + ?Sized>(&self, now: SystemTime, w: &mut W) -> fmt::Result {
        let (secs, nanos) = self.resolve(now);
        write_rfc3339(secs, nanos, w)
    }
}

impl fmt::Display for TimeValue {
    /// The canonical text form; parses back to the same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeValue::Now => f.write_str("now"),
            TimeValue::Relative(d) => {
                let ms = d.as_millis();
                if d.subsec_nanos() % 1_000_000 == 0 && ms % 1000 != 0 {
                    write!(f, "-{ms}ms")
                } else if d.subsec_nanos() == 0 {
                    write!(f, "-{}s", d.as_secs())
                } else {
                    write!(f, "-{}ns", d.as_nanos())
                }
            }
            TimeValue::Absolute(dt) => {
                write_rfc3339(dt.timestamp(), dt.timestamp_subsec_nanos(), f)
            }
        }
    }
}

impl std::str::FromStr for TimeValue {
    type Err = TimeValueError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TimeValue::parse(s)
    }
}

fn whole_secs(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Writes `.nnn` with trailing zeros removed, nothing for whole seconds.
fn write_fraction<W: fmt::Write + ?Sized>(nanos: u32, w: &mut W) -> fmt::Result {
    if nanos == 0 {
        return Ok(());
    }
    let mut digits = 9;
    let mut n = nanos;
    while n % 10 == 0 {
        n /= 10;
        digits -= 1;
    }
    write!(w, ".{n:0digits$}")
}

fn write_unix<W: fmt::Write + ?Sized>(secs: i64, nanos: u32, w: &mut W) -> fmt::Result {
    write!(w, "{secs}")?;
    write_fraction(nanos, w)
}

fn write_rfc3339<W: fmt::Write + ?Sized>(secs: i64, nanos: u32, w: &mut W) -> fmt::Result {
    // Out-of-range instants cannot come from `resolve` (it saturates at the
    // epoch and chrono's own range); fall back to the epoch if they ever do.
    let dt = DateTime::from_timestamp(secs, 0).unwrap_or(DateTime::UNIX_EPOCH);
    write!(
        w,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )?;
    write_fraction(nanos, w)?;
    w.write_char('Z')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn unix(v: &TimeValue, now: SystemTime) -> String {
        let mut s = String::new();
        v.write_unix(now, &mut s).unwrap();
        s
    }

    #[test]
    fn durations_parse_with_units_and_composites() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2d").unwrap(), Duration::from_secs(172_800));
        assert_eq!(parse_duration("1w").unwrap(), Duration::from_secs(604_800));
        for bad in ["", "10", "h", "5x", "1..5s", "-5m"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should fail");
        }
        let msg = parse_duration("5x").unwrap_err().to_string();
        assert!(
            msg.contains("\"5x\"") && msg.contains("unknown unit"),
            "{msg}"
        );
    }

    #[test]
    fn relative_forms_all_mean_before_now() {
        let hour = TimeValue::Relative(Duration::from_secs(3600));
        for s in ["-1h", "1h", "now-1h", " -1h "] {
            assert_eq!(TimeValue::parse(s).unwrap(), hour, "{s}");
        }
        assert_eq!(TimeValue::parse("now").unwrap(), TimeValue::Now);
        assert_eq!(
            TimeValue::parse("-90s").unwrap(),
            TimeValue::Relative(Duration::from_secs(90))
        );
    }

    #[test]
    fn absolute_forms_parse_to_the_same_instant() {
        let a = TimeValue::parse("2026-11-25T04:00:03Z").unwrap();
        let b = TimeValue::parse("1795579203").unwrap();
        let c = TimeValue::parse("2026-11-25T05:00:03+01:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        let f = TimeValue::parse("1795579203.25").unwrap();
        assert_eq!(unix(&f, at(0)), "1795579203.25");
    }

    #[test]
    fn bad_values_are_rejected_with_the_input_named() {
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "1969-12-31T00:00:00Z",
            "-",
        ] {
            let e = TimeValue::parse(bad).unwrap_err();
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn relative_values_resolve_against_the_given_now() {
        let now = at(1_795_579_803) + Duration::from_millis(700);
        let v = TimeValue::parse("-10m").unwrap();
        assert_eq!(unix(&v, now), "1795579203");
        assert_eq!(unix(&TimeValue::Now, now), "1795579803");
        let mut s = String::new();
        v.write_rfc3339(now, &mut s).unwrap();
        assert_eq!(s, "2026-11-25T04:00:03Z");
        // Before the epoch saturates instead of wrapping.
        assert_eq!(unix(&v, at(5)), "0");
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "now",
            "-1h",
            "-250ms",
            "2026-11-25T04:00:03Z",
            "1795579203.5",
        ] {
            let v = TimeValue::parse(s).unwrap();
            assert_eq!(TimeValue::parse(&v.to_string()).unwrap(), v, "{s}");
        }
    }
}
