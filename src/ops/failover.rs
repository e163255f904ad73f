//! `failover`: move federated domains to managed sign-in (password hash sync). Pre-flight first; then,
//! for each domain, a backup of its federation settings, a journal intent, the conversion, and a read
//! back that confirms it.

use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};

use super::backup::{self, Backup};
use super::farm::{fetch_metadata, metadata_url_for};
use super::journal::{self, Entry};
use super::plan::{Outcome, Plan};
use super::status::{federation, last_password_sync, sync_settings, who};
use super::{OpsError, Progress, Session};
use crate::auth::claims::Task;
use crate::graph::encode;
use crate::graph::models::{AuthenticationType, Domain, parse_graph_time};

/// How many domains are under way at once. The Graph client's adaptive limit decides how many
/// requests are really in flight; this only keeps enough work queued for it.
const DOMAINS_AT_ONCE: usize = 32;

/// A pre-flight read younger than this is the backup: a run confirmed straight away (`--yes`) does
/// not read every domain twice. An older one (a plan looked at for a while) is read again.
const FRESH: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct Options {
    pub domains: Vec<String>,
    pub all_federated: bool,
    /// How recent the last password sync must be.
    pub sync_window: Duration,
    pub accept_unsynced: bool,
    /// Write no Seamless SSO script (`--no-sso`).
    pub skip_sso: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct DomainResult {
    pub domain: String,
    /// `converted`, `already managed`, `failed` or `not started`.
    pub outcome: String,
    pub backup: Option<String>,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub domains: Vec<DomainResult>,
    pub requests: u64,
}

pub struct Prepared {
    pub plan: Plan,
    /// Each domain to convert, with the domain object as listed (kept in its backup).
    targets: Vec<(String, Value)>,
    /// The federation settings the pre-flight read of each target (`None`: none), and when.
    read: std::collections::HashMap<String, Option<Value>>,
    read_at: std::time::Instant,
}

pub async fn prepare(s: &Session, o: &Options) -> Result<Prepared, OpsError> {
    let mut plan = Plan::new(
        "Change user sign-in to password hash synchronization",
        &s.tenant,
    );
    // Independent reads go out together; the named domains' federation settings too (the farm
    // check needs them, and a run that follows at once takes them as its backups).
    let read_at = std::time::Instant::now();
    let named: Vec<String> = if o.all_federated {
        vec![]
    } else {
        o.domains.clone()
    };
    let (me, domains, sync, last, early, policies) = futures_util::try_join!(
        who(s),
        async { Ok::<Vec<Domain>, OpsError>(s.graph.list("/v1.0/domains").await?) },
        sync_settings(s),
        async { Ok(last_password_sync(s).await) },
        async { Ok(read_federations(s, named).await) },
        async { Ok(super::security::read_policies(s).await) },
    )?;
    plan.permissions(&me, Task::ConvertDomains, "convert domains");
    plan.checks.push(super::operator::check(
        &me,
        domains.iter().map(|d| {
            (
                d.id.as_deref().unwrap_or_default(),
                d.authentication_type == Some(AuthenticationType::Federated),
            )
        }),
    ));
    let find = |name: &str| {
        domains.iter().find(|d| {
            d.id.as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(name))
        })
    };
    let mut targets: Vec<String> = vec![];
    if o.all_federated {
        for d in &domains {
            if d.authentication_type == Some(AuthenticationType::Federated)
                && d.is_root != Some(false)
            {
                targets.push(d.id.clone().unwrap_or_default());
            }
        }
        if targets.is_empty() {
            plan.check(
                "domains",
                Outcome::Pass,
                "no federated root domain: nothing to convert",
            );
        }
    }
    for name in &o.domains {
        let Some(d) = find(name) else {
            return Err(OpsError::Input(format!(
                "the tenant has no domain {name:?}"
            )));
        };
        let id = d.id.clone().unwrap_or_default();
        if d.is_root == Some(false) {
            let root = domains
                .iter()
                .filter(|r| r.is_root != Some(false))
                .filter_map(|r| r.id.clone())
                .find(|r| {
                    id.to_ascii_lowercase()
                        .ends_with(&format!(".{}", r.to_ascii_lowercase()))
                });
            plan.check(
                &format!("domain {id}"),
                Outcome::Fail,
                format!(
                    "a subdomain inherits its sign-in from its root{}: convert the root domain, and its subdomains follow",
                    root.map(|r| format!(" {r}")).unwrap_or_default()
                ),
            );
            continue;
        }
        if d.authentication_type != Some(AuthenticationType::Federated) {
            plan.check(
                &format!("domain {id}"),
                Outcome::Pass,
                "already managed: nothing to do",
            );
            continue;
        }
        if !targets.iter().any(|t| t.eq_ignore_ascii_case(&id)) {
            targets.push(id);
        }
    }
    // Password hash sync must be on and recent, or users are told their password is wrong.
    if sync.features.as_ref().and_then(|f| f.password_sync_enabled) != Some(true) {
        plan.check(
            "password hash sync",
            Outcome::Fail,
            "off: turn it on first (enable-phs) and let it run, or users cannot sign in",
        );
    } else {
        let age = last
            .as_deref()
            .and_then(parse_graph_time)
            .map(|t| time::OffsetDateTime::now_utc() - t);
        match (last, age) {
            (Some(t), Some(age)) if age.whole_seconds() <= o.sync_window.as_secs() as i64 => plan
                .check(
                    "password hash sync",
                    Outcome::Pass,
                    format!("on; last password sync {t}"),
                ),
            (last, _) => {
                let when = last
                    .map(|t| format!("the last password sync ran at {t}"))
                    .unwrap_or_else(|| "no password sync is known".into());
                // Only here, where it explains a refusal, are the engines read.
                let why = match super::sync_engines::detect(s).await {
                    Ok(e) => super::sync_engines::why_no_hashes(
                        &e,
                        &super::enable_phs::default_script_path(
                            &s.home,
                            &s.tenant,
                            e.connect.as_ref().and_then(|c| c.server.as_deref()),
                        ),
                    ),
                    Err(e) => format!("the sync engines could not be read: {e}"),
                };
                let outcome = if o.accept_unsynced {
                    Outcome::Warn
                } else {
                    Outcome::Fail
                };
                plan.check(
                    "password hash sync",
                    outcome,
                    format!(
                        "{when}, not within {}s: users without a hash cannot sign in. {why}{}",
                        o.sync_window.as_secs(),
                        if o.accept_unsynced {
                            " (accepted with --accept-unsynced)"
                        } else {
                            "; pass --accept-unsynced to go on anyway"
                        }
                    ),
                );
            }
        }
    }
    // What changes about passwords once Entra ID checks them: from the settings already read.
    plan.checks
        .extend(super::password_policy::checks(sync.features.as_ref()));
    // The farm's health, shown: don't switch for a temporary reason.
    // Each target's farm, read a few at a time; each farm is then probed once.
    // Each target's settings: read with the first requests when named, else now.
    let mut early: std::collections::HashMap<String, Result<Option<FedRead>, OpsError>> = early
        .into_iter()
        .map(|(id, r)| (id.to_ascii_lowercase(), r))
        .collect();
    let missing: Vec<String> = targets
        .iter()
        .filter(|t| !early.contains_key(&t.to_ascii_lowercase()))
        .cloned()
        .collect();
    for (id, r) in read_federations(s, missing).await {
        early.insert(id.to_ascii_lowercase(), r);
    }
    let mut farms: Vec<url::Url> = vec![];
    let mut read = std::collections::HashMap::new();
    for id in &targets {
        let key = id.to_ascii_lowercase();
        // A read that failed for a domain the run would change is an error; for one it leaves
        // alone (a subdomain, a managed domain) it is not.
        let f = match early.remove(&key) {
            Some(r) => r?,
            None => None,
        };
        if let Some(url) = f
            .as_ref()
            .and_then(|(f, _)| f.passive_sign_in_uri.as_deref().and_then(metadata_url_for))
        {
            farms.push(url);
        }
        read.insert(key, f.map(|(_, raw)| raw));
    }
    let mut services = std::collections::BTreeSet::new();
    for url in farms {
        if services.insert(url.host_str().unwrap_or_default().to_string()) {
            match fetch_metadata(s, &url).await {
                Ok(_) => plan.check(
                    &format!("AD FS {}", url.host_str().unwrap_or_default()),
                    Outcome::Warn,
                    "the farm answers right now: don't switch for a temporary reason",
                ),
                // Why one fails over, not a passed check.
                Err(e) => plan.check(
                    &format!("AD FS {}", url.host_str().unwrap_or_default()),
                    Outcome::Info,
                    format!("down: {}", e.0),
                ),
            }
        }
    }
    // What stops protecting users when AD FS leaves the path: it warns, never blocks.
    if !targets.is_empty() {
        let with_settings: Vec<(String, Option<Value>)> = targets
            .iter()
            .map(|id| {
                let raw = read.get(&id.to_ascii_lowercase()).cloned().flatten();
                (id.clone(), raw)
            })
            .collect();
        plan.checks
            .extend(super::security::checks(s, &with_settings, policies));
    }
    // The runbook's "Enable single sign-on": Graph cannot reach it; the script for the Connect server
    // goes beside the farm's scripts (the forests to check: the domains converted).
    if !targets.is_empty() {
        if o.skip_sso {
            plan.check(
                "Seamless SSO",
                Outcome::Info,
                "not checked (--no-sso): users on domain-joined computers that are not hybrid joined type their password where their forest has no Seamless SSO; `entra-failover enable-sso` writes the script",
            );
        } else {
            let path = super::enable_sso::default_script_path(&s.home, &s.tenant, None);
            super::enable_sso::write_script(s, &path, None, &targets)?;
            plan.check(
                "Seamless SSO",
                Outcome::Info,
                super::enable_sso::check_line(&path, None, &targets),
            );
        }
    }
    for id in &targets {
        let d = encode(id);
        plan.step(
            Some(id),
            "GET",
            &format!("/v1.0/domains/{d}/federationConfiguration"),
            None,
            "back up the federation settings",
        );
        plan.step(
            Some(id),
            "PATCH",
            &format!("/v1.0/domains/{d}"),
            Some(json!({"authenticationType": "Managed"})),
            "convert to managed sign-in",
        );
        plan.step(
            Some(id),
            "GET",
            &format!("/v1.0/domains/{d}"),
            None,
            "confirm it is managed",
        );
    }
    let targets = targets
        .into_iter()
        .map(|id| {
            let object = find(&id)
                .and_then(|d| serde_json::to_value(d).ok())
                .unwrap_or(Value::Null);
            (id, object)
        })
        .collect();
    Ok(Prepared {
        plan,
        targets,
        read,
        read_at,
    })
}

type FedRead = (crate::graph::models::InternalDomainFederation, Value);

/// The federation settings of each domain, read a few at a time; each answer stands alone.
async fn read_federations(
    s: &Session,
    ids: Vec<String>,
) -> Vec<(String, Result<Option<FedRead>, OpsError>)> {
    futures_util::stream::iter(ids)
        .map(|id| async move {
            let r = federation(s, &id).await;
            (id, r)
        })
        .buffered(DOMAINS_AT_ONCE)
        .collect()
        .await
}

fn entry(domain: &str, phase: &str, backup: Option<(&str, &str)>, detail: &str) -> Entry {
    Entry::new("failover", domain, phase, detail)
        .with_backup(backup.map(|b| b.0), backup.map(|b| b.1))
}

/// Appends journal lines off the async workers (each is fsync'd), so that other domains' requests
/// go on meanwhile.
async fn journal_off_thread(s: &Session, entry: Entry) -> Result<(), OpsError> {
    let (home, tenant) = (s.home.clone(), s.tenant.clone());
    tokio::task::spawn_blocking(move || journal::append(&home, &tenant, &entry))
        .await
        .map_err(|e| OpsError::Input(format!("the journal writer stopped: {e}")))?
}

/// What one domain's conversion starts from.
struct Start<'a> {
    id: &'a str,
    object: Value,
    /// The pre-flight's read of its federation settings, when still fresh.
    read: Option<Option<Value>>,
    /// This tenant's backup files, listed once for the run.
    backups: &'a [std::path::PathBuf],
    stop: &'a std::sync::atomic::AtomicBool,
}

async fn convert(
    s: &Session,
    start: Start<'_>,
    progress: &dyn Progress,
) -> Result<DomainResult, OpsError> {
    let id = start.id;
    let d = encode(id);
    progress.event(Some(id), "backing up the federation settings");
    // The backup read doubles as the state check: no settings means the domain is managed already —
    // unless Graph still calls it federated (a failed create once left domains so).
    let raw = match start.read {
        Some(read) => read,
        None => federation(s, id).await?.map(|(_, raw)| raw),
    };
    let Some(raw) = raw else {
        let now: Value = s.graph.get(&format!("/v1.0/domains/{d}")).await?;
        if now["authenticationType"] == "Federated" {
            let why = "Graph calls the domain federated but returns no federation settings: there is nothing to back up, so it is left as it is; fix it in the Entra admin center";
            journal_off_thread(s, entry(id, "failed", None, why)).await?;
            return Ok(DomainResult {
                domain: id.into(),
                outcome: "failed".into(),
                backup: None,
                detail: why.into(),
            });
        }
        journal_off_thread(s, entry(id, "noop", None, "already managed")).await?;
        return Ok(DomainResult {
            domain: id.into(),
            outcome: "already managed".into(),
            backup: None,
            detail: String::new(),
        });
    };
    // After another domain failed, nothing more is changed: this one stays as it is.
    if start.stop.load(std::sync::atomic::Ordering::SeqCst) {
        return Ok(not_started(id));
    }
    // A rerun after an interruption finds these very settings backed up already: one backup, not two.
    let (path, b) = match backup::latest_among(start.backups, id) {
        Some((path, b)) if b.federation == raw => (path, b),
        _ => {
            let b = Backup::new(&s.tenant, id, start.object, raw);
            let home = s.home.clone();
            tokio::task::spawn_blocking(move || backup::write(&home, &b).map(|p| (p, b)))
                .await
                .map_err(|e| OpsError::Input(format!("the backup writer stopped: {e}")))??
        }
    };
    let path_text = path.display().to_string();
    journal_off_thread(
        s,
        entry(
            id,
            "intent",
            Some((&path_text, &b.sha256)),
            "Federated -> Managed",
        ),
    )
    .await?;
    progress.event(Some(id), "converting to managed sign-in");
    let result = s
        .graph
        .send(
            reqwest::Method::PATCH,
            &format!("/v1.0/domains/{d}"),
            Some(&json!({"authenticationType": "Managed"})),
        )
        .await;
    // Whatever the answer, the domain's real state decides what happened.
    let after: Value = s.graph.get(&format!("/v1.0/domains/{d}")).await?;
    if after["authenticationType"] == "Managed" {
        s.read_back.managed(id);
        let mut done = entry(
            id,
            "done",
            Some((&path_text, &b.sha256)),
            "read back: Managed",
        );
        done.request_id = result.as_ref().ok().and_then(|r| r.request_id.clone());
        journal_off_thread(s, done).await?;
        progress.event(Some(id), "converted");
        return Ok(DomainResult {
            domain: id.into(),
            outcome: "converted".into(),
            backup: Some(path_text),
            detail: String::new(),
        });
    }
    let why = match result {
        Err(e) => e.to_string(),
        Ok(_) => "Graph accepted the change but the domain still reads as federated".into(),
    };
    journal_off_thread(s, entry(id, "failed", Some((&path_text, &b.sha256)), &why)).await?;
    Ok(DomainResult {
        domain: id.into(),
        outcome: "failed".into(),
        backup: Some(path_text),
        detail: why,
    })
}

fn not_started(id: &str) -> DomainResult {
    DomainResult {
        domain: id.into(),
        outcome: "not started".into(),
        backup: None,
        detail: String::new(),
    }
}

pub async fn run(s: &Session, p: Prepared, progress: &dyn Progress) -> Result<Report, OpsError> {
    let _lock = super::lock::acquire(&s.home, &s.tenant)?;
    if let Some(f) = p.plan.failed().first() {
        return Err(OpsError::Refused(format!("{}: {}", f.name, f.detail)));
    }
    let before = s.graph.requests_sent();
    let backups = {
        let (home, tenant) = (s.home.clone(), s.tenant.clone());
        tokio::task::spawn_blocking(move || backup::list(&home, &tenant))
            .await
            .map_err(|e| OpsError::Input(format!("listing backups stopped: {e}")))??
    };
    let backups = &backups;
    let fresh = p.read_at.elapsed() < FRESH;
    let mut reads = p.read;
    // Domains convert side by side (the Graph client bounds the requests in flight). After a failure no
    // domain is changed any more; those whose change is under way finish, so that none is left half-done.
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stop = &stop;
    let work: Vec<(usize, String, Value, Option<Option<Value>>)> = p
        .targets
        .into_iter()
        .enumerate()
        .map(|(i, (id, object))| {
            let read = reads.remove(&id.to_ascii_lowercase()).filter(|_| fresh);
            (i, id, object, read)
        })
        .collect();
    let mut results: Vec<(usize, DomainResult, Option<String>)> = futures_util::stream::iter(work)
        .map(|(i, id, object, read)| async move {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                return (i, not_started(&id), None);
            }
            let start = Start {
                id: &id,
                object,
                read,
                backups,
                stop,
            };
            let (r, failure) = match convert(s, start, progress).await {
                Ok(r) if r.outcome == "failed" => {
                    let why = format!("{id}: {}", r.detail);
                    (r, Some(why))
                }
                Ok(r) => (r, None),
                Err(e) => (
                    DomainResult {
                        domain: id.clone(),
                        outcome: "failed".into(),
                        backup: None,
                        detail: e.to_string(),
                    },
                    Some(format!("{id}: {e}")),
                ),
            };
            if failure.is_some() {
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            }
            (i, r, failure)
        })
        .buffer_unordered(DOMAINS_AT_ONCE)
        .collect()
        .await;
    results.sort_by_key(|(i, _, _)| *i);
    let stopped = results.iter().find_map(|(_, _, f)| f.clone());
    let results: Vec<DomainResult> = results.into_iter().map(|(_, r, _)| r).collect();
    let report = Report {
        domains: results,
        requests: s.graph.requests_sent() - before,
    };
    if let Some(why) = stopped {
        let summary: Vec<String> = report
            .domains
            .iter()
            .map(|d| format!("{} {}", d.domain, d.outcome))
            .collect();
        return Err(OpsError::Partial(format!(
            "stopped at {why}. Domains: {}",
            summary.join(", ")
        )));
    }
    Ok(report)
}

/// Polls user realm until every domain reads as `want` (Managed or Federated), or the timeout.
pub async fn wait_for_realm(
    s: &Session,
    domains: &[String],
    want: crate::login::Namespace,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<(), OpsError> {
    let deadline = std::time::Instant::now() + timeout;
    for d in domains {
        loop {
            let realm = s.login.user_realm(&format!("realm-probe@{d}")).await?;
            if realm.namespace == want {
                progress.event(Some(d), &format!("user realm says {want:?}"));
                break;
            }
            if std::time::Instant::now() >= deadline {
                return Err(OpsError::Partial(format!(
                    "{d}: user realm still says {:?} after {}s; the change is made and takes effect within minutes, up to an hour",
                    realm.namespace,
                    timeout.as_secs()
                )));
            }
            progress.event(
                Some(d),
                &format!("user realm still says {:?}; waiting", realm.namespace),
            );
            tokio::time::sleep(Duration::from_secs(5).min(timeout)).await;
        }
    }
    Ok(())
}
