//! Who is signed in, and whether they could sign in again with the farm down. An administrator on a
//! federated domain signs in through AD FS: the outage that brings them here locks them out once
//! their session ends (its refresh token keeps it going until then). Said in `status`, on the
//! wizard's Connect page and in every pre-flight, while there is still time to set up a cloud-only
//! emergency account.

use crate::auth::claims::TokenInfo;

use super::plan::{Check, Outcome};
use super::{OpsError, Session};

const NAME: &str = "your sign-in";

/// The check for the signed-in identity `me`, given the tenant's domains as `(id, federated)`.
pub fn check<'a>(me: &TokenInfo, domains: impl IntoIterator<Item = (&'a str, bool)>) -> Check {
    let Some(upn) = me.upn.as_deref().filter(|_| !me.is_app()) else {
        return Check::new(
            NAME,
            Outcome::Pass,
            format!(
                "signed in as {}: an application's sign-in does not go through AD FS",
                me.who()
            ),
        );
    };
    let suffix = upn
        .rsplit_once('@')
        .map(|(_, d)| d.to_ascii_lowercase())
        .unwrap_or_default();
    let domains: Vec<(String, bool)> = domains
        .into_iter()
        .map(|(id, federated)| (id.to_ascii_lowercase(), federated))
        .collect();
    // The UPN's domain, or the nearest parent the tenant has (a subdomain signs in as its root).
    let mut name = suffix.as_str();
    let found = loop {
        if let Some(d) = domains.iter().find(|(id, _)| id == name) {
            break Some(d);
        }
        match name.split_once('.') {
            Some((_, parent)) if parent.contains('.') => name = parent,
            _ => break None,
        }
    };
    match found {
        Some((domain, true)) => Check::new(
            NAME,
            Outcome::Warn,
            format!(
                "{upn} is on {domain}, a federated domain: this sign-in goes through AD FS. With the farm down no new sign-in works, and this session lasts only until its refresh token is refused. Before you need it, set up a cloud-only administrator on the tenant's *.onmicrosoft.com domain (an emergency access account) and sign in with that"
            ),
        ),
        Some((domain, false)) => Check::new(
            NAME,
            Outcome::Pass,
            format!("{domain} is managed, so it does not need AD FS"),
        ),
        None => Check::new(
            NAME,
            Outcome::Info,
            format!(
                "signed in as {upn}, whose domain {suffix} is not one of this tenant's (a guest): your sign-in follows your own organisation"
            ),
        ),
    }
}

/// The check where no domain list has been read: one read of the signed-in user's domain.
pub async fn check_by_reading(s: &Session, me: &TokenInfo) -> Result<Check, OpsError> {
    let Some(upn) = me.upn.as_deref().filter(|_| !me.is_app()) else {
        return Ok(check(me, []));
    };
    let suffix = upn.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let read: Result<crate::graph::models::Domain, _> = s
        .graph
        .get(&format!("/v1.0/domains/{}", crate::graph::encode(suffix)))
        .await;
    // Not found: the domain is not the tenant's (a guest). Any other failure is no answer at all,
    // and is said as such rather than taken for "not the tenant's".
    let domain = match read {
        Ok(d) => Some(d),
        Err(e) if e.is_not_found() => None,
        Err(e) => {
            return Ok(Check::new(
                NAME,
                Outcome::Info,
                format!("signed in as {upn}; whether {suffix} is federated cannot be told: {e}"),
            ));
        }
    };
    let seen = domain.map(|d| {
        let federated =
            d.authentication_type == Some(crate::graph::models::AuthenticationType::Federated);
        (d.id.unwrap_or_else(|| suffix.to_string()), federated)
    });
    Ok(check(
        me,
        seen.iter().map(|(id, federated)| (id.as_str(), *federated)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(upn: &str) -> TokenInfo {
        TokenInfo {
            upn: Some(upn.into()),
            idtyp: Some("user".into()),
            ..Default::default()
        }
    }

    #[test]
    fn a_federated_administrator_is_warned_with_the_way_out() {
        let domains = [("contoso.com", true), ("contoso.onmicrosoft.com", false)];
        let c = check(&user("it.admin@Contoso.com"), domains);
        assert_eq!(c.outcome, Outcome::Warn);
        assert!(c.detail.contains("onmicrosoft.com") && c.detail.contains("contoso.com"));
        // A subdomain signs in as its root.
        assert_eq!(
            check(&user("a@eu.contoso.com"), domains).outcome,
            Outcome::Warn
        );
        assert_eq!(
            check(&user("admin@contoso.onmicrosoft.com"), domains).outcome,
            Outcome::Pass
        );
        assert_eq!(
            check(&user("guest@fabrikam.com"), domains).outcome,
            Outcome::Info
        );
        let app = TokenInfo {
            idtyp: Some("app".into()),
            appid: "x".into(),
            ..Default::default()
        };
        assert_eq!(check(&app, domains).outcome, Outcome::Pass);
    }
}
