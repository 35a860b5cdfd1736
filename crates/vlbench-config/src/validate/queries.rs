//! Checks of `spec.queries`: names, templates, endpoint types, weights and
//! endpoint parameters, producing the workload's query list.
//!
//! Owns the VictoriaLogs-specific rules learned from real responses (a
//! leading `|` gets 400 `missing query`, a stats endpoint without a
//! `| stats` pipe gets 422, `_msg:*"..."*` matches nothing). Template and
//! time syntax belong to the workload crate: this module calls
//! `Template::parse` and `TimeValue::parse` and reports their errors with
//! the field path.

use std::time::Duration;

use vlbench_workload::{QueryDef, QueryParams, QueryType, Template, TimeValue, Workload};

use super::{unknown_name, Ctx};
use crate::duration::{format_duration, parse_duration};
use crate::error::FieldPath;
use crate::raw;

/// The validated query list and every name that was valid (for
/// threshold cross-references even when another query has errors).
pub(crate) struct Queries {
    pub(crate) workload: Option<Workload>,
    pub(crate) names: Vec<String>,
}

/// Validates `spec.queries`.
pub(crate) fn queries(
    ctx: &mut Ctx<'_>,
    raw: Option<&Vec<raw::Query>>,
    path: &FieldPath,
) -> Queries {
    let mut out = Queries {
        workload: None,
        names: Vec::new(),
    };
    let Some(raw) = ctx.required(
        path,
        raw,
        "add at least one query with `name` and `template`",
    ) else {
        return out;
    };
    if raw.is_empty() {
        ctx.error(
            path,
            "empty; add at least one query with `name` and `template`",
        );
        return out;
    }
    let mut defs = Vec::with_capacity(raw.len());
    let mut ok = true;
    for (i, q) in raw.iter().enumerate() {
        let here = path.index(i);
        let name = name(ctx, q, &here, &out.names, path);
        if let Some(name) = &name {
            out.names.push(name.clone());
        }
        match (name, query(ctx, q, &here)) {
            (Some(name), Some(mut def)) => {
                def.name = name;
                defs.push(def);
            }
            _ => ok = false,
        }
    }
    if !ok {
        return out;
    }
    match Workload::new(defs) {
        Ok(workload) => out.workload = Some(workload),
        Err(e) => ctx.error(path, e.to_string()),
    }
    out
}

/// A non-empty name not used by an earlier query.
fn name(
    ctx: &mut Ctx<'_>,
    q: &raw::Query,
    here: &FieldPath,
    seen: &[String],
    list: &FieldPath,
) -> Option<String> {
    let path = here.key("name");
    let name = ctx.required(
        &path,
        q.name.as_ref(),
        "name the query; reports and thresholds refer to it",
    )?;
    let name = name.trim();
    if name.is_empty() {
        ctx.error(&path, "is empty; name the query");
        return None;
    }
    if let Some(first) = seen.iter().position(|n| n == name) {
        ctx.error(
            &path,
            format!(
                "`{name}` is already the name of {}; names must be unique",
                list.index(first)
            ),
        );
        return None;
    }
    Some(name.to_string())
}

/// Everything but the name (filled in by the caller).
fn query(ctx: &mut Ctx<'_>, q: &raw::Query, here: &FieldPath) -> Option<QueryDef> {
    let qtype = query_type(ctx, q.kind.as_deref(), &here.key("type"));
    let template = template(ctx, q.template.as_deref(), &here.key("template"), qtype);
    let weight = ctx.count(&here.key("weight"), q.weight.unwrap_or(1), 1);
    let default_params = raw::Params::default();
    let params = params(
        ctx,
        q.params.as_ref().unwrap_or(&default_params),
        &here.key("params"),
        qtype,
    );
    if let Some(category) = &q.category {
        if category.trim().is_empty() {
            ctx.error(
                &here.key("category"),
                "is empty; remove it or name a group such as `filter`",
            );
        }
    }
    Some(QueryDef {
        name: String::new(),
        category: q.category.clone(),
        qtype: qtype?,
        template: template?,
        params: params?,
        weight: weight?,
    })
}

fn query_type(ctx: &mut Ctx<'_>, text: Option<&str>, path: &FieldPath) -> Option<QueryType> {
    let Some(text) = text else {
        return Some(QueryType::Query);
    };
    match text.parse::<QueryType>() {
        Ok(t) => Some(t),
        Err(_) => {
            let names: Vec<&str> = QueryType::ALL.iter().map(|t| t.as_str()).collect();
            ctx.error(path, unknown_name("query type", text, &names));
            None
        }
    }
}

fn template(
    ctx: &mut Ctx<'_>,
    text: Option<&str>,
    path: &FieldPath,
    qtype: Option<QueryType>,
) -> Option<Template> {
    let text = ctx.required(path, text, "write the LogsQL query, e.g. `_time:5m error`")?;
    let trimmed = text.trim();
    if trimmed.is_empty() {
        ctx.error(
            path,
            "is empty; write the LogsQL query, e.g. `_time:5m error` (`*` matches all logs)",
        );
        return None;
    }
    if trimmed.starts_with('|') {
        ctx.error(
            path,
            "starts with a pipe: VictoriaLogs answers 400 `missing query`; put a filter first, e.g. `* | ...`",
        );
        return None;
    }
    if matches!(qtype, Some(QueryType::Stats | QueryType::StatsRange)) && !has_stats_pipe(trimmed) {
        ctx.error(
            path,
            "a `stats`/`stats_range` query needs a `| stats ...` pipe (VictoriaLogs answers 422 otherwise), \
             e.g. `error | stats count() hits`",
        );
        return None;
    }
    if let Some(shape) = broken_msg_wildcard(trimmed) {
        ctx.warn(
            path,
            format!(
                "`{shape}` parses in VictoriaLogs but matches nothing: `*\"` starts a prefix filter on a field \
                 named by the quoted text; to find the text in _msg write `_msg:'\"status\":5'*` (phrase prefix) \
                 or `_msg:~'\"status\":[45][0-9][0-9]'` (regexp)"
            ),
        );
    }
    match Template::parse(text, ctx.base_dir) {
        Ok(t) => Some(t),
        Err(e) => {
            ctx.error(path, e.to_string());
            None
        }
    }
}

/// Whether `query` has a `| stats` pipe (any whitespace around the `|`).
pub(crate) fn has_stats_pipe(query: &str) -> bool {
    query.match_indices('|').any(|(at, _)| {
        let rest = query[at + 1..].trim_start();
        rest.strip_prefix("stats").is_some_and(|after| {
            after.is_empty() || after.starts_with(|c: char| c.is_whitespace() || c == '(')
        })
    })
}

/// The first `field:*"...` outside quotes: VictoriaLogs reads `_msg:*"status":5*`
/// as a prefix filter `status:5*` on a field named `status`, not as text in
/// `_msg`. Returns the offending word for the warning.
pub(crate) fn broken_msg_wildcard(query: &str) -> Option<&str> {
    let bytes = query.as_bytes();
    let mut quote: Option<u8> = None;
    for (i, &b) in bytes.iter().enumerate() {
        match quote {
            Some(q) if b == q && bytes.get(i.wrapping_sub(1)) != Some(&b'\\') => quote = None,
            Some(_) => {}
            None if b == b'"' || b == b'\'' || b == b'`' => quote = Some(b),
            None if b == b':'
                && bytes.get(i + 1) == Some(&b'*')
                && bytes.get(i + 2) == Some(&b'"') =>
            {
                let start = query[..i]
                    .rfind(|c: char| c.is_whitespace() || c == '(')
                    .map_or(0, |p| p + 1);
                let end = query[i..]
                    .find(char::is_whitespace)
                    .map_or(query.len(), |p| i + p);
                return Some(&query[start..end]);
            }
            None => {}
        }
    }
    None
}

fn params(
    ctx: &mut Ctx<'_>,
    raw: &raw::Params,
    path: &FieldPath,
    qtype: Option<QueryType>,
) -> Option<QueryParams> {
    let start = time_value(ctx, raw.start.as_deref(), &path.key("start"));
    let end = time_value(ctx, raw.end.as_deref(), &path.key("end"));
    let mut ok = start.is_some() && end.is_some();
    let (start, end) = (start.flatten(), end.flatten());
    if let (Some(s), Some(e)) = (start, end) {
        if !starts_before(s, e) {
            ctx.error(&path.key("start"), "must be before `end`");
            ok = false;
        }
    }
    let limit = match raw.limit {
        Some(n) => ctx
            .count(&path.key("limit"), n, 1)
            .map(|n| Some(u64::from(n))),
        None => Some(None),
    };
    let step = step(ctx, raw.step.as_deref(), &path.key("step"), qtype);
    let field = field(ctx, raw.field.as_deref(), path, qtype);
    ok &= field.is_some();
    let params = QueryParams {
        start,
        end,
        limit: limit?,
        step: step?,
        field: field.flatten(),
    };
    ok.then_some(params)
}

/// `Some(None)` when unset, `None` on error.
fn time_value(
    ctx: &mut Ctx<'_>,
    text: Option<&str>,
    path: &FieldPath,
) -> Option<Option<TimeValue>> {
    let Some(text) = text else { return Some(None) };
    match TimeValue::parse(text) {
        Ok(t) => Some(Some(t)),
        Err(e) => {
            ctx.error(path, e.to_string());
            None
        }
    }
}

/// Whether `start` is before `end` for every send time; true when they
/// cannot be compared (one fixed, one relative).
fn starts_before(start: TimeValue, end: TimeValue) -> bool {
    let ago = |t: TimeValue| match t {
        TimeValue::Now => Some(Duration::ZERO),
        TimeValue::Relative(d) => Some(d),
        TimeValue::Absolute(_) => None,
    };
    match (start, end, ago(start), ago(end)) {
        (TimeValue::Absolute(s), TimeValue::Absolute(e), _, _) => s < e,
        (_, _, Some(s), Some(e)) => s > e,
        _ => true,
    }
}

fn step(
    ctx: &mut Ctx<'_>,
    text: Option<&str>,
    path: &FieldPath,
    qtype: Option<QueryType>,
) -> Option<Option<String>> {
    let Some(text) = text else { return Some(None) };
    if qtype.is_some_and(|t| !matches!(t, QueryType::StatsRange | QueryType::Hits)) {
        ctx.error(path, "only for `stats_range` and `hits` queries");
        return None;
    }
    match parse_duration(text) {
        Ok(d) if d.is_zero() => {
            ctx.error(
                path,
                "must be > 0 (VictoriaLogs answers 422 for a zero step)",
            );
            None
        }
        Ok(d) => Some(Some(format_duration(d))),
        Err(e) => {
            ctx.error(path, e.to_string());
            None
        }
    }
}

fn field(
    ctx: &mut Ctx<'_>,
    text: Option<&str>,
    params: &FieldPath,
    qtype: Option<QueryType>,
) -> Option<Option<String>> {
    let path = params.key("field");
    match (text.map(str::trim), qtype) {
        (None, Some(QueryType::FieldValues)) => {
            ctx.error(
                &path,
                "missing; `field_values` lists the values of one field, e.g. `level`",
            );
            None
        }
        (Some(""), _) => {
            ctx.error(&path, "is empty; name a log field, e.g. `level`");
            None
        }
        (Some(f), Some(t)) if !matches!(t, QueryType::FieldValues | QueryType::Hits) => {
            ctx.warn(
                &path,
                format!("`{t}` queries ignore `field`; it is used by `field_values` and `hits`"),
            );
            Some(Some(f.to_string()))
        }
        (f, _) => Some(f.map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_pipe_detection() {
        assert!(has_stats_pipe("error | stats count()"));
        assert!(has_stats_pipe("error |stats by (level) count()"));
        assert!(has_stats_pipe("* | fields a | stats(x) count()"));
        assert!(!has_stats_pipe("error"));
        assert!(!has_stats_pipe("error | statsfoo"));
        assert!(!has_stats_pipe("error | sort by (_time)"));
    }

    #[test]
    fn broken_wildcard_detection() {
        assert_eq!(
            broken_msg_wildcard(r#"_msg:*"status":5* OR _msg:*"status":4*"#),
            Some(r#"_msg:*"status":5*"#)
        );
        assert_eq!(
            broken_msg_wildcard(r#"(_msg:*"x"*)"#),
            Some(r#"_msg:*"x"*)"#)
        );
        assert_eq!(
            broken_msg_wildcard(r#"_msg:'"status":5'* OR _msg:'"status":4'*"#),
            None
        );
        assert_eq!(
            broken_msg_wildcard(r#"_msg:~'"status":[45][0-9][0-9]'"#),
            None
        );
        assert_eq!(broken_msg_wildcard(r#"job:"a:*\"b""#), None);
        assert_eq!(broken_msg_wildcard("_msg:*error*"), None);
    }

    #[test]
    fn start_end_order() {
        let h = |n: u64| TimeValue::Relative(Duration::from_secs(n * 3600));
        assert!(starts_before(h(2), h(1)));
        assert!(starts_before(h(1), TimeValue::Now));
        assert!(!starts_before(TimeValue::Now, h(1)));
        assert!(!starts_before(h(1), h(1)));
    }
}
