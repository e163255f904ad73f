//! The credential types against the rehearsal tenant: azure_identity's client secret and certificate
//! credentials (custom cloud, our transport), our device code flow, and the Azure CLI credential with a
//! stand-in `az`.

use std::sync::Arc;

use entra_failover::auth::claims::TokenInfo;
use entra_failover::auth::credentials::{self, DeviceCodeCredential};
use entra_failover::auth::{Credential, SharedCredential};
use entra_failover::graph::models::Domain;
use entra_failover::ops::session::http_client;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use crate::clients::Tenant;

#[tokio::test]
async fn azure_identity_client_secret_against_the_emulator() {
    let t = Tenant::start(None).await;
    let cred = t.app();
    let token = cred.token().await.unwrap();
    let info = TokenInfo::from_jwt(token.token.expose_secret()).unwrap();
    assert!(info.is_app());
    assert_eq!(info.tid, t.info.tenant_id);
    let s = t.session(cred);
    let domains: Vec<Domain> = s.graph.list("/v1.0/domains").await.unwrap();
    assert_eq!(domains.len(), 5);
    // A wrong secret is a clear sign-in error.
    let bad = credentials::client_secret(
        &t.info.tenant_id,
        &t.info.client_id,
        &SecretString::from("wrong".to_string()),
        &Url::parse(&t.info.login_url).unwrap(),
        http_client(Some(&t.info.ca_file)).unwrap(),
    )
    .unwrap();
    let e = bad.token().await.unwrap_err().to_string();
    assert!(e.contains("7000215"), "{e}");
}

#[tokio::test]
async fn azure_identity_client_certificate_against_the_emulator() {
    let t = Tenant::start(None).await;
    let cert =
        entra_failover::emulator::pki::SigningCert::generate("rehearsal app certificate", 0, 36500)
            .unwrap();
    t.control(
        "/app/certificates",
        serde_json::json!({"certificate": cert.cert_b64}),
    )
    .await;
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&cert.cert_b64)
        .unwrap();
    let x509 = openssl::x509::X509::from_der(&der).unwrap();
    let pkcs12 = openssl::pkcs12::Pkcs12::builder()
        .name("app")
        .pkey(&cert.private_key().unwrap())
        .cert(&x509)
        .build2("")
        .unwrap();
    let path = t.home.path().join("app.pfx");
    std::fs::write(&path, pkcs12.to_der().unwrap()).unwrap();
    let cred = credentials::client_certificate(
        &t.info.tenant_id,
        &t.info.client_id,
        &path,
        None,
        &Url::parse(&t.info.login_url).unwrap(),
        http_client(Some(&t.info.ca_file)).unwrap(),
    )
    .unwrap();
    let s = t.session(Arc::new(cred));
    let domains: Vec<Domain> = s.graph.list("/v1.0/domains").await.unwrap();
    assert_eq!(domains.len(), 5);
}

#[tokio::test]
async fn device_code_flow_end_to_end() {
    let t = Tenant::start(Some("[limits]\ndevice_code_interval_s = 1\n")).await;
    let http = http_client(Some(&t.info.ca_file)).unwrap();
    let (upn, pw) = (t.info.admin_upn.clone(), t.info.admin_password.clone());
    let approver_http = http.clone();
    // The administrator, on another device, opens the page and enters the code.
    let prompt = Arc::new(move |code: &entra_failover::login::DeviceCode| {
        let (http, uri, user_code, upn, pw) = (
            approver_http.clone(),
            code.verification_uri.clone(),
            code.user_code.clone(),
            upn.clone(),
            pw.clone(),
        );
        assert!(code.message.contains(&code.user_code));
        tokio::spawn(async move {
            let r = http
                .post(uri)
                .form(&[
                    ("otc", user_code.as_str()),
                    ("username", upn.as_str()),
                    ("password", pw.as_str()),
                ])
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        });
    });
    let cred: SharedCredential = Arc::new(DeviceCodeCredential::new(
        t.login(),
        &t.info.tenant_id,
        &t.info.client_id,
        prompt,
    ));
    let s = t.session(cred.clone());
    let me: serde_json::Value = s.graph.get("/v1.0/me").await.unwrap();
    assert_eq!(me["userPrincipalName"], t.info.admin_upn.as_str());
    // The token is cached: a second call signs in no more.
    let before = t
        .emu
        .requests()
        .iter()
        .filter(|e| e.path.ends_with("/devicecode"))
        .count();
    let _: serde_json::Value = s.graph.get("/v1.0/me").await.unwrap();
    assert_eq!(
        t.emu
            .requests()
            .iter()
            .filter(|e| e.path.ends_with("/devicecode"))
            .count(),
        before
    );
    assert_eq!(before, 1);
}

#[cfg(unix)]
#[test]
fn azure_cli_credential_with_a_stand_in_az() {
    use std::os::unix::fs::PermissionsExt;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = rt.block_on(Tenant::start(None));
    // A token for the administrator, as `az account get-access-token` would print it.
    let token = rt.block_on(async { t.admin().token().await.unwrap() });
    let bin = t.home.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let az = bin.join("az");
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + 3000;
    std::fs::write(
        &az,
        format!(
            "#!/bin/sh\ncase \"$*\" in *get-access-token*) printf '%s' '{{\"accessToken\":\"{}\",\"expiresOn\":\"2099-01-01 00:00:00.000000\",\"expires_on\":{expires},\"subscription\":\"x\",\"tenant\":\"{}\",\"tokenType\":\"Bearer\"}}';; *) exit 1;; esac\n",
            token.token.expose_secret(),
            t.info.tenant_id
        ),
    )
    .unwrap();
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    let home = t.home.path().join("efh");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        home.join("config.toml"),
        format!(
            "[profiles.cli]\ntenant = \"{}\"\nauth = \"azure-cli\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\nca_file = '{}'\n",
            t.info.tenant_id,
            t.info.graph_url,
            t.info.login_url,
            t.info.ca_file.display()
        ),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["status", "--profile", "cli", "--json"])
        .env("ENTRA_FAILOVER_HOME", &home)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["signed_in_as"], t.info.admin_upn.as_str());
    assert_eq!(v["profile"], "cli");
    assert_eq!(v["simulated"], false);
}
