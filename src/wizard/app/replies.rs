//! What the backend reports back, folded into the state; some replies start more work.

use super::*;

pub(super) fn backend(s: &mut State, e: BackendEvent) -> Vec<Effect> {
    match e {
        BackendEvent::Connected {
            who,
            missing_phs,
            missing_convert,
            missing_staged,
            status,
            sample_user,
        } => {
            s.busy = None;
            s.sample_user = sample_user;
            s.who = Some(who);
            s.missing_phs = missing_phs;
            s.missing_convert = missing_convert;
            s.missing_staged = missing_staged;
            s.status = Some(*status);
        }
        BackendEvent::Status(st) => {
            s.busy = None;
            s.status = Some(*st);
        }
        BackendEvent::Planned(p) => {
            s.busy = None;
            s.plan = Some(*p);
        }
        BackendEvent::Progress(line) => s.log.push(line),
        BackendEvent::Done(summary) => {
            s.in_flight = false;
            s.busy = None;
            s.summary = summary;
            if s.page == Page::Configuring {
                s.page = Page::Complete;
                s.focus = 0;
            }
            return vec![Effect::Refresh];
        }
        BackendEvent::Failed(panel) => {
            s.in_flight = false;
            s.busy = None;
            s.error = Some(panel);
        }
        BackendEvent::Resumed(lines) => {
            s.in_flight = false;
            s.busy = None;
            s.resumed = Some(lines);
            return vec![Effect::Refresh];
        }
        BackendEvent::Control(msg) => {
            s.notice = Some(msg);
            return vec![Effect::Refresh];
        }
        BackendEvent::AwaitHashes {
            previous,
            next_steps,
        } => {
            s.hashes = Some(HashesWatch {
                previous: previous.clone(),
                looks: 0,
                arrived: None,
                next_steps,
            });
            return vec![Effect::WatchHashes { previous }];
        }
        BackendEvent::Hashes(found) => {
            // The watch goes on while its page shows; leaving the page ends it.
            if let Some(w) = s.hashes.as_mut().filter(|_| s.page == Page::Complete) {
                w.looks += 1;
                match found {
                    Some(t) => w.arrived = Some(t),
                    None => {
                        return vec![Effect::WatchHashes {
                            previous: w.previous.clone(),
                        }];
                    }
                }
            }
        }
        BackendEvent::SignIn(result) => {
            s.busy = None;
            s.signin_result = Some(result);
        }
        BackendEvent::Backups(b) => {
            // Every domain may be managed now, so that no status names the farm: the backups do.
            if s.farm_service.trim().is_empty()
                && let Some(farm) = b
                    .iter()
                    .filter(|x| x.farm.is_some())
                    .max_by(|x, y| x.taken_at.cmp(&y.taken_at))
                    .and_then(|x| x.farm.clone())
            {
                s.farm_service = farm;
            }
            s.backups = b;
        }
        BackendEvent::Farm(result) => {
            s.busy = None;
            match result {
                Ok(f) => {
                    s.farm = Some(f);
                    s.farm_error = None;
                }
                Err(e) => s.farm_error = Some(e),
            }
        }
        BackendEvent::Certificates(rows) => s.certificates = rows,
        BackendEvent::Readiness(r) => {
            s.busy = None;
            s.readiness = Some(r);
        }
        BackendEvent::SignIns(r) => {
            s.busy = None;
            // The watch goes on while its page shows and the log can be read.
            if s.page != Page::SignIns {
                return vec![];
            }
            s.signin_looks += 1;
            let again = r.is_ok();
            s.signins = Some(r.map(|b| *b));
            if again {
                return vec![Effect::WatchSignIns {
                    domains: s.selected.iter().cloned().collect(),
                    first: false,
                }];
            }
        }
        BackendEvent::Staged(info) => {
            s.busy = None;
            s.staged_keep = info.groups.iter().map(|g| g.0.clone()).collect();
            s.staged = Some(*info);
        }
        BackendEvent::Verified { lines, passed } => {
            s.busy = None;
            s.verify = Some((lines, passed));
        }
    }
    vec![]
}
