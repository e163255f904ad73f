//! The organization and its on-premises directory synchronization settings (the password hash sync
//! flag and its feature flags).

use serde_json::{Value, json};

use super::call::{Call, Outcome, merge, short};
use crate::clock::unix;
use crate::emulator::http::{Resp, no_content};
use crate::emulator::schema::{self};
use crate::emulator::state::{GLOBAL_ADMIN, Tenant};
use crate::emulator::tokens::Claims;
use crate::graph::models::{
    AuthenticationType, OnPremisesDirectorySynchronization, Organization, VerifiedDomain,
    graph_time,
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
        ("GET", ["organization"]) => organization(call, t, who).map(Into::into),
        ("GET", ["directory", "onpremisessynchronization"]) => {
            list_sync(call, t, who).map(Into::into)
        }
        ("GET", ["directory", "onpremisessynchronization", _]) => {
            get_sync(call, t, who, &segs[2]).map(Into::into)
        }
        ("PATCH", ["directory", "onpremisessynchronization", _]) => {
            patch_sync(call, t, who, &segs[2])
        }
        ("GET", ["groupsettings"]) => list_settings(call, t, who).map(Into::into),
        _ => return None,
    };
    Some(r)
}

const ORG_PROPS: &[&str] = &[
    "id",
    "displayName",
    "createdDateTime",
    "countryLetterCode",
    "tenantType",
    "onPremisesSyncEnabled",
    "onPremisesLastSyncDateTime",
    "verifiedDomains",
    "assignedPlans",
    "businessPhones",
    "city",
    "country",
    "defaultUsageLocation",
    "marketingNotificationEmails",
    "postalCode",
    "preferredLanguage",
    "privacyProfile",
    "provisionedPlans",
    "securityComplianceNotificationMails",
    "securityComplianceNotificationPhones",
    "state",
    "street",
    "technicalNotificationMails",
    "mobileDeviceManagementAuthority",
    "partnerTenantType",
    "deletedDateTime",
    "onPremisesLastPasswordSyncDateTime",
];

fn organization(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(
        who,
        &[
            "Organization.Read.All",
            "Organization.ReadWrite.All",
            "Directory.Read.All",
            "Directory.ReadWrite.All",
            "User.Read",
            "User.Read.All",
        ],
        None,
    )?;
    let select = call.select("microsoft.graph.organization", ORG_PROPS)?;
    let beta = call.version == "beta";
    // Only what is asked for is built: a tenant's every domain again is 9 MB at 5,000 domains.
    let wants_domains = select
        .as_ref()
        .is_none_or(|s| s.iter().any(|p| p.eq_ignore_ascii_case("verifiedDomains")));
    let org = Organization {
        id: Some(t.tenant_id.clone()),
        display_name: Some(t.display_name.clone()),
        created_date_time: Some(graph_time(unix(t.created))),
        country_letter_code: Some(t.country.clone()),
        tenant_type: Some("AAD".into()),
        on_premises_sync_enabled: Some(true),
        on_premises_last_sync_date_time: Some(graph_time(unix(t.sync.last_cycle))),
        on_premises_last_password_sync_date_time: if beta {
            t.sync.last_password_sync.map(|s| graph_time(unix(s)))
        } else {
            None
        },
        verified_domains: wants_domains.then(|| {
            t.domains
                .iter()
                .filter(|d| d.domain.is_verified == Some(true))
                .map(|d| VerifiedDomain {
                    capabilities: Some(
                        if d.domain.is_initial == Some(true) {
                            "Email, OfficeCommunicationsOnline"
                        } else {
                            "Email, OfficeCommunicationsOnline, Intune"
                        }
                        .into(),
                    ),
                    is_default: d.domain.is_default,
                    is_initial: d.domain.is_initial,
                    name: d.domain.id.clone(),
                    kind: Some(match d.domain.authentication_type {
                        Some(AuthenticationType::Federated) => "Federated".into(),
                        _ => "Managed".into(),
                    }),
                })
                .collect()
        }),
    };
    let mut v = serde_json::to_value(org).unwrap_or(Value::Null);
    if beta && let Value::Object(m) = &mut v {
        m.entry("onPremisesLastPasswordSyncDateTime")
            .or_insert(Value::Null);
    }
    if let Some(s) = &select {
        v = schema::apply_select(
            v,
            &s.iter().map(String::as_str).collect::<Vec<_>>(),
            ORG_PROPS,
        );
    }
    Ok(call.ok(json!({"@odata.context": call.context("organization"), "value": [v]})))
}

const SYNC_READ: &[&str] = &[
    "OnPremDirectorySynchronization.Read.All",
    "OnPremDirectorySynchronization.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

fn sync_json(t: &Tenant) -> Value {
    serde_json::to_value(OnPremisesDirectorySynchronization {
        id: Some(t.sync.id.clone()),
        configuration: Some(t.sync.configuration.clone()),
        features: Some(t.sync.features.clone()),
    })
    .unwrap_or(Value::Null)
}

fn list_sync(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, SYNC_READ, None)?;
    Ok(call.ok(json!({
        "@odata.context": call.context("directory/onPremisesSynchronization"),
        "value": [sync_json(t)],
    })))
}

fn get_sync(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, SYNC_READ, None)?;
    if !id.eq_ignore_ascii_case(&t.sync.id) {
        return Err(call.not_found(&short(id)));
    }
    let mut v = sync_json(t);
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("directory/onPremisesSynchronization/$entity")),
        );
    }
    Ok(call.ok(v))
}

fn patch_sync(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    // A delegated caller needs the Global Administrator role; an application the permission itself.
    call.allow(
        who,
        &["OnPremDirectorySynchronization.ReadWrite.All"],
        Some(&[GLOBAL_ADMIN]),
    )?;
    let body = call.body()?;
    schema::check(&schema::ON_PREMISES_SYNCHRONIZATION, &body).map_err(|i| call.invalid(i))?;
    if !id.eq_ignore_ascii_case(&t.sync.id) {
        return Err(call.not_found(&short(id)));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    let mut current = sync_json(t);
    merge(&mut current, &body);
    let updated: OnPremisesDirectorySynchronization =
        serde_json::from_value(current).map_err(|e| call.bad(&short(&e.to_string())))?;
    if let Some(f) = updated.features {
        t.sync.features = f;
    }
    if let Some(c) = updated.configuration {
        t.sync.configuration = c;
    }
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

/// The tenant's settings objects (`groupSetting`): here the one a tenant has when it changed smart
/// lockout, "Password Rule Settings" (template 5cf42378-d67d-4f36-ba46-e8b86229381d). None when it
/// kept Entra's defaults.
const SETTINGS_READ: &[&str] = &["Directory.Read.All", "Directory.ReadWrite.All"];
pub const PASSWORD_RULE_TEMPLATE: &str = "5cf42378-d67d-4f36-ba46-e8b86229381d";

fn list_settings(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, SETTINGS_READ, None)?;
    let items: Vec<Value> = t
        .lockout
        .iter()
        .map(|l| {
            json!({
                "id": l.settings_id,
                "displayName": "Password Rule Settings",
                "templateId": PASSWORD_RULE_TEMPLATE,
                "values": [
                    {"name": "BannedPasswordCheckOnPremisesMode", "value": "Audit"},
                    {"name": "EnableBannedPasswordCheckOnPremises", "value": "False"},
                    {"name": "EnableBannedPasswordCheck", "value": "True"},
                    {"name": "LockoutDurationInSeconds", "value": l.duration_s.to_string()},
                    {"name": "LockoutThreshold", "value": l.threshold.to_string()},
                    {"name": "BannedPasswordList", "value": ""},
                ],
            })
        })
        .collect();
    call.page(
        items,
        t.limits.page_size,
        call.context("groupSettings"),
        None,
    )
}
