use ratatui::text::{Line, Span};

use super::{checkbox, radio, row};
use crate::wizard::app::{SignIn, State};
use crate::wizard::theme::Theme;

pub fn user_sign_in(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from("Select the sign-in method:"), Line::from("")];
    for (i, m) in SignIn::ALL.iter().enumerate() {
        lines.push(row(
            i == s.focus,
            format!("{} {}", radio(*m == s.sign_in), m.label()),
            t,
        ));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(format!(
        "{} Do not convert user accounts",
        checkbox(true)
    )));
    lines.push(Line::from(
        "    User accounts stay as they are; only the domains' sign-in changes.",
    ));
    lines.push(row(
        s.focus == SignIn::ALL.len(),
        format!("{} Enable single sign-on", checkbox(s.sso)),
        t,
    ));
    lines.push(Line::from(if s.sign_in != SignIn::PasswordHashSync {
        "    Seamless SSO works with password hash sync only, never through AD FS."
    } else if s.sso {
        "    Seamless SSO per AD forest, by a script for the Connect server (next page)."
    } else {
        "    No Seamless SSO script: users on domain-joined computers type their password."
    }));
    lines
}

/// The runbook's *Enable single sign-on* page: Graph cannot show or change Seamless SSO, so the
/// pre-flight writes the Connect server's script, and this page says what it does and where.
pub fn enable_sso(s: &State) -> Vec<Line<'static>> {
    let server = s
        .status
        .as_ref()
        .and_then(|st| st.sync_engines.connect.as_ref())
        .and_then(|c| c.server.clone());
    let cloud_only = s
        .status
        .as_ref()
        .is_some_and(|st| st.sync_engines.connect.is_none() && !st.sync_engines.cloud.is_empty());
    let place = match (&server, cloud_only) {
        (Some(sv), _) => format!("on the Connect server {sv}"),
        (None, true) => "on a domain-joined server with the Entra Connect package installed (not configured) for its AzureADSSO module, with -CloudSyncOnly".into(),
        (None, false) => "on the Connect server".into(),
    };
    // The name the failover pre-flight gives it (it does not read which server synchronizes).
    let script = crate::ops::enable_sso::file_name(None);
    let mut lines = vec![
        Line::from(
            "Seamless single sign-on lets users on domain-joined computers that are not hybrid joined sign in to Microsoft 365 without typing their password, once sign-in is password hash sync. Without it they type it at every sign-in.",
        ),
        Line::from(""),
        Line::from(format!(
            "Graph cannot show or change it: the Connect server's AzureADSSO module does. The pre-flight writes {script} beside the farm's scripts. Run it {place}, as an administrator:"
        )),
        Line::from("  1. it refuses anywhere but an active Connect server with the module;"),
        Line::from(
            "  2. it reports each forest: Seamless SSO on or off, and the age of the AZUREADSSOACC account's key (Microsoft asks for a rollover every 30 days);",
        ),
        Line::from("  3. it records that state to a file before any change;"),
        Line::from(
            "  4. it enables it for each forest without it, asking for a domain administrator of that forest (DOMAIN\\user), never stored;",
        ),
        Line::from("  5. a forest that has it stays as it is."),
        Line::from("  -StatusOnly changes nothing; -WhatIf previews."),
        Line::from(""),
        Line::from(format!(
            "Browsers: {} in the Local intranet zone (Group Policy).",
            crate::connect::sso_script::AUTOLOGON_URL
        )),
    ];
    if s.rehearsal {
        lines.push(Line::from(
            "Rehearsal: F2 then 9 runs the script on the rehearsal's Connect server.",
        ));
    }
    lines
}

pub fn domains(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let roots = s.federated_roots();
    let mut lines = vec![
        Line::from("Federated domains to convert to password hash sync:"),
        Line::from(""),
    ];
    if roots.is_empty() {
        lines.push(Line::from("No federated domain: nothing to convert."));
    }
    // Subdomains by root, found once rather than once per root.
    let mut subs: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for d in s
        .status
        .iter()
        .flat_map(|st| st.domains.iter())
        .filter(|d| !d.is_root)
    {
        if let Some((_, parent)) = d.id.split_once('.') {
            subs.entry(parent.to_ascii_lowercase())
                .or_default()
                .push(d.id.clone());
        }
    }
    for (i, d) in roots.iter().enumerate() {
        lines.push(row(
            i == s.focus,
            format!("{} {d}", checkbox(s.selected.contains(d))),
            t,
        ));
        for sub in subs.get(&d.to_ascii_lowercase()).into_iter().flatten() {
            lines.push(Line::from(format!("      {sub} follows {d}")));
        }
    }
    lines
}

pub fn preflight(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![];
    match &s.plan {
        None => lines.push(Line::from("Running the pre-flight checks…")),
        Some(p) => {
            lines.push(Line::from("A backup of each selected domain's federation settings is written before anything changes."));
            // The field first: the checks below can be longer than the screen.
            let warnings = p
                .checks
                .iter()
                .filter(|c| c.outcome == crate::ops::plan::Outcome::Warn)
                .count();
            lines.push(Line::from(if p.failed().is_empty() && warnings > 0 {
                format!(
                    "Type {} to confirm, despite {warnings} warning(s) below (they do not block it):",
                    s.confirm_word()
                )
            } else {
                format!("Type {} to confirm:", s.confirm_word())
            }));
            lines.push(Line::from(format!("> {}_", s.confirm)));
            lines.push(Line::from(""));
            for c in &p.checks {
                let style = t.outcome(c.outcome);
                lines.push(Line::from(vec![
                    Span::styled(format!("[{}] ", c.outcome.mark()), style),
                    Span::raw(format!("{}: {}", c.name, c.detail)),
                ]));
            }
        }
    }
    lines
}

pub fn test_signin(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let intro = vec![
        Line::from("Test a user's sign-in: where it goes, and whether the password works there"),
        Line::from(
            "(Entra ID for a managed user; the AD FS farm, as Entra asks it, for a federated",
        ),
        Line::from("one). The password is never stored or logged."),
    ];
    user_and_password(s, t, intro)
}

/// Entra Connect's *Verify federated login*: a federated user's password at the farm.
pub fn federated_login(s: &State, t: &Theme) -> Vec<Line<'static>> {
    let domain = s.target.clone().unwrap_or_default();
    let intro = vec![
        Line::from(format!(
            "Sign a user of {domain} in at the AD FS farm, as Microsoft Entra ID does"
        )),
        Line::from("(WS-Trust), and check that Entra ID would take the token: its issuer, its"),
        Line::from("signing certificate, the user's ImmutableID. The password is never stored."),
    ];
    user_and_password(s, t, intro)
}

fn user_and_password(s: &State, t: &Theme, intro: Vec<Line<'static>>) -> Vec<Line<'static>> {
    let mut lines = intro;
    lines.extend([
        Line::from(""),
        row(
            s.focus == 0,
            format!(
                "User principal name: {}{}",
                s.upn,
                if s.focus == 0 { "_" } else { "" }
            ),
            t,
        ),
        row(
            s.focus == 1,
            format!(
                "Password:            {}{}",
                "*".repeat(s.password.len()),
                if s.focus == 1 { "_" } else { "" }
            ),
            t,
        ),
        Line::from(""),
    ]);
    if s.rehearsal
        && let Some(u) = &s.sample_user
    {
        lines.push(Line::from(format!(
            "Rehearsal: {u} is a synchronized user."
        )));
        lines.push(Line::from(
            "Synchronized users share one password, the tenant's user_password:",
        ));
        lines.push(Line::from("`entra-failover rehearse info` prints it."));
        lines.push(Line::from(""));
    }
    if let Some(r) = &s.signin_result {
        for l in r.lines() {
            lines.push(Line::from(l.to_string()));
        }
    }
    lines
}
