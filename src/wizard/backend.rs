//! The wizard's backend: it runs the operations the pages ask for on a tokio task and reports back
//! through a channel, so that no frame ever waits on the network.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::app::{BackendEvent, BackupInfo, Control, Effect, ErrorPanel, FarmInfo, Task};
use crate::auth::claims::Task as Permission;
use crate::graph::models::parse_graph_time;
use crate::ops::{
    OpsError, Progress, Session, backup, enable_phs, failover, farm, reset_trust, staged_rollout,
    status, switch_back, test_signin, verify,
};

struct ToChannel(UnboundedSender<BackendEvent>);

impl Progress for ToChannel {
    fn event(&self, domain: Option<&str>, message: &str) {
        let line = match domain {
            Some(d) => format!("{d}: {message}"),
            None => message.to_string(),
        };
        let _ = self.0.send(BackendEvent::Progress(line));
    }
}

enum Pending {
    None,
    EnablePhs(enable_phs::Prepared),
    Failover(failover::Prepared),
    SwitchBack(Vec<switch_back::Prepared>),
    ResetTrust(Box<reset_trust::Prepared>),
    Staged(Box<staged_rollout::Prepared>),
}

/// Turns an error into the panel: what happened, the request id, and what it means.
pub fn panel(title: &str, e: &OpsError) -> ErrorPanel {
    let request_id = match e {
        OpsError::Graph(g) => match g.as_ref() {
            crate::graph::GraphError::Api(a) => a.request_id.clone(),
            _ => None,
        },
        _ => None,
    };
    let meaning = match e.exit_code() {
        2 => "the input is not usable: check the profile, the names and the files",
        3 => "a pre-flight check refused the change; nothing was changed",
        4 => {
            "some of the change was made and some was not; Retry finishes it (done domains are not changed twice)"
        }
        _ => match e {
            OpsError::Graph(g) if g.status() == Some(403) => {
                "a permission or directory role is missing for this change"
            }
            OpsError::Graph(g) if g.status() == Some(401) => {
                "the sign-in expired or was refused: sign in again"
            }
            _ => "the tenant or the network failed; Retry when it answers again",
        },
    };
    ErrorPanel {
        title: title.into(),
        message: e.to_string(),
        request_id,
        meaning: meaning.into(),
        focus: 0,
    }
}

pub async fn run(
    home: PathBuf,
    mut effects: UnboundedReceiver<Effect>,
    tx: UnboundedSender<BackendEvent>,
) {
    let mut session: Option<Session> = None;
    let mut pending = Pending::None;
    let mut current_task = Task::ViewConfig;
    let progress = ToChannel(tx.clone());
    let send = |e: BackendEvent| {
        let _ = tx.send(e);
    };
    // Watches look again after a pause; the pause runs beside the backend, never in it, so that
    // whatever the administrator does next is not kept waiting behind it.
    let (due_tx, mut due) = tokio::sync::mpsc::unbounded_channel::<Effect>();
    loop {
        let (effect, delayed) = tokio::select! {
            e = effects.recv() => match e {
                Some(e) => (e, false),
                None => break,
            },
            Some(e) = due.recv() => (e, true),
        };
        if !delayed && let Some(pause) = pause_before(&effect, session.as_ref()) {
            let due_tx = due_tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(pause).await;
                let _ = due_tx.send(effect);
            });
            continue;
        }
        match effect {
            Effect::Exit => return,
            Effect::Connect { profile } => {
                let prompt = {
                    let tx = tx.clone();
                    Arc::new(move |code: &crate::login::DeviceCode| {
                        let _ = tx.send(BackendEvent::Progress(code.message.clone()));
                    })
                };
                let result = async {
                    let s = Session::connect(&home, &profile, prompt).await?;
                    let who = status::who(&s).await?;
                    let st = status::status(&s).await?;
                    Ok::<_, OpsError>((s, who, st))
                }
                .await;
                match result {
                    Ok((s, who, st)) => {
                        send(BackendEvent::Connected {
                            who: who.who(),
                            missing_phs: who.missing_for(Permission::EnablePasswordHashSync),
                            missing_convert: who.missing_for(Permission::ConvertDomains),
                            missing_staged: if who.is_app() {
                                vec!["a signed-in administrator (Graph takes no application permission for it)".into()]
                            } else {
                                who.missing_for(Permission::StagedRollout)
                            },
                            status: Box::new(st),
                            sample_user: s.rehearsal.as_ref().and_then(|r| r.sample_user()),
                        });
                        session = Some(s);
                    }
                    Err(e) => send(BackendEvent::Failed(panel("Sign-in failed", &e))),
                }
            }
            other => {
                let Some(s) = session.as_ref() else {
                    send(BackendEvent::Failed(panel(
                        "Not signed in",
                        &OpsError::Input("sign in first".into()),
                    )));
                    continue;
                };
                handle(s, other, &mut pending, &mut current_task, &progress, &send).await;
            }
        }
    }
}

async fn handle(
    s: &Session,
    effect: Effect,
    pending: &mut Pending,
    current: &mut Task,
    progress: &ToChannel,
    send: &(dyn Fn(BackendEvent) + Sync),
) {
    match effect {
        Effect::Refresh => match status::status(s).await {
            Ok(st) => send(BackendEvent::Status(Box::new(st))),
            Err(e) => send(BackendEvent::Failed(panel("Reading the tenant failed", &e))),
        },
        Effect::PrepareEnablePhs => {
            *current = Task::SyncOptions;
            match enable_phs::prepare(s, &enable_phs::Options::default()).await {
                Ok(p) => {
                    send(BackendEvent::Planned(Box::new(p.plan.clone())));
                    *pending = Pending::EnablePhs(p);
                }
                Err(e) => send(BackendEvent::Failed(panel("Preparing failed", &e))),
            }
        }
        Effect::PrepareFailover { domains, sso } => {
            *current = Task::ChangeSignIn;
            let o = failover::Options {
                domains,
                all_federated: false,
                sync_window: std::time::Duration::from_secs(3 * 3600),
                accept_unsynced: false,
                skip_sso: !sso,
            };
            match failover::prepare(s, &o).await {
                Ok(p) => {
                    send(BackendEvent::Planned(Box::new(p.plan.clone())));
                    *pending = Pending::Failover(p);
                }
                Err(e) => send(BackendEvent::Failed(panel("Pre-flight failed", &e))),
            }
        }
        Effect::Run => {
            let (mark, started) = (crate::ops::report::mark(s), time::OffsetDateTime::now_utc());
            let operation = match pending {
                Pending::EnablePhs(_) => "enable-phs",
                Pending::Failover(_) => "failover",
                Pending::SwitchBack(_) => "switch-back",
                Pending::ResetTrust(_) => "reset-trust",
                Pending::Staged(_) => staged_rollout::OP,
                Pending::None => "",
            };
            let plan = match &*pending {
                Pending::EnablePhs(p) => Some(p.plan.clone()),
                Pending::Failover(p) => Some(p.plan.clone()),
                Pending::SwitchBack(ps) => Some(one_plan(&s.tenant, ps)),
                Pending::ResetTrust(p) => Some(p.plan.clone()),
                Pending::Staged(p) => Some(p.plan.clone()),
                Pending::None => None,
            };
            let mut done: Option<Vec<String>> = None;
            match std::mem::replace(pending, Pending::None) {
                Pending::EnablePhs(p) => match enable_phs::run(s, p, progress).await {
                    Ok(r) => {
                        let mut lines = vec![
                            format!(
                                "Password hash synchronization: on{}",
                                if r.changed { " (changed now)" } else { "" }
                            ),
                            format!("Sync engine: {}", r.engines.describe()),
                        ];
                        if let Some(path) = &r.connect_script {
                            lines.push(format!("Script for the Connect server: {path}"));
                        }
                        // What is left to do is shown by the hashes' watch, and only until
                        // they arrive; once they flow, the note says so.
                        if r.hashes_flowing {
                            lines.push(r.note.clone());
                        }
                        lines.push("Journal: entra-failover history".into());
                        done = Some(lines);
                        if !r.hashes_flowing {
                            send(BackendEvent::AwaitHashes {
                                previous: r.last_password_sync,
                                next_steps: r.note.clone(),
                            });
                        }
                    }
                    Err(e) => send(BackendEvent::Failed(panel("Configuring failed", &e))),
                },
                Pending::Failover(p) => match failover::run(s, p, progress).await {
                    Ok(r) => {
                        let mut lines: Vec<String> = r
                            .domains
                            .iter()
                            .map(|d| {
                                format!(
                                    "{}: {}{}",
                                    d.domain,
                                    d.outcome,
                                    d.backup
                                        .as_ref()
                                        .map(|b| format!("; backup {b}"))
                                        .unwrap_or_default()
                                )
                            })
                            .collect();
                        lines.push("Journal: entra-failover history".into());
                        done = Some(lines);
                    }
                    Err(e) => send(BackendEvent::Failed(panel("Configuring failed", &e))),
                },
                Pending::SwitchBack(ps) => match switch_back::run_many(s, ps, progress).await {
                    Ok(rs) => {
                        let mut lines = vec![];
                        for r in rs {
                            lines.push(format!(
                                "{}: {} (issuer {})",
                                r.domain, r.outcome, r.issuer_uri
                            ));
                            lines.push(format!("  From: {}", r.from));
                        }
                        lines.push("Journal: entra-failover history".into());
                        done = Some(lines);
                    }
                    Err(e) => send(BackendEvent::Failed(panel("Configuring failed", &e))),
                },
                Pending::ResetTrust(p) => match reset_trust::run(s, *p, progress).await {
                    Ok(r) => {
                        let mut lines = vec![format!(
                            "{}: {}",
                            r.domain,
                            if r.changed {
                                "federation settings updated from the farm"
                            } else {
                                "nothing to update"
                            }
                        )];
                        if let Some(script) = r.adfs_script {
                            lines.push(format!("AD FS script: {script}"));
                            if let Some(m) = &r.metadata_file {
                                lines.push(format!("Microsoft's metadata beside it: {m}"));
                            }
                            lines.push("Run it on the primary AD FS server: it backs up the relying party trust first, updates it in place (never removes it) and keeps its access control policy; preview with -WhatIf.".into());
                        }
                        done = Some(lines);
                    }
                    Err(e) => send(BackendEvent::Failed(panel("Configuring failed", &e))),
                },
                Pending::Staged(p) => match staged_rollout::run(s, *p, progress).await {
                    Ok(r) => {
                        let mut lines: Vec<String> =
                            r.view.text().lines().map(str::to_string).collect();
                        lines.push(r.note.clone());
                        if let Some(b) = &r.backup {
                            lines.push(format!("Backup of the policy before: {b}"));
                        }
                        lines.push("Journal: entra-failover history".into());
                        done = Some(lines);
                        // Test sign-in offers one of the pilots now in it.
                        if let Ok(info) = load_staged(s).await {
                            send(BackendEvent::Staged(Box::new(info)));
                        }
                    }
                    Err(e) => send(BackendEvent::Failed(panel("Configuring failed", &e))),
                },
                Pending::None => send(BackendEvent::Failed(panel(
                    "Nothing to run",
                    &OpsError::Input("prepare the change first".into()),
                ))),
            }
            // The change record of this run, named on the Complete page.
            if let (Some(mut lines), Some(plan)) = (done, plan) {
                match crate::ops::report::write_for_run(s, mark, started, operation, &plan).await {
                    Ok(p) => lines.push(format!("Change report: {}", p.display())),
                    Err(e) => lines.push(format!("The change report could not be written: {e}")),
                }
                send(BackendEvent::Done(lines));
            }
        }
        Effect::Control(c) => {
            let msg = control(s, c).await;
            send(BackendEvent::Control(msg));
        }
        Effect::TestSignIn { upn, password } => {
            let pw = (!password.is_empty()).then(|| password.into_secret());
            let text = match test_signin::run(s, &upn, pw.as_ref(), None).await {
                Ok(r) => {
                    let mut t = format!(
                        "{}: {:?} sign-in{}",
                        r.upn,
                        r.realm,
                        r.sign_in_goes_to
                            .map(|g| format!(", at {g}"))
                            .unwrap_or_default()
                    );
                    if let Some(p) = r.password_test {
                        t.push_str(&format!(
                            "\nPassword test: {}{}{}",
                            if p.ok { "OK — " } else { "FAILED — " },
                            p.aadsts.map(|c| format!("AADSTS{c}: ")).unwrap_or_default(),
                            p.message
                        ));
                        if let Some(m) = p.meaning {
                            t.push_str(&format!("\nWhat it means: {m}"));
                        }
                    }
                    t
                }
                Err(e) => format!("Test failed: {e}"),
            };
            send(BackendEvent::SignIn(text));
        }
        Effect::LoadBackups => {
            let mut rows = vec![];
            for path in backup::list(&s.home, &s.tenant).unwrap_or_default() {
                if let Ok(b) = backup::read(&path) {
                    let farm = b.federation["passiveSignInUri"]
                        .as_str()
                        .and_then(|u| url::Url::parse(u).ok())
                        .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
                    rows.push(BackupInfo {
                        domain: b.domain,
                        taken_at: b.taken_at,
                        path: path.display().to_string(),
                        farm,
                    });
                }
            }
            send(BackendEvent::Backups(rows));
        }
        Effect::LoadFarm { service } => send(BackendEvent::Farm(load_farm(s, &service).await)),
        Effect::PrepareSwitchBack {
            domains,
            from_backup,
            service,
        } => {
            *current = Task::ChangeSignIn;
            let mut options = vec![];
            for domain in domains {
                let source = if from_backup {
                    switch_back::Source::Backup(None)
                } else {
                    match metadata_source(s, &service, &domain).await {
                        Ok(src) => src,
                        Err(e) => {
                            send(BackendEvent::Failed(panel("Preparing failed", &e)));
                            return;
                        }
                    }
                };
                options.push(switch_back::Options {
                    domain,
                    source,
                    force: false,
                });
            }
            match switch_back::prepare_many(s, &options).await {
                Ok(ps) => {
                    send(BackendEvent::Planned(Box::new(one_plan(&s.tenant, &ps))));
                    *pending = Pending::SwitchBack(ps);
                }
                Err(e) => send(BackendEvent::Failed(panel("Preparing failed", &e))),
            }
        }
        Effect::PrepareResetTrust { domain } => {
            *current = Task::ManageFederation;
            match prepare_reset(s, &domain).await {
                Ok(p) => {
                    let rows = p
                        .certificates
                        .iter()
                        .map(|c| {
                            format!(
                                "{:<34} {}  {}",
                                c.role,
                                c.sha1.as_deref().unwrap_or("-"),
                                c.expires.as_deref().unwrap_or("")
                            )
                        })
                        .collect();
                    send(BackendEvent::Certificates(rows));
                    send(BackendEvent::Planned(Box::new(p.plan.clone())));
                    *pending = Pending::ResetTrust(Box::new(p));
                }
                Err(e) => send(BackendEvent::Failed(panel(
                    "Reading the certificates failed",
                    &e,
                ))),
            }
        }
        Effect::Resume => match crate::ops::resume::run(s, progress).await {
            Ok(r) => send(BackendEvent::Resumed(
                r.items
                    .iter()
                    .map(|i| {
                        format!(
                            "{} {}: {}{}",
                            i.operation,
                            i.domain,
                            i.outcome,
                            if i.detail.is_empty() {
                                String::new()
                            } else {
                                format!(" — {}", i.detail)
                            }
                        )
                    })
                    .collect(),
            )),
            Err(e) => send(BackendEvent::Failed(panel(
                "Finishing the interrupted changes failed",
                &e,
            ))),
        },
        Effect::VerifyAll { domains } => {
            let mut lines = vec![];
            let mut passed = true;
            for domain in &domains {
                match verify::run(s, domain).await {
                    Ok(r) => {
                        lines.push(format!("{domain}:"));
                        lines.extend(r.checks.iter().map(|c| format!("  {c}")));
                        passed &= r.passed;
                    }
                    Err(e) => {
                        send(BackendEvent::Failed(panel("Verification failed", &e)));
                        return;
                    }
                }
            }
            send(BackendEvent::Verified { lines, passed });
        }
        Effect::Verify { domain } => match verify::run(s, &domain).await {
            Ok(r) => send(BackendEvent::Verified {
                lines: r.checks.iter().map(|c| c.to_string()).collect(),
                passed: r.passed,
            }),
            Err(e) => send(BackendEvent::Failed(panel("Verification failed", &e))),
        },
        Effect::Readiness => {
            let r = crate::ops::readiness::readiness(s)
                .await
                .map(Box::new)
                .map_err(|e| e.to_string());
            send(BackendEvent::Readiness(r));
        }
        Effect::LoadStaged => match load_staged(s).await {
            Ok(info) => send(BackendEvent::Staged(Box::new(info))),
            Err(e) => send(BackendEvent::Failed(panel(
                "Reading the staged rollout failed",
                &e,
            ))),
        },
        Effect::PrepareStaged { change } => {
            *current = Task::StagedRollout;
            match staged_rollout::prepare(s, &change).await {
                Ok(p) => {
                    send(BackendEvent::Planned(Box::new(p.plan.clone())));
                    *pending = Pending::Staged(Box::new(p));
                }
                Err(e) => send(BackendEvent::Failed(panel("Preparing failed", &e))),
            }
        }
        Effect::WatchSignIns { domains, .. } => {
            let since = time::OffsetDateTime::now_utc() - time::Duration::minutes(15);
            let mut w = crate::ops::signins::Watch::new(domains, since);
            let r = match w.look(s).await {
                Ok(summary) => Ok(Box::new(summary)),
                Err(e) => match crate::ops::signins::unavailable(&e) {
                    Some(why) => Err(format!(
                        "Sign-in logs cannot be read: {why}. {}",
                        crate::ops::signins::FALLBACK
                    )),
                    None => Err(format!("The sign-in log could not be read: {e}")),
                },
            };
            send(BackendEvent::SignIns(r));
        }
        Effect::WatchHashes { previous } => {
            let before = previous.as_deref().and_then(parse_graph_time);
            let found = status::last_password_sync(s)
                .await
                .filter(|t| parse_graph_time(t).is_some_and(|at| before.is_none_or(|b| at > b)));
            send(BackendEvent::Hashes(found));
        }
        Effect::Connect { .. } | Effect::Exit => {}
    }
}

/// The staged rollout, and the first names of the tenant's groups to type from.
async fn load_staged(s: &Session) -> Result<super::app::StagedInfo, OpsError> {
    let v = staged_rollout::show(s).await?;
    let some: Vec<crate::graph::models::Group> = s
        .graph
        .pages("/v1.0/groups?$select=id,displayName&$top=12")
        .next_page()
        .await?
        .unwrap_or_default()
        .into_iter()
        .filter_map(|g| serde_json::from_value(g).ok())
        .collect();
    Ok(super::app::StagedInfo {
        enabled: v.enabled,
        exists: v.policy.is_some(),
        groups: v
            .groups
            .iter()
            .map(|g| (g.id.clone(), g.display_name.clone(), g.describe()))
            .collect(),
        pilot_user: v.groups.iter().find_map(|g| g.sample_user.clone()),
        some_groups: some.into_iter().filter_map(|g| g.display_name).collect(),
    })
}

/// How long a watch waits before its next look (`None`: it looks now). Password syncs run every
/// two minutes at best; the sign-in log lags by minutes on a real tenant, not on the rehearsal's.
fn pause_before(effect: &Effect, s: Option<&Session>) -> Option<std::time::Duration> {
    let rehearsal = s.is_some_and(|s| s.rehearsal.is_some());
    match effect {
        Effect::WatchHashes { .. } => Some(std::time::Duration::from_secs(2)),
        Effect::WatchSignIns { first: false, .. } => {
            Some(std::time::Duration::from_secs(if rehearsal {
                2
            } else {
                30
            }))
        }
        _ => None,
    }
}

async fn control(s: &Session, c: Control) -> String {
    let Some(emu) = &s.rehearsal else {
        return "Rehearsal controls exist only on the rehearsal tenant".into();
    };
    let info = emu.info();
    let service = info.adfs.keys().next().cloned().unwrap_or_default();
    // The morning after happens in the first managed domain with synchronized users.
    let morning_domain = if c == Control::Morning {
        status::status(s).await.ok().and_then(|st| {
            st.domains
                .iter()
                .find(|d| {
                    d.is_root
                        && d.authentication_type == "Managed"
                        && !d.id.ends_with(".onmicrosoft.com")
                })
                .map(|d| d.id.clone())
        })
    } else {
        None
    };
    let (path, body, done) = match c {
        Control::Morning => {
            let Some(d) = morning_domain else {
                return "No managed domain: fail one over first".into();
            };
            (
                "/morning".into(),
                serde_json::json!({"domain": d, "users": 40, "wrong_password": 6, "unsynced": 4}),
                format!(
                    "40 users of {d} signed in (simulated): 6 with a wrong password, 4 before their hash arrived"
                ),
            )
        }
        Control::FarmDown => (
            format!("/adfs/{service}"),
            serde_json::json!({"state": "down"}),
            format!("AD FS {service} is down (simulated)"),
        ),
        Control::FarmUp => (
            format!("/adfs/{service}"),
            serde_json::json!({"state": "up"}),
            format!("AD FS {service} is back (simulated)"),
        ),
        Control::Rollover => (
            format!("/adfs/{service}"),
            serde_json::json!({"state": "rollover"}),
            "The farm lists a next signing certificate".into(),
        ),
        Control::Promote => (
            format!("/adfs/{service}"),
            serde_json::json!({"state": "promote"}),
            "The farm signs with its new certificate".into(),
        ),
        Control::Sync => (
            "/sync".into(),
            serde_json::json!({}),
            "A sync cycle ran".into(),
        ),
        Control::ConnectScript => (
            "/connect/script".into(),
            serde_json::json!({}),
            "Ran the script on the Connect server (simulated): its password sync is on".into(),
        ),
        Control::SsoScript => (
            "/connect/sso-script".into(),
            serde_json::json!({}),
            "Ran the Seamless SSO script on the Connect server (simulated): every forest has Seamless SSO".into(),
        ),
        Control::AdvanceClock => (
            "/clock".into(),
            serde_json::json!({"advance_s": 600}),
            "The clock moved on 10 minutes".into(),
        ),
    };
    let result = async {
        let r = s
            .http
            .post(format!("{}{path}", info.control_url))
            .bearer_auth(&info.control_token)
            .json(&body)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if r.status().is_success() {
            Ok(())
        } else {
            let v: serde_json::Value = r.json().await.unwrap_or_default();
            Err(v["error"]["message"]
                .as_str()
                .unwrap_or("refused")
                .to_string())
        }
    }
    .await;
    match result {
        Ok(()) => done,
        Err(e) => format!("Rehearsal control failed: {e}"),
    }
}

fn metadata_url(service: &str) -> Result<url::Url, OpsError> {
    let ok = !service.is_empty()
        && service.len() <= 253
        && service
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !ok {
        return Err(OpsError::Input(format!(
            "{service:?} is not a federation service name (such as sts.contoso.com)"
        )));
    }
    url::Url::parse(&format!(
        "https://{service}/FederationMetadata/2007-06/FederationMetadata.xml"
    ))
    .map_err(|e| OpsError::Input(format!("{service}: {e}")))
}

async fn load_farm(s: &Session, service: &str) -> Result<FarmInfo, String> {
    let url = metadata_url(service).map_err(|e| e.to_string())?;
    let m = farm::fetch_metadata(s, &url).await.map_err(|e| e.0)?;
    Ok(FarmInfo {
        service: service.to_string(),
        entity_id: m.entity_id,
        certificates: m
            .signing_certificates
            .iter()
            .map(|c| {
                format!(
                    "{}, expires {}",
                    c.sha1_thumbprint,
                    time::OffsetDateTime::from_unix_timestamp(c.not_after_unix)
                        .map(crate::graph::models::graph_time)
                        .unwrap_or_default()
                )
            })
            .collect(),
    })
}

/// The farm's metadata as the source; a farm that already federates another domain under its own
/// identifier gets a per-domain issuer, as multi-domain federation needs.
async fn metadata_source(
    s: &Session,
    service: &str,
    domain: &str,
) -> Result<switch_back::Source, OpsError> {
    let url = metadata_url(service)?;
    let m = farm::fetch_metadata(s, &url)
        .await
        .map_err(|e| OpsError::Refused(e.0))?;
    let st = status::status(s).await?;
    let taken = st
        .domains
        .iter()
        .any(|d| d.issuer_uri.as_deref() == Some(m.entity_id.as_str()));
    Ok(switch_back::Source::Metadata {
        url: url.to_string(),
        issuer: taken.then(|| format!("http://{domain}/adfs/services/trust/")),
    })
}

async fn prepare_reset(s: &Session, domain: &str) -> Result<reset_trust::Prepared, OpsError> {
    let Some((fed, _)) = status::federation(s, domain).await? else {
        return Err(OpsError::Refused(format!("{domain} is not federated")));
    };
    let url = fed
        .passive_sign_in_uri
        .as_deref()
        .and_then(farm::metadata_url_for)
        .ok_or_else(|| {
            OpsError::Input(format!("{domain}: its federation settings name no farm"))
        })?;
    let dir = s.home.join("scripts");
    crate::ops::journal::private_dir(&dir)?;
    let o = reset_trust::Options {
        domain: domain.to_string(),
        metadata_url: url.to_string(),
        adfs_script: Some(dir.join(format!(
            "reset-trust-{}.ps1",
            crate::ops::journal::tenant_dir_name(domain)
        ))),
        replace_claim_rules: false,
    };
    reset_trust::prepare(s, &o).await
}

/// Several domains' plans as the one plan Ready to configure shows and one confirmation covers:
/// each check named with its domain, the steps in order.
fn one_plan(tenant: &str, ps: &[switch_back::Prepared]) -> crate::ops::plan::Plan {
    if let [p] = ps {
        return p.plan.clone();
    }
    let mut plan = crate::ops::plan::Plan::new(
        &format!(
            "Change user sign-in to federation with AD FS: {} domains",
            ps.len()
        ),
        tenant,
    );
    for p in ps {
        for c in &p.plan.checks {
            plan.check(
                &format!("{}: {}", p.domain, c.name),
                c.outcome,
                c.detail.clone(),
            );
        }
        plan.steps.extend(p.plan.steps.iter().cloned());
    }
    plan
}
