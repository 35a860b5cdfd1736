//! One test per rule on the document header and `spec.target`.

mod common;

use common::{assert_only_error, check, edited, errors, warnings};
use vlbench_config::HeaderText;

#[test]
fn base_config_is_valid() {
    let config = check(&edited(&[])).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.name, "base");
    assert_eq!(config.target.url.to_string(), "http://127.0.0.1:9428/");
    assert_eq!(config.target.path_prefix(), "");
    assert_eq!(config.target.timeout, std::time::Duration::from_secs(30));
    assert!(!config.target.http2 && config.target.accept_gzip);
    assert!(config.target.headers.is_empty() && config.warnings.is_empty());
}

#[test]
fn api_version_and_kind_are_exact() {
    assert_only_error(
        &[("apiVersion", Some("benchmark.victorialogs.io/v2"))],
        "apiVersion: must be `benchmark.victorialogs.io/v1`, found `benchmark.victorialogs.io/v2`",
    );
    assert_only_error(
        &[("kind", Some("Benchmark"))],
        "kind: must be `BenchmarkConfig`, found `Benchmark`",
    );
    assert_only_error(
        &[("kind", None)],
        "kind: missing; set `kind: BenchmarkConfig`",
    );
}

#[test]
fn metadata_name_is_required_and_file_safe() {
    assert_only_error(
        &[("metadata.name", None)],
        "metadata.name: missing; name the benchmark, e.g. `quickstart`",
    );
    assert_only_error(
        &[("metadata.name", Some("../etc"))],
        "metadata.name: use 1-253 letters, digits, `-`, `_` or `.`, starting with a letter or digit (it names result files)",
    );
}

#[test]
fn url_is_http_with_a_host() {
    assert_only_error(
        &[("spec.target.url", None)],
        "spec.target.url: missing; set the VictoriaLogs base URL, e.g. `http://127.0.0.1:9428`",
    );
    assert_only_error(
        &[("spec.target.url", Some("ftp://host:21"))],
        "spec.target.url: must start with `http://` or `https://`",
    );
    assert_only_error(
        &[("spec.target.url", Some("127.0.0.1:9428"))],
        "spec.target.url: must start with `http://` or `https://` and name a host, e.g. `http://127.0.0.1:9428`",
    );
    assert_only_error(
        &[("spec.target.url", Some("http://u:p@host"))],
        "spec.target.url: must not contain credentials; use `spec.target.auth`",
    );
    assert_only_error(
        &[("spec.target.url", Some("http://host/?a=1"))],
        "spec.target.url: must not contain a query string or fragment; vlbench adds the query arguments itself",
    );
}

#[test]
fn url_keeps_a_path_prefix_without_trailing_slash() {
    let config = check(&edited(&[(
        "spec.target.url",
        Some("https://vl.example:443/logs/"),
    )]))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.target.url.to_string(), "https://vl.example:443/logs");
    assert_eq!(config.target.path_prefix(), "/logs");
}

#[test]
fn timeout_is_a_positive_duration() {
    assert_only_error(
        &[("spec.target.timeout", Some("0s"))],
        "spec.target.timeout: must be > 0",
    );
    assert_only_error(
        &[("spec.target.timeout", Some("30 seconds"))],
        "spec.target.timeout: invalid duration `30 seconds`: unknown unit `seconds`; use ms, s, m, h, d or w",
    );
}

#[test]
fn tenant_ids_must_fit_u32() {
    let config = check(&edited(&[(
        "spec.target.tenant",
        Some("{account_id: 1, project_id: 2}"),
    )]))
    .unwrap_or_else(|e| panic!("{e}"));
    let tenant = config.target.tenant.map(|t| (t.account_id, t.project_id));
    assert_eq!(tenant, Some((1, 2)));
    assert!(
        config.target.headers.is_empty(),
        "the caller adds tenant headers from `tenant`"
    );
    assert_only_error(
        &[("spec.target.tenant.account_id", Some("-1"))],
        "spec.target.tenant.account_id: must be >= 0",
    );
    assert_only_error(
        &[("spec.target.tenant.project_id", Some("4294967296"))],
        "spec.target.tenant.project_id: must be <= 4294967295",
    );
}

#[test]
fn headers_must_be_valid_and_not_conflict() {
    assert_only_error(
        &[("spec.target.headers", Some("{'Bad Name': x}"))],
        "spec.target.headers.Bad Name: not a valid HTTP header name; use letters, digits and `-`",
    );
    assert_only_error(
        &[("spec.target.headers", Some("{X-A: \"a\\nb\"}"))],
        "spec.target.headers.X-A: the value must be visible ASCII text without line breaks",
    );
    assert_only_error(
        &[("spec.target.headers", Some("{X-A: a, x-a: b}"))],
        "spec.target.headers.x-a: the same header as `X-A` (names are case-insensitive); keep one",
    );
    assert_only_error(
        &[("spec.target.tenant", Some("{account_id: 1}")), ("spec.target.headers", Some("{AccountID: '3'}"))],
        "spec.target.headers.AccountID: conflicts with `spec.target.tenant`, which sets this header; keep one",
    );
    assert_only_error(
        &[("spec.target.auth", Some("{type: bearer, token_env: TOKEN}")), ("spec.target.headers", Some("{Authorization: x}"))],
        "spec.target.headers.Authorization: conflicts with `spec.target.auth`, which sets this header; keep one",
    );
}

#[test]
fn credential_like_headers_are_secrets() {
    let config = check(&edited(&[(
        "spec.target.headers",
        Some("{X-Api-Key: k, X-Scope: s}"),
    )]))
    .unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<(&str, bool)> = config
        .target
        .headers
        .iter()
        .map(|h| (h.name.as_str(), h.value.is_secret()))
        .collect();
    assert_eq!(kinds, vec![("X-Api-Key", true), ("X-Scope", false)]);
}

#[test]
fn bearer_auth_from_each_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("token.txt"), "file-token\n").expect("write");
    for (auth, expected) in [
        ("{type: bearer, token: inline-token}", "Bearer inline-token"),
        ("{type: bearer, token_env: TOKEN}", "Bearer env-token-value"),
        ("{type: bearer, token_file: token.txt}", "Bearer file-token"),
    ] {
        let config = common::check_in(&edited(&[("spec.target.auth", Some(auth))]), dir.path())
            .unwrap_or_else(|e| panic!("{e}"));
        let header = config
            .target
            .headers
            .iter()
            .find(|h| h.name == "Authorization")
            .expect("auth header");
        assert!(matches!(header.value, HeaderText::Secret(_)));
        assert_eq!(header.value.expose(), expected);
    }
}

#[test]
fn basic_auth_is_base64_user_colon_password() {
    let config = check(&edited(&[(
        "spec.target.auth",
        Some("{type: basic, username: user, password_env: PASSWORD}"),
    )]))
    .unwrap_or_else(|e| panic!("{e}"));
    let header = config
        .target
        .headers
        .iter()
        .find(|h| h.name == "Authorization")
        .expect("auth header");
    // base64("user:env-password-value")
    assert_eq!(
        header.value.expose(),
        "Basic dXNlcjplbnYtcGFzc3dvcmQtdmFsdWU="
    );
}

#[test]
fn auth_needs_exactly_one_secret_source() {
    assert_only_error(
        &[("spec.target.auth", Some("{type: bearer}"))],
        "spec.target.auth: set exactly one of `token`, `token_file` or `token_env` (none is set)",
    );
    assert_only_error(
        &[("spec.target.auth", Some("{type: bearer, token: a, token_env: TOKEN}"))],
        "spec.target.auth: set exactly one of `token`, `token_file` or `token_env` (found `token` and `token_env`)",
    );
    assert_only_error(
        &[("spec.target.auth", Some("{type: basic, username: u, password: a, password_file: f}"))],
        "spec.target.auth: set exactly one of `password`, `password_file` or `password_env` (found `password` and `password_file`)",
    );
}

#[test]
fn auth_sources_must_resolve() {
    assert_only_error(
        &[(
            "spec.target.auth",
            Some("{type: bearer, token_env: NOT_SET_ANYWHERE}"),
        )],
        "spec.target.auth.token_env: environment variable `NOT_SET_ANYWHERE` is not set",
    );
    assert_only_error(
        &[("spec.target.auth", Some("{type: bearer, token_env: EMPTY}"))],
        "spec.target.auth.token_env: the token is empty",
    );
    let got = errors(&edited(&[(
        "spec.target.auth",
        Some("{type: bearer, token_file: /nonexistent/token}"),
    )]));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("spec.target.auth.token_file: cannot read `/nonexistent/token`: "),
        "{got:?}"
    );
}

#[test]
fn auth_type_and_fields_must_match() {
    assert_only_error(
        &[("spec.target.auth", Some("{type: beaver, token: x}"))],
        "spec.target.auth.type: unknown auth type `beaver`; did you mean `bearer`?",
    );
    assert_only_error(
        &[("spec.target.auth", Some("{token: x}"))],
        "spec.target.auth.type: missing; use `bearer` or `basic`",
    );
    assert_only_error(
        &[(
            "spec.target.auth",
            Some("{type: bearer, token: x, username: u}"),
        )],
        "spec.target.auth.username: only for `type: basic`; remove it",
    );
    assert_only_error(
        &[("spec.target.auth", Some("{type: basic, password: x}"))],
        "spec.target.auth.username: missing; basic auth needs a user name",
    );
    assert_only_error(
        &[("spec.target.auth", Some("{type: basic, username: 'a:b', password: x}"))],
        "spec.target.auth.username: must not contain `:` (basic auth separates user and password with it)",
    );
}

#[test]
fn tls_ca_file_must_be_readable_and_tls_on_http_warns() {
    let got = errors(&edited(&[
        ("spec.target.url", Some("https://h")),
        ("spec.target.tls", Some("{ca_file: missing-ca.pem}")),
    ]));
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with("spec.target.tls.ca_file: cannot read `./missing-ca.pem`: "),
        "{got:?}"
    );
    assert_eq!(
        warnings(&edited(&[(
            "spec.target.tls",
            Some("{insecure_skip_verify: true}")
        )])),
        vec!["spec.target.tls: ignored: the target URL is `http://`; use `https://` for TLS"]
    );
}
