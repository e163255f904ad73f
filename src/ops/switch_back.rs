//! `switch-back`: federate a managed domain with AD FS again, restoring exactly the settings that
//! were backed up at failover (or building them from the farm's metadata), after checking the farm.

use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

use super::backup::{self, Backup};
use super::farm::{FarmCache, metadata_url_for};
use super::journal::{self, Entry};
use super::plan::{Outcome, Plan};
use super::status::{federation, who};
use super::{OpsError, Progress, Session};
use crate::adfs::metadata::CertificateInfo;
use crate::auth::claims::Task;
use crate::graph::encode;

#[derive(Clone, Debug)]
pub enum Source {
    /// A backup file, or the newest backup of the domain.
    Backup(Option<PathBuf>),
    /// The farm's metadata URL; the issuer defaults to the metadata's entity id.
    Metadata { url: String, issuer: Option<String> },
}

#[derive(Clone, Debug)]
pub struct Options {
    pub domain: String,
    pub source: Source,
    pub force: bool,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub domain: String,
    /// `federated`, `already federated with these settings`.
    pub outcome: String,
    pub issuer_uri: String,
    pub from: String,
    pub requests: u64,
}

pub struct Prepared {
    pub plan: Plan,
    pub domain: String,
    settings: Value,
    from: String,
    noop: bool,
}

/// The checks about the signed-in account, once for a switch-back however many domains it has:
/// could they sign in again with the farm down (one read), and the permission trap of creating
/// federation settings (from the token: no request).
async fn account_checks(s: &Session) -> Result<Vec<super::plan::Check>, OpsError> {
    let me = who(s).await?;
    let mut checks = vec![super::operator::check_by_reading(s, &me).await?];
    if !me.is_app() && !me.scopes().any(|s| s == ACCESS_AS_USER) {
        checks.push(super::plan::Check::new(
            "federation create",
            Outcome::Warn,
            access_as_user_trap(),
        ));
    }
    Ok(checks)
}

pub async fn prepare(s: &Session, o: &Options) -> Result<Prepared, OpsError> {
    let farms = FarmCache::default();
    let (mut p, staged, account) = futures_util::join!(
        prepare_with(s, o, &farms),
        super::staged_rollout::still_on(s),
        account_checks(s)
    );
    if let Ok(p) = &mut p {
        p.plan.checks.extend(account?);
    }
    if let (Ok(p), Some(note)) = (&mut p, staged) {
        p.plan.check("staged rollout", Outcome::Warn, note);
    }
    if let Ok(p) = &mut p {
        p.plan.check(
            "AD FS farm backup",
            Outcome::Info,
            super::security::farm_backup_advice(&s.home, &s.tenant),
        );
    }
    p
}

async fn prepare_with(s: &Session, o: &Options, farms: &FarmCache) -> Result<Prepared, OpsError> {
    let mut plan = Plan::new("Change user sign-in to federation with AD FS", &s.tenant);
    let me = who(s).await?;
    plan.permissions(&me, Task::ManageFederation, "federate domains");
    let d = encode(&o.domain);
    let domain: Value = s
        .graph
        .get(&format!("/v1.0/domains/{d}"))
        .await
        .map_err(|e| {
            if e.is_not_found() {
                OpsError::Input(format!("the tenant has no domain {:?}", o.domain))
            } else {
                e.into()
            }
        })?;
    let id = domain["id"].as_str().unwrap_or(&o.domain).to_string();
    if domain["isRoot"] == false {
        plan.check(
            &format!("domain {id}"),
            Outcome::Fail,
            "a subdomain follows its root domain: switch the root back",
        );
    }
    let (settings, from) = match &o.source {
        Source::Backup(path) => {
            let (path, b): (PathBuf, Backup) = match path {
                Some(p) => (p.clone(), backup::read(p)?),
                None => backup::latest(&s.home, &s.tenant, &id)?.ok_or_else(|| {
                    OpsError::Input(format!(
                        "no backup of {id} in {}",
                        backup::dir(&s.home, &s.tenant).display()
                    ))
                })?,
            };
            if !b.domain.eq_ignore_ascii_case(&id) {
                return Err(OpsError::Input(format!(
                    "{} is a backup of {}, not of {id}",
                    path.display(),
                    b.domain
                )));
            }
            plan.check(
                "backup",
                Outcome::Pass,
                format!(
                    "{} taken {} (checksum verified)",
                    path.display(),
                    b.taken_at
                ),
            );
            (b.restorable_settings(), path.display().to_string())
        }
        Source::Metadata { url, issuer } => {
            let u = url::Url::parse(url).map_err(|e| OpsError::Input(format!("{url}: {e}")))?;
            let m = farms.fetch(s, &u).await.map_err(|e| {
                OpsError::Refused(format!("the farm's metadata cannot be read: {}", e.0))
            })?;
            let host = u.host_str().unwrap_or_default();
            let settings = json!({
                "@odata.type": "#microsoft.graph.internalDomainFederation",
                "displayName": m.display_name.clone().unwrap_or_else(|| host.to_string()),
                "issuerUri": issuer.clone().unwrap_or_else(|| m.entity_id.clone()),
                "metadataExchangeUri": m.mex_endpoint.clone().unwrap_or_else(|| format!("https://{host}/adfs/services/trust/mex")),
                "passiveSignInUri": m.passive_endpoint.clone().unwrap_or_else(|| format!("https://{host}/adfs/ls/")),
                "activeSignInUri": format!("https://{host}/adfs/services/trust/2005/usernamemixed"),
                "signOutUri": format!("https://{host}/adfs/ls/?wa=wsignout1.0"),
                "signingCertificate": m.signing_certificates[0].base64,
                "nextSigningCertificate": m.signing_certificates.get(1).map(|c| c.base64.clone()),
                "preferredAuthenticationProtocol": "wsFed",
                "promptLoginBehavior": "nativeSupport",
                "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
            });
            plan.check(
                "metadata",
                Outcome::Pass,
                format!("{url}: entity {}", m.entity_id),
            );
            (settings, url.clone())
        }
    };
    // The farm must answer and its certificate must be valid, or nobody can sign in afterwards.
    let passive = settings["passiveSignInUri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let fail_or_forced = if o.force {
        Outcome::Warn
    } else {
        Outcome::Fail
    };
    let forced = if o.force {
        " (going on: --force)"
    } else {
        "; --force goes on anyway"
    };
    match metadata_url_for(&passive) {
        Some(url) => match farms.fetch(s, &url).await {
            Ok(m) => {
                let ours = settings["signingCertificate"].as_str().unwrap_or_default();
                let farm_has = m.signing_certificates.iter().any(|c| c.base64 == ours);
                plan.check(
                    "AD FS farm",
                    if farm_has { Outcome::Pass } else { Outcome::Warn },
                    if farm_has {
                        format!("{} answers and signs with the certificate being restored", url.host_str().unwrap_or_default())
                    } else {
                        "the farm answers but signs with another certificate: reset the trust after switching back".into()
                    },
                );
            }
            Err(e) => plan.check(
                "AD FS farm",
                fail_or_forced,
                format!("unreachable: {}{forced}", e.0),
            ),
        },
        None => plan.check(
            "AD FS farm",
            fail_or_forced,
            format!("no usable passive sign-in URL {passive:?}{forced}"),
        ),
    }
    match settings["signingCertificate"]
        .as_str()
        .map(CertificateInfo::from_base64)
    {
        Some(Ok(c)) => {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if c.not_after_unix < now {
                plan.check(
                    "signing certificate",
                    fail_or_forced,
                    format!("{} expired{forced}", c.sha1_thumbprint),
                );
            } else {
                plan.check(
                    "signing certificate",
                    Outcome::Pass,
                    format!(
                        "{} valid for {} more days",
                        c.sha1_thumbprint,
                        (c.not_after_unix - now) / 86_400
                    ),
                );
            }
        }
        _ => plan.check(
            "signing certificate",
            fail_or_forced,
            format!("not a readable certificate{forced}"),
        ),
    }
    let current = federation(s, &id).await?;
    let mut noop = false;
    if domain["authenticationType"] == "Federated" {
        let same = current
            .as_ref()
            .is_some_and(|(_, raw)| same_settings(raw, &settings));
        if same {
            noop = true;
            plan.check(
                &format!("domain {id}"),
                Outcome::Pass,
                "already federated with exactly these settings",
            );
        } else {
            let diff = current
                .as_ref()
                .map(|(_, raw)| differences(raw, &settings))
                .unwrap_or_default();
            plan.check(
                &format!("domain {id}"),
                Outcome::Fail,
                format!(
                    "already federated with other settings ({}); reset the trust instead of switching back",
                    diff.join("; ")
                ),
            );
        }
    }
    if !noop {
        plan.step(
            Some(&id),
            "POST",
            &format!("/v1.0/domains/{}/federationConfiguration", encode(&id)),
            Some(settings.clone()),
            "federate with AD FS",
        );
        plan.step(
            Some(&id),
            "GET",
            &format!("/v1.0/domains/{}/federationConfiguration", encode(&id)),
            None,
            "confirm the settings",
        );
    }
    Ok(Prepared {
        plan,
        domain: id,
        settings,
        from,
        noop,
    })
}

/// What differs between the settings Graph holds and those being restored, property by property.
fn differences(current: &Value, wanted: &Value) -> Vec<String> {
    let Some(w) = wanted.as_object() else {
        return vec![];
    };
    let show = |v: &Value| {
        let t = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        if t.chars().count() > 80 {
            format!("{}…", t.chars().take(80).collect::<String>())
        } else {
            t
        }
    };
    w.iter()
        .filter(|(k, _)| !k.starts_with('@'))
        .filter(|(k, v)| current.get(*k).unwrap_or(&Value::Null) != *v)
        .map(|(k, v)| {
            format!(
                "{k}: {} now, {} in the source",
                show(current.get(k).unwrap_or(&Value::Null)),
                show(v)
            )
        })
        .collect()
}

/// Whether the settings Graph holds are those being restored (Graph's own fields aside).
fn same_settings(current: &Value, wanted: &Value) -> bool {
    let Some(w) = wanted.as_object() else {
        return false;
    };
    w.iter()
        .filter(|(k, _)| !k.starts_with('@'))
        .all(|(k, v)| current.get(k).unwrap_or(&Value::Null) == v)
}

/// One domain of `run_many`: its place in the order, its name, and how it went.
type Ran = (usize, String, Result<Report, OpsError>);

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// How many domains are prepared or switched back at once (the Graph client bounds the requests).
const DOMAINS_AT_ONCE: usize = 32;

/// The scope Microsoft's reference for `POST /domains/{id}/federationConfiguration` says delegated
/// callers may need ("a known permissions issue"); a switch-back is when a 403 hurts most.
const ACCESS_AS_USER: &str = "Directory.AccessAsUser.All";

/// What that issue is, and its fix.
fn access_as_user_trap() -> String {
    format!(
        "creating federation settings (POST /domains/{{id}}/federationConfiguration) has a documented permissions issue: a delegated caller may need {ACCESS_AS_USER}, which this sign-in's token does not carry, and Graph then answers 403 Authorization_RequestDenied. The fix: an administrator consents {ACCESS_AS_USER} for the app you sign in with, or you switch back with an app registration (a client-secret or client-certificate profile) holding Domain-InternalFederation.ReadWrite.All"
    )
}

/// Prepares several domains side by side, in the order given.
pub async fn prepare_many(s: &Session, os: &[Options]) -> Result<Vec<Prepared>, OpsError> {
    use futures_util::{StreamExt, TryStreamExt};
    let farms = FarmCache::default();
    let farms = &farms;
    // The futures are made (and boxed) before the stream, so that the stream holds no closure over
    // borrowed data: that keeps it Send when the wizard runs it in a spawned task.
    let futures: Vec<BoxFuture<'_, Result<Prepared, OpsError>>> = os
        .iter()
        .map(|o| Box::pin(prepare_with(s, o, farms)) as BoxFuture<'_, _>)
        .collect();
    let (ps, staged, account) = futures_util::join!(
        futures_util::stream::iter(futures)
            .buffered(DOMAINS_AT_ONCE)
            .try_collect::<Vec<Prepared>>(),
        super::staged_rollout::still_on(s),
        account_checks(s)
    );
    let mut ps = ps?;
    if let Some(p) = ps.first_mut() {
        p.plan.checks.extend(account?);
    }
    if let Some(note) = staged {
        for p in &mut ps {
            p.plan.check("staged rollout", Outcome::Warn, note.clone());
        }
    }
    // Once for the whole switch-back: the one plan shows every domain's checks.
    if let Some(p) = ps.first_mut() {
        p.plan.check(
            "AD FS farm backup",
            Outcome::Info,
            super::security::farm_backup_advice(&s.home, &s.tenant),
        );
    }
    Ok(ps)
}

pub async fn run(s: &Session, p: Prepared, progress: &dyn Progress) -> Result<Report, OpsError> {
    let _lock = super::lock::acquire(&s.home, &s.tenant)?;
    run_locked(s, p, progress).await
}

/// Switches several domains back side by side. Every plan must pass before any domain changes;
/// after a failure no further domain starts, and those under way finish.
pub async fn run_many(
    s: &Session,
    ps: Vec<Prepared>,
    progress: &dyn Progress,
) -> Result<Vec<Report>, OpsError> {
    use futures_util::StreamExt;
    let _lock = super::lock::acquire(&s.home, &s.tenant)?;
    for p in &ps {
        if let Some(f) = p.plan.failed().first() {
            return Err(OpsError::Refused(format!(
                "{}: {}: {}",
                p.domain, f.name, f.detail
            )));
        }
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    let stop = &stop;
    let futures: Vec<BoxFuture<'_, Ran>> = ps
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            Box::pin(async move {
                let domain = p.domain.clone();
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return (i, domain, Err(OpsError::Partial("not started".into())));
                }
                let r = run_locked(s, p, progress).await;
                if r.is_err() {
                    stop.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                (i, domain, r)
            }) as BoxFuture<'_, _>
        })
        .collect();
    let mut results: Vec<Ran> = futures_util::stream::iter(futures)
        .buffer_unordered(DOMAINS_AT_ONCE)
        .collect()
        .await;
    results.sort_by_key(|(i, _, _)| *i);
    if results.iter().any(|(_, _, r)| r.is_err()) {
        let summary: Vec<String> = results
            .iter()
            .map(|(_, d, r)| match r {
                Ok(r) => format!("{d} {}", r.outcome),
                Err(e) => format!("{d} failed: {e}"),
            })
            .collect();
        return Err(OpsError::Partial(format!(
            "not every domain was switched back. Domains: {}",
            summary.join("; ")
        )));
    }
    Ok(results.into_iter().filter_map(|(_, _, r)| r.ok()).collect())
}

async fn run_locked(s: &Session, p: Prepared, progress: &dyn Progress) -> Result<Report, OpsError> {
    if let Some(f) = p.plan.failed().first() {
        return Err(OpsError::Refused(format!("{}: {}", f.name, f.detail)));
    }
    let before = s.graph.requests_sent();
    let issuer = p.settings["issuerUri"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if p.noop {
        journal::append(
            &s.home,
            &s.tenant,
            &entry(
                &p.domain,
                "noop",
                &p.from,
                "already federated with these settings",
            ),
        )?;
        return Ok(Report {
            domain: p.domain,
            outcome: "already federated with these settings".into(),
            issuer_uri: issuer,
            from: p.from,
            requests: 0,
        });
    }
    journal::append(
        &s.home,
        &s.tenant,
        &entry(&p.domain, "intent", &p.from, "Managed -> Federated"),
    )?;
    progress.event(Some(&p.domain), "creating the federation settings");
    let path = format!(
        "/v1.0/domains/{}/federationConfiguration",
        encode(&p.domain)
    );
    let result = s
        .graph
        .send(reqwest::Method::POST, &path, Some(&p.settings))
        .await;
    // After any answer, the real state decides (a failed create once left a domain federated).
    let now = federation(s, &p.domain).await?;
    match now {
        Some((_, raw)) if same_settings(&raw, &p.settings) => {
            s.read_back.federated(&p.domain, &raw);
            let mut done = entry(
                &p.domain,
                "done",
                &p.from,
                "read back: Federated, settings as restored",
            );
            done.request_id = result.as_ref().ok().and_then(|r| r.request_id.clone());
            journal::append(&s.home, &s.tenant, &done)?;
            progress.event(Some(&p.domain), "federated");
            Ok(Report {
                domain: p.domain,
                outcome: "federated".into(),
                issuer_uri: issuer,
                from: p.from,
                requests: s.graph.requests_sent() - before,
            })
        }
        other => {
            let why = match (result, other) {
                (Err(e), None) if e.status() == Some(403) => format!(
                    "{e}; the domain is still managed. {}",
                    access_as_user_trap()
                ),
                (Err(e), None) => format!("{e}; the domain is still managed"),
                (Err(e), Some(_)) => format!(
                    "{e}; but the domain now has federation settings that differ from those sent: check it"
                ),
                (Ok(_), _) => {
                    "Graph accepted the settings but reading them back shows something else".into()
                }
            };
            journal::append(
                &s.home,
                &s.tenant,
                &entry(&p.domain, "failed", &p.from, &why),
            )?;
            Err(OpsError::Partial(format!("{}: {why}", p.domain)))
        }
    }
}

fn entry(domain: &str, phase: &str, from: &str, detail: &str) -> Entry {
    Entry::new("switch-back", domain, phase, detail).with_backup(Some(from), None)
}
