//! The real binary in a real terminal (tmux): keys in, screen out, as an administrator uses it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

fn tmux_available() -> bool {
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

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let st = Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .unwrap();
            assert!(st.success());
            std::thread::sleep(Duration::from_millis(80));
        }
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
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            if Instant::now() > deadline {
                panic!("waited 30 s for {text:?}; the screen shows:\n{s}");
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
            .status();
    }
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
    t.keys(&["Enter"]);
    t.wait_for("Signed in as admin@contoso.onmicrosoft.com");
    // Customize synchronization options: password hash sync on.
    t.keys(&["Enter", "2", "Space", "Enter"]);
    t.wait_for("Changes, in order:");
    t.keys(&["Enter"]);
    t.wait_for("Password hash synchronization: on");
    // Rehearsal controls: a sync cycle, then the farm goes down.
    t.keys(&["Escape", "F2", "5"]);
    t.wait_for("A sync cycle ran");
    t.keys(&["F2", "1"]);
    t.wait_for("is down (simulated)");
    // Change user sign-in → password hash sync → contoso.com.
    t.keys(&["3", "Enter", "Space", "Enter"]);
    t.wait_for("Type contoso.com to confirm");
    t.keys(&["Enter"]);
    t.wait_for("type contoso.com to confirm");
    t.type_text("contoso.com");
    t.keys(&["Enter"]);
    t.wait_for("Ready to configure. These are the exact changes");
    t.keys(&["Enter"]);
    t.wait_for("contoso.com: converted");
    // Test sign-in of a managed user.
    let tenant = tenant_file(home.path());
    let password = tenant["secrets"]["user_password"]
        .as_str()
        .unwrap()
        .to_string();
    let upn = tenant["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["upn"].as_str().unwrap())
        .find(|u| u.ends_with("@contoso.com"))
        .unwrap()
        .to_string();
    t.keys(&["Enter"]);
    t.wait_for("User principal name:");
    t.type_text(&upn);
    t.keys(&["Tab"]);
    t.type_text(&password);
    t.keys(&["Enter"]);
    let s = t.wait_for("Password test: OK");
    assert!(!s.contains(&password), "the password is never shown");
    let converted = wizard_status(home.path());
    assert_eq!(domain_type(&converted, "contoso.com"), "Managed");

    // The farm comes back: switch contoso.com back from its backup, then verify.
    t.keys(&["Escape", "F2", "2"]);
    t.wait_for("is back (simulated)");
    t.keys(&["3", "Down", "Space", "Enter"]);
    t.wait_for("Enter reads the farm's metadata");
    t.keys(&["Enter"]);
    t.wait_for("The farm answers");
    t.keys(&["Enter"]);
    t.wait_for("backup taken");
    t.keys(&["Enter"]);
    t.wait_for("an exact restore");
    t.keys(&["Enter"]);
    t.wait_for("Changes, in order:");
    t.keys(&["Enter"]);
    t.wait_for("contoso.com: federated");
    t.keys(&["Enter"]);
    t.wait_for("All checks passed.");
    t.keys(&["Escape", "q"]);
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
    assert_eq!(ops, ["enable-phs", "failover", "switch-back"]);
    // Nothing was printed into the terminal by logging: the log went to its file.
    assert!(home.path().join("logs/wizard.log").exists());
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
    t.keys(&["q"]);
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
