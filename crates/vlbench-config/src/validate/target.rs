//! Checks of `spec.target`: URL, credentials, headers, tenant, TLS and
//! connection options, producing a [`TargetSpec`].
//!
//! Owns resolving secrets from their source (inline, file, environment).
//! Messages never quote a secret or a header value.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;

use super::Ctx;
use crate::error::FieldPath;
use crate::model::{Header, HeaderText, TargetSpec, Tenant, TlsSpec};
use crate::raw;
use crate::secret::{is_sensitive_header, Secret};

/// Default for `spec.target.timeout`.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Validates `spec.target`; `None` when it has errors.
pub(crate) fn target(
    ctx: &mut Ctx<'_>,
    raw: Option<&raw::Target>,
    path: &FieldPath,
) -> Option<TargetSpec> {
    let raw = ctx.required(path, raw, "set `url` of the VictoriaLogs to benchmark")?;
    let url = url(ctx, raw.url.as_ref(), &path.key("url"));
    let mut headers = custom_headers(ctx, raw, &path.key("headers"));
    // `Some(None)`: no tenant; `None`: an invalid one.
    let tenant = match &raw.tenant {
        Some(t) => tenant(ctx, t, &path.key("tenant")).map(Some),
        None => Some(None),
    };
    let auth_ok = match &raw.auth {
        Some(a) => auth(ctx, a, &path.key("auth"))
            .map(|header| headers.push(header))
            .is_some(),
        None => true,
    };
    let tls = tls(ctx, raw.tls.as_ref(), &path.key("tls"), url.as_ref());
    let timeout = ctx.duration(&path.key("timeout"), raw.timeout.as_ref(), DEFAULT_TIMEOUT);
    if timeout.is_some_and(|t| t.is_zero()) {
        ctx.error(&path.key("timeout"), "must be > 0");
    }
    if !auth_ok {
        return None;
    }
    Some(TargetSpec {
        url: url?,
        headers,
        tenant: tenant?,
        tls: tls?,
        timeout: timeout.filter(|t| !t.is_zero())?,
        http2: raw.http2.unwrap_or(false),
        accept_gzip: raw.accept_gzip.unwrap_or(true),
    })
}

/// An `http(s)://host[:port][/prefix]` URL without credentials, query or
/// fragment. The URL is not quoted in messages: it might hold credentials.
fn url(ctx: &mut Ctx<'_>, raw: Option<&raw::Url>, path: &FieldPath) -> Option<http::Uri> {
    let text = ctx.required(
        path,
        raw,
        "set the VictoriaLogs base URL, e.g. `http://127.0.0.1:9428`",
    )?;
    let text = text.0.trim();
    if text.contains(['?', '#']) {
        ctx.error(
            path,
            "must not contain a query string or fragment; vlbench adds the query arguments itself",
        );
        return None;
    }
    let uri: http::Uri = match text.parse() {
        Ok(uri) => uri,
        Err(e) => {
            ctx.error(
                path,
                format!("not a valid URL ({e}); write e.g. `http://127.0.0.1:9428`"),
            );
            return None;
        }
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        ctx.error(
            path,
            "must start with `http://` or `https://` and name a host, e.g. `http://127.0.0.1:9428`",
        );
        return None;
    };
    if scheme != "http" && scheme != "https" {
        ctx.error(path, "must start with `http://` or `https://`");
        return None;
    }
    if authority.as_str().contains('@') {
        ctx.error(path, "must not contain credentials; use `spec.target.auth`");
        return None;
    }
    if authority.host().is_empty() {
        ctx.error(path, "has no host; write e.g. `http://127.0.0.1:9428`");
        return None;
    }
    let prefix = uri.path().trim_end_matches('/');
    let normalized = format!("{scheme}://{authority}{prefix}");
    match normalized.parse() {
        Ok(uri) => Some(uri),
        Err(e) => {
            ctx.error(path, format!("not a valid URL ({e})"));
            None
        }
    }
}

/// `spec.target.headers`: valid names and values, no duplicates.
fn custom_headers(ctx: &mut Ctx<'_>, raw: &raw::Target, path: &FieldPath) -> Vec<Header> {
    let Some(map) = &raw.headers else {
        return Vec::new();
    };
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    let mut headers = Vec::new();
    for (name, value) in &map.0 {
        let here = path.key(name);
        let lower = name.to_ascii_lowercase();
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            ctx.error(
                &here,
                "not a valid HTTP header name; use letters, digits and `-`",
            );
            continue;
        }
        if let Some(first) = seen.insert(lower.clone(), name) {
            ctx.error(
                &here,
                format!("the same header as `{first}` (names are case-insensitive); keep one"),
            );
            continue;
        }
        if http::HeaderValue::from_str(value).is_err() {
            ctx.error(
                &here,
                "the value must be visible ASCII text without line breaks",
            );
            continue;
        }
        if conflicts(ctx, raw, &here, &lower) {
            continue;
        }
        let value = if is_sensitive_header(name) {
            HeaderText::Secret(Secret::new(value.clone()))
        } else {
            HeaderText::Plain(value.clone())
        };
        headers.push(Header {
            name: name.clone(),
            value,
        });
    }
    headers
}

/// Headers that another key already sets.
fn conflicts(ctx: &mut Ctx<'_>, raw: &raw::Target, path: &FieldPath, lower: &str) -> bool {
    if lower == "authorization" && raw.auth.is_some() {
        ctx.error(
            path,
            "conflicts with `spec.target.auth`, which sets this header; keep one",
        );
        return true;
    }
    if (lower == "accountid" || lower == "projectid") && raw.tenant.is_some() {
        ctx.error(
            path,
            "conflicts with `spec.target.tenant`, which sets this header; keep one",
        );
        return true;
    }
    false
}

fn tenant(ctx: &mut Ctx<'_>, raw: &raw::Tenant, path: &FieldPath) -> Option<Tenant> {
    let account_id = ctx.count(&path.key("account_id"), raw.account_id.unwrap_or(0), 0);
    let project_id = ctx.count(&path.key("project_id"), raw.project_id.unwrap_or(0), 0);
    Some(Tenant {
        account_id: account_id?,
        project_id: project_id?,
    })
}

fn tls(
    ctx: &mut Ctx<'_>,
    raw: Option<&raw::Tls>,
    path: &FieldPath,
    url: Option<&http::Uri>,
) -> Option<TlsSpec> {
    let Some(raw) = raw else {
        return Some(TlsSpec::default());
    };
    if url.and_then(|u| u.scheme_str()) == Some("http") {
        ctx.warn(
            path,
            "ignored: the target URL is `http://`; use `https://` for TLS",
        );
    }
    let ca_file = match &raw.ca_file {
        Some(file) => Some(readable_file(ctx, &path.key("ca_file"), file)?),
        None => None,
    };
    let insecure_skip_verify = raw.insecure_skip_verify.unwrap_or(false);
    if insecure_skip_verify && ca_file.is_some() {
        ctx.warn(
            &path.key("insecure_skip_verify"),
            "`ca_file` has no effect while certificate checks are off",
        );
    }
    Some(TlsSpec {
        ca_file,
        insecure_skip_verify,
    })
}

/// `file` resolved against the benchmark file's directory, if readable.
fn readable_file(ctx: &mut Ctx<'_>, path: &FieldPath, file: &str) -> Option<PathBuf> {
    read_file(ctx, path, file).map(|(resolved, _)| resolved)
}

/// Reads `file` (relative to the benchmark file's directory).
fn read_file(ctx: &mut Ctx<'_>, path: &FieldPath, file: &str) -> Option<(PathBuf, String)> {
    if file.trim().is_empty() {
        ctx.error(path, "is empty; name a file");
        return None;
    }
    let resolved = ctx.base_dir.join(file);
    match std::fs::read_to_string(&resolved) {
        Ok(text) => Some((resolved, text)),
        Err(e) => {
            ctx.error(
                path,
                format!(
                    "cannot read `{}`: {e}; relative paths start at the benchmark file's directory",
                    resolved.display()
                ),
            );
            None
        }
    }
}

/// The `Authorization` header for `spec.target.auth`; `None` on errors.
fn auth(ctx: &mut Ctx<'_>, raw: &raw::Auth, path: &FieldPath) -> Option<Header> {
    let kind = ctx.required(
        &path.key("type"),
        raw.kind.as_ref(),
        "use `bearer` or `basic`",
    )?;
    let bearer = match kind.as_str() {
        "bearer" => true,
        "basic" => false,
        other => {
            ctx.error(
                &path.key("type"),
                super::unknown_name("auth type", other, &["bearer", "basic"]),
            );
            return None;
        }
    };
    let stray = stray_auth_fields(ctx, raw, path, bearer);
    let value = authorization(ctx, raw, path, bearer)?;
    if http::HeaderValue::from_str(&value).is_err() {
        ctx.error(path, "the credentials contain characters not allowed in an HTTP header (line breaks or control characters)");
        return None;
    }
    (!stray).then(|| Header {
        name: "Authorization".into(),
        value: HeaderText::Secret(Secret::new(value)),
    })
}

/// Reports fields of the other auth type; true when there were any.
fn stray_auth_fields(ctx: &mut Ctx<'_>, raw: &raw::Auth, path: &FieldPath, bearer: bool) -> bool {
    const BEARER: [&str; 3] = ["token", "token_file", "token_env"];
    const BASIC: [&str; 4] = ["username", "password", "password_file", "password_env"];
    let (other, other_kind) = if bearer {
        (&BASIC[..], "basic")
    } else {
        (&BEARER[..], "bearer")
    };
    let mut stray = false;
    for field in other {
        if auth_field_set(raw, field) {
            ctx.error(
                &path.key(field),
                format!("only for `type: {other_kind}`; remove it"),
            );
            stray = true;
        }
    }
    stray
}

/// The `Authorization` header value: `Bearer <token>` or `Basic <base64>`.
fn authorization(
    ctx: &mut Ctx<'_>,
    raw: &raw::Auth,
    path: &FieldPath,
    bearer: bool,
) -> Option<String> {
    if bearer {
        let sources = (&raw.token, &raw.token_file, &raw.token_env);
        let token = secret(ctx, path, "token", sources)?;
        return Some(format!("Bearer {}", token.expose()));
    }
    let username = username(ctx, &path.key("username"), raw.username.as_deref());
    let sources = (&raw.password, &raw.password_file, &raw.password_env);
    let password = secret(ctx, path, "password", sources);
    let credentials = format!("{}:{}", username?, password?.expose());
    let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
    Some(format!("Basic {encoded}"))
}

fn auth_field_set(raw: &raw::Auth, field: &str) -> bool {
    match field {
        "token" => raw.token.is_some(),
        "token_file" => raw.token_file.is_some(),
        "token_env" => raw.token_env.is_some(),
        "username" => raw.username.is_some(),
        "password" => raw.password.is_some(),
        "password_file" => raw.password_file.is_some(),
        "password_env" => raw.password_env.is_some(),
        _ => false,
    }
}

fn username(ctx: &mut Ctx<'_>, path: &FieldPath, raw: Option<&str>) -> Option<String> {
    let name = ctx.required(path, raw, "basic auth needs a user name")?;
    if name.is_empty() {
        ctx.error(path, "is empty; basic auth needs a user name");
        return None;
    }
    if name.contains(':') {
        ctx.error(
            path,
            "must not contain `:` (basic auth separates user and password with it)",
        );
        return None;
    }
    Some(name.to_string())
}

/// Exactly one source of the secret `what`: inline `what`, `what_file` or
/// `what_env`.
fn secret(
    ctx: &mut Ctx<'_>,
    path: &FieldPath,
    what: &str,
    (inline, file, env): (&Option<Secret>, &Option<String>, &Option<String>),
) -> Option<Secret> {
    let names = [
        what.to_string(),
        format!("{what}_file"),
        format!("{what}_env"),
    ];
    let set: Vec<String> = [inline.is_some(), file.is_some(), env.is_some()]
        .iter()
        .zip(&names)
        .filter(|(is_set, _)| **is_set)
        .map(|(_, name)| format!("`{name}`"))
        .collect();
    if set.len() != 1 {
        let found = if set.is_empty() {
            "none is set".to_string()
        } else {
            format!("found {}", set.join(" and "))
        };
        let [a, b, c] = &names;
        ctx.error(
            path,
            format!("set exactly one of `{a}`, `{b}` or `{c}` ({found})"),
        );
        return None;
    }
    let (value, at) = if let Some(secret) = inline {
        (secret.expose().to_string(), path.key(&names[0]))
    } else if let Some(file) = file {
        let at = path.key(&names[1]);
        let (_, text) = read_file(ctx, &at, file)?;
        (text.trim_end_matches(['\n', '\r']).to_string(), at)
    } else {
        let at = path.key(&names[2]);
        let var = env.as_deref().unwrap_or_default();
        match ctx.env.var(var) {
            Some(value) => (value, at),
            None => {
                ctx.error(&at, format!("environment variable `{var}` is not set"));
                return None;
            }
        }
    };
    if value.is_empty() {
        ctx.error(&at, format!("the {what} is empty"));
        return None;
    }
    Some(Secret::new(value))
}
