//! The Entra sign-in endpoints: the v2.0 token endpoint (client credentials with a secret or a
//! certificate assertion, password, refresh token, device code), the device authorization endpoint,
//! user realm discovery and OpenID discovery, with AADSTS errors as Entra words them.

use std::time::Instant;

use hyper::StatusCode;
use serde_json::{Value, json};

use super::http::{Req, Resp, aadsts, field, json as json_resp, text};
use super::state::{FarmState, SignInRec, Tenant, UserRec};
use super::tokens::{self, Claims, GRAPH_AUDIENCE};
use super::{DeviceGrant, RefreshGrant, Shared, lock};
use crate::graph::models::AuthenticationType;

/// Azure CLI's public client id: `az login` tokens come from it.
pub const AZURE_CLI_CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

pub fn handle(sh: &Shared, req: &Req, segs: &[String]) -> Option<Resp> {
    let l: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = l.iter().map(String::as_str).collect();
    let m = req.method.as_str();
    let resp = match (m, l.as_slice()) {
        ("GET", [_, "userrealm", _]) => {
            sh.with_tenant(|t| (user_realm(sh, t, req, &segs[2]), false))
        }
        ("GET", [_, "userrealm"]) => {
            let upn = req.query("user").unwrap_or_default().to_string();
            sh.with_tenant(|t| (user_realm(sh, t, req, &upn), false))
        }
        ("POST", [tenant, "oauth2", "v2.0", "token"]) => sh.with_tenant_change(|t| {
            let (resp, logged) = token(sh, t, req, tenant);
            (
                resp,
                (logged > 0).then_some(super::state::Change::SignIns(logged)),
            )
        }),
        ("POST", [tenant, "oauth2", "v2.0", "devicecode"]) => {
            sh.with_tenant(|t| (device_code(sh, t, req, tenant), false))
        }
        ("GET", [_, "oauth2", "deviceauth"]) => Ok(device_page(req, None, StatusCode::OK)),
        ("POST", [_, "oauth2", "deviceauth"]) => {
            sh.with_tenant(|t| (device_approve(sh, t, req), false))
        }
        ("GET", [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            sh.with_tenant(|t| (openid_configuration(sh, t, req, tenant), false))
        }
        ("GET", [tenant, "discovery", "v2.0", "keys"]) => {
            sh.with_tenant(|t| (keys(sh, t, req, tenant), false))
        }
        // Microsoft 365's metadata as a relying party (nexus.microsoftonline-p.com in a real
        // tenant, whose host the rehearsal answers for): what a trust-reset script takes.
        ("GET", ["federationmetadata", "2007-06", "federationmetadata.xml"]) => {
            sh.with_tenant(|t| {
                let xml = super::adfs::microsoft_metadata(&t.token_key.cert_b64, &sh.base_url);
                (
                    text(StatusCode::OK, req, "application/samlmetadata+xml", xml),
                    false,
                )
            })
        }
        _ => return None,
    };
    Some(resp.unwrap_or_else(|e| {
        super::http::graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            req,
            "ServiceUnavailable",
            &e.to_string(),
        )
    }))
}

fn err(sh: &Shared, req: &Req, status: StatusCode, error: &str, code: u32, message: &str) -> Resp {
    aadsts(status, req, error, code, message, &sh.base_url)
}

/// Whether a tenant segment names this tenant (its id, one of its domains, or a multi-tenant alias).
fn tenant_matches(t: &Tenant, seg: &str) -> bool {
    seg.eq_ignore_ascii_case(&t.tenant_id)
        || ["common", "organizations"].contains(&seg)
        || t.domain_index(seg).is_some()
}

fn unknown_tenant(sh: &Shared, req: &Req, seg: &str) -> Resp {
    err(
        sh,
        req,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        90002,
        &format!(
            "Tenant '{}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.",
            seg.chars().take(100).collect::<String>()
        ),
    )
}

fn user_realm(sh: &Shared, t: &Tenant, req: &Req, upn: &str) -> Resp {
    let version = req.query("api-version").unwrap_or("1.0");
    let domain = upn
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or(upn)
        .to_string();
    let now = t.now().unix_timestamp();
    let realm = t
        .domain_index(&domain)
        .filter(|&i| t.domains[i].domain.is_verified == Some(true))
        .map(|i| t.realm(i, now, sh.delay));
    // A staged-rollout pilot of a federated domain is sent to Entra's own sign-in page.
    let staged = t
        .user_by_upn(upn)
        .is_some_and(|u| u.synced && t.staged_phs(&u.id));
    let kind = match &realm {
        None => "Unknown",
        Some(r) if r.auth == AuthenticationType::Federated && r.federation.is_some() && !staged => {
            "Federated"
        }
        Some(_) => "Managed",
    };
    let fed = realm
        .as_ref()
        .and_then(|r| r.federation.as_ref())
        .filter(|_| kind == "Federated");
    let body = match version {
        "1.0" => {
            let mut v = json!({"ver": "1.0", "account_type": kind, "domain_name": domain});
            if let Some(f) = fed {
                v["federation_protocol"] = json!("WSTrust");
                v["federation_metadata_url"] = json!(f.metadata_exchange_uri);
                v["federation_active_auth_url"] = json!(f.active_sign_in_uri);
            }
            v["cloud_instance_name"] = json!("microsoftonline.com");
            v["cloud_audience_urn"] = json!("urn:federation:MicrosoftOnline");
            v
        }
        "2.0" | "2.1" => {
            let mut v = json!({"NameSpaceType": kind, "Login": upn});
            if let Some(f) = fed {
                v["federation_protocol"] = json!("WSTrust");
                let passive = f.passive_sign_in_uri.clone().unwrap_or_default();
                let user: String = url::form_urlencoded::byte_serialize(upn.as_bytes()).collect();
                v["AuthURL"] = json!(format!(
                    "{passive}?username={user}&wa=wsignin1.0&wtrealm=urn%3afederation%3aMicrosoftOnline&wctx="
                ));
            }
            if kind != "Unknown" {
                v["DomainName"] = json!(domain);
                v["FederationBrandName"] = json!(t.display_name);
                v["TenantBrandingInfo"] = Value::Null;
            }
            v["cloud_instance_name"] = json!("microsoftonline.com");
            v
        }
        other => {
            return err(
                sh,
                req,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                90017,
                &format!(
                    "The api-version '{}' is not supported.",
                    other.chars().take(20).collect::<String>()
                ),
            );
        }
    };
    json_resp(StatusCode::OK, req, &body)
}

/// The scopes a delegated token carries: what the client asked for, within what was consented.
fn delegated_scopes(t: &Tenant, client_id: &str, requested: &str) -> Result<String, String> {
    let mut consented: Vec<String> = t.app.scopes.clone();
    if client_id == AZURE_CLI_CLIENT {
        consented.push("Directory.AccessAsUser.All".into());
    }
    let mut granted: Vec<String> = vec![];
    for s in requested.split(' ').filter(|s| !s.is_empty()) {
        if ["openid", "profile", "offline_access", "email"].contains(&s) {
            continue;
        }
        let (resource, name) = s.rsplit_once('/').unwrap_or((GRAPH_AUDIENCE, s));
        if resource != GRAPH_AUDIENCE && resource != GRAPH_APP_ID {
            return Err(resource.to_string());
        }
        if name == ".default" {
            granted.extend(consented.iter().cloned());
        } else if consented.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            granted.push(name.to_string());
        }
    }
    granted.sort();
    granted.dedup();
    Ok(granted.join(" "))
}

fn user_claims(t: &Tenant, user: &UserRec, client_id: &str, scp: String, now: i64) -> Claims {
    Claims {
        aud: GRAPH_AUDIENCE.into(),
        iss: format!("https://sts.windows.net/{}/", t.tenant_id),
        iat: now,
        nbf: now,
        exp: now + t.limits.token_lifetime_s,
        tid: t.tenant_id.clone(),
        oid: user.id.clone(),
        sub: user.id.clone(),
        appid: client_id.into(),
        app_displayname: if client_id == AZURE_CLI_CLIENT {
            "Microsoft Azure CLI".into()
        } else {
            t.app.display_name.clone()
        },
        idtyp: "user".into(),
        scp: Some(scp),
        roles: None,
        wids: Some(user.roles.clone()),
        upn: Some(user.upn.clone()),
        name: Some(user.display_name.clone()),
        uti: uuid::Uuid::new_v4().simple().to_string(),
        ver: "1.0".into(),
    }
}

fn token_response(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    claims: &Claims,
    refresh: Option<String>,
    openid: bool,
) -> Resp {
    let key = match t.token_key.private_key() {
        Ok(k) => k,
        Err(e) => {
            return super::http::graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                req,
                "ServiceUnavailable",
                &e.to_string(),
            );
        }
    };
    let Ok(access) = tokens::sign(claims, &key, &sh.token_kid) else {
        return super::http::graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            req,
            "ServiceUnavailable",
            "token signing failed",
        );
    };
    let scope = match (&claims.scp, &claims.roles) {
        (Some(s), _) => s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(|s| format!("{GRAPH_AUDIENCE}/{s}"))
            .collect::<Vec<_>>()
            .join(" "),
        _ => format!("{GRAPH_AUDIENCE}/.default"),
    };
    let lifetime = claims.exp - claims.iat;
    let mut body = json!({
        "token_type": "Bearer",
        "scope": scope,
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    });
    if let Some(r) = refresh {
        body["refresh_token"] = json!(r);
    }
    if openid {
        let id_claims = json!({
            "aud": claims.appid, "iss": format!("{}/{}/v2.0", sh.base_url, t.tenant_id), "iat": claims.iat,
            "nbf": claims.nbf, "exp": claims.exp, "name": claims.name, "oid": claims.oid,
            "preferred_username": claims.upn, "sub": claims.sub, "tid": claims.tid, "ver": "2.0",
        });
        if let Ok(id) = tokens::sign(&id_claims, &key, &sh.token_kid) {
            body["id_token"] = json!(id);
        }
    }
    let mut resp = json_resp(StatusCode::OK, req, &body);
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    resp.headers_mut().insert(
        "cache-control",
        hyper::header::HeaderValue::from_static("no-store, no-cache"),
    );
    resp
}

/// A token request's answer, and how many sign-ins it added to the log.
fn token(sh: &Shared, t: &mut Tenant, req: &Req, tenant: &str) -> (Resp, usize) {
    if !tenant_matches(t, tenant) {
        return (unknown_tenant(sh, req, tenant), 0);
    }
    let form = req.form();
    if field(&form, "grant_type") == Some("password")
        && let Some(client_id) = field(&form, "client_id").map(str::to_string)
        && known_client(sh, t, req, &client_id).is_ok()
    {
        let now = t.now().unix_timestamp();
        let (resp, rec) = password_grant(sh, t, req, &form, &client_id, now);
        return match rec {
            Some(rec) => {
                t.add_signins(vec![rec]);
                (resp, 1)
            }
            None => (resp, 0),
        };
    }
    if field(&form, "grant_type") == Some("urn:ietf:params:oauth:grant-type:device_code")
        && let Some(client_id) = field(&form, "client_id").map(str::to_string)
        && known_client(sh, t, req, &client_id).is_ok()
    {
        return device_grant_logged(sh, t, req, &client_id);
    }
    (other_grant(sh, t, req), 0)
}

fn other_grant(sh: &Shared, t: &mut Tenant, req: &Req) -> Resp {
    let form = req.form();
    let Some(grant) = field(&form, "grant_type") else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        );
    };
    let Some(client_id) = field(&form, "client_id").map(str::to_string) else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    if let Err(r) = known_client(sh, t, req, &client_id) {
        return r;
    }
    let now = t.now().unix_timestamp();
    match grant {
        "client_credentials" => client_credentials(sh, t, req, &form, &client_id, now),
        "password" => password_grant(sh, t, req, &form, &client_id, now).0,
        "refresh_token" => refresh_grant(sh, t, req, &form, &client_id, now),
        "urn:ietf:params:oauth:grant-type:saml1_1-bearer" => {
            saml_grant(sh, t, req, &form, &client_id, now)
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            device_grant(sh, t, req, &form, &client_id, now)
        }
        other => err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!(
                "The app requested an unsupported grant type '{}'.",
                other.chars().take(100).collect::<String>()
            ),
        ),
    }
}

/// The rehearsal app and Azure CLI are the clients this tenant knows; others get AADSTS700016.
fn known_client(sh: &Shared, t: &Tenant, req: &Req, client_id: &str) -> Result<(), Resp> {
    if client_id.eq_ignore_ascii_case(&t.app.client_id) || client_id == AZURE_CLI_CLIENT {
        return Ok(());
    }
    Err(err(
        sh,
        req,
        StatusCode::BAD_REQUEST,
        "unauthorized_client",
        700016,
        &format!(
            "Application with identifier '{}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
            client_id.chars().take(100).collect::<String>(),
            t.display_name
        ),
    ))
}

fn client_credentials(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    form: &[(String, String)],
    client_id: &str,
    now: i64,
) -> Resp {
    if client_id == AZURE_CLI_CLIENT {
        return err(
            sh,
            req,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    if let Err(r) = authenticate_client(sh, t, req, form, now) {
        return r;
    }
    let Some(scope) = field(form, "scope") else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    let Some(resource) = scope.trim().strip_suffix("/.default") else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                scope.chars().take(200).collect::<String>()
            ),
        );
    };
    if resource != GRAPH_AUDIENCE && resource != GRAPH_APP_ID {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            &format!(
                "The resource principal named {} was not found in the tenant named {}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.",
                resource.chars().take(200).collect::<String>(),
                t.display_name
            ),
        );
    }
    let claims = Claims {
        aud: GRAPH_AUDIENCE.into(),
        iss: format!("https://sts.windows.net/{}/", t.tenant_id),
        iat: now,
        nbf: now,
        exp: now + t.limits.token_lifetime_s,
        tid: t.tenant_id.clone(),
        oid: uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, t.app.client_id.as_bytes()).to_string(),
        sub: t.app.client_id.clone(),
        appid: t.app.client_id.clone(),
        app_displayname: t.app.display_name.clone(),
        idtyp: "app".into(),
        scp: None,
        roles: Some(t.app.roles.clone()),
        wids: Some(vec!["0997a1d0-0d1d-4acb-b408-d5ca73121e90".into()]),
        upn: None,
        name: None,
        uti: uuid::Uuid::new_v4().simple().to_string(),
        ver: "1.0".into(),
    };
    token_response(sh, t, req, &claims, None, false)
}

/// Checks a confidential client's secret or certificate assertion.
fn authenticate_client(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    form: &[(String, String)],
    now: i64,
) -> Result<(), Resp> {
    if let Some(secret) = field(form, "client_secret") {
        if super::http::same_secret(secret, &t.secrets.client_secret) {
            return Ok(());
        }
        return Err(err(
            sh,
            req,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            &format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                t.app.client_id
            ),
        ));
    }
    let Some(assertion) = field(form, "client_assertion") else {
        return Err(err(
            sh,
            req,
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if field(form, "client_assertion_type")
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return Err(err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            "The client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
        ));
    }
    let bad =
        |code: u32, m: &str| err(sh, req, StatusCode::UNAUTHORIZED, "invalid_client", code, m);
    let jwt = tokens::Jwt::parse(assertion)
        .map_err(|_| bad(50027, "JWT token is invalid or malformed."))?;
    let thumb = jwt
        .header
        .get("x5t")
        .and_then(Value::as_str)
        .map(str::to_string);
    let thumb256 = jwt
        .header
        .get("x5t#S256")
        .and_then(Value::as_str)
        .map(str::to_string);
    use base64::Engine;
    // azure_identity writes x5t in standard base64, the JWS spec in base64url: Entra takes both.
    let decode_thumb = |t: &str| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.trim_end_matches('='))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(t))
            .ok()
    };
    let thumb = thumb.as_deref().and_then(decode_thumb);
    let thumb256 = thumb256.as_deref().and_then(decode_thumb);
    let cert = t
        .app
        .certificates
        .iter()
        .filter_map(|c| base64::engine::general_purpose::STANDARD.decode(c).ok())
        .find(|der| {
            let digest = |alg| Some(ring::digest::digest(alg, der).as_ref().to_vec());
            let s1 = digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
            let s256 = digest(&ring::digest::SHA256);
            (thumb.is_some() && thumb == s1) || (thumb256.is_some() && thumb256 == s256)
        });
    let Some(der) = cert else {
        return Err(bad(
            700027,
            &format!(
                "The certificate with identifier used to sign the client assertion is not registered on application '{}'.",
                t.app.client_id
            ),
        ));
    };
    let key = tokens::public_key_of(&der)
        .ok_or_else(|| bad(700027, "Client assertion failed signature validation."))?;
    jwt.verify_assertion(&key)
        .map_err(|_| bad(700027, "Client assertion failed signature validation."))?;
    let p = &jwt.payload;
    let s = |k: &str| {
        p.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if s("iss") != t.app.client_id || s("sub") != t.app.client_id {
        return Err(bad(
            700023,
            "Client assertion audience or issuer claim does not match the client.",
        ));
    }
    let aud = s("aud");
    if !aud.starts_with(&sh.base_url) || !aud.ends_with("/oauth2/v2.0/token") {
        return Err(bad(
            700212,
            &format!(
                "No matching federated identity record found for presented assertion audience '{}'.",
                aud.chars().take(200).collect::<String>()
            ),
        ));
    }
    let exp = p.get("exp").and_then(Value::as_i64).unwrap_or(0);
    let nbf = p.get("nbf").and_then(Value::as_i64).unwrap_or(0);
    if now > exp + 300 || now + 300 < nbf {
        return Err(bad(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}

/// A refused sign-in: what the token endpoint answers.
struct Refusal {
    status: StatusCode,
    error: &'static str,
    code: u32,
    message: String,
}

impl Refusal {
    fn into_resp(self, sh: &Shared, req: &Req) -> Resp {
        err(sh, req, self.status, self.error, self.code, &self.message)
    }
}

/// Checks a user's password as Entra would for the domain's current sign-in type.
fn check_password(
    sh: &Shared,
    t: &Tenant,
    username: &str,
    password: &str,
    now: i64,
) -> Result<UserRec, Refusal> {
    let bad = |status: StatusCode, error: &'static str, code: u32, m: &str| {
        Err(Refusal {
            status,
            error,
            code,
            message: m.to_string(),
        })
    };
    let Some(user) = t.user_by_upn(username) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            &format!(
                "The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.",
                t.tenant_id
            ),
        );
    };
    if !user.enabled {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50057,
            "The user account is disabled.",
        );
    }
    let idx = t.domain_of_upn(&user.upn);
    let realm = idx.map(|i| t.realm(i, now, sh.delay));
    if let Some(r) = &realm
        && r.auth == AuthenticationType::Federated
        && user.synced
        && !t.staged_phs(&user.id)
    {
        // Entra does not take federated users' passwords: they belong to the farm (WS-Trust).
        let host = r
            .federation
            .as_ref()
            .and_then(|f| f.passive_sign_in_uri.as_deref())
            .and_then(|u| url::Url::parse(u).ok())
            .and_then(|u| u.host_str().map(str::to_string));
        let farm_down = host
            .and_then(|h| t.farms.get(&h))
            .is_some_and(|f| f.state == FarmState::Down);
        let reason = if farm_down {
            "Error validating credentials due to invalid username or password. The user's federated identity provider could not be reached."
        } else {
            "Error validating credentials due to invalid username or password. The user is federated: the password grant does not serve federated users."
        };
        return bad(StatusCode::BAD_REQUEST, "invalid_grant", 50126, reason);
    }
    if user.synced && !user.has_hash {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50056,
            "Invalid or null password: password does not exist in the directory for this user.",
        );
    }
    let expected = user
        .cloud_password
        .as_deref()
        .unwrap_or(&t.secrets.user_password);
    if !super::http::same_secret(password, expected) {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        );
    }
    Ok(user.clone())
}

fn issue_refresh(sh: &Shared, user: &UserRec, client_id: &str, scope: &str, now: i64) -> String {
    let token = format!(
        "0.{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    lock(&sh.grants).refresh.insert(
        token.clone(),
        RefreshGrant {
            user_id: user.id.clone(),
            client_id: client_id.into(),
            scope: scope.into(),
            issued: now,
        },
    );
    token
}

fn delegated_token(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    user: &UserRec,
    client_id: &str,
    requested: &str,
    now: i64,
) -> Resp {
    let scp = match delegated_scopes(t, client_id, requested) {
        Ok(s) => s,
        Err(resource) => {
            return err(
                sh,
                req,
                StatusCode::BAD_REQUEST,
                "invalid_resource",
                500011,
                &format!(
                    "The resource principal named {} was not found in the tenant named {}.",
                    resource.chars().take(200).collect::<String>(),
                    t.display_name
                ),
            );
        }
    };
    let refresh = requested
        .split(' ')
        .any(|s| s == "offline_access")
        .then(|| issue_refresh(sh, user, client_id, requested, now));
    let openid = requested.split(' ').any(|s| s == "openid");
    token_response(
        sh,
        t,
        req,
        &user_claims(t, user, client_id, scp, now),
        refresh,
        openid,
    )
}

/// The password grant, and the sign-in it records (none for a malformed request).
fn password_grant(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    form: &[(String, String)],
    client_id: &str,
    now: i64,
) -> (Resp, Option<SignInRec>) {
    for p in ["username", "password", "scope"] {
        if field(form, p).is_none() {
            let r = err(
                sh,
                req,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                &format!("The request body must contain the following parameter: '{p}'."),
            );
            return (r, None);
        }
    }
    let username = field(form, "username").unwrap_or_default();
    let password = field(form, "password").unwrap_or_default();
    match check_password(sh, t, username, password, now) {
        Ok(user) => {
            let resp = delegated_token(
                sh,
                t,
                req,
                &user,
                client_id,
                field(form, "scope").unwrap_or_default(),
                now,
            );
            // A refused scope is a failed sign-in too (consent: AADSTS65001).
            let (code, reason) = if resp.status() == StatusCode::OK {
                (0, None)
            } else {
                (
                    65001,
                    Some(
                        "The user or administrator has not consented to use the application."
                            .to_string(),
                    ),
                )
            };
            let rec = signin_record(t, username, client_id, code, reason, now);
            (resp, Some(rec))
        }
        Err(r) => {
            let rec = signin_record(
                t,
                username,
                client_id,
                r.code as i32,
                Some(r.message.clone()),
                now,
            );
            (r.into_resp(sh, req), Some(rec))
        }
    }
}

/// A federated user's token from their farm, exchanged (`saml_bearer.rs` makes Entra's checks).
fn saml_grant(
    sh: &Shared,
    t: &mut Tenant,
    req: &Req,
    form: &[(String, String)],
    client_id: &str,
    now: i64,
) -> Resp {
    for p in ["assertion", "scope"] {
        if field(form, p).is_none() {
            return err(
                sh,
                req,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                &format!("The request body must contain the following parameter: '{p}'."),
            );
        }
    }
    match super::saml_bearer::user_for(t, field(form, "assertion").unwrap_or_default(), now) {
        Ok(user) => {
            let resp = delegated_token(
                sh,
                t,
                req,
                &user,
                client_id,
                field(form, "scope").unwrap_or_default(),
                now,
            );
            let code = if resp.status() == StatusCode::OK {
                0
            } else {
                65001
            };
            let rec = signin_record(t, &user.upn, client_id, code, None, now);
            t.add_signins(vec![rec]);
            resp
        }
        Err(r) => err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            r.code,
            &r.message,
        ),
    }
}

/// A sign-in as the log records it; the rehearsal does not evaluate Conditional Access on its
/// token endpoint (its own tools sign in through it), so it says `notApplied`.
pub fn signin_record(
    t: &Tenant,
    username: &str,
    client_id: &str,
    code: i32,
    reason: Option<String>,
    now: i64,
) -> SignInRec {
    let user = t.user_by_upn(username);
    SignInRec {
        id: uuid::Uuid::new_v4().to_string(),
        created: now,
        user_id: user.map(|u| u.id.clone()).unwrap_or_default(),
        upn: username.to_lowercase(),
        display_name: user.map(|u| u.display_name.clone()).unwrap_or_default(),
        app_id: client_id.to_string(),
        app_name: if client_id.eq_ignore_ascii_case(&t.app.client_id) {
            t.app.display_name.clone()
        } else {
            "Microsoft Azure CLI".into()
        },
        ip: "127.0.0.1".into(),
        client_app: "Mobile Apps and Desktop clients".into(),
        error_code: code,
        failure_reason: reason,
        interactive: true,
        ca_status: "notApplied".into(),
        ca_applied: vec![],
    }
}

/// How long an unused refresh token stays good: Entra's 90 days.
const REFRESH_INACTIVE_S: i64 = 90 * 86_400;

fn refresh_grant(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    form: &[(String, String)],
    client_id: &str,
    now: i64,
) -> Resp {
    let token = field(form, "refresh_token").unwrap_or_default();
    let grant = lock(&sh.grants).refresh.get(token).map(|g| {
        (
            g.user_id.clone(),
            g.client_id.clone(),
            g.scope.clone(),
            g.issued,
        )
    });
    let Some((user_id, granted_client, scope, issued)) = grant.filter(|g| g.1 == client_id) else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            9002313,
            "Invalid request. Request is malformed or invalid.",
        );
    };
    // Entra's refresh tokens lapse after 90 days without use; until then they work whatever the
    // user's federation service does (no new sign-in happens).
    if now - issued >= REFRESH_INACTIVE_S {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            700082,
            &format!(
                "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for 90.00:00:00.",
                crate::graph::models::graph_time(
                    time::OffsetDateTime::from_unix_timestamp(issued)
                        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
                )
            ),
        );
    }
    let Some(user) = t.users.iter().find(|u| u.id == user_id).cloned() else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            "The user account does not exist in the directory.",
        );
    };
    let requested = field(form, "scope").unwrap_or(&scope).to_string();
    delegated_token(sh, t, req, &user, &granted_client, &requested, now)
}

fn device_code(sh: &Shared, t: &Tenant, req: &Req, tenant: &str) -> Resp {
    if !tenant_matches(t, tenant) {
        return unknown_tenant(sh, req, tenant);
    }
    let form = req.form();
    let client_id = field(&form, "client_id").unwrap_or_default();
    if let Err(r) = known_client(sh, t, req, client_id) {
        return r;
    }
    let Some(scope) = field(&form, "scope") else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    };
    const ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ23456789";
    let raw = uuid::Uuid::new_v4();
    let user_code: String = raw
        .as_bytes()
        .iter()
        .take(9)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    let device_code = format!(
        "DAQABAAEAAAD{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let interval = t.limits.device_code_interval_s;
    let verification_uri = format!("{}/common/oauth2/deviceauth", sh.base_url);
    lock(&sh.grants).device.insert(
        user_code.clone(),
        DeviceGrant {
            device_code: device_code.clone(),
            client_id: client_id.to_string(),
            scope: scope.to_string(),
            expires: t.now().unix_timestamp() + 900,
            interval,
            last_poll: None,
            approved_user: None,
        },
    );
    let body = json!({
        "user_code": user_code,
        "device_code": device_code,
        "verification_uri": verification_uri,
        "expires_in": 900,
        "interval": interval,
        "message": format!("To sign in, use a web browser to open the page {verification_uri} and enter the code {user_code} to authenticate."),
    });
    json_resp(StatusCode::OK, req, &body)
}

fn device_grant(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    form: &[(String, String)],
    client_id: &str,
    now: i64,
) -> Resp {
    let code = field(form, "device_code").unwrap_or_default();
    let found = {
        let mut grants = lock(&sh.grants);
        let key = grants
            .device
            .iter()
            .find(|(_, g)| g.device_code == code && g.client_id == client_id)
            .map(|(k, _)| k.clone());
        match key {
            None => None,
            Some(k) => {
                let g = grants.device.get_mut(&k);
                g.map(|g| {
                    let too_fast = g
                        .last_poll
                        .is_some_and(|p| p.elapsed().as_secs_f64() + 0.5 < g.interval as f64);
                    g.last_poll = Some(Instant::now());
                    (
                        k,
                        g.expires,
                        g.approved_user.clone(),
                        g.scope.clone(),
                        too_fast,
                    )
                })
            }
        }
    };
    let Some((key, expires, approved, scope, _too_fast)) = found else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "The provided value for the 'device_code' is not valid.",
        );
    };
    if now > expires {
        lock(&sh.grants).device.remove(&key);
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "expired_token",
            70020,
            "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
        );
    }
    let Some(user_id) = approved else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            70016,
            "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
        );
    };
    lock(&sh.grants).device.remove(&key);
    let Some(user) = t.users.iter().find(|u| u.id == user_id).cloned() else {
        return err(
            sh,
            req,
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            "The user account does not exist in the directory.",
        );
    };
    delegated_token(sh, t, req, &user, client_id, &scope, now)
}

/// The device code grant; a completed sign-in (the user approved, the token issued) is logged.
fn device_grant_logged(sh: &Shared, t: &mut Tenant, req: &Req, client_id: &str) -> (Resp, usize) {
    let form = req.form();
    let now = t.now().unix_timestamp();
    let code = field(&form, "device_code").unwrap_or_default().to_string();
    let user = {
        let grants = lock(&sh.grants);
        grants
            .device
            .values()
            .find(|g| g.device_code == code)
            .and_then(|g| g.approved_user.clone())
    };
    let resp = device_grant(sh, t, req, &form, client_id, now);
    let upn = user.and_then(|id| t.users.iter().find(|u| u.id == id).map(|u| u.upn.clone()));
    match upn {
        Some(upn) if resp.status() == StatusCode::OK => {
            let mut rec = signin_record(t, &upn, client_id, 0, None, now);
            rec.client_app = "Mobile Apps and Desktop clients".into();
            t.add_signins(vec![rec]);
            (resp, 1)
        }
        _ => (resp, 0),
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn device_page(req: &Req, message: Option<&str>, status: StatusCode) -> Resp {
    let note = message
        .map(|m| format!("<p role=\"alert\">{}</p>", escape_html(m)))
        .unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html><html><head><title>Enter code - rehearsal tenant (simulated)</title></head><body>\
<h1>Enter code</h1><p>REHEARSAL TENANT (simulated): no real account is used here.</p>{note}\
<form method=\"post\"><label>Code <input name=\"otc\" autocomplete=\"off\"></label>\
<label>User <input name=\"username\"></label><label>Password <input name=\"password\" type=\"password\"></label>\
<button type=\"submit\">Sign in</button></form></body></html>"
    );
    text(status, req, "text/html; charset=utf-8", html)
}

fn device_approve(sh: &Shared, t: &Tenant, req: &Req) -> Resp {
    let form = req.form();
    let code = field(&form, "otc")
        .or_else(|| field(&form, "user_code"))
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    let username = field(&form, "username").unwrap_or_default();
    let password = field(&form, "password").unwrap_or_default();
    let now = t.now().unix_timestamp();
    if lock(&sh.grants)
        .device
        .get(&code)
        .is_none_or(|g| g.expires < now)
    {
        return device_page(
            req,
            Some("That code is not valid or has expired. Check the code and try again."),
            StatusCode::BAD_REQUEST,
        );
    }
    match check_password(sh, t, username, password, now) {
        Ok(user) => {
            if let Some(g) = lock(&sh.grants).device.get_mut(&code) {
                g.approved_user = Some(user.id.clone());
            }
            text(
                StatusCode::OK,
                req,
                "text/html; charset=utf-8",
                "<!DOCTYPE html><html><body><h1>You have signed in</h1><p>You may now close this window and return to entra-failover.</p></body></html>".into(),
            )
        }
        Err(r) => device_page(
            req,
            Some(&format!("Sign-in failed: AADSTS{}: {}", r.code, r.message)),
            StatusCode::BAD_REQUEST,
        ),
    }
}

fn openid_configuration(sh: &Shared, t: &Tenant, req: &Req, tenant: &str) -> Resp {
    if !tenant_matches(t, tenant) {
        return unknown_tenant(sh, req, tenant);
    }
    let base = &sh.base_url;
    let tid = &t.tenant_id;
    let body = json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{tid}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{base}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/{tid}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid", "tid", "upn"],
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": base.trim_start_matches("https://"),
    });
    json_resp(StatusCode::OK, req, &body)
}

fn keys(sh: &Shared, t: &Tenant, req: &Req, tenant: &str) -> Resp {
    if !tenant_matches(t, tenant) {
        return unknown_tenant(sh, req, tenant);
    }
    use base64::Engine;
    let b64u = |b: Vec<u8>| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
    let (n, e) = t
        .token_key
        .private_key()
        .ok()
        .map(|k| k.public_components())
        .map(|(n, e)| (b64u(n), b64u(e)))
        .unwrap_or_default();
    let body = json!({"keys": [{
        "kty": "RSA", "use": "sig", "kid": sh.token_kid, "x5t": sh.token_kid, "n": n, "e": e,
        "x5c": [t.token_key.cert_b64], "issuer": format!("{}/{}/v2.0", sh.base_url, t.tenant_id),
    }]});
    json_resp(StatusCode::OK, req, &body)
}

/// The office app the simulated morning's users open.
const OFFICE_HOME: (&str, &str) = ("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome");

/// Whether an enabled Conditional Access policy requires MFA of this user for every app.
fn mfa_policy_for(t: &Tenant, user: &UserRec) -> Option<(String, String)> {
    t.ca_policies.iter().find_map(|p| {
        let list = crate::graph::models::string_list;
        let users = &p["conditions"]["users"];
        let included = list(&users["includeUsers"])
            .iter()
            .any(|u| u == "All" || u == &user.id)
            || list(&users["includeGroups"]).iter().any(|g| {
                t.groups
                    .iter()
                    .any(|x| &x.id == g && x.members.iter().any(|m| m == &user.id))
            });
        let excluded = list(&users["excludeUsers"]).iter().any(|u| u == &user.id);
        let mfa = list(&p["grantControls"]["builtInControls"])
            .iter()
            .any(|c| c == "mfa");
        (p["state"] == "enabled" && mfa && included && !excluded).then(|| {
            (
                p["id"].as_str().unwrap_or_default().to_string(),
                p["displayName"].as_str().unwrap_or_default().to_string(),
            )
        })
    })
}

/// "The morning after": `users` users of `domain` (by UPN order) open Office in a browser and sign
/// in with a password: the last `unsynced` before their hash has arrived, the `wrong_password`
/// before them with a wrong one, the rest with theirs. Each attempt goes through the tenant's real password check
/// and Conditional Access (MFA is completed where a policy asks for it), and is logged.
pub(super) fn simulate_morning(
    sh: &Shared,
    t: &mut Tenant,
    domain: &str,
    users: usize,
    wrong_password: usize,
    unsynced: usize,
) -> Result<serde_json::Value, String> {
    let suffix = format!("@{}", domain.to_ascii_lowercase());
    let mut chosen: Vec<String> = t
        .users
        .iter()
        .filter(|u| u.synced && u.enabled && u.upn.to_ascii_lowercase().ends_with(&suffix))
        .map(|u| u.upn.clone())
        .collect();
    chosen.sort();
    if chosen.len() < users {
        return Err(format!(
            "{domain} has {} synchronized users; {users} were asked for",
            chosen.len()
        ));
    }
    if wrong_password + unsynced > users {
        return Err("wrong_password and unsynced together cannot exceed users".into());
    }
    chosen.truncate(users);
    let right_from = users - unsynced - wrong_password;
    let unsynced_from = users - unsynced;
    for upn in &chosen[unsynced_from..] {
        if let Some(u) = t.users.iter_mut().find(|u| &u.upn == upn) {
            u.has_hash = false;
        }
    }
    let now = t.now().unix_timestamp();
    let right = t.user_password().to_string();
    let mut records = vec![];
    let mut by_code: std::collections::BTreeMap<i32, usize> = Default::default();
    for (i, upn) in chosen.iter().enumerate() {
        let wrong = i >= right_from && i < unsynced_from;
        let password = if wrong {
            "not-their-password"
        } else {
            right.as_str()
        };
        // Logged over the last seconds, oldest first; checked against the tenant as it is now.
        let at = now - (users - i) as i64;
        let mut rec = signin_record(t, upn, OFFICE_HOME.0, 0, None, at);
        rec.app_name = OFFICE_HOME.1.into();
        rec.client_app = "Browser".into();
        match check_password(sh, t, upn, password, now) {
            Ok(user) => {
                if let Some((id, name)) = mfa_policy_for(t, &user) {
                    rec.ca_status = "success".into();
                    rec.ca_applied = vec![serde_json::json!({
                        "id": id, "displayName": name, "enforcedGrantControls": ["Mfa"],
                        "enforcedSessionControls": [], "result": "success"
                    })];
                }
            }
            Err(r) => {
                rec.error_code = r.code as i32;
                rec.failure_reason = Some(r.message);
            }
        }
        *by_code.entry(rec.error_code).or_default() += 1;
        records.push(rec);
    }
    t.add_signins(records);
    Ok(serde_json::json!({
        "domain": domain,
        "attempts": users,
        "by_error_code": by_code.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::scenario::Scenario;

    #[test]
    fn delegated_scopes_stay_within_consent() {
        let t = Tenant::from_scenario(&Scenario::load(None).unwrap()).unwrap();
        let s = delegated_scopes(
            &t,
            &t.app.client_id,
            "https://graph.microsoft.com/Domain.Read.All User.Read offline_access",
        )
        .unwrap();
        assert_eq!(s, "User.Read");
        let all =
            delegated_scopes(&t, &t.app.client_id, "https://graph.microsoft.com/.default").unwrap();
        assert!(all.contains("OnPremDirectorySynchronization.ReadWrite.All"));
        assert!(
            delegated_scopes(&t, &t.app.client_id, "https://vault.azure.net/.default").is_err()
        );
    }
}
