//! The morning after a cutover (a rehearsal control): users of a domain sign in, some fail, and the
//! sign-in log records it as Entra would.

use super::common::{check_password, signin_record};
use crate::emulator::Shared;
use crate::emulator::state::{Tenant, UserRec};

/// The office app the simulated morning's users open.
const OFFICE_HOME: (&str, &str) = ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome");

/// Whether an enabled Conditional Access policy requires MFA of this user for every app.
fn mfa_policy_for(t: &Tenant, user: &UserRec) -> Option<(String, String)> {
    t.ca_policies.iter().find_map(|p| {
        let list = crate::graph::models::string_list;
        let users = &p["conditions"]["users"];
        let included = list(&users["includeUsers"])
            .iter()
            .any(|u| u == "All" || u == &user.id)
            || list(&users["includeGroups"]).iter().any(|g| {
                t.groups
                    .iter()
                    .any(|x| &x.id == g && x.members.iter().any(|m| m == &user.id))
            });
        let excluded = list(&users["excludeUsers"]).iter().any(|u| u == &user.id);
        let mfa = list(&p["grantControls"]["builtInControls"])
            .iter()
            .any(|c| c == "mfa");
        (p["state"] == "enabled" && mfa && included && !excluded).then(|| {
            (
                p["id"].as_str().unwrap_or_default().to_string(),
                p["displayName"].as_str().unwrap_or_default().to_string(),
            )
        })
    })
}

/// `status.additionalDetails` of a sign-in by Seamless SSO, and of one with a typed password.
pub(crate) const BY_SSO: &str = "Seamless single sign-on: signed in with the domain-joined computer's Kerberos ticket; no password typed";
pub(crate) const BY_PASSWORD: &str =
    "Password typed: no single sign-on from this computer's forest";

/// "The morning after": `users` users of `domain` (by UPN order) open Office in a browser on their
/// domain-joined computers. Where their forest has Seamless SSO and the domain is managed, they sign
/// in by single sign-on, typing nothing; the others type a password: the last `unsynced` before their
/// hash has arrived, the `wrong_password` before them a wrong one, the rest theirs. Each attempt goes
/// through the tenant's real checks and Conditional Access (MFA is completed where a policy asks for
/// it), and is logged with how the user signed in (`status.additionalDetails`).
pub(crate) fn simulate_morning(
    sh: &Shared,
    t: &mut Tenant,
    domain: &str,
    users: usize,
    wrong_password: usize,
    unsynced: usize,
) -> Result<serde_json::Value, String> {
    let suffix = format!("@{}", domain.to_ascii_lowercase());
    let mut chosen: Vec<String> = t
        .users
        .iter()
        .filter(|u| u.synced && u.enabled && u.upn.to_ascii_lowercase().ends_with(&suffix))
        .map(|u| u.upn.clone())
        .collect();
    chosen.sort();
    if chosen.len() < users {
        return Err(format!(
            "{domain} has {} synchronized users; {users} were asked for",
            chosen.len()
        ));
    }
    if wrong_password + unsynced > users {
        return Err("wrong_password and unsynced together cannot exceed users".into());
    }
    chosen.truncate(users);
    let right_from = users - unsynced - wrong_password;
    let unsynced_from = users - unsynced;
    for upn in &chosen[unsynced_from..] {
        if let Some(u) = t.users.iter_mut().find(|u| &u.upn == upn) {
            u.has_hash = false;
        }
    }
    let now = t.now().unix_timestamp();
    let right = t.user_password().to_string();
    let mut records = vec![];
    let mut by_code: std::collections::BTreeMap<i32, usize> = Default::default();
    let mut by_sso = 0;
    for (i, upn) in chosen.iter().enumerate() {
        let wrong = i >= right_from && i < unsynced_from;
        let password = if wrong {
            "not-their-password"
        } else {
            right.as_str()
        };
        // Logged over the last seconds, oldest first; checked against the tenant as it is now.
        let at = now - (users - i) as i64;
        let mut rec = signin_record(t, upn, OFFICE_HOME.0, 0, None, at);
        rec.app_name = OFFICE_HOME.1.into();
        rec.client_app = "Browser".into();
        let sso = crate::emulator::seamless_sso::by_single_sign_on(t, upn, now, sh.delay);
        rec.additional_details = Some(if sso { BY_SSO } else { BY_PASSWORD }.into());
        let signed_in = if sso {
            // Kerberos proves who they are: no password, no hash needed; a disabled account still
            // cannot sign in.
            match t.users.iter().find(|u| &u.upn == upn) {
                Some(u) if u.enabled => Ok(u.clone()),
                _ => check_password(sh, t, upn, password, now),
            }
        } else {
            check_password(sh, t, upn, password, now)
        };
        if sso {
            by_sso += 1;
        }
        match signed_in {
            Ok(user) => {
                if let Some((id, name)) = mfa_policy_for(t, &user) {
                    rec.ca_status = "success".into();
                    rec.ca_applied = vec![serde_json::json!({
                        "id": id, "displayName": name, "enforcedGrantControls": ["Mfa"],
                        "enforcedSessionControls": [], "result": "success"
                    })];
                }
            }
            Err(r) => {
                rec.error_code = r.code as i32;
                rec.failure_reason = Some(r.message);
            }
        }
        *by_code.entry(rec.error_code).or_default() += 1;
        records.push(rec);
    }
    t.add_signins(records);
    Ok(serde_json::json!({
        "domain": domain,
        "attempts": users,
        "single_sign_on": by_sso,
        "typed_password": users - by_sso,
        "by_error_code": by_code.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
    }))
}
