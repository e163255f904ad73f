//! Domains and their federation settings (`internalDomainFederation`): what a failover and a
//! switch-back change.

use hyper::StatusCode;
use serde_json::{Map, Value, json};

use super::call::{Call, Outcome, short};
use crate::emulator::http::{Resp, graph_error, json as json_resp, no_content};
use crate::emulator::schema::{self};
use crate::emulator::state::{DOMAIN_NAME_ADMIN, GLOBAL_ADMIN, HYBRID_IDENTITY_ADMIN, Tenant};
use crate::emulator::tokens::Claims;
use crate::graph::models::{
    AuthenticationType, InternalDomainFederation, SigningCertificateUpdateStatus, graph_time,
};

/// This family's requests; `None` for a path it does not serve.
pub(super) fn route(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    l: &[&str],
    segs: &[String],
) -> Option<Result<Outcome, Resp>> {
    let r = match (call.req.method.as_str(), l) {
        ("GET", ["domains"]) => list_domains(call, t, who).map(Into::into),
        ("GET", ["domains", _]) => get_domain(call, t, who, &segs[1]).map(Into::into),
        ("PATCH", ["domains", _]) => patch_domain(call, t, who, &segs[1]),
        ("POST", ["domains", _, "promote"]) => promote(call, t, who, &segs[1]),
        ("GET", ["domains", _, "federationconfiguration"]) => {
            list_federation(call, t, who, &segs[1]).map(Into::into)
        }
        ("POST", ["domains", _, "federationconfiguration"]) => {
            create_federation(call, t, who, &segs[1])
        }
        ("GET", ["domains", _, "federationconfiguration", _]) => {
            get_federation(call, t, who, &segs[1], &segs[3]).map(Into::into)
        }
        ("PATCH", ["domains", _, "federationconfiguration", _]) => {
            update_federation(call, t, who, &segs[1], &segs[3])
        }
        ("DELETE", ["domains", _, "federationconfiguration", _]) => {
            delete_federation(call, t, who, &segs[1], &segs[3])
        }
        _ => return None,
    };
    Some(r)
}

const EXTERNAL_IDP_ADMIN: &str = "be2f45a1-457d-42af-a067-6ec1fa63bc45";

const SECURITY_ADMIN: &str = "194ae4cb-b126-40b2-bd5b-6091b380977d";

/// Roles that may change federation settings and domains in delegated calls.
const FEDERATION_ROLES: &[&str] = &[
    GLOBAL_ADMIN,
    HYBRID_IDENTITY_ADMIN,
    DOMAIN_NAME_ADMIN,
    EXTERNAL_IDP_ADMIN,
    SECURITY_ADMIN,
];

const DOMAIN_PROPS: &[&str] = &[
    "id",
    "authenticationType",
    "availabilityStatus",
    "isAdminManaged",
    "isDefault",
    "isInitial",
    "isRoot",
    "isVerified",
    "manufacturer",
    "model",
    "passwordNotificationWindowInDays",
    "passwordValidityPeriodInDays",
    "state",
    "supportedServices",
];

const FED_PROPS: &[&str] = &[
    "id",
    "displayName",
    "issuerUri",
    "metadataExchangeUri",
    "passiveSignInUri",
    "preferredAuthenticationProtocol",
    "signingCertificate",
    "activeSignInUri",
    "federatedIdpMfaBehavior",
    "isSignedAuthenticationRequestRequired",
    "nextSigningCertificate",
    "passwordResetUri",
    "promptLoginBehavior",
    "signingCertificateUpdateStatus",
    "signOutUri",
];

const DOMAIN_READ: &[&str] = &[
    "Domain.Read.All",
    "Domain.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

const FED_READ: &[&str] = &[
    "Domain-InternalFederation.Read.All",
    "Domain-InternalFederation.ReadWrite.All",
    "Domain.Read.All",
    "Domain.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

const FED_WRITE: &[&str] = &[
    "Domain-InternalFederation.ReadWrite.All",
    "Domain.ReadWrite.All",
];

fn domain_json(t: &Tenant, idx: usize) -> Value {
    serde_json::to_value(t.domain_view(idx)).unwrap_or(Value::Null)
}

fn list_domains(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, DOMAIN_READ, None)?;
    let select = call.select("microsoft.graph.domain", DOMAIN_PROPS)?;
    let ctx = match &select {
        Some(s) => call.context(&format!("domains({})", s.join(","))),
        None => call.context("domains"),
    };
    call.page_of(t.domains.len(), t.limits.page_size, ctx, None, |range| {
        range
            .map(|i| {
                let v = domain_json(t, i);
                match &select {
                    Some(s) => schema::apply_select(
                        v,
                        &s.iter().map(String::as_str).collect::<Vec<_>>(),
                        DOMAIN_PROPS,
                    ),
                    None => v,
                }
            })
            .collect()
    })
}

fn find_domain(call: &Call, t: &Tenant, id: &str) -> Result<usize, Resp> {
    t.domain_index(id).ok_or_else(|| call.not_found(&short(id)))
}

fn get_domain(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, DOMAIN_READ, None)?;
    let select = call.select("microsoft.graph.domain", DOMAIN_PROPS)?;
    let idx = find_domain(call, t, id)?;
    let mut v = domain_json(t, idx);
    if let Some(s) = &select {
        v = schema::apply_select(
            v,
            &s.iter().map(String::as_str).collect::<Vec<_>>(),
            DOMAIN_PROPS,
        );
    }
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("domains/$entity")),
        );
    }
    Ok(call.ok(v))
}

fn subdomain_refusal(call: &Call, t: &Tenant, idx: usize) -> Result<(), Resp> {
    match &t.domains[idx].parent {
        Some(root) => Err(call.bad(&format!(
            "Domain '{}' is a subdomain: it inherits its authentication from the root domain '{root}'. Promote it to a root domain to change it on its own.",
            t.domains[idx].id()
        ))),
        None => Ok(()),
    }
}

fn patch_domain(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    let body = call.body()?;
    let obj = schema::check(&schema::DOMAIN, &body).map_err(|i| call.invalid(i))?;
    let only_auth = obj
        .keys()
        .all(|k| k == "authenticationType" || k == "@odata.type");
    // Docs: "To update the authenticationType property, the calling app must be assigned the
    // Domain-InternalFederation.ReadWrite.All permission"; other properties need Domain.ReadWrite.All.
    let perms: &[&str] = if only_auth {
        &[
            "Domain-InternalFederation.ReadWrite.All",
            "Domain.ReadWrite.All",
            "Directory.ReadWrite.All",
        ]
    } else {
        &["Domain.ReadWrite.All", "Directory.ReadWrite.All"]
    };
    call.allow(who, perms, Some(FEDERATION_ROLES))?;
    let idx = find_domain(call, t, id)?;
    call.sh.throttle(call.req, who, &t.limits)?;
    let now = t.now().unix_timestamp();
    let mut changed = false;
    if let Some(v) = obj.get("authenticationType").and_then(Value::as_str) {
        let current = t.domains[t.root_of(idx)].domain.authentication_type.clone();
        let wanted = AuthenticationType::from_wire(v);
        if current.as_ref() != Some(&wanted) {
            subdomain_refusal(call, t, idx)?;
            if wanted == AuthenticationType::Federated {
                return Err(
                    call.bad("Changing authenticationType from Managed to Federated is currently not supported.")
                );
            }
            let before = t.snapshot(idx);
            let d = &mut t.domains[idx];
            d.federation = None;
            d.domain.authentication_type = Some(AuthenticationType::Managed);
            t.mark_changed(idx, before, now, call.sh.delay);
            changed = true;
        }
    }
    let d = &mut t.domains[idx].domain;
    if let Some(v) = obj.get("isDefault").and_then(Value::as_bool) {
        if v && d.is_verified != Some(true) {
            return Err(call.bad("An unverified domain cannot be the default domain."));
        }
        if v {
            for other in t.domains.iter_mut() {
                other.domain.is_default = Some(false);
            }
        }
        t.domains[idx].domain.is_default = Some(v);
        changed = true;
    }
    let d = &mut t.domains[idx].domain;
    for (key, slot) in [
        (
            "passwordNotificationWindowInDays",
            &mut d.password_notification_window_in_days,
        ),
        (
            "passwordValidityPeriodInDays",
            &mut d.password_validity_period_in_days,
        ),
    ] {
        if let Some(n) = obj.get(key).and_then(Value::as_i64) {
            *slot = i32::try_from(n).ok();
            changed = true;
        }
    }
    Ok(Outcome {
        resp: no_content(call.req),
        changed,
    })
}

fn promote(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    call.allow(
        who,
        &["Domain.ReadWrite.All", "Directory.ReadWrite.All"],
        Some(FEDERATION_ROLES),
    )?;
    let idx = find_domain(call, t, id)?;
    if t.domains[idx].parent.is_none() {
        return Err(call.bad(&format!(
            "Domain '{}' is already a root domain.",
            t.domains[idx].id()
        )));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    let now = t.now().unix_timestamp();
    // A promoted subdomain stops inheriting and starts out Managed, whatever its root was.
    let before = t.realm(idx, now, std::time::Duration::ZERO);
    let d = &mut t.domains[idx];
    d.parent = None;
    d.domain.is_root = Some(true);
    d.domain.authentication_type = Some(AuthenticationType::Managed);
    d.federation = None;
    t.mark_changed(idx, before, now, call.sh.delay);
    let body = json!({"@odata.context": call.context("Edm.Boolean"), "value": true});
    Ok(Outcome {
        resp: call.ok(body),
        changed: true,
    })
}

fn fed_json(call: &Call, f: &InternalDomainFederation, select: Option<&[String]>) -> Value {
    let mut v = serde_json::to_value(f).unwrap_or(Value::Null);
    if let Some(s) = select {
        v = schema::apply_select(
            v,
            &s.iter().map(String::as_str).collect::<Vec<_>>(),
            FED_PROPS,
        );
    }
    if let Value::Object(m) = &mut v {
        let mut out = Map::new();
        out.insert(
            "@odata.type".into(),
            Value::String("#microsoft.graph.internalDomainFederation".into()),
        );
        out.extend(std::mem::take(m));
        let _ = call;
        return Value::Object(out);
    }
    v
}

fn list_federation(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, FED_READ, None)?;
    let select = call.select("microsoft.graph.internalDomainFederation", FED_PROPS)?;
    let idx = find_domain(call, t, id)?;
    let Some(f) = t.federation_of(idx) else {
        return Err(call.not_found("federationConfiguration"));
    };
    let body = json!({
        "@odata.context": call.context(&format!("domains('{}')/federationConfiguration", t.domains[idx].id())),
        "value": [fed_json(call, f, select.as_deref())],
    });
    Ok(call.ok(body))
}

fn find_fed<'t>(
    call: &Call,
    t: &'t Tenant,
    idx: usize,
    fed_id: &str,
) -> Result<&'t InternalDomainFederation, Resp> {
    match t.federation_of(idx) {
        Some(f)
            if f.id
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(fed_id)) =>
        {
            Ok(f)
        }
        _ => Err(call.not_found(&short(fed_id))),
    }
}

fn get_federation(
    call: &Call,
    t: &Tenant,
    who: &Claims,
    id: &str,
    fed_id: &str,
) -> Result<Resp, Resp> {
    call.allow(who, FED_READ, None)?;
    let select = call.select("microsoft.graph.internalDomainFederation", FED_PROPS)?;
    let idx = find_domain(call, t, id)?;
    let f = find_fed(call, t, idx, fed_id)?;
    let mut v = fed_json(call, f, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context(&format!(
                "domains('{}')/federationConfiguration/$entity",
                t.domains[idx].id()
            ))),
        );
    }
    Ok(call.ok(v))
}

fn is_absolute_uri(s: &str) -> bool {
    url::Url::parse(s).is_ok_and(|u| u.has_host())
}

fn check_uris(call: &Call, obj: &Map<String, Value>) -> Result<(), Resp> {
    for key in [
        "issuerUri",
        "passiveSignInUri",
        "activeSignInUri",
        "metadataExchangeUri",
        "signOutUri",
        "passwordResetUri",
    ] {
        if let Some(s) = obj.get(key).and_then(Value::as_str)
            && !s.is_empty()
            && !is_absolute_uri(s)
        {
            return Err(call.bad(&format!(
                "Invalid value specified for property '{key}' of resource 'InternalDomainFederation'."
            )));
        }
    }
    Ok(())
}

fn issuer_taken(t: &Tenant, issuer: &str, except_domain: Option<usize>) -> bool {
    t.domains.iter().enumerate().any(|(i, d)| {
        Some(i) != except_domain
            && d.federation.as_ref().and_then(|f| f.issuer_uri.as_deref()) == Some(issuer)
    })
}

fn conflict(call: &Call) -> Resp {
    graph_error(
        StatusCode::CONFLICT,
        call.req,
        "Request_MultipleObjectsWithSameKeyValue",
        "Another object with the same value for property issuerUri already exists.",
    )
}

fn create_federation(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    call.allow(who, FED_WRITE, Some(FEDERATION_ROLES))?;
    // The documented permissions issue of this method, where the scenario has it.
    if t.federation_create_needs_access_as_user
        && !who.is_app()
        && !who.scopes().any(|s| s == "Directory.AccessAsUser.All")
    {
        return Err(graph_error(
            StatusCode::FORBIDDEN,
            call.req,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        ));
    }
    let body = call.body()?;
    let obj =
        schema::check(&schema::INTERNAL_DOMAIN_FEDERATION, &body).map_err(|i| call.invalid(i))?;
    let idx = find_domain(call, t, id)?;
    subdomain_refusal(call, t, idx)?;
    let d = &t.domains[idx];
    if d.domain.is_initial == Some(true) {
        return Err(call.bad("The initial domain of a tenant cannot be federated."));
    }
    if d.domain.is_verified != Some(true) {
        return Err(call.bad(&format!(
            "Domain '{}' is not verified; verify it before federating it.",
            d.id()
        )));
    }
    if d.federation.is_some() {
        return Err(call.bad(&format!(
            "Domain '{}' is already federated. Update its federationConfiguration instead.",
            d.id()
        )));
    }
    for required in ["issuerUri", "passiveSignInUri", "signingCertificate"] {
        if obj
            .get(required)
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return Err(call.bad(&format!(
                "Invalid value specified for property '{required}' of resource 'InternalDomainFederation'."
            )));
        }
    }
    check_uris(call, obj)?;
    let issuer = obj
        .get("issuerUri")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if issuer_taken(t, issuer, None) {
        return Err(conflict(call));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    let mut fed: InternalDomainFederation =
        serde_json::from_value(body.clone()).map_err(|e| call.bad(&short(&e.to_string())))?;
    let now = t.now();
    fed.id = Some(uuid::Uuid::new_v4().to_string());
    if fed.preferred_authentication_protocol.is_none() {
        fed.preferred_authentication_protocol =
            Some(crate::graph::models::AuthenticationProtocol::WsFed);
    }
    fed.signing_certificate_update_status = Some(SigningCertificateUpdateStatus {
        certificate_update_result: Some("Success".into()),
        last_run_date_time: Some(graph_time(now)),
    });
    let before = t.snapshot(idx);
    let d = &mut t.domains[idx];
    d.federation = Some(Box::new(fed.clone()));
    d.domain.authentication_type = Some(AuthenticationType::Federated);
    t.mark_changed(idx, before, now.unix_timestamp(), call.sh.delay);
    t.share_certificates_of(idx);
    let mut v = fed_json(call, &fed, None);
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context(&format!(
                "domains('{}')/federationConfiguration/$entity",
                t.domains[idx].id()
            ))),
        );
    }
    Ok(Outcome {
        resp: json_resp(StatusCode::CREATED, call.req, &v),
        changed: true,
    })
}

fn update_federation(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    id: &str,
    fed_id: &str,
) -> Result<Outcome, Resp> {
    call.allow(who, FED_WRITE, Some(FEDERATION_ROLES))?;
    let body = call.body()?;
    let obj =
        schema::check(&schema::INTERNAL_DOMAIN_FEDERATION, &body).map_err(|i| call.invalid(i))?;
    let idx = find_domain(call, t, id)?;
    let current = find_fed(call, t, idx, fed_id)?.clone();
    subdomain_refusal(call, t, idx)?;
    check_uris(call, obj)?;
    for required in ["issuerUri", "passiveSignInUri", "signingCertificate"] {
        if obj
            .get(required)
            .is_some_and(|v| v.as_str().is_none_or(str::is_empty))
        {
            return Err(call.bad(&format!(
                "Invalid value specified for property '{required}' of resource 'InternalDomainFederation'."
            )));
        }
    }
    if let Some(issuer) = obj.get("issuerUri").and_then(Value::as_str)
        && issuer_taken(t, issuer, Some(idx))
    {
        return Err(conflict(call));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    let mut merged = serde_json::to_value(&current).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut merged {
        for (k, v) in obj {
            if k != "@odata.type" {
                m.insert(k.clone(), v.clone());
            }
        }
    }
    let mut updated: InternalDomainFederation =
        serde_json::from_value(merged).map_err(|e| call.bad(&short(&e.to_string())))?;
    let now = t.now();
    if updated.signing_certificate != current.signing_certificate {
        updated.signing_certificate_update_status = Some(SigningCertificateUpdateStatus {
            certificate_update_result: Some("Success".into()),
            last_run_date_time: Some(graph_time(now)),
        });
    }
    let before = t.snapshot(idx);
    t.domains[idx].federation = Some(Box::new(updated));
    t.mark_changed(idx, before, now.unix_timestamp(), call.sh.delay);
    t.share_certificates_of(idx);
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

fn delete_federation(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    id: &str,
    fed_id: &str,
) -> Result<Outcome, Resp> {
    call.allow(who, FED_WRITE, Some(FEDERATION_ROLES))?;
    let idx = find_domain(call, t, id)?;
    find_fed(call, t, idx, fed_id)?;
    subdomain_refusal(call, t, idx)?;
    call.sh.throttle(call.req, who, &t.limits)?;
    let now = t.now().unix_timestamp();
    let before = t.snapshot(idx);
    let d = &mut t.domains[idx];
    d.federation = None;
    d.domain.authentication_type = Some(AuthenticationType::Managed);
    t.mark_changed(idx, before, now, call.sh.delay);
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

// ---- organization and directory sync -------------------------------------------------------------
