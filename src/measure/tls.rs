//! TLS for every https path: one rustls client configuration (the same for the hand-written HTTP/1.1
//! path, the HTTP/2 pool and reqwest), built from `config::TlsSettings`.
//!
//! Trust: the bundled web roots, the system store (with `SSL_CERT_FILE` / `SSL_CERT_DIR` read as
//! OpenSSL does), and `--cacert` (a PEM bundle). `--insecure` skips verification (the run warns in
//! the console and records it in metadata.json). `--cert` / `--key` present a client certificate to
//! mutual-TLS gateways. A handshake that fails on the certificate is named by [`describe`]: unknown
//! issuer, name mismatch, expired, with the flag that fixes it.

use crate::config::TlsSettings;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::Path;
use std::sync::Arc;

/// Why the TLS settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{flag} {path}: cannot read a PEM {what} from it ({cause}); give a readable PEM file")]
    Pem {
        flag: &'static str,
        path: String,
        what: &'static str,
        cause: rustls::pki_types::pem::Error,
    },
    #[error("--cacert {0}: the file holds no certificate; give a PEM bundle (-----BEGIN CERTIFICATE-----)")]
    NoCaCertificate(String),
    #[error("--cacert {path}: certificate not usable as a trust anchor ({cause})")]
    BadCa { path: String, cause: rustls::Error },
    #[error("--cert/--key: the client certificate and key do not form a usable pair ({0})")]
    ClientAuth(rustls::Error),
    #[error(
        "no trusted root certificates: the bundled roots, the system store and --cacert gave none"
    )]
    NoRoots,
}

/// Application protocols offered in the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alpn {
    Http1,
    Http2,
    /// Either: for reqwest, which follows what the server picks.
    Both,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration for `settings` (trust, client certificate), offering no protocol yet:
/// [`offering`] gives each transport its copy.
pub fn client_config(settings: &TlsSettings) -> Result<ClientConfig, TlsSetupError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions");
    let builder = if settings.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
    } else {
        builder.with_root_certificates(roots(settings.cacert.as_deref())?)
    };
    let config = match &settings.client_auth {
        Some((cert, key)) => {
            let chain = certificates("--cert", cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|cause| TlsSetupError::Pem {
                flag: "--key",
                path: key.display().to_string(),
                what: "private key",
                cause,
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(TlsSetupError::ClientAuth)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// A copy of `base` that offers `alpn` in the handshake.
pub fn offering(base: &ClientConfig, alpn: Alpn) -> ClientConfig {
    let mut config = base.clone();
    config.alpn_protocols = match alpn {
        Alpn::Http1 => vec![b"http/1.1".to_vec()],
        Alpn::Http2 => vec![b"h2".to_vec()],
        Alpn::Both => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
    };
    config
}

fn certificates(
    flag: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem = |cause| TlsSetupError::Pem {
        flag,
        path: path.display().to_string(),
        what: "certificate",
        cause,
    };
    CertificateDer::pem_file_iter(path)
        .map_err(pem)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(pem)
}

/// The bundled web roots, the system store (or `SSL_CERT_FILE`/`SSL_CERT_DIR`), and `--cacert`.
fn roots(cacert: Option<&Path>) -> Result<RootCertStore, TlsSetupError> {
    let mut store = RootCertStore::empty();
    store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Unreadable system certificates are skipped, as browsers and curl do.
    let native = rustls_native_certs::load_native_certs();
    let _ = store.add_parsable_certificates(native.certs);
    if let Some(path) = cacert {
        let certs = certificates("--cacert", path)?;
        if certs.is_empty() {
            return Err(TlsSetupError::NoCaCertificate(path.display().to_string()));
        }
        for c in certs {
            store.add(c).map_err(|cause| TlsSetupError::BadCa {
                path: path.display().to_string(),
                cause,
            })?;
        }
    }
    if store.is_empty() {
        return Err(TlsSetupError::NoRoots);
    }
    Ok(store)
}

/// The server name to verify and send (SNI) for `host`.
pub fn server_name(host: &str) -> Option<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).ok()
}

/// A failed handshake in words: the certificate's problem and the flag that fixes it, or the
/// error itself when it is not about the certificate.
pub fn describe(e: &std::io::Error, host: &str) -> String {
    let rustls_error = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(c)) => certificate_problem(c, host),
        Some(e @ rustls::Error::InvalidMessage(_)) => format!(
            "TLS handshake failed ({e}): the server does not seem to speak TLS on this port; if it serves plain HTTP, use an http:// endpoint"
        ),
        Some(other) => format!("TLS handshake failed: {other}"),
        None => format!("TLS handshake failed: {e}"),
    }
}

fn certificate_problem(c: &CertificateError, host: &str) -> String {
    match c {
        CertificateError::UnknownIssuer => format!(
            "the certificate of {host} is signed by an unknown issuer: trust its CA with --cacert FILE (PEM), or skip verification with --insecure"
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
            "the certificate is not valid for the name {host} (name mismatch): use a host name the certificate lists in --endpoint, or skip verification with --insecure"
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
            "the certificate of {host} has expired: renew it on the server, or skip verification with --insecure"
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
            "the certificate of {host} is not valid yet (check this machine's clock), or skip verification with --insecure"
        ),
        other => format!(
            "the certificate of {host} was rejected ({other:?}): fix it on the server, or skip verification with --insecure"
        ),
    }
}

/// `--insecure`: accepts any certificate, but still checks the handshake's signatures.
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
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
