//! The operator's own sign-in: an administrator on a federated domain signs in through the farm, is
//! warned while it answers, is refused with the way out once it is down, and keeps a session going
//! on its refresh token until that lapses, as Entra's sessions do.

use entra_failover::ops::Session;
use serde_json::json;

use crate::cli::{Home, text};

const FEDERATED_ADMIN: &str = "[admin]\nupn = \"it.admin@contoso.com\"\ndisplay_name = \"IT Administrator\"\nroles = [\"62e90394-69f5-4237-9190-012177145e10\"]\n";

fn federated_admin_home() -> Home {
    let home = Home::new();
    let scenario = home.path().join("admin.toml");
    std::fs::write(&scenario, FEDERATED_ADMIN).unwrap();
    let out = home.run(&[
        "rehearse",
        "reset",
        "--scenario",
        scenario.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    home
}

#[test]
fn a_federated_administrator_is_warned_then_refused_with_the_way_out() {
    let home = federated_admin_home();
    // The farm answers: the sign-in goes through it (WS-Trust, then the SAML bearer grant), and
    // status says what the account depends on.
    let st = home.json(&["status"]);
    assert_eq!(st["signed_in_as"], "it.admin@contoso.com");
    assert_eq!(st["operator"]["outcome"], "warn", "{}", st["operator"]);
    let detail = st["operator"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("it.admin@contoso.com is on contoso.com, a federated domain")
            && detail.contains("*.onmicrosoft.com"),
        "{detail}"
    );
    // The failover pre-flight says it too (it refuses here for other reasons: no hashes yet).
    let out = home.run(&["failover", "--all-federated", "--dry-run", "--json"]);
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let checks = plan["checks"].as_array().unwrap();
    assert!(
        checks
            .iter()
            .any(|c| c["name"] == "your sign-in" && c["outcome"] == "warn"),
        "{plan}"
    );
    // The farm goes down: a new sign-in cannot happen, and the refusal names the way out.
    home.json(&["rehearse", "farm", "sts.contoso.com", "down"]);
    let out = home.run(&["status"]);
    assert!(!out.status.success());
    let e = text(&out.stderr);
    assert!(
        e.contains("a new sign-in goes through its AD FS farm")
            && e.contains("cannot be reached")
            && e.contains("*.onmicrosoft.com"),
        "{e}"
    );
}

#[test]
fn the_built_in_administrator_is_cloud_only() {
    let home = Home::new();
    let st = home.json(&["status"]);
    assert_eq!(st["operator"]["outcome"], "pass", "{}", st["operator"]);
    assert!(
        st["operator"]["detail"]
            .as_str()
            .unwrap()
            .contains("is managed, so it does not need AD FS")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_lives_on_its_refresh_token_until_it_lapses() {
    let home = tokio::task::spawn_blocking(federated_admin_home)
        .await
        .unwrap();
    let s = Session::rehearsal(home.path()).await.unwrap();
    let emu = s.rehearsal.as_ref().unwrap().emulator().unwrap();
    let info = emu.info().clone();
    let control = |path: &'static str, body: serde_json::Value| {
        let (http, info) = (s.http.clone(), info.clone());
        async move {
            let r = http
                .post(format!("{}{path}", info.control_url))
                .bearer_auth(&info.control_token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "{path}");
        }
    };
    let me: serde_json::Value = s.graph.get("/v1.0/me").await.unwrap();
    assert_eq!(me["userPrincipalName"], "it.admin@contoso.com");
    control("/adfs/sts.contoso.com", json!({"state": "down"})).await;
    // Two hours on: the access token has expired by the tenant's clock; the refresh token carries
    // the session on without a new sign-in (which the farm could not serve).
    control("/clock", json!({"advance_s": 7200})).await;
    let before = emu.requests().len();
    let me: serde_json::Value = s.graph.get("/v1.0/me").await.unwrap();
    assert_eq!(me["userPrincipalName"], "it.admin@contoso.com");
    let log = emu.requests();
    assert!(
        log[before..]
            .iter()
            .any(|e| e.method == "POST" && e.path.ends_with("/oauth2/v2.0/token")),
        "no token request"
    );
    assert!(
        !log[before..].iter().any(|e| e.path.contains("/adfs/")),
        "the refresh went to the farm"
    );
    // 91 days on, unused: the refresh token has lapsed, and only a new sign-in would do.
    control("/clock", json!({"advance_s": 91 * 86_400})).await;
    let e = s
        .graph
        .get::<serde_json::Value>("/v1.0/me")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("*.onmicrosoft.com"), "{e}");
}
