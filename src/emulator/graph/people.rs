//! Users (and `me`), groups and their members.

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::call::{Call, Filter, Outcome, eq_matches, parse_filter, short};
use crate::clock::unix;
use crate::emulator::http::{Resp, graph_error};
use crate::emulator::schema::{self};
use crate::emulator::state::{GroupRec, Tenant, UserRec};
use crate::emulator::tokens::Claims;
use crate::graph::models::graph_time;

/// This family's requests; `None` for a path it does not serve.
pub(super) fn route(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    l: &[&str],
    segs: &[String],
) -> Option<Result<Outcome, Resp>> {
    let r = match (call.req.method.as_str(), l) {
        ("GET", ["users"]) => list_users(call, t, who).map(Into::into),
        ("GET", ["users", _]) => get_user(call, t, who, &segs[1]).map(Into::into),
        ("GET", ["me"]) => me(call, t, who).map(Into::into),
        ("GET", ["groups"]) => list_groups(call, t, who).map(Into::into),
        ("GET", ["groups", _]) => get_group(call, t, who, &segs[1]).map(Into::into),
        ("GET", ["groups", _, "members"]) => list_members(call, t, who, &segs[1]).map(Into::into),
        _ => return None,
    };
    Some(r)
}

const USER_PROPS: &[&str] = &[
    "id",
    "aboutMe",
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "birthday",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "customSecurityAttributes",
    "department",
    "deviceEnrollmentLimit",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "givenName",
    "hireDate",
    "identities",
    "identityParentId",
    "imAddresses",
    "interests",
    "isManagementRestricted",
    "isResourceAccount",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "licenseAssignmentStates",
    "mail",
    "mailboxSettings",
    "mailNickname",
    "mobilePhone",
    "mySite",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "passwordProfile",
    "pastProjects",
    "postalCode",
    "preferredDataLocation",
    "preferredLanguage",
    "preferredName",
    "print",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "securityIdentifier",
    "serviceProvisioningErrors",
    "showInAddressList",
    "signInActivity",
    "signInSessionsValidFromDateTime",
    "skills",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
    "deletedDateTime",
];

const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];

const GROUP_PROPS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "onPremisesSyncEnabled",
    "mail",
    "mailNickname",
    "createdDateTime",
    "visibility",
    "deletedDateTime",
    "membershipRule",
    "membershipRuleProcessingState",
];

const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "User.ReadBasic.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

fn user_json(u: &UserRec) -> Value {
    let mail = if u.synced { Some(u.upn.clone()) } else { None };
    let mut m = Map::new();
    let s = |x: &Option<String>| x.clone().map(Value::String).unwrap_or(Value::Null);
    m.insert("businessPhones".into(), json!([]));
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("givenName".into(), s(&u.given_name));
    m.insert("jobTitle".into(), s(&u.job_title));
    m.insert("mail".into(), s(&mail));
    m.insert("mobilePhone".into(), Value::Null);
    m.insert("officeLocation".into(), Value::Null);
    m.insert("preferredLanguage".into(), json!("en-US"));
    m.insert("surname".into(), s(&u.surname));
    m.insert("userPrincipalName".into(), json!(u.upn));
    m.insert("id".into(), json!(u.id));
    m.insert("accountEnabled".into(), json!(u.enabled));
    m.insert(
        "onPremisesSyncEnabled".into(),
        if u.synced { json!(true) } else { Value::Null },
    );
    m.insert("onPremisesImmutableId".into(), s(&u.immutable_id));
    m.insert(
        "onPremisesLastSyncDateTime".into(),
        u.last_sync
            .map(|t| json!(graph_time(unix(t))))
            .unwrap_or(Value::Null),
    );
    m.insert("onPremisesUserPrincipalName".into(), s(&u.on_premises_upn));
    m.insert("userType".into(), json!("Member"));
    m.insert(
        "onPremisesDomainName".into(),
        if u.synced {
            json!("corp.contoso.com")
        } else {
            Value::Null
        },
    );
    Value::Object(m)
}

fn shape_user(u: &UserRec, select: Option<&[String]>) -> Value {
    let v = user_json(u);
    match select {
        Some(s) => schema::apply_select(
            v,
            &s.iter().map(String::as_str).collect::<Vec<_>>(),
            USER_PROPS,
        ),
        None => schema::apply_select(v, USER_DEFAULT, USER_PROPS),
    }
}

fn list_users(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, USER_READ, None)?;
    let select = call.select("microsoft.graph.user", USER_PROPS)?;
    let (eventual, count) = call.advanced_query()?;
    let mut users: Vec<&UserRec> = t.users.iter().collect();
    if let Some(f) = call.req.query("$filter") {
        let filter = parse_filter(f).map_err(|m| call.bad(&m))?;
        let unsupported = |prop: &str| {
            graph_error(
                StatusCode::BAD_REQUEST,
                call.req,
                "Request_UnsupportedQuery",
                &format!(
                    "Unsupported or invalid query filter clause specified for property '{}' of resource 'User'.",
                    short(prop)
                ),
            )
        };
        let field = |u: &UserRec, prop: &str| -> Option<Value> {
            user_json(u).as_object().and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(prop))
                    .map(|(_, v)| v.clone())
            })
        };
        match filter {
            Filter::EndsWith(prop, suffix) => {
                if !["userPrincipalName", "mail", "displayName"]
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(&prop))
                {
                    return Err(unsupported(&prop));
                }
                if !(eventual && count) {
                    return Err(graph_error(
                        StatusCode::BAD_REQUEST,
                        call.req,
                        "Request_UnsupportedQuery",
                        "Operator 'endsWith' is not supported because the 'ConsistencyLevel:eventual' header is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more information",
                    ));
                }
                let suffix = suffix.to_lowercase();
                users.retain(|u| {
                    field(u, &prop)
                        .and_then(|v| v.as_str().map(|s| s.to_lowercase().ends_with(&suffix)))
                        .unwrap_or(false)
                });
            }
            Filter::StartsWith(prop, prefix) => {
                if ![
                    "userPrincipalName",
                    "mail",
                    "displayName",
                    "givenName",
                    "surname",
                ]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&prop))
                {
                    return Err(unsupported(&prop));
                }
                let prefix = prefix.to_lowercase();
                users.retain(|u| {
                    field(u, &prop)
                        .and_then(|v| v.as_str().map(|s| s.to_lowercase().starts_with(&prefix)))
                        .unwrap_or(false)
                });
            }
            Filter::Eq(prop, value) => {
                if ![
                    "userPrincipalName",
                    "id",
                    "mail",
                    "displayName",
                    "onPremisesSyncEnabled",
                    "accountEnabled",
                    "onPremisesImmutableId",
                ]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&prop))
                {
                    return Err(unsupported(&prop));
                }
                users.retain(|u| field(u, &prop).is_some_and(|v| eq_matches(&v, &value)));
            }
        }
    }
    let total = users.len();
    let ctx = match &select {
        Some(s) => call.context(&format!("users({})", s.join(","))),
        None => call.context("users"),
    };
    call.page_of(
        total,
        t.limits.page_size,
        ctx,
        count.then_some(total),
        |range| {
            users[range]
                .iter()
                .map(|u| shape_user(u, select.as_deref()))
                .collect()
        },
    )
}

fn get_user(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, USER_READ, None)?;
    let select = call.select("microsoft.graph.user", USER_PROPS)?;
    let u = t
        .users
        .iter()
        .find(|u| u.id.eq_ignore_ascii_case(id) || u.upn.eq_ignore_ascii_case(id))
        .ok_or_else(|| call.not_found(&short(id)))?;
    let mut v = shape_user(u, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("users/$entity")),
        );
    }
    Ok(call.ok(v))
}

fn me(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    if who.is_app() {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            call.req,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    let select = call.select("microsoft.graph.user", USER_PROPS)?;
    let u = t
        .users
        .iter()
        .find(|u| u.id == who.oid)
        .ok_or_else(|| call.not_found(&who.oid))?;
    let mut v = shape_user(u, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("users/$entity")),
        );
    }
    Ok(call.ok(v))
}

const GROUP_READ: &[&str] = &[
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

fn group_json(t: &Tenant, g: &GroupRec) -> Value {
    json!({
        "id": g.id, "displayName": g.display_name, "description": null, "mailEnabled": false,
        "securityEnabled": true,
        "groupTypes": if g.dynamic { json!(["DynamicMembership"]) } else { json!([]) },
        "membershipRule": if g.dynamic { json!("(user.department -eq \"Staff\")") } else { Value::Null },
        "membershipRuleProcessingState": if g.dynamic { json!("On") } else { Value::Null },
        "onPremisesSyncEnabled": if g.dynamic { Value::Null } else { json!(true) },
        "mail": null, "mailNickname": g.display_name.replace(' ', "").to_lowercase(),
        "createdDateTime": graph_time(unix(t.created)), "visibility": null, "deletedDateTime": null,
    })
}

fn shape_group(t: &Tenant, g: &GroupRec, select: Option<&[String]>) -> Value {
    let v = group_json(t, g);
    match select {
        Some(s) => schema::apply_select(
            v,
            &s.iter().map(String::as_str).collect::<Vec<_>>(),
            GROUP_PROPS,
        ),
        None => v,
    }
}

fn list_groups(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, GROUP_READ, None)?;
    let select = call.select("microsoft.graph.group", GROUP_PROPS)?;
    let mut groups: Vec<&GroupRec> = t.groups.iter().collect();
    if let Some(f) = call.req.query("$filter") {
        match parse_filter(f).map_err(|m| call.bad(&m))? {
            Filter::Eq(prop, Value::String(v)) if prop.eq_ignore_ascii_case("displayName") => {
                groups.retain(|g| g.display_name.eq_ignore_ascii_case(&v))
            }
            Filter::Eq(prop, Value::String(v)) if prop.eq_ignore_ascii_case("id") => {
                groups.retain(|g| g.id.eq_ignore_ascii_case(&v))
            }
            Filter::StartsWith(prop, v) if prop.eq_ignore_ascii_case("displayName") => {
                let v = v.to_lowercase();
                groups.retain(|g| g.display_name.to_lowercase().starts_with(&v))
            }
            Filter::Eq(prop, _) | Filter::StartsWith(prop, _) | Filter::EndsWith(prop, _) => {
                return Err(graph_error(
                    StatusCode::BAD_REQUEST,
                    call.req,
                    "Request_UnsupportedQuery",
                    &format!(
                        "Unsupported or invalid query filter clause specified for property '{}' of resource 'Group'.",
                        short(&prop)
                    ),
                ));
            }
        }
    }
    let items = groups
        .into_iter()
        .map(|g| shape_group(t, g, select.as_deref()))
        .collect();
    call.page(items, t.limits.page_size, call.context("groups"), None)
}

fn find_group<'a>(call: &Call, t: &'a Tenant, id: &str) -> Result<&'a GroupRec, Resp> {
    t.groups
        .iter()
        .find(|g| g.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| call.not_found(&short(id)))
}

fn get_group(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, GROUP_READ, None)?;
    let select = call.select("microsoft.graph.group", GROUP_PROPS)?;
    let g = find_group(call, t, id)?;
    let mut v = shape_group(t, g, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("groups/$entity")),
        );
    }
    Ok(call.ok(v))
}

/// `GET /groups/{id}/members`: direct members as directory objects, each with its `@odata.type`.
fn list_members(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, GROUP_READ, None)?;
    let select = call.select(
        "microsoft.graph.directoryObject",
        &["id", "displayName", "userPrincipalName"],
    )?;
    let g = find_group(call, t, id)?;
    let mut items: Vec<Value> = vec![];
    for uid in &g.members {
        if let Some(u) = t.users.iter().find(|u| &u.id == uid) {
            items.push(json!({"@odata.type": "#microsoft.graph.user", "id": u.id,
                "displayName": u.display_name, "userPrincipalName": u.upn}));
        }
    }
    for gid in &g.member_groups {
        if let Some(o) = t.groups.iter().find(|o| &o.id == gid) {
            items.push(json!({"@odata.type": "#microsoft.graph.group", "id": o.id, "displayName": o.display_name}));
        }
    }
    for (k, cid) in g.contacts.iter().enumerate() {
        items.push(
            json!({"@odata.type": "#microsoft.graph.orgContact", "id": cid,
            "displayName": format!("Partner contact {}", k + 1)}),
        );
    }
    if let Some(s) = &select {
        items = items
            .into_iter()
            .map(|v| {
                let kind = v.get("@odata.type").cloned();
                let mut out = serde_json::Map::new();
                if let Some(k) = kind {
                    out.insert("@odata.type".into(), k);
                }
                for p in s {
                    if let Some(x) = v.get(p.as_str()) {
                        out.insert(p.clone(), x.clone());
                    }
                }
                Value::Object(out)
            })
            .collect();
    }
    let top = t.limits.page_size;
    call.page(items, top, call.context("directoryObjects"), None)
}

// ---- staged rollout ------------------------------------------------------------------------------
