//! The certificate credential's client assertion: a JWT signed with the app certificate's RSA key, in
//! the form Microsoft's certificate credentials page gives (`PS256`, `x5t#S256`, `aud` the tenant's
//! token endpoint). azure_identity's own certificate credential needs OpenSSL, a C library built into
//! every binary for this one signature; here ring (already in the tree through rustls) signs and a
//! pure-Rust reader opens the PKCS#12 file, and azure_identity's assertion credential does the rest.

use std::fmt;

use azure_core::http::ClientMethodOptions;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PSS_SHA256, RsaKeyPair};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::AuthError;

/// How long an assertion is good for: Microsoft asks for 5 to 10 minutes after `nbf`.
const LIFETIME_S: i64 = 600;

/// The key and certificate of an app registration, ready to sign assertions. Its `Debug` names the
/// certificate, never the key.
pub struct CertificateAssertion {
    client_id: String,
    audience: String,
    /// The JWT header, already base64url: it names the certificate and never changes.
    header: String,
    thumbprint: String,
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("certificate_sha256", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl CertificateAssertion {
    /// Opens a PKCS#12 file's bytes with `password` (none: the empty one) and takes its RSA key and
    /// the certificate that goes with it. The assertion's audience is the token endpoint
    /// that azure_identity's assertion credential posts to: `{authority host}/{tenant}/oauth2/v2.0/token`.
    pub fn from_pkcs12(
        pkcs12: &[u8],
        password: Option<&SecretString>,
        client_id: &str,
        tenant: &str,
        authority: &Url,
    ) -> Result<CertificateAssertion, AuthError> {
        let password = password.map(|p| p.expose_secret()).unwrap_or_default();
        let store = p12_keystore::KeyStore::from_pkcs12(
            pkcs12,
            password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .map_err(|e| {
            AuthError::Config(format!(
                "the certificate file cannot be opened (a wrong password, or not a PKCS#12 file): {e}"
            ))
        })?;
        let Some((_, chain)) = store.private_key_chain() else {
            return Err(AuthError::Config(
                "the certificate file holds no private key with its certificate".into(),
            ));
        };
        let Some(cert) = chain.certs().first() else {
            return Err(AuthError::Config(
                "the certificate file holds a key without its certificate".into(),
            ));
        };
        let key = RsaKeyPair::from_pkcs8(chain.key().as_der()).map_err(|e| {
            AuthError::Config(format!(
                "the certificate's key cannot sign for Entra ID, which takes RSA keys of 2048 bits or more ({e})"
            ))
        })?;
        let thumbprint =
            URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, cert.as_der()));
        let header = serde_json::json!({"alg": "PS256", "typ": "JWT", "x5t#S256": thumbprint});
        let audience = authority
            .join(&format!("/{tenant}/oauth2/v2.0/token"))
            .map_err(|e| AuthError::Config(format!("tenant {tenant:?}: {e}")))?;
        Ok(CertificateAssertion {
            client_id: client_id.to_string(),
            audience: audience.to_string(),
            header: URL_SAFE_NO_PAD.encode(header.to_string()),
            thumbprint,
            key,
            rng: SystemRandom::new(),
        })
    }

    /// A fresh assertion, valid from `now` (Unix seconds) for ten minutes.
    pub fn assertion_at(&self, now: i64) -> Result<String, AuthError> {
        let claims = serde_json::json!({
            "aud": self.audience,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now,
            "exp": now + LIFETIME_S,
        });
        let signing_input = format!(
            "{}.{}",
            self.header,
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PSS_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| AuthError::SignIn("the client assertion could not be signed".into()))?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

#[async_trait::async_trait]
impl azure_identity::ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.assertion_at(time::OffsetDateTime::now_utc().unix_timestamp())
            .map_err(|e| {
                azure_core::Error::with_message(
                    azure_core::error::ErrorKind::Credential,
                    e.to_string(),
                )
            })
    }
}
