//! Errors that stop the engine before or while it starts (bad target URL,
//! unreadable CA file, thread spawn failure). Per-request failures are never
//! errors here: they are counted as a `Copy` [`vlbench_stats::ErrorClass`].

use std::path::PathBuf;

/// Why the engine could not run (or probe) at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `target.url` cannot be used to send requests.
    #[error("target url {url:?} is not usable: {reason}; write it as http://host:port or https://host[:port][/prefix]")]
    BaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `target.tls.ca_file` could not be read or holds no certificate.
    #[error("target.tls.ca_file {path:?}: {reason}; give a readable PEM file with at least one CERTIFICATE block")]
    CaFile {
        /// The file as given.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// rustls refused the TLS configuration.
    #[error("TLS setup failed: {0}; check target.tls")]
    Tls(String),
    /// A configured header cannot be sent (should have been caught by validation).
    #[error("header {name:?} cannot be sent: {reason}")]
    Header {
        /// The header name.
        name: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// An engine shard thread or runtime could not be started.
    #[error(
        "could not start engine shard {shard}: {reason}; lower `threads` or check system limits"
    )]
    Shard {
        /// Which shard.
        shard: usize,
        /// The OS or tokio error text.
        reason: String,
    },
    /// A shard thread panicked (an engine bug).
    #[error("engine shard {0} stopped abnormally (panicked); please report this as a bug")]
    ShardPanicked(usize),
}
