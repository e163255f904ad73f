use ratatui::text::{Line, Span};

use super::row;
use crate::wizard::app::{State, Task};
use crate::wizard::theme::Theme;

pub fn welcome(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        // One paragraph: the terminal wraps it at its own width.
        Line::from(
            "Move sign-in for federated domains from AD FS to password hash sync, prove users can sign in, and switch back later. Choose the tenant to configure:",
        ),
        Line::from(""),
    ];
    for (i, p) in s.profiles.iter().enumerate() {
        let label = if p == crate::auth::profile::REHEARSAL {
            "rehearsal tenant (simulated, no account needed)".to_string()
        } else {
            format!("profile {p}")
        };
        lines.push(row(i == s.focus, label, t));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Enter: Configure", t.dim)));
    lines
}

pub fn connect(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(format!("Profile: {}", s.profile)),
        Line::from(""),
    ];
    match &s.who {
        None => lines.push(Line::from("Signing in…")),
        Some(who) => {
            lines.push(Line::from(format!("Signed in as {who}")));
            // Whether this account could sign in again with the farm down.
            if let Some(o) = s.status.as_ref().map(|st| &st.operator) {
                let style = match o.outcome {
                    crate::ops::plan::Outcome::Warn | crate::ops::plan::Outcome::Fail => t.bad,
                    _ => t.good,
                };
                lines.push(Line::from(vec![
                    Span::raw("Your sign-in: "),
                    Span::styled(o.detail.clone(), style),
                ]));
            }
            lines.push(Line::from(""));
            lines.push(Line::from("Permissions for each task:"));
            let show = |name: &str, missing: &[String]| {
                if missing.is_empty() {
                    Line::from(vec![
                        Span::raw(format!("  {name}: ")),
                        Span::styled("granted", t.good),
                    ])
                } else {
                    Line::from(vec![
                        Span::raw(format!("  {name}: ")),
                        Span::styled(format!("missing {}", missing.join("; ")), t.bad),
                    ])
                }
            };
            lines.push(show("Turn on password hash sync", &s.missing_phs));
            lines.push(show("Change user sign-in", &s.missing_convert));
            lines.push(show("Staged rollout", &s.missing_staged));
            if let Some(st) = &s.status {
                lines.push(Line::from(""));
                lines.push(Line::from(format!(
                    "Sync engine: {}",
                    st.sync_engines.describe()
                )));
                lines.push(Line::from(vec![
                    Span::raw("Password hashes: "),
                    if st.password_hashes_arriving {
                        Span::styled("arriving", t.good)
                    } else {
                        Span::styled("not arriving", t.bad)
                    },
                ]));
                for u in &st.sync_engines.unknown {
                    lines.push(Line::from(format!("  {u}")));
                }
                if !st.interrupted.is_empty() {
                    lines.push(Line::from(""));
                    lines.push(Line::from(Span::styled(
                        format!(
                            "Interrupted changes: {} (Enter finishes them first)",
                            st.interrupted.len()
                        ),
                        t.warn,
                    )));
                }
            }
        }
    }
    lines
}

/// The changes a run left without an outcome, and then what finishing them did.
pub fn resume(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![];
    match &s.resumed {
        None => {
            lines.push(Line::from(
                "A run stopped before it could record how these changes ended:",
            ));
            lines.push(Line::from(""));
            for i in s.status.iter().flat_map(|st| st.interrupted.iter()) {
                lines.push(Line::from(format!("  {i}")));
            }
            lines.push(Line::from(""));
            lines.push(Line::from(
                "Enter reads each domain's real state and finishes the change, or records that",
            ));
            lines.push(Line::from(
                "it was already made (as `entra-failover resume`); nothing is done twice.",
            ));
        }
        Some(done) => {
            lines.push(Line::from("Finished:"));
            lines.push(Line::from(""));
            for l in done {
                let style = if l.contains(": needs you") {
                    t.bad
                } else {
                    t.good
                };
                lines.push(Line::from(Span::styled(format!("  {l}"), style)));
            }
            if done.is_empty() {
                lines.push(Line::from("  Nothing was left to finish."));
            }
            lines.push(Line::from(""));
            lines.push(Line::from("Enter goes on to Additional tasks."));
        }
    }
    lines
}

pub fn tasks(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from("Select a task:"), Line::from("")];
    for (i, task) in Task::ALL.iter().enumerate() {
        lines.push(row(i == s.focus, format!("{}. {}", i + 1, task.label()), t));
    }
    lines
}
