//! Evidence: the checks made around changes (each run's pre-flight, `verify`, `test-signin`),
//! kept beside the journal so that the change report can show what was proven and when. The
//! journal stays a record of changes only. No secret is ever part of a check's lines.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OpsError;
use super::journal::{private_dir, tenant_dir_name};

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Evidence {
    pub time: String,
    /// `pre-flight <operation>`, `verify` or `test-signin`.
    pub kind: String,
    /// The domain, user or operation it is about.
    pub subject: String,
    pub passed: bool,
    /// One line per check, as it was shown.
    pub lines: Vec<String>,
}

impl Evidence {
    pub fn new(kind: &str, subject: &str, passed: bool, lines: Vec<String>) -> Evidence {
        Evidence {
            time: super::journal::now(),
            kind: kind.into(),
            subject: subject.into(),
            passed,
            lines,
        }
    }
}

pub fn path(home: &Path, tenant: &str) -> PathBuf {
    home.join("evidence")
        .join(format!("{}.jsonl", tenant_dir_name(tenant)))
}

/// Appends one record durably. A check that cannot be recorded is still a check made: callers
/// report the error but keep the check's result.
pub fn record(home: &Path, tenant: &str, e: &Evidence) -> Result<(), OpsError> {
    let p = path(home, tenant);
    if let Some(dir) = p.parent() {
        private_dir(dir)?;
    }
    let mut line = serde_json::to_string(e).map_err(|err| OpsError::file(&p, err))?;
    line.push('\n');
    crate::files::append_durable(&p, line.as_bytes()).map_err(|err| OpsError::file(&p, err))
}

/// Every record at or after `since` (all when `None`); unreadable lines are skipped.
pub fn read(
    home: &Path,
    tenant: &str,
    since: Option<time::OffsetDateTime>,
) -> Result<Vec<Evidence>, OpsError> {
    let p = path(home, tenant);
    let all: Vec<Evidence> = crate::files::read_jsonl(&p).map_err(|e| OpsError::file(&p, e))?;
    Ok(all
        .into_iter()
        .filter(|e| match since {
            None => true,
            Some(t) => {
                time::OffsetDateTime::parse(&e.time, &time::format_description::well_known::Rfc3339)
                    .map(|at| at >= t)
                    .unwrap_or(true)
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_kept_and_read_back_by_time() {
        let home = tempfile::tempdir().unwrap();
        let mut old = Evidence::new("verify", "contoso.com", true, vec!["[pass] a".into()]);
        old.time = "2026-01-01T00:00:00Z".into();
        record(home.path(), "t", &old).unwrap();
        let new = Evidence::new("test-signin", "a@contoso.com", false, vec!["x".into()]);
        record(home.path(), "t", &new).unwrap();
        assert_eq!(
            read(home.path(), "t", None).unwrap(),
            vec![old, new.clone()]
        );
        let since = time::OffsetDateTime::parse(
            "2026-06-01T00:00:00Z",
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        assert_eq!(read(home.path(), "t", Some(since)).unwrap(), vec![new]);
        assert!(read(home.path(), "other", None).unwrap().is_empty());
    }
}
