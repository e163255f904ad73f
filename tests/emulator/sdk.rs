//! Microsoft's own Graph SDK (msgraph-sdk for Python, unchanged) drives the rehearsal tenant's Cloud
//! Sync endpoints: what works with the SDK against the rehearsal works against Microsoft, and the
//! other way round. `.ci/run` installs the SDK into `target/msgraph-sdk` (a virtual environment);
//! `ENTRA_FAILOVER_MSGRAPH_PYTHON` names another Python that has it. Where `.ci/run` runs the tests
//! (`ENTRA_FAILOVER_REQUIRE_MSGRAPH=1`) a missing SDK fails the test; elsewhere it says it is skipped.

use std::path::PathBuf;
use std::process::Command;

use reqwest::Method;
use serde_json::Value;

use crate::common::Rig;

fn sdk_python() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("ENTRA_FAILOVER_MSGRAPH_PYTHON").map(PathBuf::from),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/msgraph-sdk/bin/python"
        ))),
        Some(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/target/msgraph-sdk/Scripts/python.exe"
        ))),
    ];
    candidates.into_iter().flatten().find(|p| {
        p.is_file()
            && Command::new(p)
                .args(["-c", "import msgraph, msgraph_core"])
                .output()
                .is_ok_and(|o| o.status.success())
    })
}

/// Runs one of the SDK scripts in tests/sdk against the rig with `token`; its JSON line. `None` where
/// the SDK is not installed (a failure where `.ci/run` runs the tests).
async fn run_sdk(rig: &Rig, script: &str, token: &str) -> Option<Value> {
    let Some(python) = sdk_python() else {
        assert!(
            std::env::var("ENTRA_FAILOVER_REQUIRE_MSGRAPH").as_deref() != Ok("1"),
            "Microsoft's Graph SDK for Python is missing: .ci/run installs it into target/msgraph-sdk"
        );
        eprintln!(
            "skipped: Microsoft's Graph SDK for Python is not installed (.ci/run installs it into target/msgraph-sdk)"
        );
        return None;
    };
    let script = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let args = [
        script,
        rig.info.graph_url.clone(),
        token.to_string(),
        rig.info.ca_file.display().to_string(),
    ];
    let out =
        tokio::task::spawn_blocking(move || Command::new(python).args(args).output().unwrap())
            .await
            .unwrap();
    assert!(
        out.status.success(),
        "the SDK failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[tokio::test]
async fn microsofts_graph_sdk_sets_up_cloud_sync_on_the_rehearsal_tenant() {
    let rig = Rig::with(|_| {}, Some("[sync]\nengine = \"cloud\"\n")).await;
    let admin = rig.admin_token().await;
    rig.call(
        Method::PATCH,
        Some(&admin),
        &format!(
            "/v1.0/directory/onPremisesSynchronization/{}",
            rig.emu.tenant().sync.id
        ),
        Some(serde_json::json!({"features": {"passwordSyncEnabled": true}})),
    )
    .await;
    let from = rig.emu.requests().len();
    let Some(done) = run_sdk(&rig, "msgraph_cloud_sync.py", &admin).await else {
        return;
    };
    assert_eq!(
        done["mappings_added"], 2,
        "users and inetOrgPersons: {done}"
    );

    // What the SDK sent, as the tenant's log has it: the documented verbs, each answered in kind.
    let log: Vec<String> = rig.emu.requests()[from..]
        .iter()
        .filter(|e| e.method != "GET")
        .map(|e| {
            let tail = e.path.rsplit('/').next().unwrap_or_default();
            format!("{} {tail} {}", e.method, e.status)
        })
        .collect();
    assert_eq!(
        log,
        [
            "POST jobs 201",
            "POST start 204",
            "PATCH schema 204",
            "PUT secrets 204"
        ],
        "{log:?}"
    );

    // The configuration now sends hashes: a cycle gives its users theirs.
    let tenant = rig.emu.tenant();
    let c = tenant
        .sync
        .engines
        .cloud
        .iter()
        .find(|c| done["configuration"] == c.display_name.as_str())
        .unwrap();
    assert!(
        c.maps_password_hash() && c.app_key_scenario().as_deref() == Some("AD2AADPasswordHash")
    );
    assert!(c.sends_hashes(), "job, secret and mapping in place");
    rig.sync().await;
    let upn = rig.user_of(&c.display_name);
    let user = rig
        .emu
        .tenant()
        .users
        .into_iter()
        .find(|u| u.upn == upn)
        .unwrap();
    assert!(user.has_hash, "{upn} has a hash after a cycle");
}

/// The endpoints `readiness` reads, through the SDK's typed models: the counts the built-in scenario
/// defines come out (12 and 5 users without an MFA method, 3 AD UPNs on contoso.local, 25
/// hybrid-joined devices, no settings object while smart lockout keeps its defaults).
#[tokio::test]
async fn microsofts_graph_sdk_reads_what_readiness_reads() {
    let rig = Rig::with(|_| {}, None).await;
    let admin = rig.admin_token().await;
    let Some(done) = run_sdk(&rig, "msgraph_readiness.py", &admin).await else {
        return;
    };
    let synced = rig.emu.tenant().users.iter().filter(|u| u.synced).count();
    assert_eq!(done["without_mfa"], 17, "{done}");
    assert_eq!(done["without_mfa_all_unregistered"], true);
    assert_eq!(done["synced_users"], synced, "{done}");
    assert_eq!(done["synced_users_count"], synced);
    assert_eq!(done["ad_upn_local"], 3);
    assert_eq!(done["hybrid_joined_devices"], 25);
    assert_eq!(done["device_trust_type"], "ServerAd");
    assert_eq!(done["settings_objects"], 0);
}
