//! `readiness`: read-only, before an outage. Two jobs in one pass:
//!
//! - the heavier checks the failover pre-flight leaves out, per federated domain with counts and the
//!   first few users named: users with no MFA method registered with Entra ID (who a policy that
//!   requires MFA will stop or make register at their first sign-in once the farm is out of the
//!   path), users whose AD UPN suffix Entra ID does not know (`.local`: hybrid-join single sign-on
//!   is lost on a managed domain), hybrid-joined devices, and smart lockout's values;
//! - the first contact with a real tenant: one read of every kind the runbook makes, each listed
//!   with its outcome and Graph's request-id, so that the first administrator to run it against
//!   Microsoft sees which step would fail on their tenant, and why, before the day it matters.
//!
//! Each "cannot tell" names the permission or licence it lacks. Every read is one request a page,
//! one page at a time, through the Graph client's retries and adaptive limit.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::farm::{fetch_metadata, metadata_url_for};
use super::{OpsError, Session};
use crate::graph::GraphError;
use crate::graph::models::{AuthenticationType, Domain};

/// How many users a count names.
const NAMED: usize = 5;

/// Smart lockout's template (Password Rule Settings) and Entra ID's defaults.
const PASSWORD_RULE_TEMPLATE: &str = "5cf42378-d67d-4f36-ba46-e8b86229381d";
const DEFAULT_THRESHOLD: u32 = 10;
const DEFAULT_DURATION_S: u32 = 60;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadOutcome {
    Ok,
    /// Refused for a permission or licence the caller lacks: the check cannot tell.
    CannotTell,
    Failed,
}

/// One read of one kind, as it went.
#[derive(Clone, Debug, Serialize)]
pub struct Read {
    pub what: String,
    pub request: String,
    pub outcome: ReadOutcome,
    pub detail: String,
    pub request_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counted {
    pub count: usize,
    /// The first few, by user principal name.
    pub first: Vec<String>,
}

impl Counted {
    fn add(&mut self, who: &str) {
        self.count += 1;
        if self.first.len() < NAMED {
            self.first.push(who.to_string());
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct DomainReadiness {
    pub domain: String,
    /// Users (of the domain and its subdomains) with no MFA method registered with Entra ID;
    /// `None`: cannot tell.
    pub without_mfa: Option<Counted>,
    /// Synchronized users whose AD UPN suffix is not a verified domain; `None`: cannot tell.
    pub unroutable_upn: Option<Counted>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Lockout {
    pub threshold: u32,
    pub duration_s: u32,
    /// `tenant` (a Password Rule Settings object) or `defaults` (Entra ID's).
    pub source: String,
}

/// What `readiness` says of Seamless SSO, which only the Connect server's `AzureADSSO` module reads.
const SEAMLESS_SSO: &str = "Graph cannot tell which AD forests have it: `entra-failover enable-sso` writes the Connect server's script, and its -StatusOnly run reports each forest and its key's age without changing anything";

#[derive(Clone, Debug, Serialize)]
pub struct Readiness {
    pub tenant: String,
    pub simulated: bool,
    /// The enabled Conditional Access policy that requires MFA of all users, if one does.
    pub mfa_required_by: Option<String>,
    /// Each federated root domain.
    pub domains: Vec<DomainReadiness>,
    /// Devices hybrid joined through AD (`trustType eq 'ServerAd'`); `None`: cannot tell.
    pub hybrid_joined_devices: Option<u64>,
    pub smart_lockout: Option<Lockout>,
    /// What could not be told, each with the permission or licence it needs.
    pub cannot_tell: Vec<String>,
    /// Seamless SSO per forest: no Graph read shows it; where to find out.
    pub seamless_sso: &'static str,
    pub reads: Vec<Read>,
    /// Graph requests in all.
    pub requests: u64,
}

/// What a refused read lacks, by what was read.
fn needs(what: &str, e: &GraphError) -> String {
    let licence = e.code() == Some("Authentication_RequestFromNonPremiumTenantOrB2CTenant");
    let need = match what {
        "MFA registration" if licence => "an Entra ID P1 or P2 licence",
        "MFA registration" => {
            "AuditLog.Read.All (and, signed in, the Reports Reader, Security Reader or Global Reader role)"
        }
        "sign-in log" if licence => "an Entra ID P1 or P2 licence",
        "sign-in log" => "AuditLog.Read.All",
        "users' AD UPNs" => "User.Read.All",
        "devices" => "Device.Read.All",
        "smart lockout" => "Directory.Read.All",
        "Conditional Access" => "Policy.Read.All",
        "sync settings" => "OnPremDirectorySynchronization.Read.All",
        "domains" => "Domain.Read.All",
        "federation settings" => "Domain-InternalFederation.ReadWrite.All (or Domain.Read.All)",
        _ => "a permission this sign-in lacks",
    };
    format!("{what}: cannot tell without {need}")
}

struct Reader<'a> {
    s: &'a Session,
    reads: Vec<Read>,
    cannot_tell: Vec<String>,
}

impl Reader<'_> {
    /// Every item of a collection, a page at a time; `None` when it could not be read (recorded).
    async fn collection(
        &mut self,
        what: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Option<(Vec<Value>, Option<u64>)> {
        self.read(what, path, headers, true).await
    }

    /// The first page only: a read that wants to know the kind works, or a count.
    async fn first_page(
        &mut self,
        what: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Option<(Vec<Value>, Option<u64>)> {
        self.read(what, path, headers, false).await
    }

    async fn read(
        &mut self,
        what: &str,
        path: &str,
        headers: &[(&str, &str)],
        all_pages: bool,
    ) -> Option<(Vec<Value>, Option<u64>)> {
        let mut items = vec![];
        let mut next = Some(path.to_string());
        let mut first_id = None;
        let mut count = None;
        let mut pages = 0;
        while let Some(p) = next.take() {
            match self
                .s
                .graph
                .send_with(reqwest::Method::GET, &p, None, headers)
                .await
            {
                Ok(r) => {
                    pages += 1;
                    if first_id.is_none() {
                        first_id = r.request_id.clone();
                        count = r.body["@odata.count"].as_u64();
                    }
                    if let Some(v) = r.body["value"].as_array() {
                        items.extend(v.iter().cloned());
                    }
                    next = r.body["@odata.nextLink"]
                        .as_str()
                        .filter(|_| all_pages)
                        .map(str::to_string);
                }
                Err(e) => {
                    self.failed(what, path, &e);
                    return None;
                }
            }
        }
        self.reads.push(Read {
            what: what.into(),
            request: format!("GET {path}"),
            outcome: ReadOutcome::Ok,
            detail: format!(
                "{} item(s) in {pages} page(s){}",
                items.len(),
                count
                    .map(|c| format!("; @odata.count {c}"))
                    .unwrap_or_default()
            ),
            request_id: first_id,
        });
        Some((items, count))
    }

    fn failed(&mut self, what: &str, path: &str, e: &GraphError) {
        let (outcome, detail) = if e.status() == Some(403) {
            let why = needs(what, e);
            self.cannot_tell.push(why.clone());
            (ReadOutcome::CannotTell, format!("{why} ({e})"))
        } else {
            (ReadOutcome::Failed, e.to_string())
        };
        self.reads.push(Read {
            what: what.into(),
            request: format!("GET {path}"),
            outcome,
            detail,
            request_id: e.request_id().map(str::to_string),
        });
    }

    fn other(&mut self, what: &str, request: &str, result: Result<String, String>) {
        let (outcome, detail) = match result {
            Ok(d) => (ReadOutcome::Ok, d),
            Err(d) => (ReadOutcome::Failed, d),
        };
        self.reads.push(Read {
            what: what.into(),
            request: request.into(),
            outcome,
            detail,
            request_id: None,
        });
    }
}

/// The domain of a UPN, lower case.
fn suffix(upn: &str) -> String {
    upn.rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The federated root that `domain` signs in through (itself or its nearest federated parent).
fn root_of<'a>(domain: &str, roots: &'a [String]) -> Option<&'a String> {
    roots
        .iter()
        .find(|r| domain == r.as_str() || domain.ends_with(&format!(".{r}")))
}

pub async fn readiness(s: &Session) -> Result<Readiness, OpsError> {
    let before = s.graph.requests_sent();
    let mut r = Reader {
        s,
        reads: vec![],
        cannot_tell: vec![],
    };
    // The reads the runbook makes, one of each kind.
    r.collection(
        "sync settings",
        "/v1.0/directory/onPremisesSynchronization",
        &[],
    )
    .await;
    let engines = super::sync_engines::detect(s).await;
    r.other(
        "sync engines",
        "several: the directory's roles, Cloud Sync's service principal and jobs",
        engines.map(|e| e.describe()).map_err(|e| e.to_string()),
    );
    let domains: Vec<Domain> = match r.collection("domains", "/v1.0/domains", &[]).await {
        Some((items, _)) => items
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect(),
        None => return Err(OpsError::Refused(
            "the tenant's domains cannot be read, and every other check starts from them: see the reads above".into(),
        )),
    };
    let verified: Vec<String> = domains
        .iter()
        .filter(|d| d.is_verified == Some(true))
        .filter_map(|d| d.id.as_ref().map(|i| i.to_ascii_lowercase()))
        .collect();
    let roots: Vec<String> = domains
        .iter()
        .filter(|d| {
            d.authentication_type == Some(AuthenticationType::Federated) && d.is_root != Some(false)
        })
        .filter_map(|d| d.id.as_ref().map(|i| i.to_ascii_lowercase()))
        .collect();
    // One federated domain's settings, and each farm they name.
    let mut farms = BTreeMap::new();
    for root in &roots {
        let path = format!(
            "/v1.0/domains/{}/federationConfiguration",
            crate::graph::encode(root)
        );
        let first = farms.is_empty();
        let read = if first {
            r.first_page("federation settings", &path, &[]).await
        } else {
            // The others only for their farm: the runbook reads them all the same way.
            s.graph
                .send(reqwest::Method::GET, &path, None)
                .await
                .ok()
                .map(|x| {
                    (
                        x.body["value"].as_array().cloned().unwrap_or_default(),
                        None,
                    )
                })
        };
        if let Some(url) = read
            .and_then(|(v, _)| v.into_iter().next())
            .and_then(|f| f["passiveSignInUri"].as_str().and_then(metadata_url_for))
        {
            farms
                .entry(url.host_str().unwrap_or_default().to_string())
                .or_insert(url);
        }
    }
    for (host, url) in &farms {
        let got = fetch_metadata(s, url).await;
        r.other(
            &format!("AD FS metadata, {host}"),
            &format!("GET {url}"),
            got.map(|m| {
                format!(
                    "{} signing certificate(s); entity {}",
                    m.signing_certificates.len(),
                    m.entity_id
                )
            })
            .map_err(|e| e.0),
        );
    }
    // Where sign-in goes for a user of each verified domain (user realm is not Graph).
    for d in &verified {
        let realm = s.login.user_realm(&format!("readiness-probe@{d}")).await;
        r.other(
            &format!("user realm, {d}"),
            &format!("GET /common/userrealm/readiness-probe@{d}?api-version=2.1"),
            realm
                .map(|x| format!("{:?}", x.namespace))
                .map_err(|e| e.to_string()),
        );
    }
    let policies = r
        .collection(
            "Conditional Access",
            "/v1.0/identity/conditionalAccess/policies",
            &[],
        )
        .await;
    let mfa_required_by = policies
        .as_ref()
        .and_then(|(p, _)| super::security::mfa_for_all(p));
    r.first_page("sign-in log", "/v1.0/auditLogs/signIns?$top=1", &[])
        .await;
    // The heavier checks.
    let mut per: BTreeMap<String, DomainReadiness> = roots
        .iter()
        .map(|d| {
            (
                d.clone(),
                DomainReadiness {
                    domain: d.clone(),
                    without_mfa: None,
                    unroutable_upn: None,
                },
            )
        })
        .collect();
    if let Some((unregistered, _)) = r
        .collection(
            "MFA registration",
            "/v1.0/reports/authenticationMethods/userRegistrationDetails?$filter=isMfaRegistered eq false&$select=userPrincipalName,isMfaRegistered&$top=999",
            &[],
        )
        .await
    {
        for d in per.values_mut() {
            d.without_mfa = Some(Counted::default());
        }
        for u in &unregistered {
            let upn = u["userPrincipalName"].as_str().unwrap_or_default();
            if let Some(root) = root_of(&suffix(upn), &roots)
                && let Some(c) = per.get_mut(root).and_then(|d| d.without_mfa.as_mut())
            {
                c.add(upn);
            }
        }
    }
    if let Some((users, _)) = r
        .collection(
            "users' AD UPNs",
            "/v1.0/users?$filter=onPremisesSyncEnabled eq true&$select=userPrincipalName,onPremisesUserPrincipalName&$count=true&$top=999",
            &[("ConsistencyLevel", "eventual")],
        )
        .await
    {
        for d in per.values_mut() {
            d.unroutable_upn = Some(Counted::default());
        }
        for u in &users {
            let upn = u["userPrincipalName"].as_str().unwrap_or_default();
            let ad = u["onPremisesUserPrincipalName"]
                .as_str()
                .unwrap_or(upn)
                .to_ascii_lowercase();
            let ad_suffix = suffix(&ad);
            let routable = verified
                .iter()
                .any(|v| ad_suffix == *v || ad_suffix.ends_with(&format!(".{v}")));
            if !routable
                && let Some(root) = root_of(&suffix(upn), &roots)
                && let Some(c) = per.get_mut(root).and_then(|d| d.unroutable_upn.as_mut())
            {
                c.add(&format!("{upn} (AD: {ad})"));
            }
        }
    }
    let hybrid_joined_devices = r
        .first_page(
            "devices",
            "/v1.0/devices?$filter=trustType eq 'ServerAd'&$count=true&$top=1&$select=id",
            &[("ConsistencyLevel", "eventual")],
        )
        .await
        .map(|(items, count)| count.unwrap_or(items.len() as u64));
    let smart_lockout = r
        .collection("smart lockout", "/v1.0/groupSettings", &[])
        .await
        .map(|(settings, _)| {
            let rule = settings
                .iter()
                .find(|x| x["templateId"] == PASSWORD_RULE_TEMPLATE);
            let value = |name: &str| {
                rule.and_then(|x| x["values"].as_array())
                    .and_then(|vs| vs.iter().find(|v| v["name"] == name))
                    .and_then(|v| v["value"].as_str())
                    .and_then(|v| v.parse::<u32>().ok())
            };
            match (value("LockoutThreshold"), value("LockoutDurationInSeconds")) {
                (Some(threshold), Some(duration_s)) => Lockout {
                    threshold,
                    duration_s,
                    source: "tenant".into(),
                },
                _ => Lockout {
                    threshold: DEFAULT_THRESHOLD,
                    duration_s: DEFAULT_DURATION_S,
                    source: "defaults".into(),
                },
            }
        });
    Ok(Readiness {
        tenant: s.tenant.clone(),
        simulated: s.is_rehearsal(),
        mfa_required_by,
        domains: per.into_values().collect(),
        hybrid_joined_devices,
        smart_lockout,
        cannot_tell: r.cannot_tell,
        seamless_sso: SEAMLESS_SSO,
        reads: r.reads,
        requests: s.graph.requests_sent() - before,
    })
}

impl std::fmt::Display for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let banner = if self.simulated {
            " — REHEARSAL TENANT (simulated)"
        } else {
            ""
        };
        writeln!(f, "Readiness of {}{banner}", self.tenant)?;
        writeln!(
            f,
            "MFA: {}",
            match &self.mfa_required_by {
                Some(p) =>
                    format!("the policy {p:?} requires it of all users: those without a method are made to register (or stopped) at their first sign-in after the cutover"),
                None => "no enabled policy requires it of all users: after the cutover those without a method sign in with a password alone".into(),
            }
        )?;
        let counted = |c: &Option<Counted>| match c {
            None => "cannot tell".to_string(),
            Some(c) if c.count == 0 => "0".into(),
            Some(c) => format!(
                "{} ({}{})",
                c.count,
                c.first.join(", "),
                if c.count > c.first.len() { ", …" } else { "" }
            ),
        };
        for d in &self.domains {
            writeln!(f, "\n{}", d.domain)?;
            writeln!(f, "  without an MFA method:   {}", counted(&d.without_mfa))?;
            writeln!(
                f,
                "  AD UPN suffix unknown:   {}",
                counted(&d.unroutable_upn)
            )?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "Hybrid-joined devices: {}",
            self.hybrid_joined_devices
                .map(|n| format!("{n} (joined through AD; worth watching after the cutover)"))
                .unwrap_or_else(|| "cannot tell".into())
        )?;
        writeln!(
            f,
            "Smart lockout: {}",
            match &self.smart_lockout {
                Some(l) => format!(
                    "{} failures, {} s ({}); AD's lockout no longer decides cloud sign-in",
                    l.threshold,
                    l.duration_s,
                    if l.source == "tenant" {
                        "this tenant's"
                    } else {
                        "Entra ID's defaults"
                    }
                ),
                None => "cannot tell".into(),
            }
        )?;
        writeln!(f, "Seamless SSO: {}", self.seamless_sso)?;
        for c in &self.cannot_tell {
            writeln!(f, "Cannot tell: {c}")?;
        }
        writeln!(f, "\nReads ({} Graph requests):", self.requests)?;
        for r in &self.reads {
            let mark = match r.outcome {
                ReadOutcome::Ok => "ok",
                ReadOutcome::CannotTell => "CANNOT TELL",
                ReadOutcome::Failed => "FAILED",
            };
            writeln!(
                f,
                "  [{mark}] {}: {}{}",
                r.what,
                r.detail,
                r.request_id
                    .as_ref()
                    .map(|i| format!(" (request-id {i})"))
                    .unwrap_or_default()
            )?;
        }
        Ok(())
    }
}
