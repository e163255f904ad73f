//! Cloud Sync's configuration as Graph carries it (v1.0 `synchronizationSchema` and
//! `synchronizationSecret`, from the CSDL): the secret keys Graph knows, the shape a schema must have,
//! and the one attribute mapping that makes a configuration send password hashes — `[PasswordHash]`
//! to `CredentialData` in the user object mapping (Microsoft's "configure cloud sync with MS Graph"
//! procedure). Shared by the client, which adds the mapping, and the rehearsal tenant, which checks
//! bodies and sends hashes only where the mapping is.

use serde_json::{Value, json};

/// `microsoft.graph.synchronizationSecret`'s members.
pub const SECRET_KEYS: &[&str] = &[
    "None",
    "UserName",
    "Password",
    "SecretToken",
    "AppKey",
    "BaseAddress",
    "ClientIdentifier",
    "ClientSecret",
    "SingleSignOnType",
    "Sandbox",
    "Url",
    "Domain",
    "ConsumerKey",
    "ConsumerSecret",
    "TokenKey",
    "TokenExpiration",
    "Oauth2AccessToken",
    "Oauth2AccessTokenCreationTime",
    "Oauth2RefreshToken",
    "SyncAll",
    "InstanceName",
    "Oauth2ClientId",
    "Oauth2ClientSecret",
    "CompanyId",
    "UpdateKeyOnSoftDelete",
    "SynchronizationSchedule",
    "SystemOfRecord",
    "SandboxName",
    "EnforceDomain",
    "SyncNotificationSettings",
    "SkipOutOfScopeDeletions",
    "Oauth2AuthorizationCode",
    "Oauth2RedirectUri",
    "ApplicationTemplateIdentifier",
    "Oauth2TokenExchangeUri",
    "Oauth2AuthorizationUri",
    "AuthenticationType",
    "Server",
    "PerformInboundEntitlementGrants",
    "HardDeletesEnabled",
    "SyncAgentCompatibilityKey",
    "SyncAgentADContainer",
    "ValidateDomain",
    "TestReferences",
    "ConnectionString",
];

/// What the `AppKey` secret names for a configuration that sends password hashes (and its sync).
pub const PASSWORD_HASH_SCENARIO: &str = "AD2AADPasswordHash";

/// The secrets Microsoft's procedure sets for password hash sync on the configuration of the AD
/// domain `domain`: `AppKey` and `Domain`, sent together (a PUT replaces the whole set).
pub fn password_hash_secrets(domain: &str) -> Value {
    json!({"value": [
        {"key": "AppKey", "value": json!({"appKeyScenario": PASSWORD_HASH_SCENARIO}).to_string()},
        {"key": "Domain", "value": json!({"domain": domain}).to_string()},
    ]})
}

/// The attribute mapping that sends password hashes (Microsoft's documented body).
pub fn credential_data_mapping() -> Value {
    json!({
        "defaultValue": null,
        "exportMissingReferences": false,
        "flowBehavior": "FlowWhenChanged",
        "flowType": "Always",
        "matchingPriority": 0,
        "targetAttributeName": "CredentialData",
        "source": {"expression": "[PasswordHash]", "name": "PasswordHash", "type": "Attribute", "parameters": []},
    })
}

/// Whether an object mapping makes Entra ID users (from AD users, or inetOrgPersons).
fn makes_users(m: &Value) -> bool {
    m["targetObjectName"]
        .as_str()
        .is_some_and(|n| n.eq_ignore_ascii_case("user"))
}

fn user_mappings(schema: &Value) -> impl Iterator<Item = &Value> {
    schema["synchronizationRules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["objectMappings"].as_array().into_iter().flatten())
        .filter(|m| makes_users(m))
}

fn sends_hash(m: &Value) -> bool {
    m["attributeMappings"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| {
            a["targetAttributeName"] == "CredentialData"
                && (a["source"]["name"] == "PasswordHash"
                    || a["source"]["expression"] == "[PasswordHash]")
        })
}

/// Whether every object mapping that makes users (AD users and inetOrgPersons, as Microsoft's
/// procedure says) sends password hashes to `CredentialData`.
pub fn maps_password_hash(schema: &Value) -> bool {
    let mut any = false;
    for m in user_mappings(schema) {
        if !sends_hash(m) {
            return false;
        }
        any = true;
    }
    any
}

/// The schema with the password hash mapping added to each object mapping that makes users and
/// lacks it, as
/// the body of the PUT that replaces it (read-only annotations dropped); `None` when it has no
/// such mapping to add it to.
pub fn with_password_hash(schema: &Value) -> Option<Value> {
    user_mappings(schema).next()?;
    let mut out = schema.clone();
    if let Value::Object(m) = &mut out {
        m.retain(|k, _| !k.starts_with('@'));
    }
    for rule in out["synchronizationRules"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        for m in rule["objectMappings"].as_array_mut().into_iter().flatten() {
            if makes_users(m) && !sends_hash(m) {
                match m["attributeMappings"].as_array_mut() {
                    Some(list) => list.push(credential_data_mapping()),
                    None => m["attributeMappings"] = json!([credential_data_mapping()]),
                }
            }
        }
    }
    Some(out)
}

fn only(v: &Value, entity: &str, known: &[&str]) -> Result<(), String> {
    let Some(m) = v.as_object() else {
        return Err(format!("A '{entity}' must be a JSON object."));
    };
    match m
        .keys()
        .find(|k| !k.starts_with('@') && !known.contains(&k.as_str()))
    {
        Some(k) => Err(format!(
            "The property '{}' does not exist on type 'microsoft.graph.{entity}'.",
            k.chars().take(100).collect::<String>()
        )),
        None => Ok(()),
    }
}

fn member(v: &Value, field: &str, enum_name: &str, members: &[&str]) -> Result<(), String> {
    match &v[field] {
        Value::Null => Ok(()),
        Value::String(s) if members.contains(&s.as_str()) => Ok(()),
        other => Err(format!(
            "Requested value '{}' was not found in enum 'microsoft.graph.{enum_name}'.",
            other.to_string().chars().take(100).collect::<String>()
        )),
    }
}

fn list<'a>(v: &'a Value, field: &str) -> Result<&'a [Value], String> {
    match &v[field] {
        Value::Null => Ok(&[]),
        Value::Array(a) => Ok(a),
        _ => Err(format!("The property '{field}' must be a collection.")),
    }
}

/// Checks a `synchronizationSchema` body as Graph reads it: known properties only, collections
/// where the CSDL has them, and the attribute mappings' enums.
pub fn check(schema: &Value) -> Result<(), String> {
    only(
        schema,
        "synchronizationSchema",
        &["id", "version", "synchronizationRules", "directories"],
    )?;
    list(schema, "directories")?;
    for rule in list(schema, "synchronizationRules")? {
        only(
            rule,
            "synchronizationRule",
            &[
                "containerFilter",
                "editable",
                "groupFilter",
                "id",
                "metadata",
                "name",
                "objectMappings",
                "priority",
                "sourceDirectoryName",
                "targetDirectoryName",
            ],
        )?;
        for m in list(rule, "objectMappings")? {
            only(
                m,
                "objectMapping",
                &[
                    "attributeMappings",
                    "enabled",
                    "flowTypes",
                    "metadata",
                    "name",
                    "scope",
                    "sourceObjectName",
                    "targetObjectName",
                ],
            )?;
            for a in list(m, "attributeMappings")? {
                only(
                    a,
                    "attributeMapping",
                    &[
                        "defaultValue",
                        "exportMissingReferences",
                        "flowBehavior",
                        "flowType",
                        "matchingPriority",
                        "source",
                        "targetAttributeName",
                    ],
                )?;
                member(
                    a,
                    "flowBehavior",
                    "attributeFlowBehavior",
                    &["FlowWhenChanged", "FlowAlways"],
                )?;
                member(
                    a,
                    "flowType",
                    "attributeFlowType",
                    &[
                        "Always",
                        "ObjectAddOnly",
                        "MultiValueAddOnly",
                        "ValueAddOnly",
                        "AttributeAddOnly",
                    ],
                )?;
                if !a["source"].is_null() {
                    only(
                        &a["source"],
                        "attributeMappingSource",
                        &["expression", "name", "parameters", "type"],
                    )?;
                    member(
                        &a["source"],
                        "type",
                        "attributeMappingSourceType",
                        &["Attribute", "Constant", "Function"],
                    )?;
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_mapping_is_what_is_added_and_checked() {
        let documented = include_str!(
            "../../tests/fixtures/graph-doc-examples/cloudSync.schema.credentialData-attributeMapping.beta.txt"
        );
        // The documented sample lacks its closing brace (a known flaw of the page).
        let documented: Value = serde_json::from_str(&format!("{}}}", documented.trim()))
            .or_else(|_| serde_json::from_str(documented))
            .unwrap();
        assert_eq!(credential_data_mapping(), documented);
        let schema = json!({"id": "AD2AADProvisioning", "synchronizationRules": [{"objectMappings": [
            {"sourceObjectName": "group", "targetObjectName": "Group", "attributeMappings": []},
            {"sourceObjectName": "user", "targetObjectName": "User", "attributeMappings": [
                {"targetAttributeName": "DisplayName", "flowBehavior": "FlowWhenChanged", "flowType": "Always",
                 "source": {"name": "displayName", "type": "Attribute"}}
            ]},
        ]}], "@odata.context": "x"});
        assert!(!maps_password_hash(&schema));
        let added = with_password_hash(&schema).unwrap();
        assert!(maps_password_hash(&added) && added.get("@odata.context").is_none());
        assert_eq!(
            added["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"],
            json!([])
        );
        assert_eq!(with_password_hash(&added).unwrap(), added, "added once");
        assert_eq!(check(&added), Ok(()));
        assert!(with_password_hash(&json!({"synchronizationRules": []})).is_none());
        let mut bad = added.clone();
        bad["synchronizationRules"][0]["objectMappings"][1]["attributeMappings"][0]["flowType"] =
            json!("Sometimes");
        assert!(check(&bad).unwrap_err().contains("attributeFlowType"));
        assert!(check(&json!({"rules": []})).is_err());
    }
}
