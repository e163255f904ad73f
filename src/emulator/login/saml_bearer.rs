//! The SAML 1.1 bearer grant (`urn:ietf:params:oauth:grant-type:saml1_1-bearer`): a federated
//! user's token from their AD FS farm (WS-Trust `usernamemixed`), exchanged at Entra's token endpoint.
//! Entra never sees a federated user's password; MSAL signs such users in this way, and so does the
//! rehearsal administrator on a federated domain. Entra's checks, with its answers: the issuer is a
//! federated domain's, the signature is by a certificate that domain trusts, the assertion is for
//! Microsoft 365 and still valid, and its ImmutableID is a user of that domain.

use base64::Engine;
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

use crate::emulator::state::{Tenant, UserRec};

/// A bound on the assertion (AD FS's are a few kilobytes).
const MAX_ASSERTION_BYTES: usize = 64 * 1024;

/// Microsoft 365's relying party identifier: the audience of every assertion Entra takes.
const AUDIENCE: &str = "urn:federation:MicrosoftOnline";

/// Why Entra refuses the assertion: its AADSTS code and message.
#[derive(Debug, PartialEq)]
pub struct Refused {
    pub code: u32,
    pub message: String,
}

fn refused(code: u32, message: impl Into<String>) -> Refused {
    Refused {
        code,
        message: message.into(),
    }
}

/// The text between `open`'s first match and the following `close`, both included.
fn span<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)?;
    let end = text[start..].find(close)? + start + close.len();
    Some(&text[start..end])
}

/// The user the assertion (base64, as the grant's `assertion` field carries it) signs in, at `now`.
pub fn user_for(t: &Tenant, assertion_b64: &str, now: i64) -> Result<UserRec, Refused> {
    let malformed = || refused(50006, "Invalid SAML assertion: it cannot be read.");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(assertion_b64.trim())
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(assertion_b64.trim()))
        .map_err(|_| malformed())?;
    let xml = String::from_utf8(raw).map_err(|_| malformed())?;
    let doc = crate::xml::parse(&xml, MAX_ASSERTION_BYTES).map_err(|_| malformed())?;
    let assertion = doc
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "Assertion")
        .ok_or_else(malformed)?;
    let text = |name: &str| {
        assertion
            .descendants()
            .find(|n| n.is_element() && n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(|s| s.trim().to_string())
    };
    let issuer = assertion.attribute("Issuer").unwrap_or_default();
    // The federated root domains whose settings name this issuer.
    let realms: Vec<usize> = (0..t.domains.len())
        .filter(|&i| t.root_of(i) == i)
        .filter(|&i| {
            t.domains[i]
                .federation
                .as_ref()
                .and_then(|f| f.issuer_uri.as_deref())
                == Some(issuer)
        })
        .collect();
    if realms.is_empty() {
        return Err(refused(
            50107,
            format!(
                "The requested federation realm object '{}' does not exist.",
                issuer.chars().take(200).collect::<String>()
            ),
        ));
    }
    // The signature: RSA-SHA256 over the SignedInfo as written, by a certificate the domain trusts,
    // and a SignedInfo whose digest is the assertion's (the part before the signature).
    let bad_signature = || {
        refused(
            50008,
            "Unable to verify token signature. The signing key identifier does not match any valid registered keys.",
        )
    };
    let cert = text("X509Certificate").ok_or_else(bad_signature)?;
    let trusted = realms.iter().any(|&i| {
        t.domains[i].federation.as_ref().is_some_and(|f| {
            [&f.signing_certificate, &f.next_signing_certificate]
                .into_iter()
                .flatten()
                .any(|c| c.split_whitespace().collect::<String>() == cert)
        })
    });
    if !trusted {
        return Err(bad_signature());
    }
    let der = base64::engine::general_purpose::STANDARD
        .decode(&cert)
        .map_err(|_| bad_signature())?;
    let key = crate::emulator::tokens::public_key_of(&der).ok_or_else(bad_signature)?;
    let signed_info = span(&xml, "<ds:SignedInfo", "</ds:SignedInfo>").ok_or_else(bad_signature)?;
    let signature = text("SignatureValue")
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .ok_or_else(bad_signature)?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, key.as_bytes())
        .verify(signed_info.as_bytes(), &signature)
        .map_err(|_| bad_signature())?;
    let body = span(&xml, "<saml:Assertion", "<ds:Signature")
        .and_then(|s| s.split_once('>').map(|(_, rest)| rest))
        .map(|s| s.trim_end_matches("<ds:Signature"))
        .ok_or_else(bad_signature)?;
    let digest = base64::engine::general_purpose::STANDARD
        .encode(ring::digest::digest(&ring::digest::SHA256, body.as_bytes()));
    if text("DigestValue").as_deref() != Some(digest.as_str()) {
        return Err(bad_signature());
    }
    if text("Audience").as_deref() != Some(AUDIENCE) {
        return Err(refused(
            50128,
            "Invalid SAML assertion: its audience is not Microsoft 365 (urn:federation:MicrosoftOnline).",
        ));
    }
    let conditions = assertion
        .descendants()
        .find(|n| n.is_element() && n.tag_name().name() == "Conditions");
    let until = conditions
        .and_then(|c| c.attribute("NotOnOrAfter"))
        .and_then(crate::graph::models::parse_graph_time)
        .map(|t| t.unix_timestamp());
    // Entra allows five minutes of clock skew.
    if until.is_none_or(|u| now >= u + 300) {
        return Err(refused(
            500133,
            "Assertion is not within its valid time range.",
        ));
    }
    let immutable_id = assertion
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() == "Attribute")
        .find(|n| n.attribute("AttributeName") == Some("ImmutableID"))
        .and_then(|n| {
            n.descendants()
                .find(|v| v.tag_name().name() == "AttributeValue")
        })
        .and_then(|v| v.text())
        .map(str::trim)
        .ok_or_else(|| refused(50006, "Invalid SAML assertion: it names no ImmutableID."))?;
    let user = t
        .users
        .iter()
        .find(|u| u.immutable_id.as_deref() == Some(immutable_id))
        .filter(|u| {
            t.domain_of_upn(&u.upn)
                .is_some_and(|i| realms.contains(&t.root_of(i)))
        })
        .ok_or_else(|| {
            refused(
                50034,
                "The user account does not exist in the directory for this federation realm.",
            )
        })?;
    if !user.enabled {
        return Err(refused(50057, "The user account is disabled."));
    }
    Ok(user.clone())
}
