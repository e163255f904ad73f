//! Backups of a domain's federation settings, taken before any change: the only way back to exactly the
//! same settings once a conversion has deleted them. JSON, checksummed, readable only by their owner.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::OpsError;
use super::journal::{private_dir, tenant_dir_name};

pub const FORMAT: &str = "entra-failover/backup/1";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Backup {
    pub format: String,
    pub tenant: String,
    pub domain: String,
    pub taken_at: String,
    /// The domain as Graph returned it.
    pub domain_object: Value,
    /// The federation settings exactly as Graph returned them (`internalDomainFederation`).
    pub federation: Value,
    /// SHA-256 of the fields above, to catch a tampered or truncated file.
    pub sha256: String,
}

fn digest(
    format: &str,
    tenant: &str,
    domain: &str,
    taken_at: &str,
    domain_object: &Value,
    federation: &Value,
) -> String {
    sha256_hex(
        &serde_json::json!([format, tenant, domain, taken_at, domain_object, federation])
            .to_string(),
    )
}

pub fn sha256_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA256, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub const SYNC_JOBS_FORMAT: &str = "entra-failover/sync-jobs-backup/1";

/// The state of a Cloud Sync configuration's jobs before a change: as Graph returned them.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SyncJobsBackup {
    pub format: String,
    pub tenant: String,
    pub configuration: String,
    pub service_principal_id: String,
    pub taken_at: String,
    pub jobs: Value,
    /// The provisioning job's schema before the change, when it is to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// The secrets the change sends. Graph never returns a configuration's secrets, so the set
    /// before cannot be kept: `secrets_before` says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_sent: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_before: Option<String>,
    pub sha256: String,
}

impl SyncJobsBackup {
    /// What the checksum covers: every field but itself (the later ones only where present, so
    /// that a backup written before they existed still checks).
    fn digest(&self) -> String {
        let mut v = serde_json::json!([
            self.format,
            self.tenant,
            self.configuration,
            self.service_principal_id,
            self.taken_at,
            self.jobs
        ]);
        if let Some(list) = v.as_array_mut() {
            list.extend(
                [&self.schema, &self.secrets_sent]
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
            if let Some(b) = &self.secrets_before {
                list.push(Value::String(b.clone()));
            }
        }
        sha256_hex(&v.to_string())
    }

    /// With the schema before a change to it, and the secrets about to be sent.
    pub fn with_configuration(
        mut self,
        schema: Option<Value>,
        secrets: Option<Value>,
    ) -> SyncJobsBackup {
        self.schema = schema;
        if secrets.is_some() {
            self.secrets_before = Some(
                "not readable: Graph never returns a configuration's synchronization secrets"
                    .into(),
            );
        }
        self.secrets_sent = secrets;
        self.sha256 = self.digest();
        self
    }

    pub fn new(tenant: &str, configuration: &str, sp: &str, jobs: Value) -> SyncJobsBackup {
        let mut b = SyncJobsBackup {
            format: SYNC_JOBS_FORMAT.into(),
            tenant: tenant.into(),
            configuration: configuration.into(),
            service_principal_id: sp.into(),
            taken_at: super::journal::now(),
            jobs,
            schema: None,
            secrets_sent: None,
            secrets_before: None,
            sha256: String::new(),
        };
        b.sha256 = b.digest();
        b
    }

    /// Reads and checks one.
    pub fn read(path: &Path) -> Result<SyncJobsBackup, OpsError> {
        let bytes = std::fs::read(path)
            .map_err(|e| OpsError::Input(format!("backup {}: {e}", path.display())))?;
        let b: SyncJobsBackup = serde_json::from_slice(&bytes).map_err(|e| {
            OpsError::Input(format!(
                "backup {} is damaged or not a backup: {e}",
                path.display()
            ))
        })?;
        if b.format != SYNC_JOBS_FORMAT || b.digest() != b.sha256 {
            return Err(OpsError::Input(format!(
                "backup {} does not match its checksum: it was changed or truncated",
                path.display()
            )));
        }
        Ok(b)
    }

    /// Writes it atomically (0600) beside the domain backups, in `sync-jobs/`; returns its path.
    pub fn write(&self, home: &Path) -> Result<PathBuf, OpsError> {
        let d = dir(home, &self.tenant).join("sync-jobs");
        private_dir(&d)?;
        let stamp = self.taken_at.replace([':', '-'], "");
        let p = d.join(format!(
            "{}.{}.{stamp}.json",
            tenant_dir_name(&self.configuration),
            tenant_dir_name(&self.service_principal_id)
        ));
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| OpsError::file(&p, e))?;
        crate::files::write_atomic(&p, &bytes).map_err(|e| OpsError::file(&p, e))?;
        Ok(p)
    }
}

pub const POLICY_FORMAT: &str = "entra-failover/staged-rollout-backup/1";

/// The staged rollout of password hash sync before a change: the policy with its groups as Graph
/// returned it (`null` when there was none).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PolicyBackup {
    pub format: String,
    pub tenant: String,
    pub taken_at: String,
    pub policy: Value,
    pub sha256: String,
}

impl PolicyBackup {
    pub fn new(tenant: &str, policy: Value) -> PolicyBackup {
        let taken_at = super::journal::now();
        let sha256 =
            sha256_hex(&serde_json::json!([POLICY_FORMAT, tenant, taken_at, policy]).to_string());
        PolicyBackup {
            format: POLICY_FORMAT.into(),
            tenant: tenant.into(),
            taken_at,
            policy,
            sha256,
        }
    }

    /// Reads and checks one.
    pub fn read(path: &Path) -> Result<PolicyBackup, OpsError> {
        let bytes = std::fs::read(path)
            .map_err(|e| OpsError::Input(format!("backup {}: {e}", path.display())))?;
        let b: PolicyBackup = serde_json::from_slice(&bytes).map_err(|e| {
            OpsError::Input(format!(
                "backup {} is damaged or not a backup: {e}",
                path.display()
            ))
        })?;
        let digest =
            sha256_hex(&serde_json::json!([b.format, b.tenant, b.taken_at, b.policy]).to_string());
        if b.format != POLICY_FORMAT || digest != b.sha256 {
            return Err(OpsError::Input(format!(
                "backup {} does not match its checksum: it was changed or truncated",
                path.display()
            )));
        }
        Ok(b)
    }

    /// Writes it atomically (0600) in `staged-rollout/` beside the domain backups; returns its path.
    pub fn write(&self, home: &Path) -> Result<PathBuf, OpsError> {
        let d = dir(home, &self.tenant).join("staged-rollout");
        private_dir(&d)?;
        let stamp = self.taken_at.replace([':', '-'], "");
        // Two changes within one second keep two backups.
        let p = (0..)
            .map(|n| match n {
                0 => d.join(format!("password-hash-sync.{stamp}.json")),
                n => d.join(format!("password-hash-sync.{stamp}.{n}.json")),
            })
            .find(|p| !p.exists())
            .unwrap_or_else(|| d.join(format!("password-hash-sync.{stamp}.json")));
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| OpsError::file(&p, e))?;
        crate::files::write_atomic(&p, &bytes).map_err(|e| OpsError::file(&p, e))?;
        Ok(p)
    }
}

impl Backup {
    pub fn new(tenant: &str, domain: &str, domain_object: Value, federation: Value) -> Backup {
        let taken_at = super::journal::now();
        let sha256 = digest(
            FORMAT,
            tenant,
            domain,
            &taken_at,
            &domain_object,
            &federation,
        );
        Backup {
            format: FORMAT.into(),
            tenant: tenant.into(),
            domain: domain.into(),
            taken_at,
            domain_object,
            federation,
            sha256,
        }
    }

    fn expected_digest(&self) -> String {
        digest(
            &self.format,
            &self.tenant,
            &self.domain,
            &self.taken_at,
            &self.domain_object,
            &self.federation,
        )
    }

    /// The settings to send back to Graph: everything that was read, except what Graph sets itself.
    pub fn restorable_settings(&self) -> Value {
        let mut v = self.federation.clone();
        if let Value::Object(m) = &mut v {
            m.retain(|k, _| {
                !k.starts_with('@') && k != "id" && k != "signingCertificateUpdateStatus"
            });
            m.insert(
                "@odata.type".into(),
                Value::String("#microsoft.graph.internalDomainFederation".into()),
            );
        }
        v
    }
}

pub fn dir(home: &Path, tenant: &str) -> PathBuf {
    home.join("backups").join(tenant_dir_name(tenant))
}

/// Writes a backup atomically; returns its path.
pub fn write(home: &Path, backup: &Backup) -> Result<PathBuf, OpsError> {
    let d = dir(home, &backup.tenant);
    private_dir(&d)?;
    let stamp = backup.taken_at.replace([':', '-'], "");
    let mut p = d.join(format!("{}.{stamp}.json", tenant_dir_name(&backup.domain)));
    let mut n = 1;
    while p.exists() {
        n += 1;
        p = d.join(format!(
            "{}.{stamp}.{n}.json",
            tenant_dir_name(&backup.domain)
        ));
    }
    let bytes = serde_json::to_vec_pretty(backup).map_err(|e| OpsError::file(&p, e))?;
    crate::files::write_atomic(&p, &bytes).map_err(|e| OpsError::file(&p, e))?;
    Ok(p)
}

/// Reads and checks a backup file.
pub fn read(path: &Path) -> Result<Backup, OpsError> {
    let meta = std::fs::metadata(path)
        .map_err(|e| OpsError::Input(format!("backup {}: {e}", path.display())))?;
    if meta.len() > 16 * 1024 * 1024 {
        return Err(OpsError::Input(format!(
            "backup {}: {} bytes is too large for a backup",
            path.display(),
            meta.len()
        )));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| OpsError::Input(format!("backup {}: {e}", path.display())))?;
    parse(&bytes, path)
}

/// Parses and checks the bytes of a backup file (`path` names it in errors).
pub fn parse(bytes: &[u8], path: &Path) -> Result<Backup, OpsError> {
    let b: Backup = serde_json::from_slice(bytes).map_err(|e| {
        OpsError::Input(format!(
            "backup {} is damaged or not a backup: {e}",
            path.display()
        ))
    })?;
    if b.format != FORMAT {
        return Err(OpsError::Input(format!(
            "backup {}: unknown format {:?}",
            path.display(),
            b.format
        )));
    }
    if b.expected_digest() != b.sha256 {
        return Err(OpsError::Input(format!(
            "backup {} does not match its checksum: it was changed or truncated; it will not be restored",
            path.display()
        )));
    }
    if !b.federation.is_object() {
        return Err(OpsError::Input(format!(
            "backup {} holds no federation settings",
            path.display()
        )));
    }
    Ok(b)
}

/// Every backup of a tenant, oldest first.
pub fn list(home: &Path, tenant: &str) -> Result<Vec<PathBuf>, OpsError> {
    let d = dir(home, tenant);
    let mut out: Vec<PathBuf> = match std::fs::read_dir(&d) {
        Ok(rd) => rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
        Err(e) => return Err(OpsError::file(&d, e)),
    };
    out.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    Ok(out)
}

/// The newest valid backup of a domain.
pub fn latest(
    home: &Path,
    tenant: &str,
    domain: &str,
) -> Result<Option<(PathBuf, Backup)>, OpsError> {
    Ok(latest_among(&list(home, tenant)?, domain))
}

/// The newest valid backup of a domain among `files` (a listing made once for many domains).
pub fn latest_among(files: &[PathBuf], domain: &str) -> Option<(PathBuf, Backup)> {
    let mut best: Option<(PathBuf, Backup)> = None;
    // Files are named after their domain: read only this domain's.
    let prefix = format!("{}.", tenant_dir_name(domain)).to_ascii_lowercase();
    let mine = files.iter().filter(|p| {
        p.file_name().is_some_and(|n| {
            n.to_string_lossy()
                .to_ascii_lowercase()
                .starts_with(&prefix)
        })
    });
    for p in mine {
        if let Ok(b) = read(p)
            && b.domain.eq_ignore_ascii_case(domain)
            && best
                .as_ref()
                .is_none_or(|(_, cur)| b.taken_at >= cur.taken_at)
        {
            best = Some((p.clone(), b));
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampered_or_truncated_backups_are_refused() {
        let home = tempfile::tempdir().unwrap();
        let b = Backup::new(
            "t",
            "contoso.com",
            serde_json::json!({"id": "contoso.com"}),
            serde_json::json!({"issuerUri": "http://x/"}),
        );
        let p = write(home.path(), &b).unwrap();
        assert_eq!(read(&p).unwrap(), b);
        let text = std::fs::read_to_string(&p).unwrap();
        std::fs::write(&p, text.replace("http://x/", "http://evil/")).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("checksum"));
        std::fs::write(&p, &text[..text.len() / 2]).unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("damaged"));
        let restorable = b.restorable_settings();
        assert!(restorable.get("id").is_none());
        assert_eq!(restorable["issuerUri"], "http://x/");
    }
}
