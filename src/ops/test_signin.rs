//! `test-signin`: where a user signs in (home realm) and, for a managed user, whether a password
//! sign-in works now — with every AADSTS code explained in failover terms. The password is never
//! stored or logged.

use secrecy::SecretString;
use serde::Serialize;

use super::{OpsError, Session};
use crate::auth::GRAPH_SCOPE;
use crate::login::{Namespace, explain};

#[derive(Debug, Serialize)]
pub struct Report {
    pub upn: String,
    pub realm: Namespace,
    pub sign_in_goes_to: Option<String>,
    /// `None` when no password test was made.
    pub password_test: Option<PasswordTest>,
    /// For a federated user: the farm's answer and how Entra ID would take it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub federated: Option<super::federated_login::FederatedLogin>,
}

#[derive(Debug, Serialize)]
pub struct PasswordTest {
    pub ok: bool,
    pub aadsts: Option<u32>,
    pub message: String,
    pub meaning: Option<String>,
}

pub fn check_upn(upn: &str) -> Result<(), OpsError> {
    let ok = upn.len() <= 256
        && upn.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !upn
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == '\\');
    if ok {
        Ok(())
    } else {
        Err(OpsError::Input(format!(
            "{upn:?} is not a user principal name (name@domain)"
        )))
    }
}

/// `farm`: test the password at this AD FS farm whatever home realm discovery says (before a
/// switch-back, when the domain is managed and Entra sends nobody to the farm).
pub async fn run(
    s: &Session,
    upn: &str,
    password: Option<&SecretString>,
    farm: Option<&str>,
) -> Result<Report, OpsError> {
    check_upn(upn)?;
    let realm = s.login.user_realm(upn).await?;
    let goes_to = match realm.namespace {
        Namespace::Federated => realm.auth_url.clone(),
        Namespace::Managed => Some(format!(
            "{} (Microsoft Entra ID, password hash)",
            s.login.base()
        )),
        Namespace::Unknown => None,
    };
    let password_test = match (password, &realm.namespace) {
        (Some(_), _) if farm.is_some() => None,
        (Some(pw), Namespace::Managed) => Some(
            match s
                .login
                .password(&s.tenant, &s.test_client_id, upn, pw, GRAPH_SCOPE)
                .await
            {
                Ok(_) => PasswordTest {
                    ok: true,
                    aadsts: None,
                    message: "signed in".into(),
                    meaning: None,
                },
                Err(e) => {
                    let code = e.aadsts_code();
                    PasswordTest {
                        ok: false,
                        aadsts: code,
                        meaning: code.and_then(explain).map(str::to_string),
                        message: match &e {
                            crate::login::LoginError::Aadsts { summary, .. } => summary.clone(),
                            other => other.to_string(),
                        },
                    }
                }
            },
        ),
        (Some(_), Namespace::Federated) => None,
        (Some(_), Namespace::Unknown) => Some(PasswordTest {
            ok: false,
            aadsts: None,
            message: "not tested: the domain is not a verified domain of any tenant".into(),
            meaning: None,
        }),
        (None, _) => None,
    };
    // A federated user's password is the farm's to check: as Entra ID asks it (WS-Trust).
    let federated = match (password, &realm.namespace) {
        (Some(pw), _) if farm.is_some() => {
            Some(super::federated_login::run(s, upn, pw, realm.auth_url.as_deref(), farm).await?)
        }
        (Some(pw), Namespace::Federated) => {
            Some(super::federated_login::run(s, upn, pw, realm.auth_url.as_deref(), None).await?)
        }
        _ => None,
    };
    let password_test = password_test.or_else(|| {
        federated.as_ref().map(|f| PasswordTest {
            ok: f.ok,
            aadsts: None,
            message: f.message.clone(),
            meaning: federated_meaning(f.verdict).map(str::to_string),
        })
    });
    let r = Report {
        upn: upn.to_string(),
        realm: realm.namespace,
        sign_in_goes_to: goes_to,
        password_test,
        federated,
    };
    // Kept as evidence for the change report (never the password: it is in no line here).
    let mut lines = vec![format!(
        "{upn}: {:?} sign-in{}",
        r.realm,
        r.sign_in_goes_to
            .as_deref()
            .map(|g| format!(", at {g}"))
            .unwrap_or_default()
    )];
    if let Some(t) = &r.password_test {
        lines.push(format!(
            "password test: {}{}{}",
            if t.ok { "OK — " } else { "FAILED — " },
            t.aadsts.map(|c| format!("AADSTS{c}: ")).unwrap_or_default(),
            t.message
        ));
    }
    let passed = r.password_test.as_ref().is_none_or(|t| t.ok);
    let e = super::evidence::Evidence::new("test-signin", upn, passed, lines);
    if let Err(err) = super::evidence::record(&s.home, &s.tenant, &e) {
        tracing::warn!("the sign-in test could not be recorded: {err}");
    }
    Ok(r)
}

/// What a federated login's outcome means for the runbook.
fn federated_meaning(v: super::federated_login::Verdict) -> Option<&'static str> {
    use super::federated_login::Verdict;
    match v {
        Verdict::SignedIn => None,
        Verdict::FarmDown => Some(
            "federated users cannot sign in while the farm is down: fail over to password hash sync, or bring the farm back",
        ),
        Verdict::PasswordRefused => Some(
            "the farm (its Active Directory) refused this password: check it, and whether the account is locked or disabled on premises",
        ),
        Verdict::EntraWouldReject => Some(
            "the farm works but the trust does not: fix what is named (reset-trust for certificates) before users rely on it",
        ),
        Verdict::FarmError => {
            Some("the farm answered, but not with a token: see its event log (AD FS/Admin)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_upns_are_refused() {
        for bad in [
            "",
            "nobody",
            "@x.com",
            "a@",
            "a@com",
            "a b@x.com",
            "a@x.com/..",
            "a@.x.com",
            "a\u{0}@x.com",
        ] {
            assert!(check_upn(bad).is_err(), "{bad:?}");
        }
        check_upn("adele.vance@contoso.com").unwrap();
    }
}
