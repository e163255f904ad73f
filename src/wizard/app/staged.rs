//! Staged rollout of password hash sync: tick the groups that stay, type the ones to add, or end it.

use super::*;
use crate::ops::staged_rollout::Change;

pub(super) fn toggle(s: &mut State) {
    let add_row = s.staged_add_row();
    if s.focus == add_row + 1 {
        s.staged_end = !s.staged_end;
    } else if let Some((id, _, _)) = s.staged.as_ref().and_then(|v| v.groups.get(s.focus))
        && !s.staged_keep.remove(id)
    {
        s.staged_keep.insert(id.clone());
    }
}

/// The groups the page asks for: those kept, then those typed (names or ids, comma-separated).
fn wanted(s: &State) -> Vec<String> {
    let mut out: Vec<String> = s
        .staged
        .iter()
        .flat_map(|v| v.groups.iter())
        .filter(|g| s.staged_keep.contains(&g.0))
        .map(|g| g.0.clone())
        .collect();
    for name in s
        .staged_add
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            out.push(name.to_string());
        }
    }
    out
}

pub(super) fn next(s: &mut State) -> Vec<Effect> {
    let Some(view) = s.staged.as_ref() else {
        return vec![];
    };
    let change = if s.staged_end {
        if !view.exists {
            s.notice = Some("There is no staged rollout to end: nothing to change".into());
            return vec![];
        }
        Change::End
    } else {
        let wanted = wanted(s);
        let same = view.enabled
            && s.staged_add.trim().is_empty()
            && s.staged_keep.len() == view.groups.len();
        if same {
            s.notice = Some(
                "Nothing to change: untick a group to remove it, type a group to add, or tick End"
                    .into(),
            );
            return vec![];
        }
        Change::Set(wanted)
    };
    s.staged_change = Some(change.clone());
    s.plan = None;
    s.go(Page::Ready);
    s.busy = Some("preparing the plan".into());
    vec![Effect::PrepareStaged { change }]
}
