//! WS-Trust 2005 `usernamemixed`: how Microsoft Entra ID checks a federated user's password at the
//! farm (for clients that send it a password). The request carries the password, so it is built as a
//! secret; the answer is a SAML 1.1 assertion, or a SOAP fault saying why not.

use secrecy::{ExposeSecret, SecretString};

/// Microsoft 365's relying party identifier at AD FS.
pub const RELYING_PARTY: &str = "urn:federation:MicrosoftOnline";
/// Far more than any token response: a larger answer is not read.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum WsTrustError {
    #[error("the farm's answer is {0} bytes; at most {MAX_RESPONSE_BYTES} are read")]
    TooLarge(usize),
    #[error(
        "the farm's answer nests elements more than {} deep",
        crate::xml::MAX_DEPTH
    )]
    TooDeep,
    #[error("the farm's answer is not well-formed XML: {0}")]
    Xml(String),
    #[error("the farm answered neither a token nor a SOAP fault")]
    NoToken,
}

/// The assertion the farm issued, as Entra ID reads it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Assertion {
    pub issuer: String,
    /// The name identifier: the user's ImmutableID (their `onPremisesImmutableId`).
    pub name_identifier: Option<String>,
    pub upn: Option<String>,
    pub audience: Option<String>,
    pub not_on_or_after: Option<String>,
    /// The certificate in the signature's KeyInfo (base64 DER).
    pub signing_certificate: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Token(Assertion),
    /// A SOAP fault: its subcode (`a:FailedAuthentication`) and reason text.
    Fault {
        code: String,
        reason: String,
    },
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The request security token message for `username`, sent to `endpoint`.
pub fn request(endpoint: &str, username: &str, password: &SecretString) -> SecretString {
    let now = time::OffsetDateTime::now_utc();
    let ts = |d: time::OffsetDateTime| crate::graph::models::graph_time(d);
    SecretString::from(format!(
        concat!(
            "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://www.w3.org/2005/08/addressing\" ",
            "xmlns:u=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\"><s:Header>",
            "<a:Action s:mustUnderstand=\"1\">http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue</a:Action>",
            "<a:messageID>urn:uuid:{msg}</a:messageID>",
            "<a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>",
            "<a:To s:mustUnderstand=\"1\">{to}</a:To>",
            "<o:Security s:mustUnderstand=\"1\" xmlns:o=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd\">",
            "<u:Timestamp u:Id=\"_0\"><u:Created>{created}</u:Created><u:Expires>{expires}</u:Expires></u:Timestamp>",
            "<o:UsernameToken u:Id=\"uuid-{tok}\"><o:Username>{user}</o:Username><o:Password>{pw}</o:Password></o:UsernameToken>",
            "</o:Security></s:Header><s:Body>",
            "<t:RequestSecurityToken xmlns:t=\"http://schemas.xmlsoap.org/ws/2005/02/trust\">",
            "<wsp:AppliesTo xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2004/09/policy\"><a:EndpointReference><a:Address>{rp}</a:Address></a:EndpointReference></wsp:AppliesTo>",
            "<t:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType>",
            "<t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType>",
            "</t:RequestSecurityToken></s:Body></s:Envelope>"
        ),
        msg = uuid::Uuid::new_v4(),
        to = escape(endpoint),
        created = ts(now),
        expires = ts(now + time::Duration::minutes(10)),
        tok = uuid::Uuid::new_v4(),
        user = escape(username),
        pw = escape(password.expose_secret()),
        rp = RELYING_PARTY,
    ))
}

fn named<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.descendants()
        .find(|n| n.is_element() && n.tag_name().name() == name)
}

fn text_of(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    named(node, name)
        .and_then(|n| n.text())
        .map(|t| t.trim().to_string())
}

/// Sends `username`'s request security token message to the farm's `endpoint`, reached at `to` (the
/// rehearsal maps a farm to a local port), as AD FS takes it, bounded to 20 seconds. The message
/// holds the password: it lives only while it is sent.
pub async fn send(
    http: &reqwest::Client,
    endpoint: &url::Url,
    to: url::Url,
    username: &str,
    password: &SecretString,
) -> Result<reqwest::Response, reqwest::Error> {
    let body = request(endpoint.as_str(), username, password);
    http.post(to)
        .header("content-type", "application/soap+xml; charset=utf-8")
        .timeout(std::time::Duration::from_secs(20))
        .body(body.expose_secret().to_string())
        .send()
        .await
}

/// The issued assertion as the farm wrote it (`<saml:Assertion …>…</saml:Assertion>`), to hand on
/// to Entra ID unchanged: its signature covers these very bytes. Read after `parse_response` has
/// accepted the answer.
pub fn assertion_xml(xml: &str) -> Option<&str> {
    let start = xml.find("<saml:Assertion")?;
    let close = "</saml:Assertion>";
    let end = xml[start..].find(close)? + start + close.len();
    Some(&xml[start..end])
}

/// Reads the farm's answer (whatever its HTTP status: AD FS sends faults with 500).
pub fn parse_response(xml: &str) -> Result<Answer, WsTrustError> {
    let doc = crate::xml::parse(xml, MAX_RESPONSE_BYTES).map_err(|e| match e {
        crate::xml::XmlError::TooLarge(n, _) => WsTrustError::TooLarge(n),
        crate::xml::XmlError::TooDeep => WsTrustError::TooDeep,
        crate::xml::XmlError::Malformed(m) => WsTrustError::Xml(m),
    })?;
    let root = doc.root();
    if let Some(fault) = named(root, "Fault") {
        let code = named(fault, "Subcode")
            .and_then(|s| named(s, "Value"))
            .and_then(|v| v.text())
            .or_else(|| named(fault, "Value").and_then(|v| v.text()))
            .or_else(|| named(fault, "faultcode").and_then(|v| v.text()))
            .unwrap_or_default()
            .trim()
            .to_string();
        let reason = text_of(fault, "Text")
            .or_else(|| text_of(fault, "faultstring"))
            .unwrap_or_default();
        return Ok(Answer::Fault { code, reason });
    }
    let Some(assertion) = named(root, "Assertion") else {
        return Err(WsTrustError::NoToken);
    };
    // SAML 1.1 names its issuer in an attribute; SAML 2.0 in an element.
    let issuer = assertion
        .attribute("Issuer")
        .map(str::to_string)
        .or_else(|| text_of(assertion, "Issuer"))
        .unwrap_or_default();
    let upn = assertion
        .descendants()
        .filter(|n| n.tag_name().name() == "Attribute")
        .find(|n| n.attribute("AttributeName") == Some("UPN"))
        .and_then(|n| text_of(n, "AttributeValue"));
    let not_on_or_after = named(assertion, "Conditions")
        .and_then(|c| c.attribute("NotOnOrAfter"))
        .map(str::to_string);
    let signing_certificate = named(assertion, "Signature")
        .and_then(|sig| text_of(sig, "X509Certificate"))
        .map(|c| c.split_whitespace().collect());
    Ok(Answer::Token(Assertion {
        issuer,
        name_identifier: text_of(assertion, "NameIdentifier")
            .or_else(|| text_of(assertion, "NameID")),
        upn,
        audience: text_of(assertion, "Audience"),
        not_on_or_after,
        signing_certificate,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_escapes_and_names_microsoft_365() {
        let r = request(
            "https://sts.contoso.com/adfs/services/trust/2005/usernamemixed",
            "a&b@contoso.com",
            &SecretString::from("p<w>\"'&".to_string()),
        );
        let x = r.expose_secret();
        assert!(x.contains("<o:Username>a&amp;b@contoso.com</o:Username>"));
        assert!(x.contains("<o:Password>p&lt;w&gt;&quot;&apos;&amp;</o:Password>"));
        assert!(x.contains("<a:Address>urn:federation:MicrosoftOnline</a:Address>"));
        roxmltree::Document::parse(x).unwrap();
        // Debug output never shows it.
        assert!(!format!("{r:?}").contains("p&lt;w"));
    }

    #[test]
    fn faults_tokens_and_garbage() {
        let fault = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:a="http://docs.oasis-open.org/ws-sx/ws-trust/200512">a:FailedAuthentication</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang="en-US">ID3242: The security token could not be authenticated or authorized.</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"#;
        assert_eq!(
            parse_response(fault).unwrap(),
            Answer::Fault {
                code: "a:FailedAuthentication".into(),
                reason: "ID3242: The security token could not be authenticated or authorized."
                    .into()
            }
        );
        let token = r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><t:RequestSecurityTokenResponse xmlns:t="http://schemas.xmlsoap.org/ws/2005/02/trust"><t:RequestedSecurityToken><saml:Assertion MajorVersion="1" MinorVersion="1" AssertionID="_1" Issuer="http://sts.contoso.com/adfs/services/trust/" xmlns:saml="urn:oasis:names:tc:SAML:1.0:assertion"><saml:Conditions NotOnOrAfter="2026-12-02T20:00:00Z"><saml:AudienceRestrictionCondition><saml:Audience>urn:federation:MicrosoftOnline</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions><saml:AttributeStatement><saml:Subject><saml:NameIdentifier>AbC==</saml:NameIdentifier></saml:Subject><saml:Attribute AttributeName="UPN" AttributeNamespace="http://schemas.xmlsoap.org/claims"><saml:AttributeValue>adele@contoso.com</saml:AttributeValue></saml:Attribute></saml:AttributeStatement><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>MIIB
AA==</X509Certificate></X509Data></KeyInfo></ds:Signature></saml:Assertion></t:RequestedSecurityToken></t:RequestSecurityTokenResponse></s:Body></s:Envelope>"#;
        let Answer::Token(a) = parse_response(token).unwrap() else {
            panic!("no token")
        };
        assert_eq!(a.issuer, "http://sts.contoso.com/adfs/services/trust/");
        assert_eq!(a.name_identifier.as_deref(), Some("AbC=="));
        assert_eq!(a.upn.as_deref(), Some("adele@contoso.com"));
        assert_eq!(a.audience.as_deref(), Some(RELYING_PARTY));
        assert_eq!(a.signing_certificate.as_deref(), Some("MIIBAA=="));
        assert!(matches!(
            parse_response("<html>busy</html>"),
            Err(WsTrustError::NoToken)
        ));
        assert!(matches!(parse_response("<a"), Err(WsTrustError::Xml(_))));
        assert!(matches!(
            parse_response(&format!("{}{}", "<a>".repeat(300), "</a>".repeat(300))),
            Err(WsTrustError::TooDeep)
        ));
        assert!(matches!(
            parse_response(&" ".repeat(MAX_RESPONSE_BYTES + 1)),
            Err(WsTrustError::TooLarge(_))
        ));
        let dtd = r#"<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>"#;
        assert!(parse_response(dtd).is_err());
    }
}
