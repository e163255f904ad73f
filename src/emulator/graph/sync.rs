//! The Graph calls that show and drive the sync engines: Cloud Sync's service principals and their
//! synchronization jobs (list, create, get, start, restart), the configuration's secrets (PUT only:
//! Graph never returns them) and each job's schema (GET, PUT, and PATCH, which Microsoft's SDKs
//! send), and the Directory Synchronization Accounts role whose member names the Connect Sync
//! server. Shapes, status codes and permissions follow the Graph v1.0 reference and CSDL.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::call::{Call, Filter, Outcome, parse_filter, short};
use crate::emulator::engines::{
    DIRECTORY_SYNC_ACCOUNTS, JobRec, PASSWORD_HASH_TEMPLATE, PROVISIONING_TEMPLATE,
};
use crate::emulator::http::{Resp, graph_error, json as json_resp, no_content};
use crate::emulator::state::{GLOBAL_ADMIN, HYBRID_IDENTITY_ADMIN, Tenant};
use crate::emulator::tokens::Claims;
use crate::graph::sync_schema::{self, SECRET_KEYS};

const SP_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const JOBS_READ: &[&str] = &["Synchronization.Read.All", "Synchronization.ReadWrite.All"];
const JOBS_WRITE: &[&str] = &["Synchronization.ReadWrite.All"];
/// Secrets and schemas: an application may also hold only `Application.ReadWrite.OwnedBy`.
const CONFIG_WRITE: &[&str] = &[
    "Synchronization.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
];
/// A delegated caller of the synchronization API needs at least Hybrid Identity Administrator.
const SYNC_ROLES: &[&str] = &[HYBRID_IDENTITY_ADMIN, GLOBAL_ADMIN];
const ROLES_READ: &[&str] = &[
    "RoleManagement.Read.Directory",
    "RoleManagement.Read.All",
    "RoleManagement.ReadWrite.Directory",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// Routes the calls this module serves; `None` for any other path.
pub(super) fn route(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    l: &[&str],
    segs: &[String],
) -> Option<Result<Outcome, Resp>> {
    let m = call.req.method.as_str();
    Some(match (m, l) {
        ("GET", ["serviceprincipals"]) => list_service_principals(call, t, who).map(Into::into),
        ("GET", ["serviceprincipals", _, "synchronization", "jobs"]) => {
            list_jobs(call, t, who, &segs[1]).map(Into::into)
        }
        ("POST", ["serviceprincipals", _, "synchronization", "jobs"]) => {
            create_job(call, t, who, &segs[1])
        }
        ("GET", ["serviceprincipals", _, "synchronization", "jobs", _]) => {
            get_job(call, t, who, &segs[1], &segs[4]).map(Into::into)
        }
        ("POST", ["serviceprincipals", _, "synchronization", "jobs", _, action])
            if *action == "start" || *action == "restart" || *action == "pause" =>
        {
            job_action(call, t, who, &segs[1], &segs[4], action)
        }
        ("PUT", ["serviceprincipals", _, "synchronization", "secrets"]) => {
            put_secrets(call, t, who, &segs[1])
        }
        (
            "GET",
            [
                "serviceprincipals",
                _,
                "synchronization",
                "jobs",
                _,
                "schema",
            ],
        ) => get_schema(call, t, who, &segs[1], &segs[4]).map(Into::into),
        (
            "PUT" | "PATCH",
            [
                "serviceprincipals",
                _,
                "synchronization",
                "jobs",
                _,
                "schema",
            ],
        ) => put_schema(call, t, who, &segs[1], &segs[4], m == "PATCH"),
        ("GET", ["directoryroles"]) => list_directory_roles(call, t, who).map(Into::into),
        (_, ["serviceprincipals", ..]) | (_, ["directoryroles", ..]) => Err(graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            call.req,
            "Request_BadRequest",
            &format!(
                "The requested resource does not support http method '{}'.",
                call.req.method
            ),
        )),
        _ => return None,
    })
}

/// `$filter=prop eq 'value'` on one of `props`, or `None` without a filter.
fn eq_filter(call: &Call, props: &[&str], entity: &str) -> Result<Option<(String, String)>, Resp> {
    let Some(f) = call.req.query("$filter") else {
        return Ok(None);
    };
    match parse_filter(f).map_err(|m| call.bad(&m))? {
        Filter::Eq(prop, Value::String(v))
            if props.iter().any(|p| p.eq_ignore_ascii_case(&prop)) =>
        {
            Ok(Some((prop, v)))
        }
        Filter::Eq(prop, _) | Filter::StartsWith(prop, _) | Filter::EndsWith(prop, _) => {
            Err(graph_error(
                StatusCode::BAD_REQUEST,
                call.req,
                "Request_UnsupportedQuery",
                &format!(
                    "Unsupported or invalid query filter clause specified for property '{}' of resource '{entity}'.",
                    short(&prop)
                ),
            ))
        }
    }
}

fn list_service_principals(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, SP_READ, None)?;
    let filter = eq_filter(
        call,
        &["appId", "applicationTemplateId", "displayName"],
        "ServicePrincipal",
    )?;
    let items: Vec<Value> = t
        .sync
        .engines
        .cloud
        .iter()
        .map(|c| c.to_json())
        .filter(|sp| {
            filter.as_ref().is_none_or(|(prop, v)| {
                sp.as_object()
                    .and_then(|m| m.iter().find(|(k, _)| k.eq_ignore_ascii_case(prop)))
                    .is_some_and(|(_, x)| x.as_str().is_some_and(|x| x.eq_ignore_ascii_case(v)))
            })
        })
        .collect();
    call.page(
        items,
        t.limits.page_size,
        call.context("servicePrincipals"),
        None,
    )
}

fn config<'a>(
    call: &Call,
    t: &'a Tenant,
    sp: &str,
) -> Result<&'a crate::emulator::engines::CloudConfig, Resp> {
    t.sync
        .engines
        .cloud
        .iter()
        .find(|c| c.service_principal_id.eq_ignore_ascii_case(sp))
        .ok_or_else(|| call.not_found(&short(sp)))
}

fn job_body(call: &Call, t: &Tenant, sp: &str, job: &JobRec, entity: bool) -> Value {
    let mut v = job.to_json(t.sync.cycle_minutes);
    if entity && let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context(&format!(
                "servicePrincipals('{sp}')/synchronization/jobs/$entity"
            ))),
        );
    }
    v
}

fn list_jobs(call: &Call, t: &Tenant, who: &Claims, sp: &str) -> Result<Resp, Resp> {
    call.allow(who, JOBS_READ, Some(SYNC_ROLES))?;
    let c = config(call, t, sp)?;
    let jobs: Vec<Value> = c
        .jobs
        .iter()
        .map(|j| job_body(call, t, sp, j, false))
        .collect();
    Ok(call.ok(json!({
        "@odata.context": call.context(&format!("servicePrincipals('{sp}')/synchronization/jobs")),
        "value": jobs,
    })))
}

fn get_job(call: &Call, t: &Tenant, who: &Claims, sp: &str, id: &str) -> Result<Resp, Resp> {
    call.allow(who, JOBS_READ, Some(SYNC_ROLES))?;
    let c = config(call, t, sp)?;
    let job = c
        .jobs
        .iter()
        .find(|j| j.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| call.not_found(&short(id)))?;
    Ok(call.ok(job_body(call, t, sp, job, true)))
}

fn create_job(call: &Call, t: &mut Tenant, who: &Claims, sp: &str) -> Result<Outcome, Resp> {
    call.allow(who, JOBS_WRITE, Some(SYNC_ROLES))?;
    config(call, t, sp)?;
    let body = call.body()?;
    let Some(template) = body.get("templateId").and_then(Value::as_str) else {
        return Err(
            call.bad("The property 'templateId' is required to create a synchronization job.")
        );
    };
    if let Some(other) = body.as_object().and_then(|m| {
        m.keys().find(|k| {
            !["templateId", "schedule", "synchronizationJobSettings"].contains(&k.as_str())
        })
    }) {
        return Err(call.bad(&format!(
            "The property '{}' does not exist on type 'microsoft.graph.synchronizationJob'.",
            short(other)
        )));
    }
    if ![PROVISIONING_TEMPLATE, PASSWORD_HASH_TEMPLATE].contains(&template) {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            call.req,
            "InvalidTemplate",
            &format!(
                "The template '{}' is not available for this application.",
                short(template)
            ),
        ));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    let job = JobRec::new(template);
    let resp_body = job_body(call, t, sp, &job, true);
    if let Some(c) = t.sync.engines.config_mut(sp) {
        c.jobs.push(job);
    }
    Ok(Outcome {
        resp: json_resp(StatusCode::CREATED, call.req, &resp_body),
        changed: true,
    })
}

fn job_action(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    sp: &str,
    id: &str,
    action: &str,
) -> Result<Outcome, Resp> {
    call.allow(who, JOBS_WRITE, Some(SYNC_ROLES))?;
    let c = config(call, t, sp)?;
    if !c.jobs.iter().any(|j| j.id.eq_ignore_ascii_case(id)) {
        return Err(call.not_found(&short(id)));
    }
    let reset_quarantine = if action == "restart" {
        let body = if call.req.body.is_empty() {
            Value::Null
        } else {
            call.body()?
        };
        body["criteria"]["resetScope"].as_str().is_some_and(|s| {
            s.split(',')
                .any(|p| matches!(p.trim(), "QuarantineState" | "Full"))
        })
    } else {
        false
    };
    call.sh.throttle(call.req, who, &t.limits)?;
    if let Some(job) = job_mut(t, sp, id) {
        match action {
            "pause" => job.schedule = "Paused".into(),
            _ => job.schedule = "Active".into(),
        }
        if reset_quarantine {
            job.quarantine = None;
        }
    }
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

/// `PUT …/synchronization/secrets`: replaces the configuration's whole set (204, no body). Keys are
/// `synchronizationSecret` members; values are strings.
fn put_secrets(call: &Call, t: &mut Tenant, who: &Claims, sp: &str) -> Result<Outcome, Resp> {
    call.allow(who, CONFIG_WRITE, Some(SYNC_ROLES))?;
    config(call, t, sp)?;
    let body = call.body()?;
    if let Some(other) = body
        .as_object()
        .and_then(|m| m.keys().find(|k| *k != "value"))
    {
        return Err(call.bad(&format!(
            "The property '{}' does not exist on type 'microsoft.graph.synchronizationSecretKeyStringValuePairCollection'.",
            short(other)
        )));
    }
    let Some(items) = body["value"].as_array() else {
        return Err(call.bad("The property 'value' is required: a collection of synchronizationSecretKeyStringValuePair."));
    };
    let mut secrets = vec![];
    for item in items {
        let (Some(key), Some(value)) = (item["key"].as_str(), item["value"].as_str()) else {
            return Err(
                call.bad("Each secret needs a 'key' (synchronizationSecret) and a string 'value'.")
            );
        };
        let Some(key) = SECRET_KEYS.iter().find(|k| k.eq_ignore_ascii_case(key)) else {
            return Err(call.bad(&format!(
                "Requested value '{}' was not found in enum 'microsoft.graph.synchronizationSecret'.",
                short(key)
            )));
        };
        secrets.push((key.to_string(), value.to_string()));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    if let Some(c) = t.sync.engines.config_mut(sp) {
        c.secrets = Some(secrets);
    }
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

fn job_mut<'a>(t: &'a mut Tenant, sp: &str, id: &str) -> Option<&'a mut JobRec> {
    t.sync
        .engines
        .config_mut(sp)
        .and_then(|c| c.jobs.iter_mut().find(|j| j.id.eq_ignore_ascii_case(id)))
}

fn job_of<'a>(
    call: &Call,
    c: &'a crate::emulator::engines::CloudConfig,
    id: &str,
) -> Result<&'a JobRec, Resp> {
    c.jobs
        .iter()
        .find(|j| j.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| call.not_found(&short(id)))
}

fn get_schema(call: &Call, t: &Tenant, who: &Claims, sp: &str, id: &str) -> Result<Resp, Resp> {
    call.allow(who, JOBS_READ, Some(SYNC_ROLES))?;
    let job = job_of(call, config(call, t, sp)?, id)?;
    let mut schema = job.schema();
    if let Value::Object(m) = &mut schema {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context(&format!(
                "servicePrincipals('{sp}')/synchronization/jobs('{}')/schema/$entity",
                job.id
            ))),
        );
    }
    Ok(call.ok(schema))
}

/// `PUT …/jobs/{id}/schema` replaces the schema; `PATCH` (what Microsoft's SDKs send) replaces
/// the properties it carries. Both answer 204 and check the body against `synchronizationSchema`.
fn put_schema(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    sp: &str,
    id: &str,
    patch: bool,
) -> Result<Outcome, Resp> {
    call.allow(who, CONFIG_WRITE, Some(SYNC_ROLES))?;
    let current = job_of(call, config(call, t, sp)?, id)?.schema();
    let body = call.body()?;
    sync_schema::check(&body).map_err(|e| call.bad(&e))?;
    let mut schema = if patch {
        current
    } else {
        serde_json::json!({})
    };
    if let (Value::Object(to), Value::Object(from)) = (&mut schema, body) {
        for (k, v) in from {
            if !k.starts_with('@') {
                to.insert(k, v);
            }
        }
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    if let Some(job) = job_mut(t, sp, id) {
        job.schema = Some(schema);
    }
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

/// The directory roles, filtered by template; `$expand=members` lists the Connect Sync service
/// account in Directory Synchronization Accounts.
fn list_directory_roles(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, ROLES_READ, None)?;
    let filter = eq_filter(call, &["roleTemplateId"], "DirectoryRole")?;
    let expand = match call.req.query("$expand") {
        None => false,
        Some(e) if e.eq_ignore_ascii_case("members") => true,
        Some(e) => {
            return Err(call.bad(&format!(
                "Could not find a property named '{}' on type 'microsoft.graph.directoryRole'.",
                short(e)
            )));
        }
    };
    let mut roles = vec![];
    if let Some(c) = &t.sync.engines.connect {
        let mut role = json!({
            "id": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, t.tenant_id.as_bytes()).to_string(),
            "displayName": "Directory Synchronization Accounts",
            "description": "Only used by Microsoft Entra Connect and Microsoft Entra Cloud Sync services.",
            "roleTemplateId": DIRECTORY_SYNC_ACCOUNTS,
        });
        if expand {
            role["members"] = json!([{
                "@odata.type": "#microsoft.graph.user",
                "id": c.service_account_id,
                "displayName": "On-Premises Directory Synchronization Service Account",
                "userPrincipalName": c.service_account_upn,
            }]);
        }
        roles.push(role);
    }
    roles.retain(|r| {
        filter.as_ref().is_none_or(|(_, v)| {
            r["roleTemplateId"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(v))
        })
    });
    Ok(call.ok(json!({
        "@odata.context": call.context("directoryRoles"),
        "value": roles,
    })))
}
