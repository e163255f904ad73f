//! The runbook's "Enable single sign-on", through the real binary: the failover writes the Connect
//! server's Seamless SSO script (`--no-sso` does not), `enable-sso` writes it on its own, and the
//! rehearsal's Connect server runs it: its status-only run changes nothing, its enabling run turns
//! Seamless SSO on for the forest without it, and the morning after shows that forest's users typing
//! their password before and signing in by single sign-on after, in the sign-in log and the watch.

use serde_json::Value;

use super::cli::Home;
use super::cutover::{check, ready_for_failover};

/// Each forest's state as the script reports it: (forest, enabled).
fn forests(v: &Value, which: &str) -> Vec<(String, bool)> {
    v[which]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["forest"].as_str().unwrap().to_string(),
                f["enabled"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn scripts_dir(home: &Home) -> std::path::PathBuf {
    let root = home.path().join("scripts");
    let tenant = std::fs::read_dir(&root).unwrap().next().unwrap().unwrap();
    tenant.path()
}

#[test]
fn the_failover_writes_the_sso_script_and_no_sso_does_not() {
    let home = Home::new();
    ready_for_failover(&home);
    let plan = home.json(&[
        "failover",
        "--domain",
        "fabrikam.com",
        "--no-sso",
        "--dry-run",
    ]);
    assert!(
        check(&plan, "Seamless SSO")["detail"]
            .as_str()
            .unwrap()
            .contains("--no-sso"),
        "{plan}"
    );
    let script = |h: &Home| {
        std::fs::read_dir(scripts_dir(h))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("enable-seamless-sso")
            })
    };
    assert_eq!(script(&home), None, "--no-sso wrote a script");

    let done = home.json(&["failover", "--domain", "contoso.com", "--yes"]);
    let sso = check(&done["plan"], "Seamless SSO");
    let path = script(&home).expect("the failover wrote no Seamless SSO script");
    assert!(
        sso["detail"]
            .as_str()
            .unwrap()
            .contains(&path.display().to_string()),
        "{sso}"
    );
    // The change report names it too (the run's pre-flight, as shown).
    let report = std::fs::read_to_string(done["report"].as_str().unwrap()).unwrap();
    assert!(
        report.contains(&path.display().to_string()),
        "the change report does not name the script"
    );
    // A script for PowerShell 5.1: UTF-8 with a byte-order mark, CRLF; the converted domain is the
    // forest it checks; private to the administrator.
    let bytes = std::fs::read(&path).unwrap();
    assert!(bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("\r\n"));
    assert!(
        text.contains("[string[]]$Forest = @('contoso.com')"),
        "{text}"
    );
    assert!(text.contains("Enable-AzureADSSOForest -OnPremCredentials $credential"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[test]
fn enable_sso_writes_the_script_on_its_own_naming_the_server_and_forests() {
    let home = Home::new();
    let r = home.json(&["enable-sso", "--forest", "contoso.com"]);
    let script = r["result"]["script"].as_str().unwrap();
    assert!(
        script.ends_with("enable-seamless-sso.AADCONNECT01.ps1"),
        "{r}"
    );
    assert_eq!(r["result"]["server"], "AADCONNECT01");
    assert_eq!(r["result"]["cloud_sync_only"], false);
    let text = std::fs::read_to_string(script).unwrap();
    assert!(text.contains("$ExpectedServer = 'AADCONNECT01'"));
    assert!(text.contains("[string[]]$Forest = @('contoso.com')"));
    // Nothing in the tenant changed: the state is as the scenario made it.
    let status = home.json(&["rehearse", "sso-script", "--status-only"]);
    assert_eq!(
        forests(&status, "after"),
        [
            ("contoso.com".to_string(), false),
            ("fabrikam.com".to_string(), true),
            ("northwind.com".to_string(), false)
        ]
    );
    // A name that would break out of the script is refused, and nothing is written.
    let out = home.run(&["enable-sso", "--forest", "contoso.com'; Stop-Computer; '"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot go into a PowerShell script"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_cloud_sync_only_tenant_is_told_to_install_the_connect_package_and_readiness_points_here() {
    let home = Home::new();
    let p = home.path().join("scenario.toml");
    std::fs::write(&p, "[sync]\nengine = \"cloud\"\n").unwrap();
    let out = home.run(&["rehearse", "reset", "--scenario", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", super::cli::text(&out.stderr));
    let r = home.json(&["enable-sso"]);
    assert_eq!(r["result"]["cloud_sync_only"], true, "{r}");
    assert!(
        r["result"]["script"]
            .as_str()
            .unwrap()
            .ends_with("enable-seamless-sso.ps1")
    );
    assert!(
        r["result"]["note"]
            .as_str()
            .unwrap()
            .contains("-CloudSyncOnly")
    );
    let warn = check(&r["plan"], "Cloud Sync only");
    assert_eq!(warn["outcome"], "warn");
    assert!(
        warn["detail"]
            .as_str()
            .unwrap()
            .contains("Entra Connect package")
    );
    // The rehearsal runs it as on a server with the package installed for its module.
    let run = home.json(&["rehearse", "sso-script", "--status-only"]);
    assert_eq!(run["cloud_sync_only"], true);
    assert_eq!(run["server"], Value::Null);
    // readiness cannot read Seamless SSO from Graph, and says where to.
    let ready = home.json(&["readiness"]);
    assert!(
        ready["seamless_sso"]
            .as_str()
            .unwrap()
            .contains("enable-sso"),
        "{ready}"
    );
}

#[test]
fn the_morning_after_shows_passwords_typed_before_the_script_and_single_sign_on_after() {
    let home = Home::new();
    ready_for_failover(&home);
    home.json(&["failover", "--domain", "contoso.com", "--yes"]);
    // Before: contoso.com's forest has no Seamless SSO: every user types a password.
    let before = home.json(&[
        "rehearse",
        "morning",
        "--domain",
        "contoso.com",
        "--users",
        "20",
    ]);
    assert_eq!(
        (&before["single_sign_on"], &before["typed_password"]),
        (&Value::from(0), &Value::from(20)),
        "{before}"
    );
    let watch = home.json(&["signins", "--domain", "contoso.com", "--since", "1h"]);
    assert_eq!(
        (&watch["succeeded"], &watch["single_sign_on"]),
        (&Value::from(20), &Value::from(0)),
        "{watch}"
    );

    // The status-only run changes nothing; the enabling run turns it on for contoso.com alone.
    let status = home.json(&["rehearse", "sso-script", "--status-only"]);
    assert_eq!(status["changed"], serde_json::json!([]));
    assert_eq!(forests(&status, "before"), forests(&status, "after"));
    let run = home.json(&["rehearse", "sso-script"]);
    assert_eq!(
        run["changed"],
        serde_json::json!(["contoso.com", "northwind.com"]),
        "{run}"
    );
    assert!(forests(&run, "after").iter().all(|(_, on)| *on));
    let again = home.json(&["rehearse", "sso-script"]);
    assert_eq!(
        again["changed"],
        serde_json::json!([]),
        "a second run changes nothing"
    );

    // After: they sign in by single sign-on, even those who would have typed a wrong password.
    let after = home.json(&[
        "rehearse",
        "morning",
        "--domain",
        "contoso.com",
        "--users",
        "20",
        "--wrong-password",
        "3",
    ]);
    assert_eq!(
        (&after["single_sign_on"], &after["typed_password"]),
        (&Value::from(20), &Value::from(0)),
        "{after}"
    );
    let watch = home.json(&["signins", "--domain", "contoso.com", "--since", "1h"]);
    assert_eq!(
        (
            &watch["total"],
            &watch["succeeded"],
            &watch["single_sign_on"]
        ),
        (&Value::from(40), &Value::from(40), &Value::from(20)),
        "{watch}"
    );
    let out = home.run(&["signins", "--domain", "contoso.com", "--since", "1h"]);
    let shown = super::cli::text(&out.stdout);
    assert!(shown.contains("(20 by Seamless single sign-on)"), "{shown}");

    // A federated domain signs in through AD FS whatever its forest has: fabrikam.com's forest has
    // Seamless SSO, and its users still type their password at the farm (which is down).
    let fabrikam = home.json(&[
        "rehearse",
        "morning",
        "--domain",
        "fabrikam.com",
        "--users",
        "5",
    ]);
    assert_eq!(fabrikam["single_sign_on"], 0, "{fabrikam}");
}
