//! Feature rollout policies (staged rollout) and the groups they apply to.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::call::{Call, Outcome, merge, short};
use crate::emulator::http::{Resp, json as json_resp, no_content};
use crate::emulator::schema::{self};
use crate::emulator::state::{GLOBAL_ADMIN, HYBRID_IDENTITY_ADMIN, PolicyRec, Tenant};
use crate::emulator::tokens::Claims;
use crate::graph::models::{FeatureRolloutPolicy, StagedFeatureName};

/// This family's requests; `None` for a path it does not serve.
pub(super) fn route(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    l: &[&str],
    segs: &[String],
) -> Option<Result<Outcome, Resp>> {
    let r = match (call.req.method.as_str(), l) {
        ("GET", ["policies", "featurerolloutpolicies"]) => {
            list_policies(call, t, who).map(Into::into)
        }
        ("POST", ["policies", "featurerolloutpolicies"]) => create_policy(call, t, who),
        ("GET", ["policies", "featurerolloutpolicies", _]) => {
            get_policy(call, t, who, &segs[2]).map(Into::into)
        }
        ("PATCH", ["policies", "featurerolloutpolicies", _]) => {
            patch_policy(call, t, who, &segs[2])
        }
        ("DELETE", ["policies", "featurerolloutpolicies", _]) => {
            delete_policy(call, t, who, &segs[2])
        }
        ("POST", ["policies", "featurerolloutpolicies", _, "appliesto", "$ref"]) => {
            add_applies_to(call, t, who, &segs[2])
        }
        (
            "DELETE",
            [
                "policies",
                "featurerolloutpolicies",
                _,
                "appliesto",
                _,
                "$ref",
            ],
        ) => remove_applies_to(call, t, who, &segs[2], &segs[4]),
        _ => return None,
    };
    Some(r)
}

const POLICY_PROPS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "feature",
    "isEnabled",
    "isAppliedToOrganization",
];

const POLICY_READ: &[&str] = &[
    "Policy.Read.HybridAuthentication",
    "Policy.ReadWrite.HybridAuthentication",
    "Policy.ReadWrite.FeatureRollout",
    "Policy.Read.All",
    "Directory.ReadWrite.All",
];

const POLICY_WRITE: &[&str] = &[
    "Policy.ReadWrite.HybridAuthentication",
    "Policy.ReadWrite.FeatureRollout",
    "Directory.ReadWrite.All",
];

const POLICY_ROLES: &[&str] = &[GLOBAL_ADMIN, HYBRID_IDENTITY_ADMIN];

fn policy_json(call: &Call, t: &Tenant, p: &PolicyRec) -> Value {
    let mut v = serde_json::to_value(&p.policy).unwrap_or(Value::Null);
    let expand = call
        .req
        .query("$expand")
        .is_some_and(|e| e.eq_ignore_ascii_case("appliesTo"));
    if expand && let Value::Object(m) = &mut v {
        let groups: Vec<Value> = p
            .applies_to
            .iter()
            .map(|id| {
                let name = t
                    .groups
                    .iter()
                    .find(|g| &g.id == id)
                    .map(|g| g.display_name.clone());
                json!({"@odata.type": "#microsoft.graph.group", "id": id, "displayName": name})
            })
            .collect();
        m.insert("appliesTo".into(), Value::Array(groups));
    }
    v
}

fn list_policies(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, POLICY_READ, None)?;
    call.select("microsoft.graph.featureRolloutPolicy", POLICY_PROPS)?;
    let items = t.policies.iter().map(|p| policy_json(call, t, p)).collect();
    call.page(
        items,
        t.limits.page_size,
        call.context("policies/featureRolloutPolicies"),
        None,
    )
}

fn find_policy(call: &Call, t: &Tenant, id: &str) -> Result<usize, Resp> {
    t.policies
        .iter()
        .position(|p| {
            p.policy
                .id
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(id))
        })
        .ok_or_else(|| call.not_found(&short(id)))
}

fn get_policy(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, POLICY_READ, None)?;
    let idx = find_policy(call, t, id)?;
    let mut v = policy_json(call, t, &t.policies[idx]);
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("policies/featureRolloutPolicies/$entity")),
        );
    }
    Ok(call.ok(v))
}

fn create_policy(call: &Call, t: &mut Tenant, who: &Claims) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let body = call.body()?;
    let obj = schema::check(&schema::FEATURE_ROLLOUT_POLICY, &body).map_err(|i| call.invalid(i))?;
    for required in ["displayName", "feature"] {
        if obj.get(required).is_none_or(Value::is_null) {
            return Err(call.bad(&format!("Property '{required}' is required.")));
        }
    }
    let mut policy: FeatureRolloutPolicy =
        serde_json::from_value(body.clone()).map_err(|e| call.bad(&short(&e.to_string())))?;
    if t.policies
        .iter()
        .any(|p| p.policy.feature == policy.feature)
    {
        return Err(call.bad(&format!(
            "A feature rollout policy for feature '{}' already exists.",
            policy
                .feature
                .as_ref()
                .map(StagedFeatureName::as_str)
                .unwrap_or_default()
        )));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    policy.id = Some(uuid::Uuid::new_v4().to_string());
    policy.is_enabled.get_or_insert(false);
    policy.is_applied_to_organization.get_or_insert(false);
    policy.description.get_or_insert_with(String::new);
    t.policies.push(PolicyRec {
        policy: policy.clone(),
        applies_to: vec![],
    });
    let mut v = serde_json::to_value(&policy).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("policies/featureRolloutPolicies/$entity")),
        );
    }
    Ok(Outcome {
        resp: json_resp(StatusCode::CREATED, call.req, &v),
        changed: true,
    })
}

fn patch_policy(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let body = call.body()?;
    let obj = schema::check(&schema::FEATURE_ROLLOUT_POLICY, &body).map_err(|i| call.invalid(i))?;
    if obj.contains_key("feature") || obj.contains_key("id") {
        return Err(call.bad("Property 'feature' is read-only once the policy exists."));
    }
    let idx = find_policy(call, t, id)?;
    let mut merged = serde_json::to_value(&t.policies[idx].policy).unwrap_or(Value::Null);
    merge(&mut merged, &body);
    let policy: FeatureRolloutPolicy =
        serde_json::from_value(merged).map_err(|e| call.bad(&short(&e.to_string())))?;
    call.sh.throttle(call.req, who, &t.limits)?;
    t.policies[idx].policy = policy;
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

fn delete_policy(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let idx = find_policy(call, t, id)?;
    call.sh.throttle(call.req, who, &t.limits)?;
    t.policies.remove(idx);
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

fn add_applies_to(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let body = call.body()?;
    let reference = body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("@odata.id"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            call.bad("The request body must be a JSON object with a single '@odata.id' property.")
        })?;
    let object_id = reference
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| uuid::Uuid::parse_str(s).is_ok())
        .ok_or_else(|| {
            call.bad(&format!(
                "Invalid object identifier '{}'.",
                short(reference)
            ))
        })?
        .to_string();
    let idx = find_policy(call, t, id)?;
    let group = t
        .groups
        .iter()
        .find(|g| g.id.eq_ignore_ascii_case(&object_id))
        .ok_or_else(|| call.not_found(&object_id))?;
    if group.dynamic {
        return Err(call.bad("Dynamic groups are not supported for feature rollout."));
    }
    if !group.member_groups.is_empty() {
        return Err(call.bad("Nested groups are not supported for feature rollout."));
    }
    if !group.contacts.is_empty() {
        return Err(
            call.bad("Groups that contain contact objects are not supported for feature rollout.")
        );
    }
    let group_id = group.id.clone();
    let p = &t.policies[idx];
    if p.applies_to
        .iter()
        .any(|g| g.eq_ignore_ascii_case(&group_id))
    {
        return Err(call.bad(
            "One or more added object references already exist for the following modified properties: 'appliesTo'.",
        ));
    }
    if p.applies_to.len() >= 10 {
        return Err(call.bad("A feature rollout policy can be applied to at most 10 groups."));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    t.policies[idx].applies_to.push(group_id.clone());
    let body = json!({"directoryObject": {"id": group_id, "objectType": "group"}});
    Ok(Outcome {
        resp: json_resp(StatusCode::CREATED, call.req, &body),
        changed: true,
    })
}

fn remove_applies_to(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    id: &str,
    object_id: &str,
) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let idx = find_policy(call, t, id)?;
    let pos = t.policies[idx]
        .applies_to
        .iter()
        .position(|g| g.eq_ignore_ascii_case(object_id))
        .ok_or_else(|| call.not_found(&short(object_id)))?;
    call.sh.throttle(call.req, who, &t.limits)?;
    t.policies[idx].applies_to.remove(pos);
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}
