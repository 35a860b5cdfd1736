//! TLS client configuration for `https` targets: rustls with the ring
//! provider, TLS 1.2 and 1.3, system roots plus an optional `ca_file`, ALPN
//! for the chosen HTTP version, and the opt-in "accept any certificate" mode.
//!
//! Built once per run (not per connection). Must not log secrets; it logs
//! one warning when certificate checks are off.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

use crate::error::EngineError;
use crate::options::TlsOptions;

/// Builds the client configuration for `opts`; `http2` selects ALPN `h2`
/// (else `http/1.1`).
pub(crate) fn client_config(opts: &TlsOptions, http2: bool) -> Result<ClientConfig, EngineError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| EngineError::Tls(e.to_string()))?;
    let mut config = if opts.insecure_skip_verify {
        tracing::warn!(
            "target.tls.insecure_skip_verify is on: the target's certificate is not checked; \
             use it only in test setups"
        );
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    } else {
        builder
            .with_root_certificates(roots(opts)?)
            .with_no_client_auth()
    };
    config.alpn_protocols = if http2 {
        vec![b"h2".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// System roots plus the certificates of `ca_file`.
fn roots(opts: &TlsOptions) -> Result<RootCertStore, EngineError> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    if !native.errors.is_empty() {
        tracing::debug!(errors = ?native.errors, "some system root certificates could not be loaded");
    }
    let (added, _ignored) = roots.add_parsable_certificates(native.certs);
    if let Some(path) = &opts.ca_file {
        let ca_err = |reason: String| EngineError::CaFile {
            path: path.clone(),
            reason,
        };
        let iter = CertificateDer::pem_file_iter(path).map_err(|e| ca_err(e.to_string()))?;
        let mut n = 0usize;
        for cert in iter {
            let cert = cert.map_err(|e| ca_err(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| ca_err(format!("certificate rejected: {e}")))?;
            n += 1;
        }
        if n == 0 {
            return Err(ca_err("no certificate found".to_owned()));
        }
    } else if added == 0 {
        tracing::warn!(
            "no system root certificates found: https targets will fail unless \
             target.tls.ca_file is set"
        );
    }
    Ok(roots)
}

/// The server name to check the certificate against: the URL's host.
pub(crate) fn server_name(host: &str) -> Result<ServerName<'static>, EngineError> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|_| EngineError::BaseUrl {
        url: host.to_owned(),
        reason: "the host is not a valid TLS server name",
    })
}

/// Accepts every certificate but still checks handshake signatures, so the
/// connection is encrypted, just not authenticated.
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ca_file_names_the_field() {
        let opts = TlsOptions {
            ca_file: Some("/nonexistent/ca.pem".into()),
            insecure_skip_verify: false,
        };
        let e = client_config(&opts, false).unwrap_err().to_string();
        assert!(
            e.contains("target.tls.ca_file") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
    }

    #[test]
    fn ca_file_without_certificates_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let opts = TlsOptions {
            ca_file: Some(path),
            insecure_skip_verify: false,
        };
        let e = client_config(&opts, false).unwrap_err().to_string();
        assert!(e.contains("no certificate"), "{e}");
    }

    #[test]
    fn alpn_follows_http_version() {
        let opts = TlsOptions {
            ca_file: None,
            insecure_skip_verify: true,
        };
        assert_eq!(
            client_config(&opts, true).unwrap().alpn_protocols,
            vec![b"h2".to_vec()]
        );
        assert_eq!(
            client_config(&opts, false).unwrap().alpn_protocols,
            vec![b"http/1.1".to_vec()]
        );
    }
}
