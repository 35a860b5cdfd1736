//! Parsing of pipes (`| limit 10`, `| stats by (a) count() hits`, ...).
//!
//! Owns: the pipe syntax of the subset, VictoriaLogs' treatment of unknown
//! pipe names (read as a filter), and clear errors for real LogsQL pipes
//! the target does not implement. Must not: evaluate pipes.

use super::lexer::{Lexer, Tok};
use super::parser::{err, parse_or};
use super::{ParseError, Pipe, SortPipe, StatsFunc, StatsKind, StatsPipe};
use crate::data::Field;

/// LogsQL pipes that exist in VictoriaLogs but not in the subset.
const UNSUPPORTED_PIPES: &[&str] = &[
    "block_stats",
    "blocks_count",
    "collapse_nums",
    "copy",
    "cp",
    "decolorize",
    "delete",
    "del",
    "rm",
    "drop",
    "drop_empty_fields",
    "eval",
    "extract",
    "extract_regexp",
    "facets",
    "field_names",
    "field_values",
    "first",
    "format",
    "generate_sequence",
    "hash",
    "join",
    "json_array_len",
    "last",
    "len",
    "math",
    "pack_json",
    "pack_logfmt",
    "query_stats",
    "rename",
    "mv",
    "replace",
    "replace_regexp",
    "running_stats",
    "sample",
    "set_stream_fields",
    "split",
    "stream_context",
    "time_add",
    "top",
    "total_stats",
    "union",
    "uniq",
    "unpack_json",
    "unpack_logfmt",
    "unpack_syslog",
    "unpack_words",
    "unroll",
];

const SUPPORTED: &str =
    "limit, head, offset, skip, fields, keep, sort, order, stats, filter, where";

pub(super) fn parse_pipe(lx: &mut Lexer<'_>) -> Result<Pipe, ParseError> {
    let Tok::Word(name) = lx.tok.clone() else {
        return err(lx, "missing pipe name after '|'");
    };
    let lower = name.to_ascii_lowercase();
    match lower.as_str() {
        "limit" | "head" => {
            lx.next();
            Ok(Pipe::Limit(parse_count(lx, &lower)?.unwrap_or(10)))
        }
        "offset" | "skip" => {
            lx.next();
            match parse_count(lx, &lower)? {
                Some(n) => Ok(Pipe::Offset(n)),
                None => err(lx, format!("cannot parse '{lower}' pipe: missing number")),
            }
        }
        "fields" | "keep" => {
            lx.next();
            Ok(Pipe::Fields(parse_field_list(lx, &lower)?))
        }
        "sort" | "order" => {
            lx.next();
            parse_sort(lx).map(Pipe::Sort)
        }
        "stats" => {
            lx.next();
            parse_stats(lx).map(Pipe::Stats)
        }
        "filter" | "where" => {
            lx.next();
            parse_or(lx, &Field::Msg).map(Pipe::Filter)
        }
        n if UNSUPPORTED_PIPES.contains(&n) => err(
            lx,
            format!("pipe '{n}' is not supported by vlbench target; supported pipes: {SUPPORTED}"),
        ),
        // VictoriaLogs reads an unknown pipe name as the start of a filter.
        _ => parse_or(lx, &Field::Msg).map(Pipe::Filter),
    }
}

/// Pipes after `stats` work on its result rows; the subset supports only
/// ordering and cutting them.
pub(super) fn check_order(pipes: &[Pipe]) -> Result<(), String> {
    let Some(at) = pipes.iter().position(|p| matches!(p, Pipe::Stats(_))) else {
        return Ok(());
    };
    for p in &pipes[at + 1..] {
        if !matches!(p, Pipe::Sort(_) | Pipe::Limit(_) | Pipe::Offset(_)) {
            return Err(format!(
                "pipe '{p}' after 'stats' is not supported by vlbench target; use sort, limit or offset there"
            ));
        }
    }
    Ok(())
}

fn parse_count(lx: &mut Lexer<'_>, pipe: &str) -> Result<Option<u64>, ParseError> {
    let Tok::Word(w) = lx.tok.clone() else {
        return Ok(None);
    };
    match w.parse::<u64>() {
        Ok(n) => {
            lx.next();
            Ok(Some(n))
        }
        Err(_) => err(
            lx,
            format!("cannot parse '{pipe}' pipe: cannot parse number {w:?}"),
        ),
    }
}

fn parse_field_list(lx: &mut Lexer<'_>, pipe: &str) -> Result<Vec<Field>, ParseError> {
    let mut fields = Vec::new();
    loop {
        match lx.tok.clone() {
            Tok::Word(w) | Tok::Quoted(w) => fields.push(Field::from_name(&w)),
            Tok::Punct('*') => {}
            _ => {
                return err(
                    lx,
                    format!("cannot parse '{pipe}' pipe: missing field name"),
                )
            }
        }
        lx.next();
        if !lx.is_punct(',') {
            return Ok(fields);
        }
        lx.next();
    }
}

fn parse_sort(lx: &mut Lexer<'_>) -> Result<SortPipe, ParseError> {
    if lx.is_word("by") {
        lx.next();
    }
    if !lx.is_punct('(') {
        return err(lx, "cannot parse 'sort' pipe: missing '('");
    }
    lx.next();
    let mut keys = Vec::new();
    while !lx.is_punct(')') {
        let (Tok::Word(name) | Tok::Quoted(name)) = lx.tok.clone() else {
            return err(lx, "cannot parse 'sort' pipe: missing field name");
        };
        lx.next();
        let desc = lx.is_word("desc");
        if desc || lx.is_word("asc") {
            lx.next();
        }
        keys.push((Field::from_name(&name), desc));
        if lx.is_punct(',') {
            lx.next();
        } else if !lx.is_punct(')') {
            return err(lx, "cannot parse 'sort' pipe: expecting ',' or ')'");
        }
    }
    lx.next();
    if lx.is_word("desc") {
        lx.next();
        for k in &mut keys {
            k.1 = !k.1;
        }
    }
    let mut limit = None;
    if lx.is_word("limit") {
        lx.next();
        limit = parse_count(lx, "sort")?;
    }
    Ok(SortPipe { keys, limit })
}

fn parse_stats(lx: &mut Lexer<'_>) -> Result<StatsPipe, ParseError> {
    let mut by = Vec::new();
    let has_by = lx.is_word("by");
    if has_by {
        lx.next();
    }
    if has_by || lx.is_punct('(') {
        if !lx.is_punct('(') {
            return err(
                lx,
                "cannot parse 'stats' pipe: cannot parse 'by' clause: missing '('",
            );
        }
        lx.next();
        while !lx.is_punct(')') {
            let (Tok::Word(name) | Tok::Quoted(name)) = lx.tok.clone() else {
                return err(
                    lx,
                    "cannot parse 'stats' pipe: cannot parse 'by' clause: missing field name",
                );
            };
            by.push(Field::from_name(&name));
            lx.next();
            if lx.is_punct(',') {
                lx.next();
            } else if !lx.is_punct(')') {
                let tok = lx.tok_text();
                return err(
                    lx,
                    format!("cannot parse 'stats' pipe: cannot parse 'by' clause: unexpected token: {tok:?}; expecting ',' or ')'"),
                );
            }
        }
        lx.next();
    }
    let mut funcs = vec![parse_func(lx)?];
    while lx.is_punct(',') {
        lx.next();
        funcs.push(parse_func(lx)?);
    }
    Ok(StatsPipe { by, funcs })
}

fn parse_func(lx: &mut Lexer<'_>) -> Result<StatsFunc, ParseError> {
    let Tok::Word(name) = lx.tok.clone() else {
        return err(lx, "cannot parse 'stats' pipe: missing stats func");
    };
    let name = name.to_ascii_lowercase();
    if name != "count" && name != "count_uniq" {
        return err(
            lx,
            format!("cannot parse 'stats' pipe: stats func {name:?} is not supported by vlbench target; use count() or count_uniq(field)"),
        );
    }
    lx.next();
    if !lx.is_punct('(') {
        return err(
            lx,
            format!("cannot parse 'stats' pipe: missing '(' after {name:?}"),
        );
    }
    lx.next();
    let mut args = Vec::new();
    while !lx.is_punct(')') {
        match lx.tok.clone() {
            Tok::Word(w) | Tok::Quoted(w) => args.push(Field::from_name(&w)),
            Tok::Punct('*') => {}
            _ => {
                let tok = lx.tok_text();
                return err(
                    lx,
                    format!("cannot parse 'stats' pipe: cannot parse '{name}' func: cannot parse {name:?} args: cannot parse field name: cannot parse field name: compound token cannot start with '{tok}'"),
                );
            }
        }
        lx.next();
        if lx.is_punct(',') {
            lx.next();
        }
    }
    lx.next();
    let canonical = format!(
        "{name}({})",
        if args.is_empty() {
            "*".to_string()
        } else {
            args.iter().map(Field::name).collect::<Vec<_>>().join(", ")
        }
    );
    let kind = if name == "count" {
        StatsKind::Count(args)
    } else if args.is_empty() {
        return err(
            lx,
            "cannot parse 'stats' pipe: count_uniq() needs at least one field",
        );
    } else {
        StatsKind::CountUniq(args)
    };
    if lx.is_word("as") {
        lx.next();
    }
    let result = match lx.tok.clone() {
        Tok::Word(w) | Tok::Quoted(w) => {
            lx.next();
            w
        }
        _ => canonical,
    };
    Ok(StatsFunc {
        kind,
        name: result.into(),
    })
}
