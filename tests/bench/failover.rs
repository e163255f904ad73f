//! Failover of N federated domains against the in-process rehearsal tenant with 20 ms of injected
//! latency per request and a budget of requests served at once (beyond it the tenant answers 429):
//! wall time, requests, the bound (fewest requests × latency ÷ budget) and the ratio to it. Then the
//! same with the tenant throttling writes at a known rate (429 with fractional Retry-After), against
//! the throttled bound. Then, in the same run and against the same kind of tenant, the sequential
//! client admins script today (one request at a time, as a PowerShell or `az rest` loop does): once
//! in-process with a kept-alive connection, and once as `tests/bench/sequential-client.sh` (curl, one
//! process per call). One JSON line per case.
//!
//! `cargo bench --bench failover` (add `-- --large` for the 1000-domain sequential clients, ~3 min).

use std::path::Path;
use std::time::{Duration, Instant};

use entra_failover::emulator::{self, Emulator};
use entra_failover::ops::{Quiet, Session, enable_phs, failover};
use secrecy::ExposeSecret;
use serde_json::json;

const LATENCY_MS: u64 = 20;

#[derive(Clone, Copy)]
struct Tenant {
    domains: usize,
    /// Graph requests the tenant serves at once.
    budget: u32,
    /// Writes: (burst, per second).
    writes: Option<(u32, f64)>,
}

async fn start(t: Tenant) -> (tempfile::TempDir, Session) {
    let home = tempfile::tempdir().expect("home");
    let scenario = home.path().join("s.toml");
    let (burst, rate) = t.writes.unwrap_or((1_000_000, 1_000_000.0));
    std::fs::write(
        &scenario,
        format!(
            "[generate]\nfederated_domains = {}\n[limits]\nwrite_burst = {burst}\nwrites_per_second = {rate}\nconcurrent_requests = {}\n",
            t.domains, t.budget
        ),
    )
    .expect("scenario");
    let mut cfg = emulator::Config::new(home.path().join("rehearsal"));
    cfg.fresh = true;
    cfg.scenario = Some(scenario);
    Emulator::start(cfg).await.expect("emulator").stop();
    let s = Session::rehearsal(home.path()).await.expect("session");
    let p = enable_phs::prepare(&s, &Default::default())
        .await
        .expect("plan");
    enable_phs::run(&s, p, &Quiet).await.expect("phs");
    // What an administrator does next: the script enable-phs wrote, run on the Connect server, then a
    // sync cycle. Without them the pre-flight refuses (no hashes in the cloud) and nothing converts.
    // `BENCH_SETUP=skip-connect-script` sets up as this bench once did: a bench made to fail, which CI
    // checks exits non-zero.
    if std::env::var("BENCH_SETUP").as_deref() != Ok("skip-connect-script") {
        control(&s, "/connect/script", json!({})).await;
    }
    control(&s, "/sync", json!({})).await;
    control(&s, "/adfs/sts.contoso.com", json!({"state": "down"})).await;
    control(&s, "/faults", json!({"latency_ms": LATENCY_MS})).await;
    (home, s)
}

async fn control(s: &Session, path: &str, body: serde_json::Value) {
    let info = s.rehearsal.as_ref().expect("rehearsal").info().clone();
    s.http
        .post(format!("{}{path}", info.control_url))
        .bearer_auth(&info.control_token)
        .json(&body)
        .send()
        .await
        .expect("control");
}

/// A case whose work did not happen: its line (no ratio, no speed-up), and the bench exits non-zero.
fn refused(line: &str) -> ! {
    println!("{line}");
    eprintln!("bench: a case did not do its work; no figure is printed for it");
    std::process::exit(1);
}

/// How many of `n` benchmark domains the tenant now holds as managed (no federation settings).
fn managed(s: &Session, n: usize) -> usize {
    let t = s
        .rehearsal
        .as_ref()
        .expect("rehearsal")
        .tenant()
        .expect("tenant");
    domains(n)
        .iter()
        .filter(|d| {
            t.domain_index(d)
                .is_some_and(|i| t.domains[i].federation.is_none())
        })
        .count()
}

fn domains(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("d{i}.example")).collect()
}

/// The fewest Graph requests a failover of `n` domains needs: per domain the backup read, the change
/// and the confirming read; before them the pre-flight's sync settings, last sync, and the domain
/// list (one request per page).
fn fewest(s: &Session, n: usize) -> u64 {
    let t = s
        .rehearsal
        .as_ref()
        .expect("rehearsal")
        .tenant()
        .expect("tenant");
    let pages = t.domains.len().div_ceil(t.limits.page_size.max(1));
    3 * n as u64 + 2 + pages as u64
}

struct Ours {
    wall: Duration,
}

async fn ours(t: Tenant, label: &str) -> Ours {
    let (_home, s) = start(t).await;
    let o = failover::Options {
        domains: domains(t.domains),
        all_federated: false,
        sync_window: Duration::from_secs(3 * 3600),
        accept_unsynced: false,
        skip_sso: false,
    };
    let g0 = s.graph.requests_sent();
    let busy0 = s.graph.busy();
    let started = Instant::now();
    let p = failover::prepare(&s, &o).await.expect("prepare");
    let r = failover::run(&s, p, &Quiet).await;
    let wall = started.elapsed();
    let requests = s.graph.requests_sent() - g0;
    let (converted, failed) = match &r {
        Ok(r) => (
            r.domains
                .iter()
                .filter(|d| d.outcome == "converted")
                .count(),
            r.domains
                .iter()
                .filter(|d| d.outcome != "converted")
                .count(),
        ),
        Err(_) => (0, t.domains),
    };
    // A run that did not do the work has no time worth a ratio: say why and fail the bench.
    if converted != t.domains {
        let why = match &r {
            Ok(_) => "some domains were not converted".to_string(),
            Err(e) => e.to_string(),
        };
        refused(&format!(
            "{{\"case\":\"{label}\",\"domains\":{},\"converted\":{converted},\"failed\":{failed},\"error\":{}}}",
            t.domains,
            json!(why)
        ));
    }
    let fewest = fewest(&s, t.domains);
    let round_trips = Duration::from_millis(fewest * LATENCY_MS / u64::from(t.budget));
    // Throttled: the writes cannot go faster than the tenant's rate once its burst is spent.
    let bound = match t.writes {
        Some((burst, rate)) => round_trips.max(
            Duration::from_secs_f64((t.domains as f64 - f64::from(burst)).max(0.0) / rate)
                + Duration::from_millis(2 * LATENCY_MS),
        ),
        None => round_trips,
    };
    let ratio = wall.as_secs_f64() / bound.as_secs_f64();
    let busy = (s.graph.busy() - busy0).as_secs_f64();
    let mean_in_flight = busy / wall.as_secs_f64();
    // How long a request really took here (the rig shares two cores with the tenant): with the mean
    // in flight and the requests beyond the fewest, it accounts for the ratio.
    let mean_request_ms = busy * 1000.0 / requests.max(1) as f64;
    let target = match (t.domains, t.writes) {
        (100, None) => ",\"target_ratio\":1.3",
        (1000, Some(_)) => ",\"target_ratio\":1.5",
        _ => "",
    };
    let writes = t
        .writes
        .map(|(b, r)| format!(",\"write_burst\":{b},\"writes_per_second\":{r}"))
        .unwrap_or_default();
    println!(
        "{{\"case\":\"{label}\",\"domains\":{},\"latency_ms\":{LATENCY_MS},\"budget\":{}{writes},\"wall_ms\":{:.0},\"requests\":{requests},\"fewest\":{fewest},\"bound_ms\":{},\"ratio_to_bound\":{ratio:.2}{target},\"converted\":{converted},\"failed\":{failed},\"mean_in_flight\":{mean_in_flight:.1},\"mean_request_ms\":{mean_request_ms:.1},\"final_limit\":{}}}",
        t.domains,
        t.budget,
        wall.as_secs_f64() * 1000.0,
        bound.as_millis(),
        s.graph.limit(),
    );
    Ours { wall }
}

/// `status` of a large tenant: the caller, organization, sync settings, last sync, the domain list (a
/// request per page) and every federated domain's settings, read side by side.
async fn status(t: Tenant) {
    let (_home, s) = start(t).await;
    let g0 = s.graph.requests_sent();
    let started = Instant::now();
    let st = entra_failover::ops::status::status(&s)
        .await
        .expect("status");
    let wall = started.elapsed();
    let requests = s.graph.requests_sent() - g0;
    let tenant = s
        .rehearsal
        .as_ref()
        .expect("rehearsal")
        .tenant()
        .expect("tenant");
    let pages = tenant
        .domains
        .len()
        .div_ceil(tenant.limits.page_size.max(1)) as u64;
    if st.domains.len() != tenant.domains.len() {
        refused(&format!(
            "{{\"case\":\"status\",\"domains\":{},\"listed\":{}}}",
            tenant.domains.len(),
            st.domains.len()
        ));
    }
    let federated = st
        .domains
        .iter()
        .filter(|d| d.authentication_type == "Federated" && d.is_root)
        .count() as u64;
    let fewest = 3 + pages + federated;
    let bound = Duration::from_millis(fewest * LATENCY_MS / u64::from(t.budget));
    println!(
        "{{\"case\":\"status\",\"domains\":{},\"latency_ms\":{LATENCY_MS},\"budget\":{},\"wall_ms\":{:.0},\"requests\":{requests},\"fewest\":{fewest},\"bound_ms\":{},\"ratio_to_bound\":{:.2},\"one_at_a_time_ms\":{}}}",
        st.domains.len(),
        t.budget,
        wall.as_secs_f64() * 1000.0,
        bound.as_millis(),
        wall.as_secs_f64() / bound.as_secs_f64(),
        fewest * LATENCY_MS,
    );
}

/// The loop of today's scripts: the same three calls per domain, one at a time, one connection.
async fn sequential(t: Tenant, ours: &Ours) {
    let (_home, s) = start(t).await;
    let started = Instant::now();
    for d in domains(t.domains) {
        let _: serde_json::Value = s
            .graph
            .get(&format!("/v1.0/domains/{d}/federationConfiguration"))
            .await
            .expect("read");
        s.graph
            .send(
                reqwest::Method::PATCH,
                &format!("/v1.0/domains/{d}"),
                Some(&json!({"authenticationType": "Managed"})),
            )
            .await
            .expect("patch");
        let _: serde_json::Value = s
            .graph
            .get(&format!("/v1.0/domains/{d}"))
            .await
            .expect("confirm");
    }
    let wall = started.elapsed();
    let converted = managed(&s, t.domains);
    if converted != t.domains {
        refused(&format!(
            "{{\"case\":\"sequential_client\",\"domains\":{},\"converted\":{converted}}}",
            t.domains
        ));
    }
    let speedup = wall.as_secs_f64() / ours.wall.as_secs_f64();
    let target = if t.domains == 100 {
        ",\"target_speedup\":10"
    } else {
        ""
    };
    println!(
        "{{\"case\":\"sequential_client\",\"domains\":{},\"latency_ms\":{LATENCY_MS},\"wall_ms\":{:.0},\"speedup_of_entra_failover\":{speedup:.1}{target}}}",
        t.domains,
        wall.as_secs_f64() * 1000.0,
    );
}

/// The same loop as a shell script with curl: one process and one TLS handshake per call, as an
/// `az rest` loop has.
async fn script(t: Tenant, ours: &Ours) {
    let (home, s) = start(t).await;
    let info = s.rehearsal.as_ref().expect("rehearsal").info().clone();
    let token = s.graph.credential().token().await.expect("token");
    let headers = home.path().join("headers");
    write_private(
        &headers,
        &format!(
            "Authorization: Bearer {}\nContent-Type: application/json\n",
            token.token.expose_secret()
        ),
    );
    let list = home.path().join("domains");
    std::fs::write(&list, domains(t.domains).join("\n") + "\n").expect("list");
    let started = Instant::now();
    let out = std::process::Command::new("bash")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/bench/sequential-client.sh"
        ))
        .args([&info.graph_url, info.ca_file.to_str().expect("path")])
        .arg(&headers)
        .arg(&list)
        .output()
        .expect("bash");
    let wall = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let managed = managed(&s, t.domains);
    if managed != t.domains {
        refused(&format!(
            "{{\"case\":\"sequential_script_curl\",\"domains\":{},\"converted\":{managed}}}",
            t.domains
        ));
    }
    println!(
        "{{\"case\":\"sequential_script_curl\",\"domains\":{},\"latency_ms\":{LATENCY_MS},\"wall_ms\":{:.0},\"converted\":{managed},\"speedup_of_entra_failover\":{:.1}}}",
        t.domains,
        wall.as_secs_f64() * 1000.0,
        wall.as_secs_f64() / ours.wall.as_secs_f64()
    );
}

fn write_private(path: &Path, text: &str) {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("headers file");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let large = std::env::args().any(|a| a == "--large");
    let curl = std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let plain = |domains, budget| Tenant {
        domains,
        budget,
        writes: None,
    };
    // CI's quick mode: each kind of case once, small, to prove the work is done (not how fast).
    if std::env::var("BENCH_QUICK").is_ok() {
        let o = ours(plain(10, 16), "failover").await;
        ours(
            Tenant {
                domains: 20,
                budget: 16,
                writes: Some((5, 100.0)),
            },
            "failover_throttled",
        )
        .await;
        status(plain(30, 16)).await;
        sequential(plain(10, 16), &o).await;
        if curl {
            script(plain(5, 16), &o).await;
        }
        return;
    }
    // Round trips: 10, 100, 1000 domains with a budget of 16 at once; 100 also with 8.
    let o10 = ours(plain(10, 16), "failover").await;
    let o100 = ours(plain(100, 16), "failover").await;
    ours(plain(100, 8), "failover").await;
    let o1000 = ours(plain(1000, 16), "failover").await;
    // Throttled writes: 100 a second after a burst of 10 (about Graph's rate for directory writes).
    for n in [100, 1000] {
        let t = Tenant {
            domains: n,
            budget: 16,
            writes: Some((10, 100.0)),
        };
        ours(t, "failover_throttled").await;
    }
    status(plain(1000, 16)).await;
    // Side by side: the sequential clients.
    sequential(plain(10, 16), &o10).await;
    sequential(plain(100, 16), &o100).await;
    if large {
        sequential(plain(1000, 16), &o1000).await;
    }
    if curl {
        script(plain(10, 16), &o10).await;
        script(plain(100, 16), &o100).await;
    } else {
        println!("{{\"case\":\"sequential_script_curl\",\"skipped\":\"curl is not installed\"}}");
    }
}
