//! What password rules change when sign-in moves from AD FS (AD checks the password) to password hash
//! sync (Entra ID does): said in the failover pre-flight from the sync settings it already reads, so
//! it costs no request. Nothing here changes a flag: Microsoft's documentation has described these
//! feature flags as one-way, so turning one on is the administrator's own decision.

use crate::graph::models::OnPremisesDirectorySynchronizationFeature;

use super::plan::{Check, Outcome};

/// The lines for `features` (the tenant's `onPremisesSynchronization` features; `None`: not read).
pub fn checks(features: Option<&OnPremisesDirectorySynchronizationFeature>) -> Vec<Check> {
    let flag =
        |f: fn(&OnPremisesDirectorySynchronizationFeature) -> Option<bool>| features.and_then(f);
    let mut out = vec![];
    out.push(
        match flag(|f| f.cloud_password_policy_for_password_synced_users_enabled) {
            Some(true) => Check::new(
                "password expiry",
                Outcome::Info,
                "Entra ID's password policy applies to synchronized users (cloudPasswordPolicyForPasswordSyncedUsersEnabled is on), but for each user only from their next on-premises password change: until then an expired on-premises password still signs in to the cloud",
            ),
            state => Check::new(
                "password expiry",
                Outcome::Warn,
                format!(
                    "expired on-premises passwords keep working in the cloud: synchronized users carry DisablePasswordExpiration while cloudPasswordPolicyForPasswordSyncedUsersEnabled is off ({}). Turned on, it applies to each user from their next password change; Microsoft's documentation has described the flag as one-way, so entra-failover leaves it to you",
                    said(state)
                ),
            ),
        },
    );
    out.push(
        match flag(|f| f.user_force_password_change_on_logon_enabled) {
            Some(true) => Check::new(
                "change at next logon",
                Outcome::Pass,
                "users told to change their password at next logon keep a usable password in the cloud and are asked to change it there (userForcePasswordChangeOnLogonEnabled is on)",
            ),
            state => Check::new(
                "change at next logon",
                Outcome::Warn,
                format!(
                    "users told to change their password at next logon cannot sign in to the cloud with the temporary one: it is not synchronized while userForcePasswordChangeOnLogonEnabled is off ({}). Turning it on needs self-service password reset and password writeback, and is described as one-way",
                    said(state)
                ),
            ),
        },
    );
    out.push(Check::new(
        "expiry and lockout",
        Outcome::Info,
        "AD account expiry and AD lockout no longer decide cloud sign-in; Entra ID's smart lockout does (10 failures and 60 seconds by default): `entra-failover readiness` reads this tenant's values",
    ));
    out
}

fn said(state: Option<bool>) -> &'static str {
    match state {
        Some(false) => "off here",
        _ => "Graph did not say; taken as off",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_flag_decides_its_line_and_an_unread_one_is_taken_as_off() {
        let off = OnPremisesDirectorySynchronizationFeature {
            cloud_password_policy_for_password_synced_users_enabled: Some(false),
            user_force_password_change_on_logon_enabled: Some(false),
            ..Default::default()
        };
        let c = checks(Some(&off));
        assert_eq!(
            c.iter().map(|c| c.outcome).collect::<Vec<_>>(),
            [Outcome::Warn, Outcome::Warn, Outcome::Info]
        );
        assert!(c[0].detail.contains("off here") && c[0].detail.contains("one-way"));
        let on = OnPremisesDirectorySynchronizationFeature {
            cloud_password_policy_for_password_synced_users_enabled: Some(true),
            user_force_password_change_on_logon_enabled: Some(true),
            ..Default::default()
        };
        let c = checks(Some(&on));
        assert_eq!(
            c.iter().map(|c| c.outcome).collect::<Vec<_>>(),
            [Outcome::Info, Outcome::Pass, Outcome::Info]
        );
        assert!(checks(None)[1].detail.contains("taken as off"));
    }
}
