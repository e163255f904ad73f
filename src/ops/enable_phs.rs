//! `enable-phs`: what the Entra Connect wizard's *Password hash synchronization* box does, for each
//! sync engine the tenant has. The tenant's flag (`passwordSyncEnabled`, through Graph) copies no
//! hash by itself: each Cloud Sync configuration needs Microsoft's procedure through Graph — its
//! `AD2AADPasswordHash` job, its `AppKey` and `Domain` secrets, the `CredentialData` mapping on its
//! provisioning job's schema, the job started — backed up, journaled, read back; Connect Sync needs
//! its server's password sync turned on, which only the ADSync module on that server can do: the tool
//! writes that script for the administrator.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::backup::SyncJobsBackup;
use super::journal::{self, Entry};
use super::plan::{Outcome, Plan};
use super::status::{last_password_sync, sync_settings, who};
use super::sync_engines::{self, Engines};
use super::{OpsError, Progress, Session};
use crate::auth::claims::Task;
use crate::graph::models::parse_graph_time;

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Where to write the Connect Sync server's script (default: under the data folder).
    pub script: Option<PathBuf>,
}

pub struct Prepared {
    pub plan: Plan,
    sync_id: String,
    flag_on: bool,
    pub engines: Engines,
    /// Whether password hashes arrived recently: nothing on the engines' side is in doubt.
    pub flowing: bool,
    pub last_password_sync: Option<String>,
    script: Option<PathBuf>,
    /// Each Cloud Sync configuration's jobs as the pre-flight read them, and when: a run that
    /// follows at once backs them up instead of reading them again.
    jobs_read: std::collections::HashMap<String, sync_engines::CloudRead>,
    read_at: std::time::Instant,
}

/// A pre-flight read younger than this stands for the state before the change (as in failover).
const FRESH: Duration = Duration::from_secs(10);

#[derive(Debug, Serialize)]
pub struct Report {
    pub changed: bool,
    pub password_hash_sync: bool,
    pub engines: Engines,
    /// The Connect Sync server's script, written for the administrator to run there.
    pub connect_script: Option<String>,
    pub connect_server: Option<String>,
    /// Whether password hashes are reaching Entra ID (a password sync ran recently).
    pub hashes_flowing: bool,
    pub last_password_sync: Option<String>,
    pub note: String,
}

/// How recent a password sync must be to count as "hashes are flowing".
const RECENT: Duration = Duration::from_secs(3 * 3600);

fn recent(last: Option<&str>, since: Option<time::OffsetDateTime>) -> bool {
    let Some(t) = last.and_then(parse_graph_time) else {
        return false;
    };
    let now = time::OffsetDateTime::now_utc();
    (now - t).whole_seconds() <= RECENT.as_secs() as i64 && since.is_none_or(|s| t >= s)
}

/// The script's default place: the data folder, per tenant and server.
pub fn default_script_path(home: &Path, tenant: &str, server: Option<&str>) -> PathBuf {
    super::records::script_path(
        home,
        tenant,
        &format!(
            "enable-password-hash-sync{}.ps1",
            // The server's name comes from Graph: a path component only as tenant_dir_name makes it.
            server
                .map(|s| format!(".{}", journal::tenant_dir_name(s)))
                .unwrap_or_default()
        ),
    )
}

pub async fn prepare(s: &Session, o: &Options) -> Result<Prepared, OpsError> {
    let mut plan = Plan::new("Turn on password hash synchronization", &s.tenant);
    let read_at = std::time::Instant::now();
    let (me, sync, (engines, jobs_read), last) = futures_util::try_join!(
        who(s),
        sync_settings(s),
        sync_engines::detect_with_jobs(s),
        async { Ok(last_password_sync(s).await) },
    )?;
    let sync_id = sync.id.clone().unwrap_or_default();
    let flag_on = sync.features.as_ref().and_then(|f| f.password_sync_enabled) == Some(true);
    let flowing = flag_on && recent(last.as_deref(), None);
    let jobs_to_change: Vec<&sync_engines::CloudConfig> = engines
        .cloud
        .iter()
        .filter(|c| !c.steps(flowing).is_empty())
        .collect();
    if !flag_on {
        plan.permissions(
            &me,
            Task::EnablePasswordHashSync,
            "turn on the tenant's flag",
        );
    }
    if !jobs_to_change.is_empty() {
        plan.permissions(&me, Task::StartCloudSyncJobs, "start Cloud Sync jobs");
    }
    plan.checks
        .push(super::operator::check_by_reading(s, &me).await?);
    plan.check("sync engine", Outcome::Pass, engines.describe());
    for u in &engines.unknown {
        plan.check("sync engine", Outcome::Warn, u.clone());
    }
    if flag_on {
        plan.check("password hash sync flag", Outcome::Pass, "already on");
    } else {
        plan.step(
            None,
            "PATCH",
            &format!("/v1.0/directory/onPremisesSynchronization/{sync_id}"),
            Some(json!({"features": {"passwordSyncEnabled": true}})),
            "turn the tenant's password hash sync flag on (it copies no hash by itself)",
        );
        plan.step(
            None,
            "GET",
            &format!("/v1.0/directory/onPremisesSynchronization/{sync_id}"),
            None,
            "read it back",
        );
    }
    for c in &engines.cloud {
        let name = format!("Cloud Sync {}", c.display_name);
        let steps = c.steps(flowing);
        match &c.password_hash_job {
            Some(j) if j.quarantine.is_some() => plan.check(
                &name,
                Outcome::Fail,
                sync_engines::quarantine_advice(
                    &c.display_name,
                    j.quarantine.as_deref().unwrap_or_default(),
                ),
            ),
            _ if c.provisioning_job.is_none() => plan.check(
                &name,
                Outcome::Fail,
                "there is no provisioning job: set the configuration up in the Entra admin center (Entra Connect > Cloud Sync) first; password hash sync rides on it",
            ),
            _ if c.credential_data_mapping.is_none() => plan.check(
                &name,
                Outcome::Fail,
                "the provisioning job's schema could not be read, so whether it maps password hashes cannot be told: check Synchronization.Read.All and run enable-phs again",
            ),
            Some(j) if steps.is_empty() => plan.check(
                &name,
                Outcome::Pass,
                format!(
                    "the password hash job runs with its secrets and the CredentialData mapping (last run {})",
                    j.last_execution.as_deref().unwrap_or("not yet")
                ),
            ),
            _ => {
                plan.check(
                    &name,
                    Outcome::Info,
                    format!(
                        "missing: {}",
                        steps.iter().map(|s| s.missing()).collect::<Vec<_>>().join("; ")
                    ),
                );
                let schema = jobs_read
                    .get(&c.service_principal_id)
                    .and_then(|r| r.schema.as_ref());
                for (method, path, body, why) in sync_engines::plan_steps(c, &steps, schema) {
                    plan.step(Some(&c.display_name), method, &path, body, why);
                }
                plan.step(
                    Some(&c.display_name),
                    "GET",
                    &format!(
                        "/v1.0/servicePrincipals/{}/synchronization/jobs/{{job id}}",
                        c.service_principal_id
                    ),
                    None,
                    "read the job back",
                );
            }
        }
    }
    let mut script = None;
    if let Some(c) = &engines.connect {
        let server = c.server.as_deref();
        let on = server.map(|s| format!(" on {s}")).unwrap_or_default();
        if flowing {
            plan.check(
                &format!("Entra Connect Sync{on}"),
                Outcome::Pass,
                format!(
                    "password hashes arrive: the last password sync ran at {}",
                    last.as_deref().unwrap_or("?")
                ),
            );
        } else {
            let path = o
                .script
                .clone()
                .unwrap_or_else(|| default_script_path(&s.home, &s.tenant, server));
            plan.check(
                &format!("Entra Connect Sync{on}"),
                Outcome::Warn,
                format!(
                    "no password hashes arrive yet: the server's own password sync must be on, which Graph cannot do. The script {} does it; run it{on} as an administrator",
                    path.display()
                ),
            );
            script = Some(path);
        }
    }
    if engines.connect.is_none() && engines.cloud.is_empty() && engines.unknown.is_empty() {
        plan.check(
            "sync engine",
            Outcome::Warn,
            "neither Entra Connect Sync nor Cloud Sync is visible: the flag alone sends no password hash",
        );
    }
    Ok(Prepared {
        plan,
        sync_id,
        flag_on,
        engines,
        flowing,
        last_password_sync: last,
        script,
        jobs_read,
        read_at,
    })
}

fn entry(op: &str, domain: &str, phase: &str, backup: Option<(&str, &str)>, detail: &str) -> Entry {
    Entry::new(op, domain, phase, detail).with_backup(backup.map(|b| b.0), backup.map(|b| b.1))
}

pub async fn run(s: &Session, p: Prepared, progress: &dyn Progress) -> Result<Report, OpsError> {
    let _lock = super::lock::acquire(&s.home, &s.tenant)?;
    if let Some(f) = p.plan.failed().first() {
        return Err(OpsError::Refused(format!("{}: {}", f.name, f.detail)));
    }
    let mut changed = false;
    if !p.flag_on {
        let path = format!("/v1.0/directory/onPremisesSynchronization/{}", p.sync_id);
        journal::append(
            &s.home,
            &s.tenant,
            &entry(
                "enable-phs",
                "-",
                "intent",
                None,
                "passwordSyncEnabled false -> true",
            ),
        )?;
        progress.event(None, "turning on the tenant's password hash sync flag");
        let sent = s
            .graph
            .send(
                reqwest::Method::PATCH,
                &path,
                Some(&json!({"features": {"passwordSyncEnabled": true}})),
            )
            .await?;
        let after = sync_settings(s).await?;
        if after
            .features
            .as_ref()
            .and_then(|f| f.password_sync_enabled)
            != Some(true)
        {
            journal::append(
                &s.home,
                &s.tenant,
                &entry("enable-phs", "-", "failed", None, "read back: still off"),
            )?;
            return Err(OpsError::Partial(
                "Graph accepted the change but reading it back shows password hash sync still off"
                    .into(),
            ));
        }
        let mut done = entry("enable-phs", "-", "done", None, "read back: on");
        done.request_id = sent.request_id;
        journal::append(&s.home, &s.tenant, &done)?;
        changed = true;
    }
    let fresh = p.read_at.elapsed() < FRESH;
    let mut engines = p.engines.clone();
    for c in engines.cloud.iter_mut() {
        // A configuration the plan left alone is left alone (and not read again).
        if c.steps(p.flowing).is_empty() {
            continue;
        }
        // The configuration as it is now: the pre-flight's read when fresh, else read again (the
        // plan may have waited long for a confirmation), and the steps it still lacks.
        let read = match p.jobs_read.get(&c.service_principal_id).filter(|_| fresh) {
            Some(r) => r.clone(),
            None => {
                let r = sync_engines::read_config(s, &c.service_principal_id).await?;
                let sent = c.secrets_set_at.clone();
                *c = sync_engines::CloudConfig::from_read(
                    &c.service_principal_id,
                    &c.display_name,
                    &r,
                );
                c.secrets_set_at = sent;
                r
            }
        };
        let steps = c.steps(p.flowing);
        if steps.is_empty() {
            continue;
        }
        let secrets = steps
            .contains(&sync_engines::CloudStep::Secrets)
            .then(|| crate::graph::sync_schema::password_hash_secrets(&c.display_name));
        let b = SyncJobsBackup::new(
            &s.tenant,
            &c.display_name,
            &c.service_principal_id,
            read.jobs.clone(),
        )
        .with_configuration(read.schema.clone(), secrets);
        let path = b.write(&s.home)?.display().to_string();
        let backup = Some((path.as_str(), b.sha256.as_str()));
        let record = |phase: &str, detail: &str| {
            journal::append(
                &s.home,
                &s.tenant,
                &entry(CLOUD_OP, &c.display_name, phase, backup, detail),
            )
        };
        let names: Vec<&str> = steps.iter().map(|s| s.missing()).collect();
        record(
            "intent",
            &format!("Cloud Sync password hashes: {}", names.join("; ")),
        )?;
        progress.event(
            Some(&c.display_name),
            "setting up Cloud Sync's password hash sync",
        );
        match sync_engines::converge(s, c, &steps, read.schema.as_ref()).await {
            Ok((job, done)) if job.running() => {
                record(
                    "done",
                    &format!(
                        "{}; read back: job {} {}",
                        done.join("; "),
                        job.id,
                        job.code
                    ),
                )?;
                c.password_hash_job = Some(job);
                c.credential_data_mapping = c.credential_data_mapping.map(|_| true);
                if steps.contains(&sync_engines::CloudStep::Secrets) {
                    c.secrets_set_at = Some(journal::now());
                }
                changed = true;
            }
            Ok((job, done)) => {
                let why = format!(
                    "{}; read back: job {} is {} ({}), not running. Check the configuration's provisioning agent (Entra admin center: Entra Connect > Cloud Sync > Agents: active, reachable) and the job's provisioning logs, then run enable-phs again",
                    done.join("; "),
                    job.id,
                    job.code,
                    job.schedule
                );
                record("failed", &why)?;
                return Err(OpsError::Partial(format!(
                    "Cloud Sync {}: {why}",
                    c.display_name
                )));
            }
            Err(e) => {
                record("failed", &e.to_string())?;
                return Err(if changed {
                    OpsError::Partial(format!("Cloud Sync {}: {e}", c.display_name))
                } else {
                    e
                });
            }
        }
    }
    let server = engines.connect.as_ref().and_then(|c| c.server.clone());
    let mut connect_script = None;
    if let Some(path) = &p.script {
        let text = crate::connect::phs_script::script(&crate::connect::phs_script::Target {
            tenant: &s.tenant,
            server: server.as_deref(),
            generated_at: &journal::now(),
        })?;
        super::records::write_script(path, &text)?;
        progress.event(None, &format!("wrote {}", path.display()));
        connect_script = Some(path.display().to_string());
    }
    let flowing = p.flowing && !changed;
    let note = note(
        flowing,
        &engines,
        connect_script.as_deref(),
        server.as_deref(),
        p.last_password_sync.as_deref(),
    );
    Ok(Report {
        changed,
        password_hash_sync: true,
        engines,
        connect_script,
        connect_server: server,
        hashes_flowing: flowing,
        last_password_sync: p.last_password_sync,
        note,
    })
}

/// The journal's name for a Cloud Sync configuration's change.
pub use sync_engines::CLOUD_OP;

fn note(
    flowing: bool,
    engines: &Engines,
    script: Option<&str>,
    server: Option<&str>,
    last: Option<&str>,
) -> String {
    if flowing {
        return format!(
            "Password hashes are arriving: the last password sync ran at {}.",
            last.unwrap_or("?")
        );
    }
    let mut next = vec![];
    if let Some(path) = script {
        next.push(format!(
            "Entra Connect Sync sends no password hash until its server's password sync is on: run {path} on {} as an administrator (PowerShell, with the ADSync module).",
            server.unwrap_or("the Connect Sync server")
        ));
    }
    if engines
        .cloud
        .iter()
        .any(|c| c.password_hash_job.as_ref().is_some_and(|j| j.running()))
    {
        next.push("Cloud Sync's password hash job runs: hashes follow on its next cycles.".into());
    }
    next.push("The first full password sync can take up to three hours; `enable-phs --wait` shows when hashes arrive.".into());
    next.join(" ")
}

/// Polls until a password sync newer than `previous` (the last one known before the change) has run:
/// hashes reach Entra ID. Compared with the tenant's own times, so a clock apart from this machine's
/// does not matter.
pub async fn wait_for_hashes(
    s: &Session,
    previous: Option<&str>,
    timeout: Duration,
    progress: &dyn Progress,
) -> Result<String, OpsError> {
    let before = previous.and_then(parse_graph_time);
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(t) = last_password_sync(s).await
            && parse_graph_time(&t).is_some_and(|at| before.is_none_or(|b| at > b))
        {
            progress.event(
                None,
                &format!("password hashes arrived: a password sync ran at {t}"),
            );
            return Ok(t);
        }
        if std::time::Instant::now() >= deadline {
            return Err(OpsError::Partial(format!(
                "no password sync has run in {}s. Check the engine: on Entra Connect Sync, that the script ran on the server (its output names each connector) and the Application event log for events 611 or 652; on Cloud Sync, the password hash job's status in the Entra admin center",
                timeout.as_secs()
            )));
        }
        progress.event(None, "waiting for the first password sync after the change");
        tokio::time::sleep(Duration::from_secs(5).min(timeout)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_server_name_from_graph_stays_one_file_in_the_scripts_folder() {
        let home = std::path::Path::new("/home/a");
        for hostile in ["../../etc/cron.d/x", "..", "A/B\\C", "\n", ""] {
            let p = super::default_script_path(home, "t", Some(hostile));
            assert_eq!(
                p.parent(),
                Some(home.join("scripts").join("t").as_path()),
                "{hostile:?}: {}",
                p.display()
            );
        }
        assert_eq!(
            super::default_script_path(home, "t", Some("AADCONNECT01")),
            home.join("scripts/t/enable-password-hash-sync.AADCONNECT01.ps1")
        );
    }
}
