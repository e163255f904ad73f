//! `reset-trust`: the cloud side of "Reset Microsoft Entra ID trust" — Entra's federation settings take
//! the farm's current certificates (and endpoints) from its metadata, after a backup — plus the AD FS
//! script for the relying party trust, which the administrator runs on the farm.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::backup::{self, Backup};
use super::farm::fetch_metadata;
use super::journal::{self, Entry};
use super::plan::{Outcome, Plan};
use super::status::{encode, federation, who};
use super::{OpsError, Progress, Session};
use crate::adfs::metadata::CertificateInfo;
use crate::adfs::trust_script;
use crate::auth::claims::Task;
use crate::graph::models::{AuthenticationType, Domain};

#[derive(Clone, Debug)]
pub struct Options {
    pub domain: String,
    pub metadata_url: String,
    pub adfs_script: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct CertRow {
    pub role: String,
    pub sha1: Option<String>,
    pub expires: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub domain: String,
    pub changed: bool,
    pub certificates: Vec<CertRow>,
    pub backup: Option<String>,
    pub adfs_script: Option<String>,
}

pub struct Prepared {
    pub plan: Plan,
    pub certificates: Vec<CertRow>,
    domain: String,
    fed_id: String,
    patch: Map<String, Value>,
    raw: Value,
    domain_object: Value,
    script: Option<(PathBuf, String)>,
}

fn row(role: &str, b64: Option<&str>) -> CertRow {
    let info = b64.and_then(|c| CertificateInfo::from_base64(c).ok());
    CertRow {
        role: role.into(),
        sha1: info.as_ref().map(|c| c.sha1_thumbprint.clone()),
        expires: info.map(|c| {
            crate::graph::models::graph_time(crate::emulator::state::unix(c.not_after_unix))
        }),
    }
}

pub async fn prepare(s: &Session, o: &Options) -> Result<Prepared, OpsError> {
    let mut plan = Plan::new("Reset the Microsoft Entra ID trust", &s.tenant);
    let me = who(s).await?;
    plan.permissions(&me, Task::ManageFederation, "update federation settings");
    let Some((fed, raw)) = federation(s, &o.domain).await? else {
        return Err(OpsError::Refused(format!(
            "{} is not federated: switch it back first",
            o.domain
        )));
    };
    let domain_object: Value = s
        .graph
        .get(&format!("/v1.0/domains/{}", encode(&o.domain)))
        .await?;
    if domain_object["isRoot"] == false {
        return Err(OpsError::Refused(format!(
            "{} is a subdomain: reset the trust of its root domain",
            o.domain
        )));
    }
    let url = url::Url::parse(&o.metadata_url)
        .map_err(|e| OpsError::Input(format!("{}: {e}", o.metadata_url)))?;
    let m = fetch_metadata(s, &url)
        .await
        .map_err(|e| OpsError::Refused(format!("the farm's metadata cannot be read: {}", e.0)))?;
    let farm_primary = m.signing_certificates[0].base64.clone();
    let farm_next = m.signing_certificates.get(1).map(|c| c.base64.clone());
    let certificates = vec![
        row(
            "Microsoft Entra ID: signing",
            fed.signing_certificate.as_deref(),
        ),
        row(
            "Microsoft Entra ID: next signing",
            fed.next_signing_certificate.as_deref(),
        ),
        row("AD FS: primary", Some(&farm_primary)),
        row("AD FS: secondary", farm_next.as_deref()),
    ];
    let mut patch = Map::new();
    if fed.signing_certificate.as_deref() != Some(farm_primary.as_str()) {
        patch.insert("signingCertificate".into(), json!(farm_primary));
    }
    if fed.next_signing_certificate != farm_next {
        patch.insert("nextSigningCertificate".into(), json!(farm_next));
    }
    // The endpoints follow the metadata; the issuer never is rebuilt: a per-domain issuer stays as it is.
    if let Some(p) = &m.passive_endpoint
        && fed.passive_sign_in_uri.as_deref() != Some(p.as_str())
    {
        patch.insert("passiveSignInUri".into(), json!(p));
    }
    if let Some(x) = &m.mex_endpoint
        && fed.metadata_exchange_uri.as_deref() != Some(x.as_str())
    {
        patch.insert("metadataExchangeUri".into(), json!(x));
    }
    plan.check(
        "certificates",
        if patch.contains_key("signingCertificate") { Outcome::Warn } else { Outcome::Pass },
        if patch.contains_key("signingCertificate") {
            "Microsoft Entra ID's signing certificate differs from the farm's primary: it will be replaced".to_string()
        } else {
            "Microsoft Entra ID already holds the farm's primary certificate".to_string()
        },
    );
    let fed_id = fed.id.clone().unwrap_or_default();
    let list_path = format!(
        "/v1.0/domains/{}/federationConfiguration",
        encode(&o.domain)
    );
    if !patch.is_empty() {
        plan.step(
            Some(&o.domain),
            "GET",
            &list_path,
            None,
            "back up the federation settings",
        );
        plan.step(
            Some(&o.domain),
            "PATCH",
            &format!("{list_path}/{fed_id}"),
            Some(Value::Object(patch.clone())),
            "take the farm's certificates and endpoints",
        );
        plan.step(Some(&o.domain), "GET", &list_path, None, "confirm");
    }
    let script = match &o.adfs_script {
        Some(path) => {
            let domains: Vec<Domain> = s.graph.list("/v1.0/domains").await?;
            let federated: Vec<String> = domains
                .iter()
                .filter(|d| {
                    d.authentication_type == Some(AuthenticationType::Federated)
                        && d.is_root != Some(false)
                })
                .filter_map(|d| d.id.clone())
                .collect();
            plan.check(
                "AD FS script",
                Outcome::Pass,
                format!(
                    "{} (run it on the farm; the tool never does)",
                    path.display()
                ),
            );
            Some((
                path.clone(),
                trust_script::script(&s.tenant, &federated, &journal::now()),
            ))
        }
        None => None,
    };
    Ok(Prepared {
        plan,
        certificates,
        domain: o.domain.clone(),
        fed_id,
        patch,
        raw,
        domain_object,
        script,
    })
}

pub async fn run(s: &Session, p: Prepared, progress: &dyn Progress) -> Result<Report, OpsError> {
    let _lock = super::lock::acquire(&s.home, &s.tenant)?;
    if let Some(f) = p.plan.failed().first() {
        return Err(OpsError::Refused(format!("{}: {}", f.name, f.detail)));
    }
    let mut backup_path = None;
    if !p.patch.is_empty() {
        let b = Backup::new(&s.tenant, &p.domain, p.domain_object.clone(), p.raw.clone());
        let path = backup::write(&s.home, &b)?;
        let text = path.display().to_string();
        let entry = |phase: &str, detail: &str| {
            Entry::new("reset-trust", &p.domain, phase, detail)
                .with_backup(Some(&text), Some(&b.sha256))
        };
        journal::append(
            &s.home,
            &s.tenant,
            &entry("intent", "update certificates from the farm's metadata"),
        )?;
        progress.event(Some(&p.domain), "updating the federation settings");
        let path_url = format!(
            "/v1.0/domains/{}/federationConfiguration/{}",
            encode(&p.domain),
            p.fed_id
        );
        let result = s
            .graph
            .send(
                reqwest::Method::PATCH,
                &path_url,
                Some(&Value::Object(p.patch.clone())),
            )
            .await;
        let after = federation(s, &p.domain).await?;
        let applied = after.as_ref().is_some_and(|(_, raw)| {
            p.patch
                .iter()
                .all(|(k, v)| raw.get(k).unwrap_or(&Value::Null) == v)
        });
        let request_id = result.as_ref().ok().and_then(|r| r.request_id.clone());
        if !applied {
            let why = result
                .err()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "read back shows other values".into());
            journal::append(&s.home, &s.tenant, &entry("failed", &why))?;
            return Err(OpsError::Partial(format!("{}: {why}", p.domain)));
        }
        let mut done = entry("done", "read back: certificates as the farm's");
        done.request_id = request_id;
        journal::append(&s.home, &s.tenant, &done)?;
        backup_path = Some(text);
    }
    let script = match p.script {
        Some((path, text)) => {
            crate::files::write_atomic(&path, &crate::files::powershell_file(&text))
                .map_err(|e| OpsError::file(&path, e))?;
            Some(path.display().to_string())
        }
        None => None,
    };
    Ok(Report {
        domain: p.domain,
        changed: !p.patch.is_empty(),
        certificates: p.certificates,
        backup: backup_path,
        adfs_script: script,
    })
}
