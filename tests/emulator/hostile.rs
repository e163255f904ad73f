//! Bad input to every route: only 4xx answers, and the tenant keeps answering.

use reqwest::Method;

use crate::common::Rig;

const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1.0/domains"),
    ("GET", "/v1.0/domains/{id}"),
    ("PATCH", "/v1.0/domains/{id}"),
    ("POST", "/v1.0/domains/{id}/promote"),
    ("GET", "/v1.0/domains/{id}/federationConfiguration"),
    ("POST", "/v1.0/domains/{id}/federationConfiguration"),
    (
        "GET",
        "/v1.0/domains/contoso.com/federationConfiguration/{id}",
    ),
    (
        "PATCH",
        "/v1.0/domains/contoso.com/federationConfiguration/{id}",
    ),
    (
        "DELETE",
        "/v1.0/domains/contoso.com/federationConfiguration/{id}",
    ),
    ("GET", "/v1.0/organization"),
    ("GET", "/beta/organization"),
    ("GET", "/v1.0/directory/onPremisesSynchronization"),
    ("PATCH", "/v1.0/directory/onPremisesSynchronization/{id}"),
    ("GET", "/v1.0/users"),
    ("GET", "/v1.0/users/{id}"),
    ("GET", "/v1.0/me"),
    ("GET", "/v1.0/groups"),
    ("GET", "/v1.0/policies/featureRolloutPolicies"),
    ("POST", "/v1.0/policies/featureRolloutPolicies"),
    ("DELETE", "/v1.0/policies/featureRolloutPolicies/{id}"),
    (
        "POST",
        "/v1.0/policies/featureRolloutPolicies/{id}/appliesTo/$ref",
    ),
    (
        "DELETE",
        "/v1.0/policies/featureRolloutPolicies/{id}/appliesTo/{id}/$ref",
    ),
    ("POST", "/{id}/oauth2/v2.0/token"),
    ("POST", "/{id}/oauth2/v2.0/devicecode"),
    ("GET", "/common/userrealm/{id}"),
    ("GET", "/{id}/v2.0/.well-known/openid-configuration"),
    ("POST", "/common/oauth2/deviceauth"),
    ("POST", "/_control/faults"),
    ("POST", "/_control/adfs/{id}"),
    ("POST", "/_control/clock"),
];

/// Odd ids as a client library sends them (it folds `..` and `%2e%2e` away itself; the raw test
/// below sends those byte for byte).
fn odd_ids() -> Vec<String> {
    vec![
        "%00".into(),
        "a%00b".into(),
        "x".repeat(10 * 1024),
        "%FF%FE".into(),
        "%C3%28".into(),
        "'; DROP".into(),
        "%".into(),
    ]
}

fn bodies() -> Vec<Vec<u8>> {
    vec![
        b"{".to_vec(),
        b"not json".to_vec(),
        b"[]".to_vec(),
        b"null".to_vec(),
        br#"{"authenticationType": 5, "features": "on", "displayName": []}"#.to_vec(),
        br#"{"promptLoginBehavior": "sometimes", "feature": "teleport"}"#.to_vec(),
        br##"{"id": "mine", "@odata.type": "#microsoft.graph.user"}"##.to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
    ]
}

#[tokio::test]
async fn hostile_requests_get_4xx_and_the_tenant_keeps_answering() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let huge = vec![b'a'; 5 * 1024 * 1024];
    let mut sent = 0;
    for (method, template) in ROUTES {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let is_control = template.starts_with("/_control");
        let token = if is_control {
            rig.info.control_token.clone()
        } else {
            admin.clone()
        };
        for id in odd_ids() {
            let url = format!("{}{}", rig.info.graph_url, template.replace("{id}", &id));
            let mut bodies = bodies();
            bodies.push(huge.clone());
            for body in bodies {
                let r = rig
                    .http
                    .request(method.clone(), &url)
                    .bearer_auth(&token)
                    .header(
                        "content-type",
                        if template.contains("oauth2") || template.contains("deviceauth") {
                            "application/x-www-form-urlencoded"
                        } else {
                            "application/json"
                        },
                    )
                    .body(body.clone())
                    .send()
                    .await;
                sent += 1;
                let status = match r {
                    Ok(r) => r.status().as_u16(),
                    // A client may give up sending a body the server already refused; the answer still came.
                    Err(e) if body.len() == huge.len() => {
                        assert!(!e.is_timeout(), "{method} {url}: {e}");
                        continue;
                    }
                    Err(e) => panic!("{method} {}: {e}", &url[..url.len().min(120)]),
                };
                // A GET ignores its body, and user realm answers "Unknown" for any name: those may
                // succeed. Everything else here is bad input and must be refused; nothing may fail.
                let may_succeed = method == Method::GET
                    && (!template.contains("{id}") || template.contains("userrealm"));
                let ok = if may_succeed {
                    status < 500
                } else {
                    (400..500).contains(&status)
                };
                assert!(
                    ok,
                    "{method} {} with a {}-byte body answered {status}",
                    &url[..url.len().min(120)],
                    body.len()
                );
            }
        }
    }
    assert!(sent >= 2000, "{sent}");
    // Still answering, and nothing changed.
    let a = rig.get(&admin, "/v1.0/domains").await;
    assert_eq!(a.status, 200);
    let t = rig.emu.tenant();
    assert_eq!(t.domains.len(), 5);
    assert!(t.domains.iter().filter(|d| d.federation.is_some()).count() == 2);
    let log = rig.emu.requests();
    assert!(
        log.iter().all(|e| e.status < 500),
        "{:?}",
        log.iter().find(|e| e.status >= 500)
    );
}

#[tokio::test]
async fn a_huge_body_gets_413() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let body = format!("{{\"displayName\": \"{}\"}}", "a".repeat(4 * 1024 * 1024));
    let a = rig
        .raw(
            rig.http
                .patch(rig.url("/v1.0/domains/contoso.com"))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
    assert_eq!(a.status, 413);
    assert_eq!(a.code(), "Request_EntityTooLarge");
}

/// Sends a request byte for byte over TLS, bypassing any client-side normalisation; returns the status.
async fn raw_request(rig: &Rig, request: &[u8]) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    entra_failover::tls::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&rig.info.ca_file).unwrap();
    for c in rustls_pemfile::certs(&mut &pem[..]) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let addr = rig
        .info
        .graph_url
        .trim_start_matches("https://")
        .to_string();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(request).await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = tls.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn raw_paths_with_dot_segments_nul_and_non_utf8_bytes_get_4xx() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let paths: Vec<Vec<u8>> = vec![
        b"/v1.0/domains/..".to_vec(),
        b"/v1.0/domains/../../etc/passwd".to_vec(),
        b"/v1.0/domains/%2e%2e/federationConfiguration".to_vec(),
        b"/v1.0/domains/%00".to_vec(),
        b"/v1.0/domains/%FF%FE/federationConfiguration".to_vec(),
        b"/v1.0/domains/\xff".to_vec(),
        vec![
            b'/', b'v', b'1', b'.', b'0', b'/', b'u', b's', b'e', b'r', b's', b'/', 0xff, 0xfe,
        ],
        format!("/v1.0/users/{}", "x".repeat(10 * 1024)).into_bytes(),
        b"/%C3%28/oauth2/v2.0/token".to_vec(),
    ];
    for path in paths {
        for method in ["GET", "PATCH", "POST", "DELETE"] {
            let mut req = format!("{method} ").into_bytes();
            req.extend_from_slice(&path);
            req.extend_from_slice(format!(" HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {admin}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}").as_bytes());
            let status = raw_request(&rig, &req).await;
            assert!(
                (400..500).contains(&status),
                "{method} {} answered {status}",
                String::from_utf8_lossy(&path[..path.len().min(80)])
            );
        }
    }
    assert_eq!(rig.get(&admin, "/v1.0/domains").await.status, 200);
    let t = rig.emu.tenant();
    assert_eq!(
        t.domains.iter().filter(|d| d.federation.is_some()).count(),
        2
    );
}

/// A request 20,000 elements deep, its depth hidden behind a processing instruction, posted to the
/// rehearsal farm's WS-Trust endpoint with no token: the farm answers with a fault and the tenant,
/// farm and Graph alike, keeps answering (a parser that recursed into it would take the whole
/// process, and the wizard hosting it, down).
#[tokio::test]
async fn a_deep_document_posted_to_the_farm_takes_nothing_down() {
    let rig = Rig::start().await;
    let farm = rig.info.adfs["sts.contoso.com"].clone();
    // 60 KB: under the farm's request bound, so that the depth guard is what refuses it.
    let deep = format!("<?x a> <!-- ?>{}", "<a>".repeat(20_000));
    let r = rig
        .http
        .post(format!("{farm}/adfs/services/trust/2005/usernamemixed"))
        .header("content-type", "application/soap+xml; charset=utf-8")
        .body(deep)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 500, "a SOAP fault");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("ID3137: The request message nests too deeply")
    );
    let metadata = rig
        .http
        .get(format!(
            "{farm}/FederationMetadata/2007-06/FederationMetadata.xml"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status().as_u16(), 200);
    let admin = rig.admin_token().await;
    assert_eq!(rig.get(&admin, "/v1.0/domains").await.status, 200);
}
