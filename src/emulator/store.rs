//! Durable files for the rehearsal tenant: every write replaces the file atomically (write a temporary
//! file, fsync it, rename it over the old one, fsync the folder), so that a kill at any moment leaves
//! either the old file or the new one, never a half-written one.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::EmulatorError;

/// Creates `dir` (and its parents) readable only by its owner.
pub fn private_dir(dir: &Path) -> Result<(), EmulatorError> {
    // Every folder this creates is the owner's alone (the data folder itself, `backups/` …);
    // folders that already exist above it are left as they are.
    let missing: Vec<&Path> = dir.ancestors().take_while(|d| !d.exists()).collect();
    for d in missing.into_iter().rev() {
        let mut b = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            b.mode(0o700);
        }
        match b.create(d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(EmulatorError::io(d, e)),
        }
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .map_err(|e| EmulatorError::io(dir, e))?;
    }
    Ok(())
}

/// Replaces `path` with `bytes`, atomically and durably; the file is readable only by its owner.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), EmulatorError> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Like `write_atomic`, with `fill` writing the content straight into the file (no copy of a large
/// tenant in memory first).
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<(), EmulatorError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut f = options.open(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            d.sync_all()?;
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        EmulatorError::io(path, e)
    })
}

/// Appends `bytes` to `path` (created readable only by its owner) and makes them durable.
pub fn append_durable(path: &Path, bytes: &[u8]) -> Result<(), EmulatorError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let created = !path.exists();
    let result = (|| {
        let mut f = options.open(path)?;
        f.write_all(bytes)?;
        f.sync_data()?;
        if created
            && let Some(dir) = path.parent()
            && let Ok(d) = File::open(dir)
        {
            d.sync_all()?;
        }
        Ok(())
    })();
    result.map_err(|e| EmulatorError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn every_folder_it_creates_is_the_owners_alone() {
        use std::os::unix::fs::PermissionsExt;
        let top = tempfile::tempdir().unwrap();
        let leaf = top.path().join("home").join("backups").join("tenant");
        private_dir(&leaf).unwrap();
        for d in [
            top.path().join("home"),
            top.path().join("home/backups"),
            leaf.clone(),
        ] {
            let mode = fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}: {mode:o}", d.display());
        }
        // Folders that were there already keep their mode; calling it again is fine.
        let before = fs::metadata(top.path()).unwrap().permissions().mode();
        private_dir(&leaf).unwrap();
        assert_eq!(
            fs::metadata(top.path()).unwrap().permissions().mode(),
            before
        );
    }

    #[test]
    fn replaces_whole_file_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        write_atomic(&p, b"first version, longer").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1);
    }
}
