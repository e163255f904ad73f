//! Verify federated login through the real binary: a federated user's password at the farm, as
//! Entra ID checks it (WS-Trust), and whether Entra ID would take the token.

use serde_json::Value;

use super::cli::{Home, text};

fn signin(home: &Home, upn: &str, password: &str) -> (Option<i32>, Value) {
    let out = home.run_with(
        &["test-signin", "--upn", upn, "--password-stdin", "--json"],
        Some(password),
    );
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)));
    (out.status.code(), v)
}

fn user_of(home: &Home, domain: &str) -> (String, String) {
    let store = entra_failover::emulator::state::Store {
        dir: home.path().join("rehearsal"),
    };
    let t = serde_json::to_value(store.load().unwrap().unwrap()).unwrap();
    let u = t["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| {
            u["synced"] == true && u["upn"].as_str().unwrap().ends_with(&format!("@{domain}"))
        })
        .unwrap();
    (
        u["upn"].as_str().unwrap().to_string(),
        u["immutable_id"].as_str().unwrap().to_string(),
    )
}

#[test]
fn federated_login_proves_the_farm_and_names_what_entra_would_refuse() {
    let home = Home::new();
    let info = home.json(&["rehearse", "info"]);
    let password = info["user_password"].as_str().unwrap().to_string();
    let (upn, immutable_id) = user_of(&home, "contoso.com");
    let entra_issuer = home.json(&["status"])["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "contoso.com")
        .unwrap()["issuer_uri"]
        .as_str()
        .unwrap()
        .to_string();

    // The farm up: it signs the user in, and Entra ID would take the token.
    let (code, r) = signin(&home, &upn, &password);
    assert_eq!(code, Some(0), "{r}");
    assert_eq!(r["realm"], "Federated");
    let f = &r["federated"];
    assert_eq!(f["verdict"], "signed_in", "{r}");
    assert_eq!(f["farm"], "sts.contoso.com");
    assert_eq!(
        f["endpoint"],
        "https://sts.contoso.com/adfs/services/trust/2005/usernamemixed"
    );
    assert_eq!(f["issuer"], entra_issuer.as_str());
    assert_eq!(f["immutable_id"], immutable_id.as_str());
    assert_eq!(r["password_test"]["ok"], true);
    // Text: the farm and the token's issuer and ImmutableID are named.
    let out = home.run_with(
        &["test-signin", "--upn", &upn, "--password-stdin"],
        Some(&password),
    );
    let t = text(&out.stdout);
    assert!(
        t.contains("Password test: OK — the farm sts.contoso.com signed"),
        "{t}"
    );
    assert!(t.contains(&immutable_id), "{t}");
    assert!(!t.contains(&password) && !text(&out.stderr).contains(&password));

    // A wrong password: the farm refused it.
    let (code, r) = signin(&home, &upn, "not-the-password");
    assert_eq!(code, Some(1));
    assert_eq!(r["federated"]["verdict"], "password_refused", "{r}");
    assert!(
        r["federated"]["message"]
            .as_str()
            .unwrap()
            .contains("ID3242")
    );

    // The farm rolls its token-signing certificate over: its tokens are signed with one Entra
    // does not hold (AADSTS50008) until the trust is reset.
    home.json(&["rehearse", "farm", "sts.contoso.com", "rollover"]);
    home.json(&["rehearse", "farm", "sts.contoso.com", "promote"]);
    let (code, r) = signin(&home, &upn, &password);
    assert_eq!(code, Some(1));
    assert_eq!(r["federated"]["verdict"], "entra_would_reject", "{r}");
    let problems = r["federated"]["problems"].to_string();
    assert!(
        problems.contains("AADSTS50008") && problems.contains("reset-trust"),
        "{problems}"
    );
    home.json(&[
        "reset-trust",
        "--domain",
        "contoso.com",
        "--metadata-url",
        "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml",
        "--yes",
    ]);
    let (code, r) = signin(&home, &upn, &password);
    assert_eq!(code, Some(0), "after reset-trust: {r}");

    // A domain federated with an issuer the farm does not issue: AADSTS50107.
    let (nw_user, _) = user_of(&home, "northwind.com");
    home.json(&[
        "switch-back",
        "--domain",
        "northwind.com",
        "--metadata-url",
        "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml",
        "--issuer",
        "http://northwind.com/adfs/services/trust/",
        "--yes",
    ]);
    let (code, r) = signin(&home, &nw_user, &password);
    assert_eq!(code, Some(1), "{r}");
    assert_eq!(r["federated"]["verdict"], "entra_would_reject", "{r}");
    let problems = r["federated"]["problems"].to_string();
    assert!(
        problems.contains("AADSTS50107")
            && problems.contains("http://northwind.com/adfs/services/trust/"),
        "{problems}"
    );

    // Before a switch-back the domain is managed: --farm tests at the farm all the same, holding the
    // token against the settings the backup would restore.
    home.json(&["enable-phs", "--yes"]);
    home.json(&["rehearse", "connect-script"]);
    home.json(&["rehearse", "sync"]);
    let (fb_user, _) = user_of(&home, "fabrikam.com");
    home.json(&["failover", "--domain", "fabrikam.com", "--yes"]);
    let (code, r) = signin(&home, &fb_user, &password);
    assert_eq!(
        (code, &r["realm"]),
        (Some(0), &Value::from("Managed")),
        "{r}"
    );
    assert!(r["federated"].is_null(), "managed: tested at Entra ID");
    let out = home.run_with(
        &[
            "test-signin",
            "--upn",
            &fb_user,
            "--password-stdin",
            "--farm",
            "sts.contoso.com",
            "--json",
        ],
        Some(&password),
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    // The farm rolled its certificate above, and fabrikam.com's backup predates it: switching back
    // from that backup would leave Entra ID without the farm's certificate. Said before it happens.
    assert_eq!(out.status.code(), Some(1), "{r}");
    assert_eq!(r["federated"]["verdict"], "entra_would_reject", "{r}");
    assert!(
        r["federated"]["problems"]
            .to_string()
            .contains("AADSTS50008"),
        "{r}"
    );
    assert!(
        r["federated"]["against"]
            .as_str()
            .unwrap()
            .starts_with("fabrikam.com once switched back from "),
        "{r}"
    );
    let out = home.run(&[
        "test-signin",
        "--upn",
        &fb_user,
        "--farm",
        "sts/evil",
        "--password-stdin",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // The farm down: said so, by its name.
    home.json(&["rehearse", "farm", "sts.contoso.com", "down"]);
    let (code, r) = signin(&home, &upn, &password);
    assert_eq!(code, Some(1));
    assert_eq!(r["federated"]["verdict"], "farm_down", "{r}");
    assert!(
        r["federated"]["message"]
            .as_str()
            .unwrap()
            .contains("sts.contoso.com cannot be reached")
    );
    assert!(
        r["password_test"]["meaning"]
            .as_str()
            .unwrap()
            .contains("fail over"),
        "{r}"
    );
}
