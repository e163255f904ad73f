//! Rendering: a pure function of the state. Every page gets the title bar, its body, the
//! Previous/Next bar and a help line; overlays (help, errors, rehearsal controls, quit) sit on top.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{Control, Flow, Page, State};
use super::pages;
use super::theme::Theme;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;

pub fn render(s: &State, f: &mut Frame, theme: &Theme) {
    let area = f.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        let msg = format!(
            "terminal too small: {}x{} (needs {MIN_WIDTH}x{MIN_HEIGHT}). Enlarge it, or press q to quit.",
            area.width, area.height
        );
        f.render_widget(Paragraph::new(msg).wrap(Wrap { trim: true }), area);
        return;
    }
    let [title, body, nav, help] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(1),
        Constraint::Length(2),
        Constraint::Length(1),
    ])
    .areas(area);
    title_bar(s, f, title, theme);
    let inner = Block::default().borders(Borders::NONE).inner(body);
    pages::render(s, f, inner, theme);
    nav_bar(s, f, nav, theme);
    f.render_widget(Paragraph::new(help_line(s)).style(theme.dim), help);
    if s.controls {
        controls(s, f, area, theme);
    }
    if let Some(e) = &s.error {
        let lines = vec![
            Line::from(Span::styled(e.title.clone(), theme.bad)),
            Line::from(""),
            Line::from(e.message.clone()),
            Line::from(format!(
                "request-id: {}",
                e.request_id.as_deref().unwrap_or("-")
            )),
            Line::from(""),
            Line::from(format!("What it means: {}", e.meaning)),
            Line::from(""),
            Line::from(
                ["Retry", "Skip", "Abort"]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| {
                        let text = format!(" {}[{b}] ", if i == e.focus { ">" } else { " " });
                        Span::styled(
                            text,
                            if i == e.focus {
                                theme.focus
                            } else {
                                Style::default()
                            },
                        )
                    })
                    .collect::<Vec<_>>(),
            ),
        ];
        popup(f, area, "Error", lines, theme);
    }
    if s.help {
        let lines = [
            "Enter      Next / activate",
            "Esc        Previous",
            "Tab        next field   Shift-Tab  previous field",
            "Up/Down    move         Space      toggle or choose",
            "1-5        pick a task on Additional tasks",
            "F2         rehearsal controls (rehearsal tenant only)",
            "?          this help    q / Ctrl-C quit",
            "",
            "Any key closes this help.",
        ]
        .into_iter()
        .map(Line::from)
        .collect();
        popup(f, area, "Help", lines, theme);
    }
    if s.quit_asked {
        let lines = vec![
            Line::from("A change is in flight. It will finish and be journaled first."),
            Line::from("Quit when it is done? Press y to quit, any other key to stay."),
        ];
        popup(f, area, "Quit?", lines, theme);
    }
}

fn title_bar(s: &State, f: &mut Frame, area: Rect, theme: &Theme) {
    // The tenant, once known (before sign-in there is none to name: no empty slot).
    let tenant = s
        .status
        .as_ref()
        .filter(|st| !st.tenant_name.is_empty())
        .map(|st| format!(" | {}", st.tenant_name))
        .unwrap_or_default();
    // The rehearsal label comes first, so that no terminal width can cut it off.
    let mut spans = vec![];
    if s.rehearsal {
        spans.push(Span::styled("REHEARSAL TENANT (simulated)", theme.warn));
        spans.push(Span::raw(" | "));
    }
    spans.push(Span::styled("entra-failover", theme.title));
    spans.push(Span::raw(format!("{tenant} | profile {}", s.profile)));
    let lines = vec![
        Line::from(spans),
        Line::from(Span::styled(s.page.title(), theme.heading)),
    ];
    f.render_widget(Paragraph::new(lines), area);
}

fn nav_bar(s: &State, f: &mut Frame, area: Rect, theme: &Theme) {
    let next = match s.page {
        Page::Ready => "Configure",
        Page::Complete if matches!(s.flow, Flow::SwitchBack | Flow::ResetTrust) => "Verify",
        Page::Complete if s.flow == Flow::Failover => "Sign-ins",
        Page::SignIns => "Test sign-in",
        Page::Verify if s.verify.is_some() => "Verify federated login",
        Page::Complete => "Test sign-in",
        Page::AdfsFarm if s.farm.is_none() => "Read metadata",
        Page::TestSignin => "Test",
        Page::FederatedLogin => "Verify",
        _ => "Next",
    };
    // What just happened (a rehearsal control's effect, a refusal) stands out; work in progress
    // is dim beside it, so that a refresh never hides the confirmation.
    let mut status = vec![];
    if let Some(n) = &s.notice {
        status.push(Span::styled(n.clone(), theme.heading));
    }
    if let Some(b) = &s.busy {
        if !status.is_empty() {
            status.push(Span::raw("  "));
        }
        status.push(Span::styled(format!("… {b}"), theme.dim));
    }
    let enabled = s.blocked().is_none();
    let lines = vec![
        Line::from(status),
        Line::from(vec![
            Span::raw("[Esc] Previous   "),
            Span::styled(
                format!("[Enter] {next}{}", if enabled { "" } else { " (not yet)" }),
                if enabled { theme.focus } else { theme.dim },
            ),
        ]),
    ];
    f.render_widget(Paragraph::new(lines), area);
}

fn help_line(s: &State) -> String {
    let mut keys = String::from("Enter next  Esc back  Tab move  Space toggle  ? help  q quit");
    if s.rehearsal {
        keys.push_str("  F2 controls");
    }
    keys
}

fn controls(s: &State, f: &mut Frame, area: Rect, theme: &Theme) {
    let mut lines = vec![
        Line::from("What the outside world does to the rehearsal tenant:"),
        Line::from(""),
    ];
    for (i, c) in Control::ALL.iter().enumerate() {
        let focused = i == s.focus;
        lines.push(Line::from(Span::styled(
            format!(
                "{} {}. {}",
                if focused { ">" } else { " " },
                i + 1,
                c.label()
            ),
            if focused {
                theme.focus
            } else {
                Style::default()
            },
        )));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(
        "Enter or a digit runs it; any other key closes.",
    ));
    popup(f, area, "Rehearsal controls (simulated)", lines, theme);
}

fn popup(f: &mut Frame, area: Rect, title: &str, lines: Vec<Line>, theme: &Theme) {
    let w = area.width.saturating_sub(8).min(76);
    // Height for the wrapped text: each line takes as many rows as its width needs.
    let inner = usize::from(w.saturating_sub(2)).max(1);
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let h = (rows as u16 + 2).min(area.height.saturating_sub(2));
    let r = Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    f.render_widget(Clear, r);
    let block = Block::default().borders(Borders::ALL).title(Span::styled(
        format!(" {title} "),
        theme.heading.add_modifier(Modifier::BOLD),
    ));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        r,
    );
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use super::*;
    use crate::wizard::app::tests::{connected, plan};
    use crate::wizard::app::{Action, BackendEvent, Effect, ErrorPanel, update};

    fn draw(s: &State, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| render(s, f, &Theme::mono())).unwrap();
        t.backend().to_string()
    }

    fn snap(name: &str, s: &State) {
        insta::assert_snapshot!(name, draw(s, 80, 24));
    }

    #[test]
    fn the_complete_page_watches_until_password_hashes_arrive() {
        use crate::wizard::app::Page;
        // Customize synchronization options → Optional features → Ready → Configuring → Complete.
        let mut s = connected(false);
        update(&mut s, Action::Digit(2));
        assert_eq!(s.page, Page::OptionalFeatures);
        update(&mut s, Action::Toggle);
        assert_eq!(update(&mut s, Action::Next), vec![Effect::PrepareEnablePhs]);
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
        );
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Done(vec![
                "Password hash synchronization: on (changed now)".into(),
                "Sync engine: Entra Connect Sync on AADCONNECT01".into(),
                "Script for the Connect server: /home/admin/scripts/enable-password-hash-sync.AADCONNECT01.ps1".into(),
            ])),
        );
        assert_eq!(s.page, Page::Complete);
        let watch = update(
            &mut s,
            Action::Backend(BackendEvent::AwaitHashes {
                previous: None,
                next_steps: "Entra Connect Sync sends no password hash until its server's password sync is on: run /home/admin/scripts/enable-password-hash-sync.AADCONNECT01.ps1 on AADCONNECT01 as an administrator (PowerShell, with the ADSync module).".into(),
            }),
        );
        assert_eq!(watch, vec![Effect::WatchHashes { previous: None }]);
        // Each look that finds nothing asks for another.
        assert_eq!(
            update(&mut s, Action::Backend(BackendEvent::Hashes(None))),
            watch
        );
        snap("complete_waiting_for_hashes", &s);
        let done = update(
            &mut s,
            Action::Backend(BackendEvent::Hashes(Some("2026-12-02T14:30:00Z".into()))),
        );
        assert!(done.is_empty());
        snap("complete_hashes_arrived", &s);
        // Leaving the page ends a watch.
        update(
            &mut s,
            Action::Backend(BackendEvent::AwaitHashes {
                previous: None,
                next_steps: "Entra Connect Sync sends no password hash until its server's password sync is on: run /home/admin/scripts/enable-password-hash-sync.AADCONNECT01.ps1 on AADCONNECT01 as an administrator (PowerShell, with the ADSync module).".into(),
            }),
        );
        update(&mut s, Action::Previous);
        assert!(update(&mut s, Action::Backend(BackendEvent::Hashes(None))).is_empty());
    }

    #[test]
    fn optional_features_on_a_cloud_sync_tenant() {
        use crate::ops::sync_engines::{CloudConfig, Engines, Job};
        let mut s = connected(true);
        if let Some(st) = s.status.as_mut() {
            st.password_hashes_arriving = false;
            st.sync_engines = Engines {
                connect: None,
                cloud: vec![
                    CloudConfig {
                        service_principal_id: "sp1".into(),
                        display_name: "contoso.com".into(),
                        password_hash_job: None,
                        provisioning_job: Some("AD2AADProvisioning.1".into()),
                        credential_data_mapping: Some(false),
                        secrets_set_at: None,
                    },
                    CloudConfig {
                        service_principal_id: "sp2".into(),
                        display_name: "fabrikam.com".into(),
                        password_hash_job: Some(Job {
                            id: "AD2AADPasswordHash.1".into(),
                            code: "Quarantine".into(),
                            schedule: "Active".into(),
                            last_execution: None,
                            quarantine: Some("EncounteredQuarantineException".into()),
                        }),
                        provisioning_job: Some("AD2AADProvisioning.2".into()),
                        credential_data_mapping: Some(true),
                        secrets_set_at: None,
                    },
                ],
                unknown: vec![],
            };
        }
        update(&mut s, Action::Digit(2));
        snap("optional_features_cloud_sync", &s);
    }

    #[test]
    fn ready_cuts_a_long_body_short_until_v() {
        use crate::wizard::app::Page;
        let mut s = connected(true);
        let mut p = plan(false);
        p.steps.push(crate::ops::plan::Step {
            domain: Some("contoso.com".into()),
            method: "POST".into(),
            path: "/v1.0/domains/contoso.com/federationConfiguration".into(),
            body: Some(serde_json::json!({
                "issuerUri": "http://sts.contoso.com/adfs/services/trust",
                "signingCertificate": format!("MIIC{}", "A".repeat(600)),
            })),
            why: "restore the federation settings from the backup".into(),
        });
        s.plan = Some(p);
        s.page = Page::Ready;
        snap("ready_long_body", &s);
        let text = draw(&s, 80, 24);
        assert!(text.contains("characters)"), "{text}");
        assert!(text.contains("press v to see them whole"), "{text}");
        update(&mut s, Action::Input('v'));
        assert!(s.plan_full);
        let text = draw(&s, 80, 60);
        assert!(text.contains(&"A".repeat(60)), "{text}");
        assert!(!text.contains("characters)"), "{text}");
    }

    #[test]
    fn ready_says_what_the_trust_reset_keeps_changes_and_carries_over() {
        use crate::ops::plan::{Outcome, Plan};
        use crate::wizard::app::Page;
        let mut s = connected(true);
        s.flow = crate::wizard::app::Flow::ResetTrust;
        let mut p = Plan::new("Reset the Microsoft Entra ID trust", "t");
        p.check(
            "AD FS script",
            Outcome::Pass,
            "/home/admin/scripts/reset-trust-contoso.com.ps1 with /home/admin/scripts/microsoft-365-federation-metadata.xml beside it (SHA-256 69a9…7e4f): run it on the primary AD FS server; the tool never does",
        );
        for (what, detail) in crate::adfs::trust_script::summary(false) {
            p.check(&format!("AD FS trust: {what}"), Outcome::Info, detail);
        }
        s.plan = Some(p);
        s.page = Page::Ready;
        snap("ready_trust_reset", &s);
        let text = draw(&s, 80, 40);
        for line in [
            "AD FS trust: kept",
            "never removed",
            "AD FS trust: carried over",
        ] {
            assert!(text.contains(line), "{line}\n{text}");
        }
    }

    #[test]
    fn several_domains_ticked_to_switch_back_together() {
        use crate::wizard::app::{BackupInfo, Page};
        let mut s = connected(true);
        if let Some(st) = s.status.as_mut() {
            st.domains[1].authentication_type = "Managed".into();
            st.domains[1].issuer_uri = None;
        }
        update(&mut s, Action::Digit(3));
        update(&mut s, Action::Down);
        update(&mut s, Action::Toggle);
        update(&mut s, Action::Next);
        let backup = |domain: &str| BackupInfo {
            domain: domain.into(),
            taken_at: "2026-11-25T10:00:00Z".into(),
            path: format!("/b/{domain}.json"),
            farm: Some("sts.contoso.com".into()),
        };
        update(
            &mut s,
            Action::Backend(BackendEvent::Backups(vec![
                backup("contoso.com"),
                backup("northwind.com"),
            ])),
        );
        s.page = Page::EntraDomain;
        s.focus = 0;
        update(&mut s, Action::Toggle);
        update(&mut s, Action::Down);
        update(&mut s, Action::Toggle);
        snap("entra_domain_two_ticked", &s);
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::SettingsSource);
        snap("settings_source_two_domains", &s);
    }

    #[test]
    fn the_resume_page_before_and_after() {
        use crate::wizard::app::Page;
        let mut st = crate::wizard::app::tests::status(true);
        st.interrupted = vec![
            "failover fabrikam.com (started 2026-12-02T10:00:00Z)".into(),
            "switch-back contoso.com (started 2026-12-02T10:05:00Z)".into(),
        ];
        let mut s = crate::wizard::app::tests::signed_in(st);
        snap("connect_interrupted", &s);
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Resume);
        snap("resume", &s);
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Resumed(vec![
                "failover fabrikam.com: finished — converted; read back: Managed".into(),
                "switch-back contoso.com: already done — the tenant has the settings".into(),
            ])),
        );
        snap("resume_done", &s);
    }

    #[test]
    fn a_rehearsal_control_confirms_what_it_did() {
        let mut s = connected(true);
        update(&mut s, Action::Controls);
        update(&mut s, Action::Digit(1));
        update(
            &mut s,
            Action::Backend(BackendEvent::Control(
                "AD FS sts.contoso.com is down (simulated)".into(),
            )),
        );
        // The refresh that follows keeps it in view.
        s.busy = Some("reading the tenant".into());
        snap("control_confirmed", &s);
        let text = draw(&s, 80, 24);
        assert!(
            text.contains("AD FS sts.contoso.com is down (simulated)  … reading the tenant"),
            "{text}"
        );
    }

    #[test]
    fn the_readiness_page_runs_the_checks_and_shows_them() {
        use crate::ops::readiness::{
            Counted, DomainReadiness, Lockout, Read, ReadOutcome, Readiness,
        };
        let mut s = connected(false);
        assert_eq!(update(&mut s, Action::Digit(6)), vec![Effect::Readiness]);
        assert_eq!(s.page, Page::Readiness);
        snap("readiness_running", &s);
        let r = Readiness {
            tenant: "9c5f2b1e-4d3a-4f6b-9e2c-7a1d0b8c3e55".into(),
            simulated: true,
            mfa_required_by: Some("Require MFA for all users".into()),
            domains: vec![DomainReadiness {
                domain: "contoso.com".into(),
                without_mfa: Some(Counted {
                    count: 12,
                    first: vec!["adele.vance@contoso.com".into()],
                }),
                unroutable_upn: None,
            }],
            hybrid_joined_devices: Some(25),
            smart_lockout: Some(Lockout {
                threshold: 10,
                duration_s: 60,
                source: "defaults".into(),
            }),
            cannot_tell: vec!["users' AD UPNs: cannot tell without User.Read.All".into()],
            seamless_sso: "Graph cannot tell which AD forests have it",
            reads: vec![Read {
                what: "MFA registration".into(),
                request: "GET /v1.0/reports/authenticationMethods/userRegistrationDetails".into(),
                outcome: ReadOutcome::Ok,
                detail: "12 item(s) in 1 page(s)".into(),
                request_id: Some("7609da05-f8d4-4ad1-ae53-9151b697a651".into()),
            }],
            requests: 12,
        };
        update(
            &mut s,
            Action::Backend(BackendEvent::Readiness(Ok(Box::new(r)))),
        );
        snap("readiness", &s);
        let shown = draw(&s, 80, 24);
        assert!(shown.contains("without an MFA method:   12 (adele.vance@contoso.com, …)"));
        assert!(shown.contains("AD UPN suffix unknown:   cannot tell"));
        update(&mut s, Action::Next);
        assert_eq!(s.page, Page::Tasks);
    }

    #[test]
    fn every_page_at_80x24() {
        let mut s = State::new(vec!["rehearsal".into(), "contoso".into()]);
        snap("welcome", &s);
        update(&mut s, Action::Next);
        snap("connect_signing_in", &s);
        let mut s = connected(false);
        s.history = vec![];
        s.page = Page::Connect;
        snap("connect", &s);
        s.page = Page::Tasks;
        snap("tasks", &s);
        update(&mut s, Action::Digit(5));
        update(
            &mut s,
            Action::Backend(BackendEvent::Staged(Box::new(
                crate::wizard::app::tests::staged(&[("g1", "PHS pilot"), ("g2", "Fabrikam pilot")]),
            ))),
        );
        update(&mut s, Action::Toggle);
        update(&mut s, Action::Down);
        update(&mut s, Action::Down);
        for c in "Sales pilot".chars() {
            update(&mut s, Action::Input(c));
        }
        snap("staged_rollout", &s);
        update(&mut s, Action::Previous);
        update(&mut s, Action::Digit(1));
        s.busy = None;
        snap("view_config", &s);
        update(&mut s, Action::Previous);
        update(&mut s, Action::Digit(2));
        update(&mut s, Action::Toggle);
        snap("optional_features", &s);
        update(&mut s, Action::Previous);
        update(&mut s, Action::Digit(3));
        snap("user_sign_in", &s);
        update(&mut s, Action::Next);
        snap("enable_sso", &s);
        update(&mut s, Action::Next);
        update(&mut s, Action::Toggle);
        snap("domains", &s);
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
        );
        for c in "contoso".chars() {
            update(&mut s, Action::Input(c));
        }
        snap("preflight", &s);
        for c in ".com".chars() {
            update(&mut s, Action::Input(c));
        }
        update(&mut s, Action::Next);
        snap("ready", &s);
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Progress(
                "contoso.com: backing up the federation settings".into(),
            )),
        );
        snap("configuring", &s);
        update(
            &mut s,
            Action::Backend(BackendEvent::Done(vec!["contoso.com: converted".into()])),
        );
        snap("complete", &s);
        // After a failover: who signs in, from the sign-in log.
        let fx = update(&mut s, Action::Next);
        assert_eq!(
            fx,
            vec![Effect::WatchSignIns {
                domains: vec!["contoso.com".into()],
                first: true
            }]
        );
        let summary = crate::ops::signins::Summary {
            domains: vec!["contoso.com".into()],
            since: "2026-12-02T09:45:00Z".into(),
            until: "2026-12-02T10:00:00Z".into(),
            total: 40,
            succeeded: 30,
            failed: 10,
            single_sign_on: 0,
            failures: vec![
                crate::ops::signins::Failure {
                    code: 50126,
                    count: 6,
                    meaning: "wrong user name or password".into(),
                    users: vec![
                        "alex.wilber@contoso.com".into(),
                        "diego.siciliani@contoso.com".into(),
                    ],
                    more_users: 4,
                },
                crate::ops::signins::Failure {
                    code: 50056,
                    count: 4,
                    meaning: "no password hash yet".into(),
                    users: vec!["adele.vance@contoso.com".into()],
                    more_users: 3,
                },
            ],
            requests: 1,
        };
        let fx = update(
            &mut s,
            Action::Backend(BackendEvent::SignIns(Ok(Box::new(summary)))),
        );
        assert_eq!(
            fx,
            vec![Effect::WatchSignIns {
                domains: vec!["contoso.com".into()],
                first: false
            }],
            "it refreshes while the page shows"
        );
        snap("signins", &s);
        update(&mut s, Action::Next);
        assert_eq!(
            s.upn, "adele.vance@contoso.com",
            "the rehearsal's synchronized sample user is offered"
        );
        update(&mut s, Action::FocusNext);
        for c in "secret".chars() {
            update(&mut s, Action::Input(c));
        }
        snap("test_signin", &s);
    }

    #[test]
    fn federation_pages_at_80x24() {
        use crate::wizard::app::{BackupInfo, FarmInfo};
        let mut s = connected(true);
        if let Some(st) = s.status.as_mut() {
            st.domains[1].authentication_type = "Managed".into();
        }
        update(&mut s, Action::Digit(3));
        update(&mut s, Action::Down);
        update(&mut s, Action::Toggle);
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Backups(vec![BackupInfo {
                domain: "contoso.com".into(),
                taken_at: "2026-11-25T10:00:00Z".into(),
                path: "/b/contoso.com.json".into(),
                farm: Some("sts.contoso.com".into()),
            }])),
        );
        snap("adfs_farm", &s);
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Farm(Ok(FarmInfo {
                service: "sts.contoso.com".into(),
                entity_id: "http://sts.contoso.com/adfs/services/trust".into(),
                certificates: vec![
                    "6A4CFCC457D55D64FB647D64308575B3EA6E9F6F, expires 2027-10-26T15:46:37Z".into(),
                ],
            }))),
        );
        snap("adfs_farm_read", &s);
        update(&mut s, Action::Next);
        snap("entra_domain", &s);
        update(&mut s, Action::Next);
        snap("settings_source", &s);
        let mut s = connected(true);
        update(&mut s, Action::Digit(4));
        snap("manage_federation", &s);
        update(&mut s, Action::Next);
        snap("trust_domain", &s);
        update(&mut s, Action::Next);
        update(
            &mut s,
            Action::Backend(BackendEvent::Certificates(vec![
                "Microsoft Entra ID: signing        6A4CFCC457D55D64FB647D64308575B3EA6E9F6F  2027-10-26".into(),
                "AD FS: primary                     7C19AB8BEF6526C796F1777890817144048E8C75  2027-11-25".into(),
            ])),
        );
        update(
            &mut s,
            Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
        );
        snap("certificates", &s);
        s.page = Page::Verify;
        update(
            &mut s,
            Action::Backend(BackendEvent::Verified {
                lines: vec![
                    "[pass] federation settings: issuer http://sts.contoso.com/adfs/services/trust"
                        .into(),
                    "[FAIL] signing certificate: mismatch".into(),
                ],
                passed: false,
            }),
        );
        snap("verify", &s);
        update(&mut s, Action::Next);
        update(&mut s, Action::FocusNext);
        for c in "secret".chars() {
            update(&mut s, Action::Input(c));
        }
        s.signin_result = Some("adele.vance@contoso.com: Federated sign-in, at https://sts.contoso.com/adfs/ls/\nPassword test: FAILED — the farm sts.contoso.com signed adele.vance@contoso.com in, but Entra ID would refuse its token: the farm signs with certificate 2F93…914F, which Entra ID does not hold for contoso.com: Entra answers AADSTS50008; run reset-trust".into());
        snap("federated_login", &s);
    }

    #[test]
    fn overlays_and_a_small_terminal() {
        let mut s = connected(true);
        update(&mut s, Action::Help);
        snap("help", &s);
        update(&mut s, Action::Next);
        update(&mut s, Action::Controls);
        snap("rehearsal_controls", &s);
        update(&mut s, Action::Previous);
        update(
            &mut s,
            Action::Backend(BackendEvent::Failed(ErrorPanel {
                title: "Configuring failed".into(),
                message: "PATCH /v1.0/domains/contoso.com: HTTP 403 Authorization_RequestDenied: Insufficient privileges to complete the operation.".into(),
                request_id: Some("00000000-1111-2222-3333-444444444444".into()),
                meaning: "a permission or directory role is missing for this change".into(),
                focus: 0,
            })),
        );
        snap("error_panel", &s);
        insta::assert_snapshot!("too_small", draw(&s, 60, 20));
        // Resizing to anything, even 1x1, draws without a panic.
        for (w, h) in [(1, 1), (79, 24), (80, 23), (200, 60)] {
            draw(&s, w, h);
        }
    }

    #[test]
    fn long_lists_scroll_with_the_focus() {
        use crate::ops::status::DomainStatus;
        let mut s = connected(true);
        if let Some(st) = s.status.as_mut() {
            for i in 0..60 {
                st.domains.push(DomainStatus {
                    id: format!("d{i}.example"),
                    authentication_type: "Federated".into(),
                    is_root: true,
                    is_verified: true,
                    issuer_uri: None,
                    signing_certificate_sha1: None,
                    signing_certificate_expires: None,
                    federation_service: None,
                });
            }
        }
        s.page = Page::Domains;
        s.focus = 50;
        let screen = draw(&s, 80, 24);
        assert!(screen.contains("> [ ] d48.example"), "{screen}");
        assert!(
            !screen.contains("contoso.com"),
            "the top of the list scrolled away"
        );
    }

    #[test]
    fn the_password_is_never_drawn() {
        let mut s = connected(true);
        s.page = Page::TestSignin;
        s.focus = 1;
        for c in "Canary-Passw0rd".chars() {
            update(&mut s, Action::Input(c));
        }
        let screen = draw(&s, 80, 24);
        assert!(!screen.contains("Canary"), "{screen}");
        assert!(screen.contains("***************"));
    }
}
