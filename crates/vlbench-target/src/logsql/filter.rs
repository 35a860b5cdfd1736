//! The filter tree of a query: matching rows and printing canonical text.
//!
//! Owns: [`Filter`], its evaluation against one row (word and phrase
//! filters with VictoriaLogs' token boundaries, prefixes, regexps, exact
//! values, time ranges, boolean logic) and its canonical form (what
//! VictoriaLogs echoes in `missing | stats pipe in the query [...]`).
//! Must not: parse text or know about HTTP.

use std::fmt;

use crate::data::{Dataset, Field, Row};

/// One end of a `_time` range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// Unbounded.
    Open,
    /// An absolute instant (ns).
    At(i64),
    /// This many ns before the request's "now".
    Ago(i64),
}

impl Bound {
    fn resolve(self, now: i64, open: i64) -> i64 {
        match self {
            Bound::Open => open,
            Bound::At(t) => t,
            Bound::Ago(d) => now.saturating_sub(d),
        }
    }
}

/// A filter over rows.
#[derive(Debug, Clone)]
pub enum Filter {
    /// `*`: every row (also `_msg:*`).
    All,
    /// `field:*`: rows where `field` is not empty.
    NonEmpty(Field),
    /// A word or phrase (`error`, `"connection refused"`), or a prefix of
    /// one when `prefix` (`err*`, `'"status":5'*`).
    Phrase {
        /// Field searched (`_msg` by default).
        field: Field,
        /// The word or phrase.
        text: Box<str>,
        /// Matches token prefixes instead of whole tokens at the end.
        prefix: bool,
    },
    /// `field:=value` (or `=value*`): the whole value.
    Exact {
        /// Field compared.
        field: Field,
        /// Expected value (or prefix).
        value: Box<str>,
        /// Compare a prefix only.
        prefix: bool,
    },
    /// `~"re"` / `field:~"re"`: a regexp anywhere in the value.
    Regex {
        /// Field searched.
        field: Field,
        /// Compiled once per distinct query text (queries are cached).
        re: regex::Regex,
    },
    /// `_time:5m` or `_time:[start, end)`; both ends inclusive here.
    Time {
        /// Lower end.
        lo: Bound,
        /// Upper end.
        hi: Bound,
        /// Source text after `_time:` for the canonical form.
        src: Box<str>,
    },
    /// All of them (`a b`, `a AND b`).
    And(Vec<Filter>),
    /// Any of them (`a OR b`).
    Or(Vec<Filter>),
    /// Not (`NOT a`, `!a`, `-a`).
    Not(Box<Filter>),
}

impl Filter {
    /// True when `row` (at timestamp `ts`) matches.
    pub fn matches(&self, ds: &Dataset, row: &Row, ts: i64, now: i64) -> bool {
        match self {
            Filter::All => true,
            Filter::NonEmpty(f) => ds.field(row, f).is_some_and(|v| !v.is_empty()),
            Filter::Phrase {
                field,
                text,
                prefix,
            } => {
                let v = ds.field(row, field).unwrap_or("");
                match_phrase(v, text, *prefix)
            }
            Filter::Exact {
                field,
                value,
                prefix,
            } => {
                let v = ds.field(row, field).unwrap_or("");
                if *prefix {
                    v.starts_with(&**value)
                } else {
                    v == &**value
                }
            }
            Filter::Regex { field, re } => re.is_match(ds.field(row, field).unwrap_or("")),
            Filter::Time { lo, hi, .. } => {
                ts >= lo.resolve(now, i64::MIN) && ts <= hi.resolve(now, i64::MAX)
            }
            Filter::And(fs) => fs.iter().all(|f| f.matches(ds, row, ts, now)),
            Filter::Or(fs) => fs.iter().any(|f| f.matches(ds, row, ts, now)),
            Filter::Not(f) => !f.matches(ds, row, ts, now),
        }
    }

    /// The time range every matching row lies in: the intersection of the
    /// top-level `_time` filters. Lets the scan skip rows outside it.
    pub fn time_range(&self, now: i64) -> (i64, i64) {
        match self {
            Filter::Time { lo, hi, .. } => (lo.resolve(now, i64::MIN), hi.resolve(now, i64::MAX)),
            Filter::And(fs) => fs.iter().fold((i64::MIN, i64::MAX), |(a, b), f| {
                let (c, d) = f.time_range(now);
                (a.max(c), b.min(d))
            }),
            _ => (i64::MIN, i64::MAX),
        }
    }

    /// Builds an AND, flattening nested ANDs and dropping `*` as
    /// VictoriaLogs does (`_msg:* status:5*` prints as `status:5*`).
    pub fn and(items: Vec<Filter>) -> Filter {
        let mut out = Vec::with_capacity(items.len());
        for f in items {
            match f {
                Filter::All => {}
                Filter::And(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => Filter::All,
            1 => out.pop().unwrap_or(Filter::All),
            _ => Filter::And(out),
        }
    }

    /// Builds an OR, flattening nested ORs.
    pub fn or(items: Vec<Filter>) -> Filter {
        let mut out = Vec::with_capacity(items.len());
        for f in items {
            match f {
                Filter::Or(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        if out.len() == 1 {
            out.pop().unwrap_or(Filter::All)
        } else {
            Filter::Or(out)
        }
    }
}

/// True for chars that make up LogsQL tokens (words).
pub fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// VictoriaLogs' phrase match: `phrase` occurs in `hay` with token
/// boundaries at both ends (only at the start when `prefix`). Boundaries
/// are required only where the phrase itself starts/ends with a token char.
pub fn match_phrase(hay: &str, phrase: &str, prefix: bool) -> bool {
    if phrase.is_empty() {
        return if prefix {
            !hay.is_empty()
        } else {
            hay.is_empty()
        };
    }
    let need_start = phrase.chars().next().is_some_and(is_token_char);
    let need_end = !prefix && phrase.chars().next_back().is_some_and(is_token_char);
    hay.match_indices(phrase).any(|(i, _)| {
        let before_ok = !need_start || !hay[..i].chars().next_back().is_some_and(is_token_char);
        let after_ok = !need_end
            || !hay[i + phrase.len()..]
                .chars()
                .next()
                .is_some_and(is_token_char);
        before_ok && after_ok
    })
}

/// Writes `s` bare when it is one plain word, else double-quoted.
pub fn quote_if_needed(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    let plain = !s.is_empty()
        && s.chars().all(is_token_char)
        && !["and", "or", "not"]
            .iter()
            .any(|k| s.eq_ignore_ascii_case(k));
    if plain {
        f.write_str(s)
    } else {
        write!(f, "{s:?}")
    }
}

fn field_prefix(f: &mut fmt::Formatter<'_>, field: &Field) -> fmt::Result {
    if *field == Field::Msg {
        return Ok(());
    }
    quote_if_needed(f, field.name())?;
    f.write_str(":")
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::All => f.write_str("*"),
            Filter::NonEmpty(field) => {
                field_prefix(f, field)?;
                f.write_str("*")
            }
            Filter::Phrase {
                field,
                text,
                prefix,
            } => {
                field_prefix(f, field)?;
                quote_if_needed(f, text)?;
                if *prefix {
                    f.write_str("*")?;
                }
                Ok(())
            }
            Filter::Exact {
                field,
                value,
                prefix,
            } => {
                field_prefix(f, field)?;
                f.write_str("=")?;
                quote_if_needed(f, value)?;
                if *prefix {
                    f.write_str("*")?;
                }
                Ok(())
            }
            Filter::Regex { field, re } => {
                field_prefix(f, field)?;
                write!(f, "~{:?}", re.as_str())
            }
            Filter::Time { src, .. } => write!(f, "_time:{src}"),
            Filter::And(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    if matches!(item, Filter::Or(_)) {
                        write!(f, "({item})")?;
                    } else {
                        write!(f, "{item}")?;
                    }
                }
                Ok(())
            }
            Filter::Or(items) => {
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" or ")?;
                    }
                    write!(f, "{item}")?;
                }
                Ok(())
            }
            Filter::Not(inner) => match **inner {
                Filter::And(_) | Filter::Or(_) => write!(f, "!({inner})"),
                _ => write!(f, "!{inner}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrase_boundaries() {
        assert!(match_phrase("error connecting", "error", false));
        assert!(match_phrase("commit: error=deadlock", "error", false));
        assert!(!match_phrase("errors happen", "error", false));
        assert!(!match_phrase("myerror", "error", false));
        assert!(match_phrase("errors happen", "error", true));
        assert!(!match_phrase("myerror", "err", true));
        assert!(match_phrase(r#"{"status":503}"#, r#""status":5"#, true));
        assert!(!match_phrase(r#"{"status":503}"#, r#""status":5"#, false));
        assert!(match_phrase(
            "connection refused now",
            "connection refused",
            false
        ));
        assert!(match_phrase(
            "loki.source.kubernetes.pods",
            "loki.source.kubernetes.pods",
            false
        ));
        assert!(match_phrase("", "", false));
        assert!(!match_phrase("x", "", false));
    }
}
