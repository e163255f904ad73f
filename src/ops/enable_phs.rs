//! `enable-phs`: turn on the password hash sync flag. The flag alone copies no hash: the sync engine on
//! premises does, on its next cycles; the report says when the last password sync ran.

use serde::Serialize;
use serde_json::json;

use super::journal::{self, Entry};
use super::plan::{Outcome, Plan};
use super::status::{last_password_sync, sync_settings, who};
use super::{OpsError, Progress, Session};
use crate::auth::claims::Task;

pub struct Prepared {
    pub plan: Plan,
    sync_id: String,
    already: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub changed: bool,
    pub password_hash_sync: bool,
    pub last_password_sync: Option<String>,
    pub note: String,
}

pub async fn prepare(s: &Session) -> Result<Prepared, OpsError> {
    let mut plan = Plan::new("Turn on password hash synchronization", &s.tenant);
    let me = who(s).await?;
    plan.permissions(
        &me,
        Task::EnablePasswordHashSync,
        "change the sync settings",
    );
    let sync = sync_settings(s).await?;
    let sync_id = sync.id.clone().unwrap_or_default();
    let already = sync.features.as_ref().and_then(|f| f.password_sync_enabled) == Some(true);
    if already {
        plan.check("password hash sync", Outcome::Pass, "already on");
    } else {
        plan.step(
            None,
            "PATCH",
            &format!("/v1.0/directory/onPremisesSynchronization/{sync_id}"),
            Some(json!({"features": {"passwordSyncEnabled": true}})),
            "turn the password hash sync flag on",
        );
        plan.step(
            None,
            "GET",
            &format!("/v1.0/directory/onPremisesSynchronization/{sync_id}"),
            None,
            "read it back",
        );
    }
    Ok(Prepared {
        plan,
        sync_id,
        already,
    })
}

pub async fn run(s: &Session, p: Prepared, progress: &dyn Progress) -> Result<Report, OpsError> {
    let _lock = super::lock::acquire(&s.home, &s.tenant)?;
    if let Some(f) = p.plan.failed().first() {
        return Err(OpsError::Refused(format!("{}: {}", f.name, f.detail)));
    }
    if !p.already {
        let path = format!("/v1.0/directory/onPremisesSynchronization/{}", p.sync_id);
        let entry = |phase: &str, detail: &str| Entry {
            time: journal::now(),
            operation: "enable-phs".into(),
            domain: "-".into(),
            phase: phase.into(),
            backup: None,
            sha256: None,
            detail: detail.into(),
        };
        journal::append(
            &s.home,
            &s.tenant,
            &entry("intent", "passwordSyncEnabled false -> true"),
        )?;
        progress.event(None, "turning on password hash sync");
        s.graph
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
            journal::append(&s.home, &s.tenant, &entry("failed", "read back: still off"))?;
            return Err(OpsError::Partial(
                "Graph accepted the change but reading it back shows password hash sync still off"
                    .into(),
            ));
        }
        journal::append(&s.home, &s.tenant, &entry("done", "read back: on"))?;
    }
    let last = last_password_sync(s).await;
    let note = match &last {
        Some(t) => format!("Password hashes come from the on-premises sync server; the last password sync ran at {t}."),
        None => "Password hashes come from the on-premises sync server on its next cycles (the first full sync can take up to three hours). No password sync has run yet.".into(),
    };
    Ok(Report {
        changed: !p.already,
        password_hash_sync: true,
        last_password_sync: last,
        note,
    })
}
