//! One run per tenant: changes take an exclusive lock, so that a second instance (another terminal,
//! a script run twice) is refused, naming the holder, instead of racing the first.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use super::OpsError;
use super::journal::{private_dir, tenant_dir_name};

/// Held while a change runs; the lock is released when it is dropped (or the process dies).
#[derive(Debug)]
pub struct TenantLock {
    _file: File,
}

pub fn acquire(home: &Path, tenant: &str) -> Result<TenantLock, OpsError> {
    let dir = home.join("locks");
    private_dir(&dir)?;
    let path = dir.join(format!("{}.lock", tenant_dir_name(tenant)));
    let mut options = crate::files::private_options();
    options.read(true).write(true).create(true).truncate(false);
    let mut file = options.open(&path).map_err(|e| OpsError::file(&path, e))?;
    match file.try_lock() {
        Ok(()) => {
            let _ = file.set_len(0);
            let _ = file.rewind();
            let _ = write!(file, "{}", std::process::id());
            let _ = file.sync_all();
            Ok(TenantLock { _file: file })
        }
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = holder.trim();
            Err(OpsError::Refused(format!(
                "another entra-failover{} is changing tenant {tenant}; wait for it to finish",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (PID {holder})")
                }
            )))
        }
        Err(TryLockError::Error(e)) => Err(OpsError::file(&path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_with_the_pid() {
        let home = tempfile::tempdir().unwrap();
        let first = acquire(home.path(), "t").unwrap();
        let err = acquire(home.path(), "t").unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(
            err.to_string()
                .contains(&format!("PID {}", std::process::id())),
            "{err}"
        );
        assert!(acquire(home.path(), "other").is_ok(), "per tenant");
        drop(first);
        // Free again. Not necessarily at once: a test running beside this one that starts a process
        // forks this one, and the child holds a copy of the lock's descriptor (and so the lock) until
        // it execs. Wait for it; only a lock that is never released reaches the deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            match acquire(home.path(), "t") {
                Ok(_) => break,
                Err(e) => assert!(std::time::Instant::now() < deadline, "never released: {e}"),
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}
