//! Secret values (tokens, passwords, sensitive header values) and the rule
//! that decides which header names are sensitive.
//!
//! Owns the guarantee that a secret never reaches output by accident: every
//! formatting and serialisation path prints `***`. Code that needs the value
//! (building the `Authorization` header) calls [`Secret::expose`] by name, so
//! reviewers can find every use. It must not log or compare secrets.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What every secret prints as.
pub const REDACTED: &str = "***";

/// A string that must not appear in output, logs or reports.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value read from the config, a file or the environment.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The real value, for the one place that sends it (an HTTP header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// Whether a header's value is a credential: `Authorization`,
/// `Proxy-Authorization`, cookies, and any name containing token, secret,
/// password or key (case-insensitive). Errs on the side of hiding.
pub fn is_sensitive_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "token",
        "secret",
        "password",
        "passwd",
        "key",
    ]
    .iter()
    .any(|word| lower.contains(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_hides_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s}"), REDACTED);
        assert_eq!(format!("{s:?}"), REDACTED);
        assert_eq!(format!("{s:#?}"), REDACTED);
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some("\"***\""));
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn sensitive_header_names() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "X-Api-Key",
            "X-Auth-Token",
            "Cookie",
            "X-Secret",
        ] {
            assert!(is_sensitive_header(name), "{name}");
        }
        for name in ["X-Scope", "Accept", "User-Agent"] {
            assert!(!is_sensitive_header(name), "{name}");
        }
    }
}
