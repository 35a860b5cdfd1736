//! Parsing of the filter part of LogsQL (everything before the first `|`
//! and the bodies of filter pipes).
//!
//! Owns: precedence (`NOT` > `AND`/juxtaposition > `OR`), field prefixes,
//! word/phrase/prefix/regexp/exact/`*` filters and `_time` filters, with
//! errors that say what is unsupported. Must not: evaluate anything.

use super::filter::{Bound, Filter};
use super::lexer::{Lexer, Tok};
use super::{pipes, ParseError, Pipe, Query};
use crate::data::Field;
use crate::time::{parse_duration, parse_time_arg};

/// Filter functions of LogsQL that the subset does not implement.
const UNSUPPORTED_FUNCS: &[&str] = &[
    "i",
    "in",
    "seq",
    "re",
    "range",
    "len_range",
    "exact",
    "contains_all",
    "contains_any",
    "eq_field",
    "le_field",
    "lt_field",
    "ipv4_range",
    "string_range",
    "value_type",
    "pattern_match",
    "pattern_match_prefix",
    "pattern_match_suffix",
    "contains_common_case",
    "equals_common_case",
    "substring",
];

pub(super) fn err<T>(lx: &Lexer<'_>, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError {
        message: message.into(),
        context: lx.context().to_string(),
    })
}

pub(super) fn parse_query(text: &str) -> Result<Query, ParseError> {
    let mut lx = Lexer::new(text);
    if lx.tok == Tok::Eof || lx.is_punct('|') {
        return err(&lx, "missing query");
    }
    let mut filter = parse_or(&mut lx, &Field::Msg)?;
    let mut pipes: Vec<Pipe> = Vec::new();
    while lx.is_punct('|') {
        lx.next();
        let pipe = pipes::parse_pipe(&mut lx)?;
        match pipe {
            // Leading filter pipes join the main filter, as in VictoriaLogs:
            // `error | frobnicate` is the query `error frobnicate`.
            Pipe::Filter(f) if pipes.is_empty() => filter = Filter::and(vec![filter, f]),
            other => pipes.push(other),
        }
    }
    if lx.bad_quote {
        return err(&lx, "unterminated quoted string");
    }
    if lx.tok != Tok::Eof {
        return err(&lx, format!("unexpected token {:?}", lx.tok_text()));
    }
    pipes::check_order(&pipes).or_else(|m| err(&lx, m))?;
    Ok(Query { filter, pipes })
}

/// `a or b or c`.
pub(super) fn parse_or(lx: &mut Lexer<'_>, field: &Field) -> Result<Filter, ParseError> {
    let mut items = vec![parse_and(lx, field)?];
    while lx.is_word("or") {
        lx.next();
        items.push(parse_and(lx, field)?);
    }
    Ok(Filter::or(items))
}

fn ends_and(lx: &Lexer<'_>) -> bool {
    matches!(lx.tok, Tok::Eof | Tok::Punct('|') | Tok::Punct(')')) || lx.is_word("or")
}

fn parse_and(lx: &mut Lexer<'_>, field: &Field) -> Result<Filter, ParseError> {
    let mut items = Vec::new();
    loop {
        if lx.is_word("and") {
            lx.next();
        }
        if ends_and(lx) {
            break;
        }
        items.push(parse_unary(lx, field)?);
    }
    if items.is_empty() {
        return err(lx, "missing filter");
    }
    Ok(Filter::and(items))
}

fn parse_unary(lx: &mut Lexer<'_>, field: &Field) -> Result<Filter, ParseError> {
    if lx.is_word("not") || lx.is_punct('!') || lx.is_punct('-') {
        lx.next();
        return Ok(Filter::Not(Box::new(parse_unary(lx, field)?)));
    }
    if lx.is_punct('(') {
        return parse_group(lx, field);
    }
    parse_term(lx, field)
}

fn parse_group(lx: &mut Lexer<'_>, field: &Field) -> Result<Filter, ParseError> {
    lx.next();
    let inner = parse_or(lx, field)?;
    if !lx.is_punct(')') {
        return err(lx, "missing ')'");
    }
    lx.next();
    Ok(inner)
}

/// A single filter with an optional `field:` prefix.
fn parse_term(lx: &mut Lexer<'_>, default: &Field) -> Result<Filter, ParseError> {
    let mut field = default.clone();
    if let Tok::Word(name) | Tok::Quoted(name) = &lx.tok {
        let name = name.clone();
        if lx.src()[lx.context().len()..].starts_with(':') {
            lx.next();
            lx.next();
            field = Field::from_name(&name);
            if field == Field::Time {
                return parse_time(lx);
            }
        }
    }
    parse_value(lx, field)
}

fn parse_value(lx: &mut Lexer<'_>, field: Field) -> Result<Filter, ParseError> {
    match lx.tok.clone() {
        Tok::Punct('*') => {
            lx.next();
            Ok(if field == Field::Msg { Filter::All } else { Filter::NonEmpty(field) })
        }
        Tok::Punct('(') => parse_group(lx, &field),
        Tok::Punct('~') => {
            lx.next();
            let (Tok::Word(src) | Tok::Quoted(src)) = lx.tok.clone() else {
                return err(lx, "missing regexp after '~'");
            };
            let re = match regex::Regex::new(&src) {
                Ok(re) => re,
                Err(e) => return err(lx, format!("cannot parse regexp {src:?}: {e}")),
            };
            lx.next();
            Ok(Filter::Regex { field, re })
        }
        Tok::Punct('=') => {
            lx.next();
            let (Tok::Word(value) | Tok::Quoted(value)) = lx.tok.clone() else {
                return err(lx, "missing value after '='");
            };
            lx.next();
            let prefix = take_star(lx);
            Ok(Filter::Exact { field, value: value.into(), prefix })
        }
        Tok::Punct(c @ ('<' | '>')) => err(
            lx,
            format!("range filter '{c}' is not supported by vlbench target; use words, phrases or regexps"),
        ),
        Tok::Word(w) => {
            if w.starts_with('-') && w.len() > 1 && lx.spaced {
                // `-` was kept in the word (e.g. after a field prefix).
                return err(lx, format!("unexpected token {w:?}"));
            }
            lx.next();
            if lx.is_punct('(') && !lx.spaced {
                if UNSUPPORTED_FUNCS.contains(&w.as_str()) {
                    return err(lx, format!("filter {w}() is not supported by vlbench target"));
                }
                return err(lx, format!("unexpected '(' after {w:?}"));
            }
            let prefix = take_star(lx);
            Ok(Filter::Phrase { field, text: w.into(), prefix })
        }
        Tok::Quoted(q) => {
            lx.next();
            let prefix = take_star(lx);
            Ok(Filter::Phrase { field, text: q.into(), prefix })
        }
        Tok::Eof => err(lx, "missing filter"),
        Tok::Punct(_) => err(lx, format!("unexpected token {:?}", lx.tok_text())),
    }
}

/// Consumes a `*` glued to the previous token (a prefix filter).
fn take_star(lx: &mut Lexer<'_>) -> bool {
    if lx.is_punct('*') && !lx.spaced {
        lx.next();
        true
    } else {
        false
    }
}

/// After `_time:`: a duration (`5m`) or a range (`[start, end)`).
fn parse_time(lx: &mut Lexer<'_>) -> Result<Filter, ParseError> {
    if lx.is_punct('[') || lx.is_punct('(') {
        let open_inclusive = lx.is_punct('[');
        let raw = lx.raw_until(|c| c == ']' || c == ')');
        let close_inclusive = lx.take_raw_char(']');
        if !close_inclusive && !lx.take_raw_char(')') {
            return err(lx, "missing ']' or ')' at the end of the _time range");
        }
        let body = raw.get(1..).unwrap_or("");
        let Some((a, b)) = body.split_once(',') else {
            return err(
                lx,
                format!("cannot parse _time range {raw:?}: write [start, end)"),
            );
        };
        let lo = time_bound(lx, a.trim())?;
        let hi = time_bound(lx, b.trim())?;
        let adjust = |bound: Bound, by: i64| match bound {
            Bound::At(t) => Bound::At(t.saturating_add(by)),
            Bound::Ago(d) => Bound::Ago(d.saturating_sub(by)),
            Bound::Open => Bound::Open,
        };
        let lo = if open_inclusive { lo } else { adjust(lo, 1) };
        let hi = if close_inclusive { hi } else { adjust(hi, -1) };
        let close = if close_inclusive { ']' } else { ')' };
        let src = format!("{raw}{close}");
        return Ok(Filter::Time {
            lo,
            hi,
            src: src.into(),
        });
    }
    let raw = lx.raw_until(|c| c.is_whitespace() || c == ')' || c == '|');
    match parse_duration(raw) {
        Some(d) if d > 0 => Ok(Filter::Time { lo: Bound::Ago(d), hi: Bound::Ago(0), src: raw.into() }),
        _ => err(
            lx,
            format!("cannot parse _time filter {raw:?}: vlbench target supports _time:5m and _time:[start, end)"),
        ),
    }
}

fn time_bound(lx: &Lexer<'_>, s: &str) -> Result<Bound, ParseError> {
    if s == "now" {
        return Ok(Bound::Ago(0));
    }
    if let Some(d) = parse_duration(s).filter(|_| s.parse::<f64>().is_err()) {
        return Ok(Bound::Ago(d.abs()));
    }
    match parse_time_arg(s, 0) {
        Ok(t) => Ok(Bound::At(t)),
        Err(e) => err(lx, format!("cannot parse _time bound: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;

    fn canon(q: &str) -> String {
        parse(q)
            .map(|q| q.to_string())
            .unwrap_or_else(|e| e.render(q))
    }

    #[test]
    fn canonical_forms_match_victorialogs() {
        assert_eq!(
            canon(r#"_msg:*"status":5* OR _msg:*"status":4*"#),
            "status:5* or status:4*"
        );
        assert_eq!(canon("error | frobnicate"), "error frobnicate");
        assert_eq!(canon("error"), "error");
        assert_eq!(
            canon(r#"job:"loki.source.kubernetes.pods""#),
            r#"job:"loki.source.kubernetes.pods""#
        );
        assert_eq!(canon("a AND (b OR c) NOT d -e !f"), "a (b or c) !d !e !f");
        assert_eq!(
            canon("level:error | stats count()"),
            "level:error | stats count(*) as \"count(*)\""
        );
    }

    #[test]
    fn errors_match_victorialogs() {
        assert_eq!(
            canon(""),
            "cannot parse query []: missing query; context: []"
        );
        assert_eq!(
            canon("| limit 10"),
            "cannot parse query [| limit 10]: missing query; context: [|]"
        );
        assert_eq!(
            canon("error | stats by (namespace count()"),
            "cannot parse query [error | stats by (namespace count()]: cannot parse 'stats' pipe: \
             cannot parse 'by' clause: unexpected token: \"count\"; expecting ',' or ')'; \
             context: [error | stats by (namespace count]"
        );
        assert_eq!(
            canon("level:error | stats count("),
            "cannot parse query [level:error | stats count(]: cannot parse 'stats' pipe: \
             cannot parse 'count' func: cannot parse \"count\" args: cannot parse field name: \
             cannot parse field name: compound token cannot start with ''; \
             context: [level:error | stats count(]"
        );
    }

    #[test]
    fn subset_parses() {
        for q in [
            "*",
            "err*",
            r#"'"status":5'*"#,
            r#"~"re" AND level:~"e.r""#,
            "_time:5m error",
            "_time:[2026-11-25T04:00:00Z, now) level:=error",
            "namespace:(payments OR auth)",
            "* | limit 10 | fields _time, _msg",
            "* | sort by (_time) desc | head 5",
            "* | stats by (level, namespace) count() hits, count_uniq(pod) pods",
            "* | stats count() as rows | sort by (rows desc) | limit 3",
        ] {
            assert!(parse(q).is_ok(), "{q}: {:?}", parse(q).err());
        }
        for q in [
            "i(error)",
            "status:>400",
            "_time:soon",
            "* | unpack_json",
            "(a",
            "\"open",
        ] {
            assert!(parse(q).is_err(), "{q}");
        }
    }
}
