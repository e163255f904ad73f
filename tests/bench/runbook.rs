//! Wall time and HTTP requests of each runbook step on the rehearsal tenant, beside the fewest requests
//! the job needs. One JSON line per step. `cargo bench --bench runbook`.

use std::time::{Duration, Instant};

use entra_failover::ops::{
    Quiet, Session, enable_phs, failover, reset_trust, security, signins, staged_rollout, status,
    switch_back, test_signin, verify,
};
use secrecy::SecretString;

fn line(step: &str, wall: Duration, requests: usize, graph: u64, fewest: &str) {
    println!(
        "{{\"step\":\"{step}\",\"wall_ms\":{:.1},\"http_requests\":{requests},\"graph_requests\":{graph},\"fewest\":\"{fewest}\"}}",
        wall.as_secs_f64() * 1000.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let home = tempfile::tempdir().expect("temporary folder");
    let s = Session::rehearsal(home.path()).await.expect("rehearsal");
    let emu = s
        .rehearsal
        .as_ref()
        .and_then(|r| r.emulator())
        .expect("emulator");
    let info = emu.info().clone();
    let http = entra_failover::ops::session::http_client(Some(&info.ca_file)).expect("http");
    let control = |path: &'static str, body: serde_json::Value| {
        let http = http.clone();
        let (url, token) = (
            format!("{}{path}", info.control_url),
            info.control_token.clone(),
        );
        async move {
            http.post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("control");
        }
    };
    let count = || emu.requests().len();
    macro_rules! step {
        ($name:expr, $fewest:expr, $body:expr) => {{
            let (n0, g0, t0) = (count(), s.graph.requests_sent(), Instant::now());
            let r = $body;
            line(
                $name,
                t0.elapsed(),
                count() - n0,
                s.graph.requests_sent() - g0,
                $fewest,
            );
            r
        }};
    }
    step!(
        "status",
        "8 Graph (organization, sync settings, beta organization, domains, federation of each federated root: 2, the sync engines' traces: directory roles and Cloud Sync's service principals) + 1 token + 1 metadata per farm",
        status::status(&s).await.expect("status")
    );
    step!(
        "enable-phs",
        "7 Graph (sync settings, the sync engines' traces: 2, last password sync, the administrator's domain for the sign-in check, PATCH, read back) + 1 token",
        {
            let p = enable_phs::prepare(&s, &Default::default())
                .await
                .expect("prepare");
            enable_phs::run(&s, p, &Quiet).await.expect("run")
        }
    );
    // The Connect server's part (the script enable-phs wrote), then a cycle: hashes arrive.
    control("/connect/script", serde_json::json!({})).await;
    control("/sync", serde_json::json!({})).await;
    control(
        "/adfs/sts.contoso.com",
        serde_json::json!({"state": "down"}),
    )
    .await;
    let o = failover::Options {
        domains: vec!["contoso.com".into(), "fabrikam.com".into()],
        all_federated: false,
        sync_window: Duration::from_secs(3 * 3600),
        accept_unsynced: false,
        skip_sso: false,
    };
    let converted = step!(
        "failover 2 domains",
        "3 per domain (backup read, PATCH, confirming read) = 6, + 3 pre-flight reads (domains, sync settings, last password sync) + 1 Conditional Access = 10, + 1 per farm that answers (none: the farm is down)",
        {
            let p = failover::prepare(&s, &o).await.expect("prepare");
            failover::run(&s, p, &Quiet).await.expect("run")
        }
    );
    // A step that did not do its work has no figure worth keeping.
    if converted.domains.iter().any(|d| d.outcome != "converted") {
        eprintln!("bench: the failover did not convert both domains: {converted:?}");
        std::process::exit(1);
    }
    step!(
        "security pre-flight alone, 2 domains",
        "1 Graph (the Conditional Access policies, one page); the MFA behaviour comes from the federation settings the pre-flight already read",
        security::preflight(
            &s,
            &[("contoso.com".into(), None), ("fabrikam.com".into(), None)]
        )
        .await
    );
    control(
        "/morning",
        serde_json::json!({"domain": "contoso.com", "users": 40, "wrong_password": 6, "unsynced": 4}),
    )
    .await;
    let mut watch = signins::Watch::new(
        vec!["contoso.com".into()],
        time::OffsetDateTime::now_utc() - time::Duration::minutes(15),
    );
    step!(
        "sign-in watch, first look",
        "1 Graph a look while fewer than 999 sign-ins are in the window",
        watch.look(&s).await.expect("look")
    );
    step!(
        "sign-in watch, a following look",
        "1 Graph (the last 5 minutes again): at --every 30s, 2 a minute",
        watch.look(&s).await.expect("look")
    );
    let upn = emu
        .tenant()
        .users
        .iter()
        .find(|u| u.upn.ends_with("@contoso.com"))
        .map(|u| u.upn.clone())
        .expect("user");
    step!(
        "test-signin",
        "2 (user realm, token)",
        test_signin::run(
            &s,
            &upn,
            Some(&SecretString::from(info.user_password.clone())),
            None
        )
        .await
        .expect("signin")
    );
    control("/adfs/sts.contoso.com", serde_json::json!({"state": "up"})).await;
    let so = switch_back::Options {
        domain: "contoso.com".into(),
        source: switch_back::Source::Backup(None),
        force: false,
    };
    step!(
        "switch-back",
        "6 Graph (the administrator's domain for the sign-in check, the domain, its settings now, the staged rollout policies, POST, confirming read) + 1 metadata",
        {
            let p = switch_back::prepare(&s, &so).await.expect("prepare");
            switch_back::run(&s, p, &Quiet).await.expect("run")
        }
    );
    step!(
        "verify",
        "1 Graph + metadata + user realm + sign-in page = 4",
        verify::run(&s, "contoso.com").await.expect("verify")
    );
    control(
        "/adfs/sts.contoso.com",
        serde_json::json!({"state": "rollover"}),
    )
    .await;
    control(
        "/adfs/sts.contoso.com",
        serde_json::json!({"state": "promote"}),
    )
    .await;
    let ro = reset_trust::Options {
        domain: "contoso.com".into(),
        metadata_url: "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml"
            .into(),
        adfs_script: None,
        replace_claim_rules: false,
    };
    step!(
        "test-signin, federated (WS-Trust at the farm)",
        "user realm 2.1 + 1.0, 1 WS-Trust POST, 2 Graph (federation settings, the user's ImmutableID)",
        test_signin::run(
            &s,
            &upn,
            Some(&SecretString::from(info.user_password.clone())),
            None
        )
        .await
        .expect("signin")
    );
    step!(
        "staged rollout enable, 1 group",
        "6 pre-flight reads (policies, sync settings, last sync, the administrator's domain for the sign-in check, group by name, its members) + 1 re-read at the change (what resume also does) + POST policy + POST $ref + 2 read back (which the result's view reuses) + 2 for the result's group (group, members) = 13",
        {
            let p = staged_rollout::prepare(
                &s,
                &staged_rollout::Change::Enable(vec!["PHS pilot".into()]),
            )
            .await
            .expect("prepare");
            staged_rollout::run(&s, p, &Quiet).await.expect("run")
        }
    );
    step!(
        "reset-trust",
        "4 Graph (the administrator's domain for the sign-in check, read settings, PATCH, read back) + 1 metadata",
        {
            let p = reset_trust::prepare(&s, &ro).await.expect("prepare");
            reset_trust::run(&s, p, &Quiet).await.expect("run")
        }
    );
}
