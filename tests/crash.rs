//! Crash trials: failovers of a 102-domain tenant are killed (SIGKILL) at seeded steps and rerun or
//! resumed each time. Nothing may be lost: every domain ends up managed with exactly one backup equal
//! to its settings before the change, no intent is left dangling, and switching back from those
//! backups restores every domain exactly. `CRASH_SEED=n` replays a run: the same domains, killed at
//! the same steps.
//!
//! Kills land by progress, not by the clock. Each trial names a domain and a step, and the rehearsal
//! tenant holds that domain's request at that step (the control API's `hold` and `hold-answer`
//! faults, which exist for this): the test waits until `GET /held` lists it, checks what must already
//! be true (the backup written, the intent journaled, the change made or not), and kills the command
//! while it waits for the answer. However fast or slow the machine, each kill lands mid-run. The
//! product itself has no pause point: the wait is the tenant's.
//!
//! The domains are dealt out to the trials in seeded slices, so that which domain a trial kills at
//! does not depend on how far the runs before it got. Each run converts its slice and whatever earlier
//! trials left federated (so reruns meet their own half-done domains). Even trials serve the tenant
//! from its own process (`entra-failover emulator`) and kill it together with the command; odd trials
//! serve it from this test, kill only the command, and `resume` afterwards.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const TRIALS: usize = 20;

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

/// The domain's federation settings in the tenant (`Null` once it is managed).
fn federation_of(home: &Path, id: &str) -> Value {
    state(home)["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"]["id"] == id)
        .map(|d| d["federation"].clone())
        .unwrap()
}

/// The rehearsal tenant's journal, one JSON value a line (a torn last line skipped).
fn journal(home: &Path) -> Vec<Value> {
    let dir = home.join("journal");
    let Ok(files) = std::fs::read_dir(&dir) else {
        return vec![];
    };
    let mut lines = vec![];
    for f in files {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        lines.extend(text.lines().filter_map(|l| serde_json::from_str(l).ok()));
    }
    lines
}

/// Where a trial stops the command: the request the tenant holds, and what is true by then.
#[derive(Clone, Copy, Debug)]
enum Step {
    /// The pre-flight reads the domain's federation settings: nothing written for it yet.
    PreflightRead,
    /// The conversion is sent, not yet made: backup and intent written, the domain still federated.
    ChangeSent,
    /// The conversion is made and saved, its answer lost: the domain managed, the intent open.
    ChangeMade,
    /// The confirming read: the domain managed, the intent open.
    Confirming,
}

impl Step {
    const ALL: [Step; 4] = [
        Step::PreflightRead,
        Step::ChangeSent,
        Step::ChangeMade,
        Step::Confirming,
    ];

    fn name(self) -> &'static str {
        match self {
            Step::PreflightRead => "pre-flight read",
            Step::ChangeSent => "conversion sent, not made",
            Step::ChangeMade => "conversion made, answer lost",
            Step::Confirming => "confirming read",
        }
    }

    /// The hold fault that stops a run of `domain` at this step, and the request it holds.
    fn fault(self, domain: &str) -> (Value, (&'static str, String, &'static str)) {
        let (method, path, kind) = match self {
            Step::PreflightRead => (
                "GET",
                format!("/v1.0/domains/{domain}/federationConfiguration"),
                "hold",
            ),
            Step::ChangeSent => ("PATCH", format!("/v1.0/domains/{domain}"), "hold"),
            Step::ChangeMade => ("PATCH", format!("/v1.0/domains/{domain}"), "hold-answer"),
            Step::Confirming => ("GET", format!("/v1.0/domains/{domain}"), "hold"),
        };
        (
            json!({"method": method, "path": path, "kind": kind, "count": 1}),
            (method, path, kind),
        )
    }

    /// What must be true when the request is held: checked before the kill.
    fn check(self, home: &Path, domain: &str, journal_before: usize, settings: &Value) {
        let mine: Vec<Value> = journal(home)
            .into_iter()
            .skip(journal_before)
            .filter(|e| e["domain"] == domain)
            .collect();
        let federation = federation_of(home, domain);
        if let Step::PreflightRead = self {
            assert!(
                mine.is_empty(),
                "{domain}: journaled before its pre-flight read: {mine:?}"
            );
            assert_eq!(
                &federation, settings,
                "{domain} changed before its pre-flight read"
            );
            return;
        }
        assert_eq!(
            mine.len(),
            1,
            "{domain}: one intent, nothing after it: {mine:?}"
        );
        assert_eq!(mine[0]["phase"], "intent", "{domain}: {mine:?}");
        let backup = PathBuf::from(mine[0]["backup"].as_str().unwrap());
        let b: Value = serde_json::from_slice(&std::fs::read(&backup).unwrap()).unwrap();
        for (k, v) in settings.as_object().unwrap() {
            assert_eq!(
                &b["federation"][k], v,
                "{domain}: {k} in the backup the intent names"
            );
        }
        match self {
            Step::ChangeSent => assert_eq!(&federation, settings, "{domain} changed too early"),
            _ => assert!(federation.is_null(), "{domain} is not managed yet"),
        }
    }
}

/// The rehearsal tenant for one trial: its own process (killed with the command) or this test's.
enum Tenant {
    Process(Child),
    Here(Box<entra_failover::emulator::Emulator>),
}

struct Served {
    tenant: Tenant,
    control_url: String,
    control_token: String,
    http: reqwest::Client,
}

impl Served {
    fn start(rt: &tokio::runtime::Runtime, home: &Path, own_process: bool) -> Served {
        use entra_failover::emulator::{Config, Emulator, Info};
        let (tenant, info): (Tenant, Info) = if own_process {
            let mut child = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
                .args(["emulator", "--json"])
                .env("ENTRA_FAILOVER_HOME", home)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let info = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"));
            (Tenant::Process(child), info)
        } else {
            let emu = rt
                .block_on(Emulator::start(Config::new(home.join("rehearsal"))))
                .unwrap();
            let info = emu.info().clone();
            (Tenant::Here(Box::new(emu)), info)
        };
        let http = entra_failover::ops::session::http_client(Some(&info.ca_file)).unwrap();
        Served {
            tenant,
            control_url: info.control_url,
            control_token: info.control_token,
            http,
        }
    }

    fn control(
        &self,
        rt: &tokio::runtime::Runtime,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        rt.block_on(async {
            let mut r = self
                .http
                .request(method, format!("{}{path}", self.control_url))
                .bearer_auth(&self.control_token);
            if let Some(b) = body {
                r = r.json(&b);
            }
            let resp = r.send().await.unwrap();
            assert!(resp.status().is_success(), "{path}: {}", resp.status());
            resp.json().await.unwrap_or(Value::Null)
        })
    }

    /// Ends the tenant: killed with the command, or stopped here without answering what it holds.
    fn end(self) {
        match self.tenant {
            Tenant::Process(mut child) => {
                child.kill().unwrap();
                child.wait().unwrap();
            }
            Tenant::Here(emu) => emu.stop(),
        }
    }
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
    ok(h, &["rehearse", "connect-script"]);
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
    let settings = |id: &str| before.iter().find(|(d, _)| d == id).unwrap().1.clone();

    // Deal the domains out: trial t converts slices[t] (and what earlier trials left).
    let mut ids: Vec<String> = before.iter().map(|(id, _)| id.clone()).collect();
    rng.shuffle(&mut ids);
    let slices: Vec<Vec<String>> = (0..TRIALS)
        .map(|t| {
            let (from, to) = (t * ids.len() / TRIALS, (t + 1) * ids.len() / TRIALS);
            ids[from..to].to_vec()
        })
        .collect();

    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut trials = vec![];
    for (trial, slice) in slices.iter().enumerate() {
        let own_process = trial % 2 == 0;
        let step = Step::ALL[rng.usize(..Step::ALL.len())];
        let k = rng.usize(..slice.len());
        let domain = &slice[k];
        // Leftovers of earlier trials that are still federated: the rerun meets them.
        let federated: Vec<String> = state(h)["domains"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| !d["federation"].is_null())
            .map(|d| d["domain"]["id"].as_str().unwrap().to_string())
            .collect();
        let mut targets = slice.clone();
        targets.extend(
            slices[..trial]
                .iter()
                .flatten()
                .filter(|id| federated.contains(id))
                .cloned(),
        );

        let served = Served::start(&rt, h, own_process);
        let (fault, (method, path, kind)) = step.fault(domain);
        served.control(&rt, reqwest::Method::POST, "/faults", Some(fault));
        let journal_before = journal(h).len();
        let mut args = vec!["failover", "--yes", "--accept-unsynced"];
        for t in &targets {
            args.extend(["--domain", t.as_str()]);
        }
        let log = h.join(format!("trial-{trial}.log"));
        let mut child = Command::new(env!("CARGO_BIN_EXE_entra-failover"))
            .args(&args)
            .env("ENTRA_FAILOVER_HOME", h)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        // Wait for the step itself; the deadline is for a real fault only.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let held = served.control(&rt, reqwest::Method::GET, "/held", None);
            if held
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r["method"] == method && r["path"] == path.as_str() && r["kind"] == kind)
            {
                break;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "trial #{trial} (CRASH_SEED={seed}): the run ended ({status}) without reaching {} of {domain}:\n{}",
                    step.name(),
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "trial #{trial}: {domain} did not reach {} in 120 s",
                step.name()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        step.check(h, domain, journal_before, &settings(domain));
        // The command waits for the held answer: the kill lands mid-run.
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended while held"
        );
        child.kill().unwrap();
        child.wait().unwrap();
        served.end();
        trials.push(format!(
            "#{trial}: {domain} at {} ({} of {} in the run; tenant {}), killed",
            step.name(),
            k + 1,
            targets.len(),
            if own_process {
                "in its own process, killed too"
            } else {
                "served here"
            },
        ));
        // Every other time, resume before running again.
        if !own_process {
            ok(h, &["resume", "--yes"]);
        }
    }
    println!("{}", trials.join("\n"));
    assert_eq!(trials.len(), TRIALS, "{TRIALS} of {TRIALS} killed mid-run");

    let args = ["failover", "--all-federated", "--yes", "--accept-unsynced"];
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
    // Switching back from those backups restores every domain exactly (contoso.com last: its
    // subdomain follows it).
    let mut back = vec!["switch-back", "--from-backup", "latest", "--yes"];
    for (id, _) in before.iter().filter(|(id, _)| id != "contoso.com") {
        back.extend(["--domain", id.as_str()]);
    }
    ok(h, &back);
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
