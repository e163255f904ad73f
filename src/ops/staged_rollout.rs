//! `staged-rollout`: Microsoft's way to move pilot groups to password hash sync while their domain
//! stays federated (`/policies/featureRolloutPolicies`, feature `passwordHashSync`). What Microsoft
//! refuses is refused here before anything is sent: more than 10 groups, dynamic groups, nested
//! groups, groups holding contacts. Each change is backed up, journaled with the state it aims at
//! (so that `resume` can finish it), and read back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::journal::{self, Entry};
use super::plan::{Outcome, Plan};
use super::status::{last_password_sync, sync_settings, who};
use super::{OpsError, Progress, Session};
use crate::auth::claims::Task;
use crate::graph::encode;
use crate::graph::models::{
    DirectoryObject, FeatureRolloutPolicy, Group, StagedFeatureName, parse_graph_time,
};

/// Microsoft's limit: groups a staged-rollout feature applies to.
pub const MAX_GROUPS: usize = 10;
/// Microsoft's portal adds at most this many users when a group is first added (its time-out).
pub const FIRST_ADD_USERS: usize = 200;
const POLICIES: &str = "/v1.0/policies/featureRolloutPolicies";
/// The journal's name for these changes.
pub const OP: &str = "staged-rollout";

/// A group as staged rollout sees it: what it is and who is in it (direct members).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct GroupInfo {
    pub id: String,
    pub display_name: String,
    pub users: usize,
    /// Member users per UPN domain.
    pub users_by_domain: BTreeMap<String, usize>,
    pub nested_groups: usize,
    pub contacts: usize,
    pub dynamic: bool,
    /// Synchronized from on-premises AD (`onPremisesSyncEnabled`).
    pub synced: bool,
    /// One member's UPN: a user to prove the pilot with (`test-signin`).
    pub sample_user: Option<String>,
}

impl GroupInfo {
    /// Why Microsoft refuses it, if it does.
    pub fn refusal(&self) -> Option<String> {
        if self.dynamic {
            Some("a dynamic group: staged rollout does not take dynamic groups".into())
        } else if self.nested_groups > 0 {
            Some(format!(
                "holds {} group(s): staged rollout does not take nested groups (add the member groups themselves)",
                self.nested_groups
            ))
        } else if self.contacts > 0 {
            Some(format!(
                "holds {} contact(s): contacts block a group from staged rollout; remove them from it first",
                self.contacts
            ))
        } else {
            None
        }
    }

    pub fn describe(&self) -> String {
        let domains: Vec<String> = self
            .users_by_domain
            .iter()
            .map(|(d, n)| format!("{d} {n}"))
            .collect();
        format!(
            "{} users{}",
            self.users,
            if domains.is_empty() {
                String::new()
            } else {
                format!(" ({})", domains.join(", "))
            }
        )
    }
}

/// The staged rollout of password hash sync as it is.
#[derive(Clone, Debug, Serialize)]
pub struct View {
    /// The `passwordHashSync` policy, if the tenant has one.
    pub policy: Option<FeatureRolloutPolicy>,
    pub enabled: bool,
    pub applied_to_organization: bool,
    pub groups: Vec<GroupInfo>,
    /// Other staged-rollout features the tenant has (feature, enabled, groups).
    pub other_features: Vec<(String, bool, usize)>,
}

impl View {
    pub fn text(&self) -> String {
        let mut out = String::new();
        match &self.policy {
            None => out.push_str("Staged rollout of password hash sync: none.\n"),
            Some(p) => {
                out.push_str(&format!(
                    "Staged rollout of password hash sync: {} ({}, policy {}).\n",
                    if self.enabled { "on" } else { "off" },
                    p.display_name.as_deref().unwrap_or("unnamed"),
                    p.id.as_deref().unwrap_or("?")
                ));
                if self.applied_to_organization {
                    out.push_str("  applies to the whole organisation\n");
                }
                if self.groups.is_empty() {
                    out.push_str("  no groups\n");
                }
                for g in &self.groups {
                    out.push_str(&format!(
                        "  {}  {}  {}\n",
                        g.display_name,
                        g.id,
                        g.describe()
                    ));
                }
            }
        }
        for (f, on, n) in &self.other_features {
            out.push_str(&format!(
                "Staged rollout of {f}: {} ({n} groups).\n",
                if *on { "on" } else { "off" }
            ));
        }
        out.push_str(&format!(
            "Microsoft's limits: at most {MAX_GROUPS} groups; no dynamic or nested groups; no contacts in a group. Pilot users sign in with their password hash while their domain stays federated (browsers and modern authentication only)."
        ));
        out
    }
}

/// What to change.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// Turn it on (creating the policy when there is none), adding these groups.
    Enable(Vec<String>),
    Add(Vec<String>),
    Remove(Vec<String>),
    /// Exactly these groups (names or ids), turning it on: what the wizard's checkboxes ask for.
    Set(Vec<String>),
    /// End it: delete the policy (the backup keeps it).
    End,
}

/// The state a change aims at: journaled with its intent, so that `resume` can finish it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Target {
    pub enabled: bool,
    /// Group ids.
    pub groups: Vec<String>,
}

pub struct Prepared {
    pub plan: Plan,
    pub target: Target,
    /// The policy as read before the change (with its groups), for the backup.
    before: Value,
    /// Names of the groups, for the journal and progress.
    names: BTreeMap<String, String>,
    pub changes: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub changed: bool,
    pub view: View,
    pub backup: Option<String>,
    pub note: String,
}

fn is_phs(p: &FeatureRolloutPolicy) -> bool {
    p.feature == Some(StagedFeatureName::PasswordHashSync)
}

/// The tenant's feature rollout policies; the password hash sync one read with its groups.
async fn policies(s: &Session) -> Result<(Option<Value>, Vec<FeatureRolloutPolicy>), OpsError> {
    let all: Vec<FeatureRolloutPolicy> = s.graph.list(POLICIES).await?;
    let phs = match all.iter().find(|p| is_phs(p)).and_then(|p| p.id.clone()) {
        Some(id) => Some(
            s.graph
                .send(
                    reqwest::Method::GET,
                    &format!("{POLICIES}/{}?$expand=appliesTo", encode(&id)),
                    None,
                )
                .await?
                .body,
        ),
        None => None,
    };
    Ok((phs, all))
}

fn group_ids(policy: &Value) -> Vec<String> {
    policy["appliesTo"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|o| o["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One group, by id or by display name; a name two groups share is refused with their ids.
pub async fn find_group(s: &Session, name_or_id: &str) -> Result<Group, OpsError> {
    let key = name_or_id.trim();
    if key.is_empty() {
        return Err(OpsError::Input("an empty group name".into()));
    }
    if uuid::Uuid::parse_str(key).is_ok() {
        return match s.graph.get(&format!("/v1.0/groups/{key}")).await {
            Ok(g) => Ok(g),
            Err(e) if e.status() == Some(404) => {
                Err(OpsError::Input(format!("no group has the id {key}")))
            }
            Err(e) => Err(e.into()),
        };
    }
    let filter: String = url::form_urlencoded::byte_serialize(
        format!("displayName eq '{}'", key.replace('\'', "''")).as_bytes(),
    )
    .collect();
    let found: Vec<Group> = s
        .graph
        .list(&format!(
            "/v1.0/groups?$filter={filter}&$select=id,displayName,groupTypes,membershipRule,onPremisesSyncEnabled,securityEnabled"
        ))
        .await?;
    match found.len() {
        0 => Err(OpsError::Input(format!("no group is named {key:?}"))),
        1 => Ok(found.into_iter().next().unwrap_or_default()),
        n => Err(OpsError::Input(format!(
            "{n} groups are named {key:?}: give the one you mean by its id ({})",
            found
                .iter()
                .filter_map(|g| g.id.clone())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// What a group holds (direct members, page by page) and what kind it is.
pub async fn inspect(s: &Session, g: &Group) -> Result<GroupInfo, OpsError> {
    let id = g.id.clone().unwrap_or_default();
    let members: Vec<DirectoryObject> = s
        .graph
        .list(&format!(
            "/v1.0/groups/{}/members?$select=id,userPrincipalName&$top=999",
            encode(&id)
        ))
        .await?;
    let mut info = GroupInfo {
        id,
        display_name: g.display_name.clone().unwrap_or_default(),
        users: 0,
        users_by_domain: BTreeMap::new(),
        nested_groups: 0,
        contacts: 0,
        dynamic: g.group_types.as_ref().is_some_and(|t| {
            t.iter()
                .any(|k| k.eq_ignore_ascii_case("DynamicMembership"))
        }),
        synced: g.on_premises_sync_enabled == Some(true),
        sample_user: None,
    };
    for m in members {
        match m.odata_type.as_deref().unwrap_or_default() {
            "#microsoft.graph.user" => {
                info.users += 1;
                let domain = m
                    .user_principal_name
                    .as_deref()
                    .and_then(|u| u.rsplit_once('@'))
                    .map(|(_, d)| d.to_ascii_lowercase())
                    .unwrap_or_else(|| "?".into());
                *info.users_by_domain.entry(domain).or_default() += 1;
                if info.sample_user.is_none() {
                    info.sample_user = m.user_principal_name.clone();
                }
            }
            "#microsoft.graph.group" => info.nested_groups += 1,
            "#microsoft.graph.orgContact" => info.contacts += 1,
            _ => {}
        }
    }
    Ok(info)
}

async fn group_by_id(s: &Session, id: &str) -> Result<GroupInfo, OpsError> {
    match s
        .graph
        .get::<Group>(&format!("/v1.0/groups/{}", encode(id)))
        .await
    {
        Ok(g) => inspect(s, &g).await,
        // A group deleted since it was added: still shown, by id.
        Err(e) if e.status() == Some(404) => Ok(GroupInfo {
            id: id.into(),
            display_name: "(deleted group)".into(),
            users: 0,
            users_by_domain: BTreeMap::new(),
            nested_groups: 0,
            contacts: 0,
            dynamic: false,
            synced: false,
            sample_user: None,
        }),
        Err(e) => Err(e.into()),
    }
}

fn view_of(phs: Option<&Value>, all: &[FeatureRolloutPolicy], groups: Vec<GroupInfo>) -> View {
    let policy: Option<FeatureRolloutPolicy> =
        phs.and_then(|v| serde_json::from_value(v.clone()).ok());
    View {
        enabled: policy.as_ref().and_then(|p| p.is_enabled) == Some(true),
        applied_to_organization: policy.as_ref().and_then(|p| p.is_applied_to_organization)
            == Some(true),
        policy,
        groups,
        other_features: all
            .iter()
            .filter(|p| !is_phs(p))
            .map(|p| {
                (
                    p.feature
                        .as_ref()
                        .map(|f| f.as_str().to_string())
                        .unwrap_or_default(),
                    p.is_enabled == Some(true),
                    p.applies_to.as_ref().map(Vec::len).unwrap_or(0),
                )
            })
            .collect(),
    }
}

/// For a switch-back's plan: pilots of a staged rollout keep signing in with their password hash
/// after their domain is federated again. `None` when there is none, or it cannot be read (an
/// application profile may not read feature rollout policies).
pub async fn still_on(s: &Session) -> Option<String> {
    let (phs, _) = policies(s).await.ok()?;
    let p = phs?;
    if p["isEnabled"].as_bool() != Some(true) {
        return None;
    }
    let n = group_ids(&p).len();
    Some(format!(
        "staged rollout of password hash sync is on for {n} group(s): their members keep signing in with the password hash, not at the farm, until it ends (`staged-rollout end`)"
    ))
}

pub async fn show(s: &Session) -> Result<View, OpsError> {
    let (phs, all) = policies(s).await?;
    view_from(s, phs, &all).await
}

/// The view of policies already read: only the groups are read here.
async fn view_from(
    s: &Session,
    phs: Option<Value>,
    all: &[FeatureRolloutPolicy],
) -> Result<View, OpsError> {
    let mut groups = vec![];
    if let Some(p) = &phs {
        for id in group_ids(p) {
            groups.push(group_by_id(s, &id).await?);
        }
    }
    Ok(view_of(phs.as_ref(), all, groups))
}

pub async fn prepare(s: &Session, change: &Change) -> Result<Prepared, OpsError> {
    let title = match change {
        Change::Enable(_) => "Turn on staged rollout of password hash sync",
        Change::Add(_) => "Add groups to the staged rollout of password hash sync",
        Change::Remove(_) => "Remove groups from the staged rollout of password hash sync",
        Change::Set(_) => "Change the staged rollout of password hash sync",
        Change::End => "End the staged rollout of password hash sync",
    };
    let mut plan = Plan::new(title, &s.tenant);
    let me = who(s).await?;
    if me.is_app() {
        // Graph takes no application permission for feature rollout policies: say so, send nothing.
        plan.check(
            "permissions",
            Outcome::Fail,
            "staged rollout takes a signed-in administrator (delegated permissions only): use a profile that signs in as a Hybrid Identity Administrator",
        );
        return Ok(Prepared {
            plan,
            target: Target {
                enabled: false,
                groups: vec![],
            },
            before: Value::Null,
            names: BTreeMap::new(),
            changes: false,
        });
    }
    plan.permissions(&me, Task::StagedRollout, "change staged rollout");
    plan.checks
        .push(super::operator::check_by_reading(s, &me).await?);
    let ((phs, _all), sync, last) =
        futures_util::try_join!(policies(s), sync_settings(s), async {
            Ok(last_password_sync(s).await)
        },)?;
    let current: Vec<String> = phs.as_ref().map(group_ids).unwrap_or_default();
    let policy_id = phs
        .as_ref()
        .and_then(|p| p["id"].as_str())
        .map(str::to_string);
    let enabled = phs.as_ref().and_then(|p| p["isEnabled"].as_bool()) == Some(true);
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut target = Target {
        enabled: true,
        groups: current.clone(),
    };
    // Resolve the groups named (by name or id), and say what each would do.
    let asked = match change {
        Change::Enable(g) | Change::Add(g) | Change::Remove(g) | Change::Set(g) => g.clone(),
        Change::End => vec![],
    };
    let mut infos: Vec<GroupInfo> = vec![];
    for name in &asked {
        let g = find_group(s, name).await?;
        let info = inspect(s, &g).await?;
        if !infos.iter().any(|i| i.id == info.id) {
            names.insert(info.id.clone(), info.display_name.clone());
            infos.push(info);
        }
    }
    let is_current = |id: &str| current.iter().any(|c| c.eq_ignore_ascii_case(id));
    let (adds, removes): (Vec<&GroupInfo>, Vec<String>) = match change {
        Change::Enable(_) | Change::Add(_) => (infos.iter().collect(), vec![]),
        Change::Remove(_) => (vec![], infos.iter().map(|i| i.id.clone()).collect()),
        Change::Set(_) => (
            infos.iter().collect(),
            current
                .iter()
                .filter(|c| !infos.iter().any(|i| i.id.eq_ignore_ascii_case(c)))
                .cloned()
                .collect(),
        ),
        Change::End => (vec![], vec![]),
    };
    if matches!(change, Change::Add(_) | Change::Remove(_)) && policy_id.is_none() {
        plan.check(
            "staged rollout",
            Outcome::Fail,
            "there is none yet: `staged-rollout enable --group …` starts it",
        );
    }
    if !adds.iter().all(|g| is_current(&g.id)) || matches!(change, Change::Enable(_)) {
        let flag_on = sync.features.as_ref().and_then(|f| f.password_sync_enabled) == Some(true);
        if !flag_on {
            plan.check(
                "password hash sync",
                Outcome::Fail,
                "off: pilot users would have no password hash to sign in with. Turn it on first (`enable-phs`) and let hashes arrive",
            );
        } else {
            let recent = last
                .as_deref()
                .and_then(parse_graph_time)
                .is_some_and(|t| (time::OffsetDateTime::now_utc() - t).whole_hours() < 3);
            plan.check(
                "password hash sync",
                if recent { Outcome::Pass } else { Outcome::Warn },
                match (&last, recent) {
                    (Some(t), true) => format!("on; the last password sync ran at {t}"),
                    (Some(t), false) => format!(
                        "on, but the last password sync ran at {t}: pilot users whose hash has not arrived cannot sign in"
                    ),
                    (None, _) => "on, but no password sync has run yet: pilot users cannot sign in until their hashes arrive".into(),
                },
            );
        }
    }
    for info in adds {
        let name = format!("group {}", info.display_name);
        if is_current(&info.id) {
            if !matches!(change, Change::Set(_)) {
                plan.check(
                    &name,
                    Outcome::Info,
                    format!("already in the staged rollout ({})", info.describe()),
                );
            }
            continue;
        }
        if let Some(why) = info.refusal() {
            plan.check(&name, Outcome::Fail, why);
            continue;
        }
        let mut detail = info.describe();
        if info.users > FIRST_ADD_USERS {
            detail.push_str(&format!(
                "; Microsoft's portal takes at most {FIRST_ADD_USERS} users when a group is first added: members past that may take up to 24 hours to switch"
            ));
        }
        if !info.synced {
            detail.push_str("; a cloud group: only its members synchronized from AD are affected");
        }
        let big = info.users > FIRST_ADD_USERS;
        plan.check(
            &name,
            if big { Outcome::Warn } else { Outcome::Pass },
            detail,
        );
        if info.users == 0 {
            plan.check(&name, Outcome::Warn, "has no user members: nobody moves");
        }
        target.groups.push(info.id.clone());
    }
    for id in &removes {
        let label = match names.get(id) {
            Some(n) => n.clone(),
            None => {
                let g = group_by_id(s, id).await?;
                names.insert(id.clone(), g.display_name.clone());
                g.display_name
            }
        };
        if let Some(pos) = target
            .groups
            .iter()
            .position(|c| c.eq_ignore_ascii_case(id))
        {
            target.groups.remove(pos);
            plan.check(
                &format!("group {label}"),
                Outcome::Pass,
                "leaves the staged rollout: its users go back to the farm after their next sign-in",
            );
        } else {
            plan.check(
                &format!("group {label}"),
                Outcome::Fail,
                "is not in the staged rollout",
            );
        }
    }
    if target.groups.len() > MAX_GROUPS {
        plan.check(
            "groups",
            Outcome::Fail,
            format!(
                "{} groups: Microsoft allows at most {MAX_GROUPS} a feature (it has {} now)",
                target.groups.len(),
                current.len()
            ),
        );
    }
    match change {
        Change::Enable(_) | Change::Set(_) if target.groups.is_empty() => plan.check(
            "groups",
            Outcome::Warn,
            "no group: nobody moves until one is added",
        ),
        // A policy turned off elsewhere stays as it is: removing a group neither deletes it nor
        // turns it on.
        Change::Remove(_) if policy_id.is_some() && !enabled => plan.check(
            "staged rollout",
            Outcome::Fail,
            "it is off (turned off outside this tool): `staged-rollout enable` turns it on, `end` deletes it",
        ),
        Change::End => {
            target = Target {
                enabled: false,
                groups: vec![],
            };
            let detail = if policy_id.is_none() {
                "there is none: nothing to end".to_string()
            } else {
                format!(
                    "{} group(s) leave it; their users go back to the farm after their next sign-in",
                    current.len()
                )
            };
            plan.check("staged rollout", Outcome::Info, detail);
        }
        _ => {}
    }
    for id in &current {
        if !names.contains_key(id) {
            names.insert(id.clone(), id.clone());
        }
    }
    steps(
        &mut plan,
        policy_id.as_deref(),
        enabled,
        &current,
        &target,
        &names,
    );
    let changes = !plan.steps.is_empty();
    Ok(Prepared {
        plan,
        target,
        before: phs.unwrap_or(Value::Null),
        names,
        changes,
    })
}

/// The calls that take the policy from what it is to `target`, in order.
fn steps(
    plan: &mut Plan,
    policy_id: Option<&str>,
    enabled: bool,
    current: &[String],
    target: &Target,
    names: &BTreeMap<String, String>,
) {
    let id = policy_id.unwrap_or("{new policy id}");
    if !target.enabled {
        if policy_id.is_some() {
            plan.step(
                None,
                "DELETE",
                &format!("{POLICIES}/{id}"),
                None,
                "end the staged rollout (the backup keeps the policy and its groups)",
            );
            plan.step(
                None,
                "GET",
                POLICIES,
                None,
                "read back: no password hash sync policy",
            );
        }
        return;
    }
    match policy_id {
        None => plan.step(
            None,
            "POST",
            POLICIES,
            Some(create_body()),
            "create the policy, on",
        ),
        Some(_) if !enabled => plan.step(
            None,
            "PATCH",
            &format!("{POLICIES}/{id}"),
            Some(json!({"isEnabled": true})),
            "turn the policy on",
        ),
        Some(_) => {}
    }
    for g in target.groups.iter().filter(|g| !current.contains(g)) {
        plan.step(
            names.get(g).map(String::as_str),
            "POST",
            &format!("{POLICIES}/{id}/appliesTo/$ref"),
            Some(json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{g}")})),
            "add the group",
        );
    }
    for g in current.iter().filter(|g| !target.groups.contains(g)) {
        plan.step(
            names.get(g).map(String::as_str),
            "DELETE",
            &format!("{POLICIES}/{id}/appliesTo/{g}/$ref"),
            None,
            "remove the group",
        );
    }
    if !plan.steps.is_empty() {
        plan.step(
            None,
            "GET",
            &format!("{POLICIES}/{id}?$expand=appliesTo"),
            None,
            "read it back",
        );
    }
}

fn create_body() -> Value {
    json!({
        "displayName": "Password hash sync staged rollout",
        "description": "Pilot groups on password hash sync while their domains stay federated (entra-failover)",
        "feature": "passwordHashSync",
        "isEnabled": true,
        "isAppliedToOrganization": false
    })
}

/// Takes the policy from what it is now to `target`; returns the last change's request-id.
async fn converge(
    s: &Session,
    target: &Target,
    progress: &dyn Progress,
) -> Result<Option<String>, OpsError> {
    let (phs, _) = policies(s).await?;
    let mut request_id = None;
    let id = phs
        .as_ref()
        .and_then(|p| p["id"].as_str())
        .map(str::to_string);
    if !target.enabled {
        if let Some(id) = id {
            progress.event(None, "ending the staged rollout");
            let r = s
                .graph
                .send(
                    reqwest::Method::DELETE,
                    &format!("{POLICIES}/{}", encode(&id)),
                    None,
                )
                .await?;
            request_id = r.request_id;
        }
        return Ok(request_id);
    }
    let current = phs.as_ref().map(group_ids).unwrap_or_default();
    let id = match id {
        Some(id) => {
            if phs.as_ref().and_then(|p| p["isEnabled"].as_bool()) != Some(true) {
                progress.event(None, "turning the staged rollout on");
                let r = s
                    .graph
                    .send(
                        reqwest::Method::PATCH,
                        &format!("{POLICIES}/{}", encode(&id)),
                        Some(&json!({"isEnabled": true})),
                    )
                    .await?;
                request_id = r.request_id;
            }
            id
        }
        None => {
            progress.event(None, "creating the staged rollout policy");
            let r = s
                .graph
                .send(reqwest::Method::POST, POLICIES, Some(&create_body()))
                .await?;
            request_id = r.request_id.clone();
            r.body["id"].as_str().map(str::to_string).ok_or_else(|| {
                OpsError::Partial("Graph created the policy but returned no id".into())
            })?
        }
    };
    for g in target
        .groups
        .iter()
        .filter(|g| !current.iter().any(|c| c.eq_ignore_ascii_case(g)))
    {
        progress.event(Some(g), "adding the group");
        let r = s
            .graph
            .send(
                reqwest::Method::POST,
                &format!("{POLICIES}/{}/appliesTo/$ref", encode(&id)),
                Some(&json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{g}")})),
            )
            .await?;
        request_id = r.request_id;
    }
    for g in current
        .iter()
        .filter(|c| !target.groups.iter().any(|g| g.eq_ignore_ascii_case(c)))
    {
        progress.event(Some(g), "removing the group");
        let r = s
            .graph
            .send(
                reqwest::Method::DELETE,
                &format!("{POLICIES}/{}/appliesTo/{}/$ref", encode(&id), encode(g)),
                None,
            )
            .await?;
        request_id = r.request_id;
    }
    Ok(request_id)
}

/// Whether the tenant's policy now is `target`; the difference when it is not.
/// Whether the tenant's policy now is `target` (the difference when it is not), and the policies
/// as read, for the view that follows.
async fn read_back(s: &Session, target: &Target) -> Result<ReadBack, OpsError> {
    let (phs, all) = policies(s).await?;
    let verdict = match (&phs, target.enabled) {
        (None, false) => Ok(()),
        (Some(_), false) => Err("the policy still exists".into()),
        (None, true) => Err("there is no policy".into()),
        (Some(p), true) => {
            let mut have = group_ids(p);
            let mut want = target.groups.clone();
            have.iter_mut().for_each(|g| g.make_ascii_lowercase());
            want.iter_mut().for_each(|g| g.make_ascii_lowercase());
            have.sort();
            want.sort();
            if p["isEnabled"].as_bool() != Some(true) {
                Err("the policy is off".into())
            } else if have != want {
                Err(format!("its groups are {have:?}, not {want:?}"))
            } else {
                Ok(())
            }
        }
    };
    Ok(ReadBack { verdict, phs, all })
}

struct ReadBack {
    verdict: Result<(), String>,
    phs: Option<Value>,
    all: Vec<FeatureRolloutPolicy>,
}

fn describe_target(t: &Target, names: &BTreeMap<String, String>) -> String {
    if !t.enabled {
        return "staged rollout ended".into();
    }
    let groups: Vec<String> = t
        .groups
        .iter()
        .map(|g| names.get(g).cloned().unwrap_or_else(|| g.clone()))
        .collect();
    format!(
        "staged rollout on for {} group(s): {}",
        groups.len(),
        groups.join(", ")
    )
}

pub async fn run(s: &Session, p: Prepared, progress: &dyn Progress) -> Result<Report, OpsError> {
    let _lock = super::lock::acquire(&s.home, &s.tenant)?;
    if let Some(f) = p.plan.failed().first() {
        return Err(OpsError::Refused(format!("{}: {}", f.name, f.detail)));
    }
    if !p.changes {
        return Ok(Report {
            changed: false,
            view: show(s).await?,
            backup: None,
            note: "Nothing to change.".into(),
        });
    }
    let b = super::backup::PolicyBackup::new(&s.tenant, p.before.clone());
    let path = b.write(&s.home)?.display().to_string();
    let describe = describe_target(&p.target, &p.names);
    let mut intent =
        Entry::new(OP, "-", "intent", &describe).with_backup(Some(&path), Some(&b.sha256));
    intent.target = serde_json::to_value(&p.target).ok();
    journal::append(&s.home, &s.tenant, &intent)?;
    let request_id = match converge(s, &p.target, progress).await {
        Ok(r) => r,
        Err(e) => {
            journal::append(
                &s.home,
                &s.tenant,
                &Entry::new(OP, "-", "failed", &e.to_string())
                    .with_backup(Some(&path), Some(&b.sha256)),
            )?;
            return Err(OpsError::Partial(format!(
                "{e}. `entra-failover resume` finishes it; the backup is {path}"
            )));
        }
    };
    let back = read_back(s, &p.target).await?;
    if let Err(why) = &back.verdict {
        journal::append(
            &s.home,
            &s.tenant,
            &Entry::new(OP, "-", "failed", &format!("read back: {why}"))
                .with_backup(Some(&path), Some(&b.sha256)),
        )?;
        return Err(OpsError::Partial(format!(
            "Graph accepted the change but reading it back: {why}"
        )));
    }
    let mut done = Entry::new(OP, "-", "done", &format!("read back: {describe}"))
        .with_backup(Some(&path), Some(&b.sha256));
    done.request_id = request_id;
    journal::append(&s.home, &s.tenant, &done)?;
    let view = view_from(s, back.phs, &back.all).await?;
    let note = if view.enabled {
        "Pilot users move to password hash sync at their next interactive sign-in (membership changes made later can take up to 24 hours). `test-signin --upn` with a pilot user shows it; the domain stays federated.".into()
    } else {
        "Pilot users go back to the farm at their next sign-in.".into()
    };
    Ok(Report {
        changed: true,
        view,
        backup: Some(path),
        note,
    })
}

/// `resume`: finish an interrupted change from the state its intent aimed at.
pub async fn reconcile(s: &Session, intent: &Entry) -> Result<(&'static str, String), OpsError> {
    let Some(target) = intent
        .target
        .clone()
        .and_then(|t| serde_json::from_value::<Target>(t).ok())
    else {
        return Ok((
            "needs you",
            "the interrupted change did not record its aim: `staged-rollout` shows the policy as it is".into(),
        ));
    };
    if read_back(s, &target).await?.verdict.is_ok() {
        return Ok(("already done", format!("read back: {}", intent.detail)));
    }
    converge(s, &target, &super::Quiet).await?;
    match read_back(s, &target).await?.verdict {
        Ok(()) => Ok(("finished", format!("read back: {}", intent.detail))),
        Err(why) => Ok(("needs you", format!("read back: {why}"))),
    }
}
