//! Customize synchronization options: the password hash sync box.

use super::*;

pub(super) fn next(s: &mut State) -> Vec<Effect> {
    match s.page {
        Page::OptionalFeatures => {
            s.flow = Flow::Sync;
            // On means the flag is on and hashes arrive; a flag without hashes still needs the
            // engine's part (the Connect server's script, Cloud Sync's job).
            let already = s
                .status
                .as_ref()
                .is_some_and(|st| st.password_hash_sync && st.password_hashes_arriving);
            if !s.phs_checked || already {
                // Said on the page it returns to (going there clears the old page's notice).
                s.go(Page::Tasks);
                s.notice = Some(
                    if already {
                        "Password hash synchronization is already on, and hashes arrive: nothing to change"
                    } else {
                        "Nothing to change: no optional feature was switched on"
                    }
                    .into(),
                );
                return vec![];
            }
            s.plan = None;
            s.go(Page::Ready);
            s.busy = Some("preparing the plan".into());
            vec![Effect::PrepareEnablePhs]
        }
        _ => vec![],
    }
}
