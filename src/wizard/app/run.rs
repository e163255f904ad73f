//! Every change's last pages: the plan, the run, its outcome, and the sign-in test that proves it.

use super::*;

pub(super) fn next(s: &mut State) -> Vec<Effect> {
    match s.page {
        Page::Ready => {
            s.log.clear();
            s.go(Page::Configuring);
            s.in_flight = true;
            vec![Effect::Run]
        }
        Page::Configuring => vec![],
        Page::Complete => {
            s.history.clear();
            s.history.push(Page::Tasks);
            s.focus = 0;
            if s.flow == Flow::SwitchBack && !s.back.is_empty() {
                let domains: Vec<String> = s.back.iter().cloned().collect();
                s.verify = None;
                s.page = Page::Verify;
                s.busy = Some(format!("verifying {}", domains.join(", ")));
                return vec![Effect::VerifyAll { domains }];
            }
            if matches!(s.flow, Flow::SwitchBack | Flow::ResetTrust) {
                let domain = s.target.clone().unwrap_or_default();
                s.verify = None;
                s.page = Page::Verify;
                s.busy = Some(format!("verifying {domain}"));
                return vec![Effect::Verify { domain }];
            }
            if s.flow == Flow::Staged
                && let Some(u) = s.staged.as_ref().and_then(|v| v.pilot_user.clone())
            {
                s.upn = u;
            }
            // After a failover: who signs in now, from the sign-in log, before one user's test.
            if s.flow == Flow::Failover && !s.selected.is_empty() {
                s.page = Page::SignIns;
                s.signins = None;
                s.signin_looks = 0;
                s.busy = Some("reading the sign-in log".into());
                return vec![Effect::WatchSignIns {
                    domains: s.selected.iter().cloned().collect(),
                    first: true,
                }];
            }
            s.page = Page::TestSignin;
            s.offer_sample_user();
            vec![]
        }
        Page::SignIns => {
            s.go(Page::TestSignin);
            vec![]
        }
        Page::TestSignin | Page::FederatedLogin => {
            if s.upn.trim().is_empty() {
                s.notice = Some("type a user principal name".into());
                return vec![];
            }
            s.signin_result = None;
            s.busy = Some(format!("testing the sign-in of {}", s.upn.trim()));
            vec![Effect::TestSignIn {
                upn: s.upn.trim().to_string(),
                password: s.password.take(),
            }]
        }
        _ => vec![],
    }
}
