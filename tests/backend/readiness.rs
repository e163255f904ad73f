//! `readiness` through the binary: the counts a scenario defines, exactly (text and `--json`), a
//! read each kind the runbook makes with its request-id, and "cannot tell" naming what is missing.

use serde_json::Value;

use crate::cli::{Home, text};

const MFA_FOR_ALL: &str = r#"[[conditional_access]]
display_name = "Require MFA for all users"
grant = ["mfa"]
"#;

/// The built-in tenant with its app's delegated scopes as given (no AuditLog.Read.All, say).
fn without_scope(scope: &str) -> String {
    let built_in = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/rehearsal-tenant.toml"
    ))
    .unwrap();
    let cut = built_in.replace(&format!("  \"{scope}\",\n"), "");
    assert_ne!(cut, built_in, "{scope} is not among the scopes");
    cut
}

fn reset(home: &Home, scenario: &str) {
    let p = home.path().join("scenario.toml");
    std::fs::write(&p, scenario).unwrap();
    let out = home.run(&["rehearse", "reset", "--scenario", p.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

fn domain<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == name)
        .unwrap_or_else(|| panic!("no {name}: {r}"))
}

#[test]
fn readiness_counts_what_the_scenario_defines() {
    let home = Home::new();
    reset(&home, MFA_FOR_ALL);
    let r = home.json(&["readiness"]);
    assert_eq!(r["mfa_required_by"], "Require MFA for all users", "{r}");
    // The built-in scenario: contoso.com has 12 users without an MFA method and 3 whose AD UPN ends
    // in contoso.local; fabrikam.com 5 and none; 25 hybrid-joined devices; Entra's lockout defaults.
    let contoso = domain(&r, "contoso.com");
    assert_eq!(contoso["without_mfa"]["count"], 12, "{contoso}");
    assert_eq!(contoso["without_mfa"]["first"].as_array().unwrap().len(), 5);
    assert_eq!(contoso["unroutable_upn"]["count"], 3, "{contoso}");
    assert!(
        contoso["unroutable_upn"]["first"][0]
            .as_str()
            .unwrap()
            .contains("@contoso.local")
    );
    let fabrikam = domain(&r, "fabrikam.com");
    assert_eq!(fabrikam["without_mfa"]["count"], 5);
    assert_eq!(fabrikam["unroutable_upn"]["count"], 0);
    assert_eq!(
        r["domains"].as_array().unwrap().len(),
        2,
        "federated roots only"
    );
    assert_eq!(r["hybrid_joined_devices"], 25);
    assert_eq!(r["smart_lockout"]["threshold"], 10);
    assert_eq!(r["smart_lockout"]["source"], "defaults");
    assert!(r["cannot_tell"].as_array().unwrap().is_empty(), "{r}");
    // One read of every kind the runbook makes, each with Graph's request-id.
    let reads = r["reads"].as_array().unwrap();
    for what in [
        "sync settings",
        "sync engines",
        "domains",
        "federation settings",
        "AD FS metadata, sts.contoso.com",
        "user realm, contoso.com",
        "Conditional Access",
        "sign-in log",
        "MFA registration",
        "users' AD UPNs",
        "devices",
        "smart lockout",
    ] {
        let read = reads
            .iter()
            .find(|x| x["what"] == what)
            .unwrap_or_else(|| panic!("no read of {what}: {r}"));
        assert_eq!(read["outcome"], "ok", "{read}");
        if read["request"].as_str().unwrap().starts_with("GET /v1.0/") {
            assert!(read["request_id"].is_string(), "{read}");
        }
    }
    // The text says the same numbers.
    let out = home.run(&["readiness"]);
    assert!(out.status.success());
    let t = text(&out.stdout);
    assert!(t.contains("without an MFA method:   12 ("), "{t}");
    assert!(t.contains("AD UPN suffix unknown:   3 ("), "{t}");
    assert!(t.contains("Hybrid-joined devices: 25"), "{t}");
    assert!(
        t.contains("Smart lockout: 10 failures, 60 s (Entra ID's defaults)"),
        "{t}"
    );
    // A tenant that changed smart lockout says its own values.
    let home = Home::new();
    reset(
        &home,
        &without_scope("Group.Read.All").replace(
            "premium = true",
            "premium = true\nlockout_threshold = 5\nlockout_duration_s = 120",
        ),
    );
    let r = home.json(&["readiness"]);
    assert_eq!(r["smart_lockout"]["threshold"], 5, "{r}");
    assert_eq!(r["smart_lockout"]["duration_s"], 120);
    assert_eq!(r["smart_lockout"]["source"], "tenant");
}

#[test]
fn without_a_permission_readiness_cannot_tell_and_names_it() {
    let home = Home::new();
    reset(&home, &without_scope("AuditLog.Read.All"));
    let r = home.json(&["readiness"]);
    let contoso = domain(&r, "contoso.com");
    assert!(contoso["without_mfa"].is_null(), "{contoso}");
    // The other counts still come.
    assert_eq!(contoso["unroutable_upn"]["count"], 3);
    let cannot: Vec<&str> = r["cannot_tell"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        cannot
            .iter()
            .any(|c| c.starts_with("MFA registration: cannot tell without AuditLog.Read.All")),
        "{cannot:?}"
    );
    let read = r["reads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["what"] == "MFA registration")
        .unwrap();
    assert_eq!(read["outcome"], "cannot_tell");
    assert!(
        read["request_id"].is_string(),
        "Graph's request-id of the 403: {read}"
    );
    let out = home.run(&["readiness"]);
    let t = text(&out.stdout);
    assert!(
        t.contains("without an MFA method:   cannot tell")
            && t.contains("Cannot tell: MFA registration: cannot tell without AuditLog.Read.All"),
        "{t}"
    );
    // A licence is named as such: a tenant without P1/P2.
    let home = Home::new();
    reset(
        &home,
        &without_scope("Group.Read.All").replace("premium = true", "premium = false"),
    );
    let r = home.json(&["readiness"]);
    assert!(
        r["cannot_tell"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "MFA registration: cannot tell without an Entra ID P1 or P2 licence"),
        "{r}"
    );
}
