//! Manage federation: reset the trust, verify connectivity.

use super::*;

pub(super) fn next(s: &mut State) -> Vec<Effect> {
    match s.page {
        Page::ManageFederation => match s.focus {
            0 | 1 => {
                s.flow = if s.focus == 0 {
                    Flow::ResetTrust
                } else {
                    Flow::VerifyOnly
                };
                s.go(Page::TrustDomain);
                vec![]
            }
            _ => {
                s.go(Page::TestSignin);
                vec![]
            }
        },
        Page::TrustDomain => {
            let roots = s.federated_roots();
            let domain = roots
                .get(s.focus.min(roots.len().saturating_sub(1)))
                .cloned()
                .unwrap_or_default();
            s.target = Some(domain.clone());
            if s.flow == Flow::VerifyOnly {
                s.verify = None;
                s.go(Page::Verify);
                s.busy = Some(format!("verifying {domain}"));
                return vec![Effect::Verify { domain }];
            }
            s.plan = None;
            s.certificates.clear();
            s.go(Page::Certificates);
            s.busy = Some("reading the farm's certificates".into());
            vec![Effect::PrepareResetTrust { domain }]
        }
        Page::Certificates => {
            s.go(Page::Ready);
            vec![]
        }
        Page::Verify => {
            s.go(Page::FederatedLogin);
            vec![]
        }
        _ => vec![],
    }
}
