//! AD FS farms of the rehearsal tenant: federation metadata in the structure AD FS publishes, the
//! passive and WS-Trust sign-in endpoints, MEX and the health probe. A farm that is down closes its
//! listening socket, so that clients see connections refused, as they do when a farm is dead.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::http::{Req, Resp, text};
use super::state::{FarmRec, FarmState, Tenant};
use super::{ConnectionReset, EmulatorError, LogEntry, Shared, accept_loop, lock, read_request};

/// Binds a farm's listener so that it can take its port back after being down: `SO_REUSEADDR` on
/// Unix (past TIME_WAIT). Not on Windows, where the same option lets a socket share a port another
/// socket still listens on, so that a farm could come up on a port that a killed process's
/// listener still holds and its clients time out (seen under Wine); Windows rebinds without it.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    #[cfg(unix)]
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

pub fn bind_new(ip: std::net::IpAddr) -> Result<TcpListener, EmulatorError> {
    bind(SocketAddr::new(ip, 0)).map_err(|e| EmulatorError::Listen {
        addr: ip.to_string(),
        source: e,
    })
}

/// What a farm's server task needs besides its changing state.
pub struct FarmServer {
    pub service: String,
    pub addr: SocketAddr,
    pub acceptor: TlsAcceptor,
    pub shared: Arc<Shared>,
    /// Tells the control API which state the listener is really in.
    pub applied: watch::Sender<FarmState>,
}

/// Serves one farm for as long as the emulator runs, following its up/down state.
pub async fn serve_farm(
    farm: FarmServer,
    mut listener: Option<TcpListener>,
    mut state: watch::Receiver<FarmState>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let up = *state.borrow_and_update() == FarmState::Up;
        if up {
            let l = match listener.take() {
                Some(l) => l,
                None => match rebind(farm.addr).await {
                    Some(l) => l,
                    None => {
                        tracing::error!(service = %farm.service, addr = %farm.addr, "the farm could not take its port back");
                        return;
                    }
                },
            };
            let (stop_tx, stop_rx) = watch::channel(false);
            let sh = farm.shared.clone();
            let name = farm.service.clone();
            let task = tokio::spawn(accept_loop(
                l,
                farm.acceptor.clone(),
                stop_rx,
                move |request| {
                    let sh = sh.clone();
                    let name = name.clone();
                    async move { farm_request(&sh, &name, request).await }
                },
            ));
            farm.applied.send_replace(FarmState::Up);
            tokio::select! {
                _ = state.changed() => {}
                _ = shutdown.changed() => {
                    let _ = stop_tx.send(true);
                    return;
                }
            }
            let _ = stop_tx.send(true);
            let _ = task.await;
        } else {
            listener = None;
            farm.applied.send_replace(FarmState::Down);
            tokio::select! {
                r = state.changed() => if r.is_err() { return },
                _ = shutdown.changed() => return,
            }
        }
    }
}

async fn rebind(addr: SocketAddr) -> Option<TcpListener> {
    for _ in 0..50 {
        if let Ok(l) = bind(addr) {
            return Some(l);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

async fn farm_request(
    sh: &Shared,
    service: &str,
    request: Request<Incoming>,
) -> Result<Resp, ConnectionReset> {
    let req = match read_request(request).await {
        Ok(r) => r,
        Err((req, status)) => return Ok(text(status, &req, "text/plain", "Bad request".into())),
    };
    let resp = {
        let t = lock(&sh.tenant);
        match t.farms.get(service) {
            Some(farm) => route(&t, service, farm, &req),
            None => text(
                StatusCode::NOT_FOUND,
                &req,
                "text/plain",
                "Not found".into(),
            ),
        }
    };
    sh.record(LogEntry {
        method: req.method.to_string(),
        path: format!("https://{service}{}", req.target()),
        status: resp.status().as_u16(),
        time: crate::graph::models::graph_time(req.now),
        request_id: req.request_id.clone(),
        client_request_id: req.client_request_id.clone(),
        client: None,
    });
    Ok(resp)
}

fn route(t: &Tenant, service: &str, farm: &FarmRec, req: &Req) -> Resp {
    let path = req.raw_path.to_ascii_lowercase();
    let path = path.trim_end_matches('/');
    match (req.method.as_str(), path) {
        ("GET", "/federationmetadata/2007-06/federationmetadata.xml") => text(
            StatusCode::OK,
            req,
            "application/samlmetadata+xml",
            metadata(service, farm),
        ),
        ("GET", "/adfs/probe") => text(StatusCode::OK, req, "text/plain", String::new()),
        ("GET", "/adfs/ls") => text(
            StatusCode::OK,
            req,
            "text/html; charset=utf-8",
            sign_in_page(farm),
        ),
        ("GET", "/adfs/services/trust/mex") => text(
            StatusCode::OK,
            req,
            "application/soap+xml; charset=utf-8",
            mex(service),
        ),
        ("POST", "/adfs/services/trust/2005/usernamemixed") => {
            username_mixed(t, service, farm, req)
        }
        _ => text(
            StatusCode::NOT_FOUND,
            req,
            "text/html",
            "<html><body>HTTP 404: the page was not found.</body></html>".into(),
        ),
    }
}

fn key_descriptor(usage: &str, cert_b64: &str) -> String {
    format!(
        "<KeyDescriptor use=\"{usage}\"><KeyInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><X509Data><X509Certificate>{cert_b64}</X509Certificate></X509Data></KeyInfo></KeyDescriptor>"
    )
}

fn endpoint(tag: &str, address: &str, mex: Option<&str>) -> String {
    let metadata = mex
        .map(|m| {
            format!(
                "<wsa:Metadata><Metadata xmlns=\"http://schemas.xmlsoap.org/ws/2004/09/mex\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><wsx:MetadataSection xmlns=\"\" xmlns:wsx=\"http://schemas.xmlsoap.org/ws/2004/09/mex\" Dialect=\"http://schemas.xmlsoap.org/ws/2004/09/mex\"><wsx:MetadataReference><wsa:Address>{m}</wsa:Address></wsx:MetadataReference></wsx:MetadataSection></Metadata></wsa:Metadata>"
            )
        })
        .unwrap_or_default();
    format!(
        "<fed:{tag}><wsa:EndpointReference xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><wsa:Address>{address}</wsa:Address>{metadata}</wsa:EndpointReference></fed:{tag}>"
    )
}

/// The farm's federation metadata, in the element order AD FS writes.
pub fn metadata(service: &str, farm: &FarmRec) -> String {
    let base = format!("https://{service}");
    let mut signing = key_descriptor("signing", &farm.signing.cert_b64);
    if let Some(next) = &farm.secondary {
        signing.push_str(&key_descriptor("signing", &next.cert_b64));
    }
    let encryption = key_descriptor("encryption", &farm.encryption.cert_b64);
    let name = xml_escape(&farm.display_name);
    let protocols = "http://docs.oasis-open.org/ws-sx/ws-trust/200512 http://schemas.xmlsoap.org/ws/2005/02/trust http://docs.oasis-open.org/wsfed/federation/200706";
    let ns = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:fed=\"http://docs.oasis-open.org/wsfed/federation/200706\"";
    let passive = endpoint(
        "PassiveRequestorEndpoint",
        &format!("{base}/adfs/ls/"),
        None,
    );
    let mut x = String::with_capacity(16 * 1024);
    x.push_str(&format!(
        "<EntityDescriptor ID=\"_{}\" entityID=\"{}\" xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\">",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, farm.signing.cert_b64.as_bytes()),
        xml_escape(&farm.identifier)
    ));
    x.push_str(&format!(
        "<RoleDescriptor xsi:type=\"fed:ApplicationServiceType\" protocolSupportEnumeration=\"{protocols}\" ServiceDisplayName=\"{name}\" {ns}>{encryption}<fed:TargetScopes>{}</fed:TargetScopes>{}{passive}</RoleDescriptor>",
        endpoint_ref(&format!("{base}/adfs/services/trust/2005/issuedtokenmixedasymmetricbasic256")),
        endpoint("ApplicationServiceEndpoint", &format!("{base}/adfs/services/trust/2005/issuedtokenmixedasymmetricbasic256"), None),
    ));
    x.push_str(&format!(
        "<RoleDescriptor xsi:type=\"fed:SecurityTokenServiceType\" protocolSupportEnumeration=\"{protocols}\" ServiceDisplayName=\"{name}\" {ns}>{signing}<fed:TokenTypesOffered><fed:TokenType Uri=\"urn:oasis:names:tc:SAML:2.0:assertion\"/><fed:TokenType Uri=\"urn:oasis:names:tc:SAML:1.0:assertion\"/></fed:TokenTypesOffered>{}{passive}</RoleDescriptor>",
        endpoint("SecurityTokenServiceEndpoint", &format!("{base}/adfs/services/trust/2005/certificatemixed"), Some(&format!("{base}/adfs/services/trust/mex"))),
    ));
    let sso = |tag: &str| {
        format!(
            "<{tag} Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{base}/adfs/ls/\"/><{tag} Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{base}/adfs/ls/\"/>"
        )
    };
    let name_ids = "<NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</NameIDFormat><NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</NameIDFormat><NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</NameIDFormat>";
    x.push_str(&format!(
        "<SPSSODescriptor WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{encryption}{}{}{name_ids}<AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{base}/adfs/ls/\" index=\"0\" isDefault=\"true\"/></SPSSODescriptor>",
        key_descriptor("signing", &farm.signing.cert_b64),
        sso("SingleLogoutService"),
    ));
    x.push_str(&format!(
        "<IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{encryption}{signing}{}{name_ids}{}<Attribute Name=\"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\" FriendlyName=\"UPN\" xmlns=\"urn:oasis:names:tc:SAML:2.0:assertion\"/></IDPSSODescriptor>",
        sso("SingleLogoutService"),
        sso("SingleSignOnService"),
    ));
    x.push_str("<ContactPerson contactType=\"support\"/></EntityDescriptor>");
    x
}

/// Microsoft 365's federation metadata as a relying party of AD FS (`urn:federation:MicrosoftOnline`),
/// in the structure Microsoft publishes it: a WS-Federation application service and a SAML 2.0
/// service provider, each with the signing certificate and the sign-in address (here the
/// rehearsal's own login host).
pub fn microsoft_metadata(signing_b64: &str, login_base: &str) -> String {
    let login = format!("{}/login.srf", login_base.trim_end_matches('/'));
    let signing = key_descriptor("signing", signing_b64);
    let ns = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:fed=\"http://docs.oasis-open.org/wsfed/federation/200706\"";
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><EntityDescriptor ID=\"_{id}\" entityID=\"urn:federation:MicrosoftOnline\" xmlns=\"urn:oasis:names:tc:SAML:2.0:metadata\"><RoleDescriptor xsi:type=\"fed:ApplicationServiceType\" protocolSupportEnumeration=\"http://docs.oasis-open.org/wsfed/federation/200706\" {ns}>{signing}<fed:TargetScopes>{scope}</fed:TargetScopes>{app}{passive}</RoleDescriptor><SPSSODescriptor WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">{signing}<SingleLogoutService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"{login}\"/><NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</NameIDFormat><NameIDFormat>urn:mace:shibboleth:1.0:nameIdentifier</NameIDFormat><NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified</NameIDFormat><AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{login}\" index=\"0\" isDefault=\"true\"/><AssertionConsumerService Binding=\"urn:oasis:names:liberty:paos:2003-08\" Location=\"{login}\" index=\"1\"/></SPSSODescriptor></EntityDescriptor>",
        id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, signing_b64.as_bytes()),
        scope = endpoint_ref(&login),
        app = endpoint("ApplicationServiceEndpoint", &login, None),
        passive = endpoint("PassiveRequestorEndpoint", &login, None),
    )
}

fn endpoint_ref(address: &str) -> String {
    format!(
        "<wsa:EndpointReference xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><wsa:Address>{address}</wsa:Address></wsa:EndpointReference>"
    )
}

pub fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn sign_in_page(farm: &FarmRec) -> String {
    format!(
        "<!DOCTYPE html><html><head><title>Sign In</title></head><body><h1>{}</h1><p>REHEARSAL TENANT (simulated) AD FS sign-in page.</p><form method=\"post\" id=\"loginForm\"><input id=\"userNameInput\" name=\"UserName\" type=\"email\"><input id=\"passwordInput\" name=\"Password\" type=\"password\"><span id=\"submitButton\">Sign in</span></form></body></html>",
        xml_escape(&farm.display_name)
    )
}

fn mex(service: &str) -> String {
    let base = format!("https://{service}");
    format!(
        "<wsdl:definitions name=\"SecurityTokenService\" targetNamespace=\"http://tempuri.org/\" xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\" xmlns:soap12=\"http://schemas.xmlsoap.org/wsdl/soap12/\" xmlns:wsa10=\"http://www.w3.org/2005/08/addressing\"><wsdl:service name=\"SecurityTokenService\"><wsdl:port name=\"UserNameWSTrustBinding_IWSTrustFeb2005Async\" binding=\"tns:UserNameWSTrustBinding_IWSTrustFeb2005Async\"><soap12:address location=\"{base}/adfs/services/trust/2005/usernamemixed\"/><wsa10:EndpointReference><wsa10:Address>{base}/adfs/services/trust/2005/usernamemixed</wsa10:Address></wsa10:EndpointReference></wsdl:port><wsdl:port name=\"CertificateWSTrustBinding_IWSTrustFeb2005Async\" binding=\"tns:CertificateWSTrustBinding_IWSTrustFeb2005Async\"><soap12:address location=\"{base}/adfs/services/trust/2005/certificatemixed\"/><wsa10:EndpointReference><wsa10:Address>{base}/adfs/services/trust/2005/certificatemixed</wsa10:Address></wsa10:EndpointReference></wsdl:port></wsdl:service></wsdl:definitions>"
    )
}

fn soap_fault(req: &Req, reason: &str) -> Resp {
    let body = format!(
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:a=\"http://www.w3.org/2005/08/addressing\"><s:Header><a:Action s:mustUnderstand=\"1\">http://www.w3.org/2005/08/addressing/soap/fault</a:Action></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value xmlns:a=\"http://docs.oasis-open.org/ws-sx/ws-trust/200512\">a:FailedAuthentication</s:Value></s:Subcode></s:Code><s:Reason><s:Text xml:lang=\"en-US\">{}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>",
        xml_escape(reason)
    );
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        req,
        "application/soap+xml; charset=utf-8",
        body,
    )
}

/// The largest WS-Trust request a farm reads (a real one is about 2 KB).
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// WS-Trust 2005 username/password: on-premises AD checks the password, and the farm issues a SAML
/// 1.1 assertion for Microsoft 365 (`urn:federation:MicrosoftOnline`), with the issuer its claim
/// rules give the user's domain, the user's ImmutableID as its name, and a signature by its
/// current token-signing certificate (which Entra ID must also hold).
fn username_mixed(t: &Tenant, service: &str, farm: &FarmRec, req: &Req) -> Resp {
    let Ok(text_body) = std::str::from_utf8(&req.body) else {
        return soap_fault(req, "ID3137: The request message is not valid XML.");
    };
    let doc = match crate::xml::parse(text_body, MAX_REQUEST_BYTES) {
        Ok(d) => d,
        Err(crate::xml::XmlError::TooDeep) => {
            return soap_fault(req, "ID3137: The request message nests too deeply.");
        }
        Err(crate::xml::XmlError::TooLarge(..)) => {
            return soap_fault(req, "ID3137: The request message is too large.");
        }
        Err(_) => return soap_fault(req, "ID3137: The request message is not valid XML."),
    };
    let find = |name: &str| {
        doc.descendants()
            .find(|n| n.tag_name().name() == name)
            .and_then(|n| n.text())
            .map(str::trim)
    };
    let (Some(username), Some(password)) = (find("Username"), find("Password")) else {
        return soap_fault(
            req,
            "ID3082: The request scope is not valid or is unsupported: no username token.",
        );
    };
    let applies_to = doc
        .descendants()
        .find(|n| n.tag_name().name() == "AppliesTo")
        .and_then(|n| n.descendants().find(|d| d.tag_name().name() == "Address"))
        .and_then(|n| n.text())
        .map(str::trim);
    if applies_to != Some(RELYING_PARTY) {
        return soap_fault(
            req,
            &format!(
                "MSIS7007: The requested relying party trust '{}' is unspecified or unsupported.",
                applies_to.unwrap_or_default()
            ),
        );
    }
    let user = t.user_by_upn(username).filter(|u| u.synced && u.enabled);
    let Some(user) = user.filter(|_| super::http::same_secret(password, t.user_password())) else {
        return soap_fault(
            req,
            "ID3242: The security token could not be authenticated or authorized.",
        );
    };
    let root = t
        .domain_of_upn(&user.upn)
        .map(|i| t.domains[t.root_of(i)].id().to_ascii_lowercase());
    let issuer = match root.as_ref().and_then(|r| farm.issuers.get(r)) {
        Some(i) => i.clone(),
        // A domain the farm's claim rules do not name: the farm's own identifier.
        None if !farm.issuers.is_empty() => farm.identifier.clone(),
        // A state saved before farms kept their own issuers: what Entra had for the domain.
        None => t
            .domain_of_upn(&user.upn)
            .and_then(|i| {
                let r = &t.domains[t.root_of(i)];
                r.federation
                    .as_deref()
                    .cloned()
                    .or_else(|| r.previous.as_ref().and_then(|p| p.federation.clone()))
            })
            .and_then(|f| f.issuer_uri)
            .unwrap_or_else(|| farm.identifier.clone()),
    };
    let now = t.now();
    let ts = |d: time::OffsetDateTime| crate::graph::models::graph_time(d);
    let id = format!("_{}", uuid::Uuid::new_v4());
    let assertion_body = format!(
        "<saml:Conditions NotBefore=\"{}\" NotOnOrAfter=\"{}\"><saml:AudienceRestrictionCondition><saml:Audience>{RELYING_PARTY}</saml:Audience></saml:AudienceRestrictionCondition></saml:Conditions><saml:AttributeStatement><saml:Subject><saml:NameIdentifier Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">{}</saml:NameIdentifier><saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod></saml:SubjectConfirmation></saml:Subject><saml:Attribute AttributeName=\"UPN\" AttributeNamespace=\"http://schemas.xmlsoap.org/claims\"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute><saml:Attribute AttributeName=\"ImmutableID\" AttributeNamespace=\"http://schemas.microsoft.com/LiveID/Federation/2008/05\"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement><saml:AuthenticationStatement AuthenticationMethod=\"urn:oasis:names:tc:SAML:1.0:am:password\" AuthenticationInstant=\"{}\"><saml:Subject><saml:NameIdentifier Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\">{}</saml:NameIdentifier></saml:Subject></saml:AuthenticationStatement>",
        ts(now),
        ts(now + time::Duration::hours(1)),
        xml_escape(user.immutable_id.as_deref().unwrap_or_default()),
        xml_escape(&user.upn),
        xml_escape(user.immutable_id.as_deref().unwrap_or_default()),
        ts(now),
        xml_escape(user.immutable_id.as_deref().unwrap_or_default()),
    );
    let signature = sign_assertion(farm, &id, &assertion_body);
    let body = format!(
        "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body><t:RequestSecurityTokenResponse xmlns:t=\"http://schemas.xmlsoap.org/ws/2005/02/trust\"><t:Lifetime><wsu:Created xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\">{}</wsu:Created><wsu:Expires xmlns:wsu=\"http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd\">{}</wsu:Expires></t:Lifetime><wsp:AppliesTo xmlns:wsp=\"http://schemas.xmlsoap.org/ws/2004/09/policy\"><wsa:EndpointReference xmlns:wsa=\"http://www.w3.org/2005/08/addressing\"><wsa:Address>{RELYING_PARTY}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo><t:RequestedSecurityToken><saml:Assertion MajorVersion=\"1\" MinorVersion=\"1\" AssertionID=\"{id}\" Issuer=\"{}\" IssueInstant=\"{}\" xmlns:saml=\"urn:oasis:names:tc:SAML:1.0:assertion\">{assertion_body}{signature}</saml:Assertion></t:RequestedSecurityToken><t:TokenType>urn:oasis:names:tc:SAML:1.0:assertion</t:TokenType><t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType><t:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType></t:RequestSecurityTokenResponse></s:Body></s:Envelope>",
        ts(now),
        ts(now + time::Duration::hours(1)),
        xml_escape(&issuer),
        ts(now),
    );
    let _ = service;
    text(
        StatusCode::OK,
        req,
        "application/soap+xml; charset=utf-8",
        body,
    )
}

/// Microsoft 365's relying party identifier at AD FS.
const RELYING_PARTY: &str = "urn:federation:MicrosoftOnline";

/// An enveloped XML signature (RSA-SHA256 over the SignedInfo as written, which is already in
/// canonical form) whose KeyInfo carries the farm's current token-signing certificate.
fn sign_assertion(farm: &FarmRec, id: &str, body: &str) -> String {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let digest = b64(ring::digest::digest(&ring::digest::SHA256, body.as_bytes()).as_ref());
    let signed_info = format!(
        "<ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"></ds:SignatureMethod><ds:Reference URI=\"#{id}\"><ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"></ds:Transform><ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"></ds:DigestMethod><ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>"
    );
    let value = farm
        .signing
        .private_key()
        .and_then(|key| key.sign_sha256(signed_info.as_bytes()))
        .map(|sig| b64(&sig))
        .unwrap_or_default();
    format!(
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">{signed_info}<ds:SignatureValue>{value}</ds:SignatureValue><KeyInfo xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><X509Data><X509Certificate>{}</X509Certificate></X509Data></KeyInfo></ds:Signature>",
        farm.signing.cert_b64
    )
}
