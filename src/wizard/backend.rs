//! The wizard's backend: it runs the operations the pages ask for on a tokio task and reports back
//! through a channel, so that no frame ever waits on the network.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

use super::app::{BackendEvent, Control, Effect, ErrorPanel, Task};
use crate::auth::claims::Task as Permission;
use crate::ops::{OpsError, Progress, Session, enable_phs, failover, status, test_signin};

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
    while let Some(effect) = effects.recv().await {
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
                            status: Box::new(st),
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
            match enable_phs::prepare(s).await {
                Ok(p) => {
                    send(BackendEvent::Planned(Box::new(p.plan.clone())));
                    *pending = Pending::EnablePhs(p);
                }
                Err(e) => send(BackendEvent::Failed(panel("Preparing failed", &e))),
            }
        }
        Effect::PrepareFailover { domains } => {
            *current = Task::ChangeSignIn;
            let o = failover::Options {
                domains,
                all_federated: false,
                sync_window: std::time::Duration::from_secs(3 * 3600),
                accept_unsynced: false,
            };
            match failover::prepare(s, &o).await {
                Ok(p) => {
                    send(BackendEvent::Planned(Box::new(p.plan.clone())));
                    *pending = Pending::Failover(p);
                }
                Err(e) => send(BackendEvent::Failed(panel("Pre-flight failed", &e))),
            }
        }
        Effect::Run => match std::mem::replace(pending, Pending::None) {
            Pending::EnablePhs(p) => match enable_phs::run(s, p, progress).await {
                Ok(r) => send(BackendEvent::Done(vec![
                    format!(
                        "Password hash synchronization: on{}",
                        if r.changed { " (changed now)" } else { "" }
                    ),
                    r.note,
                    "Journal: entra-failover history".into(),
                ])),
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
                    send(BackendEvent::Done(lines));
                }
                Err(e) => send(BackendEvent::Failed(panel("Configuring failed", &e))),
            },
            Pending::None => send(BackendEvent::Failed(panel(
                "Nothing to run",
                &OpsError::Input("prepare the change first".into()),
            ))),
        },
        Effect::Control(c) => {
            let msg = control(s, c).await;
            send(BackendEvent::Control(msg));
        }
        Effect::TestSignIn { upn, password } => {
            let pw = (!password.is_empty()).then(|| secrecy::SecretString::from(password));
            let text = match test_signin::run(s, &upn, pw.as_ref()).await {
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
        Effect::Connect { .. } | Effect::Exit => {}
    }
}

async fn control(s: &Session, c: Control) -> String {
    let Some(emu) = &s.rehearsal else {
        return "Rehearsal controls exist only on the rehearsal tenant".into();
    };
    let info = emu.info();
    let service = info.adfs.keys().next().cloned().unwrap_or_default();
    let (path, body, done) = match c {
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
