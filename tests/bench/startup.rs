//! The real binary (release build) in a real terminal (`script` gives it a pty):
//! - cold start to the first wizard frame on the rehearsal tenant (a fresh home each run);
//! - `status --json` end to end on the rehearsal tenant (first run, then warm runs);
//! - peak memory (VmHWM) of the wizard showing a 5,000-domain tenant's configuration, both with the
//!   rehearsal tenant in its own process (the wizard's own footprint, as against Microsoft) and with
//!   it in-process (`cargo run --release`'s default).
//!
//! One JSON line per case. `cargo bench --bench startup` (needs `script`, from util-linux).

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_entra-failover");

/// The binary on a 100×30 pty, its screen output collected as it comes.
struct Terminal {
    child: Child,
    screen: Arc<Mutex<Vec<u8>>>,
}

impl Terminal {
    fn start(home: &Path, args: &str, env: &[(&str, &str)]) -> Terminal {
        let mut cmd = Command::new("script");
        cmd.args([
            "-qfec",
            &format!("stty cols 100 rows 30; exec {BIN} {args}"),
            "/dev/null",
        ])
        .env("ENTRA_FAILOVER_HOME", home)
        .env("TERM", "xterm-256color")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("script");
        let mut out = child.stdout.take().expect("stdout");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().expect("screen").extend_from_slice(&buf[..n]);
            }
        });
        Terminal { child, screen }
    }

    /// Waits until `text` has been drawn (or the timeout); answers whether it was.
    fn wait_for(&self, text: &str, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            let s = self.screen.lock().expect("screen");
            if s.windows(text.len()).any(|w| w == text.as_bytes()) {
                return true;
            }
            drop(s);
            std::thread::sleep(Duration::from_millis(1));
        }
        false
    }

    fn keys(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(bytes).expect("keys");
        stdin.flush().expect("flush");
    }

    /// The wizard's own process (the child of `script`).
    fn wizard_pid(&self) -> Option<u32> {
        let children =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.child.id()))
                .ok()?;
        children.split_whitespace().next()?.parse().ok()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        if let Some(pid) = self.wizard_pid() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.child.wait();
    }
}

fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// CI's quick mode (`BENCH_QUICK`): each case once and small, to prove it does its work.
fn quick() -> bool {
    std::env::var("BENCH_QUICK").is_ok()
}

fn cold_start() {
    let mut times = vec![];
    let runs = if quick() { 1 } else { 10 };
    for _ in 0..runs {
        let home = tempfile::tempdir().expect("home");
        let started = Instant::now();
        let t = Terminal::start(home.path(), "", &[]);
        let drawn = t.wait_for("REHEARSAL", Duration::from_secs(20));
        let elapsed = started.elapsed();
        t.stop();
        assert!(drawn, "the wizard drew no first frame");
        times.push(elapsed.as_secs_f64() * 1000.0);
    }
    println!(
        "{{\"case\":\"cold_start_to_first_frame\",\"runs\":{runs},\"median_ms\":{:.1},\"min_ms\":{:.1},\"max_ms\":{:.1},\"target_ms\":100}}",
        median(times.clone()),
        times.iter().cloned().fold(f64::MAX, f64::min),
        times.iter().cloned().fold(0.0, f64::max)
    );
}

fn status_json() {
    let home = tempfile::tempdir().expect("home");
    let run = || {
        let started = Instant::now();
        let out = Command::new(BIN)
            .args(["status", "--json"])
            .env("ENTRA_FAILOVER_HOME", home.path())
            .output()
            .expect("status");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json");
        started.elapsed().as_secs_f64() * 1000.0
    };
    let first = run();
    let runs = if quick() { 1 } else { 10 };
    let warm: Vec<f64> = (0..runs).map(|_| run()).collect();
    println!(
        "{{\"case\":\"status_json\",\"first_run_ms\":{first:.1},\"runs\":{runs},\"median_ms\":{:.1},\"max_ms\":{:.1},\"target_ms\":150}}",
        median(warm.clone()),
        warm.iter().cloned().fold(0.0, f64::max)
    );
}

/// The domains of the memory case: 5,000 (4,995 generated federated ones and the scenario's five);
/// 100 in quick mode.
fn big_domains() -> usize {
    if quick() { 100 } else { 5000 }
}

fn big_scenario(dir: &Path) -> std::path::PathBuf {
    let p = dir.join("big.toml");
    std::fs::write(
        &p,
        format!("[generate]\nfederated_domains = {}\n", big_domains() - 5),
    )
    .expect("scenario");
    p
}

/// Drives the wizard to View current configuration and reads its peak memory there.
fn wizard_peak(home: &Path, args: &str, env: &[(&str, &str)]) -> u64 {
    // ratatui draws only what changed, so whole phrases rarely reach the pty in one piece: the
    // marks are single words of each page.
    let mut t = Terminal::start(home, args, env);
    assert!(t.wait_for("Choose", Duration::from_secs(30)));
    t.keys(b"\r");
    assert!(
        t.wait_for("Permissions", Duration::from_secs(60)),
        "not signed in: {}",
        String::from_utf8_lossy(&t.screen.lock().expect("screen"))
    );
    t.keys(b"\r");
    std::thread::sleep(Duration::from_millis(300));
    t.keys(b"1\r");
    let shown = t.wait_for("ISSUER", Duration::from_secs(60));
    std::thread::sleep(Duration::from_millis(1500));
    let peak = t.wizard_pid().and_then(peak_kib).expect("VmHWM");
    t.stop();
    assert!(shown, "View current configuration did not show");
    peak
}

fn peak_memory() {
    // In-process: the default rehearsal tenant, reset to 5,000 domains.
    let home = tempfile::tempdir().expect("home");
    let scenario = big_scenario(home.path());
    let out = Command::new(BIN)
        .args(["rehearse", "reset", "--scenario"])
        .arg(&scenario)
        .env("ENTRA_FAILOVER_HOME", home.path())
        .output()
        .expect("reset");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let in_process = wizard_peak(home.path(), "", &[]);

    // Its own process: the emulator serves the same tenant; the wizard signs in as its app.
    let emu_home = tempfile::tempdir().expect("home");
    let scenario = big_scenario(emu_home.path());
    let mut emu = Command::new(BIN)
        .args(["emulator", "--fresh", "--json", "--state"])
        .arg(emu_home.path().join("state"))
        .arg("--scenario")
        .arg(&scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("emulator");
    let mut line = String::new();
    {
        let mut out = emu.stdout.take().expect("stdout");
        let mut b = [0u8; 1];
        while out.read(&mut b).expect("read") == 1 && b[0] != b'\n' {
            line.push(b[0] as char);
        }
        std::mem::forget(out);
    }
    let info: serde_json::Value = serde_json::from_str(&line).expect("emulator info");
    let config = format!(
        "[profiles.bench]\ntenant = \"{}\"\nauth = \"client-secret\"\nclient_id = \"{}\"\nclient_secret_env = \"BENCH_SECRET\"\ngraph_url = \"{}\"\nlogin_url = \"{}\"\nca_file = '{}'\n",
        info["tenant_id"].as_str().expect("tenant"),
        info["client_id"].as_str().expect("client"),
        info["graph_url"].as_str().expect("graph"),
        info["login_url"].as_str().expect("login"),
        info["ca_file"].as_str().expect("ca"),
    );
    let wizard_home = tempfile::tempdir().expect("home");
    std::fs::write(wizard_home.path().join("config.toml"), config).expect("config");
    let secret = info["client_secret"].as_str().expect("secret").to_string();
    let own = wizard_peak(
        wizard_home.path(),
        "--profile bench",
        &[("BENCH_SECRET", &secret)],
    );
    let emulator_peak = peak_kib(emu.id()).unwrap_or(0);
    let _ = emu.kill();
    let _ = emu.wait();
    println!(
        "{{\"case\":\"wizard_peak_memory\",\"domains\":{},\"tenant_in_its_own_process_mib\":{:.1},\"tenant_in_process_mib\":{:.1},\"target_mib\":40,\"the_tenants_own_process_mib\":{:.1}}}",
        big_domains(),
        own as f64 / 1024.0,
        in_process as f64 / 1024.0,
        emulator_peak as f64 / 1024.0
    );
}

fn main() {
    if Command::new("script").arg("--version").output().is_err() {
        println!("{{\"case\":\"startup\",\"skipped\":\"script (util-linux) is not installed\"}}");
        // CI's quick mode proves each bench works: one that cannot run has not.
        if quick() {
            std::process::exit(1);
        }
        return;
    }
    cold_start();
    status_json();
    peak_memory();
}
