//! What the sign-in endpoints share: AADSTS answers, the tenant check, the claims and token answer
//! of a signed-in user, client and password checks, refresh tokens, and the sign-in log record.

use hyper::StatusCode;
use serde_json::json;

use crate::emulator::http::{Req, Resp, aadsts, json as json_resp};
use crate::emulator::state::{FarmState, SignInRec, Tenant, UserRec};
use crate::emulator::tokens::{self, Claims, GRAPH_AUDIENCE};
use crate::emulator::{RefreshGrant, Shared, lock};
use crate::graph::models::AuthenticationType;

/// Azure CLI's public client id: `az login` tokens come from it.
pub const AZURE_CLI_CLIENT: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

pub(super) const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";

pub(super) fn err(
    sh: &Shared,
    req: &Req,
    status: StatusCode,
    error: &str,
    code: u32,
    message: &str,
) -> Resp {
    aadsts(status, req, error, code, message, &sh.base_url)
}

/// Entra's answer to a request without a parameter it needs (AADSTS900144).
pub(super) fn missing(sh: &Shared, req: &Req, name: &str) -> Resp {
    err(
        sh,
        req,
        StatusCode::BAD_REQUEST,
        "invalid_request",
        900144,
        &format!("The request body must contain the following parameter: '{name}'."),
    )
}

/// Entra's answer to a token request for a resource the tenant does not have (AADSTS500011).
pub(super) fn resource_not_found(sh: &Shared, req: &Req, t: &Tenant, resource: &str) -> Resp {
    err(
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
    )
}

/// Whether a tenant segment names this tenant (its id, one of its domains, or a multi-tenant alias).
pub(super) fn tenant_matches(t: &Tenant, seg: &str) -> bool {
    seg.eq_ignore_ascii_case(&t.tenant_id)
        || ["common", "organizations"].contains(&seg)
        || t.domain_index(seg).is_some()
}

pub(super) fn unknown_tenant(sh: &Shared, req: &Req, seg: &str) -> Resp {
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

/// The scopes a delegated token carries: what the client asked for, within what was consented.
pub(super) fn delegated_scopes(
    t: &Tenant,
    client_id: &str,
    requested: &str,
) -> Result<String, String> {
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

pub(super) fn user_claims(
    t: &Tenant,
    user: &UserRec,
    client_id: &str,
    scp: String,
    now: i64,
) -> Claims {
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

pub(super) fn token_response(
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
            return crate::emulator::http::graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                req,
                "ServiceUnavailable",
                &e.to_string(),
            );
        }
    };
    let Ok(access) = tokens::sign(claims, &key, &sh.token_kid) else {
        return crate::emulator::http::graph_error(
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

/// The rehearsal app and Azure CLI are the clients this tenant knows; others get AADSTS700016.
pub(super) fn known_client(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    client_id: &str,
) -> Result<(), Resp> {
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

/// A refused sign-in: what the token endpoint answers.
pub(super) struct Refusal {
    status: StatusCode,
    error: &'static str,
    pub(super) code: u32,
    pub(super) message: String,
}

impl Refusal {
    pub(super) fn into_resp(self, sh: &Shared, req: &Req) -> Resp {
        err(sh, req, self.status, self.error, self.code, &self.message)
    }
}

/// Checks a user's password as Entra would for the domain's current sign-in type.
pub(super) fn check_password(
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
    if !crate::emulator::http::same_secret(password, expected) {
        return bad(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.",
        );
    }
    Ok(user.clone())
}

pub(super) fn issue_refresh(
    sh: &Shared,
    user: &UserRec,
    client_id: &str,
    scope: &str,
    now: i64,
) -> String {
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

pub(super) fn delegated_token(
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
        Err(resource) => return resource_not_found(sh, req, t, &resource),
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
        additional_details: None,
    }
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
