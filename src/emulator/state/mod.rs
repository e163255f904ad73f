//! The rehearsal tenant's data and the rules that change it: domains and their federation settings,
//! the directory sync engine, users and their password hashes, AD FS farms, and the emulated clock.
//!
//! Everything here is plain data behind one lock; the HTTP surfaces translate requests into calls on
//! [`Tenant`] and never keep state of their own that must survive a restart. `records.rs` holds the
//! records and their rules, `store.rs` keeps them on disk, `build.rs` makes them from a scenario.

mod build;
mod records;
mod store;

use std::path::Path;

use crate::emulator::EmulatorError;
use crate::emulator::scenario;
use crate::files;

pub use build::federation_for;
pub use records::*;
pub use store::Store;

/// Opens the tenant in `dir`: the saved one, or a fresh one from the scenario.
pub fn open(
    dir: &Path,
    fresh: bool,
    scenario: Option<&Path>,
) -> Result<(Store, Tenant), EmulatorError> {
    files::private_dir(dir).map_err(|e| EmulatorError::io(dir, e))?;
    let st = Store {
        dir: dir.to_path_buf(),
    };
    if !fresh && let Some(t) = st.load_to_write()? {
        return Ok((st, t));
    }
    let resolved = scenario::Scenario::load(scenario)?;
    let t = Tenant::from_scenario(&resolved)?;
    st.save(&t)?;
    Ok((st, t))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::graph::models::AuthenticationType;

    fn tenant() -> Tenant {
        Tenant::from_scenario(&scenario::Scenario::load(None).unwrap()).unwrap()
    }

    /// Every domain of one farm points at one copy of its certificate, when built and when loaded.
    #[test]
    fn domains_of_a_farm_share_one_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.toml");
        std::fs::write(&file, "[generate]\nfederated_domains = 50\n").unwrap();
        let s = scenario::Scenario::load(Some(&file)).unwrap();
        let shared = |t: &Tenant| {
            let certs: Vec<&std::sync::Arc<str>> = t
                .domains
                .iter()
                .filter_map(|d| d.federation.as_ref()?.signing_certificate.as_ref())
                .collect();
            let copies: std::collections::HashSet<*const u8> =
                certs.iter().map(|c| c.as_ptr()).collect();
            let texts: std::collections::HashSet<&str> = certs.iter().map(|c| &***c).collect();
            (certs.len(), copies.len(), texts.len())
        };
        let t = Tenant::from_scenario(&s).unwrap();
        let (n, copies, texts) = shared(&t);
        assert!(n > 50, "{n} federated domains");
        assert_eq!(copies, texts, "one copy per certificate when built");
        let st = Store {
            dir: dir.path().to_path_buf(),
        };
        st.save(&t).unwrap();
        let back = st.load().unwrap().unwrap();
        let (n2, copies, texts) = shared(&back);
        assert_eq!(n2, n);
        assert_eq!(copies, texts, "one copy per certificate when loaded");
    }

    #[test]
    fn changes_go_to_the_log_and_come_back_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let st = Store {
            dir: dir.path().to_path_buf(),
        };
        let mut t = tenant();
        st.save(&t).unwrap();
        let snapshot = std::fs::read(st.file()).unwrap();
        let i = t.domain_index("contoso.com").unwrap();
        t.domains[i].federation = None;
        t.domains[i].domain.authentication_type = Some(AuthenticationType::Managed);
        st.save_change(&mut t, &Change::Domains(vec!["contoso.com".into()]))
            .unwrap();
        t.sync.features.password_sync_enabled = Some(true);
        st.save_change(&mut t, &Change::Sync).unwrap();
        // The snapshot was not rewritten; the log holds two lines.
        assert_eq!(std::fs::read(st.file()).unwrap(), snapshot);
        let log = std::fs::read_to_string(st.wal()).unwrap();
        assert_eq!(log.lines().count(), 2);
        let back = st.load().unwrap().unwrap();
        assert_eq!(back.domains[i].federation, None);
        assert_eq!(back.sync.features.password_sync_enabled, Some(true));
        assert_eq!(back.wal_seq, 2);
        // A torn last line (a kill mid-append) is cut off; the lines before it stay.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(st.wal())
            .unwrap();
        std::io::Write::write_all(&mut f, b"{\"epoch\":\"").unwrap();
        // The killed writer is gone (Windows keeps a file open elsewhere from being removed).
        drop(f);
        // A reader skips it and leaves it; the folder's owner cuts it off.
        let back = st.load().unwrap().unwrap();
        assert_eq!(back.wal_seq, 2);
        assert_ne!(std::fs::read_to_string(st.wal()).unwrap(), log);
        let back = st.load_to_write().unwrap().unwrap();
        assert_eq!(back.wal_seq, 2);
        assert_eq!(std::fs::read_to_string(st.wal()).unwrap(), log);
        // A damaged line in the middle is refused, not skipped.
        std::fs::write(st.wal(), format!("garbage\n{log}")).unwrap();
        assert!(st.load().unwrap_err().to_string().contains("--fresh"));
        std::fs::write(st.wal(), &log).unwrap();
        // A whole save holds the logged changes and ends the log.
        st.save_change(&mut t, &Change::All).unwrap();
        assert!(!st.wal().exists());
        let back = st.load().unwrap().unwrap();
        assert_eq!(back.domains[i].federation, None);
        // A log left from another snapshot (a kill between the two steps of a fresh start) is ignored.
        std::fs::write(st.wal(), &log).unwrap();
        let mut fresh = tenant();
        st.save(&fresh).unwrap();
        std::fs::write(st.wal(), &log).unwrap();
        let back = st.load().unwrap().unwrap();
        assert!(back.domains[i].federation.is_some());
        // The log is folded into a new snapshot once it is as long as the tenant has domains (256 at least).
        for _ in 0..300 {
            st.save_change(&mut fresh, &Change::Sync).unwrap();
        }
        let lines = std::fs::read_to_string(st.wal()).unwrap().lines().count();
        assert!(lines < 256, "{lines}");
        assert_eq!(st.load().unwrap().unwrap().wal_seq, fresh.wal_seq);
    }

    #[test]
    fn scenario_tenant_has_federated_and_managed_domains() {
        let t = tenant();
        let fed: Vec<&str> = t
            .domains
            .iter()
            .filter(|d| d.federation.is_some())
            .map(|d| d.id())
            .collect();
        assert_eq!(fed, ["contoso.com", "fabrikam.com"]);
        let eu = t.domain_index("EU.contoso.com").unwrap();
        assert_eq!(
            t.domain_view(eu).authentication_type,
            Some(AuthenticationType::Federated)
        );
        assert_eq!(t.domain_view(eu).is_root, Some(false));
        assert_eq!(t.users.iter().filter(|u| u.synced).count(), 200);
        assert!(t.users.iter().all(|u| !u.synced || !u.has_hash));
    }

    #[test]
    fn sync_cycle_gives_hashes_only_when_the_engine_sends_them() {
        let mut t = tenant();
        let now = t.now().unix_timestamp();
        assert!(t.tick(now + 3600));
        assert!(t.users.iter().filter(|u| u.synced).all(|u| !u.has_hash));
        // The flag alone: cycles run, no hash arrives (the Connect server's password sync is off).
        t.sync.features.password_sync_enabled = Some(true);
        assert!(!t.tick(now + 3600));
        assert!(t.tick(now + 3600 + 120));
        assert!(t.users.iter().filter(|u| u.synced).all(|u| !u.has_hash));
        assert_eq!(t.sync.last_password_sync, None);
        // The server's password sync on (the script ran): the next cycle brings them.
        t.sync.engines.connect.as_mut().unwrap().password_sync = true;
        assert!(t.tick(now + 3600 + 240));
        assert!(t.users.iter().filter(|u| u.synced).all(|u| u.has_hash));
        assert_eq!(t.sync.last_password_sync, Some(t.sync.last_cycle));
    }

    #[test]
    fn realm_lags_by_the_propagation_delay() {
        let mut t = tenant();
        let idx = t.domain_index("contoso.com").unwrap();
        let before = t.snapshot(idx);
        t.domains[idx].federation = None;
        t.domains[idx].domain.authentication_type = Some(AuthenticationType::Managed);
        let delay = Duration::from_secs(300);
        t.mark_changed(idx, before, 1_000, delay);
        assert_eq!(
            t.realm(idx, 1_100, delay).auth,
            AuthenticationType::Federated
        );
        assert_eq!(t.realm(idx, 1_300, delay).auth, AuthenticationType::Managed);
        let eu = t.domain_index("eu.contoso.com").unwrap();
        assert_eq!(
            t.realm(eu, 1_100, delay).auth,
            AuthenticationType::Federated
        );
    }

    /// A real moment: certificates start a minute before it, and Windows refuses times before 1970.
    const NOW: i64 = 1_780_000_000;

    #[test]
    fn rollover_then_promote_swaps_the_signing_certificate() {
        let mut t = tenant();
        let old = t.farms["sts.contoso.com"].signing.clone();
        t.farm_action("sts.contoso.com", FarmAction::Rollover, NOW)
            .unwrap();
        let next = t.farms["sts.contoso.com"].secondary.clone().unwrap();
        t.farm_action("sts.contoso.com", FarmAction::Promote, NOW)
            .unwrap();
        assert_eq!(t.farms["sts.contoso.com"].signing, next);
        assert_ne!(next, old);
        assert!(
            t.farm_action("sts.contoso.com", FarmAction::Promote, NOW)
                .is_err()
        );
        assert!(t.farm_action("nope", FarmAction::Up, 0).is_err());
    }
}
