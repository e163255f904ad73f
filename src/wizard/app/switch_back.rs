//! Federation with AD FS again: the farm, the domains, where their settings come from.

use super::*;

pub(super) fn next(s: &mut State) -> Vec<Effect> {
    match s.page {
        Page::AdfsFarm => {
            let service = s.farm_service.trim().to_ascii_lowercase();
            if s.farm.as_ref().is_some_and(|f| f.service == service) {
                s.go(Page::EntraDomain);
                return vec![];
            }
            s.farm = None;
            s.farm_error = None;
            s.busy = Some(format!("reading the federation metadata of {service}"));
            vec![Effect::LoadFarm { service }]
        }
        Page::EntraDomain => {
            // Enter alone takes the focused domain; Space ticks several to switch back together.
            let roots = s.managed_roots();
            s.back.retain(|d| roots.contains(d));
            if s.back.is_empty()
                && let Some(d) = roots.get(s.focus.min(roots.len().saturating_sub(1)))
            {
                s.back.insert(d.clone());
            }
            s.target = s.back.iter().next().cloned();
            s.from_backup = s.back.iter().all(|d| s.backup_of(d).is_some());
            s.go(Page::SettingsSource);
            s.focus = if s.from_backup { 0 } else { 1 };
            vec![]
        }
        Page::SettingsSource => {
            s.plan = None;
            s.go(Page::Ready);
            s.busy = Some("preparing the plan".into());
            vec![Effect::PrepareSwitchBack {
                domains: s.back.iter().cloned().collect(),
                from_backup: s.from_backup,
                service: s.farm_service.trim().to_ascii_lowercase(),
            }]
        }
        _ => vec![],
    }
}
