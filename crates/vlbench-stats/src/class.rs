//! Error classes: the small `Copy` value the hot path records instead of an
//! error message. Owns the class names used in every report and on the wire.

use serde::{Deserialize, Serialize};

/// Why a request failed. A fixed, small set so that counting is an array
/// index and report labels are bounded.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// TCP or TLS connection failure.
    Connect,
    /// No complete response within the request timeout.
    Timeout,
    /// A 4xx status.
    #[serde(rename = "http_4xx")]
    Http4xx,
    /// A 5xx status.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// The body was cut (chunked decoding error, early close).
    Body,
    /// A 2xx whose body is not what the endpoint returns.
    InvalidResponse,
}

impl ErrorClass {
    /// Every class, in index order: reports list all of them, zeros included.
    pub const ALL: [ErrorClass; 6] = [
        ErrorClass::Connect,
        ErrorClass::Timeout,
        ErrorClass::Http4xx,
        ErrorClass::Http5xx,
        ErrorClass::Body,
        ErrorClass::InvalidResponse,
    ];

    /// The name used in reports, labels and on the wire (same as serde).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Connect => "connect",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Http4xx => "http_4xx",
            ErrorClass::Http5xx => "http_5xx",
            ErrorClass::Body => "body",
            ErrorClass::InvalidResponse => "invalid_response",
        }
    }

    /// Position in [`ErrorClass::ALL`]: the index into per-class counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The class of an HTTP status: 4xx and 5xx are errors, anything else is
    /// not classified by status alone.
    pub fn from_status(status: u16) -> Option<ErrorClass> {
        match status {
            400..=499 => Some(ErrorClass::Http4xx),
            500..=599 => Some(ErrorClass::Http5xx),
            _ => None,
        }
    }

    /// The class named `name` (as written by [`ErrorClass::as_str`]).
    pub fn from_name(name: &str) -> Option<ErrorClass> {
        ErrorClass::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl std::fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_position_in_all() {
        for (i, c) in ErrorClass::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i);
            assert_eq!(ErrorClass::from_name(c.as_str()), Some(c));
        }
    }

    #[test]
    fn serde_name_equals_as_str() {
        for c in ErrorClass::ALL {
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{}\"", c.as_str()));
            let back: ErrorClass = serde_json::from_str(&json).unwrap();
            assert_eq!(back, c);
        }
    }

    #[test]
    fn status_classes() {
        assert_eq!(ErrorClass::from_status(200), None);
        assert_eq!(ErrorClass::from_status(0), None);
        assert_eq!(ErrorClass::from_status(399), None);
        assert_eq!(ErrorClass::from_status(400), Some(ErrorClass::Http4xx));
        assert_eq!(ErrorClass::from_status(499), Some(ErrorClass::Http4xx));
        assert_eq!(ErrorClass::from_status(503), Some(ErrorClass::Http5xx));
        assert_eq!(ErrorClass::from_status(600), None);
    }
}
