use reqwest::Method;
use serde_json::{Value, json};

use crate::common::{Rig, assert_graph_error};

#[tokio::test]
async fn domains_list_select_and_get() {
    let rig = Rig::start().await;
    let t = rig.app_token().await;
    let a = rig.get(&t, "/v1.0/domains").await;
    assert_eq!(a.status, 200);
    assert!(
        a.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#domains")
    );
    let ids: Vec<&str> = a.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "contoso.onmicrosoft.com",
            "contoso.com",
            "eu.contoso.com",
            "fabrikam.com",
            "northwind.com"
        ]
    );
    let eu = &a.body["value"][2];
    assert_eq!(eu["authenticationType"], "Federated");
    assert_eq!(eu["isRoot"], false);
    assert_eq!(a.body["value"][0]["isInitial"], true);

    let a = rig
        .get(&t, "/v1.0/domains?$select=id,authenticationType")
        .await;
    assert_eq!(a.status, 200);
    let first = a.body["value"][0].as_object().unwrap();
    assert_eq!(
        first.keys().collect::<Vec<_>>(),
        ["id", "authenticationType"]
    );
    assert!(
        a.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#domains(id,authenticationType)")
    );

    let a = rig.get(&t, "/v1.0/domains?$select=colour").await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("'colour'")
    );

    let a = rig.get(&t, "/v1.0/domains/FABRIKAM.com").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["id"], "fabrikam.com");
    assert!(
        a.body["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("#domains/$entity")
    );

    let a = rig.get(&t, "/v1.0/domains/nope.example").await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound");
}

#[tokio::test]
async fn domains_page_with_next_link() {
    let rig = Rig::with(
        |_| {},
        Some("[generate]\nfederated_domains = 250\nusers = 10\n"),
    )
    .await;
    let t = rig.app_token().await;
    let mut url = "/v1.0/domains".to_string();
    let mut seen = vec![];
    let mut pages = 0;
    loop {
        let a = rig.get(&t, &url).await;
        assert_eq!(a.status, 200, "{}", a.text);
        pages += 1;
        for d in a.body["value"].as_array().unwrap() {
            seen.push(d["id"].as_str().unwrap().to_string());
        }
        match a.body["@odata.nextLink"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&rig.info.graph_url));
                url = next.to_string();
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 255);
    let mut dedup = seen.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), 255);
    let a = rig.get(&t, "/v1.0/domains?$skiptoken=garbage").await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn converting_to_managed_removes_federation_and_federated_is_refused() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let a = rig
        .get(&admin, "/v1.0/domains/contoso.com/federationConfiguration")
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(
        a.body["value"][0]["@odata.type"],
        "#microsoft.graph.internalDomainFederation"
    );

    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            "/v1.0/domains/contoso.com",
            Some(json!({"authenticationType": "Managed"})),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert!(a.text.is_empty());
    let a = rig.get(&admin, "/v1.0/domains/contoso.com").await;
    assert_eq!(a.body["authenticationType"], "Managed");
    // The subdomain follows its root.
    let a = rig.get(&admin, "/v1.0/domains/eu.contoso.com").await;
    assert_eq!(a.body["authenticationType"], "Managed");
    let a = rig
        .get(&admin, "/v1.0/domains/contoso.com/federationConfiguration")
        .await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("federationConfiguration")
    );
    let tenant = rig.emu.tenant();
    assert!(
        tenant.domains[tenant.domain_index("contoso.com").unwrap()]
            .federation
            .is_none()
    );

    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            "/v1.0/domains/contoso.com",
            Some(json!({"authenticationType": "Federated"})),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    assert_eq!(
        a.body["error"]["message"],
        "Changing authenticationType from Managed to Federated is currently not supported."
    );

    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            "/v1.0/domains/contoso.com",
            Some(json!({"authenticationType": "Sometimes"})),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");

    // A subdomain cannot be converted on its own.
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            "/v1.0/domains/fabrikam.com",
            Some(json!({"isRoot": true})),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("read-only")
    );

    // The request log has the PATCH with its status.
    let log = rig.emu.requests();
    assert!(
        log.iter().any(|e| e.method == "PATCH"
            && e.path == "/v1.0/domains/contoso.com"
            && e.status == 204)
    );
}

#[tokio::test]
async fn app_with_internal_federation_permission_converts_by_deleting_the_configuration() {
    let rig = Rig::start().await;
    let app = rig.app_token().await;
    let a = rig
        .get(&app, "/v1.0/domains/fabrikam.com/federationConfiguration")
        .await;
    let fed_id = a.body["value"][0]["id"].as_str().unwrap().to_string();
    // Domain-InternalFederation.ReadWrite.All may change authenticationType, as the docs say.
    let a = rig
        .call(
            Method::PATCH,
            Some(&app),
            "/v1.0/domains/northwind.com",
            Some(json!({"authenticationType": "Managed"})),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    // …but not other domain properties, which need Domain.ReadWrite.All.
    let a = rig
        .call(
            Method::PATCH,
            Some(&app),
            "/v1.0/domains/northwind.com",
            Some(json!({"passwordValidityPeriodInDays": 90})),
        )
        .await;
    assert_graph_error(&a, 403, "Authorization_RequestDenied");
    let a = rig
        .call(
            Method::DELETE,
            Some(&app),
            &format!("/v1.0/domains/fabrikam.com/federationConfiguration/{fed_id}"),
            None,
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = rig.get(&app, "/v1.0/domains/fabrikam.com").await;
    assert_eq!(a.body["authenticationType"], "Managed");
    let a = rig
        .call(
            Method::DELETE,
            Some(&app),
            &format!("/v1.0/domains/fabrikam.com/federationConfiguration/{fed_id}"),
            None,
        )
        .await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound");
}

fn settings(issuer: &str, cert: &str) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.internalDomainFederation",
        "displayName": "Contoso AD FS",
        "issuerUri": issuer,
        "metadataExchangeUri": "https://sts.contoso.com/adfs/services/trust/mex",
        "signingCertificate": cert,
        "passiveSignInUri": "https://sts.contoso.com/adfs/ls/",
        "preferredAuthenticationProtocol": "wsFed",
        "activeSignInUri": "https://sts.contoso.com/adfs/services/trust/2005/usernamemixed",
        "signOutUri": "https://sts.contoso.com/adfs/ls/?wa=wsignout1.0",
        "promptLoginBehavior": "nativeSupport",
        "federatedIdpMfaBehavior": "acceptIfMfaDoneByFederatedIdp",
    })
}

#[tokio::test]
async fn federation_configuration_create_update_conflict() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let cert = rig.emu.tenant().farms["sts.contoso.com"]
        .signing
        .cert_b64
        .clone();
    let path = "/v1.0/domains/northwind.com/federationConfiguration";

    // The issuer of fabrikam.com is taken: 409.
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            path,
            Some(settings("http://fabrikam.com/adfs/services/trust/", &cert)),
        )
        .await;
    assert_graph_error(&a, 409, "Request_MultipleObjectsWithSameKeyValue");
    // Without a signing certificate: refused, and the domain stays managed.
    let mut no_cert = settings("http://northwind.com/adfs/services/trust/", &cert);
    no_cert
        .as_object_mut()
        .unwrap()
        .remove("signingCertificate");
    let a = rig
        .call(Method::POST, Some(&admin), path, Some(no_cert))
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    let a = rig.get(&admin, "/v1.0/domains/northwind.com").await;
    assert_eq!(a.body["authenticationType"], "Managed");

    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            path,
            Some(settings("http://northwind.com/adfs/services/trust/", &cert)),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let id = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        a.body["issuerUri"],
        "http://northwind.com/adfs/services/trust/"
    );
    assert_eq!(
        a.body["signingCertificateUpdateStatus"]["certificateUpdateResult"],
        "Success"
    );
    let a = rig.get(&admin, "/v1.0/domains/northwind.com").await;
    assert_eq!(a.body["authenticationType"], "Federated");
    // A second create answers an error: the domain already has settings.
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            path,
            Some(settings("http://other.example/adfs/services/trust/", &cert)),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");

    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            &format!("{path}/{id}"),
            Some(json!({"displayName": "renamed", "nextSigningCertificate": cert})),
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    let a = rig.get(&admin, &format!("{path}/{id}")).await;
    assert_eq!(a.body["displayName"], "renamed");
    assert_eq!(a.body["nextSigningCertificate"], cert.as_str());
    assert_eq!(
        a.body["issuerUri"],
        "http://northwind.com/adfs/services/trust/"
    );
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            &format!("{path}/{id}"),
            Some(json!({"promptLoginBehavior": "whenever"})),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    assert_eq!(
        a.body["error"]["message"],
        "Requested value 'whenever' was not found."
    );
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            &format!("{path}/{id}"),
            Some(json!({"issuerUri": "http://fabrikam.com/adfs/services/trust/"})),
        )
        .await;
    assert_graph_error(&a, 409, "Request_MultipleObjectsWithSameKeyValue");

    // Subdomains and the initial domain cannot be federated on their own.
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/domains/eu.contoso.com/federationConfiguration",
            Some(settings("http://eu.example/x/", &cert)),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/domains/contoso.onmicrosoft.com/federationConfiguration",
            Some(settings("http://i.example/x/", &cert)),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
}

#[tokio::test]
async fn promote_makes_a_subdomain_a_managed_root() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/domains/eu.contoso.com/promote",
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["value"], true);
    let a = rig.get(&admin, "/v1.0/domains/eu.contoso.com").await;
    assert_eq!(a.body["isRoot"], true);
    assert_eq!(a.body["authenticationType"], "Managed");
    let a = rig.get(&admin, "/v1.0/domains/contoso.com").await;
    assert_eq!(a.body["authenticationType"], "Federated");
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/domains/eu.contoso.com/promote",
            None,
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
}

#[tokio::test]
async fn organization_and_beta_password_sync_time() {
    let rig = Rig::start().await;
    let t = rig.app_token().await;
    let a = rig.get(&t, "/v1.0/organization").await;
    assert_eq!(a.status, 200);
    let org = &a.body["value"][0];
    assert_eq!(org["id"], rig.info.tenant_id.as_str());
    assert_eq!(org["onPremisesSyncEnabled"], true);
    assert!(org["onPremisesLastSyncDateTime"].is_string());
    assert!(org.get("onPremisesLastPasswordSyncDateTime").is_none());
    assert_eq!(org["verifiedDomains"].as_array().unwrap().len(), 5);
    // `$select` gives what is asked for and nothing else (the status asks without verifiedDomains).
    let a = rig
        .get(&t, "/v1.0/organization?$select=id,displayName")
        .await;
    let org = &a.body["value"][0];
    assert_eq!(org["displayName"], "Contoso (rehearsal)");
    assert!(org.get("verifiedDomains").is_none(), "{org}");
    assert!(org.get("onPremisesSyncEnabled").is_none(), "{org}");

    let a = rig.get(&t, "/beta/organization").await;
    assert_eq!(
        a.body["value"][0]["onPremisesLastPasswordSyncDateTime"],
        Value::Null
    );
    rig.enable_phs().await;
    rig.connect_script().await;
    rig.sync().await;
    let a = rig.get(&t, "/beta/organization").await;
    assert!(a.body["value"][0]["onPremisesLastPasswordSyncDateTime"].is_string());
}

#[tokio::test]
async fn password_hash_sync_flag_needs_the_permission_and_the_role() {
    let rig = Rig::start().await;
    let app = rig.app_token().await;
    let a = rig
        .get(&app, "/v1.0/directory/onPremisesSynchronization")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    let id = a.body["value"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(a.body["value"][0]["features"]["passwordSyncEnabled"], false);
    let path = format!("/v1.0/directory/onPremisesSynchronization/{id}");
    let body = json!({"features": {"passwordSyncEnabled": true}});
    // The rehearsal app holds only OnPremDirectorySynchronization.Read.All.
    let a = rig
        .call(Method::PATCH, Some(&app), &path, Some(body.clone()))
        .await;
    assert_graph_error(&a, 403, "Authorization_RequestDenied");
    assert_eq!(
        a.body["error"]["message"],
        "Insufficient privileges to complete the operation."
    );

    // A synchronized user without a directory role: the scope alone is not enough.
    rig.enable_phs().await;
    rig.connect_script().await;
    rig.sync().await;
    let user = rig.user_of("northwind.com");
    let a = rig.password(&user, &rig.info.user_password).await;
    assert_eq!(a.status, 200, "{}", a.text);
    let user_token = a.body["access_token"].as_str().unwrap().to_string();
    let off = json!({"features": {"passwordSyncEnabled": false}});
    let a = rig
        .call(Method::PATCH, Some(&user_token), &path, Some(off.clone()))
        .await;
    assert_graph_error(&a, 403, "Authorization_RequestDenied");

    let admin = rig.admin_token().await;
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            &path,
            Some(json!({"features": {"passwordSyncEnabled": "yes"}})),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    let a = rig
        .call(Method::PATCH, Some(&admin), &path, Some(off))
        .await;
    assert_eq!(a.status, 204);
    let a = rig.get(&admin, &path).await;
    assert_eq!(a.body["features"]["passwordSyncEnabled"], false);
    // Other features are untouched by a partial update.
    assert_eq!(a.body["features"]["softMatchOnUpnEnabled"], true);
    assert!(!rig.emu.tenant().sync.password_sync_enabled());
    let a = rig
        .get(
            &admin,
            "/v1.0/directory/onPremisesSynchronization/00000000-0000-0000-0000-000000000000",
        )
        .await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound");
}

#[tokio::test]
async fn users_top_select_filter_count_and_paging() {
    let rig = Rig::start().await;
    let t = rig.app_token().await;
    let a = rig.get(&t, "/v1.0/users").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["value"].as_array().unwrap().len(), 100);
    let first = a.body["value"][0].as_object().unwrap();
    assert!(first.contains_key("userPrincipalName") && first.contains_key("businessPhones"));
    assert!(!first.contains_key("onPremisesSyncEnabled"));
    let mut total = 0;
    let mut url =
        "/v1.0/users?$top=60&$select=id,userPrincipalName,onPremisesSyncEnabled".to_string();
    loop {
        let a = rig.get(&t, &url).await;
        assert_eq!(a.status, 200, "{}", a.text);
        total += a.body["value"].as_array().unwrap().len();
        assert!(
            a.body["value"][0]["onPremisesSyncEnabled"].is_boolean()
                || a.body["value"][0]["onPremisesSyncEnabled"].is_null()
        );
        match a.body["@odata.nextLink"].as_str() {
            Some(n) => url = n.to_string(),
            None => break,
        }
    }
    assert_eq!(total, 201);

    let a = rig
        .get(
            &t,
            "/v1.0/users?$filter=endswith(userPrincipalName,'@fabrikam.com')",
        )
        .await;
    assert_graph_error(&a, 400, "Request_UnsupportedQuery");
    let a = rig
        .raw(
            rig.http
                .get(rig.url("/v1.0/users?$filter=endswith(userPrincipalName,'@fabrikam.com')&$count=true&$top=999"))
                .bearer_auth(&t)
                .header("ConsistencyLevel", "eventual"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["@odata.count"], 40);
    assert_eq!(a.body["value"].as_array().unwrap().len(), 40);
    let a = rig.get(&t, "/v1.0/users?$count=true").await;
    assert_eq!(a.status, 400);
    let a = rig.get(&t, "/v1.0/users?$top=1000").await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    let a = rig.get(&t, "/v1.0/users?$filter=jobTitle eq 'x'").await;
    assert_graph_error(&a, 400, "Request_UnsupportedQuery");
    let upn = rig.user_of("contoso.com");
    let a = rig
        .get(
            &t,
            &format!("/v1.0/users?$filter=userPrincipalName eq '{upn}'"),
        )
        .await;
    assert_eq!(a.body["value"].as_array().unwrap().len(), 1);
    let a = rig.get(&t, &format!("/v1.0/users/{upn}")).await;
    assert_eq!(a.body["userPrincipalName"], upn.as_str());
    let a = rig.get(&t, "/v1.0/users/nobody@contoso.com").await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound");
}

#[tokio::test]
async fn me_is_delegated_only_and_groups_list() {
    let rig = Rig::start().await;
    let app = rig.app_token().await;
    let a = rig.get(&app, "/v1.0/me").await;
    assert_graph_error(&a, 400, "BadRequest");
    let admin = rig.admin_token().await;
    let a = rig.get(&admin, "/v1.0/me").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["userPrincipalName"], rig.info.admin_upn.as_str());
    let a = rig.get(&admin, "/v1.0/groups").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["value"][0]["displayName"], "PHS pilot");
    // The app was not granted any group permission.
    let a = rig.get(&app, "/v1.0/groups").await;
    assert_graph_error(&a, 403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn staged_rollout_policies_and_groups() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let groups = rig.get(&admin, "/v1.0/groups").await;
    let gid = groups.body["value"][0]["id"].as_str().unwrap().to_string();
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/policies/featureRolloutPolicies",
            Some(json!({"displayName": "PHS pilot", "feature": "passwordHashSync", "isEnabled": true, "isAppliedToOrganization": false})),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let pid = a.body["id"].as_str().unwrap().to_string();
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/policies/featureRolloutPolicies",
            Some(json!({"displayName": "x", "feature": "passwordHashSync"})),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    let a = rig
        .call(
            Method::POST,
            Some(&admin),
            "/v1.0/policies/featureRolloutPolicies",
            Some(json!({"displayName": "x", "feature": "teleport"})),
        )
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    let reference =
        json!({"@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{gid}")});
    let path = format!("/v1.0/policies/featureRolloutPolicies/{pid}/appliesTo/$ref");
    let a = rig
        .call(Method::POST, Some(&admin), &path, Some(reference.clone()))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    let a = rig
        .call(Method::POST, Some(&admin), &path, Some(reference))
        .await;
    assert_graph_error(&a, 400, "Request_BadRequest");
    let a = rig
        .get(
            &admin,
            &format!("/v1.0/policies/featureRolloutPolicies/{pid}?$expand=appliesTo"),
        )
        .await;
    assert_eq!(a.body["appliesTo"][0]["id"], gid.as_str());
    let a = rig
        .call(
            Method::DELETE,
            Some(&admin),
            &format!("/v1.0/policies/featureRolloutPolicies/{pid}/appliesTo/{gid}/$ref"),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = rig
        .get(&admin, "/v1.0/policies/featureRolloutPolicies")
        .await;
    assert_eq!(a.body["value"][0]["id"], pid.as_str());
    let a = rig
        .call(
            Method::DELETE,
            Some(&admin),
            &format!("/v1.0/policies/featureRolloutPolicies/{pid}"),
            None,
        )
        .await;
    assert_eq!(a.status, 204);
    let a = rig
        .get(
            &admin,
            &format!("/v1.0/policies/featureRolloutPolicies/{pid}"),
        )
        .await;
    assert_graph_error(&a, 404, "Request_ResourceNotFound");
    // The app holds no policy permission.
    let app = rig.app_token().await;
    let a = rig.get(&app, "/v1.0/policies/featureRolloutPolicies").await;
    assert_graph_error(&a, 403, "Authorization_RequestDenied");
}

#[tokio::test]
async fn unauthenticated_expired_and_foreign_tokens_get_401() {
    let rig = Rig::start().await;
    let a = rig.call(Method::GET, None, "/v1.0/domains", None).await;
    assert_graph_error(&a, 401, "InvalidAuthenticationToken");
    assert!(a.headers.contains_key("www-authenticate"));
    let a = rig.get("not.a.jwt", "/v1.0/domains").await;
    assert_graph_error(&a, 401, "InvalidAuthenticationToken");

    // A token from another rehearsal tenant (another key) is refused.
    let other = Rig::start().await;
    let foreign = other.app_token().await;
    let a = rig.get(&foreign, "/v1.0/domains").await;
    assert_graph_error(&a, 401, "InvalidAuthenticationToken");

    let t = rig.app_token().await;
    let a = rig
        .control(
            Method::POST,
            "/clock",
            Some(json!({"advance_s": 3600 + 301})),
        )
        .await;
    assert_eq!(a.status, 200);
    let a = rig.get(&t, "/v1.0/domains").await;
    assert_graph_error(&a, 401, "InvalidAuthenticationToken");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn client_request_id_is_echoed() {
    let rig = Rig::start().await;
    let t = rig.app_token().await;
    let a = rig
        .raw(
            rig.http
                .get(rig.url("/v1.0/domains/nope.example"))
                .bearer_auth(&t)
                .header("client-request-id", "c0ffee00-1111-2222-3333-444455556666"),
        )
        .await;
    assert_eq!(
        a.headers["client-request-id"],
        "c0ffee00-1111-2222-3333-444455556666"
    );
    assert_eq!(
        a.body["error"]["innerError"]["client-request-id"],
        "c0ffee00-1111-2222-3333-444455556666"
    );
    let log = rig.emu.requests();
    assert_eq!(
        log.last().unwrap().client_request_id.as_deref(),
        Some("c0ffee00-1111-2222-3333-444455556666")
    );
}

#[tokio::test]
async fn writes_beyond_the_budget_get_429_with_fractional_retry_after() {
    let scenario = "[limits]\nwrite_burst = 3\nwrites_per_second = 0.5\n";
    let rig = Rig::with(|_| {}, Some(scenario)).await;
    let admin = rig.admin_token().await;
    let body = json!({"passwordNotificationWindowInDays": 14});
    for _ in 0..3 {
        let a = rig
            .call(
                Method::PATCH,
                Some(&admin),
                "/v1.0/domains/northwind.com",
                Some(body.clone()),
            )
            .await;
        assert_eq!(a.status, 204, "{}", a.text);
    }
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            "/v1.0/domains/northwind.com",
            Some(body.clone()),
        )
        .await;
    assert_graph_error(&a, 429, "TooManyRequests");
    let ra: f64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(ra > 0.0 && ra <= 2.0, "{ra}");
    assert!(a.headers["retry-after"].to_str().unwrap().contains('.'));
    // Reads are not throttled.
    assert_eq!(rig.get(&admin, "/v1.0/domains").await.status, 200);
    tokio::time::sleep(std::time::Duration::from_secs_f64(ra + 0.05)).await;
    let a = rig
        .call(
            Method::PATCH,
            Some(&admin),
            "/v1.0/domains/northwind.com",
            Some(body),
        )
        .await;
    assert_eq!(a.status, 204);
}

#[tokio::test]
async fn injected_faults_answer_as_graph_does() {
    let rig = Rig::start().await;
    let t = rig.app_token().await;
    let a = rig
        .control(Method::POST, "/faults", Some(json!({"method": "GET", "path_prefix": "/v1.0/domains", "status": 503, "retry_after": "1.5", "count": 2})))
        .await;
    assert_eq!(a.status, 201, "{}", a.text);
    for _ in 0..2 {
        let a = rig.get(&t, "/v1.0/domains").await;
        assert_graph_error(&a, 503, "ServiceUnavailable");
        assert_eq!(a.headers["retry-after"], "1.5");
    }
    assert_eq!(rig.get(&t, "/v1.0/domains").await.status, 200);
    // Other paths were never affected.
    assert_eq!(rig.get(&t, "/v1.0/organization").await.status, 200);

    rig.control(
        Method::POST,
        "/faults",
        Some(json!({"path_prefix": "/v1.0/organization", "kind": "reset", "count": 1})),
    )
    .await;
    let err = rig
        .http
        .get(rig.url("/v1.0/organization"))
        .bearer_auth(&t)
        .send()
        .await;
    assert!(err.is_err(), "a reset fault drops the connection");
    assert_eq!(rig.get(&t, "/v1.0/organization").await.status, 200);

    rig.control(
        Method::POST,
        "/faults",
        Some(json!({"latency_ms": 300, "count": 1})),
    )
    .await;
    let start = std::time::Instant::now();
    assert_eq!(rig.get(&t, "/v1.0/organization").await.status, 200);
    assert!(start.elapsed() >= std::time::Duration::from_millis(300));

    rig.control(
        Method::POST,
        "/faults",
        Some(json!({"status": 429, "retry_after": "0.25"})),
    )
    .await;
    let a = rig.get(&t, "/v1.0/domains").await;
    assert_graph_error(&a, 429, "TooManyRequests");
    let a = rig.control(Method::DELETE, "/faults", None).await;
    assert_eq!(a.status, 204);
    assert_eq!(rig.get(&t, "/v1.0/domains").await.status, 200);

    let a = rig
        .control(Method::POST, "/faults", Some(json!({"status": 200})))
        .await;
    assert_eq!(a.status, 400);
    let a = rig
        .control(Method::POST, "/faults", Some(json!({"kind": "explode"})))
        .await;
    assert_eq!(a.status, 400);
    let log = rig.control(Method::GET, "/requests", None).await;
    let statuses: Vec<u64> = log
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert!(statuses.contains(&503) && statuses.contains(&429));
}

/// Waits until `GET /held` lists the request (a test stops a client at an exact step this way).
async fn held(rig: &Rig, method: &str, path: &str, kind: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let a = rig.control(Method::GET, "/held", None).await;
        if a.body
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["method"] == method && h["path"] == path && h["kind"] == kind)
        {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{method} {path} was never held: {}",
            a.text
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn held_requests_wait_at_their_step_until_the_faults_are_cleared() {
    let rig = std::sync::Arc::new(Rig::start().await);
    let t = rig.app_token().await;
    // `path` is the whole path: the resource below it is not held.
    rig.control(Method::POST, "/faults", Some(json!({"method": "GET", "path": "/v1.0/domains/contoso.com", "kind": "hold", "count": 1}))).await;
    rig.control(Method::POST, "/faults", Some(json!({"method": "PATCH", "path": "/v1.0/domains/fabrikam.com", "kind": "hold-answer", "count": 1}))).await;
    let a = rig
        .get(&t, "/v1.0/domains/contoso.com/federationConfiguration")
        .await;
    assert_eq!(a.status, 200, "{}", a.text);

    let (r, tk) = (rig.clone(), t.clone());
    let read = tokio::spawn(async move { r.get(&tk, "/v1.0/domains/contoso.com").await });
    let (r, tk) = (rig.clone(), t.clone());
    let change = tokio::spawn(async move {
        r.call(
            Method::PATCH,
            Some(&tk),
            "/v1.0/domains/fabrikam.com",
            Some(json!({"authenticationType": "Managed"})),
        )
        .await
    });
    held(&rig, "GET", "/v1.0/domains/contoso.com", "hold").await;
    held(&rig, "PATCH", "/v1.0/domains/fabrikam.com", "hold-answer").await;
    // hold-answer: the change is made before its answer is kept back; neither has an answer.
    let tenant = rig.emu.tenant();
    assert!(
        tenant.domains[tenant.domain_index("fabrikam.com").unwrap()]
            .federation
            .is_none()
    );
    assert!(!read.is_finished() && !change.is_finished());
    // Other requests go on meanwhile.
    assert_eq!(rig.get(&t, "/v1.0/organization").await.status, 200);

    assert_eq!(
        rig.control(Method::DELETE, "/faults", None).await.status,
        204
    );
    assert_eq!(read.await.unwrap().status, 200);
    assert_eq!(change.await.unwrap().status, 204);
    let a = rig.control(Method::GET, "/held", None).await;
    assert_eq!(a.body, json!([]));
    // As for every fault, a count is at least 1.
    let a = rig
        .control(
            Method::POST,
            "/faults",
            Some(json!({"kind": "hold", "count": 0})),
        )
        .await;
    assert_eq!(a.status, 400);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_named() {
    let rig = Rig::start().await;
    let t = rig.app_token().await;
    let a = rig.get(&t, "/v1.0/teleporters").await;
    assert_graph_error(&a, 400, "BadRequest");
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("teleporters")
    );
    let a = rig
        .call(
            Method::PUT,
            Some(&t),
            "/v1.0/domains/contoso.com",
            Some(json!({})),
        )
        .await;
    assert_eq!(a.status, 405);
    let a = rig.call(Method::GET, None, "/nowhere/at/all", None).await;
    assert_eq!(a.status, 404);
    assert!(a.text.contains("/nowhere/at/all"));
}

#[tokio::test]
async fn malformed_bodies_get_graphs_400() {
    let rig = Rig::start().await;
    let admin = rig.admin_token().await;
    let patch = |body: &'static str| {
        rig.raw(
            rig.http
                .patch(rig.url("/v1.0/domains/contoso.com"))
                .bearer_auth(&admin)
                .header("content-type", "application/json")
                .body(body),
        )
    };
    for (body, needle) in [
        ("{\"authenticationType\": ", "Invalid JSON"),
        ("", "Empty Payload"),
        ("{\"authenticationType\": 5}", "Edm.String"),
        (
            "{\"passwordValidityPeriodInDays\": \"ninety\"}",
            "Edm.Int32",
        ),
        (
            "{\"authenticationType\": \"Cloud\"}",
            "Requested value 'Cloud' was not found.",
        ),
        ("{\"isVerified\": false}", "read-only"),
        (
            "{\"colour\": \"blue\"}",
            "does not exist on type 'microsoft.graph.domain'",
        ),
        ("[\"Managed\"]", "JSON object"),
    ] {
        let a = patch(body).await;
        assert_graph_error(&a, 400, "Request_BadRequest");
        let message = a.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
    // Nothing changed.
    let a = rig.get(&admin, "/v1.0/domains/contoso.com").await;
    assert_eq!(a.body["authenticationType"], "Federated");
    assert!(!rig.emu.requests().iter().any(|e| e.status >= 500));
}
