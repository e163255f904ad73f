//! Access tokens of the emulated STS: real JWTs (RS256) with the claims Microsoft puts in Graph tokens,
//! so that a client can read its own permissions (`scp`, `roles`, `wids`) exactly as it would from Entra.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::EmulatorError;
use super::pki::RsaSigner;

/// The Graph resource's application id, the `aud` of Graph tokens.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub tid: String,
    pub oid: String,
    pub sub: String,
    pub appid: String,
    pub app_displayname: String,
    /// `app` for application tokens, `user` for delegated ones.
    pub idtyp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub uti: String,
    pub ver: String,
}

impl Claims {
    pub fn is_app(&self) -> bool {
        self.idtyp == "app"
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scp
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Malformed,
    BadSignature,
    Expired,
    NotYetValid,
}

/// Signs claims with the STS key; `kid` names the key as Entra's `x5t` header does.
pub fn sign<T: Serialize>(claims: &T, key: &RsaSigner, kid: &str) -> Result<String, EmulatorError> {
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid});
    let body = serde_json::to_vec(claims).unwrap_or_default();
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(body)
    );
    let sig = key.sign_sha256(signing_input.as_bytes())?;
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// The parts of a compact JWT, decoded but not yet trusted.
pub struct Jwt {
    pub header: serde_json::Value,
    pub payload: serde_json::Value,
    signing_input: String,
    signature: Vec<u8>,
}

impl Jwt {
    pub fn parse(token: &str) -> Result<Jwt, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let decode = |x: &str| URL_SAFE_NO_PAD.decode(x).map_err(|_| TokenError::Malformed);
        let header = serde_json::from_slice(&decode(h)?).map_err(|_| TokenError::Malformed)?;
        let payload = serde_json::from_slice(&decode(p)?).map_err(|_| TokenError::Malformed)?;
        Ok(Jwt {
            header,
            payload,
            signing_input: format!("{h}.{p}"),
            signature: decode(s)?,
        })
    }

    pub fn verify_rs256(&self, key: &RsaPublicKey) -> Result<(), TokenError> {
        if self.header.get("alg").and_then(|a| a.as_str()) != Some("RS256") {
            return Err(TokenError::BadSignature);
        }
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.0)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| TokenError::BadSignature)
    }

    /// A client assertion's signature: Entra takes RS256 (the older documented form, and
    /// azure_identity's) and PS256 (what its certificate credential page now asks for).
    pub fn verify_assertion(&self, key: &RsaPublicKey) -> Result<(), TokenError> {
        let alg = match self.header.get("alg").and_then(|a| a.as_str()) {
            Some("RS256") => &RSA_PKCS1_2048_8192_SHA256,
            Some("PS256") => &RSA_PSS_2048_8192_SHA256,
            _ => return Err(TokenError::BadSignature),
        };
        UnparsedPublicKey::new(alg, &key.0)
            .verify(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| TokenError::BadSignature)
    }
}

/// Checks a token that this STS issued, against the emulated clock `now`.
pub fn verify(token: &str, key: &RsaPublicKey, now: i64) -> Result<Claims, TokenError> {
    let jwt = Jwt::parse(token)?;
    jwt.verify_rs256(key)?;
    let claims: Claims = serde_json::from_value(jwt.payload).map_err(|_| TokenError::Malformed)?;
    // Entra allows five minutes of clock skew.
    if now >= claims.exp + 300 {
        return Err(TokenError::Expired);
    }
    if now + 300 < claims.nbf {
        return Err(TokenError::NotYetValid);
    }
    Ok(claims)
}

/// The SHA-1 thumbprint of a certificate in `x5t` form (base64url).
pub fn x5t(cert_der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        cert_der,
    ))
}

/// An RSA public key (the DER `RSAPublicKey` a certificate carries), which checks RS256 signatures.
#[derive(Clone, Debug)]
pub struct RsaPublicKey(Vec<u8>);

impl RsaPublicKey {
    /// The DER `RSAPublicKey`, as ring's verifiers take it.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The RSA key of a certificate; `None` for anything that is not an X.509 certificate with one.
pub fn public_key_of(cert_der: &[u8]) -> Option<RsaPublicKey> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let spki = cert.public_key();
    (spki.algorithm.algorithm == x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION)
        .then(|| RsaPublicKey(spki.subject_public_key.data.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::pki::SigningCert;

    #[test]
    fn signed_tokens_verify_and_expire() {
        let c = SigningCert::generate("t", 0, 10).unwrap();
        let key = c.private_key().unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&c.cert_b64)
            .unwrap();
        let public = public_key_of(&der).unwrap();
        let claims = Claims {
            exp: 1_000,
            nbf: 0,
            idtyp: "app".into(),
            ..Default::default()
        };
        let t = sign(&claims, &key, &x5t(&der)).unwrap();
        assert_eq!(verify(&t, &public, 500).unwrap(), claims);
        assert_eq!(verify(&t, &public, 1_400), Err(TokenError::Expired));
        let mut tampered = t.clone();
        tampered.insert(tampered.len() - 2, 'A');
        assert!(verify(&tampered, &public, 500).is_err());
        assert_eq!(verify("a.b", &public, 0), Err(TokenError::Malformed));
    }
}
