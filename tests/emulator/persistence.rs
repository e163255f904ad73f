use entra_failover::emulator::{Config, Emulator};
use reqwest::Method;
use serde_json::json;

use crate::common::{Rig, client_for, into_answer};

#[tokio::test]
async fn state_survives_a_restart_and_fresh_starts_over() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            "/v1.0/domains/contoso.com",
            Some(json!({"authenticationType": "Managed"})),
        )
        .await;
    assert_eq!(a.status, 204);
    rig.farm("down").await;
    let state_dir = rig.info.state_dir.clone();
    let secret = rig.info.client_secret.clone();
    let ca = std::fs::read(&rig.info.ca_file).unwrap();
    rig.emu.stop();

    let emu = Emulator::start(Config::new(&state_dir)).await.unwrap();
    assert_eq!(
        emu.info().client_secret,
        secret,
        "the same credentials after a restart"
    );
    assert_eq!(
        std::fs::read(&emu.info().ca_file).unwrap(),
        ca,
        "clients keep trusting one CA file"
    );
    let t = emu.tenant();
    assert!(
        t.domains[t.domain_index("contoso.com").unwrap()]
            .federation
            .is_none()
    );
    assert_eq!(
        t.farms["sts.contoso.com"].state,
        entra_failover::emulator::state::FarmState::Down
    );
    let http = client_for(emu.info());
    let probe = format!("{}/adfs/probe", emu.info().adfs["sts.contoso.com"]);
    assert!(
        http.get(&probe).send().await.is_err(),
        "a farm saved as down starts down"
    );
    emu.stop();

    let mut cfg = Config::new(&state_dir);
    cfg.fresh = true;
    let emu = Emulator::start(cfg).await.unwrap();
    let t = emu.tenant();
    assert!(
        t.domains[t.domain_index("contoso.com").unwrap()]
            .federation
            .is_some()
    );
    assert_ne!(emu.info().client_secret, secret);
    // State files are private.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state_dir.join("tenant.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let mode = std::fs::metadata(&state_dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

#[tokio::test]
async fn a_corrupt_or_foreign_state_file_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("s")).unwrap();
    std::fs::write(
        dir.path().join("s/tenant.json"),
        b"{\"version\": 1, \"trunc",
    )
    .unwrap();
    let err = Emulator::start(Config::new(dir.path().join("s")))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("--fresh"), "{err}");
}

#[tokio::test]
async fn control_api_needs_its_token() {
    let rig = Rig::start().await;
    let a = into_answer(
        rig.http
            .post(format!("{}/sync", rig.info.control_url))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
    let a = into_answer(
        rig.http
            .post(format!("{}/sync", rig.info.control_url))
            .bearer_auth("guess")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 401);
    let a = rig.control(Method::GET, "/nothing-here", None).await;
    assert_eq!(a.status, 404);
    let a = rig
        .control(Method::POST, "/clock", Some(json!({"advance_s": -5})))
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn the_sync_engine_runs_every_two_emulated_minutes() {
    let rig = Rig::start().await;
    rig.enable_phs().await;
    rig.connect_script().await;
    let user = rig.user_of("northwind.com");
    assert_eq!(
        rig.password(&user, &rig.info.user_password).await.aadsts(),
        50056
    );
    rig.control(Method::POST, "/clock", Some(json!({"advance_s": 121})))
        .await;
    assert_eq!(
        rig.password(&user, &rig.info.user_password).await.status,
        200
    );
}

#[test]
fn the_binary_prints_one_json_line_and_serves() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["emulator", "--json", "--state"])
        .arg(dir.path().join("s"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).unwrap();
    for k in [
        "graph_url",
        "login_url",
        "adfs",
        "control_url",
        "control_token",
        "ca_file",
        "tenant_id",
        "client_id",
        "client_secret",
        "admin_upn",
        "admin_password",
        "user_password",
    ] {
        assert!(!info[k].is_null(), "{k} missing from {line}");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let info2: entra_failover::emulator::Info = serde_json::from_value(info.clone()).unwrap();
    let status = rt.block_on(async {
        let http = client_for(&info2);
        http.get(format!("{}/v1.0/domains", info2.graph_url))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 401);
    child.kill().unwrap();
    let _ = child.wait();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["emulator", "--listen", "10.1.2.3:0", "--state"])
        .arg(dir.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loopback"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["emulator", "--propagation-delay", "soon", "--state"])
        .arg(dir.path().join("s"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
