//! `reset-trust`: the cloud side of "Reset Microsoft Entra ID trust" — Entra's federation settings take
//! the farm's current certificates (and endpoints) from its metadata, after a backup — plus the AD FS
//! script for the relying party trust, which the administrator runs on the farm: it updates the trust
//! in place from Microsoft's metadata, which this tool fetches and writes beside it (see
//! `adfs::trust_script`).

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::backup::{self, Backup};
use super::farm::fetch_metadata;
use super::journal::{self, Entry};
use super::plan::{Outcome, Plan};
use super::status::{federation, who};
use super::{OpsError, Progress, Session};
use crate::adfs::metadata::CertificateInfo;
use crate::adfs::trust_script;
use crate::auth::claims::Task;
use crate::graph::encode;
use crate::graph::models::{AuthenticationType, Domain};

#[derive(Clone, Debug)]
pub struct Options {
    pub domain: String,
    pub metadata_url: String,
    pub adfs_script: Option<PathBuf>,
    /// Drop the farm's own issuance rules instead of carrying them over.
    pub replace_claim_rules: bool,
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
    /// Microsoft's metadata, written beside the script, and its SHA-256 (which the script checks).
    pub metadata_file: Option<String>,
    pub metadata_sha256: Option<String>,
}

/// The farm script with what it needs beside it.
struct FarmScript {
    path: PathBuf,
    text: String,
    metadata: String,
    sha256: String,
}

impl FarmScript {
    fn metadata_path(&self) -> PathBuf {
        self.path
            .with_file_name(crate::adfs::trust_script::METADATA_FILE)
    }
}

pub struct Prepared {
    pub plan: Plan,
    pub certificates: Vec<CertRow>,
    domain: String,
    fed_id: String,
    patch: Map<String, Value>,
    raw: Value,
    domain_object: Value,
    script: Option<FarmScript>,
}

fn row(role: &str, b64: Option<&str>) -> CertRow {
    let info = b64.and_then(|c| CertificateInfo::from_base64(c).ok());
    CertRow {
        role: role.into(),
        sha1: info.as_ref().map(|c| c.sha1_thumbprint.clone()),
        expires: info
            .map(|c| crate::graph::models::graph_time(crate::clock::unix(c.not_after_unix))),
    }
}

pub async fn prepare(s: &Session, o: &Options) -> Result<Prepared, OpsError> {
    let mut plan = Plan::new("Reset the Microsoft Entra ID trust", &s.tenant);
    let me = who(s).await?;
    plan.permissions(&me, Task::ManageFederation, "update federation settings");
    plan.checks
        .push(super::operator::check_by_reading(s, &me).await?);
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
    if fed.next_signing_certificate.as_deref() != farm_next.as_deref() {
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
            let metadata = super::farm::fetch_microsoft_metadata(s).await.map_err(|e| {
                OpsError::Refused(format!(
                    "the AD FS script needs Microsoft's federation metadata, which cannot be read: {}",
                    e.0
                ))
            })?;
            let sha256 = super::backup::sha256_hex(&metadata);
            let text = trust_script::script(&trust_script::Target {
                tenant: &s.tenant,
                domains: &federated,
                generated_at: &journal::now(),
                metadata_sha256: &sha256,
                replace_claim_rules: o.replace_claim_rules,
            })?;
            let script = FarmScript {
                path: path.clone(),
                text,
                metadata,
                sha256,
            };
            plan.check(
                "AD FS script",
                Outcome::Pass,
                format!(
                    "{} with {} beside it (SHA-256 {}): run it on the primary AD FS server; the tool never does",
                    path.display(),
                    script.metadata_path().display(),
                    script.sha256
                ),
            );
            for (what, detail) in trust_script::summary(o.replace_claim_rules) {
                plan.check(&format!("AD FS trust: {what}"), Outcome::Info, detail);
            }
            plan.check(
                "AD FS farm backup",
                Outcome::Info,
                super::security::farm_backup_advice(&s.home, &s.tenant),
            );
            Some(script)
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
        if let Some((_, raw)) = &after {
            s.read_back.federated(&p.domain, raw);
        }
        let mut done = entry("done", "read back: certificates as the farm's");
        done.request_id = request_id;
        journal::append(&s.home, &s.tenant, &done)?;
        backup_path = Some(text);
    }
    let (mut adfs_script, mut metadata_file, mut metadata_sha256) = (None, None, None);
    if let Some(f) = p.script {
        if let Some(dir) = f
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            journal::private_dir(dir)?;
        }
        let meta = f.metadata_path();
        crate::files::write_atomic(&meta, f.metadata.as_bytes())
            .map_err(|e| OpsError::file(&meta, e))?;
        crate::files::write_atomic(&f.path, &crate::files::powershell_file(&f.text))
            .map_err(|e| OpsError::file(&f.path, e))?;
        adfs_script = Some(f.path.display().to_string());
        metadata_file = Some(meta.display().to_string());
        metadata_sha256 = Some(f.sha256);
    }
    Ok(Report {
        domain: p.domain,
        changed: !p.patch.is_empty(),
        certificates: p.certificates,
        backup: backup_path,
        adfs_script,
        metadata_file,
        metadata_sha256,
    })
}
