//! Seamless single sign-on in the rehearsal tenant: each AD forest has it or not (the Connect
//! server's `AzureADSSO` module shows and changes it; Graph has nothing for it). The control that
//! "runs the script" does what `enable-seamless-sso.ps1` does there; the morning after asks
//! `by_single_sign_on` whether a user's browser signs in with the computer's Kerberos ticket.

use std::time::Duration;

use serde_json::{Value, json};

use super::state::Tenant;
use crate::graph::models::AuthenticationType;

/// Microsoft asks for a rollover of the `AZUREADSSOACC` key at least every 30 days.
const KEY_ROLLOVER_DAYS: i64 = 30;

/// The script, run on the Connect server (simulated): the state of every forest, recorded as the
/// script records it; without `status_only`, Seamless SSO enabled for each forest that lacks it
/// (a forest that has it is left as it is). Answers what it found and what it changed.
pub(crate) fn run_script(t: &mut Tenant, status_only: bool, now: i64) -> Value {
    let before: Vec<Value> = t.sync.seamless_sso.iter().map(|f| state(f, now)).collect();
    let mut changed = vec![];
    if !status_only {
        for f in t.sync.seamless_sso.iter_mut().filter(|f| !f.enabled) {
            f.enabled = true;
            f.key_set_at = Some(now);
            changed.push(f.forest.clone());
        }
    }
    let after: Vec<Value> = t.sync.seamless_sso.iter().map(|f| state(f, now)).collect();
    let connect = t.sync.engines.connect.as_ref();
    json!({
        "server": connect.map(|c| c.server.clone()),
        // A Cloud Sync-only tenant runs it where the Connect package is installed for the module.
        "cloud_sync_only": connect.is_none(),
        "status_only": status_only,
        "before": before,
        "changed": changed,
        "after": after,
        "intranet_zone": crate::connect::sso_script::AUTOLOGON_URL,
    })
}

fn state(f: &super::state::SsoForestRec, now: i64) -> Value {
    let age = f.key_set_at.map(|at| (now - at).max(0) / 86_400);
    json!({
        "forest": f.forest,
        "enabled": f.enabled,
        "key_age_days": age,
        "key_rollover_due": age.is_some_and(|a| a > KEY_ROLLOVER_DAYS),
    })
}

/// Whether `upn` signs in by Seamless SSO on a domain-joined machine at `now`: their forest (their
/// domain's root) has it, and sign-in for that domain is managed (Seamless SSO works with password
/// hash sync, never with AD FS).
pub(crate) fn by_single_sign_on(t: &Tenant, upn: &str, now: i64, delay: Duration) -> bool {
    let Some(idx) = t.domain_of_upn(upn) else {
        return false;
    };
    let root = t.root_of(idx);
    let forest = t.domains[root].id();
    t.sync
        .seamless_sso
        .iter()
        .any(|f| f.enabled && f.forest.eq_ignore_ascii_case(forest))
        && t.realm(idx, now, delay).auth == AuthenticationType::Managed
}
