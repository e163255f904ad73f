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

pub async fn run(
    s: &Session,
    upn: &str,
    password: Option<&SecretString>,
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
        (Some(pw), Namespace::Managed) => Some(match s.login.password(&s.tenant, &s.test_client_id, upn, pw, GRAPH_SCOPE).await {
            Ok(_) => PasswordTest { ok: true, aadsts: None, message: "signed in".into(), meaning: None },
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
        }),
        (Some(_), Namespace::Federated) => Some(PasswordTest {
            ok: false,
            aadsts: None,
            message: "not tested: a federated user's password is checked by AD FS, not by Microsoft Entra ID".into(),
            meaning: Some("the domain is still federated; after a failover, wait until user realm says Managed".into()),
        }),
        (Some(_), Namespace::Unknown) => Some(PasswordTest {
            ok: false,
            aadsts: None,
            message: "not tested: the domain is not a verified domain of any tenant".into(),
            meaning: None,
        }),
        (None, _) => None,
    };
    Ok(Report {
        upn: upn.to_string(),
        realm: realm.namespace,
        sign_in_goes_to: goes_to,
        password_test,
    })
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
