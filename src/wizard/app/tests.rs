//! The state machine driven by actions, as the key presses would.

use super::*;
use crate::ops::plan::Outcome;
use crate::ops::status::{DomainStatus, FarmHealth, Status};

pub fn status(phs: bool) -> Status {
    let d = |id: &str, auth: &str, root: bool, issuer: Option<&str>| DomainStatus {
        id: id.into(),
        authentication_type: auth.into(),
        is_root: root,
        is_verified: true,
        issuer_uri: issuer.map(str::to_string),
        signing_certificate_sha1: None,
        signing_certificate_expires: None,
        federation_service: None,
    };
    Status {
        profile: "rehearsal".into(),
        simulated: true,
        tenant_id: "9c5f2b1e-4d3a-4f6b-9e2c-7a1d0b8c3e55".into(),
        tenant_name: "Contoso (rehearsal)".into(),
        signed_in_as: "admin@contoso.onmicrosoft.com".into(),
        operator: crate::ops::plan::Check::new(
            "your sign-in",
            crate::ops::plan::Outcome::Pass,
            "contoso.onmicrosoft.com is managed, so it does not need AD FS",
        ),
        directory_sync_enabled: true,
        last_sync: Some("2026-11-25T10:00:00Z".into()),
        password_hash_sync: phs,
        last_password_sync: phs.then(|| "2026-11-25T10:00:00Z".into()),
        sync_id: "s".into(),
        sync_engines: crate::ops::sync_engines::Engines {
            connect: Some(crate::ops::sync_engines::ConnectSync {
                server: Some("AADCONNECT01".into()),
                service_account: Some(
                    "Sync_AADCONNECT01_0a1b2c3d4e5f@contoso.onmicrosoft.com".into(),
                ),
            }),
            cloud: vec![],
            unknown: vec![],
        },
        password_hashes_arriving: phs,
        domains: vec![
            d("contoso.onmicrosoft.com", "Managed", true, None),
            d(
                "contoso.com",
                "Federated",
                true,
                Some("http://sts.contoso.com/adfs/services/trust"),
            ),
            d("eu.contoso.com", "Federated", false, None),
            d(
                "fabrikam.com",
                "Federated",
                true,
                Some("http://fabrikam.com/adfs/services/trust/"),
            ),
            d("northwind.com", "Managed", true, None),
        ],
        farms: vec![FarmHealth {
            service: "sts.contoso.com".into(),
            healthy: false,
            detail: "down".into(),
            simulated: true,
        }],
        interrupted: vec![],
        requests: 0,
    }
}

/// A state signed in to the rehearsal tenant, on the task list.
pub fn connected(phs: bool) -> State {
    let mut s = signed_in(status(phs));
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::Tasks);
    s
}

/// A state just signed in to the rehearsal tenant whose status is `st`, on the Connect page.
pub fn signed_in(st: Status) -> State {
    let mut s = State::new(vec!["rehearsal".into()]);
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::Connect {
            profile: "rehearsal".into()
        }]
    );
    update(
        &mut s,
        Action::Backend(BackendEvent::Connected {
            who: "admin@contoso.onmicrosoft.com".into(),
            missing_phs: vec![],
            missing_convert: vec![],
            missing_staged: vec![],
            status: Box::new(st),
            sample_user: Some("adele.vance@contoso.com".into()),
        }),
    );
    s
}

pub fn plan(fail: bool) -> Plan {
    let mut p = Plan::new("Change user sign-in to password hash synchronization", "t");
    p.check("permissions", Outcome::Pass, "granted");
    p.check(
        "password hash sync",
        if fail { Outcome::Fail } else { Outcome::Pass },
        "on",
    );
    p.step(
        Some("contoso.com"),
        "PATCH",
        "/v1.0/domains/contoso.com",
        None,
        "convert",
    );
    p
}

#[test]
fn connect_waits_for_the_sign_in() {
    let mut s = State::new(vec!["rehearsal".into(), "prod".into()]);
    update(&mut s, Action::Down);
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::Connect {
            profile: "prod".into()
        }]
    );
    assert!(!s.rehearsal);
    assert_eq!(s.page, Page::Connect);
    assert!(update(&mut s, Action::Next).is_empty());
    assert_eq!(s.page, Page::Connect, "no Next before signing in");
    update(&mut s, Action::Previous);
    assert_eq!(s.page, Page::Welcome);
}

#[test]
fn single_sign_on_unticked_skips_its_page_and_its_script() {
    let mut s = connected(true);
    update(&mut s, Action::Digit(3));
    assert_eq!(s.page, Page::UserSignIn);
    // The tick is the row after the three methods.
    for _ in 0..SignIn::ALL.len() {
        update(&mut s, Action::FocusNext);
    }
    update(&mut s, Action::Toggle);
    assert!(!s.sso);
    assert_eq!(s.sign_in, SignIn::PasswordHashSync, "the method stays");
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::Domains, "no Enable single sign-on page");
    update(&mut s, Action::Toggle);
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::PrepareFailover {
            domains: vec!["contoso.com".into()],
            sso: false
        }]
    );
}

#[test]
fn the_failover_flow_needs_a_selection_a_clean_preflight_and_the_typed_name() {
    let mut s = connected(true);
    update(&mut s, Action::Digit(3));
    assert_eq!(s.page, Page::UserSignIn);
    update(&mut s, Action::Next);
    // As in the runbook: Enable single sign-on is ticked, and its page comes next.
    assert_eq!(s.page, Page::EnableSso);
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::Domains);
    assert!(update(&mut s, Action::Next).is_empty(), "nothing selected");
    assert_eq!(s.page, Page::Domains);
    update(&mut s, Action::Toggle);
    assert_eq!(s.selected.iter().collect::<Vec<_>>(), ["contoso.com"]);
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::PrepareFailover {
            domains: vec!["contoso.com".into()],
            sso: true
        }]
    );
    assert_eq!(s.page, Page::Preflight);
    assert!(
        update(&mut s, Action::Next).is_empty(),
        "checks still running"
    );
    update(
        &mut s,
        Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
    );
    for c in "contoso.co".chars() {
        update(&mut s, Action::Input(c));
    }
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::Preflight, "not yet typed in full");
    update(&mut s, Action::Input('m'));
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::Ready);
    assert_eq!(update(&mut s, Action::Next), vec![Effect::Run]);
    assert_eq!(s.page, Page::Configuring);
    assert!(s.in_flight);
    // Quitting while a change is in flight asks first; Previous does not cut it short.
    assert!(update(&mut s, Action::Quit).is_empty());
    assert!(s.quit_asked);
    update(&mut s, Action::Input('n'));
    assert!(!s.quit_asked);
    update(&mut s, Action::Previous);
    assert_eq!(s.page, Page::Configuring);
    update(
        &mut s,
        Action::Backend(BackendEvent::Progress("contoso.com: converted".into())),
    );
    assert_eq!(
        update(
            &mut s,
            Action::Backend(BackendEvent::Done(vec!["contoso.com: converted".into()]))
        ),
        vec![Effect::Refresh]
    );
    assert_eq!(s.page, Page::Complete);
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::SignIns);
    // A log that cannot be read is said, and not asked again.
    let fx = update(
        &mut s,
        Action::Backend(BackendEvent::SignIns(Err("no licence".into()))),
    );
    assert!(fx.is_empty());
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::TestSignin);
    update(&mut s, Action::Previous);
    assert_eq!(s.page, Page::SignIns);
    update(&mut s, Action::Previous);
    assert_eq!(s.page, Page::Tasks);
    // Once away, a late answer starts no more looks.
    assert!(
        update(
            &mut s,
            Action::Backend(BackendEvent::SignIns(Err("late".into())))
        )
        .is_empty()
    );
}

#[test]
fn a_failed_preflight_blocks_next() {
    let mut s = connected(false);
    update(&mut s, Action::Digit(3));
    update(&mut s, Action::Next);
    update(&mut s, Action::Next);
    update(&mut s, Action::Toggle);
    update(&mut s, Action::Next);
    update(
        &mut s,
        Action::Backend(BackendEvent::Planned(Box::new(plan(true)))),
    );
    for c in "contoso.com".chars() {
        update(&mut s, Action::Input(c));
    }
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::Preflight);
    assert!(
        s.notice
            .as_deref()
            .unwrap_or_default()
            .contains("pre-flight check failed")
    );
}

#[test]
fn interrupted_changes_are_finished_first() {
    let mut st = status(true);
    st.interrupted = vec!["failover fabrikam.com (started 2026-12-02T10:00:00Z)".into()];
    let mut s = signed_in(st);
    update(&mut s, Action::Next);
    assert_eq!(
        s.page,
        Page::Resume,
        "nothing starts on top of a half-done change"
    );
    assert_eq!(update(&mut s, Action::Next), vec![Effect::Resume]);
    assert!(s.in_flight);
    assert!(update(&mut s, Action::Next).is_empty(), "once");
    assert_eq!(
        update(
            &mut s,
            Action::Backend(BackendEvent::Resumed(vec![
                "failover fabrikam.com: finished".into()
            ]))
        ),
        vec![Effect::Refresh]
    );
    assert!(!s.in_flight);
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::Tasks);
}

#[test]
fn optional_features_with_nothing_changed_says_so() {
    let mut s = connected(false);
    update(&mut s, Action::Digit(2));
    assert_eq!(s.page, Page::OptionalFeatures);
    assert!(update(&mut s, Action::Next).is_empty());
    assert_eq!(s.page, Page::Tasks);
    assert!(
        s.notice
            .as_deref()
            .unwrap_or_default()
            .starts_with("Nothing to change"),
        "{:?}",
        s.notice
    );
    let mut s = connected(true);
    update(&mut s, Action::Digit(2));
    update(&mut s, Action::Next);
    assert!(
        s.notice
            .as_deref()
            .unwrap_or_default()
            .contains("already on"),
        "{:?}",
        s.notice
    );
}

#[test]
fn a_missing_permission_blocks_next() {
    let mut s = connected(false);
    s.missing_phs =
        vec!["application permission OnPremDirectorySynchronization.ReadWrite.All".into()];
    update(&mut s, Action::Digit(2));
    assert_eq!(s.page, Page::OptionalFeatures);
    update(&mut s, Action::Toggle);
    assert!(update(&mut s, Action::Next).is_empty());
    assert_eq!(s.page, Page::OptionalFeatures);
    assert!(
        s.notice
            .as_deref()
            .unwrap_or_default()
            .contains("OnPremDirectorySynchronization")
    );
    s.missing_phs.clear();
    assert_eq!(update(&mut s, Action::Next), vec![Effect::PrepareEnablePhs]);
    assert_eq!(s.page, Page::Ready);
}

#[test]
fn previous_from_every_page_goes_back() {
    let mut s = connected(false);
    for (digit, page) in [
        (1, Page::ViewConfig),
        (2, Page::OptionalFeatures),
        (3, Page::UserSignIn),
    ] {
        update(&mut s, Action::Digit(digit));
        assert_eq!(s.page, page);
        update(&mut s, Action::Previous);
        assert_eq!(s.page, Page::Tasks, "from {page:?}");
    }
    update(&mut s, Action::Digit(3));
    update(&mut s, Action::Next);
    update(&mut s, Action::Previous);
    assert_eq!(s.page, Page::UserSignIn);
    // Manage federation and staged rollout have their own pages.
    update(&mut s, Action::Previous);
    update(&mut s, Action::Digit(4));
    assert_eq!(s.page, Page::ManageFederation);
    update(&mut s, Action::Previous);
    let fx = update(&mut s, Action::Digit(5));
    assert_eq!(s.page, Page::StagedRollout);
    assert_eq!(fx, vec![Effect::LoadStaged]);
}

pub fn staged(groups: &[(&str, &str)]) -> StagedInfo {
    StagedInfo {
        enabled: !groups.is_empty(),
        exists: !groups.is_empty(),
        groups: groups
            .iter()
            .map(|(id, name)| {
                (
                    id.to_string(),
                    name.to_string(),
                    "10 users (contoso.com 10)".into(),
                )
            })
            .collect(),
        some_groups: vec!["PHS pilot".into(), "Fabrikam pilot".into()],
        pilot_user: Some("adele.vance@contoso.com".into()),
    }
}

#[test]
fn staged_rollout_keeps_ticked_groups_adds_typed_ones_or_ends_it() {
    use crate::ops::staged_rollout::Change;
    let mut s = connected(true);
    update(&mut s, Action::Digit(5));
    // Nothing to do before the rollout is read.
    assert!(update(&mut s, Action::Next).is_empty());
    assert!(s.busy.is_some());
    update(
        &mut s,
        Action::Backend(BackendEvent::Staged(Box::new(staged(&[(
            "g1",
            "PHS pilot",
        )])))),
    );
    assert!(s.staged_keep.contains("g1"));
    // Unchanged: said, and nothing starts.
    assert!(update(&mut s, Action::Next).is_empty());
    assert!(
        s.notice
            .as_deref()
            .unwrap_or_default()
            .contains("Nothing to change")
    );
    // Space on the group row unticks it; on the field, letters and spaces are typed.
    update(&mut s, Action::Toggle);
    assert!(!s.staged_keep.contains("g1"));
    update(&mut s, Action::Down);
    assert!(s.text_input());
    for c in "Fabrikam pilot, g9".chars() {
        update(&mut s, Action::Input(c));
    }
    let fx = update(&mut s, Action::Next);
    assert_eq!(
        fx,
        vec![Effect::PrepareStaged {
            change: Change::Set(vec!["Fabrikam pilot".into(), "g9".into()])
        }]
    );
    assert_eq!(s.page, Page::Ready);
    // Back, and End instead.
    update(&mut s, Action::Previous);
    assert_eq!(s.page, Page::StagedRollout);
    assert_eq!(s.staged_add, "Fabrikam pilot, g9", "what was typed is kept");
    update(&mut s, Action::Down);
    assert!(s.text_input());
    update(&mut s, Action::Down);
    assert!(!s.text_input());
    update(&mut s, Action::Toggle);
    assert!(s.staged_end);
    let fx = update(&mut s, Action::Next);
    assert_eq!(
        fx,
        vec![Effect::PrepareStaged {
            change: Change::End
        }]
    );
    // Ready → Configuring → Complete → Test sign-in.
    update(
        &mut s,
        Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
    );
    assert_eq!(update(&mut s, Action::Next), vec![Effect::Run]);
    update(
        &mut s,
        Action::Backend(BackendEvent::Done(vec!["Staged rollout: none.".into()])),
    );
    assert_eq!(s.page, Page::Complete);
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::TestSignin);
    assert_eq!(s.upn, "adele.vance@contoso.com", "a pilot user is offered");
}

#[test]
fn the_farm_is_prefilled_from_the_backups_when_no_domain_names_it() {
    let mut s = connected(true);
    if let Some(st) = s.status.as_mut() {
        for d in st.domains.iter_mut() {
            d.authentication_type = "Managed".into();
            d.issuer_uri = None;
        }
        st.farms.clear();
    }
    update(&mut s, Action::Digit(3));
    update(&mut s, Action::Down);
    update(&mut s, Action::Toggle);
    assert_eq!(update(&mut s, Action::Next), vec![Effect::LoadBackups]);
    assert_eq!(s.page, Page::AdfsFarm);
    assert_eq!(s.farm_service, "");
    let backup = |domain: &str, at: &str, farm: &str| BackupInfo {
        domain: domain.into(),
        taken_at: at.into(),
        path: format!("/b/{domain}.json"),
        farm: Some(farm.into()),
    };
    update(
        &mut s,
        Action::Backend(BackendEvent::Backups(vec![
            backup("fabrikam.com", "2026-11-20T10:00:00Z", "sts.fabrikam.com"),
            backup("contoso.com", "2026-11-25T10:00:00Z", "sts.contoso.com"),
        ])),
    );
    assert_eq!(
        s.farm_service, "sts.contoso.com",
        "the newest backup's farm"
    );
}

#[test]
fn switching_back_reads_the_farm_then_restores_the_backup_then_verifies() {
    let mut s = connected(true);
    // contoso.com was failed over: it is managed, with a backup.
    if let Some(st) = s.status.as_mut() {
        st.domains[1].authentication_type = "Managed".into();
        st.domains[1].issuer_uri = None;
    }
    update(&mut s, Action::Digit(3));
    update(&mut s, Action::Down);
    update(&mut s, Action::Toggle);
    assert_eq!(s.sign_in, SignIn::Federation);
    assert_eq!(update(&mut s, Action::Next), vec![Effect::LoadBackups]);
    assert_eq!(s.page, Page::AdfsFarm);
    assert_eq!(
        s.farm_service, "sts.contoso.com",
        "the known farm is offered"
    );
    update(
        &mut s,
        Action::Backend(BackendEvent::Backups(vec![BackupInfo {
            domain: "contoso.com".into(),
            taken_at: "2026-11-25T10:00:00Z".into(),
            path: "/b/contoso.com.json".into(),
            farm: Some("sts.contoso.com".into()),
        }])),
    );
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::LoadFarm {
            service: "sts.contoso.com".into()
        }]
    );
    assert_eq!(s.page, Page::AdfsFarm, "the farm is read before going on");
    update(
        &mut s,
        Action::Backend(BackendEvent::Farm(Err("connection refused".into()))),
    );
    assert!(s.farm_error.is_some());
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::LoadFarm {
            service: "sts.contoso.com".into()
        }],
        "Next tries again"
    );
    update(
        &mut s,
        Action::Backend(BackendEvent::Farm(Ok(FarmInfo {
            service: "sts.contoso.com".into(),
            entity_id: "http://sts.contoso.com/adfs/services/trust".into(),
            certificates: vec!["AB, expires 2027".into()],
        }))),
    );
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::EntraDomain);
    assert_eq!(s.managed_roots(), ["contoso.com", "northwind.com"]);
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::SettingsSource);
    assert!(s.from_backup, "the backup is the default when there is one");
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::PrepareSwitchBack {
            domains: vec!["contoso.com".into()],
            from_backup: true,
            service: "sts.contoso.com".into()
        }]
    );
    assert_eq!(s.page, Page::Ready);
    update(
        &mut s,
        Action::Backend(BackendEvent::Planned(Box::new(plan(true)))),
    );
    assert!(
        update(&mut s, Action::Next).is_empty(),
        "a failed check blocks Configure"
    );
    update(
        &mut s,
        Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
    );
    assert_eq!(update(&mut s, Action::Next), vec![Effect::Run]);
    update(
        &mut s,
        Action::Backend(BackendEvent::Done(vec!["contoso.com: federated".into()])),
    );
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::VerifyAll {
            domains: vec!["contoso.com".into()]
        }]
    );
    assert_eq!(s.page, Page::Verify);
    update(
        &mut s,
        Action::Backend(BackendEvent::Verified {
            lines: vec!["[pass] user realm: Federated".into()],
            passed: true,
        }),
    );
    // Then Verify federated login, offering the rehearsal's user of that domain.
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::FederatedLogin);
    assert_eq!(s.upn, "adele.vance@contoso.com");
    assert!(s.text_input());
    update(&mut s, Action::FocusNext);
    for c in "canary-pw".chars() {
        update(&mut s, Action::Input(c));
    }
    // The state and the effect are logged and compared: neither shows the password.
    assert!(!format!("{s:?}").contains("canary-pw"));
    let fx = update(&mut s, Action::Next);
    assert!(!format!("{fx:?}").contains("canary-pw"));
    assert_eq!(
        fx,
        vec![Effect::TestSignIn {
            upn: "adele.vance@contoso.com".into(),
            password: "canary-pw".into()
        }]
    );
    assert!(s.password.is_empty(), "the password is not kept");
}

#[test]
fn several_domains_switch_back_with_one_plan_and_are_verified_together() {
    let mut s = connected(true);
    if let Some(st) = s.status.as_mut() {
        st.domains[1].authentication_type = "Managed".into();
        st.domains[1].issuer_uri = None;
    }
    s.flow = Flow::SwitchBack;
    s.farm_service = "sts.contoso.com".into();
    let backup = |domain: &str| BackupInfo {
        domain: domain.into(),
        taken_at: "2026-11-25T10:00:00Z".into(),
        path: format!("/b/{domain}.json"),
        farm: Some("sts.contoso.com".into()),
    };
    s.backups = vec![backup("contoso.com"), backup("northwind.com")];
    s.go(Page::EntraDomain);
    assert_eq!(s.managed_roots(), ["contoso.com", "northwind.com"]);
    update(&mut s, Action::Toggle);
    update(&mut s, Action::Down);
    update(&mut s, Action::Toggle);
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::SettingsSource);
    assert!(s.from_backup, "every ticked domain has a backup");
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::PrepareSwitchBack {
            domains: vec!["contoso.com".into(), "northwind.com".into()],
            from_backup: true,
            service: "sts.contoso.com".into()
        }]
    );
    update(
        &mut s,
        Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
    );
    assert_eq!(update(&mut s, Action::Next), vec![Effect::Run]);
    update(
        &mut s,
        Action::Backend(BackendEvent::Done(vec![
            "contoso.com: federated".into(),
            "northwind.com: federated".into(),
        ])),
    );
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::VerifyAll {
            domains: vec!["contoso.com".into(), "northwind.com".into()]
        }]
    );
    // Unticking one and going back leaves the other; a domain without a backup blocks "backup".
    let mut s2 = connected(true);
    s2.flow = Flow::SwitchBack;
    s2.back = ["contoso.com".to_string(), "northwind.com".to_string()].into();
    s2.backups = vec![backup("contoso.com")];
    s2.from_backup = true;
    s2.go(Page::SettingsSource);
    assert!(update(&mut s2, Action::Next).is_empty());
    assert!(
        s2.notice
            .as_deref()
            .unwrap_or_default()
            .contains("no backup")
    );
}

#[test]
fn northwind_has_no_backup_so_the_metadata_is_the_source() {
    let mut s = connected(true);
    s.page = Page::SettingsSource;
    s.target = Some("northwind.com".into());
    s.from_backup = true;
    assert!(update(&mut s, Action::Next).is_empty());
    assert!(
        s.notice
            .as_deref()
            .unwrap_or_default()
            .contains("no backup")
    );
    s.focus = 1;
    update(&mut s, Action::Toggle);
    assert!(!s.from_backup);
    assert!(matches!(
        update(&mut s, Action::Next).as_slice(),
        [Effect::PrepareSwitchBack {
            from_backup: false,
            ..
        }]
    ));
}

#[test]
fn resetting_the_trust_shows_the_certificates_then_verifies() {
    let mut s = connected(true);
    update(&mut s, Action::Digit(4));
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::TrustDomain);
    update(&mut s, Action::Down);
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::PrepareResetTrust {
            domain: "fabrikam.com".into()
        }]
    );
    assert_eq!(s.page, Page::Certificates);
    assert!(
        update(&mut s, Action::Next).is_empty(),
        "certificates not read yet"
    );
    update(
        &mut s,
        Action::Backend(BackendEvent::Certificates(vec![
            "AD FS: primary  CD".into(),
        ])),
    );
    update(
        &mut s,
        Action::Backend(BackendEvent::Planned(Box::new(plan(false)))),
    );
    update(&mut s, Action::Next);
    assert_eq!(s.page, Page::Ready);
    update(&mut s, Action::Next);
    update(
        &mut s,
        Action::Backend(BackendEvent::Done(vec!["fabrikam.com: updated".into()])),
    );
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::Verify {
            domain: "fabrikam.com".into()
        }]
    );
    // Verify alone, from Manage federation.
    let mut s = connected(true);
    update(&mut s, Action::Digit(4));
    update(&mut s, Action::Down);
    update(&mut s, Action::Next);
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::Verify {
            domain: "contoso.com".into()
        }]
    );
    assert_eq!(s.page, Page::Verify);
}

#[test]
fn previous_leaves_every_page_but_a_change_in_flight() {
    let all = [
        Page::Connect,
        Page::Tasks,
        Page::ViewConfig,
        Page::OptionalFeatures,
        Page::UserSignIn,
        Page::Domains,
        Page::Preflight,
        Page::Ready,
        Page::TestSignin,
        Page::AdfsFarm,
        Page::EntraDomain,
        Page::SettingsSource,
        Page::ManageFederation,
        Page::TrustDomain,
        Page::Certificates,
        Page::Verify,
    ];
    for page in all {
        let mut s = connected(true);
        s.history = vec![Page::Welcome, Page::Tasks];
        s.page = page;
        update(&mut s, Action::Previous);
        assert_eq!(s.page, Page::Tasks, "Previous from {page:?}");
    }
    let mut s = connected(true);
    s.page = Page::Complete;
    update(&mut s, Action::Previous);
    assert_eq!(s.page, Page::Tasks, "Complete goes back to the tasks");
    let mut s = connected(true);
    s.page = Page::Configuring;
    s.in_flight = true;
    update(&mut s, Action::Previous);
    assert_eq!(
        s.page,
        Page::Configuring,
        "a change in flight is never left half-way"
    );
}

#[test]
fn text_pages_scroll() {
    let mut s = connected(true);
    s.page = Page::Ready;
    update(&mut s, Action::Up);
    assert_eq!(s.focus, 0);
    update(&mut s, Action::Down);
    update(&mut s, Action::Down);
    assert_eq!(s.focus, 2);
}

#[test]
fn errors_offer_retry_skip_abort() {
    let mut s = connected(true);
    update(&mut s, Action::Digit(2));
    s.phs_checked = true;
    if let Some(st) = s.status.as_mut() {
        st.password_hash_sync = false;
    }
    update(&mut s, Action::Next);
    let panel = ErrorPanel {
        title: "x".into(),
        message: "m".into(),
        request_id: Some("r".into()),
        meaning: "k".into(),
        focus: 0,
    };
    update(&mut s, Action::Backend(BackendEvent::Failed(panel.clone())));
    assert_eq!(
        update(&mut s, Action::Next),
        vec![Effect::PrepareEnablePhs],
        "Retry"
    );
    update(&mut s, Action::Backend(BackendEvent::Failed(panel.clone())));
    update(&mut s, Action::FocusNext);
    assert_eq!(update(&mut s, Action::Next), vec![Effect::Refresh], "Skip");
    assert_eq!(s.page, Page::Tasks);
    update(&mut s, Action::Backend(BackendEvent::Failed(panel)));
    update(&mut s, Action::FocusPrev);
    assert_eq!(update(&mut s, Action::Next), vec![Effect::Exit], "Abort");
}

#[test]
fn rehearsal_controls_and_help() {
    let mut s = connected(true);
    update(&mut s, Action::Controls);
    assert!(s.controls);
    assert_eq!(
        update(&mut s, Action::Digit(1)),
        vec![Effect::Control(Control::FarmDown)]
    );
    assert!(!s.controls);
    update(&mut s, Action::Help);
    assert!(s.help);
    update(&mut s, Action::Next);
    assert!(!s.help);
    assert_eq!(
        s.page,
        Page::Tasks,
        "a key that closes help does nothing else"
    );
    s.rehearsal = false;
    update(&mut s, Action::Controls);
    assert!(!s.controls);
    assert_eq!(update(&mut s, Action::Quit), vec![Effect::Exit]);
}
