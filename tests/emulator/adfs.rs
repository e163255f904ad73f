use entra_failover::adfs::metadata::{self, FederationMetadata};
use reqwest::Method;
use serde_json::json;

use crate::common::Rig;

fn farm_url(rig: &Rig, path: &str) -> String {
    format!("{}{path}", rig.info.adfs["sts.contoso.com"])
}

async fn fetch_metadata(rig: &Rig) -> FederationMetadata {
    let a = rig
        .raw(rig.http.get(farm_url(
            rig,
            "/FederationMetadata/2007-06/FederationMetadata.xml",
        )))
        .await;
    assert_eq!(a.status, 200);
    metadata::parse(&a.text).unwrap()
}

#[tokio::test]
async fn metadata_names_the_farm_and_its_signing_certificate() {
    let rig = Rig::start().await;
    let md = fetch_metadata(&rig).await;
    assert_eq!(md.entity_id, "http://sts.contoso.com/adfs/services/trust");
    assert_eq!(
        md.passive_endpoint.as_deref(),
        Some("https://sts.contoso.com/adfs/ls/")
    );
    assert_eq!(
        md.mex_endpoint.as_deref(),
        Some("https://sts.contoso.com/adfs/services/trust/mex")
    );
    assert_eq!(md.signing_certificates.len(), 1);
    let cert = &md.signing_certificates[0];
    assert_eq!(cert.subject, "CN=ADFS Signing - sts.contoso.com");
    assert_eq!(cert.sha1_thumbprint.len(), 40);
    assert!(cert.not_after_unix - cert.not_before_unix >= 364 * 86_400);
    // Entra's federation settings carry the same certificate the farm publishes.
    let tenant = rig.emu.tenant();
    let fed = tenant.domains[tenant.domain_index("contoso.com").unwrap()]
        .federation
        .clone()
        .unwrap();
    assert_eq!(
        fed.signing_certificate.as_deref(),
        Some(cert.base64.as_str())
    );
}

#[test]
fn real_and_emulated_metadata_parse_into_the_same_fields() {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/adfs-federation-metadata"
    );
    let ucar = metadata::parse(
        &std::fs::read_to_string(format!("{dir}/sts.ucar.edu.FederationMetadata.xml")).unwrap(),
    )
    .unwrap();
    assert_eq!(ucar.entity_id, "https://sts.ucar.edu/adfs/services/trust");
    assert_eq!(ucar.signing_certificates.len(), 1);
    assert_eq!(
        ucar.signing_certificates[0].sha1_thumbprint,
        "2CA67C00EBD5D4E5000AC5A814C829222FB776B6"
    );
    assert_eq!(
        ucar.signing_certificates[0].subject,
        "CN=ADFS Signing - sts.ucar.edu"
    );
    assert_eq!(
        ucar.passive_endpoint.as_deref(),
        Some("https://sts.ucar.edu/adfs/ls/")
    );
    assert_eq!(
        ucar.mex_endpoint.as_deref(),
        Some("https://sts.ucar.edu/adfs/services/trust/mex")
    );
    let rcsj = metadata::parse(
        &std::fs::read_to_string(format!("{dir}/d-sts.devrcsj.com.FederationMetadata.xml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        rcsj.entity_id,
        "https://d-sts.devrcsj.com/adfs/services/trust"
    );
    assert_eq!(
        rcsj.signing_certificates[0].sha1_thumbprint,
        "011BB9D94A7D8B160E86827DDCC3FA714D882473"
    );
    // Expired on 2024-05-08.
    assert!((1_715_126_400..1_715_212_800).contains(&rcsj.signing_certificates[0].not_after_unix));
    for md in [&ucar, &rcsj] {
        assert!(
            md.sts_endpoints
                .iter()
                .any(|e| e.ends_with("/adfs/services/trust/2005/certificatemixed"))
        );
        assert!(md.display_name.is_some());
    }
}

#[tokio::test]
async fn emulated_metadata_has_every_field_the_real_ones_have() {
    let rig = Rig::start().await;
    let md = fetch_metadata(&rig).await;
    assert!(
        md.sts_endpoints
            .iter()
            .any(|e| e.ends_with("/adfs/services/trust/2005/certificatemixed"))
    );
    assert_eq!(md.display_name.as_deref(), Some("Contoso AD FS"));
}

#[tokio::test]
async fn a_farm_that_is_down_refuses_connections_and_comes_back() {
    let rig = Rig::start().await;
    let probe = farm_url(&rig, "/adfs/probe");
    assert_eq!(rig.http.get(&probe).send().await.unwrap().status(), 200);
    let a = rig.farm("down").await;
    assert_eq!(a.body["state"], "down");
    let err = rig.http.get(&probe).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    rig.farm("up").await;
    // The control API answers once the farm listens again, on the same address.
    assert_eq!(rig.http.get(&probe).send().await.unwrap().status(), 200);
    let a = rig
        .control(
            Method::POST,
            "/adfs/sts.contoso.com",
            Some(json!({"state": "sideways"})),
        )
        .await;
    assert_eq!(a.status, 400);
    let a = rig
        .control(
            Method::POST,
            "/adfs/sts.nowhere.example",
            Some(json!({"state": "up"})),
        )
        .await;
    assert_eq!(a.status, 404);
    let requests = rig.emu.requests();
    assert!(
        requests
            .iter()
            .any(|e| e.path == "https://sts.contoso.com/adfs/probe" && e.status == 200)
    );
}

#[tokio::test]
async fn certificate_rollover_lists_two_then_promotes_the_new_one() {
    let rig = Rig::start().await;
    let before = fetch_metadata(&rig).await.signing_certificates;
    let a = rig
        .control(
            Method::POST,
            "/adfs/sts.contoso.com",
            Some(json!({"state": "promote"})),
        )
        .await;
    assert_eq!(a.status, 409, "nothing to promote before a rollover");
    rig.farm("rollover").await;
    let during = fetch_metadata(&rig).await.signing_certificates;
    assert_eq!(during.len(), 2);
    assert_eq!(during[0], before[0]);
    rig.farm("promote").await;
    let after = fetch_metadata(&rig).await.signing_certificates;
    assert_eq!(after, vec![during[1].clone()]);
    // Entra still holds the old certificate until the trust is reset.
    let tenant = rig.emu.tenant();
    let fed = tenant.domains[tenant.domain_index("contoso.com").unwrap()]
        .federation
        .clone()
        .unwrap();
    assert_eq!(
        fed.signing_certificate.as_deref(),
        Some(before[0].base64.as_str())
    );
    assert_ne!(before[0], after[0]);
}

fn rst(user: &str, password: &str) -> String {
    format!(
        r#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing" xmlns:u="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><s:Header><a:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue</a:Action><a:To s:mustUnderstand="1">https://sts.contoso.com/adfs/services/trust/2005/usernamemixed</a:To><o:Security s:mustUnderstand="1" xmlns:o="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"><o:UsernameToken u:Id="uuid-1"><o:Username>{user}</o:Username><o:Password>{password}</o:Password></o:UsernameToken></o:Security></s:Header><s:Body><t:RequestSecurityToken xmlns:t="http://schemas.xmlsoap.org/ws/2005/02/trust"><wsp:AppliesTo xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy"><a:EndpointReference><a:Address>urn:federation:MicrosoftOnline</a:Address></a:EndpointReference></wsp:AppliesTo><t:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType><t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType></t:RequestSecurityToken></s:Body></s:Envelope>"#
    )
}

#[tokio::test]
async fn ws_trust_username_mixed_signs_federated_users_in() {
    let rig = Rig::start().await;
    let url = farm_url(&rig, "/adfs/services/trust/2005/usernamemixed");
    let send = |body: String| {
        rig.raw(
            rig.http
                .post(&url)
                .header("content-type", "application/soap+xml")
                .body(body),
        )
    };
    let user = rig.user_of("fabrikam.com");
    let a = send(rst(&user, &rig.info.user_password)).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(a.text.contains("saml:Assertion"));
    assert!(
        a.text
            .contains("Issuer=\"http://fabrikam.com/adfs/services/trust/\"")
    );
    let a = send(rst(&user, "wrong")).await;
    assert_eq!(a.status, 500);
    assert!(a.text.contains("ID3242"));
    let a = send("<not xml".into()).await;
    assert_eq!(a.status, 500);
    // Deep nesting is refused before the XML parser sees it, and a body larger than any request
    // before it is read as XML; the farm keeps answering.
    let a = send("<a>".repeat(20_000)).await;
    assert_eq!(a.status, 500);
    assert!(a.text.contains("nests too deeply"));
    let a = send(format!(
        "{}{}",
        "<a>".repeat(200_000),
        "</a>".repeat(200_000)
    ))
    .await;
    assert_eq!(a.status, 500);
    assert!(a.text.contains("too large"));
    let mex = rig
        .raw(rig.http.get(farm_url(&rig, "/adfs/services/trust/mex")))
        .await;
    assert!(mex.text.contains("usernamemixed"));
    let ls = rig
        .raw(rig.http.get(farm_url(&rig, "/adfs/ls/?wa=wsignin1.0")))
        .await;
    assert_eq!(ls.status, 200);
    // While the farm is down, nobody can reach it.
    rig.farm("down").await;
    assert!(
        rig.http
            .post(&url)
            .body(rst(&user, &rig.info.user_password))
            .send()
            .await
            .is_err()
    );
}
