//! What Graph accepts in a request body, property by property, so that the rehearsal tenant refuses
//! exactly what Graph refuses: unknown properties, wrong JSON types, enum values the schema lacks and
//! read-only properties, each with a 400 `Request_BadRequest`.

use serde_json::{Map, Value};

use crate::graph::models::{
    AuthenticationProtocol, DeletionPreventionType, FederatedIdpMfaBehavior, PromptLoginBehavior,
    StagedFeatureName,
};

#[derive(Clone, Copy)]
pub enum Kind {
    Str,
    Bool,
    Int,
    Enum(&'static [&'static str]),
    /// A string enum with no declared members (`domain.authenticationType`).
    OneOf(&'static [&'static str]),
    Object(&'static Entity),
    ReadOnly,
}

pub struct Entity {
    pub name: &'static str,
    pub props: &'static [(&'static str, Kind)],
}

pub static INTERNAL_DOMAIN_FEDERATION: Entity = Entity {
    name: "microsoft.graph.internalDomainFederation",
    props: &[
        ("id", Kind::ReadOnly),
        ("displayName", Kind::Str),
        ("issuerUri", Kind::Str),
        ("metadataExchangeUri", Kind::Str),
        ("passiveSignInUri", Kind::Str),
        (
            "preferredAuthenticationProtocol",
            Kind::Enum(AuthenticationProtocol::KNOWN),
        ),
        ("signingCertificate", Kind::Str),
        ("activeSignInUri", Kind::Str),
        (
            "federatedIdpMfaBehavior",
            Kind::Enum(FederatedIdpMfaBehavior::KNOWN),
        ),
        ("isSignedAuthenticationRequestRequired", Kind::Bool),
        ("nextSigningCertificate", Kind::Str),
        ("passwordResetUri", Kind::Str),
        (
            "promptLoginBehavior",
            Kind::Enum(PromptLoginBehavior::KNOWN),
        ),
        ("signingCertificateUpdateStatus", Kind::ReadOnly),
        ("signOutUri", Kind::Str),
    ],
};

pub static DOMAIN: Entity = Entity {
    name: "microsoft.graph.domain",
    props: &[
        ("id", Kind::ReadOnly),
        ("authenticationType", Kind::OneOf(&["Managed", "Federated"])),
        ("availabilityStatus", Kind::ReadOnly),
        ("isAdminManaged", Kind::ReadOnly),
        ("isDefault", Kind::Bool),
        ("isInitial", Kind::ReadOnly),
        ("isRoot", Kind::ReadOnly),
        ("isVerified", Kind::ReadOnly),
        ("manufacturer", Kind::ReadOnly),
        ("model", Kind::ReadOnly),
        ("passwordNotificationWindowInDays", Kind::Int),
        ("passwordValidityPeriodInDays", Kind::Int),
        ("state", Kind::ReadOnly),
        ("supportedServices", Kind::ReadOnly),
    ],
};

static SYNC_FEATURES: Entity = Entity {
    name: "microsoft.graph.onPremisesDirectorySynchronizationFeature",
    props: &[
        (
            "allowOnPremUpdateOfOnPremisesObjectIdentifierEnabled",
            Kind::Bool,
        ),
        (
            "blockCloudObjectTakeoverThroughHardMatchEnabled",
            Kind::Bool,
        ),
        ("blockSoftMatchEnabled", Kind::Bool),
        ("bypassDirSyncOverridesEnabled", Kind::Bool),
        (
            "cloudPasswordPolicyForPasswordSyncedUsersEnabled",
            Kind::Bool,
        ),
        ("concurrentCredentialUpdateEnabled", Kind::Bool),
        ("concurrentOrgIdProvisioningEnabled", Kind::Bool),
        ("deviceWritebackEnabled", Kind::Bool),
        ("directoryExtensionsEnabled", Kind::Bool),
        ("fopeConflictResolutionEnabled", Kind::Bool),
        ("groupWriteBackEnabled", Kind::Bool),
        ("passwordSyncEnabled", Kind::Bool),
        ("passwordWritebackEnabled", Kind::Bool),
        ("quarantineUponProxyAddressesConflictEnabled", Kind::Bool),
        ("quarantineUponUpnConflictEnabled", Kind::Bool),
        ("softMatchOnUpnEnabled", Kind::Bool),
        ("synchronizeUpnForManagedUsersEnabled", Kind::Bool),
        ("unifiedGroupWritebackEnabled", Kind::Bool),
        ("userForcePasswordChangeOnLogonEnabled", Kind::Bool),
        ("userWritebackEnabled", Kind::Bool),
    ],
};

static DELETION_PREVENTION: Entity = Entity {
    name: "microsoft.graph.onPremisesAccidentalDeletionPrevention",
    props: &[
        ("alertThreshold", Kind::Int),
        (
            "synchronizationPreventionType",
            Kind::Enum(DeletionPreventionType::KNOWN),
        ),
    ],
};

static SYNC_CONFIGURATION: Entity = Entity {
    name: "microsoft.graph.onPremisesDirectorySynchronizationConfiguration",
    props: &[(
        "accidentalDeletionPrevention",
        Kind::Object(&DELETION_PREVENTION),
    )],
};

pub static ON_PREMISES_SYNCHRONIZATION: Entity = Entity {
    name: "microsoft.graph.onPremisesDirectorySynchronization",
    props: &[
        ("id", Kind::ReadOnly),
        ("configuration", Kind::Object(&SYNC_CONFIGURATION)),
        ("features", Kind::Object(&SYNC_FEATURES)),
    ],
};

pub static FEATURE_ROLLOUT_POLICY: Entity = Entity {
    name: "microsoft.graph.featureRolloutPolicy",
    props: &[
        ("id", Kind::ReadOnly),
        ("displayName", Kind::Str),
        ("description", Kind::Str),
        ("feature", Kind::Enum(StagedFeatureName::KNOWN)),
        ("isEnabled", Kind::Bool),
        ("isAppliedToOrganization", Kind::Bool),
        ("appliesTo", Kind::ReadOnly),
    ],
};

/// Why a body was refused; the message is Graph's wording.
#[derive(Debug, PartialEq)]
pub struct Invalid(pub String);

/// Checks a request body against an entity; returns the object when every property is acceptable.
pub fn check<'a>(entity: &Entity, body: &'a Value) -> Result<&'a Map<String, Value>, Invalid> {
    let Some(obj) = body.as_object() else {
        return Err(Invalid(format!(
            "The request body must be a JSON object of type '{}'.",
            entity.name
        )));
    };
    check_object(entity, obj)?;
    Ok(obj)
}

fn check_object(entity: &Entity, obj: &Map<String, Value>) -> Result<(), Invalid> {
    for (key, value) in obj {
        if key == "@odata.type" {
            let want = format!("#{}", entity.name);
            if value.as_str().is_some_and(|t| {
                t.eq_ignore_ascii_case(&want) || t.eq_ignore_ascii_case(&want[1..])
            }) {
                continue;
            }
            return Err(Invalid(format!(
                "A type named '{}' could not be resolved by the model.",
                display(value)
            )));
        }
        let Some((_, kind)) = entity.props.iter().find(|(name, _)| name == key) else {
            return Err(Invalid(format!(
                "The property '{key}' does not exist on type '{}'. Make sure to only use property names that are defined by the type.",
                entity.name
            )));
        };
        check_value(entity, key, *kind, value)?;
    }
    Ok(())
}

fn check_value(entity: &Entity, key: &str, kind: Kind, value: &Value) -> Result<(), Invalid> {
    let wrong = |edm: &str| {
        Err(Invalid(format!(
            "Cannot convert the literal '{}' to the expected type '{edm}'.",
            display(value)
        )))
    };
    match kind {
        Kind::ReadOnly => Err(Invalid(format!(
            "Property '{key}' is read-only and cannot be set on type '{}'.",
            entity.name
        ))),
        _ if value.is_null() => Ok(()),
        Kind::Str => {
            if value.is_string() {
                Ok(())
            } else {
                wrong("Edm.String")
            }
        }
        Kind::Bool => {
            if value.is_boolean() {
                Ok(())
            } else {
                wrong("Edm.Boolean")
            }
        }
        Kind::Int => match value.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => Ok(()),
            _ => wrong("Edm.Int32"),
        },
        Kind::Enum(members) | Kind::OneOf(members) => match value.as_str() {
            Some(s) if members.contains(&s) => Ok(()),
            Some(s) => Err(Invalid(format!("Requested value '{s}' was not found."))),
            None => wrong("Edm.String"),
        },
        Kind::Object(inner) => match value.as_object() {
            Some(o) => check_object(inner, o),
            None => wrong(inner.name),
        },
    }
}

fn display(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    s.chars().take(200).collect()
}

/// Validates `$select`: every name must be a property of the entity.
pub fn check_select<'a>(
    entity_name: &str,
    known: &[&str],
    select: &'a str,
) -> Result<Vec<&'a str>, Invalid> {
    let mut out = vec![];
    for name in select.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            return Err(Invalid(format!(
                "Could not find a property named '{name}' on type '{entity_name}'."
            )));
        }
        out.push(name);
    }
    Ok(out)
}

/// Keeps only the selected properties (and annotations) of a JSON object.
pub fn apply_select(value: Value, select: &[&str], known: &[&str]) -> Value {
    let Value::Object(map) = value else {
        return value;
    };
    let mut out = Map::new();
    for name in select {
        let canonical = known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(name))
            .copied()
            .unwrap_or(name);
        out.insert(
            canonical.to_string(),
            map.get(canonical).cloned().unwrap_or(Value::Null),
        );
    }
    if !out.contains_key("id")
        && let Some(id) = map.get("id")
    {
        // Graph always returns the key.
        out.insert("id".into(), id.clone());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refuses_what_graph_refuses() {
        let e = &INTERNAL_DOMAIN_FEDERATION;
        assert!(
            check(
                e,
                &json!({"displayName": "x", "promptLoginBehavior": "nativeSupport"})
            )
            .is_ok()
        );
        for (body, want) in [
            (json!({"colour": 1}), "does not exist"),
            (json!({"displayName": 5}), "Edm.String"),
            (
                json!({"promptLoginBehavior": "sometimes"}),
                "Requested value 'sometimes'",
            ),
            (json!({"id": "x"}), "read-only"),
            (json!([1]), "JSON object"),
            (
                json!({"@odata.type": "#microsoft.graph.user"}),
                "could not be resolved",
            ),
        ] {
            let err = check(e, &body).unwrap_err();
            assert!(err.0.contains(want), "{body}: {}", err.0);
        }
        let sync = &ON_PREMISES_SYNCHRONIZATION;
        assert!(check(sync, &json!({"features": {"passwordSyncEnabled": true}})).is_ok());
        assert!(check(sync, &json!({"features": {"passwordSyncEnabled": "yes"}})).is_err());
        assert!(check(sync, &json!({"features": {"nope": true}})).is_err());
    }
}
