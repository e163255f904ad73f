//! Change user sign-in: to password hash sync (the failover), or on to the switch-back pages.

use super::*;

pub(super) fn next(s: &mut State) -> Vec<Effect> {
    match s.page {
        Page::UserSignIn => match s.sign_in {
            SignIn::DoNotConfigure => {
                s.go(Page::Tasks);
                vec![]
            }
            SignIn::PasswordHashSync => {
                s.flow = Flow::Failover;
                // As in the runbook: with single sign-on ticked, its page comes next.
                s.go(if s.sso {
                    Page::EnableSso
                } else {
                    Page::Domains
                });
                vec![]
            }
            SignIn::Federation => {
                s.flow = Flow::SwitchBack;
                s.back.clear();
                if s.farm_service.is_empty() {
                    s.farm_service = s
                        .status
                        .iter()
                        .flat_map(|st| st.farms.iter())
                        .map(|f| f.service.clone())
                        .next()
                        .unwrap_or_default();
                }
                s.farm = None;
                s.farm_error = None;
                s.go(Page::AdfsFarm);
                vec![Effect::LoadBackups]
            }
        },
        Page::EnableSso => {
            s.go(Page::Domains);
            vec![]
        }
        Page::Domains => {
            s.plan = None;
            s.confirm.clear();
            s.go(Page::Preflight);
            s.busy = Some("running the pre-flight checks".into());
            vec![Effect::PrepareFailover {
                domains: s.selected.iter().cloned().collect(),
                sso: s.sso,
            }]
        }
        Page::Preflight => {
            s.go(Page::Ready);
            vec![]
        }
        _ => vec![],
    }
}
