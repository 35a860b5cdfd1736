//! Opening connections to the target: TCP (`TCP_NODELAY`), optional TLS,
//! and for HTTP/2 the hyper handshake, whose driver runs as a task on the
//! current runtime (a shard's, or the caller's for probes). An HTTP/1.1
//! connection is just its byte stream, owned by the worker that uses it
//! (see `h1`).
//!
//! Owns [`Connector`] and [`Conn`]. Must not pool or retry: callers decide
//! which connection a request uses (a closed user owns one; open-model
//! workers own one each; HTTP/2 shares one per shard).

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::Uri;
use http_body_util::Empty;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::EngineError;
use crate::h1::{Plain, Stream};
use crate::options::TargetOptions;
use crate::tls;

/// The request body type: queries are GETs with an empty body.
pub(crate) type ReqBody = Empty<Bytes>;

/// One open connection's request handle.
#[derive(Debug)]
pub(crate) enum Conn {
    /// HTTP/1.1: one request at a time; reusable after the body is read.
    H1(Stream),
    /// HTTP/2: multiplexed; cheap to clone and share.
    H2(http2::SendRequest<ReqBody>),
}

impl Conn {
    /// Whether the connection is known to be gone (server closed it).
    pub(crate) fn is_closed(&self) -> bool {
        match self {
            // Found out by the next write or read (then sent again).
            Conn::H1(_) => false,
            Conn::H2(s) => s.is_closed(),
        }
    }

    /// A second handle to the same connection (HTTP/2 only).
    pub(crate) fn share(&self) -> Option<Conn> {
        match self {
            Conn::H1(_) => None,
            Conn::H2(s) => Some(Conn::H2(s.clone())),
        }
    }
}

/// Why a connection could not be opened; counted as `connect`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// Name resolution or TCP connect failed.
    #[error("TCP connect to {addr} failed: {source}")]
    Tcp { addr: String, source: io::Error },
    /// The TLS handshake failed.
    #[error("TLS handshake with {addr} failed: {source}")]
    Tls { addr: String, source: io::Error },
    /// The HTTP handshake failed (HTTP/2 preface).
    #[error("HTTP handshake with {addr} failed: {source}")]
    Http { addr: String, source: hyper::Error },
}

/// Opens connections to one target. Cheap to create per shard; the TLS
/// configuration is shared.
pub(crate) struct Connector {
    /// `host:port` as resolved for TCP.
    addr: String,
    /// Resolved addresses, cached until a connect fails (no DNS per request).
    resolved: Mutex<Vec<SocketAddr>>,
    /// TLS connector and the name to verify, for `https`.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    http2: bool,
}

impl Connector {
    /// Checks `base_url` and builds the TLS configuration once.
    pub(crate) fn new(target: &TargetOptions) -> Result<Connector, EngineError> {
        let url = &target.base_url;
        let bad = |reason| EngineError::BaseUrl {
            url: url.to_string(),
            reason,
        };
        let https = match url.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            Some(_) => return Err(bad("the scheme must be http or https")),
            None => return Err(bad("the scheme (http:// or https://) is missing")),
        };
        let host = url.host().ok_or_else(|| bad("the host is missing"))?;
        let port = url.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addr = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let tls = if https {
            let config = tls::client_config(&target.tls, target.http2)?;
            Some((
                TlsConnector::from(Arc::new(config)),
                tls::server_name(host)?,
            ))
        } else {
            None
        };
        Ok(Connector {
            addr,
            resolved: Mutex::new(Vec::new()),
            tls,
            http2: target.http2,
        })
    }

    /// Whether requests need an absolute URI (HTTP/2 `:scheme`/`:authority`).
    pub(crate) fn http2(&self) -> bool {
        self.http2
    }

    /// Opens a new connection (HTTP/2: and starts its driver task).
    pub(crate) async fn connect(&self) -> Result<Conn, ConnectError> {
        let tcp = self.tcp().await?;
        match (&self.tls, self.http2) {
            (None, false) => Ok(Conn::H1(Stream::Plain(Plain::new(tcp)))),
            (None, true) => self.handshake(tcp).await,
            (Some((connector, name)), _) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|source| ConnectError::Tls {
                        addr: self.addr.clone(),
                        source,
                    })?;
                if self.http2 {
                    self.handshake(stream).await
                } else {
                    Ok(Conn::H1(Stream::Tls(Box::new(stream))))
                }
            }
        }
    }

    async fn tcp(&self) -> Result<TcpStream, ConnectError> {
        let err = |source| ConnectError::Tcp {
            addr: self.addr.clone(),
            source,
        };
        let cached = self.cached_addrs();
        let addrs = if cached.is_empty() {
            let found: Vec<SocketAddr> = tokio::net::lookup_host(self.addr.as_str())
                .await
                .map_err(err)?
                .collect();
            if let Ok(mut r) = self.resolved.lock() {
                r.clone_from(&found);
            }
            found
        } else {
            cached
        };
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
        for a in addrs {
            match TcpStream::connect(a).await {
                Ok(s) => {
                    // Small requests must not wait for Nagle's algorithm.
                    let _ = s.set_nodelay(true);
                    return Ok(s);
                }
                Err(e) => last = e,
            }
        }
        if let Ok(mut r) = self.resolved.lock() {
            r.clear(); // resolve again next time: the address may have moved
        }
        Err(err(last))
    }

    fn cached_addrs(&self) -> Vec<SocketAddr> {
        self.resolved.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// The HTTP/2 handshake; the connection's driver becomes a task.
    async fn handshake<T>(&self, io: T) -> Result<Conn, ConnectError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (tx, conn) = http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(io))
            .await
            .map_err(|source| ConnectError::Http {
                addr: self.addr.clone(),
                source,
            })?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn::H2(tx))
    }
}

/// The part of a request URI before the endpoint path: `""` or `/prefix` for
/// HTTP/1.1 (origin form), `scheme://authority[/prefix]` for HTTP/2.
pub(crate) fn uri_base(url: &Uri, http2: bool) -> String {
    let prefix = url.path().trim_end_matches('/');
    if http2 {
        let scheme = url.scheme_str().unwrap_or("http");
        let authority = url.authority().map_or("", |a| a.as_str());
        format!("{scheme}://{authority}{prefix}")
    } else {
        prefix.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_base_keeps_prefix_and_form() {
        let u: Uri = "http://h:8080/vl/".parse().unwrap();
        assert_eq!(uri_base(&u, false), "/vl");
        assert_eq!(uri_base(&u, true), "http://h:8080/vl");
        let u: Uri = "https://h".parse().unwrap();
        assert_eq!(uri_base(&u, false), "");
        assert_eq!(uri_base(&u, true), "https://h");
    }

    fn target(url: &str) -> TargetOptions {
        TargetOptions {
            base_url: url.parse().unwrap(),
            headers: Vec::new(),
            timeout: std::time::Duration::from_secs(1),
            http2: false,
            accept_gzip: false,
            tls: Default::default(),
        }
    }

    #[test]
    fn bad_urls_are_rejected_with_the_reason() {
        let e = Connector::new(&target("ftp://h/"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("http or https"), "{e}");
        let e = Connector::new(&target("/only/a/path"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("scheme"), "{e}");
        assert!(Connector::new(&target("http://127.0.0.1:9428")).is_ok());
    }
}
