//! How many Graph requests a run sends, through the binary, counted in the tenant's own request log:
//! a run straight after its pre-flight needs three a domain (the backup read, the change, the
//! confirming read) and a constant for the pre-flight; the change report adds none.

use std::process::Command;

use entra_failover::ops::{Quiet, enable_phs};
use serde_json::{Value, json};

use crate::cli::text;
use crate::clients::Tenant;

#[tokio::test(flavor = "multi_thread")]
async fn a_failover_of_100_domains_sends_three_graph_requests_a_domain() {
    let t = Tenant::start(Some("[generate]\nfederated_domains = 100\n")).await;
    let s = t.session(t.admin());
    let p = enable_phs::prepare(&s, &Default::default()).await.unwrap();
    enable_phs::run(&s, p, &Quiet).await.unwrap();
    t.control("/connect/script", json!({})).await;
    t.control("/sync", json!({})).await;
    t.control("/adfs/sts.contoso.com", json!({"state": "down"}))
        .await;
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[profiles.budget]\ntenant = \"{}\"\nauth = \"client-secret\"\nclient_id = \"{}\"\nclient_secret_env = \"S\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\nca_file = '{}'\n",
            t.info.tenant_id,
            t.info.client_id,
            t.info.graph_url,
            t.info.login_url,
            t.info.ca_file.display()
        ),
    )
    .unwrap();
    let from = t.emu.requests().len();
    let out = tokio::task::spawn_blocking({
        let (home, secret) = (home.path().to_path_buf(), t.info.client_secret.clone());
        move || {
            Command::new(env!("CARGO_BIN_EXE_entra-failover"))
                .args(["failover", "--all-federated", "--yes", "--json"])
                .args(["--profile", "budget"])
                .env("ENTRA_FAILOVER_HOME", home)
                .env("S", secret)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let converted = r["result"]["domains"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["outcome"] == "converted")
        .count();
    assert!(converted >= 100, "{r}");
    let log = t.emu.requests();
    let graph: Vec<String> = log[from..]
        .iter()
        .filter(|e| e.path.starts_with("/v1.0/") || e.path.starts_with("/beta/"))
        .map(|e| format!("{} {}", e.method, e.path))
        .collect();
    // The pre-flight's reads that do not grow with the domains: the domain list (two pages of 100),
    // the sync settings, the last password sync and the Conditional Access policies. Before the
    // change report took "now" from the confirming reads, it added two a domain (515 in all here).
    const PREFLIGHT: usize = 5;
    assert!(
        graph.len() <= 3 * converted + PREFLIGHT,
        "{} Graph requests for {converted} domains:\n{}",
        graph.len(),
        graph.join("\n")
    );
    // The change report still shows each domain as it is now: managed, without federation settings.
    let report = std::fs::read_to_string(r["report"].as_str().unwrap()).unwrap();
    assert!(report.contains("d100.example"), "{report}");
    assert!(
        report.contains("## d100.example\n\nSign-in now: Managed"),
        "{report}"
    );
    let confirmed = t.emu.tenant();
    assert!(
        confirmed
            .domains
            .iter()
            .filter(|d| d.id().ends_with(".example"))
            .all(|d| d.federation.is_none())
    );
}
