//! Which sync engine copies the tenant's password hashes, and whether it does. The tenant's flag
//! (`passwordSyncEnabled`) copies none: Microsoft Entra Connect Sync does it on its server (its
//! service account in Directory Synchronization Accounts names the server), Microsoft Entra Cloud
//! Sync through each configuration's service principal, set up as Microsoft's Graph procedure does
//! it: the `AD2AADPasswordHash` job, the `AppKey` and `Domain` secrets, and the `CredentialData`
//! mapping on the provisioning job's schema, then the job started (or restarted where it ran).

use serde::Serialize;
use serde_json::{Value, json};

use super::{OpsError, Session};
use crate::graph::encode;
use crate::graph::sync_schema;

/// Cloud Sync's application (template) id: each configuration is a service principal of it.
pub const CLOUD_SYNC_APP_ID: &str = "1a4721b3-e57f-4451-ae87-ef078703ec94";
pub const DIRECTORY_SYNC_ACCOUNTS: &str = "d29b2b05-8046-44ba-8758-1e26182fcf32";
pub const PASSWORD_HASH_TEMPLATE: &str = "AD2AADPasswordHash";
pub const PROVISIONING_TEMPLATE: &str = "AD2AADProvisioning";
/// The journal's name for a Cloud Sync configuration's change.
pub const CLOUD_OP: &str = "cloud-sync-phs";

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
    /// The provisioning job (`AD2AADProvisioning`), whose schema carries the password hash mapping.
    pub provisioning_job: Option<String>,
    /// Whether that schema maps `[PasswordHash]` to `CredentialData` in every object mapping that
    /// makes users; `None` where there is no provisioning job or its schema could not be read.
    pub credential_data_mapping: Option<bool>,
    /// When this tool last set the `AppKey` and `Domain` secrets, from its journal: Graph never
    /// returns a configuration's secrets.
    pub secrets_set_at: Option<String>,
}

/// One step of Microsoft's procedure that a configuration still lacks, in the order it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloudStep {
    CreateJob,
    Secrets,
    Mapping,
    Start,
    Restart,
}

impl CloudStep {
    /// What status and the pre-flight call it.
    pub fn missing(self) -> &'static str {
        match self {
            CloudStep::CreateJob => "the password hash job",
            CloudStep::Secrets => "the AppKey secret (not set by this tool; Graph cannot show it)",
            CloudStep::Mapping => "the CredentialData mapping",
            CloudStep::Start => "starting the job",
            CloudStep::Restart => "restarting the job",
        }
    }
}

impl CloudConfig {
    /// Microsoft's steps this configuration lacks. The secrets cannot be read: they are sent unless
    /// this tool's journal says it sent them, or the job runs with the mapping and hashes arrive
    /// (`flowing`), which only a set secret explains. A job in quarantine gets no step: it is
    /// refused with what to do.
    pub fn steps(&self, flowing: bool) -> Vec<CloudStep> {
        let job = self.password_hash_job.as_ref();
        if job.is_some_and(|j| j.quarantine.is_some()) || self.provisioning_job.is_none() {
            return vec![];
        }
        let running = job.is_some_and(Job::running);
        let mapped = self.credential_data_mapping == Some(true);
        let mut steps = vec![];
        if job.is_none() {
            steps.push(CloudStep::CreateJob);
        }
        let secrets = self.secrets_set_at.is_none() && !(running && mapped && flowing);
        if secrets {
            steps.push(CloudStep::Secrets);
        }
        if self.credential_data_mapping == Some(false) {
            steps.push(CloudStep::Mapping);
        }
        let changed = secrets || !mapped;
        match job {
            None => steps.push(CloudStep::Start),
            Some(j) if j.last_execution.is_some() && (!running || changed) => {
                steps.push(CloudStep::Restart)
            }
            Some(_) if !running => steps.push(CloudStep::Start),
            _ => {}
        }
        steps
    }

    /// A configuration as `read` shows it (the secrets as the journal says).
    pub fn from_read(sp: &str, display_name: &str, read: &CloudRead) -> CloudConfig {
        CloudConfig {
            service_principal_id: sp.to_string(),
            display_name: display_name.to_string(),
            password_hash_job: job_of(&read.jobs, PASSWORD_HASH_TEMPLATE),
            provisioning_job: job_of(&read.jobs, PROVISIONING_TEMPLATE).map(|j| j.id),
            credential_data_mapping: read.schema.as_ref().map(sync_schema::maps_password_hash),
            secrets_set_at: None,
        }
    }

    /// Nothing left to do, as far as Graph shows (the secrets presumed set).
    pub fn complete(&self) -> bool {
        self.steps(true).is_empty() && self.provisioning_job.is_some()
    }
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
            let state = match &c.password_hash_job {
                Some(j) if j.quarantine.is_some() => "password hash job in quarantine".to_string(),
                _ if c.provisioning_job.is_none() => {
                    "no provisioning job: set the configuration up in the Entra admin center first"
                        .into()
                }
                _ if c.complete() => "password hash job running".into(),
                _ => format!(
                    "missing: {}",
                    c.steps(true)
                        .iter()
                        .map(|s| s.missing())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            };
            parts.push(format!("Entra Cloud Sync {} ({state})", c.display_name));
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

/// What the pre-flight read of one Cloud Sync configuration, kept so that a run that follows at once
/// backs it up instead of reading it again: its jobs and its provisioning job's schema.
#[derive(Clone, Debug, Default)]
pub struct CloudRead {
    pub jobs: Value,
    pub schema: Option<Value>,
}

/// `detect`, with what was read of each Cloud Sync configuration (by service principal).
pub async fn detect_with_jobs(
    s: &Session,
) -> Result<(Engines, std::collections::HashMap<String, CloudRead>), OpsError> {
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
            let sent = secrets_sent(s);
            for (mut config, read) in c {
                config.secrets_set_at = sent.get(&config.display_name).cloned();
                raw.insert(config.service_principal_id.clone(), read);
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

/// When this tool last finished setting up each configuration (secrets included), by display name,
/// from the journal: the one record of secrets that Graph never shows.
fn secrets_sent(s: &Session) -> std::collections::HashMap<String, String> {
    super::journal::read(&s.home, &s.tenant)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.operation == CLOUD_OP && e.phase == "done" && e.detail.contains(SECRETS_SENT))
        .map(|e| (e.domain, e.time))
        .collect()
}

/// The words a journal line uses for sent secrets (and `secrets_sent` looks for).
pub const SECRETS_SENT: &str = "AppKey and Domain secrets sent";

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

async fn cloud_sync(
    s: &Session,
) -> Result<Vec<(CloudConfig, CloudRead)>, crate::graph::GraphError> {
    let path = format!(
        "/v1.0/servicePrincipals?$filter=appId eq '{CLOUD_SYNC_APP_ID}'&$select=id,appId,displayName"
    );
    let sps: Vec<Value> = s.graph.list(&path).await?;
    let reads = sps.iter().map(|sp| async move {
        let id = sp["id"].as_str().unwrap_or_default().to_string();
        let read = read_config(s, &id).await?;
        let name = sp["displayName"].as_str().unwrap_or_default();
        Ok::<_, crate::graph::GraphError>((CloudConfig::from_read(&id, name, &read), read))
    });
    futures_util::future::try_join_all(reads).await
}

/// A configuration's jobs, then its provisioning job's schema (`None` where it has no provisioning
/// job, or the schema cannot be read).
pub async fn read_config(s: &Session, sp: &str) -> Result<CloudRead, crate::graph::GraphError> {
    let jobs = read_jobs(s, sp).await?;
    let schema = match job_of(&jobs, PROVISIONING_TEMPLATE) {
        Some(job) => read_schema(s, sp, &job.id).await.ok(),
        None => None,
    };
    Ok(CloudRead { jobs, schema })
}

async fn read_jobs(s: &Session, sp: &str) -> Result<Value, crate::graph::GraphError> {
    let jobs: Vec<Value> = s
        .graph
        .list(&format!(
            "/v1.0/servicePrincipals/{}/synchronization/jobs",
            encode(sp)
        ))
        .await?;
    Ok(Value::Array(jobs))
}

fn schema_path(sp: &str, job: &str) -> String {
    format!(
        "/v1.0/servicePrincipals/{}/synchronization/jobs/{}/schema",
        encode(sp),
        encode(job)
    )
}

async fn read_schema(s: &Session, sp: &str, job: &str) -> Result<Value, crate::graph::GraphError> {
    s.graph.get(&schema_path(sp, job)).await
}

fn job_of(jobs: &Value, template: &str) -> Option<Job> {
    jobs.as_array()?
        .iter()
        .find(|j| j["templateId"] == template)
        .map(Job::from_graph)
}

fn jobs_path(sp: &str) -> String {
    format!(
        "/v1.0/servicePrincipals/{}/synchronization/jobs",
        encode(sp)
    )
}

/// The restart Microsoft's Cloud Sync page documents: everything processed again, so that every
/// user's hash is sent under the new settings.
fn restart_body() -> Value {
    json!({"criteria": {"resetScope": "Full"}})
}

/// The plan's calls for a configuration's `steps`: method, path, body, why. `schema` is the
/// provisioning job's schema as read (the PUT's body is it with the mapping added).
pub fn plan_steps(
    c: &CloudConfig,
    steps: &[CloudStep],
    schema: Option<&Value>,
) -> Vec<(&'static str, String, Option<Value>, &'static str)> {
    let base = jobs_path(&c.service_principal_id);
    let job = c
        .password_hash_job
        .as_ref()
        .map(|j| encode(&j.id))
        .unwrap_or_else(|| "{new job id}".into());
    let mut out = vec![];
    for step in steps {
        match step {
            CloudStep::CreateJob => out.push((
                "POST",
                base.clone(),
                Some(json!({"templateId": PASSWORD_HASH_TEMPLATE})),
                "create the password hash job (Graph creates it disabled)",
            )),
            CloudStep::Secrets => out.push((
                "PUT",
                format!("/v1.0/servicePrincipals/{}/synchronization/secrets", encode(&c.service_principal_id)),
                Some(sync_schema::password_hash_secrets(&c.display_name)),
                "set the AppKey secret to the password hash scenario, with the Domain secret (a PUT replaces the whole set; Graph cannot read the earlier one)",
            )),
            CloudStep::Mapping => {
                let path = schema_path(&c.service_principal_id, c.provisioning_job.as_deref().unwrap_or_default());
                out.push((
                    "PUT",
                    path.clone(),
                    schema.and_then(sync_schema::with_password_hash),
                    "add the CredentialData mapping to the provisioning job's user object mappings (the schema backed up first)",
                ));
                out.push(("GET", path, None, "read the schema back"));
            }
            CloudStep::Start => out.push(("POST", format!("{base}/{job}/start"), None, "start the password hash job")),
            CloudStep::Restart => out.push((
                "POST",
                format!("{base}/{job}/restart"),
                Some(restart_body()),
                "restart the password hash job, which ran before: every user's hash sent again",
            )),
        }
    }
    out
}

/// Carries out a configuration's `steps` in Microsoft's order and reads the job back: the job
/// created where missing, the secrets sent, the mapping added to `schema` (read just before, and
/// backed up) and read back, then the job started or restarted. Returns the job and what was done,
/// for the journal. Converges: run again, it repeats nothing that holds.
pub async fn converge(
    s: &Session,
    c: &CloudConfig,
    steps: &[CloudStep],
    schema: Option<&Value>,
) -> Result<(Job, Vec<String>), OpsError> {
    let sp = &c.service_principal_id;
    let base = jobs_path(sp);
    let mut done = vec![];
    let mut job = c.password_hash_job.clone();
    for step in steps {
        match step {
            CloudStep::CreateJob => {
                let created = s
                    .graph
                    .send(
                        reqwest::Method::POST,
                        &base,
                        Some(&json!({"templateId": PASSWORD_HASH_TEMPLATE})),
                    )
                    .await?;
                let j = Job::from_graph(&created.body);
                done.push(format!("password hash job {} created", j.id));
                job = Some(j);
            }
            CloudStep::Secrets => {
                s.graph
                    .send(
                        reqwest::Method::PUT,
                        &format!(
                            "/v1.0/servicePrincipals/{}/synchronization/secrets",
                            encode(sp)
                        ),
                        Some(&sync_schema::password_hash_secrets(&c.display_name)),
                    )
                    .await?;
                done.push(format!(
                    "{SECRETS_SENT} (appKeyScenario {})",
                    sync_schema::PASSWORD_HASH_SCENARIO
                ));
            }
            CloudStep::Mapping => {
                let provisioning = c.provisioning_job.as_deref().ok_or_else(|| {
                    OpsError::Refused(format!(
                        "Cloud Sync {}: no provisioning job",
                        c.display_name
                    ))
                })?;
                let body = schema.and_then(sync_schema::with_password_hash).ok_or_else(|| {
                    OpsError::Refused(format!(
                        "Cloud Sync {}: the provisioning job's schema has no object mapping that makes users, so the CredentialData mapping has nowhere to go: check the configuration in the Entra admin center",
                        c.display_name
                    ))
                })?;
                s.graph
                    .send(
                        reqwest::Method::PUT,
                        &schema_path(sp, provisioning),
                        Some(&body),
                    )
                    .await?;
                let after = read_schema(s, sp, provisioning).await?;
                if !sync_schema::maps_password_hash(&after) {
                    return Err(OpsError::Partial(format!(
                        "Cloud Sync {}: Graph accepted the schema, but reading it back shows no CredentialData mapping",
                        c.display_name
                    )));
                }
                done.push("CredentialData mapping added; read back".into());
            }
            CloudStep::Start | CloudStep::Restart => {
                let Some(j) = &job else { continue };
                if let Some(q) = &j.quarantine {
                    return Err(OpsError::Refused(quarantine_advice(&c.display_name, q)));
                }
                let (action, body) = if *step == CloudStep::Restart {
                    ("restart", Some(restart_body()))
                } else {
                    ("start", None)
                };
                s.graph
                    .send(
                        reqwest::Method::POST,
                        &format!("{base}/{}/{action}", encode(&j.id)),
                        body.as_ref(),
                    )
                    .await?;
                done.push(format!("password hash job {action}ed"));
            }
        }
    }
    let Some(j) = job else {
        return Err(OpsError::Refused(format!(
            "Cloud Sync {}: no password hash job",
            c.display_name
        )));
    };
    let after: Value = s.graph.get(&format!("{base}/{}", encode(&j.id))).await?;
    Ok((Job::from_graph(&after), done))
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
            _ if c.provisioning_job.is_none() => why.push(format!(
                "Cloud Sync {}: there is no provisioning job: set the configuration up in the Entra admin center first",
                c.display_name
            )),
            _ => {
                let steps = c.steps(false);
                if steps.is_empty() {
                    why.push(format!(
                        "Cloud Sync {}: the password hash job runs with its secrets and mapping, but no password sync has reached the tenant yet",
                        c.display_name
                    ));
                } else {
                    why.push(format!(
                        "Cloud Sync {}: missing {}: `entra-failover enable-phs` does each",
                        c.display_name,
                        steps.iter().map(|s| s.missing()).collect::<Vec<_>>().join("; ")
                    ));
                }
            }
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
