//! Conditional Access policies (`/identity/conditionalAccess/policies`), the sign-in log
//! (`/auditLogs/signIns`) and the authentication methods report
//! (`/reports/authenticationMethods/userRegistrationDetails`), as Graph v1.0 serves them:
//! permissions, the licence they need, the documented filters (and no others), paging.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::call::{Call, Filter, Outcome, eq_matches, parse_filter, short};
use crate::clock::unix;
use crate::emulator::http::{Resp, graph_error};
use crate::emulator::state::{SignInRec, Tenant};
use crate::emulator::tokens::Claims;
use crate::graph::models::graph_time;

const CA_READ: &[&str] = &[
    "Policy.Read.All",
    "Policy.ReadWrite.ConditionalAccess",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const SIGNIN_READ: &[&str] = &["AuditLog.Read.All", "Directory.Read.All"];
/// Graph's page size for sign-ins: default and most.
const SIGNIN_PAGE: usize = 1000;

pub(super) fn route(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    segs: &[&str],
) -> Option<Result<Outcome, Resp>> {
    let m = call.req.method.as_str();
    let r = match (m, segs) {
        ("GET", ["identity", "conditionalaccess", "policies"]) => list_policies(call, t, who),
        ("GET", ["identity", "conditionalaccess", "policies", id]) => get_policy(call, t, who, id),
        ("GET", ["auditlogs", "signins"]) => list_signins(call, t, who),
        ("GET", ["auditlogs", "signins", id]) => get_signin(call, t, who, id),
        (
            "GET",
            [
                "reports",
                "authenticationmethods",
                "userregistrationdetails",
            ],
        ) => list_registration(call, t, who),
        _ => return None,
    };
    Some(r.map(|resp| Outcome {
        resp,
        changed: false,
    }))
}

fn list_policies(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, CA_READ, None)?;
    call.page(
        t.ca_policies.clone(),
        t.limits.page_size,
        call.context("identity/conditionalAccess/policies"),
        None,
    )
}

fn get_policy(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, CA_READ, None)?;
    let mut v = t
        .ca_policies
        .iter()
        .find(|p| p["id"].as_str().is_some_and(|i| i.eq_ignore_ascii_case(id)))
        .cloned()
        .ok_or_else(|| call.not_found(&short(id)))?;
    v["@odata.context"] = json!(call.context("identity/conditionalAccess/policies/$entity"));
    Ok(call.ok(v))
}

/// `userRegistrationDetails`: `AuditLog.Read.All`, and for a signed-in caller one of the roles
/// Microsoft's reference names (Reports Reader, Security Reader or Administrator, Global Reader,
/// Global Administrator).
const REGISTRATION_READ: &[&str] = &["AuditLog.Read.All"];
const REGISTRATION_ROLES: &[&str] = &[
    crate::emulator::state::GLOBAL_ADMIN,
    "4a5d8f65-41da-4de4-8968-e035b65339cf",
    "5d6b6bb7-de71-4623-b4af-96380a352509",
    "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
];

/// Each user's registration for MFA and self-service password reset, as the report has it.
fn registration_json(t: &Tenant, u: &crate::emulator::state::UserRec) -> Value {
    let methods: Vec<&str> = if u.mfa_registered {
        vec!["microsoftAuthenticatorPush", "mobilePhone"]
    } else {
        vec![]
    };
    json!({
        "id": u.id,
        "userPrincipalName": u.upn,
        "userDisplayName": u.display_name,
        "userType": "member",
        "isAdmin": !u.roles.is_empty(),
        "isSsprRegistered": u.mfa_registered,
        "isSsprEnabled": false,
        "isSsprCapable": false,
        "isMfaRegistered": u.mfa_registered,
        "isMfaCapable": u.mfa_registered,
        "isPasswordlessCapable": false,
        "methodsRegistered": methods,
        "isSystemPreferredAuthenticationMethodEnabled": false,
        "systemPreferredAuthenticationMethods": [],
        "userPreferredMethodForSecondaryAuthentication": if u.mfa_registered { "push" } else { "none" },
        "lastUpdatedDateTime": graph_time(unix(t.created)),
    })
}

fn list_registration(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, REGISTRATION_READ, Some(REGISTRATION_ROLES))?;
    premium(call, t)?;
    let mut items: Vec<Value> = t.users.iter().map(|u| registration_json(t, u)).collect();
    if let Some(f) = call.req.query("$filter") {
        let filter = parse_filter(f).map_err(|m| call.bad(&m))?;
        let Filter::Eq(prop, value) = filter else {
            return Err(call.bad("Invalid filter clause: only 'eq' is supported here."));
        };
        const FILTERABLE: [&str; 6] = [
            "isMfaRegistered",
            "isMfaCapable",
            "isAdmin",
            "isSsprRegistered",
            "userType",
            "userPrincipalName",
        ];
        let Some(prop) = FILTERABLE.iter().find(|p| p.eq_ignore_ascii_case(&prop)) else {
            return Err(call.bad(&format!(
                "Invalid filter clause: property '{}' is not filterable.",
                short(&prop)
            )));
        };
        items.retain(|v| eq_matches(&v[*prop], &value));
    }
    call.page(
        items,
        t.limits.page_size,
        call.context("reports/authenticationMethods/userRegistrationDetails"),
        None,
    )
}

/// The licence check Graph makes after the permission check.
fn premium(call: &Call, t: &Tenant) -> Result<(), Resp> {
    if t.premium {
        return Ok(());
    }
    Err(graph_error(
        StatusCode::FORBIDDEN,
        call.req,
        "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
        "Neither tenant is B2C or tenant doesn't have premium license",
    ))
}

pub fn signin_json(r: &SignInRec) -> Value {
    json!({
        "id": r.id,
        "createdDateTime": graph_time(unix(r.created)),
        "userDisplayName": r.display_name,
        "userPrincipalName": r.upn.to_lowercase(),
        "userId": r.user_id,
        "appId": r.app_id,
        "appDisplayName": r.app_name,
        "ipAddress": r.ip,
        "clientAppUsed": r.client_app,
        "userAgent": null,
        "correlationId": r.id,
        "conditionalAccessStatus": r.ca_status,
        "isInteractive": r.interactive,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "riskEventTypes": [],
        "riskEventTypes_v2": [],
        "resourceDisplayName": "Microsoft Graph",
        "resourceId": "00000003-0000-0000-c000-000000000000",
        "resourceTenantId": null,
        "homeTenantId": null,
        "servicePrincipalId": "",
        "servicePrincipalName": null,
        "authenticationAppDeviceDetails": null,
        "status": {
            "errorCode": r.error_code,
            "failureReason": r.failure_reason,
            "additionalDetails": r.additional_details
        },
        "deviceDetail": {
            "deviceId": "",
            "displayName": null,
            "operatingSystem": null,
            "browser": null,
            "isCompliant": null,
            "isManaged": null,
            "trustType": null
        },
        "location": {
            "city": null,
            "state": null,
            "countryOrRegion": null,
            "geoCoordinates": null
        },
        "appliedConditionalAccessPolicies": r.ca_applied,
    })
}

/// One clause of a sign-in `$filter`: only what the reference documents for v1.0.
enum Clause {
    /// `createdDateTime ge|le|eq` a time (unix seconds).
    Created(std::cmp::Ordering, bool, i64),
    ErrorCode(i32),
    UpnEq(String),
    UpnStarts(String),
    AppEq(String),
    AppStarts(String),
    UserId(String),
}

impl Clause {
    /// Parsed once per request, so that a bad clause is refused whatever the log holds.
    fn parse(clause: &str) -> Result<Clause, String> {
        let c = clause.trim();
        let lower = c.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("createddatetime ") {
            let (op, lit) = rest
                .split_once(' ')
                .ok_or_else(|| format!("Syntax error in '{}'.", short(c)))?;
            let lit = &c[c.len() - lit.len()..];
            let at = time::OffsetDateTime::parse(
                lit.trim(),
                &time::format_description::well_known::Rfc3339,
            )
            .map_err(|_| format!("Invalid DateTimeOffset literal '{}'.", short(lit)))?
            .unix_timestamp();
            use std::cmp::Ordering::{Equal, Greater, Less};
            return match op {
                "ge" => Ok(Clause::Created(Greater, true, at)),
                "le" => Ok(Clause::Created(Less, true, at)),
                "eq" => Ok(Clause::Created(Equal, false, at)),
                _ => Err(format!(
                    "Operator '{}' is not supported for createdDateTime.",
                    short(op)
                )),
            };
        }
        if let Some(rest) = lower.strip_prefix("status/errorcode eq ") {
            return rest
                .trim()
                .parse()
                .map(Clause::ErrorCode)
                .map_err(|_| format!("Syntax error in '{}'.", short(c)));
        }
        let is = |p: &str, name: &str| p.eq_ignore_ascii_case(name);
        match parse_filter(c)? {
            Filter::Eq(p, Value::String(v)) if is(&p, "userPrincipalName") => Ok(Clause::UpnEq(v)),
            Filter::StartsWith(p, v) if is(&p, "userPrincipalName") => Ok(Clause::UpnStarts(v)),
            Filter::Eq(p, Value::String(v)) if is(&p, "appDisplayName") => Ok(Clause::AppEq(v)),
            Filter::StartsWith(p, v) if is(&p, "appDisplayName") => Ok(Clause::AppStarts(v)),
            Filter::Eq(p, Value::String(v)) if is(&p, "userId") => Ok(Clause::UserId(v)),
            Filter::Eq(p, _) | Filter::StartsWith(p, _) | Filter::EndsWith(p, _) => Err(format!(
                "Invalid filter clause: the property '{}' or its operator is not supported on signIns.",
                short(&p)
            )),
        }
    }

    fn matches(&self, r: &SignInRec) -> bool {
        let starts = |a: &str, b: &str| a.to_lowercase().starts_with(&b.to_lowercase());
        match self {
            Clause::Created(ord, or_equal, at) => {
                let o = r.created.cmp(at);
                o == *ord || (*or_equal && o == std::cmp::Ordering::Equal)
            }
            Clause::ErrorCode(code) => r.error_code == *code,
            Clause::UpnEq(v) => r.upn.eq_ignore_ascii_case(v),
            Clause::UpnStarts(v) => starts(&r.upn, v),
            Clause::AppEq(v) => r.app_name.eq_ignore_ascii_case(v),
            Clause::AppStarts(v) => starts(&r.app_name, v),
            Clause::UserId(v) => r.user_id.eq_ignore_ascii_case(v),
        }
    }
}

fn list_signins(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, SIGNIN_READ, None)?;
    premium(call, t)?;
    let clauses: Vec<Clause> = split_and(call.req.query("$filter").unwrap_or_default())
        .iter()
        .map(|c| Clause::parse(c))
        .collect::<Result<_, _>>()
        .map_err(|m| {
            graph_error(
                StatusCode::BAD_REQUEST,
                call.req,
                "Request_UnsupportedQuery",
                &m,
            )
        })?;
    // Newest first, as Graph lists them.
    let items = t
        .signins
        .iter()
        .rev()
        .filter(|r| clauses.iter().all(|c| c.matches(r)))
        .map(signin_json)
        .collect();
    call.page(items, SIGNIN_PAGE, call.context("auditLogs/signIns"), None)
}

/// `a and b and c`, outside quoted literals.
fn split_and(f: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut quoted = false;
    let chars: Vec<char> = f.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\'' {
            quoted = !quoted;
        }
        if !quoted && i + 5 <= chars.len() {
            let word: String = chars[i..i + 5].iter().collect();
            if word.eq_ignore_ascii_case(" and ") {
                out.push(std::mem::take(&mut cur));
                i += 5;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    out.push(cur);
    out.into_iter().filter(|c| !c.trim().is_empty()).collect()
}

fn get_signin(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, SIGNIN_READ, None)?;
    premium(call, t)?;
    let r = t
        .signins
        .iter()
        .find(|r| r.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| call.not_found(&short(id)))?;
    let mut v = signin_json(r);
    v["@odata.context"] = json!(call.context("auditLogs/signIns/$entity"));
    Ok(call.ok(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_splits_outside_quotes() {
        assert_eq!(
            split_and(
                "createdDateTime ge 2026-01-01T00:00:00Z and startsWith(userPrincipalName,'a and b')"
            ),
            vec![
                "createdDateTime ge 2026-01-01T00:00:00Z".to_string(),
                "startsWith(userPrincipalName,'a and b')".to_string()
            ]
        );
    }
}
