//! `status`: the tenant at a glance — sync and password hash sync, every domain's sign-in, the
//! federation settings' issuer and certificate, and the health of each AD FS farm.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use super::farm::{fetch_metadata, metadata_url_for};
use super::{OpsError, Session};
use crate::adfs::metadata::CertificateInfo;
use crate::auth::claims::TokenInfo;
use crate::graph::models::{
    AuthenticationType, Domain, InternalDomainFederation, OnPremisesDirectorySynchronization,
    Organization,
};
use secrecy::ExposeSecret;

#[derive(Clone, Debug, Serialize)]
pub struct DomainStatus {
    pub id: String,
    pub authentication_type: String,
    pub is_root: bool,
    pub is_verified: bool,
    pub issuer_uri: Option<String>,
    pub signing_certificate_sha1: Option<String>,
    pub signing_certificate_expires: Option<String>,
    pub federation_service: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FarmHealth {
    pub service: String,
    pub healthy: bool,
    pub detail: String,
    pub simulated: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub profile: String,
    pub simulated: bool,
    pub tenant_id: String,
    pub tenant_name: String,
    pub signed_in_as: String,
    /// Whether the signed-in account could sign in again with the farm down.
    pub operator: super::plan::Check,
    pub directory_sync_enabled: bool,
    pub last_sync: Option<String>,
    pub password_hash_sync: bool,
    /// `None` when the beta endpoint did not say.
    pub last_password_sync: Option<String>,
    pub sync_id: String,
    /// Which engines copy password hashes, and the state of each.
    pub sync_engines: super::sync_engines::Engines,
    /// The flag is on and a password sync ran in the last three hours.
    pub password_hashes_arriving: bool,
    pub domains: Vec<DomainStatus>,
    pub farms: Vec<FarmHealth>,
    /// Changes an interrupted run left without an outcome (`entra-failover resume` finishes them).
    pub interrupted: Vec<String>,
    pub requests: u64,
}

pub async fn who(s: &Session) -> Result<TokenInfo, OpsError> {
    let token = s.graph.credential().token().await?;
    TokenInfo::from_jwt(token.token.expose_secret())
        .ok_or_else(|| OpsError::Input("the access token cannot be read (not a JWT)".into()))
}

pub async fn sync_settings(s: &Session) -> Result<OnPremisesDirectorySynchronization, OpsError> {
    let list: Vec<OnPremisesDirectorySynchronization> = s
        .graph
        .list("/v1.0/directory/onPremisesSynchronization")
        .await?;
    list.into_iter().next().ok_or_else(|| {
        OpsError::Input("the tenant has no directory synchronization settings".into())
    })
}

/// The last password sync (beta); `None` when beta does not answer.
pub async fn last_password_sync(s: &Session) -> Option<String> {
    let v: Value = s
        .graph
        .get("/beta/organization?$select=id,onPremisesLastPasswordSyncDateTime")
        .await
        .ok()?;
    v["value"][0]["onPremisesLastPasswordSyncDateTime"]
        .as_str()
        .map(str::to_string)
}

pub async fn federation(
    s: &Session,
    domain: &str,
) -> Result<Option<(InternalDomainFederation, Value)>, OpsError> {
    let path = format!(
        "/v1.0/domains/{}/federationConfiguration",
        crate::graph::encode(domain)
    );
    match s.graph.get::<Value>(&path).await {
        Ok(v) => {
            let Some(raw) = v["value"].as_array().and_then(|a| a.first()).cloned() else {
                return Ok(None);
            };
            let typed = crate::graph::client::decode(&raw, &path)?;
            Ok(Some((typed, raw)))
        }
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn host_of(uri: Option<&str>) -> Option<String> {
    uri.and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

/// What the status keeps of one domain's federation settings.
struct FederationSummary {
    issuer_uri: Option<String>,
    /// The signing certificate's SHA-1 thumbprint and expiry.
    cert: Option<(String, String)>,
    service: Option<String>,
    passive_sign_in_uri: String,
}

fn summary(f: InternalDomainFederation) -> FederationSummary {
    let cert = f
        .signing_certificate
        .as_deref()
        .and_then(|c| CertificateInfo::from_base64(c).ok())
        .map(|c| {
            (
                c.sha1_thumbprint,
                crate::graph::models::graph_time(crate::clock::unix(c.not_after_unix)),
            )
        });
    FederationSummary {
        issuer_uri: f.issuer_uri,
        cert,
        service: host_of(f.passive_sign_in_uri.as_deref()),
        passive_sign_in_uri: f.passive_sign_in_uri.unwrap_or_default(),
    }
}

/// What the status needs of the organization: a tenant of thousands of domains lists each of them
/// again in `verifiedDomains`, which the domain list already gives.
const ORGANIZATION: &str =
    "/v1.0/organization?$select=id,displayName,onPremisesSyncEnabled,onPremisesLastSyncDateTime";

pub async fn status(s: &Session) -> Result<Status, OpsError> {
    use futures_util::{StreamExt, TryStreamExt};
    let before = s.graph.requests_sent();
    // Independent reads go out together, and every federated domain's settings side by side (the
    // Graph client's limit decides how many at once), starting while later pages of the domain list
    // are still on their way: a tenant of thousands of domains is read in round trips ÷ that limit,
    // not one after another. Each answer is boiled down to what the status shows as it arrives, so
    // a 5,000-domain tenant's settings are never all held at once.
    let domains_and_federation = async {
        s.graph
            .stream("/v1.0/domains")
            .map(|v| async move {
                let d: Domain = crate::graph::client::decode(&v?, "/v1.0/domains")?;
                let fed = if d.authentication_type == Some(AuthenticationType::Federated)
                    && d.is_root != Some(false)
                {
                    let id = d.id.clone().unwrap_or_default();
                    federation(s, &id).await?.map(|(f, _)| summary(f))
                } else {
                    None
                };
                Ok::<_, OpsError>((d, fed))
            })
            .buffered(32)
            .try_collect::<Vec<(Domain, Option<FederationSummary>)>>()
            .await
    };
    let (me, orgs, sync, last_password_sync, domains, sync_engines) = futures_util::try_join!(
        who(s),
        async { Ok::<Vec<Organization>, OpsError>(s.graph.list(ORGANIZATION).await?) },
        sync_settings(s),
        async { Ok(last_password_sync(s).await) },
        domains_and_federation,
        super::sync_engines::detect(s),
    )?;
    let flag = sync.features.as_ref().and_then(|f| f.password_sync_enabled) == Some(true);
    let password_hashes_arriving = flag
        && last_password_sync
            .as_deref()
            .and_then(crate::graph::models::parse_graph_time)
            .is_some_and(|t| (time::OffsetDateTime::now_utc() - t).whole_hours() < 3);
    let org = orgs.into_iter().next().unwrap_or_default();
    let mut out = vec![];
    let mut services = BTreeMap::new();
    for (d, fed) in domains {
        let (issuer_uri, cert, service) = match fed {
            Some(f) => {
                if let Some(svc) = &f.service {
                    services.entry(svc.clone()).or_insert(f.passive_sign_in_uri);
                }
                (f.issuer_uri, f.cert, f.service)
            }
            None => (None, None, None),
        };
        out.push(DomainStatus {
            id: d.id.clone().unwrap_or_default(),
            authentication_type: d
                .authentication_type
                .as_ref()
                .map(|a| a.to_string())
                .unwrap_or_else(|| "unknown".into()),
            is_root: d.is_root != Some(false),
            is_verified: d.is_verified == Some(true),
            issuer_uri,
            signing_certificate_sha1: cert.as_ref().map(|c| c.0.clone()),
            signing_certificate_expires: cert.map(|c| c.1),
            federation_service: service,
        });
    }
    let mut farms = vec![];
    for (service, endpoint) in services {
        let simulated = s.farms.is_simulated(&service);
        let health = match metadata_url_for(&endpoint) {
            Some(url) => match fetch_metadata(s, &url).await {
                Ok(m) => FarmHealth {
                    service,
                    healthy: true,
                    detail: format!(
                        "metadata answers ({} signing certificate(s))",
                        m.signing_certificates.len()
                    ),
                    simulated,
                },
                Err(e) => FarmHealth {
                    service,
                    healthy: false,
                    detail: e.0,
                    simulated,
                },
            },
            None => FarmHealth {
                service,
                healthy: false,
                detail: "no sign-in URL to reach".into(),
                simulated,
            },
        };
        farms.push(health);
    }
    Ok(Status {
        profile: s.profile.clone(),
        simulated: s.is_rehearsal(),
        tenant_id: org.id.clone().unwrap_or_else(|| s.tenant.clone()),
        tenant_name: org.display_name.clone().unwrap_or_default(),
        signed_in_as: me.who(),
        operator: super::operator::check(
            &me,
            out.iter()
                .map(|d| (d.id.as_str(), d.authentication_type == "Federated")),
        ),
        directory_sync_enabled: org.on_premises_sync_enabled == Some(true),
        last_sync: org.on_premises_last_sync_date_time.clone(),
        password_hash_sync: flag,
        last_password_sync,
        sync_id: sync.id.unwrap_or_default(),
        sync_engines,
        password_hashes_arriving,
        domains: out,
        farms,
        interrupted: super::journal::pending(&super::journal::read(&s.home, &s.tenant)?)
            .into_iter()
            .map(|e| format!("{} {} (started {})", e.operation, e.domain, e.time))
            .collect(),
        requests: s.graph.requests_sent() - before,
    })
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let banner = if self.simulated {
            " — REHEARSAL TENANT (simulated)"
        } else {
            ""
        };
        writeln!(f, "{} ({}){banner}", self.tenant_name, self.tenant_id)?;
        writeln!(
            f,
            "Signed in as {} (profile {})",
            self.signed_in_as, self.profile
        )?;
        writeln!(f, "{}", self.operator)?;
        writeln!(
            f,
            "Directory sync: {}   last sync: {}",
            if self.directory_sync_enabled {
                "on"
            } else {
                "off"
            },
            self.last_sync.as_deref().unwrap_or("never")
        )?;
        writeln!(
            f,
            "Password hash sync: {}   last password sync: {}",
            if self.password_hash_sync { "on" } else { "off" },
            self.last_password_sync.as_deref().unwrap_or("unknown")
        )?;
        writeln!(
            f,
            "Sync engine: {}   password hashes: {}",
            self.sync_engines.describe(),
            if self.password_hashes_arriving {
                "arriving"
            } else {
                "NOT arriving"
            }
        )?;
        for u in &self.sync_engines.unknown {
            writeln!(f, "  {u}")?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "{:<26} {:<10} {:<5} {:<44} SIGNING CERT (SHA-1, expires)",
            "DOMAIN", "SIGN-IN", "ROOT", "ISSUER"
        )?;
        for d in &self.domains {
            let cert = match (&d.signing_certificate_sha1, &d.signing_certificate_expires) {
                (Some(t), Some(e)) => format!("{t}, {e}"),
                _ => String::new(),
            };
            writeln!(
                f,
                "{:<26} {:<10} {:<5} {:<44} {}",
                d.id,
                d.authentication_type,
                if d.is_root { "yes" } else { "no" },
                d.issuer_uri.as_deref().unwrap_or(""),
                cert
            )?;
        }
        if !self.interrupted.is_empty() {
            writeln!(f, "\nInterrupted changes (run `entra-failover resume`):")?;
            for i in &self.interrupted {
                writeln!(f, "  {i}")?;
            }
        }
        if !self.farms.is_empty() {
            writeln!(f, "\nAD FS farms:")?;
            for farm in &self.farms {
                let sim = if farm.simulated { " (simulated)" } else { "" };
                writeln!(
                    f,
                    "  {}{sim}: {} — {}",
                    farm.service,
                    if farm.healthy { "up" } else { "DOWN" },
                    farm.detail
                )?;
            }
        }
        Ok(())
    }
}
