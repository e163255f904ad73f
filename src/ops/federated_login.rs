//! Verify federated login: a federated user's password checked at the farm the way Microsoft Entra
//! ID checks it (WS-Trust 2005 `usernamemixed`, found through home realm discovery), and the token
//! the farm issues held against what Entra ID trusts for the domain: the issuer, the token-signing
//! certificate and the user's ImmutableID. The check to make before a switch-back. The password is
//! sent to the farm only, never stored or logged.

use secrecy::SecretString;
use serde::Serialize;
use url::Url;

use super::status::federation;
use super::{OpsError, Session};
use crate::adfs::metadata::CertificateInfo;
use crate::adfs::wstrust::{self, Answer, RELYING_PARTY};
use crate::graph::encode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The farm signed the user in and Entra ID would take the token.
    SignedIn,
    /// The farm cannot be reached.
    FarmDown,
    /// The farm refused the user name or password.
    PasswordRefused,
    /// The farm issued a token that Entra ID would refuse (each reason in `problems`).
    EntraWouldReject,
    /// The farm answered something else: a fault other than a refused password, or no token.
    FarmError,
}

#[derive(Clone, Debug, Serialize)]
pub struct FederatedLogin {
    pub ok: bool,
    pub verdict: Verdict,
    /// The farm's host (`sts.contoso.com`).
    pub farm: Option<String>,
    pub endpoint: Option<String>,
    pub issuer: Option<String>,
    pub immutable_id: Option<String>,
    pub signing_certificate_sha1: Option<String>,
    /// What the token was held against: the domain's settings in Entra ID, or its backup's.
    pub against: Option<String>,
    /// Why Entra ID would refuse the token, each with the AADSTS code it answers.
    pub problems: Vec<String>,
    pub message: String,
}

impl FederatedLogin {
    fn failed(verdict: Verdict, farm: Option<String>, endpoint: &Url, message: String) -> Self {
        FederatedLogin {
            ok: false,
            verdict,
            farm,
            endpoint: Some(endpoint.to_string()),
            issuer: None,
            immutable_id: None,
            signing_certificate_sha1: None,
            against: None,
            problems: vec![],
            message,
        }
    }
}

/// The usernamemixed endpoint: the farm named, else home realm discovery's active URL, else the
/// passive URL's farm.
async fn endpoint(
    s: &Session,
    upn: &str,
    passive: Option<&str>,
    farm: Option<&str>,
) -> Result<Url, OpsError> {
    if let Some(service) = farm {
        let host = service.trim().trim_end_matches('/').to_ascii_lowercase();
        let host = host.strip_prefix("https://").unwrap_or(&host).to_string();
        if host.is_empty() || host.contains(['/', ' ', '@']) {
            return Err(OpsError::Input(format!(
                "--farm {service:?}: give the federation service name, e.g. sts.contoso.com"
            )));
        }
        return Url::parse(&format!(
            "https://{host}/adfs/services/trust/2005/usernamemixed"
        ))
        .map_err(|e| OpsError::Input(format!("--farm {service:?}: {e}")));
    }
    let active = s.login.active_auth_url(upn).await?;
    let from_passive = passive
        .and_then(|p| Url::parse(p).ok())
        .and_then(|u| u.host_str().map(str::to_string))
        .map(|h| format!("https://{h}/adfs/services/trust/2005/usernamemixed"));
    let chosen = active.or(from_passive).ok_or_else(|| {
        OpsError::Input(format!(
            "home realm discovery names no AD FS endpoint for {upn}: is the domain federated?"
        ))
    })?;
    let url = Url::parse(&chosen)
        .map_err(|e| OpsError::Input(format!("the farm's endpoint {chosen:?}: {e}")))?;
    if url.scheme() != "https" {
        return Err(OpsError::Input(format!(
            "the farm's endpoint {url} is not https: a password is never sent in the clear"
        )));
    }
    Ok(url)
}

/// The federation settings a token is held against: Entra ID's for the UPN's domain (or its
/// nearest parent's); for a domain that is managed now, those its newest backup would restore
/// (what Entra ID will hold after a switch-back). The label says which.
async fn entra_settings(
    s: &Session,
    upn: &str,
) -> Result<Option<(String, crate::graph::models::InternalDomainFederation)>, OpsError> {
    let first = upn
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or(upn)
        .to_string();
    let mut domain = first.clone();
    loop {
        if let Some((f, _)) = federation(s, &domain).await? {
            return Ok(Some((domain, f)));
        }
        match domain.split_once('.') {
            Some((_, parent)) if parent.contains('.') => domain = parent.to_string(),
            _ => break,
        }
    }
    let mut domain = first;
    loop {
        if let Some((path, b)) = super::backup::latest(&s.home, &s.tenant, &domain)?
            && let Ok(f) = serde_json::from_value(b.restorable_settings())
        {
            return Ok(Some((
                format!("{domain} once switched back from {}", path.display()),
                f,
            )));
        }
        match domain.split_once('.') {
            Some((_, parent)) if parent.contains('.') => domain = parent.to_string(),
            _ => return Ok(None),
        }
    }
}

fn sha1_of(b64: &str) -> Option<String> {
    CertificateInfo::from_base64(b64)
        .ok()
        .map(|c| c.sha1_thumbprint)
}

pub async fn run(
    s: &Session,
    upn: &str,
    password: &SecretString,
    passive: Option<&str>,
    farm: Option<&str>,
) -> Result<FederatedLogin, OpsError> {
    let url = endpoint(s, upn, passive, farm).await?;
    let farm = url.host_str().map(str::to_ascii_lowercase);
    let sent = wstrust::send(&s.http, &url, s.farms.locate(&url), upn, password).await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            return Ok(FederatedLogin::failed(
                Verdict::FarmDown,
                farm.clone(),
                &url,
                format!(
                    "the farm {} cannot be reached: {}",
                    farm.as_deref().unwrap_or("?"),
                    crate::graph::client::error_chain(&e)
                ),
            ));
        }
    };
    let status = resp.status().as_u16();
    let mut resp = resp;
    let text = match super::farm::read_bounded(&mut resp, wstrust::MAX_RESPONSE_BYTES).await {
        Ok(t) => t,
        Err(e) => {
            // Cut off midway, the farm is as good as down; otherwise it answered, but not a token.
            let verdict = match e {
                super::farm::Bounded::Broken(_) => Verdict::FarmDown,
                _ => Verdict::FarmError,
            };
            return Ok(FederatedLogin::failed(
                verdict,
                farm,
                &url,
                format!("the farm's answer {e}"),
            ));
        }
    };
    let answer = match wstrust::parse_response(&text) {
        Ok(a) => a,
        Err(e) => {
            return Ok(FederatedLogin::failed(
                Verdict::FarmError,
                farm,
                &url,
                format!("HTTP {status}: {e}"),
            ));
        }
    };
    let token = match answer {
        Answer::Fault { code, reason } => {
            let refused = code.ends_with("FailedAuthentication") || reason.starts_with("ID3242");
            let (verdict, message) = if refused {
                (
                    Verdict::PasswordRefused,
                    format!("the farm refused the user name or password ({reason})"),
                )
            } else if reason.starts_with("MSIS7007") {
                (
                    Verdict::FarmError,
                    format!(
                        "the farm has no relying party trust for Microsoft 365 ({reason}): `reset-trust --adfs-script` writes the script that re-creates it"
                    ),
                )
            } else {
                (
                    Verdict::FarmError,
                    format!("the farm answered a fault: {code} {reason}"),
                )
            };
            return Ok(FederatedLogin::failed(verdict, farm, &url, message));
        }
        Answer::Token(a) => a,
    };
    let mut problems = vec![];
    let mut against = None;
    let cert_sha1 = token.signing_certificate.as_deref().and_then(sha1_of);
    match entra_settings(s, upn).await? {
        None => problems.push(
            "Entra ID holds no federation settings for this user's domain and no backup has any: Entra would not ask the farm at all".to_string(),
        ),
        Some((domain, f)) => {
            against = Some(domain.clone());
            let want = f.issuer_uri.clone().unwrap_or_default();
            if token.issuer != want {
                problems.push(format!(
                    "the token's issuer is {} but Entra ID expects {want} for {domain}: Entra answers AADSTS50107 (no federation realm for that issuer); fix the farm's issuer claim rule or switch back with the right --issuer",
                    token.issuer
                ));
            }
            let trusted: Vec<String> = [&f.signing_certificate, &f.next_signing_certificate]
                .into_iter()
                .flatten()
                .filter_map(|c| sha1_of(c))
                .collect();
            match &cert_sha1 {
                None => problems.push(
                    "the token carries no signing certificate: Entra cannot check its signature (AADSTS50008)".into(),
                ),
                Some(got) if !trusted.contains(got) => problems.push(format!(
                    "the farm signs with certificate {got}, which Entra ID does not hold for {domain} (it holds {}): Entra answers AADSTS50008 (the token's signature cannot be verified); run reset-trust to take the farm's certificates",
                    if trusted.is_empty() { "none".to_string() } else { trusted.join(", ") }
                )),
                Some(_) => {}
            }
        }
    }
    if token.audience.as_deref() != Some(RELYING_PARTY) {
        problems.push(format!(
            "the token is for {}, not Microsoft 365 ({RELYING_PARTY})",
            token.audience.as_deref().unwrap_or("no audience")
        ));
    }
    let user: Result<serde_json::Value, _> = s
        .graph
        .get(&format!(
            "/v1.0/users/{}?$select=userPrincipalName,onPremisesImmutableId",
            encode(upn)
        ))
        .await;
    match user {
        Ok(u) => {
            let want = u["onPremisesImmutableId"].as_str().unwrap_or_default();
            if token.name_identifier.as_deref() != Some(want) {
                problems.push(format!(
                    "the token names ImmutableID {} but Entra ID's {upn} has {}: Entra answers AADSTS51004 (no such user); check the farm's ImmutableID claim rule (objectGUID or ms-DS-ConsistencyGuid)",
                    token.name_identifier.as_deref().unwrap_or("none"),
                    if want.is_empty() { "none" } else { want }
                ));
            }
        }
        Err(e) if e.is_not_found() => problems.push(format!(
            "Entra ID has no user {upn}: Entra answers AADSTS51004"
        )),
        Err(e) => return Err(e.into()),
    }
    let farm_name = farm.clone().unwrap_or_default();
    let ok = problems.is_empty();
    let message = if ok {
        format!(
            "the farm {farm_name} signed {upn} in, and Entra ID would take its token ({}): issuer {}, ImmutableID {}, signed with certificate {}",
            against.as_deref().unwrap_or("?"),
            token.issuer,
            token.name_identifier.as_deref().unwrap_or("?"),
            cert_sha1.as_deref().unwrap_or("?")
        )
    } else {
        format!(
            "the farm {farm_name} signed {upn} in, but Entra ID would refuse its token: {}",
            problems.join("; ")
        )
    };
    Ok(FederatedLogin {
        ok,
        verdict: if ok {
            Verdict::SignedIn
        } else {
            Verdict::EntraWouldReject
        },
        farm,
        endpoint: Some(url.to_string()),
        issuer: Some(token.issuer),
        immutable_id: token.name_identifier,
        signing_certificate_sha1: cert_sha1,
        against,
        problems,
        message,
    })
}
