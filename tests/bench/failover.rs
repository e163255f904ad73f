//! Failover of N federated domains against the rehearsal tenant with 20 ms injected latency: wall time,
//! requests, the bound (fewest requests × latency ÷ requests in flight) and the ratio to it; then the
//! same job done the way admins script it today (one request at a time), in the same run, and the
//! speed-up. One JSON line per case. `cargo bench --bench failover` (add `-- --large` for N = 1000).

use std::time::{Duration, Instant};

use entra_failover::emulator::{self, Emulator};
use entra_failover::ops::{Quiet, Session, enable_phs, failover};
use serde_json::json;

const LATENCY_MS: u64 = 20;
const IN_FLIGHT: u64 = 8;

async fn tenant(n: usize) -> (tempfile::TempDir, Session) {
    let home = tempfile::tempdir().expect("home");
    let scenario = home.path().join("s.toml");
    std::fs::write(&scenario, format!("[generate]\nfederated_domains = {n}\n[limits]\nwrite_burst = 1000000\nwrites_per_second = 1000000.0\n")).expect("scenario");
    let mut cfg = emulator::Config::new(home.path().join("rehearsal"));
    cfg.fresh = true;
    cfg.scenario = Some(scenario);
    Emulator::start(cfg).await.expect("emulator").stop();
    let s = Session::rehearsal(home.path()).await.expect("session");
    let p = enable_phs::prepare(&s).await.expect("plan");
    enable_phs::run(&s, p, &Quiet).await.expect("phs");
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

fn domains(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("d{i}.example")).collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let large = std::env::args().any(|a| a == "--large");
    let sizes: &[usize] = if large { &[10, 100, 1000] } else { &[10, 100] };
    for &n in sizes {
        // entra-failover.
        let (_home, s) = tenant(n).await;
        let o = failover::Options {
            domains: domains(n),
            all_federated: false,
            sync_window: Duration::from_secs(3 * 3600),
            accept_unsynced: false,
        };
        let g0 = s.graph.requests_sent();
        let t = Instant::now();
        let p = failover::prepare(&s, &o).await.expect("prepare");
        let r = failover::run(&s, p, &Quiet).await.expect("run");
        let ours = t.elapsed();
        let requests = s.graph.requests_sent() - g0;
        assert!(r.domains.iter().all(|d| d.outcome == "converted"));
        // The fewest: back up, change, confirm each domain (3n) plus the pre-flight reads (3).
        let fewest = 3 * n as u64 + 3;
        let bound = Duration::from_millis(fewest * LATENCY_MS / IN_FLIGHT);
        println!(
            "{{\"case\":\"failover\",\"domains\":{n},\"latency_ms\":{LATENCY_MS},\"wall_ms\":{:.0},\"requests\":{requests},\"fewest\":{fewest},\"bound_ms\":{},\"ratio_to_bound\":{:.2}}}",
            ours.as_secs_f64() * 1000.0,
            bound.as_millis(),
            ours.as_secs_f64() / bound.as_secs_f64()
        );

        // The sequential client of today's scripts: the same three calls per domain, one at a time.
        let (_home2, s2) = tenant(n).await;
        let t = Instant::now();
        for d in domains(n) {
            let _: serde_json::Value = s2
                .graph
                .get(&format!("/v1.0/domains/{d}/federationConfiguration"))
                .await
                .expect("read");
            s2.graph
                .send(
                    reqwest::Method::PATCH,
                    &format!("/v1.0/domains/{d}"),
                    Some(&json!({"authenticationType": "Managed"})),
                )
                .await
                .expect("patch");
            let _: serde_json::Value = s2
                .graph
                .get(&format!("/v1.0/domains/{d}"))
                .await
                .expect("confirm");
        }
        let sequential = t.elapsed();
        println!(
            "{{\"case\":\"sequential_client\",\"domains\":{n},\"latency_ms\":{LATENCY_MS},\"wall_ms\":{:.0},\"speedup_of_entra_failover\":{:.1}}}",
            sequential.as_secs_f64() * 1000.0,
            sequential.as_secs_f64() / ours.as_secs_f64()
        );
    }
}
