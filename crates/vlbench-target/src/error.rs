//! Errors of the target's lifecycle (configuration, sockets).
//!
//! Owns: [`TargetError`]. Errors answered to HTTP clients are not here:
//! they are responses shaped like VictoriaLogs' (see `http/reply.rs`).

use std::path::PathBuf;

/// Why the target could not be configured or started.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The configuration file could not be read.
    #[error("cannot read target config {path}: {source}; check the path passed to --config")]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid YAML for [`crate::TargetConfig`].
    #[error("cannot parse target config {path}: {source}; see docs/target.md for the fields")]
    ParseConfig {
        /// The file.
        path: PathBuf,
        /// The YAML error (with line and column).
        source: serde_yaml_ng::Error,
    },
    /// A configuration value is out of range.
    #[error("invalid target config field `{field}`: {message}")]
    Config {
        /// Field path, e.g. `stalls[0]` or `latency.query`.
        field: String,
        /// What is wrong and what to write instead.
        message: String,
    },
    /// The listener's address could not be read.
    #[error("cannot read the listening address of the target: {0}")]
    LocalAddr(std::io::Error),
}
