//! The runbook through the real binary, as an administrator scripts it.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub struct Home {
    pub dir: tempfile::TempDir,
}

impl Home {
    pub fn new() -> Home {
        Home {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with(args, None)
    }

    pub fn run_with(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
            .args(args)
            .env("ENTRA_FAILOVER_HOME", self.path())
            .env_remove("ENTRA_FAILOVER_PROFILE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        } else {
            drop(child.stdin.take());
        }
        child.wait_with_output().unwrap()
    }

    /// Runs a command that must succeed with `--json`, and parses its output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "{args:?} failed ({:?}):\n{}\n{}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}\n{}", text(&out.stdout)))
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn domain<'a>(status: &'a Value, id: &str) -> &'a Value {
    status["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap()
}

#[test]
fn the_whole_runbook_on_the_rehearsal_tenant() {
    let home = Home::new();
    let info = home.json(&["rehearse", "info"]);
    let password = info["user_password"].as_str().unwrap().to_string();
    // Its loopback addresses die with the command that printed them, and it says so; farms are
    // named by the URLs that commands take.
    assert!(
        info["addresses"]
            .as_str()
            .unwrap()
            .contains("only while this command runs"),
        "{info}"
    );
    assert_eq!(
        info["farm_urls"]["sts.contoso.com"],
        "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml"
    );
    let users: Vec<String> = info["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_string())
        .collect();
    let eu_user = users
        .iter()
        .find(|u| u.ends_with("@eu.contoso.com"))
        .unwrap()
        .clone();

    // status
    let st = home.json(&["status"]);
    assert_eq!(st["simulated"], true);
    assert_eq!(st["password_hash_sync"], false);
    assert_eq!(
        domain(&st, "contoso.com")["authentication_type"],
        "Federated"
    );
    assert_eq!(st["farms"][0]["healthy"], true);

    // A failover before password hash sync is refused (exit 3), and changes nothing.
    let out = home.run(&["failover", "--domain", "contoso.com", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("password hash sync"));

    // enable-phs → the script on the Connect server (simulated) → sync cycle
    let r = home.json(&["enable-phs", "--yes"]);
    assert_eq!(r["result"]["changed"], true);
    home.json(&["rehearse", "connect-script"]);
    home.json(&["rehearse", "sync"]);

    // The farm goes down; fail contoso.com and fabrikam.com over.
    home.json(&["rehearse", "farm", "sts.contoso.com", "down"]);
    let st = home.json(&["status"]);
    assert_eq!(st["farms"][0]["healthy"], false);
    let out = home.run(&["failover", "--domain", "eu.contoso.com", "--yes"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "a subdomain alone is refused: {}",
        text(&out.stdout)
    );
    assert!(text(&out.stdout).contains("subdomain"));
    let dry = home.json(&[
        "failover",
        "--domain",
        "contoso.com",
        "--domain",
        "fabrikam.com",
        "--dry-run",
    ]);
    assert_eq!(dry["steps"].as_array().unwrap().len(), 6);
    // A down farm is why one fails over: information, not a passed check.
    let farm = dry["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "AD FS sts.contoso.com")
        .unwrap();
    assert_eq!(farm["outcome"], "info", "{farm}");
    assert!(
        farm["detail"].as_str().unwrap().starts_with("down: "),
        "{farm}"
    );
    let r = home.json(&[
        "failover",
        "--domain",
        "contoso.com",
        "--domain",
        "fabrikam.com",
        "--yes",
        "--wait",
    ]);
    let results = r["result"]["domains"].as_array().unwrap();
    assert!(results.iter().all(|d| d["outcome"] == "converted"), "{r}");
    // The run's change record: written beside the journal, named in the result.
    let run_report = std::fs::read_to_string(r["report"].as_str().unwrap()).unwrap();
    assert!(
        run_report.starts_with("# entra-failover change report"),
        "{run_report}"
    );
    for d in ["contoso.com", "fabrikam.com"] {
        assert!(
            run_report.contains(&format!("| failover | {d} | done |")),
            "{run_report}"
        );
        assert!(run_report.contains(&format!("## {d}")), "{run_report}");
    }
    assert!(
        !run_report.contains("enable-phs"),
        "only this run's changes: {run_report}"
    );
    // With the checks the run made before it changed anything.
    assert!(run_report.contains("## Checks"), "{run_report}");
    assert!(run_report.contains("pre-flight failover"), "{run_report}");
    assert!(run_report.contains("[info] AD FS"), "{run_report}");
    let st = home.json(&["status"]);
    for d in ["contoso.com", "eu.contoso.com", "fabrikam.com"] {
        assert_eq!(domain(&st, d)["authentication_type"], "Managed", "{d}");
    }
    // Running it again changes nothing.
    let again = home.json(&["failover", "--domain", "contoso.com", "--yes"]);
    assert!(again["plan"]["steps"].as_array().unwrap().is_empty());

    // A managed user (of the subdomain that followed its root) signs in.
    let r = home.run_with(
        &[
            "test-signin",
            "--upn",
            &eu_user,
            "--password-stdin",
            "--json",
        ],
        Some(&format!("{password}\n")),
    );
    assert!(r.status.success(), "{}", text(&r.stdout));
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["realm"], "Managed");
    assert_eq!(v["password_test"]["ok"], true);

    // The farm comes back; switch contoso.com back from its backup.
    home.json(&["rehearse", "farm", "sts.contoso.com", "up"]);
    let backups = home.json(&["backups"]);
    assert_eq!(backups.as_array().unwrap().len(), 2);
    // Both domains at once, side by side, each from its own newest backup.
    let r = home.json(&[
        "switch-back",
        "--domain",
        "contoso.com",
        "--domain",
        "fabrikam.com",
        "--from-backup",
        "latest",
        "--yes",
        "--wait",
    ]);
    let results = r["result"].as_array().unwrap();
    assert_eq!(results.len(), 2, "{r}");
    assert_eq!(results[0]["domain"], "contoso.com");
    assert_eq!(results[0]["outcome"], "federated");
    assert_eq!(
        results[0]["issuer_uri"],
        "http://sts.contoso.com/adfs/services/trust"
    );
    assert_eq!(results[1]["outcome"], "federated");
    assert_eq!(
        results[1]["issuer_uri"], "http://fabrikam.com/adfs/services/trust/",
        "the per-domain issuer, byte for byte"
    );
    assert_eq!(r["plans"].as_array().unwrap().len(), 2);
    let st = home.json(&["status"]);
    for d in ["contoso.com", "eu.contoso.com", "fabrikam.com"] {
        assert_eq!(domain(&st, d)["authentication_type"], "Federated", "{d}");
    }
    // A backup file belongs to one domain.
    let out = home.run(&[
        "switch-back",
        "--domain",
        "contoso.com",
        "--domain",
        "fabrikam.com",
        "--from-backup",
        "/nowhere.json",
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));

    // verify passes.
    let v = home.json(&["verify", "--domain", "contoso.com"]);
    assert_eq!(v["passed"], true, "{v}");

    // The farm rolls its certificate: verify fails and names the mismatch.
    home.json(&["rehearse", "farm", "sts.contoso.com", "rollover"]);
    home.json(&["rehearse", "farm", "sts.contoso.com", "promote"]);
    let out = home.run(&["verify", "--domain", "contoso.com"]);
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(
        report.contains("[FAIL] signing certificate: mismatch"),
        "{report}"
    );

    // reset-trust, with the AD FS script; then verify passes.
    let script = home.path().join("reset-trust.ps1");
    let r = home.json(&[
        "reset-trust",
        "--domain",
        "contoso.com",
        "--metadata-url",
        "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml",
        "--adfs-script",
        script.to_str().unwrap(),
        "--yes",
    ]);
    assert_eq!(r["result"]["changed"], true);
    let ps = std::fs::read_to_string(&script).unwrap();
    assert!(ps.contains("Microsoft Office 365 Identity Platform") && ps.contains("fabrikam\\.com"));
    // The trust is updated in place, never removed: its access control policy, authorization and
    // additional authentication rules are backed up and compared, never set; the farm's own rules
    // are carried over; with no trust, one is made from the metadata file beside the script, whose
    // SHA-256 the script checks before anything else.
    assert!(!ps.contains("Remove-AdfsRelyingPartyTrust"), "{ps}");
    assert!(
        ps.contains("Update-AdfsRelyingPartyTrust -TargetName $name -MetadataFile $MetadataFile")
    );
    assert!(ps.contains("Add-AdfsRelyingPartyTrust -Name $name -MetadataFile $MetadataFile"));
    assert!(!ps.contains("-MetadataUrl $") && !ps.contains("-AccessControlPolicyName"));
    assert!(ps.contains("$carryCustomRules = $true"));
    let meta_path = script.with_file_name("microsoft-365-federation-metadata.xml");
    assert_eq!(r["result"]["metadata_file"], meta_path.to_str().unwrap());
    let meta = std::fs::read(&meta_path).unwrap();
    let sha: String = ring::digest::digest(&ring::digest::SHA256, &meta)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r["result"]["metadata_sha256"], sha.as_str());
    assert!(ps.contains(&format!("$expectedSha256 = '{}'", sha.to_ascii_uppercase())));
    assert!(
        ps.find("Get-FileHash -LiteralPath $MetadataFile").unwrap()
            < ps.find("Update-AdfsRelyingPartyTrust -TargetName").unwrap()
    );
    let meta = String::from_utf8(meta).unwrap();
    assert_eq!(
        entra_failover::adfs::metadata::entity_id(&meta).unwrap(),
        "urn:federation:MicrosoftOnline"
    );
    // The plan says what is kept, what changes and what is carried over; --replace-claim-rules
    // drops the farm's own rules, and says so.
    let plan = text(
        &home
            .run(&[
                "reset-trust",
                "--domain",
                "contoso.com",
                "--metadata-url",
                "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml",
                "--adfs-script",
                script.to_str().unwrap(),
                "--replace-claim-rules",
                "--dry-run",
            ])
            .stdout,
    );
    for line in [
        "AD FS trust: kept: the relying party trust itself (never removed), its access control policy",
        "AD FS trust: carried over: nothing: --replace-claim-rules",
        "AD FS farm backup: if the farm misbehaves",
    ] {
        assert!(plan.contains(line), "{line}\n{plan}");
    }
    let v = home.json(&["verify", "--domain", "contoso.com"]);
    assert_eq!(v["passed"], true, "{v}");

    // The journal has every change, each intent followed by done.
    let history = home.json(&["history"]);
    let entries = history.as_array().unwrap();
    let intents = entries.iter().filter(|e| e["phase"] == "intent").count();
    let dones = entries.iter().filter(|e| e["phase"] == "done").count();
    assert_eq!(intents, dones);
    assert_eq!(intents, 1 + 2 + 2 + 1);

    // The report names every change the journal has, in its order, with its outcome, backup and
    // Graph request-id, and each domain's settings before and now.
    let report = home.json(&["report", "--format", "json"]);
    let changes = report["changes"].as_array().unwrap();
    let journaled: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e["phase"] == "intent")
        .map(|e| (e["operation"].to_string(), e["domain"].to_string()))
        .collect();
    let reported: Vec<(String, String)> = changes
        .iter()
        .map(|c| (c["operation"].to_string(), c["domain"].to_string()))
        .collect();
    assert_eq!(reported, journaled);
    for c in changes {
        assert_eq!(c["outcome"], "done", "{c}");
        assert!(
            c["request_id"].as_str().is_some_and(|r| r.len() == 36),
            "{c}"
        );
    }
    let contoso = report["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == "contoso.com")
        .unwrap();
    assert_eq!(contoso["now_authentication_type"], "Federated");
    assert_eq!(
        contoso["before"]["issuerUri"],
        "http://sts.contoso.com/adfs/services/trust"
    );
    let md = text(&home.run(&["report"]).stdout);
    assert!(md.contains("| Domain | File | SHA-256 |"), "{md}");
    // The checks and verifications made along the way: each verify, with its outcome in order
    // (passed, then the certificate mismatch, then passed after reset-trust), and the sign-in test.
    let checks = report["checks"].as_array().unwrap();
    let verifies: Vec<bool> = checks
        .iter()
        .filter(|c| c["kind"] == "verify" && c["subject"] == "contoso.com")
        .map(|c| c["passed"].as_bool().unwrap())
        .collect();
    assert_eq!(verifies, [true, false, true], "{checks:#?}");
    assert!(
        checks
            .iter()
            .any(|c| c["kind"] == "test-signin" && c["passed"] == true),
        "{checks:#?}"
    );
    assert!(md.contains("verify contoso.com: FAILED"), "{md}");
    assert!(md.contains("[FAIL] signing certificate: mismatch"), "{md}");
    let none = home.json(&[
        "report",
        "--format",
        "json",
        "--since",
        "2999-01-01T00:00:00Z",
    ]);
    assert!(none["changes"].as_array().unwrap().is_empty());
    let out = home.run(&["report", "--since", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn exit_codes_and_bad_input() {
    let home = Home::new();
    let out = home.run(&["failover", "--domain", "nowhere.example", "--yes"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nowhere.example"));
    let out = home.run(&["status", "--profile", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no profile named \"prod\""));
    std::fs::write(home.path().join("config.toml"), "[profiles.prod\n").unwrap();
    let out = home.run(&["status", "--profile", "prod"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("config.toml"));
    std::fs::remove_file(home.path().join("config.toml")).unwrap();
    let out = home.run(&["test-signin", "--upn", "not-a-upn", "--no-password"]);
    assert_eq!(out.status.code(), Some(2));
    // Without a terminal and without --yes nothing changes.
    home.json(&["enable-phs", "--dry-run"]);
    let out = home.run(&["enable-phs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--yes"));
    assert_eq!(home.json(&["status"])["password_hash_sync"], false);
    // A tampered backup is refused.
    let bad = home.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": \"entra-failover/backup/1\"").unwrap();
    let out = home.run(&[
        "switch-back",
        "--domain",
        "northwind.com",
        "--from-backup",
        bad.to_str().unwrap(),
        "--yes",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = home.run(&["adfs", "inspect", "--metadata-file", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn adfs_inspect_reads_a_real_farms_metadata() {
    let home = Home::new();
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/adfs-federation-metadata/sts.ucar.edu.FederationMetadata.xml"
    );
    let v = home.json(&["adfs", "inspect", "--metadata-file", file]);
    assert_eq!(v["entity_id"], "https://sts.ucar.edu/adfs/services/trust");
    assert_eq!(
        v["signing_certificates"][0]["sha1_thumbprint"],
        "2CA67C00EBD5D4E5000AC5A814C829222FB776B6"
    );
    let v = home.json(&[
        "adfs",
        "inspect",
        "--metadata-url",
        "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml",
    ]);
    assert_eq!(v["entity_id"], "http://sts.contoso.com/adfs/services/trust");

    // A 60 KB document 20,000 elements deep, its depth hidden behind a processing instruction:
    // refused as bad input (exit 2), with the reason; never a crash (exit 134).
    let deep = home.path().join("deep.xml");
    std::fs::write(
        &deep,
        format!(
            "<?x a> <!-- ?>{}{}",
            "<a>".repeat(20_000),
            "</a>".repeat(20_000)
        ),
    )
    .unwrap();
    let out = home.run(&["adfs", "inspect", "--metadata-file", deep.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("more than 128 deep"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn profiles_and_rehearsal_controls() {
    let home = Home::new();
    std::fs::write(
        home.path().join("config.toml"),
        "[profiles.contoso]\ntenant = \"contoso.onmicrosoft.com\"\nauth = \"client-secret\"\nclient_id = \"x\"\nclient_secret_env = \"CONTOSO_SECRET\"\n",
    )
    .unwrap();
    let p = home.json(&["profiles"]);
    assert_eq!(p["rehearsal"]["simulated"], true);
    assert_eq!(p["contoso"]["auth"], "client-secret");
    assert!(
        p["contoso"].get("client_secret").is_none(),
        "no secret in the file, so none in the output"
    );
    // The secret's variable is empty: named, exit 2.
    let out = home.run(&["status", "--profile", "contoso"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("CONTOSO_SECRET"),
        "{}",
        text(&out.stderr)
    );

    // The clock moves on; a sync cycle follows by itself; reset starts over.
    home.json(&["enable-phs", "--yes"]);
    home.json(&["rehearse", "connect-script"]);
    let before = home.json(&["status"]);
    assert!(before["last_password_sync"].is_null());
    let c = home.json(&["rehearse", "clock", "advance", "5m"]);
    assert!(c["now"].is_string());
    let after = home.json(&["status"]);
    assert!(after["last_password_sync"].is_string(), "{after}");
    let out = home.run(&["rehearse", "clock", "rewind", "5m"]);
    assert_eq!(out.status.code(), Some(2));
    let out = home.run(&["rehearse", "farm", "sts.nowhere.example", "down"]);
    assert_ne!(out.status.code(), Some(0));
    let out = home.run(&["rehearse", "reset"]);
    assert!(out.status.success());
    assert_eq!(home.json(&["status"])["password_hash_sync"], false);
}

#[test]
fn a_second_instance_is_refused_naming_the_holder() {
    let home = Home::new();
    let info = home.json(&["rehearse", "info"]);
    let tenant = info["tenant_id"].as_str().unwrap();
    home.json(&["enable-phs", "--dry-run"]);
    let held = entra_failover::ops::lock::acquire(home.path(), tenant).unwrap();
    let out = home.run(&["enable-phs", "--yes"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(&format!("PID {}", std::process::id())),
        "{}",
        text(&out.stderr)
    );
    drop(held);
    home.json(&["enable-phs", "--yes"]);
}

/// Every file under a folder, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn secrets_never_reach_files_logs_or_output() {
    const SECRET: &str = "CANARY-S3CRET-7f3a9c2e";
    const PASSWORD: &str = "CANARY-PASSW0RD-91b24d";
    // The tenant keeps its state apart from the tool's home: a tenant holds its own secrets, as Entra does.
    let tenant_dir = tempfile::tempdir().unwrap();
    let scenario = tenant_dir.path().join("canary.toml");
    std::fs::write(
        &scenario,
        format!(
            "[app]\ndisplay_name = \"canary app\"\nclient_id = \"5e0c1f7a-3b9d-4c2e-8a6f-1d2b3c4d5e6f\"\nclient_secret = \"{SECRET}\"\nroles = [\"Domain-InternalFederation.ReadWrite.All\", \"Domain.Read.All\", \"Organization.Read.All\", \"OnPremDirectorySynchronization.ReadWrite.All\", \"User.Read.All\"]\n[sync]\nuser_password = \"{PASSWORD}\"\n"
        ),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut cfg = entra_failover::emulator::Config::new(tenant_dir.path().join("state"));
    cfg.scenario = Some(scenario);
    let emu = rt
        .block_on(entra_failover::emulator::Emulator::start(cfg))
        .unwrap();
    let info = emu.info().clone();
    assert_eq!(info.client_secret, SECRET);
    let http = entra_failover::ops::session::http_client(Some(&info.ca_file)).unwrap();
    let control = |path: &str, body: Value| {
        let r = rt
            .block_on(async {
                http.post(format!("{}{path}", info.control_url))
                    .bearer_auth(&info.control_token)
                    .json(&body)
                    .send()
                    .await
            })
            .unwrap();
        assert!(r.status().is_success(), "{path}");
    };

    let home = Home::new();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[profiles.canary]\ntenant = \"{}\"\nauth = \"client-secret\"\nclient_id = \"{}\"\nclient_secret_env = \"CANARY_SECRET\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\nca_file = '{}'\n",
            info.tenant_id,
            info.client_id,
            info.graph_url,
            info.login_url,
            info.ca_file.display()
        ),
    )
    .unwrap();
    let user = emu
        .tenant()
        .users
        .iter()
        .find(|u| u.upn.ends_with("@contoso.com"))
        .unwrap()
        .upn
        .clone();
    let mut outputs = String::new();
    let mut run = |args: &[&str], stdin: Option<&str>, ok: bool| {
        let mut all = args.to_vec();
        all.extend(["--profile", "canary"]);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_entra-failover"));
        cmd.args(&all)
            .env("ENTRA_FAILOVER_HOME", home.path())
            .env("CANARY_SECRET", SECRET)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        {
            use std::io::Write;
            let mut input = child.stdin.take().unwrap();
            if let Some(t) = stdin {
                input.write_all(t.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.success(),
            ok,
            "{all:?}: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        outputs.push_str(&text(&out.stdout));
        outputs.push_str(&text(&out.stderr));
    };
    run(&["status", "--json"], None, true);
    run(&["enable-phs", "--yes"], None, true);
    control("/connect/script", serde_json::json!({}));
    control("/sync", serde_json::json!({}));
    control(
        "/adfs/sts.contoso.com",
        serde_json::json!({"state": "down"}),
    );
    run(
        &[
            "failover",
            "--domain",
            "contoso.com",
            "--domain",
            "fabrikam.com",
            "--yes",
        ],
        None,
        true,
    );
    run(
        &["test-signin", "--upn", &user, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
        true,
    );
    run(
        &["test-signin", "--upn", &user, "--password-stdin", "--json"],
        Some("not-the-password\n"),
        false,
    );
    control("/adfs/sts.contoso.com", serde_json::json!({"state": "up"}));
    run(
        &[
            "switch-back",
            "--domain",
            "contoso.com",
            "--from-backup",
            "latest",
            "--yes",
            "--force",
        ],
        None,
        true,
    );
    // A real profile reaches farms through DNS, and sts.contoso.com resolves nowhere here: switch-back goes
    // on with --force and verify fails on DNS (its report is searched for the canaries all the same).
    run(&["verify", "--domain", "contoso.com"], None, false);
    // A federated user's password goes to the farm only (unreachable here): never to output or files.
    run(
        &["test-signin", "--upn", &user, "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
        false,
    );
    run(&["history", "--json"], None, true);
    run(&["report"], None, true);
    run(&["report", "--format", "json"], None, true);
    run(&["backups"], None, true);
    // A wrong secret: the error must not echo it either.
    let out = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["status", "--profile", "canary"])
        .env("ENTRA_FAILOVER_HOME", home.path())
        .env("CANARY_SECRET", "CANARY-WRONG-SECRET-0000")
        .output()
        .unwrap();
    assert!(!out.status.success());
    outputs.push_str(&text(&out.stderr));
    assert!(!text(&out.stderr).contains("CANARY-WRONG-SECRET-0000"));

    for canary in [SECRET, PASSWORD] {
        assert!(!outputs.contains(canary), "{canary} reached stdout/stderr");
        for f in files(home.path()) {
            let bytes = std::fs::read(&f).unwrap();
            assert!(
                !String::from_utf8_lossy(&bytes).contains(canary),
                "{canary} reached {}",
                f.display()
            );
        }
    }
    // The canaries were really used: the app signed in with the secret, the user with the password.
    assert!(outputs.contains("Password test: OK"), "{outputs}");
    assert!(
        outputs.contains("sts.contoso.com cannot be reached"),
        "{outputs}"
    );
    assert!(
        files(home.path())
            .iter()
            .any(|f| f.to_string_lossy().contains("backups"))
    );
    emu.stop();
}

#[test]
fn tls_is_always_verified_and_plain_http_refused() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tenant_dir = tempfile::tempdir().unwrap();
    let emu = rt
        .block_on(entra_failover::emulator::Emulator::start(
            entra_failover::emulator::Config::new(tenant_dir.path()),
        ))
        .unwrap();
    let info = emu.info().clone();
    let home = Home::new();
    // No ca_file: the rehearsal CA is not trusted, and the error says why.
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[profiles.noca]\ntenant = \"{}\"\nauth = \"client-secret\"\nclient_id = \"{}\"\nclient_secret_env = \"S\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\n",
            info.tenant_id, info.client_id, info.graph_url, info.login_url
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["status", "--profile", "noca"])
        .env("ENTRA_FAILOVER_HOME", home.path())
        .env("S", &info.client_secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    // One line, the cause first, and what to do about it.
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "entra-failover: sign-in failed: certificate not trusted (invalid peer certificate: UnknownIssuer)"
        ),
        "{err}"
    );
    assert!(err.contains("ca_file"), "{err}");
    assert!(!err.contains(&info.client_secret));
    // A plain-http profile makes the config refused, naming why.
    std::fs::write(
        home.path().join("config.toml"),
        "[profiles.plain]\ntenant = \"t\"\nauth = \"azure-cli\"\ngraph_url = \"http://graph.example.com\"\n",
    )
    .unwrap();
    let out = home.run(&["profiles"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("only https"),
        "{}",
        text(&out.stderr)
    );
    emu.stop();
}

/// The wizard keeps the rehearsal tenant running; a command run meanwhile joins it instead of
/// starting a second copy over the same folder (which would diverge from the first).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_joins_the_running_rehearsal_tenant() {
    use entra_failover::ops::Session;
    let home = std::sync::Arc::new(Home::new());
    let s = Session::rehearsal(home.path()).await.unwrap();
    let own = s
        .rehearsal
        .as_ref()
        .unwrap()
        .emulator()
        .expect("this process serves it");
    let cli = |args: &'static [&'static str]| {
        let home = home.clone();
        tokio::task::spawn_blocking(move || home.run(args))
    };
    // Another process changes the tenant: the change is made in this process's tenant.
    let out = cli(&["enable-phs", "--yes", "--json"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(own.tenant().sync.features.password_sync_enabled, Some(true));
    assert!(
        own.requests()
            .iter()
            .any(|e| e.method == "PATCH" && e.path.contains("onPremisesSynchronization")),
        "the other process's PATCH reached this tenant"
    );
    // Starting the tenant afresh meanwhile is refused, naming the process that serves it.
    let out = cli(&["rehearse", "reset"]).await.unwrap();
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("served by another process") && err.contains(&std::process::id().to_string()),
        "{err}"
    );
    // A second session in this process joins too.
    let joined = Session::rehearsal(home.path()).await.unwrap();
    assert!(joined.rehearsal.as_ref().unwrap().emulator().is_none());
    drop(joined);
    // Once this process lets go, the next command serves the tenant itself, as saved (nobody joins
    // a tenant this process no longer serves: its address is gone).
    drop(s);
    assert!(!home.path().join("rehearsal/emulator.json").exists());
    let out = cli(&["status", "--json"]).await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["password_hash_sync"], true);
}

#[test]
fn version_names_the_commit_and_completions_and_man_come_from_the_command_line() {
    let home = Home::new();
    let out = home.run(&["--version"]);
    assert!(out.status.success());
    let version = text(&out.stdout);
    assert!(
        version.starts_with(&format!(
            "entra-failover {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );
    // Built from a checkout (as here and in CI): the commit is the checkout's.
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Ok(h) = head
        && h.status.success()
    {
        let head = text(&h.stdout);
        assert!(
            version.contains(&format!("(commit {})", head.trim())),
            "{version} vs {head}"
        );
    }
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = home.run(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = text(&out.stdout);
        for word in ["enable-phs", "failover", "switch-back", "from-backup"] {
            assert!(script.contains(word), "{shell} completions lack {word}");
        }
    }
    // The bash completions are a script bash reads without complaint.
    #[cfg(unix)]
    {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("entra-failover.bash");
        std::fs::write(&file, home.run(&["completions", "bash"]).stdout).unwrap();
        let checked = Command::new("bash").arg("-n").arg(&file).output().unwrap();
        assert!(checked.status.success(), "{}", text(&checked.stderr));
    }
    let out = home.run(&["completions", "tcsh"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
    let man = text(&home.run(&["man"]).stdout);
    assert!(
        man.contains(".TH entra-failover"),
        "{}",
        &man[..man.len().min(300)]
    );
    for word in ["enable\\-phs", "failover", "rehearse"] {
        assert!(man.contains(word), "the man page lacks {word}");
    }
}

/// The GitHub workflows parse, test on every platform, and release every target (checked on Linux,
/// where `.ci/run` installs the YAML parser).
#[cfg(target_os = "linux")]
#[test]
fn the_workflows_parse_and_name_every_target() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/.github/workflows");
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps({f: yaml.safe_load(open(f)) for f in sys.argv[1:]}, default=str))",
            &format!("{dir}/ci.yml"),
            &format!("{dir}/release.yml"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ci = &v[format!("{dir}/ci.yml")];
    let release = &v[format!("{dir}/release.yml")];
    assert!(ci["jobs"]["linux"].to_string().contains("bash .ci/run"));
    let oses = ci["jobs"]["test"]["strategy"]["matrix"]["os"].to_string();
    assert!(oses.contains("windows") && oses.contains("macos"), "{oses}");
    // The generated scripts meet both PowerShells on Windows, and a missing one fails the tests.
    let scripts = ci["jobs"]["windows-scripts"].to_string();
    for needed in [
        "\"shell\":\"powershell\"",
        "\"shell\":\"pwsh\"",
        "scripts.ps1 -Exe",
    ] {
        assert!(scripts.contains(needed), "{needed}: {scripts}");
    }
    assert!(
        ci["jobs"]["test"]
            .to_string()
            .contains("ENTRA_FAILOVER_REQUIRE_POWERSHELL")
    );
    assert!(
        std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/windows/scripts.ps1"
        ))
        .is_file()
    );
    let targets: std::collections::BTreeSet<String> =
        release["jobs"]["build"]["strategy"]["matrix"]["include"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["target"].as_str().unwrap().to_string())
            .collect();
    let want = [
        "aarch64-apple-darwin",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "x86_64-pc-windows-gnu",
        "x86_64-unknown-linux-musl",
    ];
    assert_eq!(targets, want.iter().map(|s| s.to_string()).collect());
    let steps = release["jobs"].to_string();
    for needed in [
        "README.md LICENSE",
        "sha256sum",
        "SHA256SUMS",
        "gh release create",
        "completions",
        " man ",
    ] {
        assert!(steps.contains(needed), "the release lacks {needed}");
    }
    assert!(
        release.to_string().contains("v*"),
        "released on a version tag"
    );
}

/// The README's promise: folders 0700, files 0600 — the data folder itself included.
#[cfg(unix)]
#[test]
fn the_data_folder_and_everything_in_it_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let top = tempfile::tempdir().unwrap();
    let home = top.path().join("new").join("entra-failover");
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
            .args(args)
            .env("ENTRA_FAILOVER_HOME", &home)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    run(&["enable-phs", "--yes"]);
    run(&["rehearse", "connect-script"]);
    run(&["rehearse", "sync"]);
    run(&["failover", "--domain", "contoso.com", "--yes"]);
    let mut checked = 0;
    let mut stack = vec![top.path().join("new")];
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        if meta.is_dir() {
            assert_eq!(mode, 0o700, "{}: {mode:o}", p.display());
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert_eq!(mode & 0o077, 0, "{}: {mode:o}", p.display());
        }
        checked += 1;
    }
    assert!(checked > 10, "{checked}");
}

/// Ctrl-C mid-change: the command stops at once, says what that means (exit 130), and `resume`
/// finishes the change. The tenant holds the conversion so that the signal lands mid-change on any
/// machine.
#[cfg(unix)]
#[test]
fn ctrl_c_stops_a_change_and_says_how_to_finish_it() {
    let home = Home::new();
    home.json(&["enable-phs", "--yes"]);
    home.json(&["rehearse", "connect-script"]);
    home.json(&["rehearse", "sync"]);
    home.json(&["rehearse", "farm", "sts.contoso.com", "down"]);
    let tenant = crate::held::HeldTenant::serve(home.path());
    tenant.hold("PATCH", "/v1.0/domains/fabrikam.com", "hold");
    let child = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["failover", "--domain", "fabrikam.com", "--yes"])
        .env("ENTRA_FAILOVER_HOME", home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    tenant.wait_held("/v1.0/domains/fabrikam.com");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(
        err.contains("stopped by Ctrl-C") && err.contains("entra-failover resume"),
        "{err}"
    );
    // The journal has the change's intent and no outcome: status lists it, resume finishes it.
    tenant.stop();
    let st = home.json(&["status"]);
    assert_eq!(st["interrupted"].as_array().map(Vec::len), Some(1), "{st}");
    home.json(&["resume", "--yes"]);
    let st = home.json(&["status"]);
    assert_eq!(
        domain(&st, "fabrikam.com")["authentication_type"],
        "Managed"
    );
    assert_eq!(st["interrupted"].as_array().map(Vec::len), Some(0), "{st}");
}

/// A shared folder where someone planted a link at the output's name, or a world-writable file at
/// it: the command refuses the link with the reason and leaves what it points to alone; the output
/// is a 0600 file of its own.
#[cfg(unix)]
#[test]
fn a_planted_link_or_temp_file_redirects_no_output() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    home.json(&["status"]);
    let shared = tempfile::tempdir().unwrap();
    let victim = shared.path().join("victim.txt");
    std::fs::write(&victim, "untouched").unwrap();
    let link = shared.path().join("change-record.md");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let out = home.run(&["report", "--out", link.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!("{}: a symbolic link: refused", link.display())),
        "{said}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");

    let script = shared.path().join("enable phs.ps1");
    // A world-writable file already at the script's name: replaced by a 0600 file of its own (the
    // planted temporary names are in files.rs's own test, which knows its process id).
    std::fs::write(&script, "old").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o666)).unwrap();
    home.json(&[
        "enable-phs",
        "--yes",
        "--connect-script",
        script.to_str().unwrap(),
    ]);
    let m = std::fs::symlink_metadata(&script).unwrap();
    assert!(m.file_type().is_file());
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
}

/// A config.toml that others may change chooses where tokens go and which roots are trusted: it is
/// refused with the reason and the fix, as ssh refuses such a file.
#[cfg(unix)]
#[test]
fn a_config_others_may_change_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let home = Home::new();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "[profiles.contoso]\ntenant = \"contoso.onmicrosoft.com\"\nauth = \"azure-cli\"\ngraph_url = \"https://graph.example\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = home.run(&["profiles"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("others may change it (mode 666)"),
        "{}",
        text(&out.stderr)
    );
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(home.run(&["profiles"]).status.code(), Some(0));
}

/// A profile that names the tenant by its domain and one that names it by its id share one journal
/// (and lock and backups): a change journaled under one is seen, and would be resumed, under the
/// other; records an earlier version kept under the domain's name move to the id's once.
#[test]
fn a_tenant_named_by_domain_or_by_id_keeps_one_journal() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let tenant_dir = tempfile::tempdir().unwrap();
    let scenario = tenant_dir.path().join("phs.toml");
    std::fs::write(&scenario, "[sync]\npassword_hash_sync = true\n").unwrap();
    let mut cfg = entra_failover::emulator::Config::new(tenant_dir.path().join("state"));
    cfg.scenario = Some(scenario);
    let emu = rt
        .block_on(entra_failover::emulator::Emulator::start(cfg))
        .unwrap();
    let info = emu.info().clone();
    let home = Home::new();
    let profile = |name: &str, tenant: &str| {
        format!(
            "[profiles.{name}]\ntenant = \"{tenant}\"\nauth = \"client-secret\"\nclient_id = \"{}\"\nclient_secret_env = \"S\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\nca_file = '{}'\n",
            info.client_id,
            info.graph_url,
            info.login_url,
            info.ca_file.display()
        )
    };
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "{}{}",
            profile("byname", "contoso.onmicrosoft.com"),
            profile("byid", &info.tenant_id.to_ascii_uppercase())
        ),
    )
    .unwrap();
    // What an earlier version journaled under the domain's name.
    let old = home.path().join("journal/contoso.onmicrosoft.com.jsonl");
    std::fs::create_dir_all(old.parent().unwrap()).unwrap();
    std::fs::write(
        &old,
        "{\"time\":\"2026-01-01T00:00:00Z\",\"operation\":\"failover\",\"domain\":\"fabrikam.com\",\"phase\":\"done\",\"detail\":\"earlier\"}\n",
    )
    .unwrap();
    let run = |args: &[&str], profile: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
            .args(args)
            .args(["--profile", profile])
            .env("ENTRA_FAILOVER_HOME", home.path())
            .env("S", &info.client_secret)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        out
    };
    run(
        &[
            "failover",
            "--domain",
            "contoso.com",
            "--accept-unsynced",
            "--yes",
            "--json",
        ],
        "byname",
    );
    let history: Value =
        serde_json::from_slice(&run(&["history", "--json"], "byid").stdout).unwrap();
    let ops: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert!(ops.iter().skip(1).any(|o| *o == "failover"), "{ops:?}");
    assert_eq!(ops[0], "failover", "the earlier record, first: {ops:?}");
    assert!(!old.exists());
    assert!(
        home.path()
            .join(format!(
                "journal/{}.jsonl",
                info.tenant_id.to_ascii_lowercase()
            ))
            .exists()
    );
    drop(emu);
}
