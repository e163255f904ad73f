//! The rehearsal tenant's scenario: what the tenant holds when it starts fresh.
//!
//! The built-in scenario is `assets/rehearsal-tenant.toml`; a file given with `--scenario` replaces the
//! tables it names, and a file that holds only a `[generate]` table adds generated domains and users to
//! the built-in one (for scale and crash tests).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

use super::EmulatorError;

const BUILT_IN: &str = include_str!("../../assets/rehearsal-tenant.toml");

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub tenant: Option<TenantSpec>,
    pub admin: Option<AdminSpec>,
    pub app: Option<AppSpec>,
    pub sync: Option<SyncSpec>,
    #[serde(default)]
    pub farm: BTreeMap<String, FarmSpec>,
    #[serde(default)]
    pub domain: Vec<DomainSpec>,
    #[serde(default)]
    pub group: Vec<GroupSpec>,
    #[serde(default)]
    pub conditional_access: Vec<ConditionalAccessSpec>,
    pub limits: Option<Limits>,
    pub generate: Option<GenerateSpec>,
}

/// A Conditional Access policy, in the few words a scenario needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionalAccessSpec {
    pub display_name: String,
    /// `enabled`, `disabled` or `enabledForReportingButNotEnforced`.
    #[serde(default = "default_ca_state")]
    pub state: String,
    /// Built-in grant controls: `mfa`, `block`, ...
    pub grant: Vec<String>,
    #[serde(default = "all")]
    pub include_users: Vec<String>,
    /// Group display names.
    #[serde(default)]
    pub include_groups: Vec<String>,
    #[serde(default)]
    pub exclude_users: Vec<String>,
    #[serde(default = "all")]
    pub include_applications: Vec<String>,
    /// `all`, `browser`, `mobileAppsAndDesktopClients`, `exchangeActiveSync`, `other`.
    #[serde(default = "all_lower")]
    pub client_app_types: Vec<String>,
}

fn default_ca_state() -> String {
    "enabled".into()
}

fn all() -> Vec<String> {
    vec!["All".into()]
}

fn all_lower() -> Vec<String> {
    vec!["all".into()]
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    pub id: String,
    pub display_name: String,
    pub initial_domain: String,
    #[serde(default = "default_country")]
    pub country: String,
    /// An Entra ID P1/P2 licence: sign-in logs can be read through Graph only with one.
    #[serde(default = "yes")]
    pub premium: bool,
    /// The documented permissions issue of `POST /domains/{id}/federationConfiguration`: delegated
    /// callers without `Directory.AccessAsUser.All` get 403 (seen in some clouds, GCC High among them).
    #[serde(default)]
    pub federation_create_needs_access_as_user: bool,
    /// Devices hybrid joined through AD (`trustType` `ServerAd`).
    #[serde(default)]
    pub hybrid_joined_devices: u32,
    /// Devices registered with Entra ID (`Workplace`): personal phones and the like.
    #[serde(default)]
    pub registered_devices: u32,
    /// Smart lockout changed from Entra's defaults (10 failures, 60 seconds): the threshold...
    pub lockout_threshold: Option<u32>,
    /// ...and the lockout's duration in seconds.
    pub lockout_duration_s: Option<u32>,
}

fn default_country() -> String {
    "US".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSpec {
    pub upn: String,
    pub display_name: String,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    pub display_name: String,
    pub client_id: String,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// A fixed client secret (otherwise one is made up per state folder).
    pub client_secret: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncSpec {
    /// Password hash sync fully on: the tenant's flag and the engine's part (the Connect server's
    /// channel, the Cloud Sync password-hash job). Off, neither.
    #[serde(default)]
    pub password_hash_sync: bool,
    /// `connect` (an Entra Connect Sync server), `cloud` (Entra Cloud Sync) or `both`.
    #[serde(default = "default_engine")]
    pub engine: String,
    /// The Connect Sync server's name.
    #[serde(default = "default_server")]
    pub connect_server: String,
    /// The AD domains with a Cloud Sync configuration (default: every root domain with users).
    pub cloud_configurations: Option<Vec<String>>,
    /// A fixed on-premises password for the synchronized users (otherwise made up per state folder).
    pub user_password: Option<String>,
    #[serde(default = "default_cycle")]
    pub cycle_minutes: u32,
    /// `cloudPasswordPolicyForPasswordSyncedUsersEnabled`: Entra's password expiry for synced users.
    #[serde(default)]
    pub cloud_password_policy: bool,
    /// `userForcePasswordChangeOnLogonEnabled`: "must change password at next logon" synchronized.
    #[serde(default)]
    pub force_password_change_on_logon: bool,
    /// The AD forests (root domains with users) that have Seamless SSO: its `AZUREADSSOACC` account
    /// and Kerberos key in Entra ID. The others have none; left out, none has.
    #[serde(default)]
    pub seamless_sso: Vec<String>,
}

fn default_cycle() -> u32 {
    2
}

fn default_engine() -> String {
    "connect".into()
}

fn default_server() -> String {
    "AADCONNECT01".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FarmSpec {
    pub display_name: String,
    #[serde(default = "default_farm_state")]
    pub state: String,
}

fn default_farm_state() -> String {
    "up".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DomainSpec {
    pub name: String,
    /// The federation service (a `[farm]` key) that this domain is federated with.
    pub federation: Option<String>,
    /// The issuer URI; defaults to the farm's identifier.
    pub issuer: Option<String>,
    /// The root domain that this subdomain inherits its sign-in from.
    pub parent: Option<String>,
    #[serde(default)]
    pub users: u32,
    #[serde(default)]
    pub default: bool,
    #[serde(default = "yes")]
    pub verified: bool,
    /// The domain's `federatedIdpMfaBehavior` (federated domains; default
    /// `acceptIfMfaDoneByFederatedIdp`).
    pub federated_idp_mfa_behavior: Option<String>,
    /// How many of its users (the first ones) never registered an MFA method with Entra ID.
    #[serde(default)]
    pub mfa_unregistered: u32,
    /// How many of its users (the first ones) have an AD UPN whose suffix Entra ID does not know
    /// (`{forest}.local`).
    #[serde(default)]
    pub unroutable_upn: u32,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub display_name: String,
    /// How many synchronized users are members (the first ones of `domain`, or of the tenant).
    #[serde(default)]
    pub members: u32,
    /// Whose users the members are; every domain's when left out.
    #[serde(default)]
    pub domain: Option<String>,
    /// A dynamic (rule-based) group, which staged rollout does not take.
    #[serde(default)]
    pub dynamic: bool,
    /// Organisational contacts among the members, which block staged rollout.
    #[serde(default)]
    pub contacts: u32,
    /// Other groups (by display name) that are members: a nested group.
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_page_size")]
    pub page_size: usize,
    #[serde(default = "default_burst")]
    pub write_burst: u32,
    #[serde(default = "default_rate")]
    pub writes_per_second: f64,
    #[serde(default = "default_interval")]
    pub device_code_interval_s: u64,
    #[serde(default = "default_token_lifetime")]
    pub token_lifetime_s: i64,
    /// The most Graph requests served at once (0: no limit); more are answered 429.
    #[serde(default)]
    pub concurrent_requests: u32,
}

fn default_page_size() -> usize {
    100
}
fn default_burst() -> u32 {
    100
}
fn default_rate() -> f64 {
    20.0
}
fn default_interval() -> u64 {
    5
}
fn default_token_lifetime() -> i64 {
    3600
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateSpec {
    #[serde(default)]
    pub federated_domains: u32,
    #[serde(default)]
    pub users: u32,
}

/// A scenario with every table filled in and checked.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub tenant: TenantSpec,
    pub admin: AdminSpec,
    pub app: AppSpec,
    pub sync: SyncSpec,
    pub farms: BTreeMap<String, FarmSpec>,
    pub domains: Vec<DomainSpec>,
    pub groups: Vec<GroupSpec>,
    pub conditional_access: Vec<ConditionalAccessSpec>,
    pub limits: Limits,
}

impl Scenario {
    pub fn parse(text: &str, origin: &str) -> Result<Scenario, EmulatorError> {
        toml::from_str(text).map_err(|e| EmulatorError::Scenario(format!("{origin}: {e}")))
    }

    pub fn built_in() -> Scenario {
        // The asset is part of the binary and covered by tests; parsing it cannot fail at run time
        // unless the binary itself is broken, which `resolve_file(None)` reports as an error anyway.
        Scenario::parse(BUILT_IN, "built-in scenario").unwrap_or_default()
    }

    fn only_generate(&self) -> bool {
        self.tenant.is_none()
            && self.admin.is_none()
            && self.app.is_none()
            && self.sync.is_none()
            && self.farm.is_empty()
            && self.domain.is_empty()
            && self.group.is_empty()
            && self.conditional_access.is_empty()
            && self.limits.is_none()
    }

    /// Reads the scenario that `--scenario` names, or the built-in one.
    pub fn load(path: Option<&Path>) -> Result<Resolved, EmulatorError> {
        let base = Scenario::parse(BUILT_IN, "built-in scenario")?;
        let Some(path) = path else {
            return base.resolve();
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| EmulatorError::Scenario(format!("{}: {e}", path.display())))?;
        let file = Scenario::parse(&text, &path.display().to_string())?;
        file.over(base).resolve()
    }

    /// This scenario, with the tables it leaves out taken from `base`.
    pub fn over(self, base: Scenario) -> Scenario {
        if self.only_generate() {
            return Scenario {
                generate: self.generate,
                ..base
            };
        }
        let keep_lists = !self.domain.is_empty() || !self.farm.is_empty();
        Scenario {
            tenant: self.tenant.or(base.tenant),
            admin: self.admin.or(base.admin),
            app: self.app.or(base.app),
            sync: self.sync.or(base.sync),
            farm: if keep_lists { self.farm } else { base.farm },
            domain: if keep_lists { self.domain } else { base.domain },
            group: if self.group.is_empty() {
                base.group
            } else {
                self.group
            },
            conditional_access: if self.conditional_access.is_empty() {
                base.conditional_access
            } else {
                self.conditional_access
            },
            limits: self.limits.or(base.limits),
            generate: self.generate,
        }
    }

    pub fn resolve(self) -> Result<Resolved, EmulatorError> {
        let missing = |t: &str| EmulatorError::Scenario(format!("the scenario has no [{t}] table"));
        let tenant = self.tenant.ok_or_else(|| missing("tenant"))?;
        let admin = self.admin.ok_or_else(|| missing("admin"))?;
        let app = self.app.ok_or_else(|| missing("app"))?;
        let sync = self.sync.unwrap_or(SyncSpec {
            password_hash_sync: false,
            engine: default_engine(),
            connect_server: default_server(),
            cloud_configurations: None,
            user_password: None,
            cycle_minutes: 2,
            cloud_password_policy: false,
            force_password_change_on_logon: false,
            seamless_sso: vec![],
        });
        if !["connect", "cloud", "both"].contains(&sync.engine.as_str()) {
            return Err(EmulatorError::Scenario(format!(
                "[sync] engine {:?}: use \"connect\", \"cloud\" or \"both\"",
                sync.engine
            )));
        }
        if sync.connect_server.is_empty()
            || !sync
                .connect_server
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(EmulatorError::Scenario(format!(
                "[sync] connect_server {:?}: a computer name (letters, digits, hyphens)",
                sync.connect_server
            )));
        }
        let limits = self.limits.unwrap_or_else(|| Limits {
            page_size: default_page_size(),
            write_burst: default_burst(),
            writes_per_second: default_rate(),
            concurrent_requests: 0,
            device_code_interval_s: default_interval(),
            token_lifetime_s: default_token_lifetime(),
        });
        let mut farms = self.farm;
        let mut domains = self.domain;
        if let Some(generate) = self.generate {
            let farm = match farms.keys().next() {
                Some(f) => f.clone(),
                None if generate.federated_domains > 0 => {
                    farms.insert(
                        "sts.example".into(),
                        FarmSpec {
                            display_name: "Generated AD FS".into(),
                            state: "up".into(),
                        },
                    );
                    "sts.example".into()
                }
                None => String::new(),
            };
            let first_generated = domains.len();
            for k in 1..=generate.federated_domains {
                let name = format!("d{k}.example");
                domains.push(DomainSpec {
                    issuer: Some(format!("http://{name}/adfs/services/trust/")),
                    name,
                    federation: Some(farm.clone()),
                    parent: None,
                    users: 0,
                    default: false,
                    verified: true,
                    federated_idp_mfa_behavior: None,
                    mfa_unregistered: 0,
                    unroutable_upn: 0,
                });
            }
            let targets: Vec<usize> = if domains.len() > first_generated {
                (first_generated..domains.len()).collect()
            } else {
                (0..domains.len())
                    .filter(|&i| domains[i].parent.is_none())
                    .collect()
            };
            if !targets.is_empty() {
                for k in 0..generate.users as usize {
                    domains[targets[k % targets.len()]].users += 1;
                }
            } else if generate.users > 0 {
                return Err(EmulatorError::Scenario(
                    "[generate] users needs at least one domain".into(),
                ));
            }
        }
        check(&tenant, &admin, &farms, &domains, &limits)?;
        for forest in &sync.seamless_sso {
            if !domains
                .iter()
                .any(|d| d.parent.is_none() && d.users > 0 && d.name.eq_ignore_ascii_case(forest))
            {
                return Err(EmulatorError::Scenario(format!(
                    "[sync] seamless_sso {forest:?}: a forest is a root domain of the scenario with users"
                )));
            }
        }
        check_groups(&self.group, &domains)?;
        check_conditional_access(&self.conditional_access, &self.group)?;
        for d in &domains {
            if let Some(b) = &d.federated_idp_mfa_behavior
                && !crate::graph::models::FederatedIdpMfaBehavior::KNOWN.contains(&b.as_str())
            {
                return Err(EmulatorError::Scenario(format!(
                    "domain {:?}: federated_idp_mfa_behavior {b:?} is not one of {:?}",
                    d.name,
                    crate::graph::models::FederatedIdpMfaBehavior::KNOWN
                )));
            }
        }
        Ok(Resolved {
            tenant,
            admin,
            app,
            sync,
            farms,
            domains,
            groups: self.group,
            conditional_access: self.conditional_access,
            limits,
        })
    }
}

fn check_conditional_access(
    policies: &[ConditionalAccessSpec],
    groups: &[GroupSpec],
) -> Result<(), EmulatorError> {
    const STATES: [&str; 3] = ["enabled", "disabled", "enabledForReportingButNotEnforced"];
    const GRANTS: [&str; 7] = [
        "block",
        "mfa",
        "compliantDevice",
        "domainJoinedDevice",
        "approvedApplication",
        "compliantApplication",
        "passwordChange",
    ];
    const CLIENTS: [&str; 6] = [
        "all",
        "browser",
        "mobileAppsAndDesktopClients",
        "exchangeActiveSync",
        "easSupported",
        "other",
    ];
    for p in policies {
        let bad = |what: &str, v: &str, allowed: &[&str]| {
            Err(EmulatorError::Scenario(format!(
                "conditional access {:?}: {what} {v:?} is not one of {allowed:?}",
                p.display_name
            )))
        };
        if !STATES.contains(&p.state.as_str()) {
            return bad("state", &p.state, &STATES);
        }
        if let Some(g) = p.grant.iter().find(|g| !GRANTS.contains(&g.as_str())) {
            return bad("grant", g, &GRANTS);
        }
        if let Some(c) = p
            .client_app_types
            .iter()
            .find(|c| !CLIENTS.contains(&c.as_str()))
        {
            return bad("client app type", c, &CLIENTS);
        }
        if let Some(g) = p
            .include_groups
            .iter()
            .find(|g| !groups.iter().any(|x| &x.display_name == *g))
        {
            return Err(EmulatorError::Scenario(format!(
                "conditional access {:?} includes group {g:?}, which the scenario does not have",
                p.display_name
            )));
        }
    }
    Ok(())
}

fn check_groups(groups: &[GroupSpec], domains: &[DomainSpec]) -> Result<(), EmulatorError> {
    for g in groups {
        if let Some(d) = &g.domain
            && !domains.iter().any(|x| x.name.eq_ignore_ascii_case(d))
        {
            return Err(EmulatorError::Scenario(format!(
                "group {:?} takes its members from domain {d:?}, which the scenario does not have",
                g.display_name
            )));
        }
        for name in &g.groups {
            if name == &g.display_name || !groups.iter().any(|o| &o.display_name == name) {
                return Err(EmulatorError::Scenario(format!(
                    "group {:?} names {name:?} as a member group: no other group has that name",
                    g.display_name
                )));
            }
        }
    }
    Ok(())
}

fn check(
    tenant: &TenantSpec,
    admin: &AdminSpec,
    farms: &BTreeMap<String, FarmSpec>,
    domains: &[DomainSpec],
    limits: &Limits,
) -> Result<(), EmulatorError> {
    let bad = |m: String| Err(EmulatorError::Scenario(m));
    if uuid::Uuid::parse_str(&tenant.id).is_err() {
        return bad(format!("tenant id {:?} is not a GUID", tenant.id));
    }
    if !tenant.initial_domain.ends_with(".onmicrosoft.com") {
        return bad(format!(
            "initial domain {:?} must end in .onmicrosoft.com",
            tenant.initial_domain
        ));
    }
    let mut names = BTreeSet::new();
    names.insert(tenant.initial_domain.to_ascii_lowercase());
    for d in domains {
        if !valid_domain_name(&d.name) {
            return bad(format!("{:?} is not a domain name", d.name));
        }
        if !names.insert(d.name.to_ascii_lowercase()) {
            return bad(format!("domain {} is listed twice", d.name));
        }
    }
    let mut issuers = BTreeSet::new();
    for d in domains {
        if let Some(parent) = &d.parent {
            let Some(p) = domains.iter().find(|p| p.name.eq_ignore_ascii_case(parent)) else {
                return bad(format!(
                    "domain {}: parent {parent} is not in the scenario",
                    d.name
                ));
            };
            if p.parent.is_some()
                || !d
                    .name
                    .to_ascii_lowercase()
                    .ends_with(&format!(".{}", p.name.to_ascii_lowercase()))
            {
                return bad(format!(
                    "domain {} is not a subdomain of the root domain {parent}",
                    d.name
                ));
            }
            if d.federation.is_some() {
                return bad(format!(
                    "domain {}: a subdomain inherits its federation from {parent}",
                    d.name
                ));
            }
        }
        if let Some(farm) = &d.federation {
            if !farms.contains_key(farm) {
                return bad(format!(
                    "domain {}: farm {farm} has no [farm.\"{farm}\"] table",
                    d.name
                ));
            }
            let issuer = d.issuer.clone().unwrap_or_else(|| farm_identifier(farm));
            if !issuers.insert(issuer.clone()) {
                return bad(format!(
                    "domain {}: issuer {issuer} is used twice (give each domain its own)",
                    d.name
                ));
            }
        }
    }
    for (name, farm) in farms {
        if !valid_domain_name(name) {
            return bad(format!("farm {name:?} is not a host name"));
        }
        if !matches!(farm.state.as_str(), "up" | "down") {
            return bad(format!("farm {name}: state must be \"up\" or \"down\""));
        }
    }
    if !admin.upn.contains('@') {
        return bad(format!("admin upn {:?} has no @", admin.upn));
    }
    if limits.page_size == 0 || limits.page_size > 999 {
        return bad("limits.page_size must be 1 to 999".into());
    }
    if !limits.writes_per_second.is_finite()
        || limits.writes_per_second <= 0.0
        || limits.write_burst == 0
    {
        return bad("limits.writes_per_second and write_burst must be above 0".into());
    }
    Ok(())
}

/// The federation service identifier that AD FS uses by default (no trailing slash; the per-domain
/// issuers of a multi-domain farm have one).
pub fn farm_identifier(service: &str) -> String {
    format!("http://{service}/adfs/services/trust")
}

fn valid_domain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').count() >= 2
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_scenario_is_the_documented_tenant() {
        let r = Scenario::load(None).unwrap();
        assert_eq!(r.tenant.initial_domain, "contoso.onmicrosoft.com");
        let users: u32 = r.domains.iter().map(|d| d.users).sum();
        assert_eq!(users, 200);
        let fab = r.domains.iter().find(|d| d.name == "fabrikam.com").unwrap();
        assert_eq!(
            fab.issuer.as_deref(),
            Some("http://fabrikam.com/adfs/services/trust/")
        );
        assert!(r.farms.contains_key("sts.contoso.com"));
    }

    #[test]
    fn generate_only_file_adds_to_built_in() {
        let s = Scenario::parse("[generate]\nfederated_domains = 3\nusers = 7\n", "t").unwrap();
        let r = s.over(Scenario::built_in()).resolve().unwrap();
        assert_eq!(r.domains.len(), 4 + 3);
        assert_eq!(
            r.domains
                .iter()
                .filter(|d| d.name.ends_with(".example"))
                .map(|d| d.users)
                .sum::<u32>(),
            7
        );
        assert_eq!(
            r.domains[6].issuer.as_deref(),
            Some("http://d3.example/adfs/services/trust/")
        );
    }

    #[test]
    fn bad_scenarios_are_refused_with_the_reason() {
        let cases = [
            (
                "[[domain]]\nname = \"a.com\"\nfederation = \"nope\"\n",
                "farm nope",
            ),
            (
                "[[domain]]\nname = \"x.a.com\"\nparent = \"a.com\"\n",
                "parent a.com",
            ),
            ("[[domain]]\nname = \"a..com\"\n", "not a domain name"),
            (
                "[[domain]]\nname = \"a.com\"\n[[domain]]\nname = \"A.com\"\n",
                "twice",
            ),
            (
                "[tenant]\nid = \"x\"\ndisplay_name = \"x\"\ninitial_domain = \"x.onmicrosoft.com\"\n",
                "GUID",
            ),
            ("colour = 1\n", "unknown field"),
        ];
        for (text, want) in cases {
            let err = Scenario::parse(text, "t")
                .and_then(|s| s.over(Scenario::built_in()).resolve())
                .unwrap_err();
            assert!(err.to_string().contains(want), "{text}: {err}");
        }
    }
}
