//! The sync engines of the rehearsal tenant. Password hashes reach Entra ID only through an engine:
//! a Microsoft Entra Connect Sync server whose password sync channel is on (set on the server with
//! the ADSync module, never through Graph), or a Microsoft Entra Cloud Sync configuration whose
//! `AD2AADPasswordHash` job runs. The tenant's flag (`passwordSyncEnabled`) alone copies none, as in
//! a real tenant: a rehearsal that flips only the flag leaves users unable to sign in.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The application (template) id of Microsoft Entra Cloud Sync's AD-to-Entra provisioning.
pub const CLOUD_SYNC_APP_ID: &str = "1a4721b3-e57f-4451-ae87-ef078703ec94";
/// The Directory Synchronization Accounts role: Connect Sync's service account is its member.
pub const DIRECTORY_SYNC_ACCOUNTS: &str = "d29b2b05-8046-44ba-8758-1e26182fcf32";
pub const PASSWORD_HASH_TEMPLATE: &str = "AD2AADPasswordHash";
pub const PROVISIONING_TEMPLATE: &str = "AD2AADProvisioning";

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Engines {
    pub connect: Option<ConnectServer>,
    #[serde(default)]
    pub cloud: Vec<CloudConfig>,
}

/// An Entra Connect Sync server on premises.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectServer {
    /// The server's name, as its service account (`Sync_<SERVER>_<hex>@…`) shows it.
    pub server: String,
    pub service_account_id: String,
    pub service_account_upn: String,
    /// The AD connector (the forest) and the Entra connector, as ADSync names them.
    pub ad_connector: String,
    pub entra_connector: String,
    /// Whether the server's password hash channel is on (`Set-ADSyncAADPasswordSyncConfiguration`).
    pub password_sync: bool,
    /// How often the generated script ran on it (simulated).
    #[serde(default)]
    pub script_runs: u32,
}

/// A Cloud Sync configuration: one service principal per AD domain, with its jobs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CloudConfig {
    pub service_principal_id: String,
    /// The AD domain it synchronizes (its users and those of its subdomains).
    pub display_name: String,
    pub jobs: Vec<JobRec>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JobRec {
    pub id: String,
    pub template_id: String,
    /// `Disabled` (as created), `Active` (started) or `Paused`.
    pub schedule: String,
    pub last_execution: Option<i64>,
    pub quarantine: Option<QuarantineRec>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct QuarantineRec {
    pub reason: String,
    pub code: String,
    pub message: String,
    pub began: i64,
}

impl JobRec {
    pub fn new(template_id: &str) -> JobRec {
        JobRec {
            id: format!("{template_id}.{}", uuid::Uuid::new_v4().simple()),
            template_id: template_id.into(),
            schedule: "Disabled".into(),
            last_execution: None,
            quarantine: None,
        }
    }

    /// Runs on the engine's cycles: started and not in quarantine.
    pub fn runs(&self) -> bool {
        self.schedule == "Active" && self.quarantine.is_none()
    }

    /// The job as Graph v1.0 shows it (`synchronizationJob`).
    pub fn to_json(&self, cycle_minutes: u32) -> Value {
        let t = |s: i64| crate::graph::models::graph_time(crate::clock::unix(s));
        let code = if self.quarantine.is_some() {
            "Quarantine"
        } else {
            match (self.schedule.as_str(), self.last_execution) {
                ("Active", _) => "Active",
                ("Disabled", None) => "NotConfigured",
                _ => "Paused",
            }
        };
        let execution = self.last_execution.map(|at| {
            json!({
                "activityIdentifier": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("{}{at}", self.id).as_bytes()).to_string(),
                "countEntitled": 0, "countEntitledForProvisioning": 0, "countEscrowed": 0,
                "countEscrowedRaw": 0, "countExported": 0, "countExports": 0, "countImported": 0,
                "countImportedDeltas": 0, "countImportedReferenceDeltas": 0, "error": null,
                "state": "Succeeded", "timeBegan": t(at), "timeEnded": t(at),
            })
        });
        let quarantine = self.quarantine.as_ref().map(|q| {
            json!({
                "currentBegan": t(q.began),
                "nextAttempt": t(q.began + 4 * 3600),
                "reason": q.reason,
                "seriesBegan": t(q.began),
                "seriesCount": 1,
                "error": {"code": q.code, "message": q.message, "tenantActionable": true},
            })
        });
        json!({
            "id": self.id,
            "templateId": self.template_id,
            "schedule": {
                "expiration": null,
                "interval": format!("PT{cycle_minutes}M"),
                "state": self.schedule,
            },
            "status": {
                "code": code,
                "countSuccessiveCompleteFailures": 0,
                "escrowsPruned": false,
                "lastExecution": execution,
                "lastSuccessfulExecution": execution,
                "lastSuccessfulExecutionWithExports": null,
                "progress": [],
                "quarantine": quarantine,
                "steadyStateFirstAchievedTime": "0001-01-01T00:00:00Z",
                "steadyStateLastAchievedTime": "0001-01-01T00:00:00Z",
                "synchronizedEntryCountByType": [],
                "troubleshootingUrl": null,
            },
            "synchronizationJobSettings": [],
        })
    }
}

impl CloudConfig {
    pub fn new(domain: &str, password_hash: bool) -> CloudConfig {
        let mut provisioning = JobRec::new(PROVISIONING_TEMPLATE);
        provisioning.schedule = "Active".into();
        let mut jobs = vec![provisioning];
        if password_hash {
            let mut phs = JobRec::new(PASSWORD_HASH_TEMPLATE);
            phs.schedule = "Active".into();
            jobs.push(phs);
        }
        CloudConfig {
            service_principal_id: uuid::Uuid::new_v4().to_string(),
            display_name: domain.into(),
            jobs,
        }
    }

    /// Whether this configuration synchronizes users of `domain`.
    pub fn covers(&self, domain: &str) -> bool {
        let (d, mine) = (
            domain.to_ascii_lowercase(),
            self.display_name.to_ascii_lowercase(),
        );
        d == mine || d.ends_with(&format!(".{mine}"))
    }

    pub fn sends_hashes(&self) -> bool {
        self.jobs
            .iter()
            .any(|j| j.template_id == PASSWORD_HASH_TEMPLATE && j.runs())
    }

    /// The service principal as Graph v1.0 lists it.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.service_principal_id,
            "accountEnabled": true,
            "appId": CLOUD_SYNC_APP_ID,
            "applicationTemplateId": CLOUD_SYNC_APP_ID,
            "appDisplayName": self.display_name,
            "displayName": self.display_name,
            "servicePrincipalType": "Application",
            "signInAudience": "AzureADMyOrg",
            "tags": ["WindowsAzureActiveDirectoryIntegratedApp"],
        })
    }
}

impl ConnectServer {
    pub fn new(server: &str, forest: &str, initial_domain: &str, password_sync: bool) -> Self {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        let tenant = initial_domain.split('.').next().unwrap_or(initial_domain);
        ConnectServer {
            server: server.into(),
            service_account_id: uuid::Uuid::new_v4().to_string(),
            service_account_upn: format!("Sync_{server}_{}@{initial_domain}", &hex[..12]),
            ad_connector: forest.into(),
            entra_connector: format!("{tenant}.onmicrosoft.com - AAD"),
            password_sync,
            script_runs: 0,
        }
    }
}

impl Engines {
    /// Whether a synchronized user of `domain` gets a password hash on a cycle.
    pub fn hashes_flow_for(&self, domain: &str, flag: bool) -> bool {
        flag && (self.connect.as_ref().is_some_and(|c| c.password_sync)
            || self
                .cloud
                .iter()
                .any(|c| c.covers(domain) && c.sends_hashes()))
    }

    /// A cycle: every running Cloud Sync job executes.
    pub fn cycle(&mut self, at: i64) {
        for job in self.cloud.iter_mut().flat_map(|c| c.jobs.iter_mut()) {
            if job.runs() {
                job.last_execution = Some(at);
            }
        }
    }

    pub fn config_mut(&mut self, sp_id: &str) -> Option<&mut CloudConfig> {
        self.cloud
            .iter_mut()
            .find(|c| c.service_principal_id.eq_ignore_ascii_case(sp_id))
    }
}

/// A tenant saved before engines were modelled: a Connect Sync server whose channel follows the flag.
pub fn legacy() -> Engines {
    Engines {
        connect: Some(ConnectServer::new(
            "AADCONNECT01",
            "contoso.com",
            "contoso.onmicrosoft.com",
            true,
        )),
        cloud: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_alone_sends_no_hash() {
        let mut e = Engines {
            connect: Some(ConnectServer::new(
                "S1",
                "contoso.com",
                "c.onmicrosoft.com",
                false,
            )),
            cloud: vec![CloudConfig::new("fabrikam.com", false)],
        };
        assert!(!e.hashes_flow_for("contoso.com", true));
        e.connect.as_mut().unwrap().password_sync = true;
        assert!(e.hashes_flow_for("contoso.com", true));
        assert!(
            !e.hashes_flow_for("contoso.com", false),
            "the flag is needed too"
        );

        let c = &mut e.cloud[0];
        c.jobs.push(JobRec::new(PASSWORD_HASH_TEMPLATE));
        assert!(!c.sends_hashes(), "a job is created disabled");
        c.jobs[1].schedule = "Active".into();
        assert!(c.sends_hashes() && c.covers("eu.fabrikam.com") && !c.covers("contoso.com"));
        c.jobs[1].quarantine = Some(QuarantineRec {
            reason: "EncounteredQuarantineException".into(),
            code: "x".into(),
            message: "y".into(),
            began: 0,
        });
        assert!(!c.sends_hashes(), "quarantine stops it");
        assert_eq!(c.jobs[1].to_json(2)["status"]["code"], "Quarantine");
    }
}
