//! The real binary in a real terminal (tmux): keys in, screen out, as an administrator uses it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

#[cfg(unix)]
#[path = "support/held.rs"]
mod held;

struct Tmux {
    session: String,
}

fn tmux_available() -> bool {
    // Windows has no tmux: its terminal is tested by hand (and the wizard's pages by snapshots).
    if cfg!(windows) {
        return false;
    }
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok && std::env::var_os("CI").is_some() {
        panic!("tmux is needed for the end-to-end wizard tests: .ci/run installs it");
    }
    ok
}

impl Tmux {
    fn start(home: &Path, name: &str) -> Tmux {
        let session = format!("ef-{name}-{}", std::process::id());
        let cmd = format!(
            "ENTRA_FAILOVER_HOME='{}' NO_COLOR=1 '{}'",
            home.display(),
            env!("CARGO_BIN_EXE_entra-failover")
        );
        let st = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                &session,
                "-x",
                "80",
                "-y",
                "24",
                &cmd,
            ])
            .status()
            .unwrap();
        assert!(st.success());
        Tmux { session }
    }

    /// Sends one key, then waits for the screen it leads to: the next key goes to the page that is
    /// really showing, however slowly the machine draws it.
    fn press(&self, key: &str, then: &str) -> String {
        self.send(key);
        self.wait_for(then)
    }

    fn send(&self, key: &str) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, key])
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn type_text(&self, text: &str) {
        let st = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", text])
            .status()
            .unwrap();
        assert!(st.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn wait_for(&self, text: &str) -> String {
        // Generous: only a real fault takes this long, not a busy machine.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("waited 60 s for {text:?}; the screen shows:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alive(&self) -> bool {
        Command::new("tmux")
            .args(["has-session", "-t", &self.session])
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .stderr(std::process::Stdio::null())
            .status();
    }
}

/// Runs the binary on `home` (it must succeed) and reads its output as JSON when it is JSON.
fn cli(home: &Path, args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(args)
        .env("ENTRA_FAILOVER_HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_default()
}

fn wizard_status(home: &Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["status", "--json"])
        .env("ENTRA_FAILOVER_HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn domain_type(st: &serde_json::Value, id: &str) -> String {
    st["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == id)
        .unwrap()["authentication_type"]
        .as_str()
        .unwrap()
        .to_string()
}

fn tenant_file(home: &Path) -> serde_json::Value {
    // The snapshot with its change log replayed, as the emulator would load it.
    let store = entra_failover::emulator::state::Store {
        dir: home.join("rehearsal"),
    };
    serde_json::to_value(store.load().unwrap().unwrap()).unwrap()
}

#[test]
fn failover_and_switch_back_in_the_wizard_then_status_agrees() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let t = Tmux::start(home.path(), "failover");
    let s = t.wait_for("Choose the tenant to configure");
    assert!(s.starts_with("REHEARSAL TENANT (simulated)"), "{s}");
    t.press("Enter", "Signed in as admin@contoso.onmicrosoft.com");
    // Customize synchronization options: password hash sync on.
    t.press("Enter", "Select a task:");
    t.press("2", "[ ] Password hash synchronization");
    t.press("Space", "[x] Password hash synchronization");
    t.press("Enter", "These are the exact changes");
    t.press("Enter", "Password hash synchronization: on");
    // The flag alone brings no hash: the Complete page watches, and names the Connect server's script.
    let s = t.wait_for("Password hashes: none yet");
    assert!(s.contains("Entra Connect Sync on AADCONNECT01"), "{s}");
    assert!(s.contains("Script for the Connect server:"), "{s}");
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("5", "A sync cycle ran");
    assert!(t.screen().contains("Password hashes: none yet"));
    // The script runs on the server (simulated), a cycle follows: hashes arrive, the page says so.
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("6", "Ran the script on the Connect server");
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("5", "Password hashes: arriving");
    // The farm goes down.
    t.press("Escape", "Select a task:");
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("1", "is down (simulated)");
    // Change user sign-in → password hash sync, single sign-on left ticked → Enable single
    // sign-on (the Connect server's script, as the runbook) → contoso.com.
    let s = t.press("3", "Select the sign-in method:");
    assert!(s.contains("[x] Enable single sign-on"), "{s}");
    let s = t.press("Enter", "Seamless single sign-on lets users");
    assert!(s.contains("enable-seamless-sso.ps1"), "{s}");
    assert!(
        s.contains("https://autologon.microsoftazuread-sso.com"),
        "{s}"
    );
    t.press("Enter", "Federated domains to convert");
    t.press("Space", "[x] contoso.com");
    t.press("Enter", "Type contoso.com to confirm");
    t.press("Enter", "type contoso.com to confirm");
    t.type_text("contoso.com");
    t.wait_for("> contoso.com");
    t.press("Enter", "Ready to configure. These are the exact changes");
    // Configuring shows progress; Complete names the run's change record.
    let s = t.press("Enter", "Change report:");
    assert!(
        s.contains("Configuration complete.") && s.contains("contoso.com: converted"),
        "{s}"
    );
    // Complete names the Seamless SSO script the pre-flight wrote; it is there, for contoso.com.
    assert!(s.contains("Enable single sign-on:"), "{s}");
    let scripts = std::fs::read_dir(home.path().join("scripts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let sso = std::fs::read_to_string(scripts.join("enable-seamless-sso.ps1")).unwrap();
    assert!(
        sso.contains("[string[]]$Forest = @('contoso.com')"),
        "{sso}"
    );
    // Test sign-in of a managed user.
    let tenant = tenant_file(home.path());
    let password = tenant["secrets"]["user_password"]
        .as_str()
        .unwrap()
        .to_string();
    // The rehearsal offers a synchronized user and says where its password is.
    let upn = tenant["users"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["synced"] == true)
        .map(|u| u["upn"].as_str().unwrap())
        .filter(|u| u.ends_with("@contoso.com"))
        .min()
        .unwrap()
        .to_string();
    // Who signs in now: the sign-in log, refreshed; the morning after fills it.
    t.press("Enter", "Sign-ins of contoso.com in the last 15 minutes");
    t.wait_for("0 sign-ins: 0 succeeded, 0 failed.");
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("8", "40 users of contoso.com signed in (simulated)");
    let s = t.wait_for("40 sign-ins: 30 succeeded, 10 failed.");
    assert!(s.contains("AADSTS50126 × 6"), "{s}");
    assert!(s.contains("AADSTS50056 × 4"), "{s}");
    // contoso.com's forest had no Seamless SSO: everyone typed a password. The script runs on the
    // Connect server (simulated); the next morning they sign in by single sign-on.
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("9", "Ran the Seamless SSO script");
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("8", "40 users of contoso.com signed in (simulated)");
    t.wait_for("80 sign-ins: 70 succeeded (40 by Seamless single sign-on), 10 failed.");
    t.press("Enter", &format!("User principal name: {upn}"));
    t.wait_for("`entra-failover rehearse info` prints it.");
    t.send("Tab");
    t.type_text(&password);
    t.send("Enter");
    let s = t.wait_for("Password test: OK");
    assert!(!s.contains(&password), "the password is never shown");
    let converted = wizard_status(home.path());
    assert_eq!(domain_type(&converted, "contoso.com"), "Managed");
    // A colleague fails fabrikam.com over from the command line (it joins the wizard's tenant).
    let out = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["failover", "--domain", "fabrikam.com", "--yes"])
        .env("ENTRA_FAILOVER_HOME", home.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The farm comes back: switch both back together from their backups, then verify both.
    t.press("Escape", "Sign-ins of contoso.com in the last 15 minutes");
    t.press("Escape", "Select a task:");
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("2", "is back (simulated)");
    t.press("3", "Select the sign-in method:");
    t.press("Down", "> ( ) Federation with AD FS");
    t.press("Space", "(•) Federation with AD FS");
    t.press("Enter", "Enter reads the farm's metadata");
    // Every domain is managed now: the farm's name comes from the backups, read in the background.
    t.wait_for("Federation service name: sts.contoso.com_");
    t.press("Enter", "The farm answers");
    t.press("Enter", "[ ] fabrikam.com  (backup taken");
    t.press("Space", "[x] contoso.com");
    t.press("Down", "> [ ] fabrikam.com");
    t.press("Space", "> [x] fabrikam.com");
    t.press(
        "Enter",
        "Each domain's backup taken at failover (an exact restore)",
    );
    let s = t.press("Enter", "more lines below (Down scrolls)");
    assert!(s.contains("2 domains"), "one plan for both: {s}");
    // The plan is longer than the screen: Down scrolls to its changes (it stops at the end).
    for _ in 0..60 {
        t.send("Down");
    }
    t.wait_for("1. POST /v1.0/domains/contoso.com/federationConfiguration");
    // Configuring shows each domain's progress; Complete (with its change report) both results.
    let s = t.press("Enter", "Change report:");
    assert!(
        s.contains("contoso.com: federated (issuer")
            && s.contains("fabrikam.com: federated (issuer"),
        "{s}"
    );
    t.press(
        "Enter",
        "Verify federation connectivity of contoso.com, fabrikam.com:",
    );
    let s = t.wait_for("more lines below (Down scrolls)");
    assert!(
        s.contains("\ncontoso.com:\n"),
        "each domain has its own checks: {s}"
    );
    for _ in 0..30 {
        t.send("Down");
    }
    t.wait_for("All checks passed.");
    // Verify federated login: a user of contoso.com signs in at the farm, as Entra ID asks it.
    t.press("Enter", "Sign a user of contoso.com in at the AD FS farm");
    t.press("Tab", "> Password:");
    t.type_text(&password);
    t.send("Enter");
    let s = t.wait_for("Password test: OK");
    assert!(s.contains("the farm sts.contoso.com signed"), "{s}");
    assert!(s.contains("Entra ID would take its token"), "{s}");
    assert!(!s.contains(&password));
    t.press("Escape", "Verify federation connectivity of");
    t.press("Escape", "Select a task:");
    t.send("q");
    let deadline = Instant::now() + Duration::from_secs(10);
    while t.alive() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!t.alive(), "q quits");

    // The command line agrees with what the screens said.
    let st = wizard_status(home.path());
    assert_eq!(st["password_hash_sync"], true);
    assert_eq!(domain_type(&st, "contoso.com"), "Federated");
    assert_eq!(domain_type(&st, "eu.contoso.com"), "Federated");
    assert_eq!(domain_type(&st, "fabrikam.com"), "Federated");
    let history = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["history", "--json"])
        .env("ENTRA_FAILOVER_HOME", home.path())
        .output()
        .unwrap();
    let entries: serde_json::Value = serde_json::from_slice(&history.stdout).unwrap();
    let ops: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["phase"] == "done")
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(
        ops,
        [
            "enable-phs",
            "failover",
            "failover",
            "switch-back",
            "switch-back"
        ]
    );
    // Nothing was printed into the terminal by logging: the log went to its file.
    assert!(home.path().join("logs/wizard.log").exists());
}

#[test]
fn cloud_sync_password_hash_job_from_the_wizard() {
    if !tmux_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let scenario = home.path().join("cloud.toml");
    std::fs::write(&scenario, "[sync]\nengine = \"cloud\"\n").unwrap();
    let reset = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args([
            "rehearse",
            "reset",
            "--scenario",
            scenario.to_str().unwrap(),
        ])
        .env("ENTRA_FAILOVER_HOME", home.path())
        .output()
        .unwrap();
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    let t = Tmux::start(home.path(), "cloud");
    t.wait_for("Choose the tenant to configure");
    let s = t.press("Enter", "Password hashes: not arriving");
    assert!(
        s.contains("Entra Cloud Sync contoso.com (missing: the password hash job;"),
        "{s}"
    );
    t.press("Enter", "Select a task:");
    t.press("2", "Also sets up Cloud Sync's password hash sync");
    t.press("Space", "[x] Password hash synchronization");
    t.press("Enter", "These are the exact changes");
    t.press("Enter", "password hash job running");
    t.wait_for("Password hashes: none yet");
    t.press("F2", "Rehearsal controls (simulated)");
    t.press("5", "Password hashes: arriving");
    t.press("Escape", "Select a task:");
    t.send("q");
    // The tenant agrees: every configuration's password hash job runs, and users have hashes.
    let st = wizard_status(home.path());
    let cloud = st["sync_engines"]["cloud"].as_array().unwrap();
    assert!(!cloud.is_empty());
    for c in cloud {
        assert_eq!(c["password_hash_job"]["code"], "Active", "{c}");
        assert_eq!(c["credential_data_mapping"], true, "{c}");
    }
    assert_eq!(st["password_hashes_arriving"], true);
}

#[test]
fn too_small_then_resized() {
    if !tmux_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let t = Tmux::start(home.path(), "resize");
    t.wait_for("Choose the tenant");
    let st = Command::new("tmux")
        .args(["resize-window", "-t", &t.session, "-x", "60", "-y", "20"])
        .status()
        .unwrap();
    assert!(st.success());
    t.wait_for("terminal too small");
    Command::new("tmux")
        .args(["resize-window", "-t", &t.session, "-x", "80", "-y", "24"])
        .status()
        .unwrap();
    t.wait_for("Choose the tenant");
    t.send("q");
}

#[test]
fn a_panic_leaves_the_terminal_restored() {
    if !tmux_available() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let session = format!("ef-panic-{}", std::process::id());
    // After the wizard panics, the same shell reports the terminal's modes.
    let cmd = format!(
        "RUST_BACKTRACE=0 ENTRA_FAILOVER_HOME='{}' ENTRA_FAILOVER_CRASH_DRILL=1 '{}'; echo EXIT=$?; stty -a | tr ' ' '\\n' | grep -E '^-?(icanon|echo)$' | tr '\\n' ' '; echo MODES-DONE; sleep 30",
        home.path().display(),
        env!("CARGO_BIN_EXE_entra-failover")
    );
    let st = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "100",
            "-y",
            "30",
            &cmd,
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let t = Tmux { session };
    let screen = t.wait_for("MODES-DONE");
    assert!(
        screen.contains("crash drill"),
        "the panic message is shown: {screen}"
    );
    assert!(!screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains("icanon") && !screen.contains("-icanon"),
        "raw mode is off again: {screen}"
    );
    assert!(
        screen.contains("echo") && !screen.contains("-echo "),
        "echo is on again: {screen}"
    );
    let alt = Command::new("tmux")
        .args(["display-message", "-p", "-t", &t.session, "#{alternate_on}"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&alt.stdout).trim(),
        "0",
        "the main screen is back"
    );
}

/// A failover killed mid-change (the tenant holds its conversion, so the kill lands there on any
/// machine): the wizard's Connect page says so, and its Resume page finishes the change.
#[cfg(unix)]
#[test]
fn the_wizard_finishes_an_interrupted_failover() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| cli(home.path(), args);
    cli(&["enable-phs", "--yes"]);
    cli(&["rehearse", "connect-script"]);
    cli(&["rehearse", "sync"]);
    cli(&["rehearse", "farm", "sts.contoso.com", "down"]);
    let tenant = held::HeldTenant::serve(home.path());
    tenant.hold("PATCH", "/v1.0/domains/fabrikam.com", "hold-answer");
    let mut child = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(["failover", "--domain", "fabrikam.com", "--yes"])
        .env("ENTRA_FAILOVER_HOME", home.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    tenant.wait_held("/v1.0/domains/fabrikam.com");
    // Killed as a crash kills: the conversion is made, its answer never read.
    child.kill().unwrap();
    child.wait().unwrap();
    tenant.stop();
    assert_eq!(
        wizard_status(home.path())["interrupted"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    let t = Tmux::start(home.path(), "resume");
    t.wait_for("Choose the tenant to configure");
    t.press(
        "Enter",
        "Interrupted changes: 1 (Enter finishes them first)",
    );
    t.press(
        "Enter",
        "A run stopped before it could record how these changes ended:",
    );
    assert!(t.screen().contains("failover fabrikam.com"));
    t.press("Enter", "failover fabrikam.com: already done");
    t.press("Enter", "Select a task:");
    let st = wizard_status(home.path());
    assert_eq!(domain_type(&st, "fabrikam.com"), "Managed");
    assert_eq!(st["interrupted"].as_array().map(Vec::len), Some(0), "{st}");
}

#[test]
fn staged_rollout_in_the_wizard_moves_a_pilot_while_the_domain_stays_federated() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| cli(home.path(), args);
    cli(&["enable-phs", "--yes"]);
    cli(&["rehearse", "connect-script"]);
    cli(&["rehearse", "sync"]);

    let t = Tmux::start(home.path(), "staged");
    t.wait_for("Choose the tenant to configure");
    t.press("Enter", "Signed in as admin@contoso.onmicrosoft.com");
    t.press("Enter", "Select a task:");
    let s = t.press("5", "Staged rollout of password hash sync: none yet.");
    assert!(
        s.contains("Groups in this tenant:") && s.contains("PHS pilot"),
        "{s}"
    );
    // A dynamic group is refused by the plan, before anything is sent.
    t.type_text("All Contoso staff");
    t.wait_for("commas between): All Contoso staff_");
    let s = t.press("Enter", "[FAIL] group All Contoso staff");
    assert!(s.contains("dynamic group"), "{s}");
    t.press("Escape", "commas between): All Contoso staff_");
    for _ in 0.."All Contoso staff".len() {
        t.send("BSpace");
    }
    t.wait_for("commas between): _");
    t.type_text("PHS pilot");
    t.wait_for("commas between): PHS pilot_");
    let s = t.press("Enter", "Changes, in order:");
    assert!(
        s.contains("[pass] group PHS pilot: 10 users (contoso.com 10)"),
        "{s}"
    );
    let s = t.press("Enter", "Change report:");
    assert!(
        s.contains("Staged rollout of password hash sync: on"),
        "{s}"
    );
    assert!(s.contains("PHS pilot"), "{s}");

    // The tenant afterwards, read by another process: the policy and its group; the domain federated.
    let v = cli(&["staged-rollout", "--json"]);
    assert_eq!(v["enabled"], true, "{v}");
    assert_eq!(v["groups"][0]["display_name"], "PHS pilot", "{v}");
    assert_eq!(
        domain_type(&wizard_status(home.path()), "contoso.com"),
        "Federated"
    );

    // Test sign-in: the offered sample user is a pilot, and signs in with the password hash.
    let password = tenant_file(home.path())["secrets"]["user_password"]
        .as_str()
        .unwrap()
        .to_string();
    t.press("Enter", "User principal name: adele.vance@contoso.com");
    t.send("Tab");
    t.type_text(&password);
    t.send("Enter");
    let s = t.wait_for("Password test: OK");
    assert!(s.contains("Managed sign-in"), "{s}");

    // End it from the wizard: the policy is gone.
    t.press("Escape", "Select a task:");
    t.press("5", "Staged rollout of password hash sync: on, 1 group(s).");
    t.press("Down", "> Add groups");
    t.press("Down", "> [ ] End the staged rollout");
    t.press("Space", "> [x] End the staged rollout");
    t.press("Enter", "These are the exact changes");
    t.press("Enter", "Change report:");
    let v = cli(&["staged-rollout", "--json"]);
    assert!(v["policy"].is_null(), "{v}");
}

/// Additional tasks → Check readiness, read-only, on the rehearsal tenant: the counts its scenario
/// defines, and the tenant left as it was.
#[test]
fn readiness_from_the_wizard_counts_and_changes_nothing() {
    if !tmux_available() {
        eprintln!("tmux is not installed: skipped");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let t = Tmux::start(home.path(), "readiness");
    t.wait_for("Choose the tenant to configure");
    t.press("Enter", "Signed in as admin@contoso.onmicrosoft.com");
    t.press("Enter", "Select a task:");
    let s = t.press("6", "without an MFA method:   12 (");
    assert!(s.contains("AD UPN suffix unknown:   3 ("), "{s}");
    // The rest of the page scrolls: devices, lockout, then the reads.
    for _ in 0..10 {
        t.send("Down");
    }
    let s = t.wait_for("Hybrid-joined devices: 25");
    assert!(s.contains("Smart lockout: 10 failures, 60 s"), "{s}");
    t.press("Enter", "Select a task:");
    t.send("q");
    // Read-only: the journal has nothing, and the domains sign in as before.
    let history = cli(home.path(), &["history", "--json"]);
    assert!(history.as_array().is_none_or(Vec::is_empty), "{history}");
    let st = wizard_status(home.path());
    assert_eq!(domain_type(&st, "contoso.com"), "Federated");
}
