//! The credential types against the rehearsal tenant: azure_identity's client secret and client
//! assertion credentials (the assertion signed with an app certificate; custom cloud, our transport), our device code flow, and the Azure CLI credential with a
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
async fn certificate_credential_against_the_emulator() {
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
    use rustls::pki_types::pem::PemObject;
    let der = base64::engine::general_purpose::STANDARD
        .decode(&cert.cert_b64)
        .unwrap();
    let pkcs8 =
        rustls::pki_types::PrivatePkcs8KeyDer::from_pem_slice(cert.key_pem.as_bytes()).unwrap();
    // A file with the empty password, as `Export-PfxCertificate` cannot write but OpenSSL can.
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8],
        p12_keystore::PrivateKey::from_der(pkcs8.secret_pkcs8_der()).unwrap(),
        [p12_keystore::Certificate::from_der(&der).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("app", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let path = t.home.path().join("app.pfx");
    std::fs::write(&path, store.writer("").write().unwrap()).unwrap();
    let cred = certificate_credential(&t, &path, None).unwrap();
    let s = t.session(Arc::new(cred));
    let domains: Vec<Domain> = s.graph.list("/v1.0/domains").await.unwrap();
    assert_eq!(domains.len(), 5);
}

fn certificate_credential(
    t: &Tenant,
    path: &std::path::Path,
    password: Option<&str>,
) -> Result<credentials::SdkCredential, entra_failover::auth::AuthError> {
    credentials::client_certificate(
        &t.info.tenant_id,
        &t.info.client_id,
        path,
        password.map(|p| SecretString::from(p.to_string())).as_ref(),
        &Url::parse(&t.info.login_url).unwrap(),
        http_client(Some(&t.info.ca_file)).unwrap(),
    )
}

/// Runs the `openssl` command (the tool administrators make and convert PFX files with; `.ci/run`
/// installs it).
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// PKCS#12 files as administrators bring them, each signing in for real: OpenSSL 3's default
/// (PBES2 with AES-256, a SHA-256 MAC), Windows' `TripleDES-SHA1` export, and OpenSSL's `-legacy`
/// (RC2-40 over the certificate); then what must be refused before any request, clearly and
/// without the password in the message.
#[tokio::test]
async fn certificate_credential_reads_the_pkcs12_files_tools_write() {
    let t = Tenant::start(None).await;
    let dir = t.home.path();
    let subject = "/CN=entra-failover test app";
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out",
            "cert.pem", "-subj", subject, "-days", "2",
        ],
    );
    let pem = std::fs::read(dir.join("cert.pem")).unwrap();
    let der = rustls_pemfile::certs(&mut &pem[..])
        .next()
        .unwrap()
        .unwrap();
    use base64::Engine;
    t.control(
        "/app/certificates",
        serde_json::json!({"certificate": base64::engine::general_purpose::STANDARD.encode(&der)}),
    )
    .await;
    const PASSWORD: &str = "CANARY-pfx-password-5e81";
    let pass = format!("pass:{PASSWORD}");
    let export = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-name", "app", "-out",
            name, "-passout", &pass,
        ];
        args.extend_from_slice(extra);
        openssl(dir, &args);
        dir.join(name)
    };
    let files = [
        export("modern.pfx", &[]),
        export(
            "tripledes.pfx",
            &[
                "-certpbe",
                "PBE-SHA1-3DES",
                "-keypbe",
                "PBE-SHA1-3DES",
                "-macalg",
                "sha1",
            ],
        ),
        export("legacy.pfx", &["-legacy"]),
    ];
    for file in &files {
        let cred = certificate_credential(&t, file, Some(PASSWORD))
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let token = cred.token().await.unwrap();
        let info = TokenInfo::from_jwt(token.token.expose_secret()).unwrap();
        assert!(info.is_app(), "{}", file.display());
        let s = t.session(Arc::new(cred));
        let domains: Vec<Domain> = s.graph.list("/v1.0/domains").await.unwrap();
        assert_eq!(domains.len(), 5, "{}", file.display());
    }
    let refused = |path: &std::path::Path, password: Option<&str>| {
        let e = certificate_credential(&t, path, password)
            .err()
            .unwrap_or_else(|| panic!("{} was accepted", path.display()))
            .to_string();
        assert!(!e.contains(PASSWORD), "{e}");
        assert!(e.contains(&path.display().to_string()), "{e}");
        e
    };
    // A wrong password, or none for a file that has one.
    let e = refused(&files[0], Some("wrong"));
    assert!(e.contains("wrong password"), "{e}");
    refused(&files[1], None);
    // Not a PKCS#12 file at all.
    assert!(refused(&dir.join("cert.pem"), Some(PASSWORD)).contains("not a PKCS#12 file"));
    // An elliptic-curve key: Entra's certificate credential signs with RSA.
    let pfx = |name: &str, key: &[&str]| {
        let mut req = vec!["req", "-x509", "-newkey"];
        req.extend_from_slice(key);
        let (key_file, cert_file) = (format!("{name}-key.pem"), format!("{name}.pem"));
        req.extend_from_slice(&[
            "-nodes", "-keyout", &key_file, "-out", &cert_file, "-subj", subject, "-days", "2",
        ]);
        openssl(dir, &req);
        let out = format!("{name}.pfx");
        openssl(
            dir,
            &[
                "pkcs12", "-export", "-inkey", &key_file, "-in", &cert_file, "-out", &out,
                "-passout", &pass,
            ],
        );
        dir.join(out)
    };
    let ec = pfx("ec", &["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    assert!(refused(&ec, Some(PASSWORD)).contains("RSA"));
    // A certificate the app does not have: Entra's answer, at the first token.
    pfx("other", &["rsa:2048"]);
    let cred = certificate_credential(&t, &dir.join("other.pfx"), Some(PASSWORD)).unwrap();
    let e = cred.token().await.unwrap_err().to_string();
    assert!(e.contains("700027"), "{e}");
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
