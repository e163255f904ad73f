//! The journal: an append-only, fsync'd log of every change per tenant. An *intent* line (naming the
//! backup and its checksum) is durable before the change; a *done* line follows the confirming read.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::OpsError;

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub time: String,
    pub operation: String,
    pub domain: String,
    /// `intent`, `done`, `failed` or `noop`.
    pub phase: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    pub detail: String,
    /// Graph's `request-id` of the change (what Microsoft support asks for), on its outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// On an intent: the state the change aims at, when `resume` needs more than the backup to
    /// finish it (staged rollout: on or off, and its groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<serde_json::Value>,
}

impl Entry {
    /// A line stamped now, with no backup or request-id (add them with `with_backup`).
    pub fn new(operation: &str, domain: &str, phase: &str, detail: &str) -> Entry {
        Entry {
            time: now(),
            operation: operation.into(),
            domain: domain.into(),
            phase: phase.into(),
            backup: None,
            sha256: None,
            detail: detail.into(),
            request_id: None,
            target: None,
        }
    }

    /// The backup the change starts from, and its SHA-256 when known.
    pub fn with_backup(mut self, path: Option<&str>, sha256: Option<&str>) -> Entry {
        self.backup = path.map(str::to_string);
        self.sha256 = sha256.map(str::to_string);
        self
    }
}

/// A name from outside (a tenant, a domain, a server, a configuration) as one safe path component:
/// letters, digits, `-` and `.`, anything else `_`, and never `.` or `..` or a hidden name, so that
/// no name can climb out of the folder it is joined to.
pub fn tenant_dir_name(tenant: &str) -> String {
    let mut name: String = tenant
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with('.') {
        name.insert(0, '_');
    }
    name
}

pub fn path(home: &Path, tenant: &str) -> PathBuf {
    home.join("journal")
        .join(format!("{}.jsonl", tenant_dir_name(tenant)))
}

pub fn private_dir(dir: &Path) -> Result<(), OpsError> {
    crate::files::private_dir(dir).map_err(|e| OpsError::file(dir, e))
}

/// Intents with no outcome after them, the newest per operation and domain.
pub fn pending(entries: &[Entry]) -> Vec<Entry> {
    let mut last: Vec<Entry> = vec![];
    for e in entries {
        match last
            .iter_mut()
            .find(|l| l.operation == e.operation && l.domain == e.domain)
        {
            Some(slot) => *slot = e.clone(),
            None => last.push(e.clone()),
        }
    }
    last.into_iter().filter(|e| e.phase == "intent").collect()
}

/// Appends one entry and makes it durable before returning.
pub fn append(home: &Path, tenant: &str, entry: &Entry) -> Result<(), OpsError> {
    let p = path(home, tenant);
    if let Some(dir) = p.parent() {
        private_dir(dir)?;
    }
    let mut line = serde_json::to_string(entry).map_err(|e| OpsError::file(&p, e))?;
    line.push('\n');
    let mut options = crate::files::private_options();
    options.create(true).append(true);
    // Lines from domains converting side by side go in one at a time.
    static APPEND: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = APPEND.lock().unwrap_or_else(|e| e.into_inner());
    let mut f = options.open(&p).map_err(|e| OpsError::file(&p, e))?;
    // A line torn by a crash mid-write must not swallow this one: start on a line of its own.
    if last_byte(&p).is_some_and(|b| b != b'\n') {
        line.insert(0, '\n');
    }
    f.write_all(line.as_bytes())
        .map_err(|e| OpsError::file(&p, e))?;
    f.sync_all().map_err(|e| OpsError::file(&p, e))
}

/// Every entry, oldest first; a torn last line (a crash mid-write) is skipped.
pub fn read(home: &Path, tenant: &str) -> Result<Vec<Entry>, OpsError> {
    let p = path(home, tenant);
    crate::files::read_jsonl(&p).map_err(|e| OpsError::file(&p, e))
}

pub fn now() -> String {
    crate::graph::models::graph_time(time::OffsetDateTime::now_utc())
}

/// The last byte of a file, read without reading the rest.
fn last_byte(p: &Path) -> Option<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(p).ok()?;
    f.seek(SeekFrom::End(-1)).ok()?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b).ok()?;
    Some(b[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_name_climbs_out_of_its_folder() {
        for (name, want) in [
            ("..", "_.."),
            (".", "_."),
            ("", "_"),
            ("../x", "_.._x"),
            ("contoso.com", "contoso.com"),
            ("9c5f2b1e-4d3a", "9c5f2b1e-4d3a"),
        ] {
            assert_eq!(tenant_dir_name(name), want, "{name:?}");
        }
    }

    #[test]
    fn a_torn_last_line_does_not_swallow_the_next_entry() {
        let home = tempfile::tempdir().unwrap();
        let e = |phase: &str| Entry::new("failover", "a.com", phase, "");
        append(home.path(), "t", &e("intent")).unwrap();
        let p = path(home.path(), "t");
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"{\"time\":\"2026").unwrap();
        append(home.path(), "t", &e("done")).unwrap();
        let read_back: Vec<String> = read(home.path(), "t")
            .unwrap()
            .into_iter()
            .map(|e| e.phase)
            .collect();
        assert_eq!(read_back, ["intent", "done"]);
    }
}
