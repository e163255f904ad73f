//! Where a tenant lives on disk: a snapshot and a write-ahead log of the records changed since.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::emulator::EmulatorError;
use crate::files;

use super::records::*;

/// One line of the change log: whole records, so that replaying a line twice changes nothing.
#[derive(Debug, Serialize, Deserialize)]
struct WalLine {
    epoch: String,
    seq: u64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    domains: Vec<DomainRec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sync: Option<SyncRec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    signins: Vec<SignInRec>,
}

/// The on-disk home of a tenant: a snapshot (`tenant.json`) and a change log (`tenant.wal`) of the
/// records changed since. A write appends one short line (fsync'd) instead of rewriting the whole
/// tenant, so a 5,000-domain tenant costs the same per change as a 5-domain one; the snapshot is
/// rewritten once the log is as long as the tenant has domains.
#[derive(Clone, Debug)]
pub struct Store {
    pub dir: PathBuf,
}

impl Store {
    pub fn file(&self) -> PathBuf {
        self.dir.join("tenant.json")
    }

    pub fn wal(&self) -> PathBuf {
        self.dir.join("tenant.wal")
    }

    /// The tenant as last saved: the snapshot with the change log replayed on it. Only reads: a
    /// torn last line (a kill mid-append) is skipped, and left for the folder's owner to cut off.
    pub fn load(&self) -> Result<Option<Tenant>, EmulatorError> {
        self.load_with(false)
    }

    /// As `load`, by the process that owns the folder (it holds the emulator lock): a torn last line
    /// is cut off, so that the next appended line starts clean.
    pub fn load_to_write(&self) -> Result<Option<Tenant>, EmulatorError> {
        self.load_with(true)
    }

    fn load_with(&self, repair: bool) -> Result<Option<Tenant>, EmulatorError> {
        let path = self.file();
        // Read as a stream: a 5,000-domain tenant is not held twice (file and objects) at start.
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(EmulatorError::io(&path, e)),
        };
        let reader = std::io::BufReader::with_capacity(64 * 1024, file);
        let mut t: Tenant = serde_json::from_reader(reader).map_err(|e| {
            EmulatorError::State(format!(
                "{} cannot be read ({e}); start again with --fresh",
                path.display()
            ))
        })?;
        if t.version != STATE_VERSION {
            return Err(EmulatorError::State(format!(
                "{} is from another version ({}); start again with --fresh",
                path.display(),
                t.version
            )));
        }
        t.sync.engines.upgrade_saved();
        self.replay(&mut t, repair)?;
        // A list read by doubling keeps up to twice the room it needs, for as long as it is served.
        t.domains.shrink_to_fit();
        t.users.shrink_to_fit();
        t.share_certificates();
        Ok(Some(t))
    }

    fn replay(&self, t: &mut Tenant, repair: bool) -> Result<(), EmulatorError> {
        let wal = self.wal();
        let text = match std::fs::read(&wal) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(EmulatorError::io(&wal, e)),
        };
        let mut at = 0;
        while at < text.len() {
            let end = text[at..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(text.len(), |p| at + p);
            let raw = &text[at..end];
            let start = at;
            at = end + 1;
            if raw.is_empty() {
                continue;
            }
            let line: WalLine = match serde_json::from_slice(raw) {
                Ok(l) => l,
                // A kill mid-append tears only the last line, and that change was never answered:
                // it is cut off, so that the next line starts clean.
                Err(_) if at >= text.len() && !repair => break,
                Err(_) if at >= text.len() => {
                    let f = std::fs::OpenOptions::new()
                        .write(true)
                        .open(&wal)
                        .map_err(|e| EmulatorError::io(&wal, e))?;
                    f.set_len(start as u64)
                        .and_then(|()| f.sync_all())
                        .map_err(|e| EmulatorError::io(&wal, e))?;
                    break;
                }
                Err(e) => {
                    return Err(EmulatorError::State(format!(
                        "{} at byte {start} cannot be read ({e}); start again with --fresh",
                        wal.display()
                    )));
                }
            };
            // Lines of an older snapshot, or already in this one, are skipped.
            if line.epoch != t.wal_epoch || line.seq <= t.wal_seq {
                continue;
            }
            for rec in line.domains {
                match t.domain_index(rec.id()) {
                    Some(i) => t.domains[i] = rec,
                    None => t.domains.push(rec),
                }
            }
            if let Some(sync) = line.sync {
                t.sync = sync;
            }
            t.add_signins(line.signins);
            t.wal_seq = line.seq;
            t.wal_records += 1;
        }
        Ok(())
    }

    /// Saves the whole tenant and starts a new change log.
    pub fn save(&self, tenant: &Tenant) -> Result<(), EmulatorError> {
        let file = self.file();
        files::write_atomic_with(&file, |f| {
            let mut w = std::io::BufWriter::with_capacity(64 * 1024, f);
            serde_json::to_writer(&mut w, tenant).map_err(std::io::Error::other)?;
            std::io::Write::flush(&mut w)
        })
        .map_err(|e| EmulatorError::io(&file, e))?;
        // The snapshot holds every logged change now (and names the sequence it holds up to).
        match std::fs::remove_file(self.wal()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(EmulatorError::io(&self.wal(), e)),
        }
    }

    /// Saves what `change` names: a change-log line, or the whole tenant when that is due.
    pub fn save_change(&self, t: &mut Tenant, change: &Change) -> Result<(), EmulatorError> {
        let due = t.wal_records >= t.domains.len().max(256);
        let line = match change {
            Change::All => None,
            _ if due => None,
            Change::Sync => Some(WalLine {
                epoch: t.wal_epoch.clone(),
                seq: t.wal_seq + 1,
                domains: vec![],
                sync: Some(t.sync.clone()),
                signins: vec![],
            }),
            Change::SignIns(n) => Some(WalLine {
                epoch: t.wal_epoch.clone(),
                seq: t.wal_seq + 1,
                domains: vec![],
                sync: None,
                signins: t.signins[t.signins.len().saturating_sub(*n)..].to_vec(),
            }),
            Change::Domains(ids) => {
                let mut domains = vec![];
                for id in ids {
                    match t.domain_index(id) {
                        Some(i) => domains.push(t.domains[i].clone()),
                        // A record that went away cannot be logged as a whole record.
                        None => {
                            domains.clear();
                            break;
                        }
                    }
                }
                (!domains.is_empty()).then(|| WalLine {
                    epoch: t.wal_epoch.clone(),
                    seq: t.wal_seq + 1,
                    domains,
                    sync: None,
                    signins: vec![],
                })
            }
        };
        let Some(line) = line else {
            t.wal_records = 0;
            return self.save(t);
        };
        let mut bytes =
            serde_json::to_vec(&line).map_err(|e| EmulatorError::State(e.to_string()))?;
        bytes.push(b'\n');
        let wal = self.wal();
        files::append_durable(&wal, &bytes).map_err(|e| EmulatorError::io(&wal, e))?;
        t.wal_seq = line.seq;
        t.wal_records += 1;
        Ok(())
    }
}
