//! Staged rollout through the real binary: pilot groups sign in with their password hash while their
//! domain stays federated; what Microsoft refuses is refused before anything is sent.

use serde_json::Value;

use super::cli::{Home, text};

fn signin(home: &Home, upn: &str, password: &str) -> Value {
    let out = home.run_with(
        &["test-signin", "--upn", upn, "--password-stdin", "--json"],
        Some(password),
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", text(&out.stdout), text(&out.stderr)))
}

fn journal_lines(home: &Home) -> Vec<Value> {
    home.json(&["history"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn pilot_groups_sign_in_with_the_hash_while_the_domain_stays_federated() {
    let home = Home::new();
    let info = home.json(&["rehearse", "info"]);
    let password = info["user_password"].as_str().unwrap().to_string();

    // Nothing yet.
    let v = home.json(&["staged-rollout"]);
    assert!(v["policy"].is_null(), "{v}");

    // Refused while no password hash can arrive: exit 3, nothing sent.
    let out = home.run(&["staged-rollout", "enable", "--group", "PHS pilot", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("enable-phs"),
        "{}",
        text(&out.stderr)
    );
    assert!(home.json(&["staged-rollout"])["policy"].is_null());

    home.json(&["enable-phs", "--yes"]);
    home.json(&["rehearse", "connect-script"]);
    home.json(&["rehearse", "sync"]);

    // What Microsoft refuses, refused first, each named, and nothing changes.
    for (group, why) in [
        ("All Contoso staff", "dynamic group"),
        ("Pilot waves", "nested groups"),
        ("Helpdesk and partners", "contact"),
    ] {
        let out = home.run(&["staged-rollout", "enable", "--group", group, "--yes"]);
        assert_eq!(out.status.code(), Some(3), "{group}: {}", text(&out.stderr));
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(all.contains(&format!("[FAIL] group {group}")), "{all}");
        assert!(all.contains(why), "{group}: {all}");
    }
    let out = home.run(&[
        "staged-rollout",
        "enable",
        "--group",
        "No such group",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no group is named \"No such group\""));
    assert!(home.json(&["staged-rollout"])["policy"].is_null());

    // The dry run shows the exact calls and changes nothing.
    let plan = home.json(&[
        "staged-rollout",
        "enable",
        "--group",
        "PHS pilot",
        "--dry-run",
    ]);
    let calls: Vec<String> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["method"].as_str().unwrap(),
                s["path"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        calls[0], "POST /v1.0/policies/featureRolloutPolicies",
        "{calls:?}"
    );
    assert!(calls[1].ends_with("/appliesTo/$ref"), "{calls:?}");
    assert_eq!(plan["steps"][0]["body"]["feature"], "passwordHashSync");
    assert!(home.json(&["staged-rollout"])["policy"].is_null());

    // Enable for the pilot group.
    let r = home.json(&["staged-rollout", "enable", "--group", "PHS pilot", "--yes"]);
    assert_eq!(r["result"]["changed"], true, "{r}");
    let view = &r["result"]["view"];
    assert_eq!(view["enabled"], true);
    assert_eq!(view["groups"][0]["display_name"], "PHS pilot");
    assert_eq!(view["groups"][0]["users"], 10);
    assert_eq!(view["groups"][0]["users_by_domain"]["contoso.com"], 10);
    let backup = r["result"]["backup"].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&backup).exists());
    let report = std::fs::read_to_string(r["report"].as_str().unwrap()).unwrap();
    assert!(report.contains("staged-rollout"), "{report}");
    assert!(report.contains("PHS pilot"), "{report}");

    // The tenant afterwards: the policy and its group, read through a new process.
    let v = home.json(&["staged-rollout"]);
    assert_eq!(v["policy"]["feature"], "passwordHashSync");
    assert_eq!(v["policy"]["isEnabled"], true);
    assert_eq!(v["groups"].as_array().unwrap().len(), 1);
    let st = home.json(&["status"]);
    let contoso = st["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "contoso.com")
        .unwrap();
    assert_eq!(
        contoso["authentication_type"], "Federated",
        "the domain stays federated"
    );

    // A pilot user signs in with the password hash; a user outside the group still goes to the farm.
    let pilot = signin(&home, "adele.vance@contoso.com", &password);
    assert_eq!(pilot["realm"], "Managed", "{pilot}");
    assert_eq!(pilot["password_test"]["ok"], true, "{pilot}");
    let other = signin(&home, "lynne.vance@contoso.com", &password);
    assert_eq!(other["realm"], "Federated", "{other}");

    // Again: nothing to change, and no report.
    let again = home.json(&["staged-rollout", "enable", "--group", "PHS pilot", "--yes"]);
    assert_eq!(again["result"]["changed"], false);
    assert!(again["report"].is_null());

    // Add a second group by id, then remove the first: its users go back to the farm.
    let fabrikam_pilot = {
        let out = home.run(&[
            "staged-rollout",
            "add",
            "--group",
            "Fabrikam pilot",
            "--dry-run",
            "--json",
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        let body = plan["steps"][0]["body"]["@odata.id"]
            .as_str()
            .unwrap()
            .to_string();
        body.rsplit('/').next().unwrap().to_string()
    };
    home.json(&["staged-rollout", "add", "--group", &fabrikam_pilot, "--yes"]);
    let r = home.json(&["staged-rollout", "remove", "--group", "PHS pilot", "--yes"]);
    let names: Vec<&str> = r["result"]["view"]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Fabrikam pilot"]);
    assert_eq!(
        signin(&home, "adele.vance@contoso.com", &password)["realm"],
        "Federated"
    );
    let out = home.run(&["staged-rollout", "remove", "--group", "PHS pilot", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("is not in the staged rollout"));

    // A switch-back while pilots remain says that they keep the password hash.
    let plan = home.json(&[
        "switch-back",
        "--domain",
        "northwind.com",
        "--metadata-url",
        "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml",
        "--issuer",
        "http://northwind.com/adfs/services/trust/",
        "--dry-run",
    ]);
    let warned = plan["checks"].as_array().unwrap().iter().any(|c| {
        c["name"] == "staged rollout"
            && c["outcome"] == "warn"
            && c["detail"].as_str().unwrap().contains("1 group(s)")
    });
    assert!(warned, "{plan}");

    // End it: the policy is gone, its last state is in a backup.
    let r = home.json(&["staged-rollout", "end", "--yes"]);
    assert_eq!(r["result"]["view"]["policy"], Value::Null);
    assert!(home.json(&["staged-rollout"])["policy"].is_null());
    let last_backup: Value =
        serde_json::from_slice(&std::fs::read(r["result"]["backup"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(last_backup["policy"]["appliesTo"][0]["id"], fabrikam_pilot);

    // The journal: four changes (enable, add, remove, end), each an intent then done, each with its backup.
    let lines: Vec<Value> = journal_lines(&home)
        .into_iter()
        .filter(|e| e["operation"] == "staged-rollout")
        .collect();
    let done = lines.iter().filter(|e| e["phase"] == "done").count();
    let intents = lines.iter().filter(|e| e["phase"] == "intent").count();
    assert_eq!((intents, done), (4, 4), "{lines:#?}");
    assert!(lines.iter().all(|e| e["backup"].is_string()), "{lines:#?}");
    assert!(
        lines
            .iter()
            .filter(|e| e["phase"] == "done")
            .all(|e| e["request_id"].is_string())
    );
}

/// The 10-group limit, app-only refusal, and `resume` finishing an interrupted change.
#[tokio::test]
async fn ten_groups_at_most_and_resume_finishes_an_interrupted_change() {
    use entra_failover::ops::journal::{self, Entry};
    use entra_failover::ops::staged_rollout::{self, Change, Target};
    use entra_failover::ops::{Quiet, resume};

    let mut scenario = String::from(
        "[sync]\npassword_hash_sync = true\nengine = \"connect\"\nconnect_server = \"AADCONNECT01\"\ncycle_minutes = 2\n",
    );
    for k in 1..=11 {
        scenario.push_str(&format!(
            "[[group]]\ndisplay_name = \"Wave {k}\"\ndomain = \"contoso.com\"\nmembers = 2\n"
        ));
    }
    let t = super::clients::Tenant::start(Some(&scenario)).await;
    let s = t.session(t.admin());

    // An application cannot: staged rollout is for a signed-in administrator.
    let app = t.session(t.app());
    let p = staged_rollout::prepare(&app, &Change::Enable(vec!["Wave 1".into()]))
        .await
        .unwrap();
    assert!(
        p.plan
            .failed()
            .iter()
            .any(|c| c.detail.contains("delegated")),
        "{:?}",
        p.plan.checks
    );

    let ten: Vec<String> = (1..=10).map(|k| format!("Wave {k}")).collect();
    let p = staged_rollout::prepare(&s, &Change::Enable(ten))
        .await
        .unwrap();
    assert!(p.plan.failed().is_empty(), "{:?}", p.plan.checks);
    let r = staged_rollout::run(&s, p, &Quiet).await.unwrap();
    assert_eq!(r.view.groups.len(), 10);

    let p = staged_rollout::prepare(&s, &Change::Add(vec!["Wave 11".into()]))
        .await
        .unwrap();
    let failed = p.plan.failed();
    assert_eq!(failed.len(), 1, "{:?}", p.plan.checks);
    assert!(failed[0].detail.contains("at most 10"), "{:?}", failed[0]);
    let err = staged_rollout::run(&s, p, &Quiet).await.err().unwrap();
    assert!(err.to_string().starts_with("refused"), "{err}");
    assert_eq!(staged_rollout::show(&s).await.unwrap().groups.len(), 10);

    // Interrupted after its intent was journaled: resume takes the policy to the aim.
    let keep: Vec<String> = staged_rollout::show(&s).await.unwrap().groups[..3]
        .iter()
        .map(|g| g.id.clone())
        .collect();
    let mut intent = Entry::new(
        staged_rollout::OP,
        "-",
        "intent",
        "staged rollout on for 3 group(s)",
    );
    intent.target = Some(
        serde_json::to_value(Target {
            enabled: true,
            groups: keep.clone(),
        })
        .unwrap(),
    );
    journal::append(&s.home, &s.tenant, &intent).unwrap();
    let r = resume::run(&s, &Quiet).await.unwrap();
    assert_eq!(r.items.len(), 1, "{:?}", r.items);
    assert_eq!(r.items[0].outcome, "finished", "{:?}", r.items);
    let mut now: Vec<String> = staged_rollout::show(&s)
        .await
        .unwrap()
        .groups
        .iter()
        .map(|g| g.id.clone())
        .collect();
    now.sort();
    let mut want = keep;
    want.sort();
    assert_eq!(now, want);
    // Nothing left to finish.
    assert!(resume::run(&s, &Quiet).await.unwrap().items.is_empty());

    // A policy turned off elsewhere (the portal): removing a group is refused, not a deletion.
    let id = staged_rollout::show(&s)
        .await
        .unwrap()
        .policy
        .unwrap()
        .id
        .unwrap();
    s.graph
        .send(
            reqwest::Method::PATCH,
            &format!("/v1.0/policies/featureRolloutPolicies/{id}"),
            Some(&serde_json::json!({"isEnabled": false})),
        )
        .await
        .unwrap();
    let p = staged_rollout::prepare(&s, &Change::Remove(vec!["Wave 1".into()]))
        .await
        .unwrap();
    assert!(
        p.plan
            .failed()
            .iter()
            .any(|c| c.detail.starts_with("it is off")),
        "{:?}",
        p.plan.checks
    );
    assert!(
        !p.plan
            .steps
            .iter()
            .any(|st| st.method == "DELETE" && !st.path.contains("appliesTo"))
    );
    assert!(staged_rollout::run(&s, p, &Quiet).await.is_err());
    let v = staged_rollout::show(&s).await.unwrap();
    assert!(
        v.policy.is_some() && !v.enabled && v.groups.len() == 3,
        "the policy is left as it was"
    );
}
