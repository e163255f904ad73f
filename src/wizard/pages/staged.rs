//! Staged rollout: the pilot groups that sign in with password hash sync while their domain stays
//! federated.

use ratatui::text::{Line, Span};

use super::{checkbox, row};
use crate::ops::staged_rollout::MAX_GROUPS;
use crate::wizard::app::State;
use crate::wizard::theme::Theme;

pub fn staged_rollout(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(
            "Pilot groups sign in with their password hash while their domain stays federated; everyone else still signs in at AD FS. Browsers and modern authentication only.",
        ),
        Line::from(""),
    ];
    let Some(v) = &s.staged else {
        lines.push(Line::from("Reading the staged rollout…"));
        return lines;
    };
    lines.push(Line::from(match (v.exists, v.enabled) {
        (false, _) => "Staged rollout of password hash sync: none yet.".to_string(),
        (true, true) => format!(
            "Staged rollout of password hash sync: on, {} group(s).",
            v.groups.len()
        ),
        (true, false) => "Staged rollout of password hash sync: off.".to_string(),
    }));
    lines.push(Line::from(""));
    if !v.groups.is_empty() {
        lines.push(Line::from("Groups in it (Space: untick to remove):"));
    }
    for (i, (id, name, members)) in v.groups.iter().enumerate() {
        lines.push(row(
            i == s.focus,
            format!("{} {name}  {members}", checkbox(s.staged_keep.contains(id))),
            t,
        ));
    }
    let add_row = s.staged_add_row();
    lines.push(row(
        s.focus == add_row,
        format!(
            "Add groups (names or ids, commas between): {}_",
            s.staged_add
        ),
        t,
    ));
    lines.push(row(
        s.focus == add_row + 1,
        format!(
            "{} End the staged rollout (every group leaves; the backup keeps it)",
            checkbox(s.staged_end)
        ),
        t,
    ));
    lines.push(Line::from(""));
    if !v.some_groups.is_empty() {
        lines.push(Line::from(format!(
            "Groups in this tenant: {}",
            v.some_groups.join(", ")
        )));
    }
    lines.push(Line::from(Span::styled(
        format!(
            "Microsoft's limits: at most {MAX_GROUPS} groups; no dynamic or nested groups; no contacts in a group. The plan checks each group before anything is sent."
        ),
        t.dim,
    )));
    lines
}
