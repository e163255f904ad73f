use ratatui::text::{Line, Span};

use super::checkbox;
use crate::wizard::app::State;
use crate::wizard::theme::Theme;

pub fn view(s: &State, _t: &Theme) -> Vec<Line<'static>> {
    let Some(st) = &s.status else {
        return vec![Line::from("Reading the tenant…")];
    };
    let mut lines = vec![
        Line::from(format!("Tenant: {} ({})", st.tenant_name, st.tenant_id)),
        Line::from(format!(
            "Password hash sync: {}   last password sync: {}",
            if st.password_hash_sync { "on" } else { "off" },
            st.last_password_sync.as_deref().unwrap_or("unknown")
        )),
        Line::from(""),
        Line::from(format!("{:<28} {:<10} {}", "DOMAIN", "SIGN-IN", "ISSUER")),
    ];
    for d in &st.domains {
        let name = if d.is_root {
            d.id.clone()
        } else {
            format!("{} (sub)", d.id)
        };
        lines.push(Line::from(format!(
            "{:<28} {:<10} {}",
            name,
            d.authentication_type,
            d.issuer_uri.as_deref().unwrap_or("")
        )));
    }
    if !st.farms.is_empty() {
        lines.push(Line::from(""));
        for f in &st.farms {
            lines.push(Line::from(format!(
                "AD FS {}: {}",
                f.service,
                if f.healthy { "up" } else { "DOWN" }
            )));
        }
    }
    lines
}

pub fn optional_features(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let on = s.status.as_ref().is_some_and(|st| st.password_hash_sync);
    let engines = s.status.as_ref().map(|st| &st.sync_engines);
    let engine = engines
        .map(|e| e.describe())
        .unwrap_or_else(|| "reading…".into());
    // What the box does on this tenant's engine, beyond the tenant's flag.
    let what = match engines {
        Some(e) if e.connect.is_some() && !e.cloud.is_empty() => {
            "Also sets up Cloud Sync's password hash sync (job, AppKey secret, CredentialData mapping); writes the Connect script."
        }
        Some(e) if e.connect.is_some() => {
            "Also writes the script that turns the Connect server's password sync on."
        }
        Some(e) if !e.cloud.is_empty() => {
            "Also sets up Cloud Sync's password hash sync through Graph, as Microsoft documents it: the job, the AppKey secret, the CredentialData mapping."
        }
        _ => "The tenant's flag alone copies no password hash: a sync engine does.",
    };
    let mut lines = vec![
        Line::from("Select optional features:"),
        Line::from(""),
        super::row(
            true,
            format!("{} Password hash synchronization", checkbox(s.phs_checked)),
            t,
        ),
        Line::from(
            "    Copies password hashes to Microsoft Entra ID so that users can sign in if AD FS fails.",
        ),
        Line::from(format!(
            "    Now: {}",
            match s.status.as_ref() {
                Some(st) if on && st.password_hashes_arriving => "on; password hashes arrive",
                _ if on => "the tenant's flag is on, but no password hash arrives",
                _ => "off",
            }
        )),
        Line::from(format!("    Sync engine: {}", engine)),
        Line::from(format!("    {what}")),
        Line::from(""),
        Line::from("  [ ] Password writeback (unchanged)"),
        Line::from("  [ ] Group writeback (unchanged)"),
    ];
    if !s.missing_phs.is_empty() {
        lines.push(Line::from(""));
        lines.push(Line::from(format!(
            "Missing to turn it on: {}",
            s.missing_phs.join("; ")
        )));
    }
    lines
}

/// The readiness checks as `entra-failover readiness` prints them: per federated domain who would be
/// locked out or left weaker, then each read with its outcome and request-id.
pub fn readiness(s: &State, t: &Theme) -> Vec<Line<'static>> {
    match &s.readiness {
        None => vec![Line::from(
            "Checking readiness (read-only: nothing is changed)…",
        )],
        Some(Err(e)) => vec![
            Line::from(Span::styled("The readiness checks could not run:", t.bad)),
            Line::from(e.clone()),
        ],
        Some(Ok(r)) => r
            .to_string()
            .lines()
            .map(|l| {
                if l.starts_with("Cannot tell") || l.contains("[FAILED]") {
                    Line::from(Span::styled(l.to_string(), t.bad))
                } else {
                    Line::from(l.to_string())
                }
            })
            .chain([
                Line::from(""),
                Line::from("Read-only: nothing was changed. Enter goes back to Additional tasks."),
            ])
            .collect(),
    }
}
