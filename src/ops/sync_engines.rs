//! Which sync engine copies the tenant's password hashes, and whether it does. The tenant's flag
//! (`passwordSyncEnabled`) copies none: Microsoft Entra Connect Sync does it on its server (its
//! service account in Directory Synchronization Accounts names the server), Microsoft Entra Cloud
//! Sync through the `AD2AADPasswordHash` job of each configuration's service principal.

use serde::Serialize;
use serde_json::{Value, json};

use super::{OpsError, Session};
use crate::graph::encode;

/// Cloud Sync's application (template) id: each configuration is a service principal of it.
pub const CLOUD_SYNC_APP_ID: &str = "1a4721b3-e57f-4451-ae87-ef078703ec94";
pub const DIRECTORY_SYNC_ACCOUNTS: &str = "d29b2b05-8046-44ba-8758-1e26182fcf32";
pub const PASSWORD_HASH_TEMPLATE: &str = "AD2AADPasswordHash";

#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Engines {
    /// Entra Connect Sync, when its trace is in the tenant.
    pub connect: Option<ConnectSync>,
    pub cloud: Vec<CloudConfig>,
    /// What could not be read (a missing permission), named; the engines above may be incomplete.
    pub unknown: Vec<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConnectSync {
    /// The server to run the script on, from its service account `Sync_<SERVER>_<hex>@…`.
    pub server: Option<String>,
    pub service_account: Option<String>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct CloudConfig {
    pub service_principal_id: String,
    pub display_name: String,
    pub password_hash_job: Option<Job>,
}

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Job {
    pub id: String,
    /// `status.code`: NotConfigured, NotRun, Active, Paused, Quarantine.
    pub code: String,
    /// `schedule.state`: Disabled (as created), Active, Paused.
    pub schedule: String,
    pub last_execution: Option<String>,
    /// The quarantine's reason and error, when the job is in quarantine.
    pub quarantine: Option<String>,
}

impl Job {
    fn from_graph(v: &Value) -> Job {
        let s = |p: &str| v.pointer(p).and_then(Value::as_str).map(str::to_string);
        let quarantine = v
            .pointer("/status/quarantine")
            .filter(|q| !q.is_null())
            .map(|q| {
                format!(
                    "{} since {}: {} ({})",
                    q["reason"].as_str().unwrap_or("quarantined"),
                    q["currentBegan"].as_str().unwrap_or("?"),
                    q.pointer("/error/message")
                        .and_then(Value::as_str)
                        .unwrap_or("no message"),
                    q.pointer("/error/code")
                        .and_then(Value::as_str)
                        .unwrap_or("no code"),
                )
            });
        Job {
            id: s("/id").unwrap_or_default(),
            code: s("/status/code").unwrap_or_else(|| "NotRun".into()),
            schedule: s("/schedule/state").unwrap_or_else(|| "Disabled".into()),
            last_execution: s("/status/lastExecution/timeEnded"),
            quarantine,
        }
    }

    /// Started and not in quarantine: it copies hashes on the service's cycles.
    pub fn running(&self) -> bool {
        self.quarantine.is_none() && self.schedule == "Active"
    }
}

impl Engines {
    /// One line for status and the pre-flight: which engine, and whether it sends hashes.
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if let Some(c) = &self.connect {
            parts.push(format!(
                "Entra Connect Sync{}",
                c.server
                    .as_ref()
                    .map(|s| format!(" on {s}"))
                    .unwrap_or_default()
            ));
        }
        for c in &self.cloud {
            let job = match &c.password_hash_job {
                None => "no password hash job".to_string(),
                Some(j) if j.quarantine.is_some() => "password hash job in quarantine".into(),
                Some(j) if j.running() => "password hash job running".into(),
                Some(j) => format!("password hash job {}", j.code),
            };
            parts.push(format!("Entra Cloud Sync {} ({job})", c.display_name));
        }
        if parts.is_empty() {
            parts.push("no sync engine found".into());
        }
        parts.join("; ")
    }
}

/// Reads both engines' traces; a read the caller may not make is named in `unknown`, not an error.
pub async fn detect(s: &Session) -> Result<Engines, OpsError> {
    Ok(detect_with_jobs(s).await?.0)
}

/// `detect`, with each Cloud Sync configuration's jobs as Graph returned them (by service principal).
pub async fn detect_with_jobs(
    s: &Session,
) -> Result<(Engines, std::collections::HashMap<String, Value>), OpsError> {
    let (connect, cloud) = futures_util::join!(connect_sync(s), cloud_sync(s));
    let mut engines = Engines::default();
    match connect {
        Ok(c) => engines.connect = c,
        Err(e) if e.status() == Some(403) => engines.unknown.push(
            "Entra Connect Sync: cannot tell (reading directory roles needs RoleManagement.Read.Directory or Directory.Read.All)".into(),
        ),
        Err(e) => return Err(e.into()),
    }
    let mut raw = std::collections::HashMap::new();
    match cloud {
        Ok(c) => {
            for (config, jobs) in c {
                raw.insert(config.service_principal_id.clone(), jobs);
                engines.cloud.push(config);
            }
        }
        Err(e) if e.status() == Some(403) => engines.unknown.push(
            "Entra Cloud Sync: cannot tell (reading its configurations needs Application.Read.All and Synchronization.Read.All, and signed in as a user Hybrid Identity Administrator)".into(),
        ),
        Err(e) => return Err(e.into()),
    }
    Ok((engines, raw))
}

async fn connect_sync(s: &Session) -> Result<Option<ConnectSync>, crate::graph::GraphError> {
    let path = format!(
        "/v1.0/directoryRoles?$filter=roleTemplateId eq '{DIRECTORY_SYNC_ACCOUNTS}'&$expand=members"
    );
    let roles: Vec<Value> = s.graph.list(&path).await?;
    let account = roles
        .iter()
        .flat_map(|r| r["members"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["userPrincipalName"].as_str().map(str::to_string))
        .find(|upn| upn.to_ascii_lowercase().starts_with("sync_"));
    Ok(account.map(|upn| ConnectSync {
        server: server_of(&upn),
        service_account: Some(upn),
    }))
}

/// `Sync_AADCONNECT01_1a2b3c4d5e6f@contoso.onmicrosoft.com` → `AADCONNECT01`.
pub fn server_of(upn: &str) -> Option<String> {
    let local = upn.split('@').next()?;
    let rest = local.get(5..)?;
    let (server, hex) = rest.rsplit_once('_')?;
    (!server.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit())).then(|| server.to_string())
}

async fn cloud_sync(s: &Session) -> Result<Vec<(CloudConfig, Value)>, crate::graph::GraphError> {
    let path = format!(
        "/v1.0/servicePrincipals?$filter=appId eq '{CLOUD_SYNC_APP_ID}'&$select=id,appId,displayName"
    );
    let sps: Vec<Value> = s.graph.list(&path).await?;
    let reads = sps.iter().map(|sp| async move {
        let id = sp["id"].as_str().unwrap_or_default().to_string();
        let jobs = read_jobs(s, &id).await?;
        let config = CloudConfig {
            display_name: sp["displayName"].as_str().unwrap_or_default().to_string(),
            password_hash_job: password_hash_job(&jobs),
            service_principal_id: id,
        };
        Ok::<_, crate::graph::GraphError>((config, jobs))
    });
    futures_util::future::try_join_all(reads).await
}

pub async fn read_jobs(s: &Session, sp: &str) -> Result<Value, crate::graph::GraphError> {
    let jobs: Vec<Value> = s
        .graph
        .list(&format!(
            "/v1.0/servicePrincipals/{}/synchronization/jobs",
            encode(sp)
        ))
        .await?;
    Ok(Value::Array(jobs))
}

fn password_hash_job(jobs: &Value) -> Option<Job> {
    jobs.as_array()?
        .iter()
        .find(|j| j["templateId"] == PASSWORD_HASH_TEMPLATE)
        .map(Job::from_graph)
}

/// The calls that make a configuration's password hash job run: create it when missing (jobs are
/// created disabled), then start it; nothing for a job that runs.
pub fn job_steps(c: &CloudConfig) -> Vec<(&'static str, String, Option<Value>, &'static str)> {
    let base = format!(
        "/v1.0/servicePrincipals/{}/synchronization/jobs",
        encode(&c.service_principal_id)
    );
    match &c.password_hash_job {
        Some(j) if j.running() || j.quarantine.is_some() => vec![],
        Some(j) => vec![(
            "POST",
            format!("{base}/{}/start", encode(&j.id)),
            None,
            "start the password hash job",
        )],
        None => vec![
            (
                "POST",
                base.clone(),
                Some(json!({"templateId": PASSWORD_HASH_TEMPLATE})),
                "create the password hash job (Graph creates it disabled)",
            ),
            (
                "POST",
                format!("{base}/{{new job id}}/start"),
                None,
                "start it",
            ),
        ],
    }
}

/// Makes a configuration's password hash job run, and reads it back. Converges: a rerun creates no
/// second job and changes nothing that runs.
/// `jobs` is the configuration's job list read just before (and backed up).
pub async fn ensure_password_hash_job(
    s: &Session,
    sp: &str,
    jobs: &Value,
) -> Result<Job, OpsError> {
    let base = format!(
        "/v1.0/servicePrincipals/{}/synchronization/jobs",
        encode(sp)
    );
    let job = match password_hash_job(jobs) {
        Some(j) => j,
        None => {
            let created = s
                .graph
                .send(
                    reqwest::Method::POST,
                    &base,
                    Some(&json!({"templateId": PASSWORD_HASH_TEMPLATE})),
                )
                .await?;
            Job::from_graph(&created.body)
        }
    };
    if let Some(q) = &job.quarantine {
        return Err(OpsError::Refused(quarantine_advice(sp, q)));
    }
    if !job.running() {
        s.graph
            .send(
                reqwest::Method::POST,
                &format!("{base}/{}/start", encode(&job.id)),
                None,
            )
            .await?;
    }
    let after: Value = s.graph.get(&format!("{base}/{}", encode(&job.id))).await?;
    Ok(Job::from_graph(&after))
}

/// Why no password hash arrives, engine by engine, and what to do: for a pre-flight that finds no
/// recent password sync.
pub fn why_no_hashes(e: &Engines, script: &std::path::Path) -> String {
    let mut why = vec![];
    if let Some(c) = &e.connect {
        why.push(format!(
            "Entra Connect Sync{} sends none until the server's own password sync is on: run `entra-failover enable-phs`, then the script it writes ({}) on that server",
            c.server.as_ref().map(|s| format!(" on {s}")).unwrap_or_default(),
            script.display()
        ));
    }
    for c in &e.cloud {
        match &c.password_hash_job {
            Some(j) if j.quarantine.is_some() => why.push(quarantine_advice(
                &c.display_name,
                j.quarantine.as_deref().unwrap_or_default(),
            )),
            Some(j) if j.running() => why.push(format!(
                "Cloud Sync {}: the password hash job runs but no password sync has reached the tenant yet",
                c.display_name
            )),
            Some(j) => why.push(format!(
                "Cloud Sync {}: the password hash job is {} ({}): `entra-failover enable-phs` starts it",
                c.display_name, j.code, j.schedule
            )),
            None => why.push(format!(
                "Cloud Sync {}: there is no password hash job: `entra-failover enable-phs` creates and starts it",
                c.display_name
            )),
        }
    }
    why.extend(e.unknown.iter().cloned());
    if why.is_empty() {
        why.push("no sync engine is visible".into());
    }
    why.join("; ")
}

/// What to do about a job in quarantine: the cause first, then the way out.
pub fn quarantine_advice(configuration: &str, q: &str) -> String {
    format!(
        "the password hash job of Cloud Sync configuration {configuration} is in quarantine ({q}). Fix what the error names (often the provisioning agent's access to AD), then restart the job with its quarantine state reset (Entra admin center: Entra Connect > Cloud Sync > the configuration > Restart sync); starting it again does not lift a quarantine"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_comes_from_the_service_account() {
        assert_eq!(
            server_of("Sync_AADCONNECT01_1a2b3c4d5e6f@contoso.onmicrosoft.com").as_deref(),
            Some("AADCONNECT01")
        );
        assert_eq!(
            server_of("Sync_SYNC_SRV_02_abc123@x.onmicrosoft.com").as_deref(),
            Some("SYNC_SRV_02")
        );
        assert_eq!(server_of("admin@contoso.com"), None);
        assert_eq!(server_of("Sync_@x"), None);
    }

    #[test]
    fn a_job_is_read_as_graph_shows_it() {
        let v: Value = serde_json::from_str(include_str!(
            "../../tests/fixtures/graph-doc-examples/synchronizationJob.get.v1.0.response-200.json"
        ))
        .unwrap();
        let j = Job::from_graph(&v);
        assert_eq!(
            (j.code.as_str(), j.schedule.as_str()),
            ("Paused", "Disabled")
        );
        assert!(
            j.quarantine
                .as_deref()
                .unwrap()
                .contains("SalesforceInvalidCredentials")
        );
        assert!(!j.running());
    }
}
