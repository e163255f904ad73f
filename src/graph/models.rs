//! Graph v1.0 entities as they travel on the wire.
//!
//! Every property is optional because `$select` may leave any of them out, and every enum keeps a value it
//! does not know (`Unknown`) instead of failing: Graph adds members (`unknownFutureValue` and beyond) without
//! notice, and a failover must not stop because a tenant answered with a newer value.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Declares a string enum that round-trips values it does not know.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
            /// A value this build does not know, kept as sent.
            Unknown(String),
        }

        impl $name {
            /// The values the schema declares, in schema order.
            pub const KNOWN: &'static [&'static str] = &[$($wire),+];

            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $wire,)+
                    Self::Unknown(s) => s.as_str(),
                }
            }

            /// Parses a wire value; anything else becomes `Unknown`.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    $($wire => Self::$variant,)+
                    other => Self::Unknown(other.to_string()),
                }
            }

            pub fn is_known(&self) -> bool {
                !matches!(self, Self::Unknown(_))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from_wire(&s))
            }
        }
    };
}

open_enum!(
    /// `domain.authenticationType`: a string in the schema, with these two values in practice.
    AuthenticationType { Managed = "Managed", Federated = "Federated" }
);
open_enum!(
    /// `authenticationProtocol`.
    AuthenticationProtocol { WsFed = "wsFed", Saml = "saml", UnknownFutureValue = "unknownFutureValue" }
);
open_enum!(
    /// `promptLoginBehavior`.
    PromptLoginBehavior {
        TranslateToFreshPasswordAuthentication = "translateToFreshPasswordAuthentication",
        NativeSupport = "nativeSupport",
        Disabled = "disabled",
        UnknownFutureValue = "unknownFutureValue",
    }
);
open_enum!(
    /// `federatedIdpMfaBehavior`.
    FederatedIdpMfaBehavior {
        AcceptIfMfaDoneByFederatedIdp = "acceptIfMfaDoneByFederatedIdp",
        EnforceMfaByFederatedIdp = "enforceMfaByFederatedIdp",
        RejectMfaByFederatedIdp = "rejectMfaByFederatedIdp",
        UnknownFutureValue = "unknownFutureValue",
    }
);
open_enum!(
    /// `stagedFeatureName`.
    StagedFeatureName {
        PassthroughAuthentication = "passthroughAuthentication",
        SeamlessSso = "seamlessSso",
        PasswordHashSync = "passwordHashSync",
        EmailAsAlternateId = "emailAsAlternateId",
        UnknownFutureValue = "unknownFutureValue",
        CertificateBasedAuthentication = "certificateBasedAuthentication",
        MultiFactorAuthentication = "multiFactorAuthentication",
    }
);
open_enum!(
    /// `onPremisesDirectorySynchronizationDeletionPreventionType`.
    DeletionPreventionType {
        Disabled = "disabled",
        EnabledForCount = "enabledForCount",
        EnabledForPercentage = "enabledForPercentage",
        UnknownFutureValue = "unknownFutureValue",
    }
);

/// `microsoft.graph.domain`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Domain {
    pub id: Option<String>,
    pub authentication_type: Option<AuthenticationType>,
    pub availability_status: Option<String>,
    pub is_admin_managed: Option<bool>,
    pub is_default: Option<bool>,
    pub is_initial: Option<bool>,
    pub is_root: Option<bool>,
    pub is_verified: Option<bool>,
    pub manufacturer: Option<String>,
    pub model: Option<String>,
    pub password_notification_window_in_days: Option<i32>,
    pub password_validity_period_in_days: Option<i32>,
    pub state: Option<DomainState>,
    pub supported_services: Option<Vec<String>>,
}

/// `microsoft.graph.domainState`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DomainState {
    pub last_action_date_time: Option<String>,
    pub operation: Option<String>,
    pub status: Option<String>,
}

/// `microsoft.graph.internalDomainFederation`: a domain's federation settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct InternalDomainFederation {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub issuer_uri: Option<String>,
    pub metadata_exchange_uri: Option<String>,
    pub passive_sign_in_uri: Option<String>,
    pub preferred_authentication_protocol: Option<AuthenticationProtocol>,
    /// Shared (`Arc`): every domain of a farm carries the same kilobyte of base64, and the rehearsal
    /// tenant keeps one copy for thousands of domains.
    pub signing_certificate: Option<std::sync::Arc<str>>,
    pub active_sign_in_uri: Option<String>,
    pub federated_idp_mfa_behavior: Option<FederatedIdpMfaBehavior>,
    pub is_signed_authentication_request_required: Option<bool>,
    pub next_signing_certificate: Option<std::sync::Arc<str>>,
    pub password_reset_uri: Option<String>,
    pub prompt_login_behavior: Option<PromptLoginBehavior>,
    pub signing_certificate_update_status: Option<SigningCertificateUpdateStatus>,
    pub sign_out_uri: Option<String>,
}

/// `microsoft.graph.signingCertificateUpdateStatus`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SigningCertificateUpdateStatus {
    pub certificate_update_result: Option<String>,
    pub last_run_date_time: Option<String>,
}

/// `microsoft.graph.onPremisesDirectorySynchronization`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OnPremisesDirectorySynchronization {
    pub id: Option<String>,
    pub configuration: Option<OnPremisesDirectorySynchronizationConfiguration>,
    pub features: Option<OnPremisesDirectorySynchronizationFeature>,
}

/// `microsoft.graph.onPremisesDirectorySynchronizationConfiguration`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OnPremisesDirectorySynchronizationConfiguration {
    pub accidental_deletion_prevention: Option<OnPremisesAccidentalDeletionPrevention>,
}

/// `microsoft.graph.onPremisesAccidentalDeletionPrevention`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OnPremisesAccidentalDeletionPrevention {
    pub alert_threshold: Option<i32>,
    pub synchronization_prevention_type: Option<DeletionPreventionType>,
}

/// `microsoft.graph.onPremisesDirectorySynchronizationFeature`: the tenant's sync switches.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OnPremisesDirectorySynchronizationFeature {
    pub allow_on_prem_update_of_on_premises_object_identifier_enabled: Option<bool>,
    pub block_cloud_object_takeover_through_hard_match_enabled: Option<bool>,
    pub block_soft_match_enabled: Option<bool>,
    pub bypass_dir_sync_overrides_enabled: Option<bool>,
    pub cloud_password_policy_for_password_synced_users_enabled: Option<bool>,
    pub concurrent_credential_update_enabled: Option<bool>,
    pub concurrent_org_id_provisioning_enabled: Option<bool>,
    pub device_writeback_enabled: Option<bool>,
    pub directory_extensions_enabled: Option<bool>,
    pub fope_conflict_resolution_enabled: Option<bool>,
    pub group_write_back_enabled: Option<bool>,
    pub password_sync_enabled: Option<bool>,
    pub password_writeback_enabled: Option<bool>,
    pub quarantine_upon_proxy_addresses_conflict_enabled: Option<bool>,
    pub quarantine_upon_upn_conflict_enabled: Option<bool>,
    pub soft_match_on_upn_enabled: Option<bool>,
    pub synchronize_upn_for_managed_users_enabled: Option<bool>,
    pub unified_group_writeback_enabled: Option<bool>,
    pub user_force_password_change_on_logon_enabled: Option<bool>,
    pub user_writeback_enabled: Option<bool>,
}

/// `microsoft.graph.organization` (the properties this tool reads).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Organization {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub created_date_time: Option<String>,
    pub country_letter_code: Option<String>,
    pub tenant_type: Option<String>,
    pub on_premises_sync_enabled: Option<bool>,
    pub on_premises_last_sync_date_time: Option<String>,
    /// Beta only: `/beta/organization`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_premises_last_password_sync_date_time: Option<String>,
    pub verified_domains: Option<Vec<VerifiedDomain>>,
}

/// `microsoft.graph.verifiedDomain`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VerifiedDomain {
    pub capabilities: Option<String>,
    pub is_default: Option<bool>,
    pub is_initial: Option<bool>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// The strings of a JSON array (Graph's `Collection(Edm.String)`); none for anything else.
pub fn string_list(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `microsoft.graph.featureRolloutPolicy`: staged rollout of a sign-in method.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FeatureRolloutPolicy {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub feature: Option<StagedFeatureName>,
    pub is_enabled: Option<bool>,
    pub is_applied_to_organization: Option<bool>,
    /// The groups it applies to, when read with `$expand=appliesTo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub applies_to: Option<Vec<DirectoryObject>>,
}

/// `microsoft.graph.user` (the properties this tool reads).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    pub id: Option<String>,
    pub user_principal_name: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub job_title: Option<String>,
    pub mobile_phone: Option<String>,
    pub office_location: Option<String>,
    pub preferred_language: Option<String>,
    pub business_phones: Option<Vec<String>>,
    pub account_enabled: Option<bool>,
    pub on_premises_sync_enabled: Option<bool>,
    pub on_premises_immutable_id: Option<String>,
    pub on_premises_last_sync_date_time: Option<String>,
}

/// `microsoft.graph.group` (the properties this tool reads).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Group {
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub mail_enabled: Option<bool>,
    pub security_enabled: Option<bool>,
    pub group_types: Option<Vec<String>>,
    pub membership_rule: Option<String>,
    pub on_premises_sync_enabled: Option<bool>,
}

/// A member of a group as `GET /groups/{id}/members` lists it: its kind is its `@odata.type`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DirectoryObject {
    #[serde(rename = "@odata.type")]
    pub odata_type: Option<String>,
    pub id: Option<String>,
    pub display_name: Option<String>,
    pub user_principal_name: Option<String>,
}

/// The body of every Graph error: `{"error":{"code","message","innerError":{…}}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphErrorBody {
    pub error: GraphErrorDetail,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(rename = "innerError", skip_serializing_if = "Option::is_none")]
    pub inner_error: Option<GraphInnerError>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GraphInnerError {
    pub date: Option<String>,
    #[serde(rename = "request-id")]
    pub request_id: Option<String>,
    #[serde(rename = "client-request-id")]
    pub client_request_id: Option<String>,
}

/// The body of a sign-in error from the token endpoint (AADSTS).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AadstsError {
    pub error: String,
    pub error_description: String,
    pub error_codes: Vec<u32>,
    pub timestamp: String,
    pub trace_id: String,
    pub correlation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_uri: Option<String>,
}

impl AadstsError {
    /// The first AADSTS code, the one that names the cause.
    pub fn code(&self) -> Option<u32> {
        self.error_codes.first().copied()
    }
}

/// Formats a time the way Graph writes `DateTimeOffset` values (`2024-05-01T10:00:00Z`).
pub fn graph_time(t: OffsetDateTime) -> String {
    let t = t
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses a Graph `DateTimeOffset`.
pub fn parse_graph_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_enum_values_round_trip() {
        let f: InternalDomainFederation = serde_json::from_str(
            r#"{"promptLoginBehavior":"somethingNew","preferredAuthenticationProtocol":"wsFed"}"#,
        )
        .unwrap();
        assert_eq!(
            f.prompt_login_behavior,
            Some(PromptLoginBehavior::Unknown("somethingNew".into()))
        );
        assert_eq!(
            f.preferred_authentication_protocol,
            Some(AuthenticationProtocol::WsFed)
        );
        let back = serde_json::to_value(&f).unwrap();
        assert_eq!(back["promptLoginBehavior"], "somethingNew");
    }

    #[test]
    fn graph_time_has_no_fraction() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(graph_time(t), "2023-11-14T22:13:20Z");
        assert_eq!(parse_graph_time("2023-11-14T22:13:20Z"), Some(t));
    }
}
