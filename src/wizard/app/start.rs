//! Signing in, finishing what an interrupted run left, and choosing a task.

use super::*;

pub(super) fn next(s: &mut State) -> Vec<Effect> {
    match s.page {
        Page::Welcome => {
            s.profile = s
                .profiles
                .get(s.focus)
                .cloned()
                .unwrap_or_else(|| s.profile.clone());
            s.rehearsal = s.profile == crate::auth::profile::REHEARSAL;
            s.go(Page::Connect);
            s.busy = Some(format!("signing in to {}", s.profile));
            vec![Effect::Connect {
                profile: s.profile.clone(),
            }]
        }
        Page::Connect => {
            // What a crash or a closed laptop left comes first: nothing else should start on top.
            let interrupted = s
                .status
                .as_ref()
                .is_some_and(|st| !st.interrupted.is_empty());
            if interrupted {
                s.resumed = None;
                s.go(Page::Resume);
            } else {
                s.go(Page::Tasks);
            }
            vec![]
        }
        Page::Resume => match &s.resumed {
            None if !s.in_flight => {
                s.in_flight = true;
                s.busy = Some("finishing the interrupted changes".into());
                vec![Effect::Resume]
            }
            None => vec![],
            Some(_) => {
                s.go(Page::Tasks);
                vec![]
            }
        },
        Page::Tasks => {
            s.task = Task::ALL[s.focus.min(Task::ALL.len() - 1)];
            match s.task {
                Task::ViewConfig => {
                    s.go(Page::ViewConfig);
                    s.busy = Some("reading the tenant".into());
                    vec![Effect::Refresh]
                }
                Task::SyncOptions => {
                    s.hashes = None;
                    s.phs_checked = s.status.as_ref().is_some_and(|st| st.password_hash_sync);
                    s.go(Page::OptionalFeatures);
                    vec![]
                }
                Task::ChangeSignIn => {
                    s.go(Page::UserSignIn);
                    vec![]
                }
                Task::ManageFederation => {
                    s.go(Page::ManageFederation);
                    vec![]
                }
                Task::StagedRollout => {
                    s.flow = Flow::Staged;
                    s.staged = None;
                    s.staged_add.clear();
                    s.staged_end = false;
                    s.go(Page::StagedRollout);
                    s.busy = Some("reading the staged rollout".into());
                    vec![Effect::LoadStaged]
                }
                Task::Readiness => {
                    s.readiness = None;
                    s.go(Page::Readiness);
                    s.busy = Some("checking readiness (read-only)".into());
                    vec![Effect::Readiness]
                }
            }
        }
        Page::ViewConfig | Page::Readiness => {
            s.go(Page::Tasks);
            vec![]
        }
        _ => vec![],
    }
}
