//! Request arguments and tenant headers.
//!
//! Owns: reading the args VictoriaLogs' select handlers read, from the URL
//! query and from an `application/x-www-form-urlencoded` POST body (body
//! values win, as with Go's `FormValue`), the `AccountID`/`ProjectID`
//! headers, and the error texts for unparsable values.
//! Must not: run queries.

use std::borrow::Cow;
use std::time::Duration;

use http::{HeaderMap, HeaderName};

use crate::time::{parse_duration, parse_time_arg};

/// The args of one select request. Values borrow from the URL or body
/// unless they had to be percent-decoded; `query` stays encoded (it is
/// the query cache's key, decoded only on a miss or for error texts).
#[derive(Debug, Default)]
pub struct Args<'a> {
    /// `query`, still form-encoded.
    pub query_raw: Option<&'a [u8]>,
    /// `limit`
    pub limit: Option<Cow<'a, str>>,
    /// `start`
    pub start: Option<Cow<'a, str>>,
    /// `end`
    pub end: Option<Cow<'a, str>>,
    /// `time` (stats_query)
    pub time: Option<Cow<'a, str>>,
    /// `step`
    pub step: Option<Cow<'a, str>>,
    /// `field` (repeatable for hits)
    pub field: Vec<Cow<'a, str>>,
    /// `fields_limit` (hits)
    pub fields_limit: Option<Cow<'a, str>>,
    /// `timeout`
    pub timeout: Option<Cow<'a, str>>,
}

impl<'a> Args<'a> {
    /// Reads the URL query, then the form body over it.
    pub fn parse(url_query: Option<&'a str>, body: &'a [u8]) -> Args<'a> {
        let mut args = Args::default();
        if let Some(q) = url_query {
            args.add(q.as_bytes());
        }
        if !body.is_empty() {
            args.add(body);
        }
        args
    }

    /// Adds the pairs of one `application/x-www-form-urlencoded` string
    /// (the same splitting and decoding as `form_urlencoded::parse`).
    fn add(&mut self, input: &'a [u8]) {
        for pair in input.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => (&pair[..i], &pair[i + 1..]),
                None => (pair, &pair[pair.len()..]),
            };
            let key = decode(k);
            let slot = match &*key {
                "query" => {
                    self.query_raw = Some(v);
                    continue;
                }
                "limit" => &mut self.limit,
                "start" => &mut self.start,
                "end" => &mut self.end,
                "time" => &mut self.time,
                "step" => &mut self.step,
                "fields_limit" => &mut self.fields_limit,
                "timeout" => &mut self.timeout,
                "field" => {
                    self.field.push(decode(v));
                    continue;
                }
                _ => continue,
            };
            *slot = Some(decode(v));
        }
    }

    /// The `query` arg decoded ("" when missing, which then fails to
    /// parse as VictoriaLogs' `missing query`).
    pub fn query_text(&self) -> Cow<'a, str> {
        self.query_raw.map_or(Cow::Borrowed(""), decode)
    }

    /// `limit` as VictoriaLogs parses it (0 or missing = no limit).
    pub fn limit(&self) -> Result<u64, String> {
        int_arg("limit", self.limit.as_deref())
    }

    /// `fields_limit` (0 or missing = no limit).
    pub fn fields_limit(&self) -> Result<u64, String> {
        int_arg("fields_limit", self.fields_limit.as_deref())
    }

    /// A time arg (`start`, `end`, `time`), or `default` when missing.
    pub fn time(&self, name: &str, now: i64, default: i64) -> Result<i64, String> {
        let value = match name {
            "start" => self.start.as_deref(),
            "end" => self.end.as_deref(),
            _ => self.time.as_deref(),
        };
        match value {
            None | Some("") => Ok(default),
            Some(v) => parse_time_arg(v, now).map_err(|e| format!("cannot parse {name}={v}: {e}")),
        }
    }

    /// `step` in ns, `default` when missing.
    pub fn step(&self, default: i64) -> Result<i64, String> {
        match self.step.as_deref() {
            None | Some("") => Ok(default),
            Some(v) => parse_duration(v)
                .ok_or_else(|| format!("cannot parse step={v}: cannot parse duration {v:?}")),
        }
    }

    /// The `timeout` arg.
    pub fn timeout(&self) -> Result<Option<Duration>, String> {
        match self.timeout.as_deref() {
            None | Some("") => Ok(None),
            Some(v) => match parse_duration(v) {
                Some(ns) if ns >= 0 => Ok(Some(Duration::from_nanos(ns.unsigned_abs()))),
                _ => Err(format!(
                    "cannot parse timeout={v}: cannot parse duration {v:?}"
                )),
            },
        }
    }
}

/// Decodes one form-encoded value: `+` is a space, `%XX` a byte (kept
/// as is when not two hex digits), invalid UTF-8 replaced. Borrows when
/// there is nothing to decode.
pub fn decode(v: &[u8]) -> Cow<'_, str> {
    if !v.iter().any(|&b| b == b'+' || b == b'%') {
        return String::from_utf8_lossy(v);
    }
    let mut out = Vec::with_capacity(v.len());
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        i += 1;
        match b {
            b'+' => out.push(b' '),
            b'%' => match (v.get(i).and_then(hex), v.get(i + 1).and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
    }
    match String::from_utf8(out) {
        Ok(s) => Cow::Owned(s),
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

fn hex(b: &u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn int_arg(name: &str, value: Option<&str>) -> Result<u64, String> {
    match value {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<u64>().map_err(|_| {
            format!(
                "cannot parse integer {name:?}={v:?}: strconv.Atoi: parsing {v:?}: invalid syntax"
            )
        }),
    }
}

/// The tenant of a request: `(AccountID, ProjectID)`, 0 when missing.
pub fn tenant(headers: &HeaderMap) -> Result<(u32, u32), String> {
    // Header names as constants: looking up by `&str` would parse and
    // lowercase the name on every request.
    static ACCOUNT: HeaderName = HeaderName::from_static("accountid");
    static PROJECT: HeaderName = HeaderName::from_static("projectid");
    let one = |name: &HeaderName| -> Result<u32, String> {
        let Some(v) = headers.get(name) else {
            return Ok(0);
        };
        let s = String::from_utf8_lossy(v.as_bytes());
        s.parse::<u32>().map_err(|_| {
            format!("cannot obtain tenanID: cannot parse {s:?} as uint32: strconv.ParseUint: parsing {s:?}: invalid syntax")
        })
    };
    Ok((one(&ACCOUNT)?, one(&PROJECT)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_form_body() {
        let a = Args::parse(
            Some("query=%2A+%7C+limit+1&limit=5&field=a"),
            b"limit=7&field=b",
        );
        assert_eq!(a.query_text(), "* | limit 1");
        assert_eq!(a.limit(), Ok(7));
        assert_eq!(a.field, vec!["a", "b"]);
        assert_eq!(a.query_raw, Some(&b"%2A+%7C+limit+1"[..]));
        let bad = Args::parse(Some("limit=ten"), b"");
        assert_eq!(
            bad.limit().unwrap_err(),
            "cannot parse integer \"limit\"=\"ten\": strconv.Atoi: parsing \"ten\": invalid syntax"
        );
    }

    #[test]
    fn decoding_matches_form_urlencoded() {
        for raw in [
            "plain",
            "a+b%20c",
            "%7Bjob%3D%22x%22%7D",
            "bad%zz%4",
            "%",
            "%E2%82%AC+%FF",
            "",
        ] {
            let want: String = form_urlencoded::parse(format!("k={raw}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            assert_eq!(decode(raw.as_bytes()), want, "{raw}");
        }
        assert!(matches!(decode(b"plain"), Cow::Borrowed("plain")));
        let a = Args::parse(Some("&&lim%69t=3&=x&query"), b"");
        assert_eq!(a.limit(), Ok(3));
        assert_eq!(a.query_raw, Some(&b""[..]));
    }

    #[test]
    fn tenants() {
        let mut h = HeaderMap::new();
        assert_eq!(tenant(&h), Ok((0, 0)));
        h.insert("AccountID", "1".parse().unwrap());
        h.insert("ProjectID", "2".parse().unwrap());
        assert_eq!(tenant(&h), Ok((1, 2)));
        h.insert("AccountID", "abc".parse().unwrap());
        assert_eq!(
            tenant(&h).unwrap_err(),
            "cannot obtain tenanID: cannot parse \"abc\" as uint32: strconv.ParseUint: parsing \"abc\": invalid syntax"
        );
    }
}
