use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Method;
use serde_json::json;

use crate::common::Rig;

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn client_secret_grant_and_its_errors() {
    let rig = Rig::start().await;
    let token = rig.app_token().await;
    let c = claims_of(&token);
    assert_eq!(c["tid"], rig.info.tenant_id.as_str());
    assert_eq!(c["idtyp"], "app");
    assert_eq!(c["appid"], rig.info.client_id.as_str());
    let roles: Vec<&str> = c["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert!(roles.contains(&"Domain-InternalFederation.ReadWrite.All"));
    assert!(!roles.contains(&"OnPremDirectorySynchronization.ReadWrite.All"));
    assert!(c["exp"].as_i64().unwrap() > c["iat"].as_i64().unwrap());

    let p = rig.token_path();
    let scope = ("scope", "https://graph.microsoft.com/.default");
    let a = rig
        .form(
            &p,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &rig.info.client_id),
                ("client_secret", "wrong"),
                scope,
            ],
        )
        .await;
    assert_eq!(a.status, 401);
    assert_eq!(a.code(), "invalid_client");
    assert_eq!(a.aadsts(), 7000215);
    assert!(
        a.body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215: ")
    );
    for k in ["timestamp", "trace_id", "correlation_id"] {
        assert!(a.body[k].is_string(), "{k}");
    }
    let a = rig
        .form(
            &p,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "11111111-2222-3333-4444-555555555555"),
                ("client_secret", "x"),
                scope,
            ],
        )
        .await;
    assert_eq!((a.status.as_u16(), a.aadsts()), (400, 700016));
    let a = rig
        .form(
            &p,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &rig.info.client_id),
                ("client_secret", &rig.info.client_secret),
                ("scope", "Domain.Read.All"),
            ],
        )
        .await;
    assert_eq!((a.status.as_u16(), a.aadsts()), (400, 1002012));
    let a = rig
        .form(
            "/00000000-0000-0000-0000-000000000bad/oauth2/v2.0/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &rig.info.client_id),
                ("client_secret", &rig.info.client_secret),
                scope,
            ],
        )
        .await;
    assert_eq!((a.status.as_u16(), a.aadsts()), (400, 90002));
    let a = rig
        .form(
            &p,
            &[("grant_type", "magic"), ("client_id", &rig.info.client_id)],
        )
        .await;
    assert_eq!(a.code(), "unsupported_grant_type");
    // The tenant may also be named by one of its domains.
    let a = rig
        .form(
            "/contoso.com/oauth2/v2.0/token",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &rig.info.client_id),
                ("client_secret", &rig.info.client_secret),
                scope,
            ],
        )
        .await;
    assert_eq!(a.status, 200);
}

/// A client assertion JWT signed with the certificate's key, as azure_identity builds one.
fn assertion(
    rig: &Rig,
    cert_der: &[u8],
    key: &entra_failover::emulator::pki::RsaSigner,
    aud: &str,
    exp_offset: i64,
) -> String {
    let thumb = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        cert_der,
    ));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let header = json!({"alg": "RS256", "typ": "JWT", "x5t": thumb});
    let payload = json!({"aud": aud, "iss": rig.info.client_id, "sub": rig.info.client_id, "jti": "1", "nbf": now, "exp": now + exp_offset});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = key.sign_sha256(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test]
async fn certificate_assertions_are_verified_against_the_registered_certificate() {
    let rig = Rig::start().await;
    let cert =
        entra_failover::emulator::pki::SigningCert::generate("rehearsal app", 0, 36500).unwrap();
    let der = STANDARD.decode(&cert.cert_b64).unwrap();
    let key = cert.private_key().unwrap();
    let aud = format!("{}{}", rig.info.login_url, rig.token_path());
    let form = |a: String| {
        vec![
            ("grant_type".to_string(), "client_credentials".to_string()),
            ("client_id".into(), rig.info.client_id.clone()),
            (
                "client_assertion_type".into(),
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
            ),
            ("client_assertion".into(), a),
            (
                "scope".into(),
                "https://graph.microsoft.com/.default".into(),
            ),
        ]
    };
    let post =
        |f: Vec<(String, String)>| rig.raw(rig.http.post(rig.url(&rig.token_path())).form(&f));
    // Not registered yet.
    let a = post(form(assertion(&rig, &der, &key, &aud, 600))).await;
    assert_eq!((a.status.as_u16(), a.aadsts()), (401, 700027));
    let r = rig
        .control(
            Method::POST,
            "/app/certificates",
            Some(json!({"certificate": cert.cert_b64})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let a = post(form(assertion(&rig, &der, &key, &aud, 600))).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        claims_of(a.body["access_token"].as_str().unwrap())["idtyp"],
        "app"
    );
    // Expired, wrong audience, and signed by another key.
    let a = post(form(assertion(&rig, &der, &key, &aud, -3600))).await;
    assert_eq!(a.aadsts(), 700024);
    let a = post(form(assertion(
        &rig,
        &der,
        &key,
        "https://elsewhere.example/token",
        600,
    )))
    .await;
    assert_eq!(a.status, 401);
    let other = entra_failover::emulator::pki::SigningCert::generate("x", 0, 10).unwrap();
    let a = post(form(assertion(
        &rig,
        &der,
        &other.private_key().unwrap(),
        &aud,
        600,
    )))
    .await;
    assert_eq!(a.aadsts(), 700027);
}

#[tokio::test]
async fn password_grant_follows_the_domains_sign_in_and_the_hashes() {
    let rig = Rig::start().await;
    let pw = rig.info.user_password.clone();
    let managed = rig.user_of("northwind.com");
    let federated = rig.user_of("contoso.com");
    // No hash before password hash sync has run.
    let a = rig.password(&managed, &pw).await;
    assert_eq!(
        (a.status.as_u16(), a.code(), a.aadsts()),
        (400, "invalid_grant", 50056)
    );
    rig.enable_phs().await;
    let a = rig.password(&managed, &pw).await;
    assert_eq!(a.aadsts(), 50056, "the flag alone copies no hash");
    rig.sync().await;
    let a = rig.password(&managed, &pw).await;
    assert_eq!(
        a.aadsts(),
        50056,
        "nor does a sync cycle: the Connect server's password sync is off"
    );
    rig.connect_script().await;
    rig.sync().await;
    let a = rig.password(&managed, &pw).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let c = claims_of(a.body["access_token"].as_str().unwrap());
    assert_eq!(c["upn"], managed.as_str());
    assert_eq!(c["idtyp"], "user");
    assert!(c["scp"].as_str().unwrap().contains("User.Read"));
    assert!(a.body["refresh_token"].is_string());
    let a = rig.password(&managed, "wrong").await;
    assert_eq!(a.aadsts(), 50126);
    // Federated users' passwords belong to the farm.
    let a = rig.password(&federated, &pw).await;
    assert_eq!(a.aadsts(), 50126);
    let a = rig.password("nobody@contoso.com", &pw).await;
    assert_eq!(a.aadsts(), 50034);
    let a = rig.password("someone@unknown.example", &pw).await;
    assert_eq!(a.aadsts(), 50034);
    // After the failover of contoso.com the same user signs in with the synced hash.
    let admin = rig.admin_token().await;
    rig.call(
        Method::PATCH,
        Some(&admin),
        "/v1.0/domains/contoso.com",
        Some(json!({"authenticationType": "Managed"})),
    )
    .await;
    let a = rig.password(&federated, &pw).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let sub = rig.user_of("eu.contoso.com");
    assert_eq!(rig.password(&sub, &pw).await.status, 200);
    let a = rig
        .form(
            &rig.token_path(),
            &[
                ("grant_type", "password"),
                ("client_id", &rig.info.client_id),
            ],
        )
        .await;
    assert_eq!(a.aadsts(), 900144);
}

#[tokio::test]
async fn refresh_token_grant() {
    let rig = Rig::start().await;
    let a = rig
        .password(&rig.info.admin_upn, &rig.info.admin_password)
        .await;
    let refresh = a.body["refresh_token"].as_str().unwrap().to_string();
    let a = rig
        .form(
            &rig.token_path(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &rig.info.client_id),
                ("refresh_token", &refresh),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        claims_of(a.body["access_token"].as_str().unwrap())["upn"],
        rig.info.admin_upn.as_str()
    );
    let a = rig
        .form(
            &rig.token_path(),
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &rig.info.client_id),
                ("refresh_token", "bogus"),
            ],
        )
        .await;
    assert_eq!((a.status.as_u16(), a.code()), (400, "invalid_grant"));
}

#[tokio::test]
async fn device_code_flow_end_to_end() {
    let rig = Rig::with(|_| {}, Some("[limits]\ndevice_code_interval_s = 1\n")).await;
    let a = rig
        .form(
            &format!("/{}/oauth2/v2.0/devicecode", rig.info.tenant_id),
            &[
                ("client_id", &rig.info.client_id),
                (
                    "scope",
                    "https://graph.microsoft.com/.default offline_access",
                ),
            ],
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let user_code = a.body["user_code"].as_str().unwrap().to_string();
    let device_code = a.body["device_code"].as_str().unwrap().to_string();
    let uri = a.body["verification_uri"].as_str().unwrap().to_string();
    assert_eq!(a.body["interval"], 1);
    assert!(a.body["message"].as_str().unwrap().contains(&user_code));
    let fields = [
        (
            "grant_type",
            "urn:ietf:params:oauth:grant-type:device_code".to_string(),
        ),
        ("client_id", rig.info.client_id.clone()),
        ("device_code", device_code.clone()),
    ];
    let token_url = rig.url(&rig.token_path());
    let poll = || rig.raw(rig.http.post(&token_url).form(&fields));
    let a = poll().await;
    assert_eq!((a.code(), a.aadsts()), ("authorization_pending", 70016));
    // The verification page: a wrong password is refused on the page, the right one approves.
    let page = rig.raw(rig.http.get(&uri)).await;
    assert!(page.text.contains("simulated"));
    let bad = rig
        .raw(rig.http.post(&uri).form(&[
            ("otc", user_code.as_str()),
            ("username", &rig.info.admin_upn),
            ("password", "nope"),
        ]))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.text.contains("AADSTS50126"));
    let ok = rig
        .raw(rig.http.post(&uri).form(&[
            ("otc", user_code.as_str()),
            ("username", &rig.info.admin_upn),
            ("password", &rig.info.admin_password),
        ]))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let a = poll().await;
    assert_eq!(a.status, 200, "{}", a.text);
    let c = claims_of(a.body["access_token"].as_str().unwrap());
    assert_eq!(c["upn"], rig.info.admin_upn.as_str());
    assert!(
        c["wids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w == "62e90394-69f5-4237-9190-012177145e10")
    );
    // The code is spent.
    assert_eq!(poll().await.code(), "invalid_grant");
}

#[tokio::test]
async fn user_realm_versions_and_propagation_delay() {
    let rig = Rig::with(
        |c| c.propagation_delay = std::time::Duration::from_secs(600),
        None,
    )
    .await;
    let fed = rig.user_of("contoso.com");
    let sub = rig.user_of("eu.contoso.com");
    let realm = |upn: String, v: &'static str| {
        rig.raw(
            rig.http
                .get(rig.url(&format!("/common/userrealm/{upn}?api-version={v}"))),
        )
    };
    let a = realm(fed.clone(), "2.1").await;
    assert_eq!(a.body["NameSpaceType"], "Federated");
    assert!(
        a.body["AuthURL"]
            .as_str()
            .unwrap()
            .starts_with("https://sts.contoso.com/adfs/ls/?username=")
    );
    assert_eq!(a.body["DomainName"], "contoso.com");
    let a = realm(fed.clone(), "1.0").await;
    assert_eq!(a.body["account_type"], "Federated");
    assert_eq!(
        a.body["federation_active_auth_url"],
        "https://sts.contoso.com/adfs/services/trust/2005/usernamemixed"
    );
    assert_eq!(
        a.body["federation_metadata_url"],
        "https://sts.contoso.com/adfs/services/trust/mex"
    );
    assert_eq!(
        realm(sub.clone(), "2.1").await.body["NameSpaceType"],
        "Federated"
    );
    let a = realm(rig.user_of("northwind.com"), "1.0").await;
    assert_eq!(a.body["account_type"], "Managed");
    assert!(a.body.get("federation_protocol").is_none());
    let a = realm("x@nowhere.example".into(), "2.1").await;
    assert_eq!(a.body["NameSpaceType"], "Unknown");
    let a = realm(fed.clone(), "7.0").await;
    assert_eq!(a.status, 400);

    let admin = rig.admin_token().await;
    rig.call(
        Method::PATCH,
        Some(&admin),
        "/v1.0/domains/contoso.com",
        Some(json!({"authenticationType": "Managed"})),
    )
    .await;
    // Graph shows the change at once; realm and sign-in only after the delay.
    assert_eq!(
        rig.get(&admin, "/v1.0/domains/contoso.com").await.body["authenticationType"],
        "Managed"
    );
    assert_eq!(
        realm(fed.clone(), "2.1").await.body["NameSpaceType"],
        "Federated"
    );
    rig.control(Method::POST, "/clock", Some(json!({"advance_s": 601})))
        .await;
    assert_eq!(
        realm(fed.clone(), "2.1").await.body["NameSpaceType"],
        "Managed"
    );
    assert_eq!(realm(sub, "1.0").await.body["account_type"], "Managed");
}

#[tokio::test]
async fn openid_configuration_and_keys() {
    let rig = Rig::start().await;
    let a = rig
        .raw(rig.http.get(rig.url(&format!(
            "/{}/v2.0/.well-known/openid-configuration",
            rig.info.tenant_id
        ))))
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body["token_endpoint"],
        format!("{}{}", rig.info.login_url, rig.token_path())
    );
    let keys = rig
        .raw(rig.http.get(a.body["jwks_uri"].as_str().unwrap()))
        .await;
    let kid = keys.body["keys"][0]["kid"].as_str().unwrap().to_string();
    let token = rig.app_token().await;
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["kid"], kid.as_str());
    let a = rig
        .raw(
            rig.http
                .get(rig.url("/not-a-tenant.example/v2.0/.well-known/openid-configuration")),
        )
        .await;
    assert_eq!(a.aadsts(), 90002);
}
