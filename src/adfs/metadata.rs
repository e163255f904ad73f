//! Reads AD FS federation metadata (`FederationMetadata.xml`): the federation service identifier, its
//! endpoints and its token-signing certificates. It parses what real farms publish and refuses, with a
//! reason, what no farm publishes: DTDs (and so entity expansion), huge documents, missing parts.

use base64::Engine;
use serde::Serialize;

/// The largest metadata document accepted; real ones are 50–100 KB.
pub const MAX_METADATA_BYTES: usize = 5 * 1024 * 1024;

const MD_NS: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const WSA_NS: &str = "http://www.w3.org/2005/08/addressing";

impl From<crate::xml::XmlError> for MetadataError {
    fn from(e: crate::xml::XmlError) -> Self {
        match e {
            crate::xml::XmlError::TooLarge(n, _) => MetadataError::TooLarge(n),
            crate::xml::XmlError::TooDeep => MetadataError::TooDeep,
            crate::xml::XmlError::Malformed(m) => MetadataError::Xml(m),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MetadataError {
    #[error("the metadata is {0} bytes; at most {MAX_METADATA_BYTES} are accepted")]
    TooLarge(usize),
    #[error(
        "the metadata nests elements more than {} deep; no federation metadata does",
        crate::xml::MAX_DEPTH
    )]
    TooDeep,
    #[error("the metadata is not well-formed XML: {0}")]
    Xml(String),
    #[error("the metadata's root is <{0}>, not a SAML 2.0 <EntityDescriptor>")]
    NotEntityDescriptor(String),
    #[error("the metadata has no entityID (the federation service identifier)")]
    NoEntityId,
    #[error("the metadata lists no token-signing certificate for the security token service")]
    NoSigningCertificate,
    #[error("a token-signing certificate is not valid base64 DER X.509: {0}")]
    BadCertificate(String),
}

/// A certificate as an administrator compares it: AD FS shows the SHA-1 thumbprint in upper-case hex.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CertificateInfo {
    /// Base64 DER, as metadata and Graph's `signingCertificate` carry it.
    pub base64: String,
    pub subject: String,
    pub issuer: String,
    pub sha1_thumbprint: String,
    pub sha256_thumbprint: String,
    pub not_before_unix: i64,
    pub not_after_unix: i64,
}

impl CertificateInfo {
    pub fn from_base64(b64: &str) -> Result<CertificateInfo, MetadataError> {
        let cleaned: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&cleaned)
            .map_err(|e| MetadataError::BadCertificate(e.to_string()))?;
        CertificateInfo::from_der(&der)
    }

    pub fn from_der(der: &[u8]) -> Result<CertificateInfo, MetadataError> {
        let (_, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| MetadataError::BadCertificate(e.to_string()))?;
        let hex = |alg| {
            ring::digest::digest(alg, der)
                .as_ref()
                .iter()
                .map(|b| format!("{b:02X}"))
                .collect::<String>()
        };
        Ok(CertificateInfo {
            base64: base64::engine::general_purpose::STANDARD.encode(der),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            sha1_thumbprint: hex(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            sha256_thumbprint: hex(&ring::digest::SHA256),
            not_before_unix: cert.validity().not_before.timestamp(),
            not_after_unix: cert.validity().not_after.timestamp(),
        })
    }
}

/// What a farm's federation metadata says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FederationMetadata {
    /// The federation service identifier (`entityID`).
    pub entity_id: String,
    pub display_name: Option<String>,
    /// Token-signing certificates of the security token service; two during a rollover.
    pub signing_certificates: Vec<CertificateInfo>,
    /// The passive (WS-Federation) sign-in endpoint.
    pub passive_endpoint: Option<String>,
    /// WS-Trust endpoints the STS role lists.
    pub sts_endpoints: Vec<String>,
    /// The metadata exchange (MEX) address.
    pub mex_endpoint: Option<String>,
}

/// The guards every metadata document passes (size, depth, no DTD, a node budget), then its root
/// `EntityDescriptor` and its `entityID`.
fn entity(xml: &str) -> Result<roxmltree::Document<'_>, MetadataError> {
    let doc = crate::xml::parse(xml, MAX_METADATA_BYTES)?;
    let root = doc.root_element();
    if root.tag_name().name() != "EntityDescriptor" || root.tag_name().namespace() != Some(MD_NS) {
        return Err(MetadataError::NotEntityDescriptor(
            root.tag_name().name().chars().take(100).collect(),
        ));
    }
    Ok(doc)
}

/// The `entityID` of a metadata document of any role (Microsoft 365's, say, whose metadata describes
/// a relying party, not a token service).
pub fn entity_id(xml: &str) -> Result<String, MetadataError> {
    let doc = entity(xml)?;
    doc.root_element()
        .attribute("entityID")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or(MetadataError::NoEntityId)
}

/// Parses federation metadata.
pub fn parse(xml: &str) -> Result<FederationMetadata, MetadataError> {
    let doc = entity(xml)?;
    let root = doc.root_element();
    let entity_id = root
        .attribute("entityID")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or(MetadataError::NoEntityId)?;
    let sts = root.children().find(|n| {
        n.is_element()
            && n.tag_name().name() == "RoleDescriptor"
            && n.tag_name().namespace() == Some(MD_NS)
            && n.attribute((XSI_NS, "type")).is_some_and(|t| {
                t.ends_with(":SecurityTokenServiceType") || t == "SecurityTokenServiceType"
            })
    });
    let mut signing = vec![];
    let mut passive = None;
    let mut sts_endpoints = vec![];
    let mut mex = None;
    let mut display_name = None;
    if let Some(sts) = sts {
        display_name = sts.attribute("ServiceDisplayName").map(str::to_string);
        for kd in sts
            .children()
            .filter(|n| n.has_tag_name((MD_NS, "KeyDescriptor")))
        {
            if kd.attribute("use").is_some_and(|u| u != "signing") {
                continue;
            }
            for c in kd
                .descendants()
                .filter(|n| n.has_tag_name((DSIG_NS, "X509Certificate")))
            {
                let info = CertificateInfo::from_base64(c.text().unwrap_or_default())?;
                if !signing.contains(&info) {
                    signing.push(info);
                }
            }
        }
        for child in sts.children().filter(|n| n.is_element()) {
            let address = child
                .descendants()
                .find(|n| n.has_tag_name((WSA_NS, "Address")))
                .and_then(|n| n.text())
                .map(|s| s.trim().to_string());
            match child.tag_name().name() {
                "PassiveRequestorEndpoint" => passive = passive.or(address),
                "SecurityTokenServiceEndpoint" => {
                    if let Some(a) = address {
                        sts_endpoints.push(a);
                    }
                    let m = child
                        .descendants()
                        .filter(|n| n.tag_name().name() == "MetadataReference")
                        .flat_map(|n| n.descendants())
                        .find(|n| n.tag_name().name() == "Address")
                        .and_then(|n| n.text())
                        .map(|s| s.trim().to_string());
                    mex = mex.or(m);
                }
                _ => {}
            }
        }
    }
    if signing.is_empty() {
        return Err(MetadataError::NoSigningCertificate);
    }
    Ok(FederationMetadata {
        entity_id: entity_id.to_string(),
        display_name,
        signing_certificates: signing,
        passive_endpoint: passive,
        sts_endpoints,
        mex_endpoint: mex,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_no_farm_publishes() {
        let bomb = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x">&lol2;</EntityDescriptor>"#;
        assert!(matches!(parse(bomb), Err(MetadataError::Xml(_))));
        assert!(matches!(
            parse("<a/>"),
            Err(MetadataError::NotEntityDescriptor(_))
        ));
        assert_eq!(
            parse(r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>"#),
            Err(MetadataError::NoEntityId)
        );
        assert_eq!(
            parse(
                r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>"#
            ),
            Err(MetadataError::NoSigningCertificate)
        );
        assert!(matches!(
            parse(&"x".repeat(MAX_METADATA_BYTES + 1)),
            Err(MetadataError::TooLarge(_))
        ));
        let bad_cert = r#"<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><RoleDescriptor xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="fed:SecurityTokenServiceType"><KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>!!notbase64</X509Certificate></X509Data></KeyInfo></KeyDescriptor></RoleDescriptor></EntityDescriptor>"#;
        assert!(matches!(
            parse(bad_cert),
            Err(MetadataError::BadCertificate(_))
        ));
    }
}
