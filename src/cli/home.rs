//! Where entra-failover keeps its files: `$ENTRA_FAILOVER_HOME`, else the platform's data folder.

use std::path::PathBuf;

pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("ENTRA_FAILOVER_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(x).join("entra-failover");
    }
    if cfg!(windows)
        && let Some(a) = std::env::var_os("APPDATA")
    {
        return PathBuf::from(a).join("entra-failover");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h)
            .join(".local")
            .join("share")
            .join("entra-failover"),
        None => PathBuf::from(".entra-failover"),
    }
}

/// The rehearsal tenant's state folder.
pub fn rehearsal_dir() -> PathBuf {
    home().join("rehearsal")
}
