//! TLS set-up shared by the clients and the rehearsal tenant: one crypto provider (ring) for the
//! process, and a verifier that trusts extra roots (the rehearsal CA, a TLS-inspecting proxy's
//! `ca_file`) beside the system's.
//!
//! Why not the platform verifier's own extra roots: on Windows it builds a chain engine with an
//! exclusive root store, which older Windows and Wine refuse ("Invalid parameter"), so the tool
//! could not reach a tenant behind an inspecting proxy there. Here the extra roots are checked by
//! webpki and everything else by the system's verifier, unchanged, on every platform.

use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

/// Installs ring as rustls's process-wide provider; later calls are no-ops.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Why extra roots or the verifier could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("no PEM certificate in it")]
    NoCertificate,
    #[error("not a PEM certificate: {0}")]
    Pem(String),
    #[error("a certificate in it is not a usable root: {0}")]
    BadRoot(rustls::Error),
    #[error("the system's certificate verifier is unavailable: {0}")]
    System(rustls::Error),
    #[error("TLS settings refused: {0}")]
    Config(String),
}

/// Every certificate in a PEM file (a proxy's `ca_file` may hold its root and intermediates).
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

/// Trusts a certificate that chains to one of `extra` roots, and otherwise asks `system`.
#[derive(Debug)]
pub struct ExtraRoots {
    extra: Arc<WebPkiServerVerifier>,
    system: Arc<dyn ServerCertVerifier>,
}

impl ExtraRoots {
    pub fn new(
        extra: Vec<CertificateDer<'static>>,
        system: Arc<dyn ServerCertVerifier>,
    ) -> Result<Self, TlsError> {
        install_crypto_provider();
        let mut store = rustls::RootCertStore::empty();
        for cert in extra {
            store.add(cert).map_err(TlsError::BadRoot)?;
        }
        let extra = WebPkiServerVerifier::builder(Arc::new(store))
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        Ok(ExtraRoots { extra, system })
    }

    /// The system's verifier (Windows CryptoAPI, macOS Security framework, the system store on
    /// Linux) with `extra` roots beside it.
    pub fn with_system(extra: Vec<CertificateDer<'static>>) -> Result<Self, TlsError> {
        install_crypto_provider();
        let provider = provider();
        let system = rustls_platform_verifier::Verifier::new(provider).map_err(TlsError::System)?;
        ExtraRoots::new(extra, Arc::new(system))
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

impl ServerCertVerifier for ExtraRoots {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.extra.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(v) => Ok(v),
            // Not ours: the system decides, and its reason is the one shown.
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)) => self
                .system
                .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            // Issued under an extra root but wrong (name, dates): that is the precise reason.
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.extra.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.extra.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.extra.supported_verify_schemes()
    }
}

/// A client configuration that trusts the system's roots and `extra` (HTTP/1.1, as the clients use).
pub fn client_config(
    extra: Vec<CertificateDer<'static>>,
) -> Result<rustls::ClientConfig, TlsError> {
    install_crypto_provider();
    // With no extra root, the system's verifier alone (an empty webpki store cannot be built).
    let verifier: Arc<dyn ServerCertVerifier> = if extra.is_empty() {
        Arc::new(rustls_platform_verifier::Verifier::new(provider()).map_err(TlsError::System)?)
    } else {
        Arc::new(ExtraRoots::with_system(extra)?)
    };
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    struct Ca {
        cert: rcgen::Certificate,
        params: CertificateParams,
        key: KeyPair,
    }

    fn ca(name: &str) -> Ca {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(rcgen::DnType::CommonName, name.to_string());
        let key = KeyPair::generate().unwrap();
        let cert = p.self_signed(&key).unwrap();
        Ca {
            cert,
            params: p,
            key,
        }
    }

    fn leaf(ca: &Ca, host: &str) -> CertificateDer<'static> {
        let p = CertificateParams::new(vec![host.to_string()]).unwrap();
        let key = KeyPair::generate().unwrap();
        let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
        p.signed_by(&key, &issuer).unwrap().der().clone()
    }

    fn check(v: &ExtraRoots, cert: &CertificateDer<'_>, host: &str) -> Result<(), rustls::Error> {
        let name = ServerName::try_from(host.to_string()).unwrap();
        v.verify_server_cert(cert, &[], &name, &[], UnixTime::now())
            .map(|_| ())
    }

    /// "System" here is a webpki verifier over its own CA: the point is that both are trusted.
    fn verifier(system: &Ca, extra: &Ca) -> ExtraRoots {
        install_crypto_provider();
        let mut store = rustls::RootCertStore::empty();
        store.add(system.cert.der().clone()).unwrap();
        let sys = WebPkiServerVerifier::builder(Arc::new(store))
            .build()
            .unwrap();
        ExtraRoots::new(vec![extra.cert.der().clone()], sys).unwrap()
    }

    #[test]
    fn the_extra_root_and_the_systems_roots_are_both_trusted() {
        let (system, extra, stranger) = (ca("System Root"), ca("Proxy Root"), ca("Stranger"));
        let v = verifier(&system, &extra);
        check(
            &v,
            &leaf(&extra, "graph.microsoft.com"),
            "graph.microsoft.com",
        )
        .unwrap();
        check(
            &v,
            &leaf(&system, "login.microsoftonline.com"),
            "login.microsoftonline.com",
        )
        .unwrap();
        let err = check(
            &v,
            &leaf(&stranger, "graph.microsoft.com"),
            "graph.microsoft.com",
        )
        .unwrap_err();
        assert_eq!(
            err,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)
        );
    }

    #[test]
    fn a_wrong_name_under_the_extra_root_is_refused_for_that_reason() {
        let (system, extra) = (ca("System Root"), ca("Proxy Root"));
        let v = verifier(&system, &extra);
        let err = check(&v, &leaf(&extra, "sts.contoso.com"), "graph.microsoft.com").unwrap_err();
        assert!(
            matches!(
                err,
                rustls::Error::InvalidCertificate(
                    rustls::CertificateError::NotValidForNameContext { .. }
                ) | rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName)
            ),
            "{err:?}"
        );
    }

    #[test]
    fn a_pem_file_may_hold_several_roots_and_must_hold_one() {
        let (a, b) = (ca("A"), ca("B"));
        let pem = format!("{}\n{}", a.cert.pem(), b.cert.pem());
        assert_eq!(certificates_from_pem(pem.as_bytes()).unwrap().len(), 2);
        assert!(matches!(
            certificates_from_pem(b"hello"),
            Err(TlsError::NoCertificate)
        ));
        let broken = a.cert.pem().replace("MII", "M!I");
        assert!(certificates_from_pem(broken.as_bytes()).is_err());
    }

    #[test]
    fn the_system_verifier_with_an_extra_root_builds_here() {
        let extra = ca("Proxy Root");
        let cfg = client_config(vec![extra.cert.der().clone()]).unwrap();
        assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
