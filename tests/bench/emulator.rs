//! Figures for the rehearsal tenant: start time (fresh state and saved state) and requests per second
//! for `GET /v1.0/domains` over HTTPS with keep-alive. Prints one JSON line per case.
//!
//! `cargo bench --bench emulator` (optional: `-- --seconds 5 --clients 8`).

use std::time::{Duration, Instant};

use entra_failover::emulator::{Config, Emulator};

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // CI's quick mode: each case once and short, to prove it does its work.
    let quick = std::env::var("BENCH_QUICK").is_ok();
    let seconds = arg("--seconds", if quick { 1 } else { 3 });
    let clients = arg("--clients", 8) as usize;
    let runs = if quick { 1 } else { 5 };
    let dir = tempfile::tempdir().expect("temporary folder");

    let mut fresh = vec![];
    let mut saved = vec![];
    for i in 0..runs {
        let state = dir.path().join(format!("s{i}"));
        let t = Instant::now();
        let e = Emulator::start(Config::new(&state)).await.expect("start");
        fresh.push(t.elapsed().as_secs_f64() * 1000.0);
        e.stop();
        drop(e);
        let t = Instant::now();
        let e = Emulator::start(Config::new(&state)).await.expect("restart");
        saved.push(t.elapsed().as_secs_f64() * 1000.0);
        e.stop();
    }
    println!(
        "{{\"case\":\"emulator_start\",\"fresh_state_ms_median\":{:.1},\"saved_state_ms_median\":{:.1},\"runs\":{runs}}}",
        median(fresh),
        median(saved)
    );

    let emu = Emulator::start(Config::new(dir.path().join("bench")))
        .await
        .expect("start");
    let info = emu.info().clone();
    entra_failover::tls::install_crypto_provider();
    let pem = std::fs::read(&info.ca_file).expect("ca");
    let http = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("pem")])
        .pool_max_idle_per_host(clients)
        .build()
        .expect("client");
    let token: serde_json::Value = http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            info.login_url, info.tenant_id
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", info.client_id.as_str()),
            ("client_secret", info.client_secret.as_str()),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let token = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    let url = format!("{}/v1.0/domains", info.graph_url);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let start = Instant::now();
    let mut tasks = vec![];
    for _ in 0..clients {
        let (http, url, token) = (http.clone(), url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut other) = (0u64, 0u64);
            while Instant::now() < deadline {
                match http.get(&url).bearer_auth(&token).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = r.bytes().await;
                        ok += 1
                    }
                    _ => other += 1,
                }
            }
            (ok, other)
        }));
    }
    let (mut ok, mut other) = (0, 0);
    for t in tasks {
        let (a, b) = t.await.expect("client task");
        ok += a;
        other += b;
    }
    let elapsed = start.elapsed().as_secs_f64();
    // Refused or failed requests are not throughput: no figure then, and the bench fails.
    if ok == 0 || other > 0 {
        println!("{{\"case\":\"get_domains\",\"ok\":{ok},\"failed\":{other}}}");
        eprintln!("bench: requests failed; no requests per second is printed");
        std::process::exit(1);
    }
    println!(
        "{{\"case\":\"get_domains\",\"clients\":{clients},\"seconds\":{elapsed:.2},\"ok\":{ok},\"failed\":{other},\"requests_per_second\":{:.0},\"machine_cores\":{}}}",
        ok as f64 / elapsed,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    emu.stop();
}
