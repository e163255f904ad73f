//! The rehearsal tenant speaks Graph's wire format: every body uses only properties and enum values
//! the schema has, and the documented requests get the documented answers.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Rig, assert_graph_error};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

#[derive(Default)]
struct Schema {
    /// type name → (base type, property → type)
    types: BTreeMap<String, (Option<String>, BTreeMap<String, String>)>,
    enums: BTreeMap<String, BTreeSet<String>>,
}

impl Schema {
    fn load(files: &[&str]) -> Schema {
        let mut s = Schema::default();
        for f in files {
            // The slices are fragments cut from the CSDL: give them one root to parse.
            let text = std::fs::read_to_string(format!("{FIXTURES}/{f}")).unwrap();
            let body = match text.find("?>") {
                Some(i) if text.trim_start().starts_with("<?xml") => &text[i + 2..],
                _ => &text[..],
            };
            let wrapped = format!("<fragments>{body}</fragments>");
            let doc = roxmltree::Document::parse(&wrapped).unwrap();
            for n in doc.descendants().filter(|n| n.is_element()) {
                match n.tag_name().name() {
                    "EntityType" | "ComplexType" => {
                        let name = n.attribute("Name").unwrap().to_string();
                        let base = n
                            .attribute("BaseType")
                            .map(|b| b.trim_start_matches("graph.").to_string());
                        let entry = s
                            .types
                            .entry(name)
                            .or_insert((base.clone(), BTreeMap::new()));
                        if entry.0.is_none() {
                            entry.0 = base;
                        }
                        // Properties, and the navigations that contain their targets (Graph
                        // returns those inline: a synchronization schema's directories).
                        for p in n.children().filter(|c| {
                            c.tag_name().name() == "Property"
                                || (c.tag_name().name() == "NavigationProperty"
                                    && c.attribute("ContainsTarget") == Some("true"))
                        }) {
                            entry.1.insert(
                                p.attribute("Name").unwrap().to_string(),
                                p.attribute("Type").unwrap().to_string(),
                            );
                        }
                    }
                    "EnumType" => {
                        let members = n
                            .children()
                            .filter(|c| c.tag_name().name() == "Member")
                            .map(|c| c.attribute("Name").unwrap().to_string())
                            .collect();
                        s.enums
                            .insert(n.attribute("Name").unwrap().to_string(), members);
                    }
                    _ => {}
                }
            }
        }
        s
    }

    fn property(&self, ty: &str, name: &str) -> Option<String> {
        let mut t = Some(ty.to_string());
        while let Some(cur) = t {
            let (base, props) = self.types.get(&cur)?;
            if let Some(p) = props.get(name) {
                return Some(p.clone());
            }
            t = base.clone();
        }
        None
    }

    /// Checks a JSON object against a type; returns what does not fit.
    fn check(&self, ty: &str, v: &Value, path: &str, problems: &mut Vec<String>) {
        let Some(obj) = v.as_object() else { return };
        for (k, val) in obj {
            if k.starts_with('@') {
                continue;
            }
            let Some(pty) = self.property(ty, k) else {
                problems.push(format!("{path}.{k}: not a property of {ty}"));
                continue;
            };
            let (inner, many) = match pty
                .strip_prefix("Collection(")
                .and_then(|r| r.strip_suffix(')'))
            {
                Some(i) => (i.to_string(), true),
                None => (pty.clone(), false),
            };
            let items: Vec<&Value> = if many {
                val.as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default()
            } else {
                vec![val]
            };
            let short = inner.trim_start_matches("graph.");
            for item in items {
                if item.is_null() {
                    continue;
                }
                if let Some(members) = self.enums.get(short) {
                    match item.as_str() {
                        Some(s) if members.contains(s) => {}
                        _ => {
                            problems.push(format!("{path}.{k}: {item} is not a member of {short}"))
                        }
                    }
                } else if self.types.contains_key(short) {
                    self.check(short, item, &format!("{path}.{k}"), problems);
                } else {
                    let ok = match inner.as_str() {
                        "Edm.String" | "Edm.DateTimeOffset" | "Edm.Guid" | "Edm.Binary" => {
                            item.is_string()
                        }
                        "Edm.Boolean" => item.is_boolean(),
                        "Edm.Int32" | "Edm.Int64" | "Edm.Double" => item.is_number(),
                        _ => true,
                    };
                    if !ok {
                        problems.push(format!("{path}.{k}: {item} is not {inner}"));
                    }
                }
            }
        }
    }
}

fn v1() -> Schema {
    Schema::load(&[
        "graph-v1.0-prod-csdl-slices.xml",
        "graph-v1.0-prod-csdl-users-groups.xml",
        "graph-v1.0-prod-csdl-conditional-access-signins.xml",
    ])
}

/// Conditional Access policies and sign-ins, against the schema and the documented example.
#[tokio::test]
async fn conditional_access_and_sign_ins_answer_as_graph_does() {
    let rig = Rig::with(
        |_| {},
        Some(
            "[[conditional_access]]\ndisplay_name = \"Require MFA\"\ngrant = [\"mfa\"]\n\n[[conditional_access]]\ndisplay_name = \"Block legacy\"\ngrant = [\"block\"]\nclient_app_types = [\"exchangeActiveSync\", \"other\"]\nstate = \"enabledForReportingButNotEnforced\"\n",
        ),
    )
    .await;
    let admin = rig.admin_token().await;
    let schema = v1();
    let mut problems = vec![];
    let a = rig
        .get(&admin, "/v1.0/identity/conditionalAccess/policies")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let policies = a.body["value"].as_array().unwrap().clone();
    assert_eq!(policies.len(), 2);
    for p in &policies {
        schema.check("conditionalAccessPolicy", p, "policies", &mut problems);
    }
    // Every property the documented example shows is there too.
    let doc = fixture("conditionalAccessPolicy.list.v1.0.response-200.json");
    for k in keys(&doc["value"][0]) {
        assert!(policies[0].get(&k).is_some(), "policy lacks {k}");
    }
    let id = policies[0]["id"].as_str().unwrap();
    let one = rig
        .get(
            &admin,
            &format!("/v1.0/identity/conditionalAccess/policies/{id}"),
        )
        .await;
    assert_eq!(one.body["displayName"], "Require MFA");
    // An application without Policy.Read.All is refused, as Graph does.
    let app = rig.app_token().await;
    let a = rig
        .get(&app, "/v1.0/identity/conditionalAccess/policies")
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(a.body["error"]["code"], "Authorization_RequestDenied");

    // Sign-ins: the admin's own sign-in is in the log, newest first, with the documented shape.
    let a = rig.get(&admin, "/v1.0/auditLogs/signIns").await;
    assert_eq!(a.status, 200, "{}", a.text);
    let items = a.body["value"].as_array().unwrap().clone();
    assert!(!items.is_empty());
    for v in &items {
        schema.check("signIn", v, "signIns", &mut problems);
    }
    let times: Vec<&str> = items
        .iter()
        .map(|v| v["createdDateTime"].as_str().unwrap())
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
    // The documented filters work; an undocumented one is refused.
    let upn = items[0]["userPrincipalName"].as_str().unwrap().to_string();
    let f = rig
        .get(
            &admin,
            &format!("/v1.0/auditLogs/signIns?$filter=userPrincipalName%20eq%20'{upn}'%20and%20status/errorCode%20eq%200%20and%20createdDateTime%20ge%202020-01-01T00:00:00Z"),
        )
        .await;
    assert_eq!(f.status, 200, "{}", f.text);
    assert!(!f.body["value"].as_array().unwrap().is_empty());
    let bad = rig
        .get(
            &admin,
            "/v1.0/auditLogs/signIns?$filter=endsWith(userPrincipalName,'@contoso.com')",
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text);
    let top = rig.get(&admin, "/v1.0/auditLogs/signIns?$top=1001").await;
    assert_eq!(top.status, 400);
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn every_body_uses_only_schema_properties_and_values() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let schema = v1();
    // Something in every collection, and some non-default values.
    rig.enable_phs().await;
    rig.connect_script().await;
    rig.sync().await;
    rig.call(
        Method::POST,
        Some(&admin),
        "/v1.0/policies/featureRolloutPolicies",
        Some(json!({"displayName": "p", "feature": "passwordHashSync", "isEnabled": true})),
    )
    .await;
    let sync_id = rig.emu.tenant().sync.id.clone();
    let fed = rig
        .get(&admin, "/v1.0/domains/contoso.com/federationConfiguration")
        .await;
    let fed_id = fed.body["value"][0]["id"].as_str().unwrap().to_string();
    let cases: Vec<(String, &str, bool)> = vec![
        ("/v1.0/domains".into(), "domain", true),
        ("/v1.0/domains/eu.contoso.com".into(), "domain", false),
        ("/v1.0/domains/contoso.com/federationConfiguration".into(), "internalDomainFederation", true),
        (format!("/v1.0/domains/contoso.com/federationConfiguration/{fed_id}"), "internalDomainFederation", false),
        ("/v1.0/organization".into(), "organization", true),
        ("/v1.0/directory/onPremisesSynchronization".into(), "onPremisesDirectorySynchronization", true),
        (format!("/v1.0/directory/onPremisesSynchronization/{sync_id}"), "onPremisesDirectorySynchronization", false),
        ("/v1.0/policies/featureRolloutPolicies".into(), "featureRolloutPolicy", true),
        ("/v1.0/users?$top=999".into(), "user", true),
        ("/v1.0/users?$select=id,userPrincipalName,onPremisesSyncEnabled,onPremisesImmutableId,onPremisesLastSyncDateTime,accountEnabled,userType,department".into(), "user", true),
        ("/v1.0/me".into(), "user", false),
        ("/v1.0/groups".into(), "group", true),
    ];
    let mut problems = vec![];
    for (path, ty, list) in &cases {
        let a = rig.get(&admin, path).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        let items: Vec<Value> = if *list {
            a.body["value"].as_array().unwrap().clone()
        } else {
            vec![a.body.clone()]
        };
        assert!(!items.is_empty(), "{path} returned nothing to check");
        for item in &items {
            schema.check(ty, item, path, &mut problems);
        }
    }
    // The beta organization, against the Prod beta type mappings (the beta CSDL slice is of a
    // sovereign cloud and lacks onPremisesLastPasswordSyncDateTime).
    let mappings: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{FIXTURES}/graph-type-mappings-v1.0-and-beta-slice.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let beta_props: BTreeSet<&str> = mappings["beta"]["entity-types"]["organization"]["properties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .chain(["id", "deletedDateTime"])
        .collect();
    let a = rig.get(&admin, "/beta/organization").await;
    assert!(a.body["value"][0]["onPremisesLastPasswordSyncDateTime"].is_string());
    for k in a.body["value"][0]
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| !k.starts_with('@'))
    {
        if !beta_props.contains(k.as_str()) {
            problems.push(format!(
                "/beta/organization.{k}: not a beta organization property"
            ));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_conformance_checker_catches_what_does_not_fit() {
    let schema = v1();
    let mut problems = vec![];
    schema.check(
        "internalDomainFederation",
        &json!({"promptLoginBehavior": "sometimes", "colour": 1, "isSignedAuthenticationRequestRequired": "yes"}),
        "x",
        &mut problems,
    );
    assert_eq!(problems.len(), 3, "{problems:?}");
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/graph-doc-examples/{name}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "@odata.context")
        .cloned()
        .collect()
}

#[tokio::test]
async fn documented_requests_get_the_documented_answers() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;

    // Create federation settings (on a managed domain), as documented.
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/domains/northwind.com/federationConfiguration",
            Some(fixture("internalDomainFederation.create.v1.0.request.json")),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let documented = fixture("internalDomainFederation.create.v1.0.response-201.json");
    // The documented body leaves out properties that are null; ours lists them, as Graph does.
    assert!(
        keys(&documented).is_subset(&keys(&a.body)),
        "{:?}",
        keys(&a.body)
    );
    for k in [
        "issuerUri",
        "signingCertificate",
        "passiveSignInUri",
        "preferredAuthenticationProtocol",
        "federatedIdpMfaBehavior",
        "promptLoginBehavior",
    ] {
        assert_eq!(a.body[k], documented[k], "{k}");
    }
    // List, as documented.
    let a = rig
        .get(
            &admin,
            "/v1.0/domains/northwind.com/federationConfiguration",
        )
        .await;
    let documented = fixture("internalDomainFederation.list.v1.0.response-200.json");
    assert_eq!(a.status, 200);
    assert_eq!(keys(&a.body), keys(&documented));
    assert!(keys(&documented["value"][0]).is_subset(&keys(&a.body["value"][0])));
    // Update, as documented.
    let id = a.body["value"][0]["id"].as_str().unwrap().to_string();
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            &format!("/v1.0/domains/northwind.com/federationConfiguration/{id}"),
            Some(fixture("internalDomainFederation.update.v1.0.request.json")),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = rig
        .get(
            &admin,
            &format!("/v1.0/domains/northwind.com/federationConfiguration/{id}"),
        )
        .await;
    assert_eq!(a.body["displayName"], "Contoso name change");
    assert_eq!(
        a.body["federatedIdpMfaBehavior"],
        "acceptIfMfaDoneByFederatedIdp"
    );

    // Directory synchronization, as documented.
    let sync_id = rig.emu.tenant().sync.id.clone();
    let path = format!("/v1.0/directory/onPremisesSynchronization/{sync_id}");
    let a = rig.get(&admin, &path).await;
    let documented = fixture("onPremisesDirectorySynchronization.get.response-200.json");
    assert_eq!(keys(&a.body), keys(&documented));
    let ours = keys(&a.body["features"]);
    assert!(
        keys(&documented["features"]).is_subset(&ours),
        "{:?}",
        keys(&documented["features"])
            .difference(&ours)
            .collect::<Vec<_>>()
    );
    assert_eq!(a.body["configuration"], documented["configuration"]);
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            &path,
            Some(fixture(
                "onPremisesDirectorySynchronization.update.request.json",
            )),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(
        rig.get(&admin, &path).await.body["features"]["groupWriteBackEnabled"],
        true
    );

    // Staged rollout, as documented.
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/policies/featureRolloutPolicies",
            Some(fixture("featureRolloutPolicy.create.request.json")),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let documented = fixture("featureRolloutPolicy.create.response-201.json");
    assert_eq!(keys(&a.body), keys(&documented));
    for k in [
        "displayName",
        "description",
        "feature",
        "isEnabled",
        "isAppliedToOrganization",
    ] {
        assert_eq!(a.body[k], documented[k], "{k}");
    }
    let pid = a.body["id"].as_str().unwrap().to_string();
    let gid = rig.emu.tenant().groups[0].id.clone();
    let mut reference = fixture("featureRolloutPolicy.appliesTo-ref.request.json");
    let documented_ref = reference["@odata.id"].as_str().unwrap().to_string();
    let (prefix, _) = documented_ref.rsplit_once('/').unwrap();
    reference["@odata.id"] = json!(format!("{prefix}/{gid}"));
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            &format!("/v1.0/policies/featureRolloutPolicies/{pid}/appliesTo/$ref"),
            Some(reference),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let documented = fixture("featureRolloutPolicy.appliesTo-ref.response-201.json");
    assert_eq!(keys(&a.body), keys(&documented));
    assert_eq!(
        keys(&a.body["directoryObject"]),
        keys(&documented["directoryObject"])
    );

    // Throttling, as documented: fractional Retry-After and the same error shape.
    rig.control(
        Method::POST,
        "/faults",
        Some(json!({"status": 429, "retry_after": "2.128", "count": 1})),
    )
    .await;
    let a = rig.get(&admin, "/v1.0/domains").await;
    assert_eq!(a.status, 429);
    assert_eq!(a.headers["retry-after"], "2.128");
    let doc = std::fs::read_to_string(format!("{FIXTURES}/graph-doc-examples/throttling.429.http"))
        .unwrap();
    let documented: Value = serde_json::from_str(&doc[doc.find('{').unwrap()..]).unwrap();
    assert_eq!(keys(&a.body["error"]), keys(&documented["error"]));
    assert!(
        keys(&documented["error"]["innerError"]).is_subset(&keys(&a.body["error"]["innerError"]))
    );
    assert_eq!(a.body["error"]["code"], documented["error"]["code"]);

    // Sign-in: the documented success and error bodies.
    let a = rig.password(&rig.info.admin_upn, "wrong").await;
    let documented = fixture("ropc.aadsts50126.response-400.json");
    assert_eq!(a.status, 400);
    assert_eq!(keys(&a.body), keys(&documented));
    assert_eq!(a.body["error"], documented["error"]);
    assert_eq!(a.body["error_codes"], documented["error_codes"]);
    let generic = fixture("aadsts.error-response.sample.json");
    assert_eq!(keys(&a.body), keys(&generic));
    let a = rig
        .form(
            &rig.token_path(),
            &[
                ("grant_type", "password"),
                ("client_id", &rig.info.client_id),
                ("username", &rig.info.admin_upn),
                ("password", &rig.info.admin_password),
                ("scope", "User.Read profile openid email offline_access"),
            ],
        )
        .await;
    let documented = fixture("ropc.success.response-200.json");
    assert_eq!(a.status, 200, "{}", a.text);
    assert!(
        keys(&documented).is_subset(&keys(&a.body)),
        "{:?}",
        keys(&a.body)
    );
    assert_eq!(a.body["token_type"], "Bearer");
}

#[tokio::test]
async fn user_realm_answers_have_the_real_fields() {
    let rig = Rig::start().await;
    let dir = format!("{FIXTURES}/userrealm");
    let real = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{f}")).unwrap()).unwrap()
    };
    let get = |upn: String, v: &'static str| {
        rig.raw(
            rig.http
                .get(rig.url(&format!("/common/userrealm/{upn}?api-version={v}"))),
        )
    };
    let a = get(rig.user_of("contoso.com"), "1.0").await;
    let b = real("v1.0-federated.msal-dotnet-OboRequestTests.json");
    assert!(
        keys(&b).is_subset(&keys(&a.body)),
        "{:?} vs {:?}",
        keys(&b),
        keys(&a.body)
    );
    let a = get(rig.user_of("northwind.com"), "1.0").await;
    assert_eq!(
        keys(&a.body),
        keys(&real("v1.0-managed.msal-dotnet-OboRequestTests.json"))
    );
    let a = get(rig.user_of("contoso.com"), "2.1").await;
    let b = real("v2.1-federated.jkakavas-office365-rst-2016.json");
    for k in [
        "NameSpaceType",
        "federation_protocol",
        "Login",
        "AuthURL",
        "DomainName",
        "FederationBrandName",
    ] {
        assert!(a.body.get(k).is_some(), "{k} missing");
        assert_eq!(a.body[k].is_string(), b[k].is_string(), "{k}");
    }
}

/// Cloud Sync's configurations: service principals of its application, as the tenant lists them.
async fn cloud_sync_configurations(rig: &Rig, token: &str) -> Vec<Value> {
    let sps = rig
        .get(
            token,
            "/v1.0/servicePrincipals?$filter=appId eq '1a4721b3-e57f-4451-ae87-ef078703ec94'",
        )
        .await;
    assert_eq!(sps.status, 200, "{}", sps.text);
    sps.body["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn cloud_sync_secrets_and_schemas_answer_as_graph_does() {
    let rig = Rig::with(|_| {}, Some("[sync]\nengine = \"cloud\"\n")).await;
    let admin = rig.admin_token().await;
    let schema = Schema::load(&[
        "graph-v1.0-prod-csdl-slices.xml",
        "graph-v1.0-prod-csdl-synchronization.xml",
        "graph-v1.0-prod-csdl-readiness-and-sync-schema.xml",
    ]);
    let mut problems = vec![];
    let sps = cloud_sync_configurations(&rig, &admin).await;
    let sp = sps[0]["id"].as_str().unwrap().to_string();
    let jobs = rig
        .get(
            &admin,
            &format!("/v1.0/servicePrincipals/{sp}/synchronization/jobs"),
        )
        .await;
    let provisioning = jobs.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["templateId"] == "AD2AADProvisioning")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1.0/servicePrincipals/{sp}/synchronization/jobs/{provisioning}/schema");

    // The schema: synchronizationSchema's shape, a user mapping without the password hash.
    let got = rig.get(&admin, &path).await;
    assert_eq!(got.status, 200, "{}", got.text);
    schema.check("synchronizationSchema", &got.body, "schema", &mut problems);
    assert!(!entra_failover::graph::sync_schema::maps_password_hash(
        &got.body
    ));

    // Secrets: the documented bodies take 204 and no content; an unknown key is refused; they are
    // never read back.
    let secrets = format!("/v1.0/servicePrincipals/{sp}/synchronization/secrets");
    let documented = fixture("synchronization.secrets.put.v1.0.request.json");
    let put = rig
        .call(Method::PUT, Some(&admin), &secrets, Some(documented))
        .await;
    assert_eq!((put.status.as_u16(), put.text.as_str()), (204, ""));
    let domain_sample = std::fs::read_to_string(format!(
        "{FIXTURES}/graph-doc-examples/cloudSync.synchronization.secrets-Domain.beta.request.txt"
    ))
    .unwrap();
    let body: Value =
        serde_json::from_str(&domain_sample[domain_sample.find('{').unwrap()..]).unwrap();
    assert_eq!(
        rig.call(Method::PUT, Some(&admin), &secrets, Some(body))
            .await
            .status,
        204
    );
    let ours = entra_failover::graph::sync_schema::password_hash_secrets("contoso.com");
    assert_eq!(
        rig.call(Method::PUT, Some(&admin), &secrets, Some(ours))
            .await
            .status,
        204
    );
    let bad = rig
        .call(
            Method::PUT,
            Some(&admin),
            &secrets,
            Some(json!({"value": [{"key": "Nonsense", "value": "x"}]})),
        )
        .await;
    assert_graph_error(&bad, 400, "Request_BadRequest");
    assert_eq!(
        rig.get(&admin, &secrets).await.status,
        405,
        "secrets are never read back"
    );
    let app = rig.app_token().await;
    assert_eq!(
        rig.call(
            Method::PUT,
            Some(&app),
            &secrets,
            Some(json!({"value": []}))
        )
        .await
        .status,
        403
    );

    // PUT replaces the schema (204); PATCH, as Microsoft's SDKs send it, too; both are checked.
    let with = entra_failover::graph::sync_schema::with_password_hash(&got.body).unwrap();
    let put = rig
        .call(Method::PUT, Some(&admin), &path, Some(with.clone()))
        .await;
    assert_eq!((put.status.as_u16(), put.text.as_str()), (204, ""));
    let after = rig.get(&admin, &path).await;
    assert!(entra_failover::graph::sync_schema::maps_password_hash(
        &after.body
    ));
    schema.check(
        "synchronizationSchema",
        &after.body,
        "schema",
        &mut problems,
    );
    let patch = rig
        .call(
            Method::PATCH,
            Some(&admin),
            &path,
            Some(json!({"synchronizationRules": with["synchronizationRules"]})),
        )
        .await;
    assert_eq!(patch.status, 204, "{}", patch.text);
    let mut wrong = with.clone();
    wrong["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][0]["flowBehavior"] =
        json!("Sometimes");
    assert_graph_error(
        &rig.call(Method::PUT, Some(&admin), &path, Some(wrong))
            .await,
        400,
        "Request_BadRequest",
    );
    assert_graph_error(
        &rig.call(Method::PUT, Some(&admin), &path, Some(json!({"rules": []})))
            .await,
        400,
        "Request_BadRequest",
    );
    assert!(problems.is_empty(), "{problems:#?}");
}

#[tokio::test]
async fn cloud_sync_jobs_and_the_sync_account_answer_as_graph_does() {
    let rig = Rig::with(|_| {}, Some("[sync]\nengine = \"both\"\n")).await;
    let admin = rig.admin_token().await;
    let schema = Schema::load(&[
        "graph-v1.0-prod-csdl-slices.xml",
        "graph-v1.0-prod-csdl-users-groups.xml",
        "graph-v1.0-prod-csdl-synchronization.xml",
    ]);
    let mut problems = vec![];
    let sps = cloud_sync_configurations(&rig, &admin).await;
    assert_eq!(sps.len(), 3, "contoso.com, fabrikam.com, northwind.com");
    for sp in &sps {
        schema.check("servicePrincipal", sp, "servicePrincipals", &mut problems);
    }
    let other = rig
        .get(
            &admin,
            "/v1.0/servicePrincipals?$filter=appId eq '00000002-0000-0000-c000-000000000000'",
        )
        .await;
    assert_eq!(other.body["value"], json!([]));
    let sp = sps[0]["id"].as_str().unwrap();
    let jobs = format!("/v1.0/servicePrincipals/{sp}/synchronization/jobs");

    // Created as the documented response shows it: disabled, not configured; the same keys.
    let created = rig
        .call(
            Method::POST,
            Some(&admin),
            &jobs,
            Some(json!({"templateId": "AD2AADPasswordHash"})),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.text);
    let documented = fixture("synchronizationJob.create.v1.0.response-201.json");
    assert_eq!(
        keys(&created.body).difference(&keys(&documented)).count(),
        1,
        "only @odata.context beyond the documented keys: {:?}",
        keys(&created.body)
    );
    for k in ["schedule", "status"] {
        assert!(
            keys(&created.body[k]).is_superset(&keys(&documented[k])),
            "{k}"
        );
    }
    assert_eq!(created.body["schedule"]["state"], "Disabled");
    assert_eq!(created.body["status"]["code"], "NotConfigured");
    let id = created.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("AD2AADPasswordHash."), "{id}");
    let start = rig
        .call(
            Method::POST,
            Some(&admin),
            &format!("{jobs}/{id}/start"),
            None,
        )
        .await;
    assert_eq!((start.status.as_u16(), start.text.as_str()), (204, ""));
    let job = rig.get(&admin, &format!("{jobs}/{id}")).await;
    assert_eq!(job.body["status"]["code"], "Active");
    assert_eq!(job.body["schedule"]["state"], "Active");

    // Quarantine: the documented shape; start does not lift it, restart with QuarantineState does.
    let q = rig
        .control(
            Method::POST,
            "/sync-jobs/quarantine",
            Some(json!({"configuration": sps[0]["displayName"]})),
        )
        .await;
    assert_eq!(q.status, 200, "{}", q.text);
    let job = rig.get(&admin, &format!("{jobs}/{id}")).await;
    assert_eq!(job.body["status"]["code"], "Quarantine");
    let documented = fixture("synchronizationJob.get.v1.0.response-200.json");
    assert_eq!(
        keys(&job.body["status"]["quarantine"]),
        keys(&documented["status"]["quarantine"])
    );
    rig.call(
        Method::POST,
        Some(&admin),
        &format!("{jobs}/{id}/start"),
        None,
    )
    .await;
    let job = rig.get(&admin, &format!("{jobs}/{id}")).await;
    assert_eq!(job.body["status"]["code"], "Quarantine");
    let restart = rig
        .call(
            Method::POST,
            Some(&admin),
            &format!("{jobs}/{id}/restart"),
            Some(json!({"criteria": {"resetScope": "Watermark, Escrows, QuarantineState"}})),
        )
        .await;
    assert_eq!(restart.status, 204, "{}", restart.text);
    let listed = rig.get(&admin, &jobs).await;
    assert_eq!(listed.status, 200);
    for j in listed.body["value"].as_array().unwrap() {
        schema.check("synchronizationJob", j, &jobs, &mut problems);
    }
    let job = rig.get(&admin, &format!("{jobs}/{id}")).await;
    assert_eq!(job.body["status"]["code"], "Active");
    schema.check("synchronizationJob", &job.body, "job", &mut problems);

    // Refusals: an unknown template, an unknown configuration, a caller without the permission.
    let bad = rig
        .call(
            Method::POST,
            Some(&admin),
            &jobs,
            Some(json!({"templateId": "BoxOutDelta"})),
        )
        .await;
    assert_eq!(bad.status, 400);
    let missing = rig
        .get(
            &admin,
            "/v1.0/servicePrincipals/00000000-0000-0000-0000-000000000000/synchronization/jobs",
        )
        .await;
    assert_eq!(missing.status, 404);
    let app = rig.app_token().await;
    assert_eq!(rig.get(&app, &jobs).await.status, 403);

    // Connect Sync's trace: its service account in Directory Synchronization Accounts.
    let roles = rig
        .get(
            &admin,
            "/v1.0/directoryRoles?$filter=roleTemplateId eq 'd29b2b05-8046-44ba-8758-1e26182fcf32'&$expand=members",
        )
        .await;
    assert_eq!(roles.status, 200, "{}", roles.text);
    let role = &roles.body["value"][0];
    let upn = role["members"][0]["userPrincipalName"].as_str().unwrap();
    assert!(upn.starts_with("Sync_AADCONNECT01_"), "{upn}");
    let mut plain = role.clone();
    plain.as_object_mut().unwrap().remove("members");
    schema.check("directoryRole", &plain, "directoryRoles", &mut problems);
    assert!(problems.is_empty(), "{problems:#?}");
}
