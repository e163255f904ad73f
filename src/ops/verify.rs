//! `verify`: Verify federation connectivity, as the Entra Connect wizard does, and more: the farm's
//! name resolves, its metadata answers over HTTPS, Entra's signing certificate is the farm's, the
//! certificate is not about to expire, user realm agrees, the sign-in endpoint answers.

use serde::Serialize;

use super::farm::{fetch_metadata, metadata_url_for};
use super::plan::{Check, Outcome};
use super::status::federation;
use super::{OpsError, Session};
use crate::adfs::metadata::CertificateInfo;
use crate::login::Namespace;

#[derive(Debug, Serialize)]
pub struct Report {
    pub domain: String,
    pub checks: Vec<Check>,
    pub passed: bool,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "Verify federation connectivity — {}", self.domain)?;
        for c in &self.checks {
            writeln!(f, "  {c}")?;
        }
        write!(
            f,
            "{}",
            if self.passed {
                "All checks passed."
            } else {
                "Some checks failed."
            }
        )
    }
}

/// Verifies, and keeps the result as evidence for the change report.
pub async fn run(s: &Session, domain: &str) -> Result<Report, OpsError> {
    let r = checks(s, domain).await?;
    let e = super::evidence::Evidence::new(
        "verify",
        domain,
        r.passed,
        r.checks.iter().map(|c| c.to_string()).collect(),
    );
    if let Err(err) = super::evidence::record(&s.home, &s.tenant, &e) {
        tracing::warn!("the verification could not be recorded: {err}");
    }
    Ok(r)
}

async fn checks(s: &Session, domain: &str) -> Result<Report, OpsError> {
    let mut checks = vec![];
    let mut add = |name: &str, outcome: Outcome, detail: String| {
        checks.push(Check::new(name, outcome, detail))
    };
    let Some((fed, _)) = federation(s, domain).await? else {
        add(
            "federation settings",
            Outcome::Fail,
            format!("{domain} has no federation settings in Microsoft Entra ID: it is managed"),
        );
        return Ok(Report {
            domain: domain.into(),
            passed: false,
            checks,
        });
    };
    add(
        "federation settings",
        Outcome::Pass,
        format!("issuer {}", fed.issuer_uri.clone().unwrap_or_default()),
    );
    let passive = fed.passive_sign_in_uri.clone().unwrap_or_default();
    let Some(meta_url) = metadata_url_for(&passive) else {
        add(
            "AD FS farm",
            Outcome::Fail,
            format!("the passive sign-in URL {passive:?} names no host"),
        );
        return Ok(Report {
            domain: domain.into(),
            passed: false,
            checks,
        });
    };
    let host = meta_url.host_str().unwrap_or_default().to_string();
    if s.farms.is_simulated(&host) {
        add(
            "DNS",
            Outcome::Pass,
            format!("{host} is the rehearsal farm (simulated; no DNS lookup)"),
        );
    } else {
        match tokio::net::lookup_host((host.as_str(), 443)).await {
            Ok(addrs) => {
                let list: Vec<String> = addrs.map(|a| a.ip().to_string()).collect();
                add(
                    "DNS",
                    Outcome::Pass,
                    format!("{host} resolves to {}", list.join(", ")),
                );
            }
            Err(e) => add(
                "DNS",
                Outcome::Fail,
                format!("{host} does not resolve: {e} (add its A and AAAA records)"),
            ),
        }
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    match super::farm::tls_certificate(s, &meta_url).await {
        Ok(c) => {
            let days = (c.not_after_unix - now) / 86_400;
            let (o, d) = if c.not_after_unix < now {
                (Outcome::Fail, format!("{host}'s TLS certificate expired"))
            } else if days < 30 {
                (
                    Outcome::Warn,
                    format!(
                        "{host}'s TLS certificate ({}) expires in {days} days",
                        c.subject
                    ),
                )
            } else {
                (
                    Outcome::Pass,
                    format!(
                        "{host}'s TLS certificate ({}) is valid for {days} more days",
                        c.subject
                    ),
                )
            };
            add("TLS", o, d);
        }
        Err(e) => add("TLS", Outcome::Fail, e.0),
    }
    match fetch_metadata(s, &meta_url).await {
        Err(e) => add("metadata over HTTPS", Outcome::Fail, e.0),
        Ok(m) => {
            add(
                "metadata over HTTPS",
                Outcome::Pass,
                format!("{meta_url} answers; entity {}", m.entity_id),
            );
            let ours = fed.signing_certificate.as_deref().unwrap_or_default();
            let primary = &m.signing_certificates[0];
            let entra = CertificateInfo::from_base64(ours).ok();
            let entra_thumb = entra
                .as_ref()
                .map(|c| c.sha1_thumbprint.clone())
                .unwrap_or_else(|| "unreadable".into());
            if primary.base64 == ours {
                add(
                    "signing certificate",
                    Outcome::Pass,
                    format!(
                        "Microsoft Entra ID and the farm both use {}",
                        primary.sha1_thumbprint
                    ),
                );
            } else if m.signing_certificates.iter().any(|c| c.base64 == ours) {
                add(
                    "signing certificate",
                    Outcome::Warn,
                    format!(
                        "the farm signs with {} but Entra holds its secondary {entra_thumb}: reset the trust",
                        primary.sha1_thumbprint
                    ),
                );
            } else {
                add(
                    "signing certificate",
                    Outcome::Fail,
                    format!(
                        "mismatch: Microsoft Entra ID holds {entra_thumb}, the farm signs with {}: sign-ins fail (AADSTS50008) until the trust is reset",
                        primary.sha1_thumbprint
                    ),
                );
            }
            let days = (primary.not_after_unix - now) / 86_400;
            let (o, d) = if primary.not_after_unix < now {
                (
                    Outcome::Fail,
                    format!("{} expired", primary.sha1_thumbprint),
                )
            } else if days < 30 {
                (
                    Outcome::Warn,
                    format!("{} expires in {days} days", primary.sha1_thumbprint),
                )
            } else {
                (
                    Outcome::Pass,
                    format!("{} valid for {days} more days", primary.sha1_thumbprint),
                )
            };
            add("certificate expiry", o, d);
        }
    }
    match s.login.user_realm(&format!("verify-probe@{domain}")).await {
        Ok(r) if r.namespace == Namespace::Federated => {
            add("user realm", Outcome::Pass, "Federated".into())
        }
        Ok(r) => add(
            "user realm",
            Outcome::Fail,
            format!(
                "says {:?}: the change has not reached sign-in yet (it can take up to an hour)",
                r.namespace
            ),
        ),
        Err(e) => add("user realm", Outcome::Fail, e.to_string()),
    }
    match url::Url::parse(&passive) {
        Ok(u) => match s
            .http
            .get(s.farms.locate(&u))
            .timeout(std::time::Duration::from_secs(20))
            .send()
            .await
        {
            Ok(r) if r.status().is_success() => add(
                "sign-in endpoint",
                Outcome::Pass,
                format!("{passive} answers"),
            ),
            Ok(r) => add(
                "sign-in endpoint",
                Outcome::Fail,
                format!("{passive}: HTTP {}", r.status()),
            ),
            Err(e) => add(
                "sign-in endpoint",
                Outcome::Fail,
                format!("{passive}: {}", crate::graph::client::error_chain(&e)),
            ),
        },
        Err(e) => add(
            "sign-in endpoint",
            Outcome::Fail,
            format!("{passive:?}: {e}"),
        ),
    }
    let passed = checks.iter().all(|c| c.outcome != Outcome::Fail);
    Ok(Report {
        domain: domain.into(),
        checks,
        passed,
    })
}
