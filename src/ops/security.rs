//! The security pre-flight of a failover: what stops protecting users when AD FS leaves the
//! sign-in path. From what Graph shows: each domain's `federatedIdpMfaBehavior` (did Entra ID rely
//! on the farm for MFA?) and the tenant's Conditional Access policies (does one require MFA of
//! these users on every app, and does one block legacy authentication?). A warning never blocks a
//! failover during an outage: it is carried in the plan, the confirmation and the change report.
//! What the farm itself enforces is invisible from the cloud: a script exports it.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::plan::{Check, Outcome};
use super::{OpsError, Session};

/// The name of the MFA check line, and the legacy one.
pub const MFA: &str = "MFA after the cutover";
pub const LEGACY: &str = "legacy authentication";

use crate::graph::models::string_list as strings;

fn name(p: &Value) -> String {
    p["displayName"].as_str().unwrap_or("(unnamed)").to_string()
}

/// How far one policy's MFA reaches: `None` when it asks no MFA.
struct MfaReach {
    name: String,
    enforced: bool,
    all_users: bool,
    all_apps: bool,
    all_clients: bool,
    excluded: usize,
    groups: usize,
}

fn mfa_reach(p: &Value) -> Option<MfaReach> {
    let grant = &p["grantControls"];
    let mfa = strings(&grant["builtInControls"])
        .iter()
        .any(|c| c == "mfa")
        || grant["authenticationStrength"].is_object();
    if !mfa {
        return None;
    }
    let state = p["state"].as_str().unwrap_or_default();
    if state == "disabled" {
        return None;
    }
    let users = &p["conditions"]["users"];
    let apps = strings(&p["conditions"]["applications"]["includeApplications"]);
    let clients = strings(&p["conditions"]["clientAppTypes"]);
    Some(MfaReach {
        name: name(p),
        enforced: state == "enabled",
        all_users: strings(&users["includeUsers"]).iter().any(|u| u == "All"),
        all_apps: apps.iter().any(|a| a == "All" || a == "Office365"),
        all_clients: clients.is_empty()
            || clients.iter().any(|c| c == "all")
            || (clients.iter().any(|c| c == "browser")
                && clients.iter().any(|c| c == "mobileAppsAndDesktopClients")),
        excluded: strings(&users["excludeUsers"]).len() + strings(&users["excludeGroups"]).len(),
        groups: strings(&users["includeGroups"]).len(),
    })
}

/// Whether an enabled policy blocks legacy clients for everyone.
fn blocks_legacy(p: &Value) -> bool {
    let clients = strings(&p["conditions"]["clientAppTypes"]);
    p["state"] == "enabled"
        && strings(&p["grantControls"]["builtInControls"])
            .iter()
            .any(|c| c == "block")
        && clients
            .iter()
            .any(|c| c == "exchangeActiveSync" || c == "other")
        && strings(&p["conditions"]["users"]["includeUsers"])
            .iter()
            .any(|u| u == "All")
}

/// What a switch-back or trust reset says of the farm's backup: the way back if the farm
/// misbehaves after the change.
pub fn farm_backup_advice(home: &Path, tenant: &str) -> String {
    format!(
        "if the farm misbehaves after this, restore it from the backup that {} made before the switch to password hash sync (Restore-ADFS, on the primary AD FS server; its default folder is {}); the relying party trust is not in it: reset-trust mends that",
        super::records::script_path(home, tenant, crate::adfs::farm_backup::FILE).display(),
        crate::adfs::farm_backup::DEFAULT_FOLDER
    )
}

/// Writes a farm script into the data folder's scripts (kept private) and returns its path.
fn write_farm_script(s: &Session, file: &str, text: &str) -> Result<PathBuf, OpsError> {
    let path = super::records::script_path(&s.home, &s.tenant, file);
    if let Some(dir) = path.parent() {
        super::journal::private_dir(dir)?;
    }
    super::records::write_script(&path, text)?;
    Ok(path)
}

/// The Conditional Access policies, the one read the checks make: a pre-flight sends it with its
/// first reads (it depends on none of them), and hands the answer to `checks`.
pub async fn read_policies(s: &Session) -> Result<Vec<Value>, OpsError> {
    s.graph
        .list("/v1.0/identity/conditionalAccess/policies")
        .await
        .map_err(Into::into)
}

/// The checks, for `domains` with the federation settings the pre-flight read (`None`: none).
pub async fn preflight(s: &Session, domains: &[(String, Option<Value>)]) -> Vec<Check> {
    checks(s, domains, read_policies(s).await)
}

/// The checks, from the settings and the policies already read (and the farm scripts they name,
/// written).
pub fn checks(
    s: &Session,
    domains: &[(String, Option<Value>)],
    policies: Result<Vec<Value>, OpsError>,
) -> Vec<Check> {
    let mut checks = vec![];
    // Which domains had Entra ID count (or ask for) the farm's MFA.
    let mut farm_mfa = vec![];
    for (d, raw) in domains {
        let behaviour = raw
            .as_ref()
            .and_then(|r| r["federatedIdpMfaBehavior"].as_str());
        let (relied, detail) = match behaviour {
            Some("enforceMfaByFederatedIdp") => (
                true,
                "enforceMfaByFederatedIdp: Entra ID sends these users back to AD FS for MFA; after the cutover AD FS is out of the path".to_string(),
            ),
            Some("rejectMfaByFederatedIdp") => (
                false,
                "rejectMfaByFederatedIdp: Entra ID already does its own MFA for these users; the cutover does not change that".to_string(),
            ),
            Some("acceptIfMfaDoneByFederatedIdp") => (
                true,
                "acceptIfMfaDoneByFederatedIdp: MFA done at AD FS counted; after the cutover only Entra ID's own MFA does".to_string(),
            ),
            Some(other) => (true, format!("{other}: a value this tool does not know")),
            None => (
                true,
                "never set: Entra ID assumes acceptIfMfaDoneByFederatedIdp (or honours the older SupportsMfa): MFA done at AD FS counted; after the cutover only Entra ID's own MFA does".to_string(),
            ),
        };
        if relied {
            farm_mfa.push(d.clone());
        }
        checks.push(Check::new(
            &format!("MFA at the farm, {d}"),
            Outcome::Info,
            detail,
        ));
    }
    let who = if farm_mfa.is_empty() {
        "these users".to_string()
    } else {
        format!("users of {} (whose MFA the farm did)", farm_mfa.join(", "))
    };
    match policies {
        Err(OpsError::Graph(g)) if g.status() == Some(403) => {
            for name in [MFA, LEGACY] {
                checks.push(Check::new(
                    name,
                    Outcome::Warn,
                    "cannot tell: missing Policy.Read.All (the signed-in identity cannot read Conditional Access policies); check them in the Entra admin center before the cutover",
                ));
            }
        }
        Err(e) => {
            for name in [MFA, LEGACY] {
                checks.push(Check::new(
                    name,
                    Outcome::Warn,
                    format!("cannot tell: Conditional Access could not be read ({e})"),
                ));
            }
        }
        Ok(policies) => {
            checks.push(mfa_check(&policies, &who));
            checks.push(match policies.iter().find(|p| blocks_legacy(p)) {
                Some(p) => Check::new(
                    LEGACY,
                    Outcome::Pass,
                    format!("blocked for all users by policy '{}'", name(p)),
                ),
                None => Check::new(
                    LEGACY,
                    Outcome::Warn,
                    "no enabled Conditional Access policy blocks legacy authentication (Exchange ActiveSync, other clients): after the cutover those protocols take a password alone; Microsoft's migration guide says to block them",
                ),
            });
        }
    }
    // Microsoft's first "Important" step: a backup of the farm, with its Rapid Restore Tool.
    let now = super::journal::now();
    checks.push(Check::new(
        "AD FS farm backup",
        Outcome::Info,
        match crate::adfs::farm_backup::script(&s.tenant, &now)
            .map_err(OpsError::from)
            .and_then(|text| write_farm_script(s, crate::adfs::farm_backup::FILE, &text))
        {
            Ok(path) => format!(
                "Microsoft's runbook backs up the AD FS farm before the switch, while its servers still run: {} does it with the AD FS Rapid Restore Tool on the primary server (it asks for the backup's password; a restore needs it, and it is the way back if the farm misbehaves after the switch back)",
                path.display()
            ),
            Err(e) => format!(
                "Microsoft's runbook backs up the AD FS farm before the switch (AD FS Rapid Restore Tool), and the script that does it could not be written: {e}"
            ),
        },
    ));
    // What the farm enforced itself: exported by a script, for the administrator to compare.
    let names: Vec<String> = domains.iter().map(|(d, _)| d.clone()).collect();
    let text = crate::adfs::policy_export::script(&s.tenant, &names, &now);
    checks.push(Check::new(
        "AD FS policies",
        Outcome::Info,
        match text
            .map_err(OpsError::from)
            .and_then(|text| write_farm_script(s, "export-adfs-access-policies.ps1", &text))
        {
            Ok(path) => format!(
                "what AD FS itself enforces (access control policies, MFA adapters, additional authentication rules) is not visible from the cloud: {} exports it on the farm, to compare with Conditional Access",
                path.display()
            ),
            Err(e) => format!(
                "what AD FS itself enforces is not visible from the cloud, and the export script could not be written: {e}"
            ),
        },
    ));
    checks
}

/// The enabled policy that requires MFA of all users for all resources and clients, if one does.
pub fn mfa_for_all(policies: &[Value]) -> Option<String> {
    policies
        .iter()
        .filter_map(mfa_reach)
        .find(|r| r.enforced && r.all_users && r.all_apps && r.all_clients)
        .map(|r| r.name)
}

fn mfa_check(policies: &[Value], who: &str) -> Check {
    let reaches: Vec<MfaReach> = policies.iter().filter_map(mfa_reach).collect();
    if let Some(r) = reaches
        .iter()
        .find(|r| r.enforced && r.all_users && r.all_apps && r.all_clients)
    {
        return Check::new(
            MFA,
            Outcome::Pass,
            format!(
                "policy '{}' requires MFA of all users on all apps{}",
                r.name,
                if r.excluded > 0 {
                    format!(" ({} users or groups excluded: check them)", r.excluded)
                } else {
                    String::new()
                }
            ),
        );
    }
    if reaches.is_empty() {
        return Check::new(
            MFA,
            Outcome::Warn,
            format!(
                "no Conditional Access policy requires MFA: after the cutover, {who} sign in with a password alone. Create one (all users, all resources, grant: require MFA) before or right after the failover (`entra-failover readiness` counts who has no MFA method to register with)"
            ),
        );
    }
    let gaps: Vec<String> = reaches
        .iter()
        .map(|r| {
            let mut g = vec![];
            if !r.enforced {
                g.push("is report-only (not enforced)".to_string());
            }
            if !r.all_users {
                g.push(if r.groups > 0 {
                    format!("covers {} group(s), not all users", r.groups)
                } else {
                    "does not cover all users".to_string()
                });
            }
            if !r.all_apps {
                g.push("does not cover all apps (nor Office 365)".to_string());
            }
            if !r.all_clients {
                g.push("does not cover every client app type".to_string());
            }
            format!("'{}' {}", r.name, g.join(", "))
        })
        .collect();
    Check::new(
        MFA,
        Outcome::Warn,
        format!(
            "no enabled policy requires MFA of all users on all apps ({}): after the cutover, {who} outside them sign in with a password alone",
            gaps.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(state: &str, grant: &str, users: &str, apps: &str) -> Value {
        json!({
            "displayName": format!("{grant} {users}"),
            "state": state,
            "conditions": {
                "clientAppTypes": ["all"],
                "applications": {"includeApplications": [apps]},
                "users": {"includeUsers": [users], "excludeUsers": [], "includeGroups": [], "excludeGroups": []}
            },
            "grantControls": {"builtInControls": [grant], "authenticationStrength": null}
        })
    }

    #[test]
    fn mfa_for_all_passes_and_each_gap_is_named() {
        let all = policy("enabled", "mfa", "All", "All");
        assert_eq!(mfa_check(&[all], "u").outcome, Outcome::Pass);
        let none = mfa_check(&[], "users of contoso.com");
        assert_eq!(none.outcome, Outcome::Warn);
        assert!(
            none.detail
                .contains("users of contoso.com sign in with a password alone")
        );
        let report_only = mfa_check(
            &[policy(
                "enabledForReportingButNotEnforced",
                "mfa",
                "All",
                "All",
            )],
            "u",
        );
        assert!(
            report_only.detail.contains("report-only"),
            "{}",
            report_only.detail
        );
        let some_apps = mfa_check(&[policy("enabled", "mfa", "All", "some-app-id")], "u");
        assert!(
            some_apps.detail.contains("all apps"),
            "{}",
            some_apps.detail
        );
        let disabled = mfa_check(&[policy("disabled", "mfa", "All", "All")], "u");
        assert!(
            disabled
                .detail
                .starts_with("no Conditional Access policy requires MFA")
        );
        let mut strength = policy("enabled", "x", "All", "Office365");
        strength["grantControls"]["authenticationStrength"] =
            json!({"id": "00000000-0000-0000-0000-000000000002"});
        assert_eq!(mfa_check(&[strength], "u").outcome, Outcome::Pass);
    }

    #[test]
    fn legacy_blocking_needs_block_legacy_clients_and_everyone() {
        let mut p = policy("enabled", "block", "All", "All");
        p["conditions"]["clientAppTypes"] = json!(["exchangeActiveSync", "other"]);
        assert!(blocks_legacy(&p));
        p["state"] = json!("disabled");
        assert!(!blocks_legacy(&p));
        assert!(!blocks_legacy(&policy("enabled", "block", "All", "All")));
    }
}
