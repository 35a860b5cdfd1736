//! A secret never appears in output: Debug, Display, redacted JSON, errors,
//! warnings.

mod common;

use common::{check, edited};

const SECRETS: [&str; 5] = [
    "tok-SECRET-1",
    "pw-SECRET-2",
    "hdr-SECRET-3",
    "url-SECRET-4",
    "cookie-SECRET-5",
];

fn assert_hidden(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks {secret}:\n{text}");
    }
}

#[test]
fn a_valid_config_never_prints_its_secrets() {
    let yaml = edited(&[
        (
            "spec.target.auth",
            Some("{type: bearer, token: tok-SECRET-1}"),
        ),
        (
            "spec.target.headers",
            Some("{X-Api-Key: hdr-SECRET-3, Cookie: cookie-SECRET-5, X-Scope: visible}"),
        ),
        ("spec.queries[0].template", Some(r#"'_msg:*"status":5*'"#)), // a warning, to print warnings too
    ]);
    let config = check(&yaml).unwrap_or_else(|e| panic!("{e}"));
    let auth = config
        .target
        .headers
        .iter()
        .find(|h| h.name == "Authorization")
        .expect("auth header");
    assert_eq!(
        auth.value.expose(),
        "Bearer tok-SECRET-1",
        "the engine still gets the value"
    );

    assert_hidden("Debug", &format!("{config:?}"));
    assert_hidden("pretty Debug", &format!("{config:#?}"));
    assert_hidden("raw Debug", &format!("{:?}", config.raw));
    let json = config.redacted_json();
    assert_hidden("redacted_json", &json.to_string());
    assert_eq!(json["spec"]["target"]["auth"]["token"], "***");
    assert_eq!(json["spec"]["target"]["headers"]["X-Api-Key"], "***");
    assert_eq!(json["spec"]["target"]["headers"]["X-Scope"], "visible");
    for w in &config.warnings {
        assert_hidden("warning", &w.to_string());
    }
}

#[test]
fn basic_auth_password_is_hidden() {
    let yaml = edited(&[(
        "spec.target.auth",
        Some("{type: basic, username: u, password: pw-SECRET-2}"),
    )]);
    let config = check(&yaml).unwrap_or_else(|e| panic!("{e}"));
    assert_hidden("Debug", &format!("{config:?}"));
    assert_hidden("redacted_json", &config.redacted_json().to_string());
    // The encoded header must not leak either.
    let encoded = config
        .target
        .headers
        .iter()
        .find(|h| h.name == "Authorization")
        .map(|h| h.value.expose().to_string());
    let encoded = encoded.unwrap_or_default();
    assert!(!format!("{config:?}").contains(&encoded));
}

#[test]
fn errors_never_quote_secrets() {
    let cases = [
        // A header value that is invalid.
        ("spec.target.headers", "{X-Token: \"hdr-SECRET-3\\n\"}"),
        // Credentials in the URL.
        ("spec.target.url", "http://user:url-SECRET-4@host:9428"),
        // A secret where a map is expected.
        ("spec.target.auth", "tok-SECRET-1"),
        // A secret in a list where text is expected.
        ("spec.target.auth", "{type: bearer, token: [tok-SECRET-1]}"),
        // Two sources, one inline.
        (
            "spec.target.auth",
            "{type: bearer, token: tok-SECRET-1, token_env: TOKEN}",
        ),
        // A secret under an unknown key.
        (
            "spec.target.auth",
            "{type: basic, username: u, pasword: pw-SECRET-2}",
        ),
    ];
    for (path, value) in cases {
        let yaml = edited(&[(path, Some(value)), ("spec.workload.duration", Some("0"))]);
        let err = check(&yaml)
            .err()
            .unwrap_or_else(|| panic!("{path}: {value} should fail"));
        assert!(err.errors.len() >= 2, "{err}");
        assert_hidden("errors Display", &err.to_string());
        assert_hidden("errors Debug", &format!("{err:?}"));
    }
}

#[test]
fn the_target_override_with_credentials_is_not_echoed() {
    let overrides = vlbench_config::Overrides {
        target_url: Some("http://a:url-SECRET-4@h".into()),
        ..Default::default()
    };
    let err = vlbench_config::from_str_with_env(
        &edited(&[]),
        std::path::Path::new("."),
        &overrides,
        &common::env(),
    )
    .expect_err("credentials in the URL are rejected");
    assert_eq!(
        err.to_string(),
        "spec.target.url: must not contain credentials; use `spec.target.auth` (set by --target)"
    );
}
