//! The sync engines of the rehearsal tenant. Password hashes reach Entra ID only through an engine:
//! a Microsoft Entra Connect Sync server whose password sync channel is on (set on the server with
//! the ADSync module, never through Graph), or a Microsoft Entra Cloud Sync configuration set up as
//! Microsoft documents it for Graph: its `AD2AADPasswordHash` job runs, its `AppKey` secret names the
//! `AD2AADPasswordHash` scenario, and its provisioning job's schema maps `[PasswordHash]` to
//! `CredentialData`. The tenant's flag (`passwordSyncEnabled`) alone copies none, as in a real tenant,
//! and neither does a job started without the secret and the mapping: a rehearsal that skips a
//! step leaves users unable to sign in.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::graph::sync_schema::{
    PASSWORD_HASH_SCENARIO, credential_data_mapping, maps_password_hash,
};

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

/// A Cloud Sync configuration: one service principal per AD domain, with its jobs and secrets.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CloudConfig {
    pub service_principal_id: String,
    /// The AD domain it synchronizes (its users and those of its subdomains).
    pub display_name: String,
    pub jobs: Vec<JobRec>,
    /// The synchronization secrets as last sent (`PUT …/synchronization/secrets` replaces the set;
    /// Graph never returns them). `None`: a state saved before secrets were modelled.
    #[serde(default)]
    pub secrets: Option<Vec<(String, String)>>,
}

fn attribute(source: &str, target: &str, matching: i32) -> Value {
    json!({
        "defaultValue": null,
        "exportMissingReferences": false,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": matching,
        "targetAttributeName": target,
        "source": {"expression": format!("[{source}]"), "name": source, "type": "Attribute", "parameters": []},
    })
}

/// A job's synchronization schema as its template makes it (`synchronizationSchema`, v1.0): for the
/// provisioning job, one rule from Active Directory with object mappings for users, inetOrgPersons
/// and groups; the two that make users carry the password hash mapping when `password_hash` is set.
pub fn template_schema(template_id: &str, password_hash: bool) -> Value {
    let mut users = vec![
        attribute("objectGUID", "SourceAnchor", 1),
        attribute("userPrincipalName", "UserPrincipalName", 0),
        attribute("displayName", "DisplayName", 0),
        attribute("mail", "Mail", 0),
        attribute("sAMAccountName", "OnPremisesSamAccountName", 0),
    ];
    if password_hash {
        users.push(credential_data_mapping());
    }
    let mapping = |name: &str, source: &str, target: &str, attributes: Vec<Value>| {
        json!({
            "attributeMappings": attributes,
            "enabled": true,
            "flowTypes": "Add, Update, Delete",
            "metadata": [],
            "name": name,
            "scope": null,
            "sourceObjectName": source,
            "targetObjectName": target,
        })
    };
    let mappings = if template_id == PROVISIONING_TEMPLATE {
        vec![
            mapping(
                "Provision Active Directory users",
                "user",
                "User",
                users.clone(),
            ),
            mapping(
                "Provision Active Directory inetOrgPersons",
                "inetOrgPerson",
                "User",
                users,
            ),
            mapping(
                "Provision Active Directory groups",
                "group",
                "Group",
                vec![
                    attribute("objectGUID", "SourceAnchor", 1),
                    attribute("displayName", "DisplayName", 0),
                ],
            ),
        ]
    } else {
        vec![mapping(
            "Synchronize password hashes",
            "user",
            "User",
            vec![attribute("objectGUID", "SourceAnchor", 1)],
        )]
    };
    json!({
        "id": template_id,
        "version": "Date:2026-01-01T00:00:00Z~###1###",
        "synchronizationRules": [{
            "containerFilter": {"includedContainers": []},
            "editable": true,
            "groupFilter": {"includedGroups": []},
            "id": template_id,
            "metadata": [],
            "name": if template_id == PROVISIONING_TEMPLATE { "USER_INBOUND_USER" } else { "PASSWORD_HASH" },
            "objectMappings": mappings,
            "priority": 1,
            "sourceDirectoryName": "Active Directory",
            "targetDirectoryName": "Azure Active Directory",
        }],
        "directories": [],
    })
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct JobRec {
    pub id: String,
    pub template_id: String,
    /// `Disabled` (as created), `Active` (started) or `Paused`.
    pub schedule: String,
    pub last_execution: Option<i64>,
    pub quarantine: Option<QuarantineRec>,
    /// The job's synchronization schema; `None`: as its template makes it (a state saved before
    /// schemas were modelled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
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
            schema: None,
        }
    }

    /// The schema as Graph shows it (the template's until one is sent).
    pub fn schema(&self) -> Value {
        self.schema
            .clone()
            .unwrap_or_else(|| template_schema(&self.template_id, false))
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
    /// A configuration as the portal leaves it: with password hash sync, everything Microsoft's
    /// procedure sets; without, a provisioning job whose schema has no password hash mapping and an
    /// `AppKey` for provisioning alone.
    pub fn new(domain: &str, password_hash: bool) -> CloudConfig {
        let mut provisioning = JobRec::new(PROVISIONING_TEMPLATE);
        provisioning.schedule = "Active".into();
        provisioning.schema = Some(template_schema(PROVISIONING_TEMPLATE, password_hash));
        let mut jobs = vec![provisioning];
        let scenario = if password_hash {
            let mut phs = JobRec::new(PASSWORD_HASH_TEMPLATE);
            phs.schedule = "Active".into();
            jobs.push(phs);
            PASSWORD_HASH_SCENARIO
        } else {
            PROVISIONING_TEMPLATE
        };
        CloudConfig {
            service_principal_id: uuid::Uuid::new_v4().to_string(),
            display_name: domain.into(),
            jobs,
            secrets: Some(vec![
                (
                    "AppKey".into(),
                    json!({"appKeyScenario": scenario}).to_string(),
                ),
                ("Domain".into(), json!({"domain": domain}).to_string()),
            ]),
        }
    }

    /// The scenario the `AppKey` secret names, if it is set and readable.
    pub fn app_key_scenario(&self) -> Option<String> {
        let (_, v) = self.secrets.iter().flatten().find(|(k, _)| k == "AppKey")?;
        let v: Value = serde_json::from_str(v).ok()?;
        v["appKeyScenario"].as_str().map(str::to_string)
    }

    /// Whether the provisioning job's schema maps password hashes.
    pub fn maps_password_hash(&self) -> bool {
        self.jobs
            .iter()
            .filter(|j| j.template_id == PROVISIONING_TEMPLATE)
            .any(|j| maps_password_hash(&j.schema()))
    }

    /// Whether this configuration synchronizes users of `domain`.
    pub fn covers(&self, domain: &str) -> bool {
        let (d, mine) = (
            domain.to_ascii_lowercase(),
            self.display_name.to_ascii_lowercase(),
        );
        d == mine || d.ends_with(&format!(".{mine}"))
    }

    /// Microsoft's three steps all done: the job runs, the `AppKey` names the password hash
    /// scenario, the provisioning schema maps the hash.
    pub fn sends_hashes(&self) -> bool {
        self.jobs
            .iter()
            .any(|j| j.template_id == PASSWORD_HASH_TEMPLATE && j.runs())
            && self.app_key_scenario().as_deref() == Some(PASSWORD_HASH_SCENARIO)
            && self.maps_password_hash()
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

    /// A state saved before secrets and schemas were modelled: each configuration is taken to be
    /// set up as the portal leaves it, password hashes on where its job was there, so that an old
    /// rehearsal goes on as it was.
    pub fn upgrade_saved(&mut self) {
        for c in self.cloud.iter_mut().filter(|c| c.secrets.is_none()) {
            let phs = c
                .jobs
                .iter()
                .any(|j| j.template_id == PASSWORD_HASH_TEMPLATE);
            let fresh = CloudConfig::new(&c.display_name, phs);
            c.secrets = fresh.secrets;
            for j in c
                .jobs
                .iter_mut()
                .filter(|j| j.template_id == PROVISIONING_TEMPLATE && j.schema.is_none())
            {
                j.schema = Some(template_schema(PROVISIONING_TEMPLATE, phs));
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
        assert!(
            !c.sends_hashes(),
            "a running job without the AppKey and the mapping sends none"
        );
        if let Some(list) = c.secrets.as_mut() {
            list[0].1 = json!({"appKeyScenario": PASSWORD_HASH_SCENARIO}).to_string();
        }
        assert!(!c.sends_hashes(), "nor without the CredentialData mapping");
        c.jobs[0].schema = Some(template_schema(PROVISIONING_TEMPLATE, true));
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
