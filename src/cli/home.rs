//! Where entra-failover keeps its files: `$ENTRA_FAILOVER_HOME`, else the platform's own place for an
//! application's local data (Windows `%LOCALAPPDATA%`, macOS `~/Library/Application Support`, elsewhere
//! `$XDG_DATA_HOME` or `~/.local/share`).

use std::ffi::OsString;
use std::path::PathBuf;

pub fn home() -> PathBuf {
    resolve(std::env::consts::OS, |name| std::env::var_os(name))
}

/// The data folder on `os`, with `var` reading the environment: apart from the process, so that every
/// platform's rule is tested on any of them.
pub fn resolve(os: &str, var: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    let var = |name: &str| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(h) = var("ENTRA_FAILOVER_HOME") {
        return h;
    }
    let app = "entra-failover";
    match os {
        // Local, not roaming: backups and the journal belong to this machine.
        "windows" => var("LOCALAPPDATA")
            .or_else(|| var("APPDATA"))
            .or_else(|| var("USERPROFILE").map(|p| p.join("AppData").join("Local")))
            .map(|p| p.join(app))
            .unwrap_or_else(|| PathBuf::from(app)),
        "macos" => match (var("XDG_DATA_HOME"), var("HOME")) {
            (Some(x), _) => x.join(app),
            (None, Some(h)) => h.join("Library").join("Application Support").join(app),
            (None, None) => PathBuf::from(format!(".{app}")),
        },
        _ => match (var("XDG_DATA_HOME"), var("HOME")) {
            (Some(x), _) => x.join(app),
            (None, Some(h)) => h.join(".local").join("share").join(app),
            (None, None) => PathBuf::from(format!(".{app}")),
        },
    }
}

/// The rehearsal tenant's state folder.
pub fn rehearsal_dir() -> PathBuf {
    home().join("rehearsal")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        }
    }

    #[test]
    fn each_platform_has_its_own_data_folder() {
        let win = [
            ("LOCALAPPDATA", r"C:\Users\Adele Vance\AppData\Local"),
            ("APPDATA", r"C:\Users\Adele Vance\AppData\Roaming"),
        ];
        assert_eq!(
            resolve("windows", env(&win)),
            PathBuf::from(r"C:\Users\Adele Vance\AppData\Local").join("entra-failover")
        );
        assert_eq!(
            resolve("macos", env(&[("HOME", "/Users/adele")])),
            PathBuf::from("/Users/adele/Library/Application Support/entra-failover")
        );
        assert_eq!(
            resolve("linux", env(&[("HOME", "/home/adele")])),
            PathBuf::from("/home/adele/.local/share/entra-failover")
        );
        assert_eq!(
            resolve(
                "linux",
                env(&[("HOME", "/home/adele"), ("XDG_DATA_HOME", "/data")])
            ),
            PathBuf::from("/data/entra-failover")
        );
        // The override wins everywhere; an empty one does not count.
        for os in ["windows", "macos", "linux"] {
            assert_eq!(
                resolve(
                    os,
                    env(&[("ENTRA_FAILOVER_HOME", "/srv/ef"), ("HOME", "/h")])
                ),
                PathBuf::from("/srv/ef")
            );
        }
        assert_eq!(
            resolve("linux", env(&[("ENTRA_FAILOVER_HOME", ""), ("HOME", "/h")])),
            PathBuf::from("/h/.local/share/entra-failover")
        );
    }
}
