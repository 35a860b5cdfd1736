//! Request arguments and tenant headers.
//!
//! Owns: reading the args VictoriaLogs' select handlers read, from the URL
//! query and from an `application/x-www-form-urlencoded` POST body (body
//! values win, as with Go's `FormValue`), the `AccountID`/`ProjectID`
//! headers, and the error texts for unparsable values.
//! Must not: run queries.

use std::borrow::Cow;
use std::time::Duration;

use http::HeaderMap;

use crate::time::{parse_duration, parse_time_arg};

/// The args of one select request. Values borrow from the URL or body
/// unless they had to be percent-decoded.
#[derive(Debug, Default)]
pub struct Args<'a> {
    /// `query`
    pub query: Option<Cow<'a, str>>,
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
            args.add(form_urlencoded::parse(q.as_bytes()));
        }
        if !body.is_empty() {
            args.add(form_urlencoded::parse(body));
        }
        args
    }

    fn add(&mut self, pairs: form_urlencoded::Parse<'a>) {
        for (k, v) in pairs {
            let slot = match &*k {
                "query" => &mut self.query,
                "limit" => &mut self.limit,
                "start" => &mut self.start,
                "end" => &mut self.end,
                "time" => &mut self.time,
                "step" => &mut self.step,
                "fields_limit" => &mut self.fields_limit,
                "timeout" => &mut self.timeout,
                "field" => {
                    self.field.push(v);
                    continue;
                }
                _ => continue,
            };
            *slot = Some(v);
        }
    }

    /// The `query` arg ("" when missing, which then fails to parse as
    /// VictoriaLogs' `missing query`).
    pub fn query_text(&self) -> &str {
        self.query.as_deref().unwrap_or("")
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
    let one = |name: &str| -> Result<u32, String> {
        let Some(v) = headers.get(name) else {
            return Ok(0);
        };
        let s = String::from_utf8_lossy(v.as_bytes());
        s.parse::<u32>().map_err(|_| {
            format!("cannot obtain tenanID: cannot parse {s:?} as uint32: strconv.ParseUint: parsing {s:?}: invalid syntax")
        })
    };
    Ok((one("AccountID")?, one("ProjectID")?))
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
        let bad = Args::parse(Some("limit=ten"), b"");
        assert_eq!(
            bad.limit().unwrap_err(),
            "cannot parse integer \"limit\"=\"ten\": strconv.Atoi: parsing \"ten\": invalid syntax"
        );
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
