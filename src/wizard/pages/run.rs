use ratatui::text::{Line, Span};

use crate::wizard::app::State;
use crate::wizard::theme::Theme;

/// How much of a plan line shows before it is cut short (three lines of a wide terminal).
const LONG: usize = 200;

pub fn ready(s: &State, _t: &Theme) -> Vec<Line<'static>> {
    match &s.plan {
        None => vec![Line::from("Preparing the plan…")],
        Some(p) => {
            let mut lines = vec![
                Line::from(
                    "Ready to configure. These are the exact changes, as --dry-run prints them:",
                ),
                Line::from(""),
            ];
            // A long body (a domain's whole federation settings) is cut to its start unless asked
            // for: the steps stay readable, and `v` shows every byte that will be sent.
            let limit = (!s.plan_full).then_some(LONG);
            lines.extend(p.text(limit).lines().map(|l| Line::from(l.to_string())));
            if p.has_body_over(LONG) {
                lines.push(Line::from(""));
                lines.push(Line::from(if s.plan_full {
                    "Every body in full; press v to cut long ones short."
                } else {
                    "Long bodies are cut short: press v to see them whole."
                }));
            }
            lines
        }
    }
}

pub fn configuring(s: &State, _t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from("Configuring…"), Line::from("")];
    let start = s.log.len().saturating_sub(14);
    lines.extend(s.log[start..].iter().map(|l| Line::from(l.clone())));
    lines
}

/// Who signs in after the cutover, refreshed while the page shows.
pub fn signins(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let domains = s.selected.iter().cloned().collect::<Vec<_>>().join(", ");
    let mut lines = vec![
        Line::from(format!(
            "Sign-ins of {domains} in the last 15 minutes, from the sign-in log (look {}; it",
            s.signin_looks
        )),
        Line::from("refreshes while this page shows; events reach the log within minutes)."),
        Line::from(""),
    ];
    match &s.signins {
        None => lines.push(Line::from("Reading the sign-in log…")),
        Some(Err(why)) => {
            lines.push(Line::from(Span::styled(why.clone(), t.warn)));
        }
        Some(Ok(sum)) => {
            lines.push(Line::from(vec![
                Span::raw(format!("{} sign-ins: ", sum.total)),
                Span::styled(format!("{} succeeded", sum.succeeded), t.good),
                Span::raw(if sum.single_sign_on > 0 {
                    format!(" ({} by Seamless single sign-on)", sum.single_sign_on)
                } else {
                    String::new()
                }),
                Span::raw(", "),
                Span::styled(
                    format!("{} failed", sum.failed),
                    if sum.failed > 0 { t.bad } else { t.good },
                ),
                Span::raw("."),
            ]));
            if !sum.failures.is_empty() {
                lines.push(Line::from(""));
                lines.push(Line::from("Top failures:"));
            }
            for f in &sum.failures {
                lines.push(Line::from(format!(
                    "  AADSTS{} × {}: {}",
                    f.code, f.count, f.meaning
                )));
                lines.push(Line::from(format!("    {}", f.who())));
            }
        }
    }
    lines.push(Line::from(""));
    if s.rehearsal {
        lines.push(Line::from(
            "Rehearsal: F2 then 8 makes the morning after (users sign in, some fail); 9 runs the Seamless SSO script.",
        ));
    }
    lines.push(Line::from("Enter: Test sign-in of one user."));
    lines
}

/// The runbook's "Enable single sign-on" after a failover: the script the pre-flight wrote, still
/// to be run on the Connect server.
fn single_sign_on(s: &State) -> Vec<Line<'static>> {
    if s.flow != crate::wizard::app::Flow::Failover {
        return vec![];
    }
    s.plan
        .as_ref()
        .and_then(|p| p.checks.iter().find(|c| c.name == "Seamless SSO"))
        .map(|c| {
            vec![
                Line::from(""),
                Line::from(format!("Enable single sign-on: {}.", c.detail)),
            ]
        })
        .unwrap_or_default()
}

pub fn complete(s: &State, _t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from("Configuration complete."), Line::from("")];
    if let Some(w) = &s.hashes {
        // The live panel first: the step is not done until password hashes arrive.
        match &w.arrived {
            Some(t) => {
                lines.push(Line::from(format!(
                    "Password hashes: arriving (a password sync ran at {t})."
                )));
                lines.push(Line::from(
                    "Nothing is left to run: the sync engine sends password hashes.",
                ));
            }
            None => {
                lines.push(Line::from(format!(
                    "Password hashes: none yet; watching for the first password sync (check {}).",
                    w.looks
                )));
                lines.push(Line::from(
                    "Until they arrive, users cannot sign in; a first full sync can take 3 hours.",
                ));
                if !w.next_steps.is_empty() {
                    lines.push(Line::from(w.next_steps.clone()));
                }
                if s.rehearsal {
                    lines.push(Line::from(
                        "Rehearsal: F2 then 6 runs the script on the Connect server, 5 a sync cycle.",
                    ));
                }
            }
        }
        lines.push(Line::from(""));
        lines.extend(s.summary.iter().map(|l| Line::from(l.clone())));
        lines.extend(single_sign_on(s));
        return lines;
    }
    lines.extend(s.summary.iter().map(|l| Line::from(l.clone())));
    lines.extend(single_sign_on(s));
    lines.push(Line::from(""));
    lines.push(Line::from(
        if s.flow == crate::wizard::app::Flow::Failover {
            "Next: sign-in changes take effect within minutes, up to 60; then see who signs in."
        } else {
            "Next: sign-in changes take effect within minutes, up to 60; then test a user's sign-in."
        },
    ));
    lines
}
