//! A cutover that opens no door, through the real binary: the security pre-flight (MFA and
//! Conditional Access) and the sign-in watch afterwards, on the rehearsal tenant.

use serde_json::Value;

use super::cli::{Home, text};

const TENANT: &str = r#"[tenant]
id = "9c5f2b1e-4d3a-4f6b-9e2c-7a1d0b8c3e55"
display_name = "Contoso (rehearsal)"
initial_domain = "contoso.onmicrosoft.com"
"#;

const APP_WITHOUT_POLICY_READ: &str = r#"[app]
display_name = "entra-failover rehearsal"
client_id = "5e0c1f7a-3b9d-4c2e-8a6f-1d2b3c4d5e6f"
roles = []
scopes = ["Domain-InternalFederation.ReadWrite.All", "Domain.ReadWrite.All", "Organization.Read.All", "OnPremDirectorySynchronization.ReadWrite.All", "User.Read.All", "User.Read"]
"#;

const MFA_POLICIES: &str = r#"[[conditional_access]]
display_name = "Require MFA for all users"
grant = ["mfa"]

[[conditional_access]]
display_name = "Block legacy authentication"
grant = ["block"]
client_app_types = ["exchangeActiveSync", "other"]
"#;

fn reset(home: &Home, scenario: &str) {
    let p = home.path().join("scenario.toml");
    std::fs::write(&p, scenario).unwrap();
    let out = home.run(&["rehearse", "reset", "--scenario", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

pub(super) fn ready_for_failover(home: &Home) {
    home.json(&["enable-phs", "--yes"]);
    home.json(&["rehearse", "connect-script"]);
    home.json(&["rehearse", "sync"]);
    home.json(&["rehearse", "farm", "sts.contoso.com", "down"]);
}

pub(super) fn check<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {plan}"))
}

#[test]
fn the_mfa_gap_is_named_in_the_plan_the_confirmation_and_the_report() {
    let home = Home::new();
    ready_for_failover(&home);
    // The built-in tenant: contoso.com's farm enforced MFA, and no policy requires it.
    let plan = home.json(&["failover", "--domain", "contoso.com", "--dry-run"]);
    let mfa = check(&plan, "MFA after the cutover");
    assert_eq!(mfa["outcome"], "warn", "{plan}");
    assert!(
        mfa["detail"].as_str().unwrap().contains(
            "users of contoso.com (whose MFA the farm did) sign in with a password alone"
        ),
        "{mfa}"
    );
    assert!(
        check(&plan, "MFA at the farm, contoso.com")["detail"]
            .as_str()
            .unwrap()
            .starts_with("enforceMfaByFederatedIdp")
    );
    assert_eq!(check(&plan, "legacy authentication")["outcome"], "warn");
    let script = check(&plan, "AD FS policies")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        script.contains("export-adfs-access-policies.ps1"),
        "{script}"
    );
    assert!(
        home.path()
            .join("scripts/9c5f2b1e-4d3a-4f6b-9e2c-7a1d0b8c3e55/export-adfs-access-policies.ps1")
            .exists()
    );
    // The confirmation says it again (no terminal here: it refuses, naming the warnings).
    let out = home.run(&["failover", "--domain", "contoso.com"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("despite 4 warning(s) above (password expiry; change at next logon; MFA after the cutover; legacy authentication)"),
        "{err}"
    );
    // A warning never blocks the failover; the change report carries it.
    let r = home.json(&["failover", "--domain", "contoso.com", "--yes"]);
    let report = std::fs::read_to_string(r["report"].as_str().unwrap()).unwrap();
    assert!(report.contains("[WARN] MFA after the cutover"), "{report}");
    assert!(report.contains("[WARN] legacy authentication"), "{report}");
}

#[test]
fn an_mfa_policy_passes_and_a_missing_permission_cannot_tell() {
    let home = Home::new();
    reset(&home, MFA_POLICIES);
    ready_for_failover(&home);
    let plan = home.json(&["failover", "--domain", "contoso.com", "--dry-run"]);
    let mfa = check(&plan, "MFA after the cutover");
    assert_eq!(mfa["outcome"], "pass", "{plan}");
    assert!(
        mfa["detail"]
            .as_str()
            .unwrap()
            .contains("'Require MFA for all users'")
    );
    let legacy = check(&plan, "legacy authentication");
    assert_eq!(legacy["outcome"], "pass", "{legacy}");
    assert!(
        legacy["detail"]
            .as_str()
            .unwrap()
            .contains("'Block legacy authentication'")
    );

    // The same policies, read by an identity without Policy.Read.All: it cannot tell, and says why.
    let home = Home::new();
    reset(&home, &format!("{APP_WITHOUT_POLICY_READ}\n{MFA_POLICIES}"));
    ready_for_failover(&home);
    let plan = home.json(&["failover", "--domain", "contoso.com", "--dry-run"]);
    let mfa = check(&plan, "MFA after the cutover");
    assert_eq!(mfa["outcome"], "warn", "{plan}");
    assert!(
        mfa["detail"]
            .as_str()
            .unwrap()
            .starts_with("cannot tell: missing Policy.Read.All"),
        "{mfa}"
    );
    // Nor may it read the sign-in log: said plainly, with what to do instead.
    let out = home.run(&["signins", "--domain", "contoso.com"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("AuditLog.Read.All") && err.contains("test-signin"),
        "{err}"
    );
}

#[test]
fn the_morning_after_is_counted_exactly() {
    let home = Home::new();
    ready_for_failover(&home);
    home.json(&["failover", "--domain", "contoso.com", "--yes"]);
    let m = home.json(&[
        "rehearse",
        "morning",
        "--domain",
        "contoso.com",
        "--users",
        "40",
        "--wrong-password",
        "6",
        "--unsynced",
        "4",
    ]);
    assert_eq!(m["attempts"], 40, "{m}");
    let s = home.json(&["signins", "--domain", "contoso.com", "--since", "1h"]);
    assert_eq!(
        (&s["total"], &s["succeeded"], &s["failed"]),
        (&Value::from(40), &Value::from(30), &Value::from(10)),
        "{s}"
    );
    let failures: Vec<(i64, i64, usize)> = s["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["code"].as_i64().unwrap(),
                f["count"].as_i64().unwrap(),
                f["users"].as_array().unwrap().len() + f["more_users"].as_u64().unwrap() as usize,
            )
        })
        .collect();
    assert_eq!(failures, [(50126, 6, 6), (50056, 4, 4)], "{s}");
    assert!(
        s["failures"][1]["meaning"]
            .as_str()
            .unwrap()
            .contains("no password hash")
    );
    // The users they hit are the ones the morning picked (by UPN order: the last four, no hash).
    let tenant = entra_failover::emulator::state::Store {
        dir: home.path().join("rehearsal"),
    }
    .load()
    .unwrap()
    .unwrap();
    let mut contoso: Vec<String> = tenant
        .users
        .iter()
        .filter(|u| u.synced && u.upn.ends_with("@contoso.com"))
        .map(|u| u.upn.clone())
        .collect();
    contoso.sort();
    let unsynced: Vec<&str> = contoso[36..40].iter().map(String::as_str).collect();
    let named: Vec<&str> = s["failures"][1]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap())
        .collect();
    assert_eq!(named, unsynced);
    // Other domains are not counted; text says the same.
    let none = home.json(&["signins", "--domain", "fabrikam.com", "--since", "1h"]);
    assert_eq!(none["total"], 0);
    let out = home.run(&["signins", "--domain", "contoso.com", "--since", "1h"]);
    let t = text(&out.stdout);
    assert!(t.contains(": 40 — 30 succeeded, 10 failed."), "{t}");
    assert!(
        t.contains("AADSTS50126 × 6") && t.contains("AADSTS50056 × 4"),
        "{t}"
    );
    // Bad input is refused plainly.
    let out = home.run(&["signins", "--domain", "contoso.com", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_tenant_without_the_licence_is_told_so() {
    let home = Home::new();
    reset(&home, &format!("{TENANT}premium = false\n"));
    let out = home.run(&["signins", "--domain", "contoso.com"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("no Microsoft Entra ID P1 or P2 licence") && err.contains("test-signin --upn"),
        "{err}"
    );
}

/// Following: each look reads the window again (late events), and counts each sign-in once.
#[tokio::test]
async fn a_following_watch_counts_each_sign_in_once() {
    use entra_failover::ops::signins::Watch;
    let t = super::clients::Tenant::start(None).await;
    let s = t.session(t.admin());
    let mut w = Watch::new(
        vec!["northwind.com".into()],
        time::OffsetDateTime::now_utc() - time::Duration::minutes(15),
    );
    let first = w.look(&s).await.unwrap();
    assert_eq!((first.total, first.requests), (0, 1));
    // northwind.com is managed from the start: its users sign in with the password hash once a
    // sync has brought them (the built-in tenant has none yet: every one of them is 50056).
    t.control(
        "/morning",
        serde_json::json!({"domain": "northwind.com", "users": 10, "wrong_password": 3}),
    )
    .await;
    let second = w.look(&s).await.unwrap();
    assert_eq!(second.total, 10, "{second:?}");
    assert_eq!(second.failures[0].code, 50056, "{second:?}");
    let third = w.look(&s).await.unwrap();
    assert_eq!(third.total, 10, "the same sign-ins, read again, count once");
    assert_eq!(third.requests, 1);
}

/// What changes about passwords once Entra ID checks them: two lines from the sync settings the
/// pre-flight reads anyway, each following its flag, and neither flag touched by the failover.
#[test]
fn the_preflight_says_what_changes_about_passwords() {
    let home = Home::new();
    ready_for_failover(&home);
    let plan = home.json(&["failover", "--all-federated", "--dry-run"]);
    let expiry = check(&plan, "password expiry");
    assert_eq!(expiry["outcome"], "warn", "{expiry}");
    assert!(
        expiry["detail"]
            .as_str()
            .unwrap()
            .contains("cloudPasswordPolicyForPasswordSyncedUsersEnabled is off (off here)")
    );
    let next_logon = check(&plan, "change at next logon");
    assert_eq!(next_logon["outcome"], "warn", "{next_logon}");
    // With both flags on (scenario keys), the lines say so; the failover leaves them as they were.
    let home = Home::new();
    reset(
        &home,
        "[sync]\npassword_hash_sync = false\ncloud_password_policy = true\nforce_password_change_on_logon = true\n",
    );
    ready_for_failover(&home);
    let r = home.json(&["failover", "--all-federated", "--yes"]);
    assert_eq!(check(&r["plan"], "password expiry")["outcome"], "info");
    assert_eq!(check(&r["plan"], "change at next logon")["outcome"], "pass");
    let out = home.run(&["failover", "--all-federated", "--dry-run", "--json"]);
    let after: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(check(&after, "password expiry")["outcome"], "info");
}

/// The switch-back's permission trap: creating federation settings has a documented permissions
/// issue (delegated callers may need Directory.AccessAsUser.All). The pre-flight warns; a tenant
/// that has the issue answers the POST with Graph's 403, the domain stays managed and the error
/// names the fix; with the scope consented the same switch-back goes through.
#[test]
fn the_switch_back_permission_trap_is_warned_shown_and_fixed() {
    const TRAP: &str = "[tenant]\nid = \"9c5f2b1e-4d3a-4f6b-9e2c-7a1d0b8c3e55\"\ndisplay_name = \"Contoso (rehearsal)\"\ninitial_domain = \"contoso.onmicrosoft.com\"\nfederation_create_needs_access_as_user = true\n";
    let switch_back = [
        "switch-back",
        "--domain",
        "contoso.com",
        "--from-backup",
        "latest",
        "--yes",
    ];
    let home = Home::new();
    reset(&home, TRAP);
    ready_for_failover(&home);
    home.json(&["failover", "--domain", "contoso.com", "--yes"]);
    home.json(&["rehearse", "farm", "sts.contoso.com", "up"]);
    let out = home.run(&[
        "switch-back",
        "--domain",
        "contoso.com",
        "--from-backup",
        "latest",
        "--dry-run",
        "--json",
    ]);
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let warned = check(&plan, "federation create");
    assert_eq!(warned["outcome"], "warn", "{warned}");
    assert!(
        warned["detail"]
            .as_str()
            .unwrap()
            .contains("Directory.AccessAsUser.All")
    );
    let out = home.run(&switch_back);
    assert!(!out.status.success());
    let e = text(&out.stderr);
    assert!(
        e.contains("403") && e.contains("still managed") && e.contains("The fix:"),
        "{e}"
    );
    let st = home.json(&["status"]);
    let contoso = st["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "contoso.com")
        .unwrap();
    assert_eq!(contoso["authentication_type"], "Managed");
    // The fix: the scope consented for the app the administrator signs in with.
    let home = Home::new();
    let consented = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/rehearsal-tenant.toml"
    ))
    .unwrap()
    .replace(
        "premium = true",
        "premium = true\nfederation_create_needs_access_as_user = true",
    )
    .replace(
        "scopes = [\n",
        "scopes = [\n  \"Directory.AccessAsUser.All\",\n",
    );
    assert!(consented.contains("\"Directory.AccessAsUser.All\""));
    reset(&home, &consented);
    ready_for_failover(&home);
    home.json(&["failover", "--domain", "contoso.com", "--yes"]);
    home.json(&["rehearse", "farm", "sts.contoso.com", "up"]);
    let r = home.json(&switch_back);
    assert_eq!(r["result"]["outcome"], "federated", "{r}");
    assert!(
        r["plan"]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "federation create")
    );
}
