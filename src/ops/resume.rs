//! `resume`: finish what an interrupted run left. Every journal intent without an outcome is reconciled
//! by reading the domain's real state: a change that was made gets its *done* line; one that was not is
//! made now, from the backup the intent names.

use serde::Serialize;
use serde_json::{Value, json};

use super::backup;
use super::journal::{self, Entry};
use super::status::{federation, sync_settings};
use super::{OpsError, Progress, Session};
use crate::graph::encode;

#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Item {
    pub operation: String,
    pub domain: String,
    /// `already done` (the change was made; now journaled), `finished`, or `needs you` (with the reason).
    pub outcome: String,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub items: Vec<Item>,
}

fn entry(op: &str, domain: &str, phase: &str, backup: Option<String>, detail: &str) -> Entry {
    Entry::new(op, domain, phase, detail).with_backup(backup.as_deref(), None)
}

pub async fn run(s: &Session, progress: &dyn Progress) -> Result<Report, OpsError> {
    let _lock = super::lock::acquire(&s.home, &s.tenant)?;
    let mut items = vec![];
    for intent in journal::pending(&journal::read(&s.home, &s.tenant)?) {
        progress.event(
            Some(&intent.domain),
            &format!("reconciling an interrupted {}", intent.operation),
        );
        let (outcome, detail) = reconcile(s, &intent).await?;
        let phase = if outcome == "needs you" {
            "failed"
        } else {
            "done"
        };
        journal::append(
            &s.home,
            &s.tenant,
            &entry(
                &intent.operation,
                &intent.domain,
                phase,
                intent.backup.clone(),
                &format!("resume: {detail}"),
            ),
        )?;
        items.push(Item {
            operation: intent.operation.clone(),
            domain: intent.domain.clone(),
            outcome: outcome.into(),
            detail,
        });
    }
    Ok(Report { items })
}

async fn reconcile(s: &Session, intent: &Entry) -> Result<(&'static str, String), OpsError> {
    let d = encode(&intent.domain);
    match intent.operation.as_str() {
        "failover" => {
            let domain: Value = s.graph.get(&format!("/v1.0/domains/{d}")).await?;
            if domain["authenticationType"] == "Managed" {
                return Ok(("already done", "read back: Managed".into()));
            }
            let ok = intent
                .backup
                .as_deref()
                .is_some_and(|p| backup::read(std::path::Path::new(p)).is_ok());
            if !ok {
                return Ok((
                    "needs you",
                    "still federated and its backup cannot be read: run failover again".into(),
                ));
            }
            s.graph
                .send(
                    reqwest::Method::PATCH,
                    &format!("/v1.0/domains/{d}"),
                    Some(&json!({"authenticationType": "Managed"})),
                )
                .await?;
            let after: Value = s.graph.get(&format!("/v1.0/domains/{d}")).await?;
            if after["authenticationType"] == "Managed" {
                Ok(("finished", "converted; read back: Managed".into()))
            } else {
                Ok((
                    "needs you",
                    "the conversion did not take: run failover again".into(),
                ))
            }
        }
        "switch-back" => {
            let Some(path) = intent.backup.as_deref().filter(|p| p.ends_with(".json")) else {
                return Ok((
                    "needs you",
                    "the settings came from the farm's metadata: run switch-back again".into(),
                ));
            };
            let b = backup::read(std::path::Path::new(path))?;
            let wanted = b.restorable_settings();
            let same = |raw: &Value| {
                wanted.as_object().is_some_and(|w| {
                    w.iter()
                        .filter(|(k, _)| !k.starts_with('@'))
                        .all(|(k, v)| raw.get(k).unwrap_or(&Value::Null) == v)
                })
            };
            if let Some((_, raw)) = federation(s, &intent.domain).await? {
                return Ok(if same(&raw) {
                    (
                        "already done",
                        "read back: federated with the backed-up settings".into(),
                    )
                } else {
                    (
                        "needs you",
                        "federated, but with other settings than the backup: check them".into(),
                    )
                });
            }
            s.graph
                .send(
                    reqwest::Method::POST,
                    &format!("/v1.0/domains/{d}/federationConfiguration"),
                    Some(&wanted),
                )
                .await?;
            match federation(s, &intent.domain).await? {
                Some((_, raw)) if same(&raw) => {
                    Ok(("finished", "federated from the backup; read back".into()))
                }
                _ => Ok((
                    "needs you",
                    "the federation settings did not take: run switch-back again".into(),
                )),
            }
        }
        super::staged_rollout::OP => super::staged_rollout::reconcile(s, intent).await,
        "enable-phs" => {
            let sync = sync_settings(s).await?;
            if sync.features.as_ref().and_then(|f| f.password_sync_enabled) == Some(true) {
                return Ok(("already done", "read back: password hash sync on".into()));
            }
            let id = sync.id.unwrap_or_default();
            let path = format!("/v1.0/directory/onPremisesSynchronization/{id}");
            s.graph
                .send(
                    reqwest::Method::PATCH,
                    &path,
                    Some(&json!({"features": {"passwordSyncEnabled": true}})),
                )
                .await?;
            Ok(("finished", "password hash sync turned on; read back".into()))
        }
        super::enable_phs::CLOUD_OP => {
            // The backup names the configuration's service principal.
            let b = match intent.backup.as_deref() {
                Some(p) => backup::SyncJobsBackup::read(std::path::Path::new(p))?,
                None => {
                    return Ok((
                        "needs you",
                        "the intent names no backup: run enable-phs again (it converges)".into(),
                    ));
                }
            };
            // The configuration as it is now, and the steps it still lacks; the secrets are sent
            // again (the intent may have been cut before or after them, and Graph cannot tell).
            let read = super::sync_engines::read_config(s, &b.service_principal_id).await?;
            let c = super::sync_engines::CloudConfig::from_read(
                &b.service_principal_id,
                &b.configuration,
                &read,
            );
            let steps = c.steps(false);
            if steps.is_empty() {
                return Ok((
                    "already done",
                    "read back: the password hash job runs with its secrets and mapping".into(),
                ));
            }
            match super::sync_engines::converge(s, &c, &steps, read.schema.as_ref()).await {
                Ok((j, done)) if j.running() => Ok((
                    "finished",
                    format!("{}; read back: job {} {}", done.join("; "), j.id, j.code),
                )),
                Ok((j, _)) => Ok((
                    "needs you",
                    format!(
                        "the password hash job {} is {}: run enable-phs again",
                        j.id, j.code
                    ),
                )),
                Err(OpsError::Refused(why)) => Ok(("needs you", why)),
                Err(e) => Err(e),
            }
        }
        other => Ok((
            "needs you",
            format!("an interrupted {other}: run it again (it converges)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(op: &str, domain: &str, phase: &str) -> Entry {
        entry(op, domain, phase, None, "")
    }

    #[test]
    fn only_intents_without_an_outcome_are_pending() {
        let log = vec![
            e("failover", "a.com", "intent"),
            e("failover", "a.com", "done"),
            e("failover", "b.com", "intent"),
            e("switch-back", "a.com", "intent"),
            e("failover", "c.com", "intent"),
            e("failover", "c.com", "failed"),
        ];
        let p: Vec<(String, String)> = journal::pending(&log)
            .into_iter()
            .map(|x| (x.operation, x.domain))
            .collect();
        assert_eq!(
            p,
            [
                ("failover".to_string(), "b.com".to_string()),
                ("switch-back".to_string(), "a.com".to_string())
            ]
        );
    }
}
