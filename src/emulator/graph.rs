//! Microsoft Graph v1.0 (and the one beta property the tool reads), as the rehearsal tenant serves it.

use hyper::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::Shared;
use super::http::{Req, Resp, graph_error, graph_status_error, json as json_resp, no_content};
use super::schema::{self, Invalid};
use super::state::{
    DOMAIN_NAME_ADMIN, GLOBAL_ADMIN, GroupRec, HYBRID_IDENTITY_ADMIN, PolicyRec, Tenant, UserRec,
};
use super::tokens::{self, Claims, TokenError};
use crate::clock::unix;
use crate::graph::models::{
    AuthenticationType, FeatureRolloutPolicy, InternalDomainFederation,
    OnPremisesDirectorySynchronization, Organization, SigningCertificateUpdateStatus,
    StagedFeatureName, VerifiedDomain, graph_time,
};

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
const USER_PROPS: &[&str] = &[
    "id",
    "aboutMe",
    "accountEnabled",
    "ageGroup",
    "assignedLicenses",
    "assignedPlans",
    "authorizationInfo",
    "birthday",
    "businessPhones",
    "city",
    "companyName",
    "consentProvidedForMinor",
    "country",
    "createdDateTime",
    "creationType",
    "customSecurityAttributes",
    "department",
    "deviceEnrollmentLimit",
    "displayName",
    "employeeHireDate",
    "employeeId",
    "employeeLeaveDateTime",
    "employeeOrgData",
    "employeeType",
    "externalUserState",
    "externalUserStateChangeDateTime",
    "faxNumber",
    "givenName",
    "hireDate",
    "identities",
    "identityParentId",
    "imAddresses",
    "interests",
    "isManagementRestricted",
    "isResourceAccount",
    "jobTitle",
    "lastPasswordChangeDateTime",
    "legalAgeGroupClassification",
    "licenseAssignmentStates",
    "mail",
    "mailboxSettings",
    "mailNickname",
    "mobilePhone",
    "mySite",
    "officeLocation",
    "onPremisesDistinguishedName",
    "onPremisesDomainName",
    "onPremisesExtensionAttributes",
    "onPremisesImmutableId",
    "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors",
    "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled",
    "onPremisesUserPrincipalName",
    "otherMails",
    "passwordPolicies",
    "passwordProfile",
    "pastProjects",
    "postalCode",
    "preferredDataLocation",
    "preferredLanguage",
    "preferredName",
    "print",
    "provisionedPlans",
    "proxyAddresses",
    "responsibilities",
    "schools",
    "securityIdentifier",
    "serviceProvisioningErrors",
    "showInAddressList",
    "signInActivity",
    "signInSessionsValidFromDateTime",
    "skills",
    "state",
    "streetAddress",
    "surname",
    "usageLocation",
    "userPrincipalName",
    "userType",
    "deletedDateTime",
];
const USER_DEFAULT: &[&str] = &[
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
];
const GROUP_PROPS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "mailEnabled",
    "securityEnabled",
    "groupTypes",
    "onPremisesSyncEnabled",
    "mail",
    "mailNickname",
    "createdDateTime",
    "visibility",
    "deletedDateTime",
    "membershipRule",
    "membershipRuleProcessingState",
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
const POLICY_PROPS: &[&str] = &[
    "id",
    "displayName",
    "description",
    "feature",
    "isEnabled",
    "isAppliedToOrganization",
];

/// The outcome of one Graph call: the response, and whether the tenant changed.
pub struct Outcome {
    pub resp: Resp,
    pub changed: bool,
}

impl From<Resp> for Outcome {
    fn from(resp: Resp) -> Self {
        Outcome {
            resp,
            changed: false,
        }
    }
}

pub(super) struct Call<'a> {
    pub(super) sh: &'a Shared,
    pub(super) req: &'a Req,
    pub(super) version: &'a str,
}

impl Call<'_> {
    pub(super) fn bad(&self, message: &str) -> Resp {
        graph_error(
            StatusCode::BAD_REQUEST,
            self.req,
            "Request_BadRequest",
            message,
        )
    }

    fn invalid(&self, i: Invalid) -> Resp {
        self.bad(&i.0)
    }

    pub(super) fn not_found(&self, what: &str) -> Resp {
        graph_error(
            StatusCode::NOT_FOUND,
            self.req,
            "Request_ResourceNotFound",
            &format!(
                "Resource '{what}' does not exist or one of its queried reference-property objects are not present."
            ),
        )
    }

    pub(super) fn denied(&self) -> Resp {
        graph_error(
            StatusCode::FORBIDDEN,
            self.req,
            "Authorization_RequestDenied",
            "Insufficient privileges to complete the operation.",
        )
    }

    pub(super) fn context(&self, fragment: &str) -> String {
        format!("{}/{}/$metadata#{fragment}", self.sh.base_url, self.version)
    }

    pub(super) fn ok(&self, body: Value) -> Resp {
        json_resp(StatusCode::OK, self.req, &body)
    }

    /// Checks the caller holds one of `perms`; for a delegated write also one of `roles`.
    pub(super) fn allow(
        &self,
        who: &Claims,
        perms: &[&str],
        roles: Option<&[&str]>,
    ) -> Result<(), Resp> {
        let granted = if who.is_app() {
            who.roles
                .iter()
                .flatten()
                .any(|r| perms.contains(&r.as_str()))
        } else {
            let scoped = who
                .scopes()
                .any(|s| perms.contains(&s) || s == "Directory.AccessAsUser.All");
            let role_ok =
                roles.is_none_or(|rs| who.wids.iter().flatten().any(|w| rs.contains(&w.as_str())));
            scoped && role_ok
        };
        if granted { Ok(()) } else { Err(self.denied()) }
    }

    pub(super) fn body(&self) -> Result<Value, Resp> {
        if self.req.body.is_empty() {
            return Err(self.bad("Empty Payload. JSON content expected."));
        }
        serde_json::from_slice(&self.req.body).map_err(|e| {
            self.bad(&format!(
                "Invalid JSON. The request body could not be read as JSON: {}",
                short(&e.to_string())
            ))
        })
    }

    fn select(&self, entity: &str, known: &[&str]) -> Result<Option<Vec<String>>, Resp> {
        match self.req.query("$select") {
            None => Ok(None),
            Some(s) => schema::check_select(entity, known, s)
                .map(|v| Some(v.into_iter().map(str::to_string).collect()))
                .map_err(|i| self.invalid(i)),
        }
    }

    /// A page of a collection, with `@odata.nextLink` when more remain.
    pub(super) fn page(
        &self,
        items: Vec<Value>,
        page_size: usize,
        context: String,
        count: Option<usize>,
    ) -> Result<Resp, Resp> {
        let top = match self.req.query("$top") {
            None => page_size,
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=999).contains(&n) => n,
                _ => {
                    return Err(self.bad(&format!(
                        "Invalid page size specified: '{}'. Must be between 1 and 999 inclusive.",
                        short(t)
                    )));
                }
            },
        };
        let offset = match self.req.query("$skiptoken") {
            None => 0,
            Some(tok) => decode_skiptoken(tok).ok_or_else(|| {
                graph_error(
                    StatusCode::BAD_REQUEST,
                    self.req,
                    "Directory_ExpiredPageToken",
                    "The specified page token value has expired and can no longer be included in your request.",
                )
            })?,
        };
        let total = items.len();
        let page: Vec<Value> = items.into_iter().skip(offset).take(top).collect();
        let mut body = Map::new();
        body.insert("@odata.context".into(), Value::String(context));
        if let Some(c) = count {
            body.insert("@odata.count".into(), json!(c));
        }
        if offset + top < total {
            let mut q: Vec<(String, String)> = self
                .req
                .query
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
                .cloned()
                .collect();
            if self.req.query("$top").is_none() {
                q.push(("$top".into(), top.to_string()));
            }
            q.push(("$skiptoken".into(), encode_skiptoken(offset + top)));
            let qs: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(q)
                .finish();
            body.insert(
                "@odata.nextLink".into(),
                Value::String(format!("{}{}?{qs}", self.sh.base_url, self.req.raw_path)),
            );
        }
        body.insert("value".into(), Value::Array(page));
        Ok(self.ok(Value::Object(body)))
    }
}

pub(super) fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

fn encode_skiptoken(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("RFNwdAIAAQAAAB{offset:08x}"))
}

fn decode_skiptoken(tok: &str) -> Option<usize> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok)
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    usize::from_str_radix(s.strip_prefix("RFNwdAIAAQAAAB")?, 16).ok()
}

/// Authenticates the bearer token against the emulated STS.
pub fn authenticate(sh: &Shared, t: &Tenant, req: &Req) -> Result<Claims, Resp> {
    let fail = |m: &str| {
        let mut r = graph_error(
            StatusCode::UNAUTHORIZED,
            req,
            "InvalidAuthenticationToken",
            m,
        );
        r.headers_mut().insert(
            "www-authenticate",
            hyper::header::HeaderValue::from_static(
                "Bearer realm=\"\", authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\", client_id=\"00000003-0000-0000-c000-000000000000\"",
            ),
        );
        r
    };
    let Some(token) = req.bearer() else {
        return Err(fail("Access token is empty."));
    };
    let claims =
        tokens::verify(token, &sh.token_public, t.now().unix_timestamp()).map_err(|e| match e {
            TokenError::Malformed => fail("IDX14100: JWT is not well formed."),
            TokenError::BadSignature => fail("Access token validation failure. Invalid signature."),
            TokenError::Expired => fail("Lifetime validation failed, the token is expired."),
            TokenError::NotYetValid => {
                fail("Lifetime validation failed, the token is not yet valid.")
            }
        })?;
    if claims.tid != t.tenant_id {
        return Err(fail("Access token validation failure. Invalid issuer."));
    }
    if claims.aud != tokens::GRAPH_AUDIENCE && claims.aud != "00000003-0000-0000-c000-000000000000"
    {
        return Err(fail("Access token validation failure. Invalid audience."));
    }
    Ok(claims)
}

/// Serves one Graph request. `segments` start after the version segment.
pub fn handle(
    sh: &Shared,
    t: &mut Tenant,
    req: &Req,
    version: &str,
    who: &Claims,
    segs: &[String],
) -> Outcome {
    let call = Call { sh, req, version };
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let m = &req.method;
    let result: Result<Outcome, Resp> = match (m.as_str(), l.as_slice()) {
        ("GET", ["domains"]) => list_domains(&call, t, who).map(Into::into),
        ("GET", ["domains", _]) => get_domain(&call, t, who, &segs[1]).map(Into::into),
        ("PATCH", ["domains", _]) => patch_domain(&call, t, who, &segs[1]),
        ("POST", ["domains", _, "promote"]) => promote(&call, t, who, &segs[1]),
        ("GET", ["domains", _, "federationconfiguration"]) => {
            list_federation(&call, t, who, &segs[1]).map(Into::into)
        }
        ("POST", ["domains", _, "federationconfiguration"]) => {
            create_federation(&call, t, who, &segs[1])
        }
        ("GET", ["domains", _, "federationconfiguration", _]) => {
            get_federation(&call, t, who, &segs[1], &segs[3]).map(Into::into)
        }
        ("PATCH", ["domains", _, "federationconfiguration", _]) => {
            update_federation(&call, t, who, &segs[1], &segs[3])
        }
        ("DELETE", ["domains", _, "federationconfiguration", _]) => {
            delete_federation(&call, t, who, &segs[1], &segs[3])
        }
        ("GET", ["organization"]) => organization(&call, t, who).map(Into::into),
        ("GET", ["directory", "onpremisessynchronization"]) => {
            list_sync(&call, t, who).map(Into::into)
        }
        ("GET", ["directory", "onpremisessynchronization", _]) => {
            get_sync(&call, t, who, &segs[2]).map(Into::into)
        }
        ("PATCH", ["directory", "onpremisessynchronization", _]) => {
            patch_sync(&call, t, who, &segs[2])
        }
        ("GET", ["users"]) => list_users(&call, t, who).map(Into::into),
        ("GET", ["users", _]) => get_user(&call, t, who, &segs[1]).map(Into::into),
        ("GET", ["me"]) => me(&call, t, who).map(Into::into),
        ("GET", ["groups"]) => list_groups(&call, t, who).map(Into::into),
        ("GET", ["groups", _]) => get_group(&call, t, who, &segs[1]).map(Into::into),
        ("GET", ["groups", _, "members"]) => list_members(&call, t, who, &segs[1]).map(Into::into),
        ("GET", ["policies", "featurerolloutpolicies"]) => {
            list_policies(&call, t, who).map(Into::into)
        }
        ("POST", ["policies", "featurerolloutpolicies"]) => create_policy(&call, t, who),
        ("GET", ["policies", "featurerolloutpolicies", _]) => {
            get_policy(&call, t, who, &segs[2]).map(Into::into)
        }
        ("PATCH", ["policies", "featurerolloutpolicies", _]) => {
            patch_policy(&call, t, who, &segs[2])
        }
        ("DELETE", ["policies", "featurerolloutpolicies", _]) => {
            delete_policy(&call, t, who, &segs[2])
        }
        ("POST", ["policies", "featurerolloutpolicies", _, "appliesto", "$ref"]) => {
            add_applies_to(&call, t, who, &segs[2])
        }
        (
            "DELETE",
            [
                "policies",
                "featurerolloutpolicies",
                _,
                "appliesto",
                _,
                "$ref",
            ],
        ) => remove_applies_to(&call, t, who, &segs[2], &segs[4]),
        _ => match super::sync_api::route(&call, t, who, &l, segs) {
            Some(r) => r,
            None => match super::audit::route(&call, t, who, &l) {
                Some(r) => r,
                None => Err(unrouted(&call, m, &l)),
            },
        },
    };
    result.unwrap_or_else(Into::into)
}

fn unrouted(call: &Call, m: &Method, l: &[&str]) -> Resp {
    let known_prefix = matches!(
        l,
        ["domains", ..]
            | ["organization"]
            | ["directory", "onpremisessynchronization", ..]
            | ["users", ..]
            | ["me"]
            | ["groups"]
            | ["policies", "featurerolloutpolicies", ..]
    );
    let shape_known = matches!(
        l,
        ["domains"]
            | ["domains", _]
            | ["domains", _, "promote"]
            | ["domains", _, "federationconfiguration"]
            | ["domains", _, "federationconfiguration", _]
            | ["organization"]
            | ["directory", "onpremisessynchronization"]
            | ["directory", "onpremisessynchronization", _]
            | ["users"]
            | ["users", _]
            | ["me"]
            | ["groups"]
            | ["policies", "featurerolloutpolicies"]
            | ["policies", "featurerolloutpolicies", _]
            | ["policies", "featurerolloutpolicies", _, "appliesto", "$ref"]
            | [
                "policies",
                "featurerolloutpolicies",
                _,
                "appliesto",
                _,
                "$ref"
            ]
    );
    if known_prefix && shape_known {
        return graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            call.req,
            "Request_BadRequest",
            &format!("The requested resource does not support http method '{m}'."),
        );
    }
    let segment = l.iter().find(|s| !s.is_empty()).copied().unwrap_or("");
    graph_error(
        StatusCode::BAD_REQUEST,
        call.req,
        "BadRequest",
        &format!("Resource not found for the segment '{}'.", short(segment)),
    )
}

// ---- domains -------------------------------------------------------------------------------------

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
    let items: Vec<Value> = (0..t.domains.len())
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
        .collect();
    let ctx = match &select {
        Some(s) => call.context(&format!("domains({})", s.join(","))),
        None => call.context("domains"),
    };
    call.page(items, t.limits.page_size, ctx, None)
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
    d.federation = Some(fed.clone());
    d.domain.authentication_type = Some(AuthenticationType::Federated);
    t.mark_changed(idx, before, now.unix_timestamp(), call.sh.delay);
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
    t.domains[idx].federation = Some(updated);
    t.mark_changed(idx, before, now.unix_timestamp(), call.sh.delay);
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
        verified_domains: Some(
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
                .collect(),
        ),
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

fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                if v.is_object() && a.get(k).is_some_and(Value::is_object) {
                    if let Some(slot) = a.get_mut(k) {
                        merge(slot, v);
                    }
                } else {
                    a.insert(k.clone(), v.clone());
                }
            }
        }
        (slot, v) => *slot = v.clone(),
    }
}

// ---- users and groups ----------------------------------------------------------------------------

const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "User.ReadBasic.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

fn user_json(u: &UserRec) -> Value {
    let mail = if u.synced { Some(u.upn.clone()) } else { None };
    let mut m = Map::new();
    let s = |x: &Option<String>| x.clone().map(Value::String).unwrap_or(Value::Null);
    m.insert("businessPhones".into(), json!([]));
    m.insert("displayName".into(), json!(u.display_name));
    m.insert("givenName".into(), s(&u.given_name));
    m.insert("jobTitle".into(), s(&u.job_title));
    m.insert("mail".into(), s(&mail));
    m.insert("mobilePhone".into(), Value::Null);
    m.insert("officeLocation".into(), Value::Null);
    m.insert("preferredLanguage".into(), json!("en-US"));
    m.insert("surname".into(), s(&u.surname));
    m.insert("userPrincipalName".into(), json!(u.upn));
    m.insert("id".into(), json!(u.id));
    m.insert("accountEnabled".into(), json!(u.enabled));
    m.insert(
        "onPremisesSyncEnabled".into(),
        if u.synced { json!(true) } else { Value::Null },
    );
    m.insert("onPremisesImmutableId".into(), s(&u.immutable_id));
    m.insert(
        "onPremisesLastSyncDateTime".into(),
        u.last_sync
            .map(|t| json!(graph_time(unix(t))))
            .unwrap_or(Value::Null),
    );
    m.insert("userType".into(), json!("Member"));
    m.insert(
        "onPremisesDomainName".into(),
        if u.synced {
            json!("corp.contoso.com")
        } else {
            Value::Null
        },
    );
    Value::Object(m)
}

fn shape_user(u: &UserRec, select: Option<&[String]>) -> Value {
    let v = user_json(u);
    match select {
        Some(s) => schema::apply_select(
            v,
            &s.iter().map(String::as_str).collect::<Vec<_>>(),
            USER_PROPS,
        ),
        None => schema::apply_select(v, USER_DEFAULT, USER_PROPS),
    }
}

pub(super) enum Filter {
    EndsWith(String, String),
    StartsWith(String, String),
    Eq(String, Value),
}

pub(super) fn parse_filter(f: &str) -> Result<Filter, String> {
    let f = f.trim();
    let quoted = |s: &str| -> Option<String> {
        let s = s.trim();
        let inner = s.strip_prefix('\'')?.strip_suffix('\'')?;
        Some(inner.replace("''", "'"))
    };
    for (name, ctor) in [("endswith", 0), ("startswith", 1)] {
        if let Some(head) = f
            .get(..name.len())
            .filter(|h| f.len() > name.len() && h.eq_ignore_ascii_case(name))
        {
            let rest = f[head.len()..].trim();
            let inner = rest
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| format!("Syntax error at position {} in '{f}'.", name.len()))?;
            let (prop, lit) = inner
                .split_once(',')
                .ok_or_else(|| format!("Syntax error in '{f}'."))?;
            let lit = quoted(lit).ok_or_else(|| format!("Syntax error in '{f}'."))?;
            let prop = prop.trim().to_string();
            return Ok(if ctor == 0 {
                Filter::EndsWith(prop, lit)
            } else {
                Filter::StartsWith(prop, lit)
            });
        }
    }
    let parts: Vec<&str> = f.splitn(3, ' ').collect();
    if let [prop, op, lit] = parts.as_slice()
        && op.eq_ignore_ascii_case("eq")
    {
        let value = match quoted(lit) {
            Some(s) => Value::String(s),
            None if lit.eq_ignore_ascii_case("true") => Value::Bool(true),
            None if lit.eq_ignore_ascii_case("false") => Value::Bool(false),
            None => return Err(format!("Syntax error in '{f}'.")),
        };
        return Ok(Filter::Eq(prop.to_string(), value));
    }
    Err(format!(
        "Invalid filter clause: syntax error in '{}'.",
        short(f)
    ))
}

fn list_users(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, USER_READ, None)?;
    let select = call.select("microsoft.graph.user", USER_PROPS)?;
    let eventual = call
        .req
        .header("consistencylevel")
        .is_some_and(|v| v.eq_ignore_ascii_case("eventual"));
    let count = match call.req.query("$count") {
        None => false,
        Some(c) if c.eq_ignore_ascii_case("true") => true,
        Some(c) if c.eq_ignore_ascii_case("false") => false,
        Some(c) => return Err(call.bad(&format!("Invalid value '{}' for $count.", short(c)))),
    };
    if count && !eventual {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            call.req,
            "Request_BadRequest",
            "$count is not currently supported without the 'ConsistencyLevel: eventual' header.",
        ));
    }
    let mut users: Vec<&UserRec> = t.users.iter().collect();
    if let Some(f) = call.req.query("$filter") {
        let filter = parse_filter(f).map_err(|m| call.bad(&m))?;
        let unsupported = |prop: &str| {
            graph_error(
                StatusCode::BAD_REQUEST,
                call.req,
                "Request_UnsupportedQuery",
                &format!(
                    "Unsupported or invalid query filter clause specified for property '{}' of resource 'User'.",
                    short(prop)
                ),
            )
        };
        let field = |u: &UserRec, prop: &str| -> Option<Value> {
            user_json(u).as_object().and_then(|m| {
                m.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(prop))
                    .map(|(_, v)| v.clone())
            })
        };
        match filter {
            Filter::EndsWith(prop, suffix) => {
                if !["userPrincipalName", "mail", "displayName"]
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(&prop))
                {
                    return Err(unsupported(&prop));
                }
                if !(eventual && count) {
                    return Err(graph_error(
                        StatusCode::BAD_REQUEST,
                        call.req,
                        "Request_UnsupportedQuery",
                        "Operator 'endsWith' is not supported because the 'ConsistencyLevel:eventual' header is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more information",
                    ));
                }
                let suffix = suffix.to_lowercase();
                users.retain(|u| {
                    field(u, &prop)
                        .and_then(|v| v.as_str().map(|s| s.to_lowercase().ends_with(&suffix)))
                        .unwrap_or(false)
                });
            }
            Filter::StartsWith(prop, prefix) => {
                if ![
                    "userPrincipalName",
                    "mail",
                    "displayName",
                    "givenName",
                    "surname",
                ]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&prop))
                {
                    return Err(unsupported(&prop));
                }
                let prefix = prefix.to_lowercase();
                users.retain(|u| {
                    field(u, &prop)
                        .and_then(|v| v.as_str().map(|s| s.to_lowercase().starts_with(&prefix)))
                        .unwrap_or(false)
                });
            }
            Filter::Eq(prop, value) => {
                if ![
                    "userPrincipalName",
                    "id",
                    "mail",
                    "displayName",
                    "onPremisesSyncEnabled",
                    "accountEnabled",
                    "onPremisesImmutableId",
                ]
                .iter()
                .any(|p| p.eq_ignore_ascii_case(&prop))
                {
                    return Err(unsupported(&prop));
                }
                users.retain(|u| match (field(u, &prop), &value) {
                    (Some(Value::String(a)), Value::String(b)) => a.eq_ignore_ascii_case(b),
                    (Some(a), b) => &a == b,
                    _ => false,
                });
            }
        }
    }
    let total = users.len();
    let items = users
        .into_iter()
        .map(|u| shape_user(u, select.as_deref()))
        .collect();
    let ctx = match &select {
        Some(s) => call.context(&format!("users({})", s.join(","))),
        None => call.context("users"),
    };
    call.page(items, t.limits.page_size, ctx, count.then_some(total))
}

fn get_user(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, USER_READ, None)?;
    let select = call.select("microsoft.graph.user", USER_PROPS)?;
    let u = t
        .users
        .iter()
        .find(|u| u.id.eq_ignore_ascii_case(id) || u.upn.eq_ignore_ascii_case(id))
        .ok_or_else(|| call.not_found(&short(id)))?;
    let mut v = shape_user(u, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("users/$entity")),
        );
    }
    Ok(call.ok(v))
}

fn me(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    if who.is_app() {
        return Err(graph_error(
            StatusCode::BAD_REQUEST,
            call.req,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    let select = call.select("microsoft.graph.user", USER_PROPS)?;
    let u = t
        .users
        .iter()
        .find(|u| u.id == who.oid)
        .ok_or_else(|| call.not_found(&who.oid))?;
    let mut v = shape_user(u, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("users/$entity")),
        );
    }
    Ok(call.ok(v))
}

const GROUP_READ: &[&str] = &[
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

fn group_json(t: &Tenant, g: &GroupRec) -> Value {
    json!({
        "id": g.id, "displayName": g.display_name, "description": null, "mailEnabled": false,
        "securityEnabled": true,
        "groupTypes": if g.dynamic { json!(["DynamicMembership"]) } else { json!([]) },
        "membershipRule": if g.dynamic { json!("(user.department -eq \"Staff\")") } else { Value::Null },
        "membershipRuleProcessingState": if g.dynamic { json!("On") } else { Value::Null },
        "onPremisesSyncEnabled": if g.dynamic { Value::Null } else { json!(true) },
        "mail": null, "mailNickname": g.display_name.replace(' ', "").to_lowercase(),
        "createdDateTime": graph_time(unix(t.created)), "visibility": null, "deletedDateTime": null,
    })
}

fn shape_group(t: &Tenant, g: &GroupRec, select: Option<&[String]>) -> Value {
    let v = group_json(t, g);
    match select {
        Some(s) => schema::apply_select(
            v,
            &s.iter().map(String::as_str).collect::<Vec<_>>(),
            GROUP_PROPS,
        ),
        None => v,
    }
}

fn list_groups(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, GROUP_READ, None)?;
    let select = call.select("microsoft.graph.group", GROUP_PROPS)?;
    let mut groups: Vec<&GroupRec> = t.groups.iter().collect();
    if let Some(f) = call.req.query("$filter") {
        match parse_filter(f).map_err(|m| call.bad(&m))? {
            Filter::Eq(prop, Value::String(v)) if prop.eq_ignore_ascii_case("displayName") => {
                groups.retain(|g| g.display_name.eq_ignore_ascii_case(&v))
            }
            Filter::Eq(prop, Value::String(v)) if prop.eq_ignore_ascii_case("id") => {
                groups.retain(|g| g.id.eq_ignore_ascii_case(&v))
            }
            Filter::StartsWith(prop, v) if prop.eq_ignore_ascii_case("displayName") => {
                let v = v.to_lowercase();
                groups.retain(|g| g.display_name.to_lowercase().starts_with(&v))
            }
            Filter::Eq(prop, _) | Filter::StartsWith(prop, _) | Filter::EndsWith(prop, _) => {
                return Err(graph_error(
                    StatusCode::BAD_REQUEST,
                    call.req,
                    "Request_UnsupportedQuery",
                    &format!(
                        "Unsupported or invalid query filter clause specified for property '{}' of resource 'Group'.",
                        short(&prop)
                    ),
                ));
            }
        }
    }
    let items = groups
        .into_iter()
        .map(|g| shape_group(t, g, select.as_deref()))
        .collect();
    call.page(items, t.limits.page_size, call.context("groups"), None)
}

fn find_group<'a>(call: &Call, t: &'a Tenant, id: &str) -> Result<&'a GroupRec, Resp> {
    t.groups
        .iter()
        .find(|g| g.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| call.not_found(&short(id)))
}

fn get_group(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, GROUP_READ, None)?;
    let select = call.select("microsoft.graph.group", GROUP_PROPS)?;
    let g = find_group(call, t, id)?;
    let mut v = shape_group(t, g, select.as_deref());
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("groups/$entity")),
        );
    }
    Ok(call.ok(v))
}

/// `GET /groups/{id}/members`: direct members as directory objects, each with its `@odata.type`.
fn list_members(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, GROUP_READ, None)?;
    let select = call.select(
        "microsoft.graph.directoryObject",
        &["id", "displayName", "userPrincipalName"],
    )?;
    let g = find_group(call, t, id)?;
    let mut items: Vec<Value> = vec![];
    for uid in &g.members {
        if let Some(u) = t.users.iter().find(|u| &u.id == uid) {
            items.push(json!({"@odata.type": "#microsoft.graph.user", "id": u.id,
                "displayName": u.display_name, "userPrincipalName": u.upn}));
        }
    }
    for gid in &g.member_groups {
        if let Some(o) = t.groups.iter().find(|o| &o.id == gid) {
            items.push(json!({"@odata.type": "#microsoft.graph.group", "id": o.id, "displayName": o.display_name}));
        }
    }
    for (k, cid) in g.contacts.iter().enumerate() {
        items.push(
            json!({"@odata.type": "#microsoft.graph.orgContact", "id": cid,
            "displayName": format!("Partner contact {}", k + 1)}),
        );
    }
    if let Some(s) = &select {
        items = items
            .into_iter()
            .map(|v| {
                let kind = v.get("@odata.type").cloned();
                let mut out = serde_json::Map::new();
                if let Some(k) = kind {
                    out.insert("@odata.type".into(), k);
                }
                for p in s {
                    if let Some(x) = v.get(p.as_str()) {
                        out.insert(p.clone(), x.clone());
                    }
                }
                Value::Object(out)
            })
            .collect();
    }
    let top = t.limits.page_size;
    call.page(items, top, call.context("directoryObjects"), None)
}

// ---- staged rollout ------------------------------------------------------------------------------

const POLICY_READ: &[&str] = &[
    "Policy.Read.HybridAuthentication",
    "Policy.ReadWrite.HybridAuthentication",
    "Policy.ReadWrite.FeatureRollout",
    "Policy.Read.All",
    "Directory.ReadWrite.All",
];
const POLICY_WRITE: &[&str] = &[
    "Policy.ReadWrite.HybridAuthentication",
    "Policy.ReadWrite.FeatureRollout",
    "Directory.ReadWrite.All",
];
const POLICY_ROLES: &[&str] = &[GLOBAL_ADMIN, HYBRID_IDENTITY_ADMIN];

fn policy_json(call: &Call, t: &Tenant, p: &PolicyRec) -> Value {
    let mut v = serde_json::to_value(&p.policy).unwrap_or(Value::Null);
    let expand = call
        .req
        .query("$expand")
        .is_some_and(|e| e.eq_ignore_ascii_case("appliesTo"));
    if expand && let Value::Object(m) = &mut v {
        let groups: Vec<Value> = p
            .applies_to
            .iter()
            .map(|id| {
                let name = t
                    .groups
                    .iter()
                    .find(|g| &g.id == id)
                    .map(|g| g.display_name.clone());
                json!({"@odata.type": "#microsoft.graph.group", "id": id, "displayName": name})
            })
            .collect();
        m.insert("appliesTo".into(), Value::Array(groups));
    }
    v
}

fn list_policies(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, POLICY_READ, None)?;
    call.select("microsoft.graph.featureRolloutPolicy", POLICY_PROPS)?;
    let items = t.policies.iter().map(|p| policy_json(call, t, p)).collect();
    call.page(
        items,
        t.limits.page_size,
        call.context("policies/featureRolloutPolicies"),
        None,
    )
}

fn find_policy(call: &Call, t: &Tenant, id: &str) -> Result<usize, Resp> {
    t.policies
        .iter()
        .position(|p| {
            p.policy
                .id
                .as_deref()
                .is_some_and(|i| i.eq_ignore_ascii_case(id))
        })
        .ok_or_else(|| call.not_found(&short(id)))
}

fn get_policy(call: &Call, t: &Tenant, who: &Claims, id: &str) -> Result<Resp, Resp> {
    call.allow(who, POLICY_READ, None)?;
    let idx = find_policy(call, t, id)?;
    let mut v = policy_json(call, t, &t.policies[idx]);
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("policies/featureRolloutPolicies/$entity")),
        );
    }
    Ok(call.ok(v))
}

fn create_policy(call: &Call, t: &mut Tenant, who: &Claims) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let body = call.body()?;
    let obj = schema::check(&schema::FEATURE_ROLLOUT_POLICY, &body).map_err(|i| call.invalid(i))?;
    for required in ["displayName", "feature"] {
        if obj.get(required).is_none_or(Value::is_null) {
            return Err(call.bad(&format!("Property '{required}' is required.")));
        }
    }
    let mut policy: FeatureRolloutPolicy =
        serde_json::from_value(body.clone()).map_err(|e| call.bad(&short(&e.to_string())))?;
    if t.policies
        .iter()
        .any(|p| p.policy.feature == policy.feature)
    {
        return Err(call.bad(&format!(
            "A feature rollout policy for feature '{}' already exists.",
            policy
                .feature
                .as_ref()
                .map(StagedFeatureName::as_str)
                .unwrap_or_default()
        )));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    policy.id = Some(uuid::Uuid::new_v4().to_string());
    policy.is_enabled.get_or_insert(false);
    policy.is_applied_to_organization.get_or_insert(false);
    policy.description.get_or_insert_with(String::new);
    t.policies.push(PolicyRec {
        policy: policy.clone(),
        applies_to: vec![],
    });
    let mut v = serde_json::to_value(&policy).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert(
            "@odata.context".into(),
            Value::String(call.context("policies/featureRolloutPolicies/$entity")),
        );
    }
    Ok(Outcome {
        resp: json_resp(StatusCode::CREATED, call.req, &v),
        changed: true,
    })
}

fn patch_policy(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let body = call.body()?;
    let obj = schema::check(&schema::FEATURE_ROLLOUT_POLICY, &body).map_err(|i| call.invalid(i))?;
    if obj.contains_key("feature") || obj.contains_key("id") {
        return Err(call.bad("Property 'feature' is read-only once the policy exists."));
    }
    let idx = find_policy(call, t, id)?;
    let mut merged = serde_json::to_value(&t.policies[idx].policy).unwrap_or(Value::Null);
    merge(&mut merged, &body);
    let policy: FeatureRolloutPolicy =
        serde_json::from_value(merged).map_err(|e| call.bad(&short(&e.to_string())))?;
    call.sh.throttle(call.req, who, &t.limits)?;
    t.policies[idx].policy = policy;
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

fn delete_policy(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let idx = find_policy(call, t, id)?;
    call.sh.throttle(call.req, who, &t.limits)?;
    t.policies.remove(idx);
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

fn add_applies_to(call: &Call, t: &mut Tenant, who: &Claims, id: &str) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let body = call.body()?;
    let reference = body
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.get("@odata.id"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            call.bad("The request body must be a JSON object with a single '@odata.id' property.")
        })?;
    let object_id = reference
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|s| uuid::Uuid::parse_str(s).is_ok())
        .ok_or_else(|| {
            call.bad(&format!(
                "Invalid object identifier '{}'.",
                short(reference)
            ))
        })?
        .to_string();
    let idx = find_policy(call, t, id)?;
    let group = t
        .groups
        .iter()
        .find(|g| g.id.eq_ignore_ascii_case(&object_id))
        .ok_or_else(|| call.not_found(&object_id))?;
    if group.dynamic {
        return Err(call.bad("Dynamic groups are not supported for feature rollout."));
    }
    if !group.member_groups.is_empty() {
        return Err(call.bad("Nested groups are not supported for feature rollout."));
    }
    if !group.contacts.is_empty() {
        return Err(
            call.bad("Groups that contain contact objects are not supported for feature rollout.")
        );
    }
    let group_id = group.id.clone();
    let p = &t.policies[idx];
    if p.applies_to
        .iter()
        .any(|g| g.eq_ignore_ascii_case(&group_id))
    {
        return Err(call.bad(
            "One or more added object references already exist for the following modified properties: 'appliesTo'.",
        ));
    }
    if p.applies_to.len() >= 10 {
        return Err(call.bad("A feature rollout policy can be applied to at most 10 groups."));
    }
    call.sh.throttle(call.req, who, &t.limits)?;
    t.policies[idx].applies_to.push(group_id.clone());
    let body = json!({"directoryObject": {"id": group_id, "objectType": "group"}});
    Ok(Outcome {
        resp: json_resp(StatusCode::CREATED, call.req, &body),
        changed: true,
    })
}

fn remove_applies_to(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    id: &str,
    object_id: &str,
) -> Result<Outcome, Resp> {
    call.allow(who, POLICY_WRITE, Some(POLICY_ROLES))?;
    let idx = find_policy(call, t, id)?;
    let pos = t.policies[idx]
        .applies_to
        .iter()
        .position(|g| g.eq_ignore_ascii_case(object_id))
        .ok_or_else(|| call.not_found(&short(object_id)))?;
    call.sh.throttle(call.req, who, &t.limits)?;
    t.policies[idx].applies_to.remove(pos);
    Ok(Outcome {
        resp: no_content(call.req),
        changed: true,
    })
}

impl From<Outcome> for Resp {
    fn from(o: Outcome) -> Resp {
        o.resp
    }
}

/// Graph answers injected statuses the same way as real ones; kept here for the fault layer.
pub fn injected(req: &Req, status: StatusCode, retry_after: Option<&str>) -> Resp {
    graph_status_error(status, req, retry_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skiptokens_round_trip_and_reject_garbage() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(300)), Some(300));
        assert_eq!(decode_skiptoken("not-a-token"), None);
    }

    #[test]
    fn filters_with_non_ascii_text_are_refused_not_a_panic() {
        // A multi-byte character across the function name's length once split a character.
        for f in ["endswit€(a,'b')", "startswit€x", "ééééééééé", "€"] {
            let _ = parse_filter(f);
        }
    }

    #[test]
    fn filters_parse() {
        assert!(
            matches!(parse_filter("endswith(userPrincipalName,'@contoso.com')"), Ok(Filter::EndsWith(p, s)) if p == "userPrincipalName" && s == "@contoso.com")
        );
        assert!(
            matches!(parse_filter("userPrincipalName eq 'o''brien@x.com'"), Ok(Filter::Eq(_, Value::String(s))) if s == "o'brien@x.com")
        );
        assert!(parse_filter("endswith(userPrincipalName").is_err());
        assert!(parse_filter("x gt 1").is_err());
    }
}
