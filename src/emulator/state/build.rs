//! The tenant a scenario describes: its domains, users (named, with their AD UPNs and MFA
//! registration), groups, devices, farms, sync engines, policies and secrets.

use std::collections::BTreeMap;

use crate::clock::unix;
use time::OffsetDateTime;

use crate::emulator::EmulatorError;
use crate::emulator::engines::{CloudConfig, ConnectServer, Engines};
use crate::emulator::pki::SigningCert;
use crate::emulator::scenario::{self, Resolved};
use crate::graph::models::{
    AuthenticationProtocol, AuthenticationType, DeletionPreventionType, Domain,
    FederatedIdpMfaBehavior, InternalDomainFederation, OnPremisesAccidentalDeletionPrevention,
    OnPremisesDirectorySynchronizationConfiguration, OnPremisesDirectorySynchronizationFeature,
    PromptLoginBehavior, SigningCertificateUpdateStatus, graph_time,
};

use super::records::*;

fn secret(len: usize) -> String {
    let mut s = String::new();
    while s.len() < len {
        s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    s.truncate(len);
    s
}

const GIVEN: &[&str] = &[
    "Adele",
    "Alex",
    "Diego",
    "Grady",
    "Henrietta",
    "Isaiah",
    "Johanna",
    "Joni",
    "Lee",
    "Lidia",
    "Lynne",
    "Megan",
    "Miriam",
    "Nestor",
    "Patti",
    "Pradeep",
    "Ravi",
    "Sakura",
    "Tomas",
    "Wanda",
];
const FAMILY: &[&str] = &[
    "Vance",
    "Wilber",
    "Siciliani",
    "Archie",
    "Cerveny",
    "Langer",
    "Lauer",
    "Sherman",
    "Gu",
    "Holloway",
    "Robbins",
    "Bowen",
    "Graham",
    "Wilke",
    "Fernandez",
    "Gupta",
    "Patel",
    "Tanaka",
    "Novak",
    "Ortiz",
];

impl Tenant {
    /// A fresh tenant made from the scenario.
    pub fn from_scenario(s: &Resolved) -> Result<Tenant, EmulatorError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let created = now - 400 * 86_400;
        let mut farms = BTreeMap::new();
        for (name, spec) in &s.farms {
            farms.insert(
                name.clone(),
                FarmRec {
                    display_name: spec.display_name.clone(),
                    state: if spec.state == "down" {
                        FarmState::Down
                    } else {
                        FarmState::Up
                    },
                    identifier: scenario::farm_identifier(name),
                    signing: SigningCert::generate(
                        &format!("ADFS Signing - {name}"),
                        now - 30 * 86_400,
                        365,
                    )?,
                    encryption: SigningCert::generate(
                        &format!("ADFS Encryption - {name}"),
                        now - 30 * 86_400,
                        365,
                    )?,
                    secondary: None,
                    issuers: BTreeMap::new(),
                },
            );
        }
        let mut domains = vec![DomainRec {
            domain: domain_model(
                &s.tenant.initial_domain,
                true,
                true,
                !s.domains.iter().any(|d| d.default),
                true,
            ),
            federation: None,
            parent: None,
            previous: None,
            changed_at: created,
        }];
        for d in &s.domains {
            if let Some(farm) = d.federation.as_ref().and_then(|f| farms.get_mut(f)) {
                let issuer = d.issuer.clone().unwrap_or_else(|| farm.identifier.clone());
                farm.issuers.insert(d.name.to_ascii_lowercase(), issuer);
            }
        }
        for d in &s.domains {
            let mut model = domain_model(&d.name, d.parent.is_none(), false, d.default, d.verified);
            let federation = match &d.federation {
                Some(farm_name) => {
                    let farm = &farms[farm_name];
                    model.authentication_type = Some(AuthenticationType::Federated);
                    let mut f = federation_for(
                        farm_name,
                        farm,
                        d.issuer.clone().unwrap_or_else(|| farm.identifier.clone()),
                        &format!("{} federation", d.name),
                        created,
                    );
                    if let Some(b) = &d.federated_idp_mfa_behavior {
                        f.federated_idp_mfa_behavior = Some(FederatedIdpMfaBehavior::from_wire(b));
                    }
                    Some(Box::new(f))
                }
                None => None,
            };
            domains.push(DomainRec {
                domain: model,
                federation,
                parent: d.parent.clone(),
                previous: None,
                changed_at: created,
            });
        }
        // The administrator is like any user of their domain: on the tenant's onmicrosoft.com domain a
        // cloud-only account with a cloud password; on a domain of the organisation an AD account,
        // synchronized, whose sign-in follows the domain (through the farm while it is federated).
        let admin_on_premises = !s
            .admin
            .upn
            .to_ascii_lowercase()
            .ends_with(".onmicrosoft.com");
        let mut users = vec![UserRec {
            id: uuid::Uuid::new_v4().to_string(),
            upn: s.admin.upn.clone(),
            display_name: s.admin.display_name.clone(),
            given_name: None,
            surname: None,
            job_title: Some("Identity administrator".into()),
            synced: admin_on_premises,
            immutable_id: admin_on_premises.then(|| base64_of(uuid::Uuid::new_v4().as_bytes())),
            has_hash: !admin_on_premises,
            cloud_password: (!admin_on_premises).then(|| secret(20)),
            roles: s.admin.roles.clone(),
            enabled: true,
            last_sync: admin_on_premises.then_some(created),
            mfa_registered: true,
            on_premises_upn: admin_on_premises.then(|| s.admin.upn.clone()),
        }];
        let mut n = 0usize;
        for d in &s.domains {
            // The AD forest's own suffix, for users whose AD UPN is not a domain Entra ID knows.
            let ad_suffix = format!("{}.local", d.name.split('.').next().unwrap_or("corp"));
            for k in 0..d.users {
                let given = GIVEN[n % GIVEN.len()];
                let family = FAMILY[(n / GIVEN.len()) % FAMILY.len()];
                let round = n / (GIVEN.len() * FAMILY.len());
                let local = if round == 0 {
                    format!("{}.{}", given, family).to_lowercase()
                } else {
                    format!("{}.{}{}", given, family, round + 1).to_lowercase()
                };
                users.push(UserRec {
                    id: uuid::Uuid::new_v4().to_string(),
                    upn: format!("{local}@{}", d.name),
                    display_name: format!("{given} {family}"),
                    given_name: Some(given.into()),
                    surname: Some(family.into()),
                    job_title: None,
                    synced: true,
                    immutable_id: Some(base64_of(uuid::Uuid::new_v4().as_bytes())),
                    has_hash: false,
                    cloud_password: None,
                    roles: vec![],
                    enabled: true,
                    last_sync: Some(created),
                    mfa_registered: k >= d.mfa_unregistered,
                    on_premises_upn: Some(if k < d.unroutable_upn {
                        format!("{local}@{ad_suffix}")
                    } else {
                        format!("{local}@{}", d.name)
                    }),
                });
                n += 1;
            }
        }
        let mut groups: Vec<GroupRec> = s
            .groups
            .iter()
            .map(|g| GroupRec {
                id: uuid::Uuid::new_v4().to_string(),
                display_name: g.display_name.clone(),
                members: users
                    .iter()
                    .filter(|u| u.synced)
                    .filter(|u| {
                        g.domain
                            .as_deref()
                            .is_none_or(|d| u.domain().eq_ignore_ascii_case(d))
                    })
                    .take(g.members as usize)
                    .map(|u| u.id.clone())
                    .collect(),
                dynamic: g.dynamic,
                contacts: (0..g.contacts)
                    .map(|_| uuid::Uuid::new_v4().to_string())
                    .collect(),
                member_groups: vec![],
            })
            .collect();
        for (i, g) in s.groups.iter().enumerate() {
            let ids: Vec<String> = g
                .groups
                .iter()
                .filter_map(|name| groups.iter().find(|o| &o.display_name == name))
                .map(|o| o.id.clone())
                .collect();
            groups[i].member_groups = ids;
        }
        let mut features = OnPremisesDirectorySynchronizationFeature {
            password_sync_enabled: Some(s.sync.password_hash_sync),
            ..Default::default()
        };
        for f in [
            &mut features.password_writeback_enabled,
            &mut features.directory_extensions_enabled,
            &mut features.cloud_password_policy_for_password_synced_users_enabled,
            &mut features.fope_conflict_resolution_enabled,
            &mut features.unified_group_writeback_enabled,
            &mut features.user_writeback_enabled,
            &mut features.device_writeback_enabled,
            &mut features.user_force_password_change_on_logon_enabled,
            &mut features.concurrent_org_id_provisioning_enabled,
            &mut features.concurrent_credential_update_enabled,
            &mut features.group_write_back_enabled,
            &mut features.block_soft_match_enabled,
            &mut features.block_cloud_object_takeover_through_hard_match_enabled,
            &mut features.bypass_dir_sync_overrides_enabled,
            &mut features.allow_on_prem_update_of_on_premises_object_identifier_enabled,
        ] {
            *f = Some(false);
        }
        for f in [
            &mut features.quarantine_upon_upn_conflict_enabled,
            &mut features.quarantine_upon_proxy_addresses_conflict_enabled,
            &mut features.soft_match_on_upn_enabled,
            &mut features.synchronize_upn_for_managed_users_enabled,
        ] {
            *f = Some(true);
        }
        features.cloud_password_policy_for_password_synced_users_enabled =
            Some(s.sync.cloud_password_policy);
        features.user_force_password_change_on_logon_enabled =
            Some(s.sync.force_password_change_on_logon);
        let user_password = s
            .sync
            .user_password
            .clone()
            .unwrap_or_else(|| format!("Onprem-{}", secret(12)));
        let mut tenant = Tenant {
            version: STATE_VERSION,
            tenant_id: s.tenant.id.clone(),
            display_name: s.tenant.display_name.clone(),
            country: s.tenant.country.clone(),
            created,
            clock_offset_s: 0,
            wal_epoch: uuid::Uuid::new_v4().simple().to_string(),
            wal_seq: 0,
            wal_records: 0,
            certificates: Default::default(),
            secrets: Secrets {
                client_secret: s
                    .app
                    .client_secret
                    .clone()
                    .unwrap_or_else(|| format!("rehearsal~{}", secret(32))),
                admin_password: users[0]
                    .cloud_password
                    .clone()
                    .unwrap_or_else(|| user_password.clone()),
                user_password,
                control_token: secret(40),
            },
            token_key: SigningCert::generate("entra-failover rehearsal STS", now - 86_400, 3650)?,
            domains,
            sync: SyncRec {
                id: uuid::Uuid::new_v4().to_string(),
                features,
                configuration: OnPremisesDirectorySynchronizationConfiguration {
                    accidental_deletion_prevention: Some(OnPremisesAccidentalDeletionPrevention {
                        alert_threshold: Some(500),
                        synchronization_prevention_type: Some(
                            DeletionPreventionType::EnabledForCount,
                        ),
                    }),
                },
                cycle_minutes: s.sync.cycle_minutes.max(1),
                last_cycle: now - 60,
                last_password_sync: None,
                engines: engines_of(s),
                seamless_sso: s
                    .domains
                    .iter()
                    .filter(|d| d.parent.is_none() && d.users > 0)
                    .map(|d| {
                        let on = s
                            .sync
                            .seamless_sso
                            .iter()
                            .any(|f| f.eq_ignore_ascii_case(&d.name));
                        SsoForestRec {
                            forest: d.name.to_ascii_lowercase(),
                            enabled: on,
                            // Set up a while ago: within Microsoft's 30 days.
                            key_set_at: on.then_some(now - 12 * 86_400),
                        }
                    })
                    .collect(),
            },
            users,
            groups,
            policies: vec![],
            ca_policies: vec![],
            premium: s.tenant.premium,
            federation_create_needs_access_as_user: s.tenant.federation_create_needs_access_as_user,
            devices: devices(&s.tenant),
            lockout: s.tenant.lockout_threshold.map(|threshold| LockoutRec {
                settings_id: uuid::Uuid::new_v4().to_string(),
                threshold,
                duration_s: s.tenant.lockout_duration_s.unwrap_or(60),
            }),
            signins: vec![],
            app: AppRec {
                client_id: s.app.client_id.clone(),
                display_name: s.app.display_name.clone(),
                roles: s.app.roles.clone(),
                scopes: s.app.scopes.clone(),
                certificates: vec![],
            },
            farms,
            limits: LimitsRec {
                page_size: s.limits.page_size,
                write_burst: s.limits.write_burst,
                writes_per_second: s.limits.writes_per_second,
                concurrent_requests: s.limits.concurrent_requests,
                device_code_interval_s: s.limits.device_code_interval_s,
                token_lifetime_s: s.limits.token_lifetime_s,
            },
        };
        tenant.ca_policies = s
            .conditional_access
            .iter()
            .map(|p| conditional_access_policy(p, &tenant.groups, created))
            .collect();
        if s.sync.password_hash_sync {
            tenant.sync_cycle(now - 60);
        }
        tenant.share_certificates();
        Ok(tenant)
    }
}

/// The scenario's devices: hybrid joined (through AD, `ServerAd`) and Entra registered (`Workplace`).
fn devices(spec: &crate::emulator::scenario::TenantSpec) -> Vec<DeviceRec> {
    let make = |i: u32, trust: &str, prefix: &str, os: &str| DeviceRec {
        id: uuid::Uuid::new_v4().to_string(),
        device_id: uuid::Uuid::new_v4().to_string(),
        display_name: format!("{prefix}-{:04}", i + 1),
        trust_type: trust.into(),
        operating_system: os.into(),
    };
    (0..spec.hybrid_joined_devices)
        .map(|i| make(i, "ServerAd", "WS", "Windows"))
        .chain((0..spec.registered_devices).map(|i| make(i, "Workplace", "PHONE", "iOS")))
        .collect()
}

/// A `conditionalAccessPolicy` as Graph returns it, from a scenario's few words.
fn conditional_access_policy(
    p: &scenario::ConditionalAccessSpec,
    groups: &[GroupRec],
    created: i64,
) -> serde_json::Value {
    let group_ids: Vec<String> = p
        .include_groups
        .iter()
        .filter_map(|name| groups.iter().find(|g| &g.display_name == name))
        .map(|g| g.id.clone())
        .collect();
    serde_json::json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "templateId": null,
        "displayName": p.display_name,
        "description": null,
        "createdDateTime": graph_time(unix(created)),
        "modifiedDateTime": null,
        "state": p.state,
        "sessionControls": null,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "servicePrincipalRiskLevels": [],
            "clientAppTypes": p.client_app_types,
            "platforms": null,
            "locations": null,
            "devices": null,
            "clientApplications": null,
            "applications": {
                "includeApplications": p.include_applications,
                "excludeApplications": [],
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": []
            },
            "users": {
                "includeUsers": p.include_users,
                "excludeUsers": p.exclude_users,
                "includeGroups": group_ids,
                "excludeGroups": [],
                "includeRoles": [],
                "excludeRoles": []
            }
        },
        "grantControls": {
            "operator": "OR",
            "builtInControls": p.grant,
            "customAuthenticationFactors": [],
            "termsOfUse": []
        }
    })
}

/// Graph's view of a fresh domain.
fn domain_model(name: &str, root: bool, initial: bool, default: bool, verified: bool) -> Domain {
    Domain {
        id: Some(name.to_string()),
        authentication_type: Some(AuthenticationType::Managed),
        availability_status: None,
        is_admin_managed: Some(true),
        is_default: Some(default),
        is_initial: Some(initial),
        is_root: Some(root),
        is_verified: Some(verified),
        manufacturer: None,
        model: None,
        password_notification_window_in_days: Some(14),
        password_validity_period_in_days: Some(2_147_483_647),
        state: None,
        supported_services: Some(if initial {
            vec!["Email".into(), "OfficeCommunicationsOnline".into()]
        } else {
            vec![
                "Email".into(),
                "OfficeCommunicationsOnline".into(),
                "Intune".into(),
            ]
        }),
    }
}

/// The federation settings Entra Connect writes for a domain federated with an AD FS farm.
pub fn federation_for(
    service: &str,
    farm: &FarmRec,
    issuer: String,
    display_name: &str,
    at: i64,
) -> InternalDomainFederation {
    InternalDomainFederation {
        id: Some(uuid::Uuid::new_v4().to_string()),
        display_name: Some(display_name.to_string()),
        issuer_uri: Some(issuer),
        metadata_exchange_uri: Some(format!("https://{service}/adfs/services/trust/mex")),
        passive_sign_in_uri: Some(format!("https://{service}/adfs/ls/")),
        preferred_authentication_protocol: Some(AuthenticationProtocol::WsFed),
        signing_certificate: Some(farm.signing.cert_b64.as_str().into()),
        active_sign_in_uri: Some(format!(
            "https://{service}/adfs/services/trust/2005/usernamemixed"
        )),
        federated_idp_mfa_behavior: Some(FederatedIdpMfaBehavior::AcceptIfMfaDoneByFederatedIdp),
        is_signed_authentication_request_required: Some(false),
        next_signing_certificate: None,
        password_reset_uri: None,
        prompt_login_behavior: Some(PromptLoginBehavior::NativeSupport),
        signing_certificate_update_status: Some(SigningCertificateUpdateStatus {
            certificate_update_result: Some("Success".into()),
            last_run_date_time: Some(graph_time(unix(at))),
        }),
        sign_out_uri: Some(format!("https://{service}/adfs/ls/?wa=wsignout1.0")),
    }
}

/// The engines a scenario asks for.
fn engines_of(s: &Resolved) -> Engines {
    let on = s.sync.password_hash_sync;
    let roots: Vec<&str> = s
        .domains
        .iter()
        .filter(|d| d.parent.is_none() && d.users > 0)
        .map(|d| d.name.as_str())
        .collect();
    let connect = (s.sync.engine != "cloud").then(|| {
        ConnectServer::new(
            &s.sync.connect_server,
            roots.first().copied().unwrap_or("contoso.com"),
            &s.tenant.initial_domain,
            on,
        )
    });
    let cloud = if s.sync.engine == "connect" {
        vec![]
    } else {
        let names: Vec<String> = match &s.sync.cloud_configurations {
            Some(n) => n.clone(),
            None => roots.iter().map(|r| r.to_string()).collect(),
        };
        names.iter().map(|n| CloudConfig::new(n, on)).collect()
    };
    Engines { connect, cloud }
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
