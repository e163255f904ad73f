//! The pages of switching back to federation and of Manage federation.

use ratatui::text::{Line, Span};

use super::{checkbox, radio, row};
use crate::wizard::app::{FEDERATION_JOBS, State};
use crate::wizard::theme::Theme;

pub fn adfs_farm(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from(
            "The AD FS farm to federate with. Its federation metadata is read over HTTPS and its token-signing certificates are shown before anything changes.",
        ),
        Line::from(""),
        Line::from(format!("Federation service name: {}_", s.farm_service)),
        Line::from(""),
    ];
    match (&s.farm, &s.farm_error) {
        (Some(f), _) => {
            lines.push(Line::from(format!("Identifier: {}", f.entity_id)));
            for (i, c) in f.certificates.iter().enumerate() {
                lines.push(Line::from(format!(
                    "{} signing certificate: {c}",
                    if i == 0 { "Primary" } else { "Next" }
                )));
            }
            lines.push(Line::from(""));
            lines.push(Line::from(Span::styled(
                "The farm answers. Enter: Next",
                t.good,
            )));
        }
        (None, Some(e)) => {
            lines.push(Line::from(Span::styled(
                format!("The farm cannot be read: {e}"),
                t.bad,
            )));
        }
        (None, None) => lines.push(Line::from(Span::styled(
            "Enter reads the farm's metadata.",
            t.dim,
        ))),
    }
    lines
}

pub fn entra_domain(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from("The managed domains to federate with AD FS (Space ticks several; Enter alone"),
        Line::from("takes the one under the cursor):"),
        Line::from(""),
    ];
    let roots = s.managed_roots();
    if roots.is_empty() {
        lines.push(Line::from("No managed domain."));
    }
    for (i, d) in roots.iter().enumerate() {
        let backup = s
            .backup_of(d)
            .map(|b| format!("  (backup taken {})", b.taken_at))
            .unwrap_or_else(|| "  (no backup)".into());
        lines.push(row(
            i == s.focus,
            format!("{} {d}{backup}", checkbox(s.back.contains(d))),
            t,
        ));
    }
    lines
}

pub fn settings_source(s: &State, t: &Theme) -> Vec<Line<'static>> {
    if s.back.len() > 1 {
        return settings_source_many(s, t);
    }
    let domain = s.target.clone().unwrap_or_default();
    let backup = s.backup_of(&domain);
    let mut lines = vec![
        Line::from(format!(
            "Where the federation settings of {domain} come from:"
        )),
        Line::from(""),
    ];
    let label = match backup {
        Some(b) => format!(
            "{} The backup taken at failover, {} (an exact restore)",
            radio(s.from_backup),
            b.taken_at
        ),
        None => format!(
            "{} The backup taken at failover (there is none for {domain})",
            radio(s.from_backup)
        ),
    };
    lines.extend(source_choice(s, label, t));
    lines.push(Line::from(
        "The backup restores the settings byte for byte, the issuer included.",
    ));
    lines
}

pub fn manage(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from("Select a federation task:"), Line::from("")];
    for (i, job) in FEDERATION_JOBS.iter().enumerate() {
        lines.push(row(i == s.focus, job.to_string(), t));
    }
    lines
}

pub fn trust_domain(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from("The federated domain:"), Line::from("")];
    let roots = s.federated_roots();
    if roots.is_empty() {
        lines.push(Line::from("No federated domain."));
    }
    for (i, d) in roots.iter().enumerate() {
        lines.push(row(i == s.focus, d.clone(), t));
    }
    lines
}

pub fn certificates(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![
        Line::from("Microsoft Entra ID's certificates beside the farm's:"),
        Line::from(""),
    ];
    if s.certificates.is_empty() {
        lines.push(Line::from("Reading the farm's metadata…"));
    }
    lines.extend(s.certificates.iter().map(|c| Line::from(c.clone())));
    if let Some(p) = &s.plan {
        lines.push(Line::from(""));
        for c in &p.checks {
            let style = t.outcome(c.outcome);
            lines.push(Line::from(Span::styled(c.to_string(), style)));
        }
    }
    lines
}

pub fn verify(s: &State, t: &Theme) -> Vec<Line<'static>> {
    // Several domains switched back together are verified together.
    let domain = if s.flow == crate::wizard::app::Flow::SwitchBack && s.back.len() > 1 {
        s.back.iter().cloned().collect::<Vec<_>>().join(", ")
    } else {
        s.target.clone().unwrap_or_default()
    };
    let mut lines = vec![
        Line::from(format!("Verify federation connectivity of {domain}:")),
        Line::from(""),
    ];
    match &s.verify {
        None => lines.push(Line::from("Checking…")),
        Some((checks, passed)) => {
            lines.extend(checks.iter().map(|c| Line::from(c.clone())));
            lines.push(Line::from(""));
            lines.push(if *passed {
                Line::from(Span::styled("All checks passed.", t.good))
            } else {
                Line::from(Span::styled("Some checks failed.", t.bad))
            });
            lines.push(Line::from(""));
            lines.push(Line::from(
                "Enter: Verify federated login (a user's password at the farm, as Entra ID asks it).",
            ));
        }
    }
    lines
}

/// Several domains switch back together from one source: each from its own newest backup, or each
/// from the farm's metadata (with its own issuer).
fn settings_source_many(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let names: Vec<&str> = s.back.iter().map(String::as_str).collect();
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|d| s.backup_of(d).is_none())
        .collect();
    let mut lines = vec![
        Line::from(format!(
            "Where the federation settings of {} domains come from ({}):",
            names.len(),
            names.join(", ")
        )),
        Line::from(""),
    ];
    let label = if missing.is_empty() {
        format!(
            "{} Each domain's backup taken at failover (an exact restore)",
            radio(s.from_backup)
        )
    } else {
        format!(
            "{} Each domain's backup taken at failover (none for {})",
            radio(s.from_backup),
            missing.join(", ")
        )
    };
    lines.extend(source_choice(s, label, t));
    lines.push(Line::from(
        "One plan and one confirmation for all of them; they switch back side by side.",
    ));
    lines
}

/// The two sources of federation settings: the backup (`backup`, as worded for one domain or
/// several) and the farm's metadata, then a blank line.
fn source_choice(s: &State, backup: String, t: &Theme) -> Vec<Line<'static>> {
    vec![
        row(s.focus == 0, backup, t),
        row(
            s.focus == 1,
            format!(
                "{} The farm's federation metadata ({})",
                radio(!s.from_backup),
                s.farm_service
            ),
            t,
        ),
        Line::from(""),
    ]
}
