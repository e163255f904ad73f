//! A hostile network between the tool and a farm. A TLS server (its certificate from the rehearsal's
//! own CA, so that it is trusted like the farms) answers every request with a redirect, to plain http
//! or to another host: the tool follows none of them, no password and no metadata ever reach the
//! other side, and the command names the redirect it refused. And `verify`'s certificate check trusts
//! what every other connection trusts, with no help from `SSL_CERT_FILE` or `SSL_CERT_DIR`.

use std::io::Read;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::cli::{Home, text};

/// A listener that counts the bytes anyone sends it (the plain-http side).
struct Sink {
    port: u16,
    received: Arc<AtomicUsize>,
}

impl Sink {
    fn start() -> Sink {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let received = Arc::new(AtomicUsize::new(0));
        let r = received.clone();
        std::thread::spawn(move || {
            for mut c in l.incoming().flatten() {
                let mut buf = [0u8; 4096];
                c.set_read_timeout(Some(std::time::Duration::from_secs(2)))
                    .ok();
                while let Ok(n) = c.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    r.fetch_add(n, Ordering::SeqCst);
                }
            }
        });
        Sink { port, received }
    }
}

/// A TLS server on 127.0.0.1 that answers each request with `307` to `target(path)`.
fn redirector(
    home: &Home,
    target: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (u16, std::thread::JoinHandle<()>) {
    server(home, move |path| {
        format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            target(path)
        )
    })
}

/// A TLS server on 127.0.0.1 that answers each request (by its path) with `answer(path)`, a whole
/// HTTP response.
fn server(
    home: &Home,
    answer: impl Fn(&str) -> String + Send + Sync + 'static,
) -> (u16, std::thread::JoinHandle<()>) {
    entra_failover::tls::install_crypto_provider();
    let ca =
        entra_failover::emulator::pki::LocalCa::open(&home.path().join("rehearsal"), &[]).unwrap();
    let id = ca.issue(&["127.0.0.1".to_string()]).unwrap();
    let cfg = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(id.chain, id.key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    l.set_nonblocking(true).unwrap();
    let target = Arc::new(answer);
    let h = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(l).unwrap();
            // Serves until the test process ends.
            loop {
                let Ok((tcp, _)) = l.accept().await else {
                    continue;
                };
                let acceptor = acceptor.clone();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut buf = [0u8; 4096];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&head)
                        .lines()
                        .next()
                        .unwrap_or_default()
                        .to_string();
                    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
                    let answer = target(&path);
                    let _ = tls.write_all(answer.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
    });
    (port, h)
}

/// A synchronized user of contoso.com, from the rehearsal's own list.
fn contoso_user(home: &Home) -> String {
    home.json(&["rehearse", "info"])["users"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|u| {
            u.as_str()
                .filter(|u| u.ends_with("@contoso.com"))
                .map(str::to_string)
        })
        .unwrap()
}

/// `test-signin` of `upn` at the farm `127.0.0.1:port`, the password piped in.
fn signin_at(
    home: &Home,
    upn: &str,
    port: u16,
    password: &str,
    json: bool,
) -> std::process::Output {
    let farm = format!("127.0.0.1:{port}");
    let mut args = vec![
        "test-signin",
        "--upn",
        upn,
        "--password-stdin",
        "--farm",
        &farm,
    ];
    if json {
        args.push("--json");
    }
    home.run_with(&args, Some(&format!("{password}\n")))
}

#[test]
fn no_redirect_to_http_or_another_host_is_followed() {
    let home = Home::new();
    home.json(&["status"]);
    let sink = Sink::start();
    let plain = sink.port;
    let (https, _h) = redirector(&home, move |path| format!("http://127.0.0.1:{plain}{path}"));
    let canary = "Canary-Passw0rd-7f3a";

    // test-signin at a farm that redirects its WS-Trust endpoint to http: the password stays here.
    let upn = contoso_user(&home);
    let out = signin_at(&home, &upn, https, canary, false);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("redirect refused (plain http)"), "{said}");
    assert!(
        said.contains(&format!(
            "http://127.0.0.1:{plain}/adfs/services/trust/2005/usernamemixed"
        )),
        "{said}"
    );
    assert!(!said.contains(canary));

    // adfs inspect of metadata whose URL redirects to http: refused, naming where it pointed.
    let url =
        format!("https://127.0.0.1:{https}/FederationMetadata/2007-06/FederationMetadata.xml");
    let out = home.run(&["adfs", "inspect", "--metadata-url", &url]);
    let said = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(said.contains("redirect refused (plain http)"), "{said}");

    // A redirect to another host (https, the same server under another name) is refused as well.
    let (other, _h2) = redirector(&home, move |path| {
        format!("https://localhost:{https}{path}")
    });
    let url =
        format!("https://127.0.0.1:{other}/FederationMetadata/2007-06/FederationMetadata.xml");
    let out = home.run(&["adfs", "inspect", "--metadata-url", &url]);
    assert!(
        text(&out.stderr).contains("redirect refused (another host)"),
        "{}",
        text(&out.stderr)
    );

    // Nothing ever reached the plain-http side.
    assert_eq!(
        sink.received.load(Ordering::SeqCst),
        0,
        "bytes reached the plain-http listener"
    );
}

/// `verify` with the certificate environment variables unset, as on an administrator's machine: the
/// farm's TLS certificate is read over the same verifier as every other connection (the system's
/// roots and the session's extra root), not through OpenSSL's default paths, which for a vendored
/// build point nowhere.
#[test]
fn verify_reads_the_farms_certificate_without_ssl_cert_variables() {
    let home = Home::new();
    home.json(&["status"]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["verify", "--domain", "contoso.com", "--json"])
        .env("ENTRA_FAILOVER_HOME", home.path())
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("{}\n{}", text(&out.stdout), text(&out.stderr)));
    let tls = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "TLS")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(tls["outcome"], "pass", "{tls}");
    assert!(
        tls["detail"]
            .as_str()
            .unwrap()
            .contains("sts.contoso.com's TLS certificate"),
        "{tls}"
    );

    // A farm whose certificate nobody trusts fails the check with the reason, on the same path.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        entra_failover::tls::install_crypto_provider();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let cfg = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = l.accept().await {
                let _ = acceptor.accept(tcp).await;
            }
        });
        let s = entra_failover::ops::session::Session::rehearsal(home.path())
            .await
            .unwrap();
        let url = url::Url::parse(&format!(
            "https://127.0.0.1:{port}/FederationMetadata/2007-06/FederationMetadata.xml"
        ))
        .unwrap();
        let e = entra_failover::ops::farm::tls_certificate(&s, &url)
            .await
            .unwrap_err();
        assert!(
            e.0.contains("TLS") && e.0.to_lowercase().contains("certificate"),
            "{}",
            e.0
        );
    });
}

/// A farm whose fault reason carries terminal control sequences (XML 1.0 allows the C1 controls raw:
/// CSI to clear the screen, OSC to retitle the window): the command line writes them out as escapes,
/// never raw.
#[test]
fn a_farms_text_reaches_the_terminal_without_its_control_characters() {
    let home = Home::new();
    home.json(&["status"]);
    let reason = "ID3242: \u{9d}0;pwned\u{9c}\u{9b}2Jno";
    let (port, _h) = server(&home, move |_| {
        let body = format!(
            "<s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\"><s:Body><s:Fault><s:Code><s:Value>s:Sender</s:Value></s:Code><s:Reason><s:Text>{reason}</s:Text></s:Reason></s:Fault></s:Body></s:Envelope>"
        );
        format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/soap+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    });
    let upn = contoso_user(&home);
    let out = signin_at(&home, &upn, port, "x", false);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("ID3242"), "{said}");
    assert!(
        !said
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{said:?}"
    );
    assert!(said.contains("\\u{9d}0;pwned\\u{9c}\\u{9b}2J"), "{said:?}");
    // --json: the same string to a JSON reader, no raw control character on the terminal.
    let out = signin_at(&home, &upn, port, "x", true);
    let raw = text(&out.stdout);
    assert!(!raw.chars().any(|c| c.is_control() && c != '\n'), "{raw:?}");
    let v: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert!(v.to_string().contains("\u{9d}0;pwned"), "{v}");
}

/// A farm that answers WS-Trust with a chunked body (no Content-Length) larger than any token
/// response: the tool stops reading at its bound and says so.
#[test]
fn a_chunked_answer_is_read_no_further_than_its_bound() {
    let home = Home::new();
    home.json(&["status"]);
    let (port, _h) = server(&home, |_| {
        let chunk = format!(
            "{:x}\r\n{}\r\n",
            64 * 1024,
            "<a>"
                .repeat(64 * 1024 / 3 + 1)
                .chars()
                .take(64 * 1024)
                .collect::<String>()
        );
        format!(
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/soap+xml\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{}0\r\n\r\n",
            chunk.repeat(40)
        )
    });
    let upn = contoso_user(&home);
    let out = signin_at(&home, &upn, port, "x", true);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        said.contains("the farm's answer is larger than 1048576 bytes"),
        "{said}"
    );
}

/// The rehearsal CA's key sits in the state folder. A certificate it issues for a name that is not
/// a farm of the rehearsal, `localhost` or loopback (Microsoft's Graph host, say) is refused by a
/// client that trusts the rehearsal CA: the CA carries name constraints.
#[test]
fn the_rehearsal_ca_vouches_for_its_own_names_only() {
    let home = Home::new();
    home.json(&["status"]);
    entra_failover::tls::install_crypto_provider();
    let dir = home.path().join("rehearsal");
    let ca = entra_failover::emulator::pki::LocalCa::open(&dir, &[]).unwrap();
    let roots =
        entra_failover::tls::certificates_from_pem(&std::fs::read(dir.join("ca.pem")).unwrap())
            .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let handshake = |name: &str| -> Result<(), String> {
        let id = ca.issue(&[name.to_string()]).unwrap();
        let roots = roots.clone();
        let name = name.to_string();
        rt.block_on(async move {
            let cfg = rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(id.chain, id.key)
                .unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            tokio::spawn(async move {
                if let Ok((tcp, _)) = l.accept().await {
                    let _ = acceptor.accept(tcp).await;
                }
            });
            let client = entra_failover::tls::client_config(roots).unwrap();
            let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let server = rustls::pki_types::ServerName::try_from(name).unwrap();
            connector
                .connect(server, tcp)
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}"))
        })
    };
    assert_eq!(
        handshake("sts.contoso.com"),
        Ok(()),
        "a farm of the rehearsal"
    );
    let e = handshake("graph.microsoft.com").unwrap_err();
    assert!(e.contains("NameConstraint"), "{e}");
}
