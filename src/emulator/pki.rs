//! The rehearsal tenant's certificates: a local CA for its HTTPS endpoints (ECDSA, rcgen), and the RSA
//! certificates that AD FS signs tokens with (real X.509, as the farm's metadata publishes them).

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, GeneralSubtree, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, NameConstraints, SanType, SerialNumber,
};
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rsa::pkcs8::EncodePrivateKey;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::EmulatorError;

const CA_NAME: &str = "entra-failover rehearsal CA";

/// The local CA, kept in the state folder so that clients trust one file across restarts.
pub struct LocalCa {
    key: KeyPair,
    params: CertificateParams,
    pub cert_file: PathBuf,
}

/// A TLS identity for one listener.
pub struct ServerIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// The CA may vouch for loopback addresses, `localhost` and the farms' names, and nothing else (name
/// constraints, which every verifier here checks): its key sits in the state folder, and a copy of it
/// must not be able to vouch for `graph.microsoft.com` to a client that trusts the rehearsal CA.
fn ca_params(names: &[String]) -> Result<CertificateParams, EmulatorError> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
    let mut permitted = vec![
        GeneralSubtree::IpAddress(CidrSubnet::V4([127, 0, 0, 0], [255, 0, 0, 0])),
        GeneralSubtree::IpAddress(CidrSubnet::V6(
            std::net::Ipv6Addr::LOCALHOST.octets(),
            [0xff; 16],
        )),
        GeneralSubtree::DnsName("localhost".into()),
    ];
    permitted.extend(
        names
            .iter()
            .map(|n| GeneralSubtree::DnsName(n.to_ascii_lowercase())),
    );
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: permitted,
        excluded_subtrees: vec![],
    });
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "entra-failover (simulated)");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    Ok(params)
}

fn pki(e: rcgen::Error) -> EmulatorError {
    EmulatorError::Pki(e.to_string())
}

impl LocalCa {
    /// Loads the CA from `dir`, or makes one there, able to vouch for the farms `names` (and
    /// loopback). A CA made before a farm was added, or before name constraints, is made anew.
    pub fn open(dir: &Path, names: &[String]) -> Result<LocalCa, EmulatorError> {
        let cert_file = dir.join("ca.pem");
        let key_file = dir.join("ca-key.pem");
        let names_file = dir.join("ca-names.json");
        let mut wanted: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        let held: Option<Vec<String>> = fs::read(&names_file)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        if let Some(held) = &held {
            // A CA is made for every farm it ever served: a farm dropped from the scenario and
            // added back finds its name still there.
            wanted.extend(held.iter().cloned());
        }
        wanted.sort();
        wanted.dedup();
        let params = ca_params(&wanted)?;
        let covers = held
            .as_ref()
            .is_some_and(|h| wanted.iter().all(|n| h.contains(n)));
        if covers && cert_file.exists() && key_file.exists() {
            let pem = fs::read_to_string(&key_file).map_err(|e| EmulatorError::io(&key_file, e))?;
            let key = KeyPair::from_pem(&pem).map_err(pki)?;
            return Ok(LocalCa {
                key,
                params,
                cert_file,
            });
        }
        let key = KeyPair::generate().map_err(pki)?;
        let cert = params.self_signed(&key).map_err(pki)?;
        crate::files::write_atomic(&key_file, key.serialize_pem().as_bytes())
            .map_err(|e| EmulatorError::io(&key_file, e))?;
        crate::files::write_atomic(&cert_file, cert.pem().as_bytes())
            .map_err(|e| EmulatorError::io(&cert_file, e))?;
        let list = serde_json::to_vec(&wanted).map_err(|e| EmulatorError::Pki(e.to_string()))?;
        crate::files::write_atomic(&names_file, &list)
            .map_err(|e| EmulatorError::io(&names_file, e))?;
        Ok(LocalCa {
            key,
            params,
            cert_file,
        })
    }

    /// A certificate for `names` (host names and IP addresses), signed by this CA.
    pub fn issue(&self, names: &[String]) -> Result<ServerIdentity, EmulatorError> {
        let key = KeyPair::generate().map_err(pki)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().cloned().unwrap_or_default(),
        );
        for n in names {
            let san = match n.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(n.clone().try_into().map_err(pki)?),
            };
            params.subject_alt_names.push(san);
        }
        params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        params.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(365);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer).map_err(pki)?;
        let ca = self.params.self_signed(&self.key).map_err(pki)?;
        Ok(ServerIdentity {
            chain: vec![cert.der().clone(), ca.der().clone()],
            key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        })
    }
}

/// An RSA key and self-signed certificate, as AD FS makes for token signing.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct SigningCert {
    /// Base64 DER, the form federation metadata and Graph's `signingCertificate` use.
    pub cert_b64: String,
    pub key_pem: String,
}

impl SigningCert {
    /// A 2048-bit RSA certificate with subject `CN={cn}`, valid from `not_before` for `days`. ring
    /// signs with RSA keys but cannot make them, so the `rsa` crate makes the key and rcgen (over ring)
    /// the certificate.
    pub fn generate(
        cn: &str,
        not_before_unix: i64,
        days: u32,
    ) -> Result<SigningCert, EmulatorError> {
        let bad = |e: String| EmulatorError::Pki(e);
        let rsa = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)
            .map_err(|e| bad(e.to_string()))?;
        let pkcs8 = rsa.to_pkcs8_der().map_err(|e| bad(e.to_string()))?;
        let der = PrivatePkcs8KeyDer::from(pkcs8.as_bytes());
        let key =
            KeyPair::from_pkcs8_der_and_sign_algo(&der, &rcgen::PKCS_RSA_SHA256).map_err(pki)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(pki)?;
        params.distinguished_name.push(DnType::CommonName, cn);
        let mut serial = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut serial)
            .map_err(|_| bad("no random numbers for a serial number".into()))?;
        serial[0] &= 0x7f;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let at = |unix: i64| {
            time::OffsetDateTime::from_unix_timestamp(unix).map_err(|e| bad(e.to_string()))
        };
        params.not_before = at(not_before_unix)?;
        params.not_after = at(not_before_unix + i64::from(days) * 86_400)?;
        let cert = params.self_signed(&key).map_err(pki)?;
        use base64::Engine;
        Ok(SigningCert {
            cert_b64: base64::engine::general_purpose::STANDARD.encode(cert.der()),
            key_pem: key.serialize_pem(),
        })
    }

    /// The key, ready to sign (RSA PKCS#1 v1.5 with SHA-256, as AD FS and Entra sign).
    pub fn private_key(&self) -> Result<RsaSigner, EmulatorError> {
        use rustls::pki_types::pem::PemObject;
        let der = PrivatePkcs8KeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| EmulatorError::Pki(e.to_string()))?;
        RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
            .map(RsaSigner)
            .map_err(|e| EmulatorError::Pki(e.to_string()))
    }
}

/// An RSA private key that signs with SHA-256 (RS256 in a JWT, rsa-sha256 in XML signatures).
pub struct RsaSigner(RsaKeyPair);

impl RsaSigner {
    pub fn sign_sha256(&self, message: &[u8]) -> Result<Vec<u8>, EmulatorError> {
        let mut sig = vec![0u8; self.0.public().modulus_len()];
        self.0
            .sign(
                &RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|_| EmulatorError::Pki("RSA signing failed".into()))?;
        Ok(sig)
    }

    /// The public key's modulus and exponent (big-endian, no leading zeros), as a JWK's `n` and `e`.
    pub fn public_components(&self) -> (Vec<u8>, Vec<u8>) {
        let c = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(self.0.public());
        (c.n, c.e)
    }
}
