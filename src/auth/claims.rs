//! What a Graph token allows, read from its own claims (`scp`, `roles`, `wids`), so that a missing
//! permission or directory role is named before any change instead of failing half-way.

use base64::Engine;
use serde::{Deserialize, Serialize};

/// Global Administrator, the role a delegated caller needs for the password hash sync flag.
pub const GLOBAL_ADMIN: &str = "62e90394-69f5-4237-9190-012177145e10";
pub const HYBRID_IDENTITY_ADMIN: &str = "8ac3fc64-6eca-42ea-9e69-59f4c7b60eb2";
pub const DOMAIN_NAME_ADMIN: &str = "8329153b-31d0-4727-b945-745eb3bc5f31";
pub const EXTERNAL_IDP_ADMIN: &str = "be2f45a1-457d-42af-a067-6ec1fa63bc45";
pub const SECURITY_ADMIN: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";

/// The identity and permissions in a token.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TokenInfo {
    #[serde(default)]
    pub tid: String,
    #[serde(default)]
    pub appid: String,
    #[serde(default)]
    pub app_displayname: Option<String>,
    #[serde(default)]
    pub idtyp: Option<String>,
    #[serde(default)]
    pub upn: Option<String>,
    #[serde(default)]
    pub scp: Option<String>,
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    #[serde(default)]
    pub wids: Option<Vec<String>>,
    #[serde(default)]
    pub exp: i64,
}

impl TokenInfo {
    /// Reads the claims of a JWT without checking its signature (Graph checks it; we only look).
    pub fn from_jwt(token: &str) -> Option<TokenInfo> {
        let payload = token.split('.').nth(1)?;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// App-only (client credentials) rather than a signed-in user.
    pub fn is_app(&self) -> bool {
        match self.idtyp.as_deref() {
            Some(t) => t == "app",
            None => self.scp.is_none() && self.roles.is_some(),
        }
    }

    pub fn who(&self) -> String {
        match (&self.upn, self.is_app()) {
            (Some(u), false) => u.clone(),
            _ => format!(
                "application {}",
                self.app_displayname
                    .clone()
                    .unwrap_or_else(|| self.appid.clone())
            ),
        }
    }

    /// The delegated scopes (`scp`), one by one; none for an app token.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scp
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    fn has_permission(&self, any_of: &[&str]) -> bool {
        if self.is_app() {
            self.roles
                .iter()
                .flatten()
                .any(|r| any_of.contains(&r.as_str()))
        } else {
            self.scp
                .as_deref()
                .unwrap_or_default()
                .split(' ')
                .any(|s| any_of.contains(&s) || s == "Directory.AccessAsUser.All")
        }
    }

    fn has_role(&self, any_of: &[&str]) -> bool {
        self.wids
            .iter()
            .flatten()
            .any(|w| any_of.contains(&w.as_str()))
    }

    /// What this token lacks for `task`, each named; empty when it has everything.
    pub fn missing_for(&self, task: Task) -> Vec<String> {
        let mut missing = vec![];
        for need in task.needs() {
            if !self.has_permission(need.permissions) {
                let kind = if self.is_app() {
                    "application permission"
                } else {
                    "delegated permission"
                };
                missing.push(format!("{kind} {} ({})", need.permissions[0], need.why));
            } else if !self.is_app()
                && let Some(roles) = need.delegated_roles
                && !self.has_role(roles)
            {
                missing.push(format!(
                    "directory role {} for the signed-in user ({})",
                    role_name(roles[0]),
                    need.why
                ));
            }
        }
        missing
    }
}

pub fn role_name(id: &str) -> &'static str {
    match id {
        GLOBAL_ADMIN => "Global Administrator",
        HYBRID_IDENTITY_ADMIN => "Hybrid Identity Administrator",
        DOMAIN_NAME_ADMIN => "Domain Name Administrator",
        EXTERNAL_IDP_ADMIN => "External Identity Provider Administrator",
        SECURITY_ADMIN => "Security Administrator",
        _ => "(unknown role)",
    }
}

/// A task of the runbook, for permission checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Task {
    ReadStatus,
    EnablePasswordHashSync,
    /// Create and start Cloud Sync's password hash job.
    StartCloudSyncJobs,
    ConvertDomains,
    ManageFederation,
    /// Staged rollout of password hash sync to pilot groups.
    StagedRollout,
}

struct Need {
    permissions: &'static [&'static str],
    delegated_roles: Option<&'static [&'static str]>,
    why: &'static str,
}

const FEDERATION_ROLES: &[&str] = &[
    HYBRID_IDENTITY_ADMIN,
    GLOBAL_ADMIN,
    DOMAIN_NAME_ADMIN,
    EXTERNAL_IDP_ADMIN,
    SECURITY_ADMIN,
];

impl Task {
    fn needs(self) -> Vec<Need> {
        let read_domains = Need {
            permissions: &[
                "Domain.Read.All",
                "Domain.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            delegated_roles: None,
            why: "to list the domains",
        };
        let read_federation = Need {
            permissions: &[
                "Domain-InternalFederation.Read.All",
                "Domain-InternalFederation.ReadWrite.All",
                "Domain.Read.All",
                "Domain.ReadWrite.All",
            ],
            delegated_roles: None,
            why: "to read and back up federation settings",
        };
        let write_federation = Need {
            permissions: &[
                "Domain-InternalFederation.ReadWrite.All",
                "Domain.ReadWrite.All",
            ],
            delegated_roles: Some(FEDERATION_ROLES),
            why: "to change a domain's sign-in and its federation settings",
        };
        match self {
            Task::ReadStatus => vec![read_domains],
            Task::EnablePasswordHashSync => vec![Need {
                permissions: &["OnPremDirectorySynchronization.ReadWrite.All"],
                delegated_roles: Some(&[GLOBAL_ADMIN]),
                why: "to turn on password hash sync",
            }],
            Task::StartCloudSyncJobs => vec![Need {
                permissions: &["Synchronization.ReadWrite.All"],
                delegated_roles: Some(&[HYBRID_IDENTITY_ADMIN, GLOBAL_ADMIN]),
                why: "to create and start Cloud Sync's password hash job",
            }],
            Task::ConvertDomains | Task::ManageFederation => {
                vec![read_domains, read_federation, write_federation]
            }
            Task::StagedRollout => vec![
                Need {
                    permissions: &[
                        "Policy.ReadWrite.FeatureRollout",
                        "Policy.ReadWrite.HybridAuthentication",
                        "Directory.ReadWrite.All",
                    ],
                    delegated_roles: Some(&[HYBRID_IDENTITY_ADMIN, GLOBAL_ADMIN]),
                    why: "to change staged rollout",
                },
                Need {
                    permissions: &[
                        "GroupMember.Read.All",
                        "Group.Read.All",
                        "Group.ReadWrite.All",
                        "Directory.Read.All",
                        "Directory.ReadWrite.All",
                    ],
                    delegated_roles: None,
                    why: "to find the groups and count their members",
                },
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(scp: &str, wids: &[&str]) -> TokenInfo {
        TokenInfo {
            idtyp: Some("user".into()),
            scp: Some(scp.into()),
            wids: Some(wids.iter().map(|s| s.to_string()).collect()),
            upn: Some("a@b.c".into()),
            ..Default::default()
        }
    }

    #[test]
    fn names_what_is_missing() {
        let app = TokenInfo {
            idtyp: Some("app".into()),
            roles: Some(vec![
                "Domain-InternalFederation.ReadWrite.All".into(),
                "Domain.Read.All".into(),
            ]),
            ..Default::default()
        };
        assert!(app.missing_for(Task::ConvertDomains).is_empty());
        let m = app.missing_for(Task::EnablePasswordHashSync);
        assert_eq!(m.len(), 1);
        assert!(
            m[0].contains("application permission OnPremDirectorySynchronization.ReadWrite.All"),
            "{m:?}"
        );

        let hia = user(
            "OnPremDirectorySynchronization.ReadWrite.All Domain.ReadWrite.All",
            &[HYBRID_IDENTITY_ADMIN],
        );
        assert!(hia.missing_for(Task::ConvertDomains).is_empty());
        let m = hia.missing_for(Task::EnablePasswordHashSync);
        assert!(m[0].contains("Global Administrator"), "{m:?}");
        let nobody = user("User.Read", &[]);
        assert_eq!(nobody.missing_for(Task::ConvertDomains).len(), 3);
    }

    #[test]
    fn reads_claims_from_a_jwt() {
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(r#"{"tid":"t","appid":"a","idtyp":"app","roles":["x"]}"#);
        let info = TokenInfo::from_jwt(&format!("h.{payload}.s")).unwrap();
        assert!(info.is_app());
        assert_eq!(info.roles, Some(vec!["x".into()]));
        assert!(TokenInfo::from_jwt("garbage").is_none());
    }
}
