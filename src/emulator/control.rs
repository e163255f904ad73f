//! The control API (`/_control`, bearer `control_token`): what tests and rehearsals use to make things
//! happen that only the outside world could do to a real tenant: faults, a farm going down or rolling
//! its certificate, a sync cycle, time passing.

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{Req, Resp, json as json_resp, no_content};
use super::state::{FarmAction, FarmState};
use super::{Fault, Shared, lock};

fn error(req: &Req, status: StatusCode, message: &str) -> Resp {
    json_resp(
        status,
        req,
        &json!({"error": {"code": "ControlRequestRejected", "message": message}}),
    )
}

fn parse<T: for<'de> Deserialize<'de>>(req: &Req) -> Result<T, Resp> {
    serde_json::from_slice(&req.body)
        .map_err(|e| error(req, StatusCode::BAD_REQUEST, &format!("invalid body: {e}")))
}

pub async fn handle(sh: &Shared, req: &Req) -> Resp {
    let token = lock(&sh.tenant).secrets.control_token.clone();
    if !req
        .bearer()
        .is_some_and(|b| super::http::same_secret(b, &token))
    {
        return error(
            req,
            StatusCode::UNAUTHORIZED,
            "the control API needs 'Authorization: Bearer {control_token}'",
        );
    }
    let Some(segs) = req
        .segments
        .iter()
        .skip(1)
        .cloned()
        .collect::<Option<Vec<String>>>()
    else {
        return error(req, StatusCode::BAD_REQUEST, "the path is not UTF-8");
    };
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let result = match (req.method.as_str(), s.as_slice()) {
        ("GET", ["faults"]) => Ok(json_resp(StatusCode::OK, req, &*lock(&sh.faults))),
        ("POST", ["faults"]) => add_fault(sh, req),
        ("DELETE", ["faults"]) => {
            sh.clear_faults();
            Ok(no_content(req))
        }
        ("GET", ["held"]) => Ok(json_resp(StatusCode::OK, req, &*lock(&sh.held))),
        ("POST", ["adfs", service]) => farm(sh, req, service).await,
        ("POST", ["sync"]) => sync(sh, req),
        ("POST", ["clock"]) => clock(sh, req),
        ("GET", ["requests"]) => Ok(json_resp(StatusCode::OK, req, &*lock(&sh.log))),
        ("DELETE", ["requests"]) => {
            lock(&sh.log).clear();
            Ok(no_content(req))
        }
        ("POST", ["app", "certificates"]) => add_certificate(sh, req),
        ("POST", ["connect", "script"]) => connect_script(sh, req),
        ("POST", ["connect", "sso-script"]) => sso_script(sh, req),
        ("POST", ["sync-jobs", "quarantine"]) => quarantine(sh, req),
        ("POST", ["morning"]) => morning(sh, req),
        _ => Err(error(
            req,
            StatusCode::NOT_FOUND,
            &format!("no control endpoint {} {}", req.method, req.raw_path),
        )),
    };
    result.unwrap_or_else(|r| r)
}

fn add_fault(sh: &Shared, req: &Req) -> Result<Resp, Resp> {
    let fault: Fault = parse(req)?;
    if let Some(s) = fault.status
        && !(400..=599).contains(&s)
    {
        return Err(error(
            req,
            StatusCode::BAD_REQUEST,
            "status must be an error status (400 to 599)",
        ));
    }
    if let Some(k) = &fault.kind
        && !["reset", "hold", "hold-answer"].contains(&k.as_str())
    {
        return Err(error(
            req,
            StatusCode::BAD_REQUEST,
            "kind must be \"reset\", \"hold\" or \"hold-answer\"",
        ));
    }
    if let Some(ra) = &fault.retry_after
        && (ra.parse::<f64>().is_err() || hyper::header::HeaderValue::from_str(ra).is_err())
    {
        return Err(error(
            req,
            StatusCode::BAD_REQUEST,
            "retry_after must be a number of seconds, such as \"1.5\"",
        ));
    }
    if fault.status.is_none() && fault.kind.is_none() && fault.latency_ms.is_none() {
        return Err(error(
            req,
            StatusCode::BAD_REQUEST,
            "a fault needs status, latency_ms or kind",
        ));
    }
    if fault.count == Some(0) {
        return Err(error(
            req,
            StatusCode::BAD_REQUEST,
            "count must be at least 1 (leave it out for no limit)",
        ));
    }
    let mut faults = lock(&sh.faults);
    faults.push(fault);
    Ok(json_resp(
        StatusCode::CREATED,
        req,
        &json!({"faults": faults.len()}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FarmBody {
    state: String,
}

async fn farm(sh: &Shared, req: &Req, service: &str) -> Result<Resp, Resp> {
    let body: FarmBody = parse(req)?;
    let action: FarmAction = body
        .state
        .parse()
        .map_err(|e: String| error(req, StatusCode::BAD_REQUEST, &e))?;
    let handle = sh.farms.get(service).ok_or_else(|| {
        error(
            req,
            StatusCode::NOT_FOUND,
            &format!("no AD FS farm named {service}"),
        )
    })?;
    let result = sh
        .with_tenant(|t| {
            let now = t.now().unix_timestamp();
            match t.farm_action(service, action, now) {
                Ok(()) => {
                    let f = &t.farms[service];
                    (
                        Ok((
                            f.state,
                            f.signing.cert_b64.clone(),
                            f.secondary.as_ref().map(|c| c.cert_b64.clone()),
                        )),
                        true,
                    )
                }
                Err(e) => (Err(e), false),
            }
        })
        .map_err(|e| error(req, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?;
    let (state, signing, secondary) = result.map_err(|e| error(req, StatusCode::CONFLICT, &e))?;
    handle.state.send_replace(state);
    // Answer once the listener is really open or closed, so that the caller sees the farm as set.
    let mut applied = handle.applied.clone();
    let settled = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        applied.wait_for(|s| *s == state),
    )
    .await;
    if !matches!(settled, Ok(Ok(_))) {
        return Err(error(
            req,
            StatusCode::SERVICE_UNAVAILABLE,
            "the farm's listener did not follow the change",
        ));
    }
    Ok(json_resp(
        StatusCode::OK,
        req,
        &json!({
            "service": service,
            "state": if state == FarmState::Up { "up" } else { "down" },
            "signing_certificate": signing,
            "next_signing_certificate": secondary,
            "address": handle.addr.to_string(),
        }),
    ))
}

fn sync(sh: &Shared, req: &Req) -> Result<Resp, Resp> {
    let summary = sh
        .with_tenant(|t| {
            let now = t.now().unix_timestamp();
            t.sync_cycle(now);
            let hashed = t.users.iter().filter(|u| u.synced && u.has_hash).count();
            (
                json!({
                    "last_sync": crate::graph::models::graph_time(crate::clock::unix(now)),
                    "password_sync_enabled": t.sync.password_sync_enabled(),
                    "users_with_password_hash": hashed,
                    "synchronized_users": t.users.iter().filter(|u| u.synced).count(),
                }),
                true,
            )
        })
        .map_err(|e| error(req, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?;
    Ok(json_resp(StatusCode::OK, req, &summary))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MorningBody {
    domain: String,
    users: usize,
    #[serde(default)]
    wrong_password: usize,
    #[serde(default)]
    unsynced: usize,
}

/// The morning after a cutover: users sign in, and the sign-in log fills accordingly.
fn morning(sh: &Shared, req: &Req) -> Result<Resp, Resp> {
    let body: MorningBody = parse(req)?;
    if body.users == 0 || body.users > 10_000 {
        return Err(error(
            req,
            StatusCode::BAD_REQUEST,
            "users must be 1 to 10,000",
        ));
    }
    let r = sh
        .with_tenant(|t| {
            match super::login::simulate_morning(
                sh,
                t,
                &body.domain,
                body.users,
                body.wrong_password,
                body.unsynced,
            ) {
                Ok(v) => (Ok(v), true),
                Err(e) => (Err(e), false),
            }
        })
        .map_err(|e| error(req, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?
        .map_err(|e| error(req, StatusCode::BAD_REQUEST, &e))?;
    Ok(json_resp(StatusCode::OK, req, &r))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance_s: f64,
}

fn clock(sh: &Shared, req: &Req) -> Result<Resp, Resp> {
    let body: ClockBody = parse(req)?;
    if !body.advance_s.is_finite() || !(0.0..=10.0 * 365.0 * 86_400.0).contains(&body.advance_s) {
        return Err(error(
            req,
            StatusCode::BAD_REQUEST,
            "advance_s must be 0 to ten years, in seconds",
        ));
    }
    let now = sh
        .with_tenant(|t| {
            t.advance_clock(body.advance_s.round() as i64);
            let now = t.now();
            t.tick(now.unix_timestamp());
            (crate::graph::models::graph_time(now), true)
        })
        .map_err(|e| error(req, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?;
    Ok(json_resp(StatusCode::OK, req, &json!({"now": now})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CertificateBody {
    certificate: String,
}

fn add_certificate(sh: &Shared, req: &Req) -> Result<Resp, Resp> {
    let body: CertificateBody = parse(req)?;
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.certificate.trim())
        .map_err(|_| {
            error(
                req,
                StatusCode::BAD_REQUEST,
                "certificate must be base64 DER",
            )
        })?;
    if x509_parser::parse_x509_certificate(&der).is_err() {
        return Err(error(
            req,
            StatusCode::BAD_REQUEST,
            "certificate is not an X.509 certificate",
        ));
    }
    let n = sh
        .with_tenant(|t| {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
            if !t.app.certificates.contains(&b64) {
                t.app.certificates.push(b64);
            }
            (t.app.certificates.len(), true)
        })
        .map_err(|e| error(req, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?;
    Ok(json_resp(
        StatusCode::CREATED,
        req,
        &json!({"certificates": n, "value": Value::Null}),
    ))
}

/// The script that `enable-phs` writes, run on the Connect Sync server (simulated): what the ADSync
/// cmdlets would do there. Hashes follow on the next password sync cycle.
fn connect_script(sh: &Shared, req: &Req) -> Result<Resp, Resp> {
    let result = sh
        .with_tenant(|t| {
            let flag = t.sync.password_sync_enabled();
            match t.sync.engines.connect.as_mut() {
                None => (Err(()), false),
                Some(c) => {
                    let before = c.password_sync;
                    c.password_sync = true;
                    c.script_runs += 1;
                    (
                        Ok(json!({
                            "server": c.server,
                            "source_connector": c.ad_connector,
                            "target_connector": c.entra_connector,
                            "password_sync_before": before,
                            "password_sync": true,
                            "tenant_flag": flag,
                            "runs": c.script_runs,
                        })),
                        true,
                    )
                }
            }
        })
        .map_err(|e| error(req, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?;
    result
        .map(|v| json_resp(StatusCode::OK, req, &v))
        .map_err(|()| {
            error(
                req,
                StatusCode::CONFLICT,
                "this tenant has no Entra Connect Sync server (its scenario uses Cloud Sync only)",
            )
        })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SsoScriptBody {
    /// `-StatusOnly`: report, change nothing.
    #[serde(default)]
    status_only: bool,
}

/// The Seamless SSO script that `enable-sso` writes, run on the Connect server (simulated): what the
/// `AzureADSSO` cmdlets would find and do there, per forest.
fn sso_script(sh: &Shared, req: &Req) -> Result<Resp, Resp> {
    let body: SsoScriptBody = if req.body.is_empty() {
        SsoScriptBody::default()
    } else {
        parse(req)?
    };
    // Seamless SSO lives in the sync record: a change logs that record, not the whole tenant.
    let v = sh
        .with_tenant_change(|t| {
            let now = t.now().unix_timestamp();
            let v = super::seamless_sso::run_script(t, body.status_only, now);
            let changed = v["changed"].as_array().is_some_and(|c| !c.is_empty());
            (v, changed.then_some(super::state::Change::Sync))
        })
        .map_err(|e| error(req, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?;
    Ok(json_resp(StatusCode::OK, req, &v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuarantineBody {
    /// The Cloud Sync configuration (its AD domain, or its service principal id).
    configuration: String,
    #[serde(default = "password_hash_template")]
    template: String,
}

fn password_hash_template() -> String {
    super::engines::PASSWORD_HASH_TEMPLATE.into()
}

/// Puts a Cloud Sync job into quarantine, as the provisioning service does when it cannot go on.
fn quarantine(sh: &Shared, req: &Req) -> Result<Resp, Resp> {
    let body: QuarantineBody = parse(req)?;
    let result = sh
        .with_tenant(|t| {
            let now = t.now().unix_timestamp();
            let job = t
                .sync
                .engines
                .cloud
                .iter_mut()
                .filter(|c| {
                    c.display_name.eq_ignore_ascii_case(&body.configuration)
                        || c.service_principal_id.eq_ignore_ascii_case(&body.configuration)
                })
                .flat_map(|c| c.jobs.iter_mut())
                .find(|j| j.template_id == body.template);
            match job {
                None => (Err(()), false),
                Some(j) => {
                    j.quarantine = Some(super::engines::QuarantineRec {
                        reason: "EncounteredQuarantineException".into(),
                        code: "HybridSynchronizationActiveDirectoryInvalidCredentials".into(),
                        message: "The provisioning agent could not sign in to Active Directory with its gMSA: the account's password is not valid (simulated).".into(),
                        began: now,
                    });
                    (Ok(j.to_json(t.sync.cycle_minutes)), true)
                }
            }
        })
        .map_err(|e| error(req, StatusCode::SERVICE_UNAVAILABLE, &e.to_string()))?;
    result
        .map(|v| json_resp(StatusCode::OK, req, &v))
        .map_err(|()| {
            error(
                req,
                StatusCode::NOT_FOUND,
                &format!(
                    "no {} job in a Cloud Sync configuration named {}",
                    body.template, body.configuration
                ),
            )
        })
}
