//! Password hash sync for each sync engine, through the binary, against a rehearsal tenant served by
//! this test (the commands join it), so that its request log shows exactly what each engine's
//! `enable-phs` sent, and its state what changed.

use entra_failover::emulator::{Config, Emulator, LogEntry};
use serde_json::Value;

use crate::cli::{Home, text};

struct Served {
    home: Home,
    emu: Emulator,
    _rt: tokio::runtime::Runtime,
}

impl Served {
    fn start(scenario: Option<&str>) -> Served {
        let home = Home::new();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let mut cfg = Config::new(home.path().join("rehearsal"));
        if let Some(text) = scenario {
            let p = home.path().join("scenario.toml");
            std::fs::write(&p, text).unwrap();
            cfg.scenario = Some(p);
        }
        let emu = rt.block_on(Emulator::start(cfg)).unwrap();
        Served { home, emu, _rt: rt }
    }

    /// The Graph requests answered since `from` (an index into the log).
    fn graph_since(&self, from: usize) -> Vec<LogEntry> {
        self.emu.requests()[from..]
            .iter()
            .filter(|e| e.path.starts_with("/v1.0/") || e.path.starts_with("/beta/"))
            .cloned()
            .collect()
    }

    fn control(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let info = self.emu.info().clone();
        self._rt.block_on(async {
            let http = entra_failover::ops::session::http_client(Some(&info.ca_file)).unwrap();
            let mut r = http
                .request(method, format!("{}{path}", info.control_url))
                .bearer_auth(&info.control_token);
            if let Some(b) = body {
                r = r.json(&b);
            }
            let resp = r.send().await.unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            resp.json().await.unwrap_or(Value::Null)
        })
    }

    fn user_of(&self, domain: &str) -> String {
        self.emu
            .tenant()
            .users
            .iter()
            .find(|u| u.synced && u.upn.ends_with(&format!("@{domain}")))
            .unwrap()
            .upn
            .clone()
    }

    fn signs_in(&self, upn: &str) -> Value {
        let password = format!("{}\n", self.emu.info().user_password);
        let out = self.home.run_with(
            &["test-signin", "--upn", upn, "--password-stdin", "--json"],
            Some(&password),
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|_| panic!("{}\n{}", text(&out.stdout), text(&out.stderr)))
    }
}

/// A configuration's synchronization path, and its password hash and provisioning jobs.
fn config_jobs(
    c: &entra_failover::emulator::engines::CloudConfig,
) -> (
    String,
    &entra_failover::emulator::engines::JobRec,
    &entra_failover::emulator::engines::JobRec,
) {
    let job = |t: &str| c.jobs.iter().find(|j| j.template_id == t).unwrap();
    (
        format!(
            "/v1.0/servicePrincipals/{}/synchronization",
            c.service_principal_id
        ),
        job("AD2AADPasswordHash"),
        job("AD2AADProvisioning"),
    )
}

fn writes(log: &[LogEntry]) -> Vec<String> {
    log.iter()
        .filter(|e| e.method != "GET")
        .map(|e| format!("{} {} {}", e.method, e.path, e.status))
        .collect()
}

#[test]
fn connect_sync_gets_a_script_and_no_hash_flows_until_it_runs() {
    let t = Served::start(None);
    let info = t.emu.info().clone();
    let from = t.emu.requests().len();
    let r = t.home.json(&["enable-phs", "--yes"]);
    let log = t.graph_since(from);
    println!(
        "Connect Sync enable-phs: {} Graph requests, {} writes: {:?}",
        log.len(),
        writes(&log).len(),
        writes(&log)
    );
    let result = &r["result"];
    assert_eq!(result["changed"], true);
    assert_eq!(result["hashes_flowing"], false, "{r}");
    assert_eq!(result["connect_server"], "AADCONNECT01");
    // One change through Graph: the flag. Nothing else can turn Connect Sync's hashes on.
    assert_eq!(writes(&log).len(), 1, "{:?}", writes(&log));
    // The fewest: the sync settings, both engines' traces (directory roles, Cloud Sync's service
    // principals), the last password sync, the signed-in administrator's domain (could they sign
    // in again with the farm down?), the change and its read-back.
    assert_eq!(log.len(), 7, "{log:?}");
    assert!(writes(&log)[0].starts_with("PATCH /v1.0/directory/onPremisesSynchronization/"));
    let path = result["connect_script"].as_str().unwrap();
    let script = std::fs::read_to_string(path).unwrap();
    assert!(script.contains("Set-ADSyncAADPasswordSyncConfiguration"));
    assert!(script.contains("$ExpectedServer = 'AADCONNECT01'"));
    for secret in [
        &info.client_secret,
        &info.admin_password,
        &info.user_password,
    ] {
        assert!(
            !script.contains(secret.as_str()),
            "the script names no secret"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    // The flag alone: a cycle brings no hash; the pre-flight refuses, naming the server and the script.
    let sync = t.home.json(&["rehearse", "sync"]);
    assert_eq!(sync["users_with_password_hash"], 0, "{sync}");
    let upn = t.user_of("contoso.com");
    // Still federated, so the password is the farm's to check; Entra holds no hash of it yet.
    let signin = t.signs_in(&upn);
    assert_eq!(signin["realm"], "Federated", "{signin}");
    assert_eq!(signin["federated"]["verdict"], "signed_in", "{signin}");
    assert!(
        t.emu
            .tenant()
            .users
            .iter()
            .filter(|u| u.synced)
            .all(|u| !u.has_hash),
        "the flag alone sends no hash"
    );
    let out = t
        .home
        .run(&["failover", "--domain", "contoso.com", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let why = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(why.contains("AADCONNECT01") && why.contains(path), "{why}");
    let tenant = t.emu.tenant();
    let contoso = tenant.domain_index("contoso.com").unwrap();
    assert!(
        tenant.domains[contoso].federation.is_some(),
        "nothing changed"
    );

    // The script runs on the server (simulated) and a cycle follows: enable-phs --wait returns,
    // changes nothing more, and the failover goes ahead.
    let ran = t.home.json(&["rehearse", "connect-script"]);
    assert_eq!(
        (
            ran["password_sync_before"].clone(),
            ran["password_sync"].clone()
        ),
        (Value::Bool(false), Value::Bool(true))
    );
    t.home.json(&["rehearse", "sync"]);
    let from = t.emu.requests().len();
    let r = t.home.json(&["enable-phs", "--yes", "--wait"]);
    assert_eq!(r["result"]["changed"], false);
    assert_eq!(r["result"]["hashes_flowing"], true, "{r}");
    assert!(
        writes(&t.graph_since(from)).is_empty(),
        "a rerun changes nothing"
    );
    t.home
        .json(&["failover", "--domain", "contoso.com", "--yes"]);
    let tenant = t.emu.tenant();
    assert!(tenant.domains[contoso].federation.is_none());
    assert_eq!(t.signs_in(&upn)["password_test"]["ok"], true);
}

#[test]
fn cloud_sync_creates_and_starts_each_password_hash_job_once() {
    let t = Served::start(Some("[sync]\nengine = \"cloud\"\n"));
    let from = t.emu.requests().len();
    let r = t.home.json(&["enable-phs", "--yes"]);
    let log = t.graph_since(from);
    let w = writes(&log);
    println!(
        "Cloud Sync enable-phs ({} configurations): {} Graph requests, {} writes: {w:?}",
        t.emu.tenant().sync.engines.cloud.len(),
        log.len(),
        w.len()
    );
    assert_eq!(r["result"]["changed"], true);
    assert!(
        r["result"]["connect_script"].is_null(),
        "no Connect server, no script"
    );
    // The fewest: 7 reads before (who, settings, the two engines' traces, last password sync, the
    // administrator's domain) and
    // two per configuration (its jobs, its provisioning schema); the flag and its read-back; then
    // per configuration Microsoft's four writes (create the job, the secrets, the schema with the
    // mapping, start) and two read-backs (the schema, the job): 8 a configuration. A run that
    // followed its pre-flight after more than 10 s reads each configuration once more (2).
    let configs = t.emu.tenant().sync.engines.cloud.len();
    assert!(
        log.len() == 7 + configs * 8 || log.len() == 7 + configs * 10,
        "{}",
        log.len()
    );
    assert!(
        w[0].starts_with("PATCH /v1.0/directory/onPremisesSynchronization/"),
        "{w:?}"
    );
    let tenant = t.emu.tenant();
    for c in &tenant.sync.engines.cloud {
        let (sp, job, provisioning) = config_jobs(c);
        let mine: Vec<&String> = w.iter().filter(|l| l.contains(&sp)).collect();
        // Microsoft's order, each once: the job (created disabled, as Graph does), the secrets,
        // the schema with the mapping, then the start.
        assert_eq!(
            mine,
            vec![
                &format!("POST {sp}/jobs 201"),
                &format!("PUT {sp}/secrets 204"),
                &format!("PUT {sp}/jobs/{}/schema 204", provisioning.id),
                &format!("POST {sp}/jobs/{}/start 204", job.id),
            ]
        );
        assert!(job.runs());
        assert_eq!(c.app_key_scenario().as_deref(), Some("AD2AADPasswordHash"));
        assert!(
            c.secrets
                .iter()
                .flatten()
                .any(|(k, v)| k == "Domain" && v.contains(&c.display_name))
        );
        assert!(c.maps_password_hash() && c.sends_hashes());
        // Backed up before the change: the jobs, the schema before, the secrets sent.
        let backups = t.home.path().join("backups");
        let found: Vec<_> = walk(&backups)
            .into_iter()
            .filter(|p| p.to_string_lossy().contains(&c.service_principal_id))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "a backup of {}'s configuration",
            c.display_name
        );
        let b: Value = serde_json::from_slice(&std::fs::read(&found[0]).unwrap()).unwrap();
        assert_eq!(b["schema"]["id"], "AD2AADProvisioning", "{b}");
        assert!(
            !b["schema"].to_string().contains("CredentialData"),
            "the schema as it was"
        );
        assert!(b["secrets_sent"].to_string().contains("AD2AADPasswordHash"));
        assert!(
            b["secrets_before"]
                .as_str()
                .unwrap()
                .contains("not readable")
        );
    }
    let history = t.home.json(&["history"]);
    let cloud_done = history
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "cloud-sync-phs" && e["phase"] == "done")
        .count();
    assert_eq!(cloud_done, tenant.sync.engines.cloud.len());

    // Hashes arrive on the next cycle; a managed user signs in.
    let sync = t.home.json(&["rehearse", "sync"]);
    assert_eq!(
        sync["users_with_password_hash"], sync["synchronized_users"],
        "{sync}"
    );
    t.home
        .json(&["failover", "--domain", "contoso.com", "--yes"]);
    let upn = t.user_of("contoso.com");
    assert_eq!(t.signs_in(&upn)["password_test"]["ok"], true);

    // A rerun: no second job, no change.
    let from = t.emu.requests().len();
    let r = t.home.json(&["enable-phs", "--yes"]);
    assert_eq!(r["result"]["changed"], false);
    assert!(writes(&t.graph_since(from)).is_empty());
    for c in &t.emu.tenant().sync.engines.cloud {
        assert_eq!(
            c.jobs.len(),
            2,
            "{}: provisioning and password hash",
            c.display_name
        );
    }
}

/// Graph calls as an administrator makes them by hand (Graph Explorer, say): the session's client.
fn by_hand(t: &Served, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
    t._rt.block_on(async {
        let s = entra_failover::ops::session::Session::rehearsal(t.home.path())
            .await
            .unwrap();
        let r = s.graph.send(method, path, body.as_ref()).await.unwrap();
        r.body
    })
}

#[test]
fn a_cloud_sync_job_started_by_hand_sends_no_hash_until_the_secret_and_mapping_are_set() {
    let t = Served::start(Some("[sync]\nengine = \"cloud\"\n"));
    let tenant = t.emu.tenant();
    // By hand, as the job's own reference page suggests: the flag on, each configuration's password
    // hash job created and started; neither the AppKey secret nor the CredentialData mapping.
    let sync_id = tenant.sync.id.clone();
    by_hand(
        &t,
        reqwest::Method::PATCH,
        &format!("/v1.0/directory/onPremisesSynchronization/{sync_id}"),
        Some(serde_json::json!({"features": {"passwordSyncEnabled": true}})),
    );
    for c in &tenant.sync.engines.cloud {
        let jobs = format!(
            "/v1.0/servicePrincipals/{}/synchronization/jobs",
            c.service_principal_id
        );
        let job = by_hand(
            &t,
            reqwest::Method::POST,
            &jobs,
            Some(serde_json::json!({"templateId": "AD2AADPasswordHash"})),
        );
        by_hand(
            &t,
            reqwest::Method::POST,
            &format!("{jobs}/{}/start", job["id"].as_str().unwrap()),
            None,
        );
    }
    let sync = t.home.json(&["rehearse", "sync"]);
    assert_eq!(
        sync["users_with_password_hash"], 0,
        "no hash after a cycle: {sync}"
    );
    // Status names, per configuration, what is missing.
    let st = t.home.json(&["status"]);
    for c in st["sync_engines"]["cloud"].as_array().unwrap() {
        assert_eq!(c["credential_data_mapping"], false, "{c}");
        assert!(c["password_hash_job"]["schedule"] == "Active", "{c}");
    }
    let text_status = text(&t.home.run(&["status"]).stdout);
    assert!(text_status.contains("missing: the AppKey secret (not set by this tool; Graph cannot show it); the CredentialData mapping; restarting the job"), "{text_status}");
    // A user of a converted domain is told there is no hash yet.
    t.home.json(&[
        "failover",
        "--domain",
        "contoso.com",
        "--accept-unsynced",
        "--yes",
    ]);
    let upn = t.user_of("contoso.com");
    let r = t.signs_in(&upn);
    assert_eq!(r["password_test"]["ok"], false, "{r}");
    assert!(r.to_string().contains("50056"), "{r}");

    // enable-phs does what is missing, in Microsoft's order; the job ran, so it is restarted.
    let from = t.emu.requests().len();
    let r = t.home.json(&["enable-phs", "--yes"]);
    assert_eq!(r["result"]["changed"], true);
    let w = writes(&t.graph_since(from));
    let configs = t.emu.tenant().sync.engines.cloud.clone();
    for c in &configs {
        let (sp, job, provisioning) = config_jobs(c);
        let mine: Vec<&String> = w.iter().filter(|l| l.contains(&sp)).collect();
        assert_eq!(
            mine,
            vec![
                &format!("PUT {sp}/secrets 204"),
                &format!("PUT {sp}/jobs/{}/schema 204", provisioning.id),
                &format!("POST {sp}/jobs/{}/restart 204", job.id),
            ]
        );
        assert!(c.sends_hashes(), "{}", c.display_name);
    }
    let sync = t.home.json(&["rehearse", "sync"]);
    assert_eq!(
        sync["users_with_password_hash"], sync["synchronized_users"],
        "{sync}"
    );
    assert_eq!(t.signs_in(&upn)["password_test"]["ok"], true);
    let st = text(&t.home.run(&["status"]).stdout);
    assert!(!st.contains("missing:"), "{st}");

    // A second enable-phs writes nothing.
    let from = t.emu.requests().len();
    let r = t.home.json(&["enable-phs", "--yes"]);
    assert_eq!(r["result"]["changed"], false);
    assert!(writes(&t.graph_since(from)).is_empty());
}

#[test]
fn a_quarantined_job_is_refused_with_what_to_do() {
    let t = Served::start(Some(
        "[sync]\nengine = \"cloud\"\npassword_hash_sync = true\n",
    ));
    t.home.json(&["rehearse", "quarantine", "fabrikam.com"]);
    let st = t.home.json(&["status"]);
    assert_eq!(
        st["password_hashes_arriving"], true,
        "contoso's job still runs"
    );
    let from = t.emu.requests().len();
    let out = t.home.run(&["enable-phs", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        said.contains("fabrikam.com") && said.contains("quarantine"),
        "{said}"
    );
    assert!(said.contains("Restart sync"), "{said}");
    assert!(writes(&t.graph_since(from)).is_empty(), "nothing changed");
}

#[test]
fn a_missing_sync_permission_is_named_before_any_change() {
    // The app's delegated permissions may read synchronization jobs, not change them.
    let scenario = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/rehearsal-tenant.toml"
    ))
    .unwrap()
    .replace(
        "\"Synchronization.ReadWrite.All\"",
        "\"Synchronization.Read.All\"",
    )
    .replace("engine = \"connect\"", "engine = \"cloud\"");
    let t = Served::start(Some(&scenario));
    let from = t.emu.requests().len();
    let out = t.home.run(&["enable-phs", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("Synchronization.ReadWrite.All"), "{said}");
    assert!(
        writes(&t.graph_since(from)).is_empty(),
        "nothing changed, the flag neither"
    );
    assert_eq!(
        t.emu.tenant().sync.features.password_sync_enabled,
        Some(false)
    );
}

#[test]
fn an_interrupted_job_start_is_finished_by_resume() {
    let t = Served::start(Some("[sync]\nengine = \"cloud\"\n"));
    let sp = t.emu.tenant().sync.engines.cloud[0]
        .service_principal_id
        .clone();
    // The first configuration's start is held: enable-phs is killed while it waits for it.
    t.control(
        reqwest::Method::POST,
        "/faults",
        Some(serde_json::json!({"method": "POST", "path_prefix": format!("/v1.0/servicePrincipals/{sp}/synchronization/jobs/"), "kind": "hold", "count": 1})),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["enable-phs", "--yes"])
        .env("ENTRA_FAILOVER_HOME", t.home.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while t.control(reqwest::Method::GET, "/held", None) == serde_json::json!([]) {
        assert!(
            child.try_wait().unwrap().is_none(),
            "enable-phs ended before the start"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the start was never held"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The held start is never served (clearing the faults would let it go on): the job stays as created.
    let status = t.home.json(&["status"]);
    assert!(
        status["interrupted"].to_string().contains("cloud-sync-phs"),
        "{}",
        status["interrupted"]
    );
    let r = t.home.json(&["resume", "--yes"]);
    let items = r["items"].as_array().unwrap();
    let mine = items
        .iter()
        .find(|i| i["operation"] == "cloud-sync-phs")
        .unwrap();
    assert_eq!(mine["outcome"], "finished", "{mine}");
    let tenant = t.emu.tenant();
    let c = &tenant.sync.engines.cloud[0];
    let jobs: Vec<_> = c
        .jobs
        .iter()
        .filter(|j| j.template_id == "AD2AADPasswordHash")
        .collect();
    assert_eq!(jobs.len(), 1, "one job, not two");
    assert!(jobs[0].runs());
    assert!(
        t.home.json(&["status"])["interrupted"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
