//! The Graph and login clients against the rehearsal tenant's faults and error classes.

use std::sync::Arc;

use entra_failover::auth::credentials::PasswordCredential;
use entra_failover::auth::{SharedCredential, credentials};
use entra_failover::emulator::{Config, Emulator, Info};
use entra_failover::graph::GraphClient;
use entra_failover::graph::client::RetryPolicy;
use entra_failover::graph::models::Domain;
use entra_failover::login::LoginClient;
use entra_failover::ops::session::{FarmLocator, http_client};
use entra_failover::ops::{Quiet, Session, enable_phs, failover, switch_back};
use secrecy::SecretString;
use serde_json::{Value, json};
use url::Url;

pub struct Tenant {
    pub emu: Emulator,
    pub info: Info,
    pub home: tempfile::TempDir,
}

impl Tenant {
    pub async fn start(scenario: Option<&str>) -> Tenant {
        let home = tempfile::tempdir().unwrap();
        let mut cfg = Config::new(home.path().join("state"));
        if let Some(s) = scenario {
            let p = home.path().join("scenario.toml");
            std::fs::write(&p, s).unwrap();
            cfg.scenario = Some(p);
        }
        let emu = Emulator::start(cfg).await.unwrap();
        let info = emu.info().clone();
        Tenant { emu, info, home }
    }

    pub fn login(&self) -> LoginClient {
        LoginClient::new(
            http_client(Some(&self.info.ca_file)).unwrap(),
            Url::parse(&self.info.login_url).unwrap(),
        )
    }

    pub fn admin(&self) -> SharedCredential {
        Arc::new(PasswordCredential::new(
            self.login(),
            &self.info.tenant_id,
            &self.info.client_id,
            &self.info.admin_upn,
            SecretString::from(self.info.admin_password.clone()),
        ))
    }

    pub fn app(&self) -> SharedCredential {
        let http = http_client(Some(&self.info.ca_file)).unwrap();
        Arc::new(
            credentials::client_secret(
                &self.info.tenant_id,
                &self.info.client_id,
                &SecretString::from(self.info.client_secret.clone()),
                &Url::parse(&self.info.login_url).unwrap(),
                http,
            )
            .unwrap(),
        )
    }

    pub fn session(&self, credential: SharedCredential) -> Session {
        let http = http_client(Some(&self.info.ca_file)).unwrap();
        let graph = GraphClient::new(
            http.clone(),
            Url::parse(&self.info.graph_url).unwrap(),
            credential,
            8,
        )
        .with_retry(RetryPolicy {
            base_backoff: std::time::Duration::from_millis(50),
            ..RetryPolicy::default()
        });
        Session {
            profile: "test".into(),
            tenant: self.info.tenant_id.clone(),
            graph,
            login: self.login(),
            http,
            farms: FarmLocator::with(
                self.info
                    .adfs
                    .iter()
                    .map(|(k, v)| (k.clone(), Url::parse(v).unwrap())),
            ),
            home: self.home.path().join("home"),
            ca_file: Some(self.info.ca_file.clone()),
            test_client_id: self.info.client_id.clone(),
            rehearsal: None,
            notices: vec![],
            read_back: Default::default(),
        }
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let http = http_client(Some(&self.info.ca_file)).unwrap();
        let r = http
            .post(format!("{}{path}", self.info.control_url))
            .bearer_auth(&self.info.control_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    }

    pub fn log_count(&self, method: &str, path: &str) -> usize {
        self.emu
            .requests()
            .iter()
            .filter(|e| e.method == method && e.path == path)
            .count()
    }
}

/// Password hash sync on, as on the day: enable-phs, the script it writes run on the Connect server
/// (simulated), then a sync cycle.
async fn hashes_arrive(t: &Tenant, s: &entra_failover::ops::Session) {
    let p = enable_phs::prepare(s, &Default::default()).await.unwrap();
    enable_phs::run(s, p, &Quiet).await.unwrap();
    t.control("/connect/script", json!({})).await;
    t.control("/sync", json!({})).await;
}

#[tokio::test]
async fn throttling_and_outages_are_retried_with_retry_after() {
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    t.control("/faults", json!({"method": "GET", "path_prefix": "/v1.0/domains", "status": 429, "retry_after": "0.3", "count": 1})).await;
    t.control(
        "/faults",
        json!({"method": "GET", "path_prefix": "/v1.0/domains", "status": 503, "count": 1}),
    )
    .await;
    t.control(
        "/faults",
        json!({"method": "GET", "path_prefix": "/v1.0/domains", "status": 504, "count": 1}),
    )
    .await;
    t.control(
        "/faults",
        json!({"method": "GET", "path_prefix": "/v1.0/domains", "kind": "reset", "count": 1}),
    )
    .await;
    let start = std::time::Instant::now();
    let domains: Vec<Domain> = s.graph.list("/v1.0/domains").await.unwrap();
    assert_eq!(domains.len(), 5);
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(300),
        "Retry-After was honoured"
    );
    let statuses: Vec<u16> = t
        .emu
        .requests()
        .iter()
        .filter(|e| e.path == "/v1.0/domains")
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, [429, 503, 504, 0, 200]);
    // Every request carried its own client-request-id.
    let ids: std::collections::BTreeSet<_> = t
        .emu
        .requests()
        .iter()
        .filter_map(|e| e.client_request_id.clone())
        .collect();
    assert!(ids.len() >= 5);
}

#[tokio::test]
async fn a_lasting_outage_gives_up_with_graphs_error() {
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    t.control(
        "/faults",
        json!({"path_prefix": "/v1.0/organization", "status": 503, "retry_after": "0.01"}),
    )
    .await;
    let err = s
        .graph
        .list::<Value>("/v1.0/organization")
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));
    assert!(err.to_string().contains("request-id"), "{err}");
    assert_eq!(
        t.log_count("GET", "/v1.0/organization"),
        6,
        "bounded attempts"
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once() {
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    let _: Vec<Domain> = s.graph.list("/v1.0/domains").await.unwrap();
    // The emulated clock moves past the token's lifetime: Graph answers 401, the client signs in again.
    t.control("/clock", json!({"advance_s": 3600 + 400})).await;
    let _: Vec<Domain> = s.graph.list("/v1.0/domains").await.unwrap();
    let statuses: Vec<u16> = t
        .emu
        .requests()
        .iter()
        .filter(|e| e.path == "/v1.0/domains")
        .map(|e| e.status)
        .collect();
    assert_eq!(statuses, [200, 401, 200]);
}

#[tokio::test]
async fn missing_permissions_are_named_before_any_change() {
    let t = Tenant::start(None).await;
    let s = t.session(t.app());
    let p = enable_phs::prepare(&s, &Default::default()).await.unwrap();
    let failed = p.plan.failed();
    assert_eq!(failed.len(), 1);
    assert!(
        failed[0]
            .detail
            .contains("OnPremDirectorySynchronization.ReadWrite.All"),
        "{}",
        failed[0].detail
    );
    let err = enable_phs::run(&s, p, &Quiet).await.unwrap_err();
    assert_eq!(err.exit_code(), 3);
    assert_eq!(
        t.log_count(
            "PATCH",
            &format!(
                "/v1.0/directory/onPremisesSynchronization/{}",
                t.emu.tenant().sync.id
            )
        ),
        0
    );
    // Graph's own 403, when a call is made anyway, keeps its code and request id.
    let e = s
        .graph
        .send(
            reqwest::Method::PATCH,
            &format!(
                "/v1.0/directory/onPremisesSynchronization/{}",
                t.emu.tenant().sync.id
            ),
            Some(&json!({"features": {"passwordSyncEnabled": true}})),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert_eq!(e.code(), Some("Authorization_RequestDenied"));
    // 404 is named as not found.
    let e = s
        .graph
        .get::<Value>("/v1.0/domains/nowhere.example")
        .await
        .unwrap_err();
    assert!(e.is_not_found());
}

#[tokio::test]
async fn failover_backs_up_converts_and_confirms_with_the_fewest_requests() {
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    hashes_arrive(&t, &s).await;
    t.control("/adfs/sts.contoso.com", json!({"state": "down"}))
        .await;
    let o = failover::Options {
        domains: vec!["contoso.com".into(), "fabrikam.com".into()],
        all_federated: false,
        sync_window: std::time::Duration::from_secs(3 * 3600),
        accept_unsynced: false,
        skip_sso: false,
    };
    let before = s.graph.requests_sent();
    let p = failover::prepare(&s, &o).await.unwrap();
    assert!(p.plan.failed().is_empty(), "{}", p.plan);
    let r = failover::run(&s, p, &Quiet).await.unwrap();
    assert_eq!(r.domains.len(), 2);
    // Per domain: the backup read (made by the pre-flight, which a run straight after reuses), the
    // change, the confirming read; plus the pre-flight's three (domains, sync settings, last sync)
    // and its security check's one (the Conditional Access policies).
    assert_eq!(r.requests, 4, "{r:?}");
    assert_eq!(s.graph.requests_sent() - before, 3 + 1 + 3 * 2);
    let tenant = t.emu.tenant();
    for d in ["contoso.com", "fabrikam.com"] {
        assert!(
            tenant.domains[tenant.domain_index(d).unwrap()]
                .federation
                .is_none()
        );
    }
    let (path, b) = entra_failover::ops::backup::latest(&s.home, &s.tenant, "fabrikam.com")
        .unwrap()
        .unwrap();
    assert_eq!(
        b.federation["issuerUri"],
        "http://fabrikam.com/adfs/services/trust/"
    );
    // The owner's alone: 0600 in a 0700 folder on Unix, an owner-only access list on Windows.
    assert!(entra_failover::files::is_owner_only(&path).unwrap());
    assert!(entra_failover::files::is_owner_only(path.parent().unwrap()).unwrap());
}

#[tokio::test]
async fn a_non_retryable_error_stops_the_run_with_a_summary() {
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    hashes_arrive(&t, &s).await;
    let o = failover::Options {
        domains: vec!["contoso.com".into(), "fabrikam.com".into()],
        all_federated: false,
        sync_window: std::time::Duration::from_secs(3 * 3600),
        accept_unsynced: false,
        skip_sso: false,
    };
    let p = failover::prepare(&s, &o).await.unwrap();
    t.control("/faults", json!({"method": "PATCH", "path_prefix": "/v1.0/domains/contoso.com", "status": 400, "count": 1})).await;
    let err = failover::run(&s, p, &Quiet).await.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    let text = err.to_string();
    // Every domain's state is in the summary, and each matches the tenant: converted ones are managed,
    // the failed one and those never started are still federated. Nothing is half-done.
    assert!(text.contains("contoso.com failed"), "{text}");
    let tenant = t.emu.tenant();
    for d in ["contoso.com", "fabrikam.com"] {
        let federated = tenant.domains[tenant.domain_index(d).unwrap()]
            .federation
            .is_some();
        let converted = text.contains(&format!("{d} converted"));
        let untouched =
            text.contains(&format!("{d} failed")) || text.contains(&format!("{d} not started"));
        assert!(converted != untouched, "{d}: {text}");
        assert_eq!(federated, untouched, "{d}: {text}");
    }
}

#[tokio::test]
async fn switch_back_with_a_taken_issuer_reports_graphs_409() {
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    let o = switch_back::Options {
        domain: "northwind.com".into(),
        source: switch_back::Source::Metadata {
            url: "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml".into(),
            issuer: Some("http://fabrikam.com/adfs/services/trust/".into()),
        },
        force: false,
    };
    let p = switch_back::prepare(&s, &o).await.unwrap();
    assert!(p.plan.failed().is_empty(), "{}", p.plan);
    let err = switch_back::run(&s, p, &Quiet).await.unwrap_err();
    assert_eq!(err.exit_code(), 4);
    assert!(err.to_string().contains("409"), "{err}");
    assert!(err.to_string().contains("still managed"), "{err}");
    // With its own issuer it federates.
    let o = switch_back::Options {
        source: switch_back::Source::Metadata {
            url: "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml".into(),
            issuer: Some("http://northwind.com/adfs/services/trust/".into()),
        },
        ..o
    };
    let r = switch_back::run(&s, switch_back::prepare(&s, &o).await.unwrap(), &Quiet)
        .await
        .unwrap();
    assert_eq!(r.outcome, "federated");
    // A farm that is down is refused, unless forced.
    t.control("/adfs/sts.contoso.com", json!({"state": "down"}))
        .await;
    let err = switch_back::prepare(
        &s,
        &switch_back::Options {
            domain: "fabrikam.com".into(),
            ..o.clone()
        },
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.exit_code(), 3);
}

#[tokio::test]
async fn resume_finishes_interrupted_changes_against_the_real_state() {
    use entra_failover::ops::backup::{self, Backup};
    use entra_failover::ops::journal::{self, Entry};
    use entra_failover::ops::{resume, status};
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    let intent = |domain: &str, backup: Option<String>| {
        Entry::new("failover", domain, "intent", "Federated -> Managed")
            .with_backup(backup.as_deref(), None)
    };
    // Interrupted before the change: the backup and the intent are on disk, the PATCH never went out.
    let (_, raw) = status::federation(&s, "contoso.com")
        .await
        .unwrap()
        .unwrap();
    let object: Value = s.graph.get("/v1.0/domains/contoso.com").await.unwrap();
    let path = backup::write(&s.home, &Backup::new(&s.tenant, "contoso.com", object, raw)).unwrap();
    journal::append(
        &s.home,
        &s.tenant,
        &intent("contoso.com", Some(path.display().to_string())),
    )
    .unwrap();
    // Interrupted after the change: fabrikam.com was converted, the done line never written.
    journal::append(&s.home, &s.tenant, &intent("fabrikam.com", None)).unwrap();
    s.graph
        .send(
            reqwest::Method::PATCH,
            "/v1.0/domains/fabrikam.com",
            Some(&json!({"authenticationType": "Managed"})),
        )
        .await
        .unwrap();

    let st = status::status(&s).await.unwrap();
    assert_eq!(
        st.interrupted.len(),
        2,
        "status reports the interrupted changes meanwhile"
    );
    let r = resume::run(&s, &Quiet).await.unwrap();
    let got: Vec<(String, String)> = r
        .items
        .iter()
        .map(|i| (i.domain.clone(), i.outcome.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("contoso.com".to_string(), "finished".to_string()),
            ("fabrikam.com".to_string(), "already done".to_string())
        ]
    );
    assert_eq!(
        t.log_count("PATCH", "/v1.0/domains/fabrikam.com"),
        1,
        "a change that was made is not made twice"
    );
    assert_eq!(t.log_count("PATCH", "/v1.0/domains/contoso.com"), 1);
    let tenant = t.emu.tenant();
    assert!(
        tenant.domains[tenant.domain_index("contoso.com").unwrap()]
            .federation
            .is_none()
    );
    assert!(
        journal::pending(&journal::read(&s.home, &s.tenant).unwrap()).is_empty(),
        "no dangling intent"
    );
    // Resuming again has nothing to do.
    assert!(resume::run(&s, &Quiet).await.unwrap().items.is_empty());
}

#[tokio::test]
async fn switch_back_to_other_settings_is_refused_showing_the_difference() {
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    let o = switch_back::Options {
        domain: "fabrikam.com".into(),
        source: switch_back::Source::Metadata {
            url: "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml".into(),
            issuer: Some("http://other.example/adfs/services/trust/".into()),
        },
        force: false,
    };
    let p = switch_back::prepare(&s, &o).await.unwrap();
    let failed = p.plan.failed();
    assert_eq!(failed.len(), 1);
    assert!(failed[0].detail.contains("issuerUri: http://fabrikam.com/adfs/services/trust/ now, http://other.example/adfs/services/trust/ in the source"), "{}", failed[0].detail);
}

#[tokio::test]
async fn two_hundred_concurrent_clients_get_correct_answers() {
    let t = Tenant::start(None).await;
    let s = t.session(t.app());
    // One token, then 200 clients at once, each with its own connections.
    let token = s.graph.credential().token().await.unwrap();
    let mut tasks = vec![];
    for i in 0..200 {
        let http = http_client(Some(&t.info.ca_file)).unwrap();
        let url = format!(
            "{}/v1.0/domains/{}",
            t.info.graph_url,
            if i % 2 == 0 {
                "contoso.com"
            } else {
                "northwind.com"
            }
        );
        let bearer = secrecy::ExposeSecret::expose_secret(&token.token).to_string();
        tasks.push(tokio::spawn(async move {
            let mut answers = vec![];
            for _ in 0..5 {
                let r = http.get(&url).bearer_auth(&bearer).send().await.unwrap();
                assert_eq!(r.status(), 200);
                let v: Value = r.json().await.unwrap();
                answers.push(v["authenticationType"].as_str().unwrap().to_string());
            }
            (i, answers)
        }));
    }
    for task in tasks {
        let (i, answers) = task.await.unwrap();
        let want = if i % 2 == 0 { "Federated" } else { "Managed" };
        assert!(answers.iter().all(|a| a == want), "client {i}: {answers:?}");
    }
    assert_eq!(
        t.emu
            .requests()
            .iter()
            .filter(|e| e.status == 200 && e.path.starts_with("/v1.0/domains/"))
            .count(),
        1000
    );
}

#[tokio::test]
async fn every_fault_class_during_failover_and_switch_back_loses_and_duplicates_nothing() {
    use entra_failover::ops::{backup, journal};
    let t = Tenant::start(Some("[generate]\nfederated_domains = 6\n")).await;
    let mut s = t.session(t.admin());
    // A timeout that no answer reaches on a busy machine; the held read below never answers.
    s.graph = s.graph.clone().with_retry(RetryPolicy {
        timeout: std::time::Duration::from_secs(4),
        base_backoff: std::time::Duration::from_millis(20),
        ..RetryPolicy::default()
    });
    hashes_arrive(&t, &s).await;
    let domains: Vec<String> = (1..=6).map(|i| format!("d{i}.example")).collect();
    let o = failover::Options {
        domains: domains.clone(),
        all_federated: false,
        sync_window: std::time::Duration::from_secs(3 * 3600),
        accept_unsynced: false,
        skip_sso: false,
    };
    let p = failover::prepare(&s, &o).await.unwrap();
    // One fault class per domain, on its change or its reads.
    t.control("/faults", json!({"method": "PATCH", "path_prefix": "/v1.0/domains/d1.example", "status": 429, "retry_after": "0.25", "count": 2})).await;
    t.control("/faults", json!({"method": "PATCH", "path_prefix": "/v1.0/domains/d2.example", "status": 503, "count": 1})).await;
    t.control("/faults", json!({"method": "PATCH", "path_prefix": "/v1.0/domains/d3.example", "status": 504, "count": 1})).await;
    t.control("/faults", json!({"method": "PATCH", "path_prefix": "/v1.0/domains/d4.example", "kind": "reset", "count": 1})).await;
    // d5's confirming read gets no answer: the client times out and reads again.
    t.control(
        "/faults",
        json!({"method": "GET", "path": "/v1.0/domains/d5.example", "kind": "hold", "count": 1}),
    )
    .await;
    // The token expires before the last domain: one 401, one refresh.
    t.control("/clock", json!({"advance_s": 3600 + 400})).await;
    let started = std::time::Instant::now();
    let r = failover::run(&s, p, &Quiet).await.unwrap();
    assert!(r.domains.iter().all(|d| d.outcome == "converted"), "{r:?}");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(4),
        "d5's first confirming read waited for the timeout"
    );
    let tenant = t.emu.tenant();
    for d in &domains {
        assert!(
            tenant.domains[tenant.domain_index(d).unwrap()]
                .federation
                .is_none(),
            "{d}"
        );
        let (_, b) = backup::latest(&s.home, &s.tenant, d).unwrap().unwrap();
        assert_eq!(
            b.federation["issuerUri"],
            format!("http://{d}/adfs/services/trust/")
        );
    }
    let log = t.emu.requests();
    // Domains convert side by side, so which request meets the expired token first varies: the 401s
    // are counted apart, below.
    let patch_statuses = |d: &str| -> Vec<u16> {
        log.iter()
            .filter(|e| e.method == "PATCH" && e.path == format!("/v1.0/domains/{d}"))
            .filter(|e| e.status != 401)
            .map(|e| e.status)
            .collect()
    };
    assert_eq!(patch_statuses("d1.example"), [429, 429, 204]);
    assert_eq!(patch_statuses("d2.example"), [503, 204]);
    assert_eq!(patch_statuses("d3.example"), [504, 204]);
    assert_eq!(
        patch_statuses("d4.example"),
        [0, 204],
        "a dropped connection, then the change once"
    );
    assert!(
        log.iter().any(|e| e.status == 401),
        "the expired token was refused once, then refreshed"
    );
    // Exactly one intent and one done per domain: nothing lost, nothing twice.
    let entries = journal::read(&s.home, &s.tenant).unwrap();
    for d in &domains {
        let phases: Vec<&str> = entries
            .iter()
            .filter(|e| &e.domain == d && e.operation == "failover")
            .map(|e| e.phase.as_str())
            .collect();
        assert_eq!(phases, ["intent", "done"], "{d}");
    }

    // Switch back with faults on the create: a dropped connection after the POST may have been applied.
    t.control("/faults", json!({"method": "POST", "path_prefix": "/v1.0/domains/d1.example/federationConfiguration", "kind": "reset", "count": 1})).await;
    t.control("/faults", json!({"method": "POST", "path_prefix": "/v1.0/domains/d2.example/federationConfiguration", "status": 429, "retry_after": "0.1", "count": 1})).await;
    for d in ["d1.example", "d2.example", "d3.example"] {
        let o = switch_back::Options {
            domain: d.into(),
            source: switch_back::Source::Backup(None),
            force: false,
        };
        let p = switch_back::prepare(&s, &o).await.unwrap();
        match switch_back::run(&s, p, &Quiet).await {
            Ok(r) => assert_eq!(r.outcome, "federated"),
            // The reset POST never reached the tenant: reported, nothing half-done, and a rerun finishes it.
            Err(e) => {
                assert_eq!(d, "d1.example", "{e}");
                assert_eq!(e.exit_code(), 4);
                let p = switch_back::prepare(&s, &o).await.unwrap();
                assert_eq!(
                    switch_back::run(&s, p, &Quiet).await.unwrap().outcome,
                    "federated"
                );
            }
        }
    }
    let tenant = t.emu.tenant();
    for d in ["d1.example", "d2.example", "d3.example"] {
        let f = tenant.domains[tenant.domain_index(d).unwrap()]
            .federation
            .clone()
            .unwrap();
        assert_eq!(
            f.issuer_uri.as_deref(),
            Some(format!("http://{d}/adfs/services/trust/").as_str())
        );
    }
    let created = |d: &str| {
        t.emu
            .requests()
            .iter()
            .filter(|e| {
                e.method == "POST"
                    && e.path == format!("/v1.0/domains/{d}/federationConfiguration")
                    && e.status == 201
            })
            .count()
    };
    assert_eq!(
        (
            created("d1.example"),
            created("d2.example"),
            created("d3.example")
        ),
        (1, 1, 1),
        "each created once"
    );
}

#[tokio::test]
async fn the_request_limit_finds_the_tenants_budget_and_every_request_succeeds() {
    // The tenant serves 4 Graph requests at once and refuses the rest with 429.
    let t = Tenant::start(Some(
        "[generate]\nfederated_domains = 40\n[limits]\nconcurrent_requests = 4\n",
    ))
    .await;
    let s = t.session(t.admin());
    t.control("/faults", json!({"latency_ms": 20})).await;
    let reads = (1..=40).map(|i| {
        let s = &s;
        async move {
            s.graph
                .get::<Value>(&format!(
                    "/v1.0/domains/d{i}.example/federationConfiguration"
                ))
                .await
        }
    });
    let answers = futures_util::future::join_all(reads).await;
    assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");
    let log = t.emu.requests();
    let refused = log.iter().filter(|e| e.status == 429).count();
    // It started above the budget (8), so some were refused — each retried, none lost — and it
    // settled at or below the budget.
    assert!(refused > 0, "the budget was never reached");
    assert!(refused <= 12, "{refused} refused: the limit did not settle");
    assert!(s.graph.limit() <= 4, "limit {}", s.graph.limit());
    let served = log
        .iter()
        .filter(|e| e.status == 200 && e.path.ends_with("/federationConfiguration"))
        .count();
    assert_eq!(served, 40);
}

/// Several domains of one farm: the farm's metadata is read once for them all, not once per domain
/// and check (a hundred domains asked a real farm a hundred times side by side).
#[tokio::test]
async fn switching_back_many_domains_reads_their_farm_once() {
    let t = Tenant::start(None).await;
    let s = t.session(t.admin());
    let url = "https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml";
    let o = |domain: &str, issuer: Option<&str>| switch_back::Options {
        domain: domain.into(),
        source: switch_back::Source::Metadata {
            url: url.into(),
            issuer: issuer.map(str::to_string),
        },
        force: false,
    };
    let before = t.log_count("GET", url);
    let plans = switch_back::prepare_many(
        &s,
        &[
            o("contoso.com", None),
            o(
                "fabrikam.com",
                Some("http://fabrikam.com/adfs/services/trust/"),
            ),
        ],
    )
    .await
    .unwrap();
    assert_eq!(plans.len(), 2);
    assert_eq!(t.log_count("GET", url) - before, 1);
}
