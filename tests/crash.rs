//! Crash trials: a failover of 100 federated domains is killed (SIGKILL) at seeded random moments and
//! rerun or resumed each time. Nothing may be lost: every domain ends up managed with exactly one
//! backup equal to its settings before the change, no intent is left dangling, and switching back from
//! those backups restores every domain exactly. `CRASH_SEED=n` replays a run.
//!
//! Even trials kill the command together with the rehearsal tenant it serves in-process (its change log
//! may be torn); odd trials kill only the command while this test serves the tenant, 10 ms slower per
//! request, so that every kill lands mid-run however fast the machine is.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn cli(home: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_entra-failover"))
        .args(args)
        .env("ENTRA_FAILOVER_HOME", home)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(home: &Path, args: &[&str]) -> std::process::Output {
    let out = cli(home, args);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn state(home: &Path) -> Value {
    // The snapshot with its change log replayed, as the emulator would load it.
    let store = entra_failover::emulator::state::Store {
        dir: home.join("rehearsal"),
    };
    serde_json::to_value(store.load().unwrap().unwrap()).unwrap()
}

/// Serves the rehearsal tenant from this test, with 10 ms of latency per request: commands join it.
fn slow_tenant(rt: &tokio::runtime::Runtime, dir: &Path) -> entra_failover::emulator::Emulator {
    use entra_failover::emulator::{Config, Emulator};
    rt.block_on(async {
        let emu = Emulator::start(Config::new(dir)).await.unwrap();
        let info = emu.info().clone();
        let http = entra_failover::ops::session::http_client(Some(&info.ca_file)).unwrap();
        let r = http
            .post(format!("{}/faults", info.control_url))
            .bearer_auth(&info.control_token)
            .json(&serde_json::json!({"latency_ms": 10}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        emu
    })
}

#[test]
fn killed_failovers_lose_nothing() {
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    println!("crash trials: CRASH_SEED={seed}");
    let mut rng = fastrand::Rng::with_seed(seed);
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    let scenario = h.join("hundred.toml");
    std::fs::write(
        &scenario,
        "[generate]\nfederated_domains = 100\nusers = 100\n",
    )
    .unwrap();
    ok(
        h,
        &[
            "rehearse",
            "reset",
            "--scenario",
            scenario.to_str().unwrap(),
        ],
    );
    ok(h, &["enable-phs", "--yes"]);
    ok(h, &["rehearse", "sync"]);
    // The settings before any change, as the tenant holds them.
    let before: Vec<(String, Value)> = state(h)["domains"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| !d["federation"].is_null())
        .map(|d| {
            (
                d["domain"]["id"].as_str().unwrap().to_string(),
                d["federation"].clone(),
            )
        })
        .collect();
    assert_eq!(before.len(), 102);

    let args = ["failover", "--all-federated", "--yes", "--accept-unsynced"];
    let mut kills = 0;
    let mut trials = vec![];
    let rt = tokio::runtime::Runtime::new().unwrap();
    for trial in 0..20 {
        let served_here = trial % 2 == 1;
        let emu = served_here.then(|| slow_tenant(&rt, &h.join("rehearsal")));
        let delay = if served_here {
            rng.u64(40..220)
        } else {
            rng.u64(10..80)
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
            .args(args)
            .env("ENTRA_FAILOVER_HOME", h)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap();
            kills += 1;
        }
        let _ = child.wait();
        drop(emu);
        trials.push(format!(
            "#{trial}: {delay} ms{}{}",
            if served_here {
                " (tenant served here)"
            } else {
                ""
            },
            if finished {
                " (finished first)"
            } else {
                " killed"
            }
        ));
        // Every other time, resume before running again.
        if trial % 2 == 1 {
            ok(h, &["resume", "--yes"]);
        }
    }
    println!("{}", trials.join(", "));
    assert!(
        kills >= 10,
        "the trials must interrupt runs, not watch them finish ({kills} kills)"
    );
    ok(h, &["resume", "--yes"]);
    ok(h, &args);

    let st: Value = serde_json::from_slice(&ok(h, &["status", "--json"]).stdout).unwrap();
    for (id, _) in &before {
        let d = st["domains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id.as_str())
            .unwrap();
        assert_eq!(d["authentication_type"], "Managed", "{id}");
    }
    assert!(
        st["interrupted"].as_array().unwrap().is_empty(),
        "dangling intents: {}",
        st["interrupted"]
    );
    let backups: Value = serde_json::from_slice(&ok(h, &["backups", "--json"]).stdout).unwrap();
    let backups = backups.as_array().unwrap();
    for (id, settings) in &before {
        let mine: Vec<&Value> = backups
            .iter()
            .filter(|b| b["domain"] == id.as_str())
            .collect();
        assert_eq!(mine.len(), 1, "{id} has {} backups", mine.len());
        let b: Value =
            serde_json::from_slice(&std::fs::read(mine[0]["path"].as_str().unwrap()).unwrap())
                .unwrap();
        for (k, v) in settings.as_object().unwrap() {
            assert_eq!(
                &b["federation"][k], v,
                "{id}: {k} differs from the settings before the change"
            );
        }
    }
    // Switching back from those backups restores every domain exactly.
    for (id, _) in before.iter().filter(|(id, _)| id != "contoso.com") {
        ok(
            h,
            &[
                "switch-back",
                "--domain",
                id,
                "--from-backup",
                "latest",
                "--yes",
            ],
        );
    }
    ok(
        h,
        &[
            "switch-back",
            "--domain",
            "contoso.com",
            "--from-backup",
            "latest",
            "--yes",
        ],
    );
    let after = state(h);
    for (id, settings) in &before {
        let d = after["domains"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["domain"]["id"] == id.as_str())
            .unwrap();
        for (k, v) in settings.as_object().unwrap() {
            if k == "id" || k == "signingCertificateUpdateStatus" {
                continue; // Graph gives a re-created configuration its own id and update status.
            }
            assert_eq!(&d["federation"][k], v, "{id}: {k} not restored");
        }
    }
}
