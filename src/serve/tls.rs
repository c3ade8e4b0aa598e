//! The TLS side of DNS over TLS and of HTTPS: the chain and key read from PEM files
//! (`--tls-cert`, `--tls-key`), checked to belong together, and swapped in place on reload so
//! that the listeners' TLS configurations (and their session caches and ticket keys) stay the
//! same.
//!
//! rustls with the ring provider, the one the tree already carries for ureq and hickory: TLS
//! 1.2 and 1.3 only, resumption by session cache and by tickets. Two acceptors share the one
//! certificate: ALPN `dot` (RFC 7858) for DNS over TLS, `h2` and `http/1.1` for HTTPS (where
//! DNS over HTTPS is served, RFC 8484).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::{self, ServerConfig, version};

/// The ALPN protocol identifier of DNS over TLS.
const ALPN_DOT: &[u8] = b"dot";
/// The ALPN protocol identifiers of HTTPS, HTTP/2 preferred.
const ALPN_HTTPS: [&[u8]; 2] = [b"h2", b"http/1.1"];

/// Why a certificate and key cannot be used. The messages name the files, never the key.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM item of the kind wanted.
    #[error("{path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The key does not fit the certificate, or rustls refuses it.
    #[error("{cert} and {key}: {reason}")]
    Pair {
        /// The certificate file.
        cert: String,
        /// The key file.
        key: String,
        /// Why they cannot serve together.
        reason: String,
    },
}

/// Where the certificate chain and its key are read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain, the server's own certificate first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

impl TlsFiles {
    /// Reads and checks the pair.
    fn load(&self) -> Result<Arc<CertifiedKey>, TlsError> {
        let file_error = |path: &Path, reason: String| TlsError::File {
            path: path.display().to_string(),
            reason,
        };
        let chain = CertificateDer::pem_file_iter(&self.cert)
            .and_then(Iterator::collect::<Result<Vec<_>, _>>)
            .map_err(|e| file_error(&self.cert, e.to_string()))?;
        if chain.is_empty() {
            return Err(file_error(&self.cert, "no certificate in it".to_owned()));
        }
        // The error of a key file is rustls' description of the PEM problem, which never
        // quotes the key's bytes.
        let key = PrivateKeyDer::from_pem_file(&self.key)
            .map_err(|e| file_error(&self.key, e.to_string()))?;
        let pair_error = |reason: String| TlsError::Pair {
            cert: self.cert.display().to_string(),
            key: self.key.display().to_string(),
            reason,
        };
        let provider = ring::default_provider();
        let certified = CertifiedKey::from_der(chain, key, &provider).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => pair_error(
                "the key is not the certificate's (the first certificate in the file was made \
                 for another key): give the key the certificate was issued for"
                    .to_owned(),
            ),
            other => pair_error(other.to_string()),
        })?;
        Ok(Arc::new(certified))
    }
}

/// The certificate served, replaceable while connections come and go.
#[derive(Debug)]
struct Current(ArcSwap<CertifiedKey>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.load_full())
    }
}

/// The TLS side of the DoT and HTTPS listeners: the acceptors they share and the files a
/// reload rereads.
#[derive(Clone)]
pub struct Tls {
    files: TlsFiles,
    current: Arc<Current>,
    dot: TlsAcceptor,
    https: TlsAcceptor,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish()
    }
}

impl Tls {
    /// Reads the certificate and key; an error when they cannot be read or do not match.
    pub fn new(files: TlsFiles) -> Result<Tls, TlsError> {
        let current = Arc::new(Current(ArcSwap::new(files.load()?)));
        let pair_error = |reason: String| TlsError::Pair {
            cert: files.cert.display().to_string(),
            key: files.key.display().to_string(),
            reason,
        };
        let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_protocol_versions(&[&version::TLS13, &version::TLS12])
            .map_err(|e| pair_error(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        // Stateless resumption (tickets) beside the default in-memory session cache.
        config.ticketer = ring::Ticketer::new().map_err(|e| pair_error(e.to_string()))?;
        // The same certificate resolver, cache and ticket keys; only the protocols differ.
        let mut https = config.clone();
        https.alpn_protocols = ALPN_HTTPS.iter().map(|p| p.to_vec()).collect();
        config.alpn_protocols = vec![ALPN_DOT.to_vec()];
        Ok(Tls {
            files,
            current,
            dot: TlsAcceptor::from(Arc::new(config)),
            https: TlsAcceptor::from(Arc::new(https)),
        })
    }

    /// Rereads the certificate and key and serves them from the next handshake on; on error
    /// the one served stays.
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        self.current.0.store(self.files.load()?);
        Ok(())
    }

    /// What accepts the DNS over TLS handshakes.
    pub(super) fn dot(&self) -> &TlsAcceptor {
        &self.dot
    }

    /// What accepts the HTTPS handshakes.
    pub(super) fn https(&self) -> &TlsAcceptor {
        &self.https
    }
}
