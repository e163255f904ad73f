//! The runbook's *Enable single sign-on* step: Seamless SSO is checked and turned on per AD forest
//! by the `AzureADSSO` module on the Connect server, which Graph cannot reach, so this step writes the
//! script for it (`connect::sso_script`) and says where and how to run it. `failover` writes it
//! beside its other scripts (unless `--no-sso`); `enable-sso` writes it on its own.
//!
//! No tenant change is made here: the plan names the script, what it checks and changes, and the
//! browser setting users need.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::plan::{Outcome, Plan};
use super::{OpsError, Session, journal};
use crate::connect::sso_script;
use crate::graph::models::{AuthenticationType, Domain};

/// The script's file name, per server when the server is known.
pub fn file_name(server: Option<&str>) -> String {
    match server
        .map(crate::powershell::plain)
        .filter(|s| !s.is_empty())
    {
        Some(s) => format!("enable-seamless-sso.{s}.ps1"),
        None => "enable-seamless-sso.ps1".into(),
    }
}

/// The script's default place: the data folder's scripts, per tenant (beside the others).
pub fn default_script_path(home: &Path, tenant: &str, server: Option<&str>) -> PathBuf {
    super::records::script_path(home, tenant, &file_name(server))
}

/// What the plan says of Seamless SSO, for a script at `path` covering `forests`.
pub fn check_line(path: &Path, server: Option<&str>, forests: &[String]) -> String {
    let on = server.map(|s| format!(" on {s}")).unwrap_or_default();
    format!(
        "Graph cannot show or change Seamless SSO: {} checks each forest ({}) and turns it on where it is missing. Run it{on} (the Connect server) as an administrator: it asks for a domain administrator of each forest it enables; -StatusOnly changes nothing. Browsers need {} in the Local intranet zone",
        path.display(),
        if forests.is_empty() {
            "those of the server's AD connectors".to_string()
        } else {
            forests.join(", ")
        },
        sso_script::AUTOLOGON_URL
    )
}

/// Writes the script (see `records::write_script`).
pub fn write_script(
    s: &Session,
    path: &Path,
    server: Option<&str>,
    forests: &[String],
) -> Result<(), OpsError> {
    let text = sso_script::script(&sso_script::Target {
        tenant: &s.tenant,
        server,
        forests,
        generated_at: &journal::now(),
    })?;
    super::records::write_script(path, &text)
}

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Where to write the script (default: the data folder's scripts).
    pub script: Option<PathBuf>,
    /// The forests to check when the Connect server's AD connectors do not name them (default: the
    /// tenant's verified root domains but the `onmicrosoft.com` one).
    pub forests: Vec<String>,
}

pub struct Prepared {
    pub plan: Plan,
    pub script: PathBuf,
    pub server: Option<String>,
    pub forests: Vec<String>,
    pub cloud_sync_only: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub script: String,
    pub server: Option<String>,
    pub forests: Vec<String>,
    pub cloud_sync_only: bool,
    pub intranet_zone: &'static str,
    pub note: String,
}

/// Reads which engine synchronizes (the Connect server's name, or Cloud Sync only) and the domains,
/// and plans the script; nothing in the tenant changes.
pub async fn prepare(s: &Session, o: &Options) -> Result<Prepared, OpsError> {
    let mut plan = Plan::new("Enable single sign-on (Seamless SSO)", &s.tenant);
    let (engines, domains) = futures_util::try_join!(super::sync_engines::detect(s), async {
        Ok::<Vec<Domain>, OpsError>(s.graph.list("/v1.0/domains").await?)
    })?;
    let server = engines.connect.as_ref().and_then(|c| c.server.clone());
    let cloud_sync_only = engines.connect.is_none() && !engines.cloud.is_empty();
    let forests: Vec<String> = if o.forests.is_empty() {
        domains
            .iter()
            .filter(|d| d.is_root != Some(false) && d.is_verified == Some(true))
            .filter_map(|d| d.id.clone())
            .filter(|id| !id.to_ascii_lowercase().ends_with(".onmicrosoft.com"))
            .collect()
    } else {
        o.forests.clone()
    };
    let script = o
        .script
        .clone()
        .unwrap_or_else(|| default_script_path(&s.home, &s.tenant, server.as_deref()));
    plan.check(
        "Seamless SSO",
        Outcome::Info,
        check_line(&script, server.as_deref(), &forests),
    );
    if cloud_sync_only {
        plan.check(
            "Cloud Sync only",
            Outcome::Warn,
            "no Entra Connect server: Microsoft's AzureADSSO module ships with the Entra Connect package. Install it, without configuring sync, on a domain-joined server and run the script there with -CloudSyncOnly",
        );
    }
    let federated: Vec<&str> = domains
        .iter()
        .filter(|d| {
            d.authentication_type == Some(AuthenticationType::Federated) && d.is_root != Some(false)
        })
        .filter_map(|d| d.id.as_deref())
        .collect();
    if !federated.is_empty() {
        plan.check(
            "federated domains",
            Outcome::Info,
            format!(
                "Seamless SSO applies once sign-in is managed (password hash sync): {} still sign in through AD FS",
                federated.join(", ")
            ),
        );
    }
    Ok(Prepared {
        plan,
        script,
        server,
        forests,
        cloud_sync_only,
    })
}

pub fn run(s: &Session, p: Prepared) -> Result<Report, OpsError> {
    write_script(s, &p.script, p.server.as_deref(), &p.forests)?;
    let on = p
        .server
        .as_deref()
        .map(|s| format!(" on {s}"))
        .unwrap_or_default();
    let note = if p.cloud_sync_only {
        format!(
            "Install the Entra Connect package (without configuring sync) on a domain-joined server, then run {} there as an administrator with -CloudSyncOnly (first with -StatusOnly to see each forest's state)",
            p.script.display()
        )
    } else {
        format!(
            "Run {}{on} as an administrator (first with -StatusOnly to see each forest's state); it asks for a domain administrator of each forest it enables",
            p.script.display()
        )
    };
    Ok(Report {
        script: p.script.display().to_string(),
        server: p.server,
        forests: p.forests,
        cloud_sync_only: p.cloud_sync_only,
        intranet_zone: sso_script::AUTOLOGON_URL,
        note,
    })
}
