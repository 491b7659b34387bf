//! Optional TLS for `sverka serve --tls-cert PEM --tls-key PEM`: rustls with the `ring` provider
//! (TLS 1.3 and 1.2, rustls's default cipher suites, no client certificates), HTTP/1.1 offered by
//! ALPN. Without it the server speaks plain HTTP, on loopback by default, for a reverse proxy in
//! front (THREATS.md says when each fits).
//!
//! Errors name the file and what is wrong with it; they never quote a file's content, so a key
//! given by mistake as the certificate (or the reverse) is not printed to a log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A TLS server configuration, ready to accept connections; cheap to clone.
#[derive(Clone)]
pub struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls { .. }")
    }
}

/// Why a certificate chain and key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: cannot read it: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: no PEM CERTIFICATE block in it (want the certificate chain, leaf first)")]
    NoCertificate { path: PathBuf },
    #[error("{path}: a PEM CERTIFICATE block that does not decode")]
    BadCertificate { path: PathBuf },
    #[error("{path}: no PEM private key in it (PKCS#8, PKCS#1 or SEC1)")]
    NoKey { path: PathBuf },
    #[error("the key in {key} does not fit the certificate in {cert}: {reason}")]
    Mismatch { cert: PathBuf, key: PathBuf, reason: String },
}

impl Tls {
    /// Reads a PEM certificate chain (leaf first) and its PEM private key.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read { path: path.into(), source })
        };
        Tls::from_pem(&read(cert)?, cert, &read(key)?, key)
    }

    /// The chain and key from PEM bytes; `cert_name` and `key_name` name them in errors.
    pub fn from_pem(
        cert_pem: &[u8],
        cert_name: &Path,
        key_pem: &[u8],
        key_name: &Path,
    ) -> Result<Tls, TlsError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|_| TlsError::BadCertificate { path: cert_name.into() })?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate { path: cert_name.into() });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|_| TlsError::NoKey { path: key_name.into() })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mismatch = |e: rustls::Error| TlsError::Mismatch {
            cert: cert_name.into(),
            key: key_name.into(),
            reason: e.to_string(),
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(mismatch)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(mismatch)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls { acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)) })
    }

    pub(crate) fn acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.acceptor
    }
}
