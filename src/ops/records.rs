//! One tenant, one set of records. A profile may name its tenant by a domain
//! (`contoso.onmicrosoft.com`) or by its id: both are the same tenant, so both must find the same
//! journal (or `resume` under one would not see a change begun under the other), the same lock, the
//! same backups. Records are kept under the tenant's id, and what an earlier run kept under another
//! name is moved there once: a file or folder that has no counterpart is renamed; two journals (or
//! evidence logs) are merged in time order; two folders keep every file, the one already there
//! winning a clash (the other stays where it was, and is named).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::OpsError;
use super::journal::tenant_dir_name;

/// A tenant's change reports.
pub fn reports_dir(home: &Path, tenant: &str) -> PathBuf {
    home.join("reports").join(tenant_dir_name(tenant))
}

/// The scripts the tool writes for a tenant's servers (farm, Connect server).
fn scripts_dir(home: &Path, tenant: &str) -> PathBuf {
    home.join("scripts").join(tenant_dir_name(tenant))
}

/// One of those scripts, by file name.
pub fn script_path(home: &Path, tenant: &str, file: &str) -> PathBuf {
    scripts_dir(home, tenant).join(file)
}

/// Writes a script for a server (private, UTF-8 with a byte-order mark, CRLF, so that Windows
/// PowerShell 5.1 reads it as written). A folder that exists is the user's and is left alone; one
/// that does not is made private.
pub fn write_script(path: &Path, text: &str) -> Result<(), OpsError> {
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        super::journal::private_dir(dir)?;
    }
    crate::files::write_atomic(path, &crate::files::powershell_file(text))
        .map_err(|e| OpsError::file(path, e))
}

/// Where each kind of record lives, per tenant name (and whether it is a folder), as the modules
/// that keep them name it.
fn places(home: &Path, tenant: &str) -> [(PathBuf, bool); 5] {
    [
        (super::journal::path(home, tenant), false),
        (super::evidence::path(home, tenant), false),
        (super::backup::dir(home, tenant), true),
        (reports_dir(home, tenant), true),
        (scripts_dir(home, tenant), true),
    ]
}

/// Moves the records kept under `from` to `to`; answers what it moved, and what it had to leave.
pub fn adopt(home: &Path, from: &str, to: &str) -> Result<Vec<String>, OpsError> {
    let mut said = vec![];
    if tenant_dir_name(from) == tenant_dir_name(to) {
        return Ok(said);
    }
    for ((old, folder), (new, _)) in places(home, from).into_iter().zip(places(home, to)) {
        if !old.exists() {
            continue;
        }
        if let Some(dir) = new.parent() {
            super::journal::private_dir(dir)?;
        }
        if !new.exists() {
            std::fs::rename(&old, &new).map_err(|e| OpsError::file(&old, e))?;
            said.push(format!("moved {} to {}", old.display(), new.display()));
        } else if folder {
            said.extend(merge_folders(&old, &new)?);
        } else {
            merge_lines(&old, &new)?;
            said.push(format!("merged {} into {}", old.display(), new.display()));
        }
    }
    Ok(said)
}

/// Two JSON-lines logs as one, in time order (a line without a time keeps its place at the front);
/// the old file goes once the merged one is durable.
fn merge_lines(old: &Path, new: &Path) -> Result<(), OpsError> {
    let read = |p: &Path| crate::files::read_jsonl::<Value>(p).map_err(|e| OpsError::file(p, e));
    let mut lines = read(new)?;
    lines.extend(read(old)?);
    lines.sort_by(|a, b| {
        a["time"]
            .as_str()
            .unwrap_or("")
            .cmp(b["time"].as_str().unwrap_or(""))
    });
    let mut text = String::new();
    for l in &lines {
        text.push_str(&l.to_string());
        text.push('\n');
    }
    crate::files::write_atomic(new, text.as_bytes()).map_err(|e| OpsError::file(new, e))?;
    std::fs::remove_file(old).map_err(|e| OpsError::file(old, e))
}

/// Every file of `old` moved into `new` where `new` has none of that name; `old` goes once empty.
fn merge_folders(old: &Path, new: &Path) -> Result<Vec<String>, OpsError> {
    let mut said = vec![];
    let entries = std::fs::read_dir(old).map_err(|e| OpsError::file(old, e))?;
    for e in entries {
        let e = e.map_err(|e| OpsError::file(old, e))?;
        let target = new.join(e.file_name());
        if target.exists() {
            said.push(format!(
                "kept {} where it is: {} has one of that name",
                e.path().display(),
                new.display()
            ));
        } else {
            std::fs::rename(e.path(), &target).map_err(|err| OpsError::file(&e.path(), err))?;
        }
    }
    if std::fs::remove_dir(old).is_ok() {
        said.push(format!("moved {} into {}", old.display(), new.display()));
    }
    Ok(said)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_under_a_domain_name_join_the_tenant_id() {
        let home = tempfile::tempdir().unwrap();
        let h = home.path();
        let id = "9c5f2b1e-4d3a-4f6b-9e2c-7a1d0b8c3e55";
        let write = |p: PathBuf, text: &str| {
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        };
        write(
            h.join("journal/contoso.onmicrosoft.com.jsonl"),
            "{\"time\":\"2026-12-04T10:00:01Z\",\"phase\":\"intent\"}\n",
        );
        write(
            h.join(format!("journal/{id}.jsonl")),
            "{\"time\":\"2026-12-04T10:00:00Z\",\"phase\":\"done\"}\n{\"time\":\"2026-12-04T10:00:02Z\",\"phase\":\"done\"}\n",
        );
        write(h.join("backups/contoso.onmicrosoft.com/a.json"), "a");
        write(h.join("backups/contoso.onmicrosoft.com/same.json"), "old");
        write(h.join(format!("backups/{id}/same.json")), "new");
        write(h.join("reports/contoso.onmicrosoft.com/r.md"), "r");
        let said = adopt(h, "contoso.onmicrosoft.com", id).unwrap();
        let journal = std::fs::read_to_string(h.join(format!("journal/{id}.jsonl"))).unwrap();
        let times: Vec<&str> = journal.lines().map(|l| &l[9..29]).collect();
        assert_eq!(
            times,
            [
                "2026-12-04T10:00:00Z",
                "2026-12-04T10:00:01Z",
                "2026-12-04T10:00:02Z"
            ]
        );
        assert!(!h.join("journal/contoso.onmicrosoft.com.jsonl").exists());
        assert_eq!(
            std::fs::read_to_string(h.join(format!("backups/{id}/a.json"))).unwrap(),
            "a"
        );
        assert_eq!(
            std::fs::read_to_string(h.join(format!("backups/{id}/same.json"))).unwrap(),
            "new"
        );
        assert!(
            h.join("backups/contoso.onmicrosoft.com/same.json").exists(),
            "a clash stays, named"
        );
        assert!(
            said.iter()
                .any(|l| l.contains("kept") && l.contains("same.json")),
            "{said:?}"
        );
        assert!(h.join(format!("reports/{id}/r.md")).exists());
        // Run again: nothing more to do but the clash.
        assert_eq!(adopt(h, "contoso.onmicrosoft.com", id).unwrap().len(), 1);
        assert!(adopt(h, id, id).unwrap().is_empty());
    }
}
