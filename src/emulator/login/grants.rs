//! The v2.0 token endpoint's grants: client credentials (a secret or a certificate assertion),
//! password, the SAML 1.1 bearer grant of a federated user's farm token, refresh token, device code.

use std::time::Instant;

use hyper::StatusCode;
use serde_json::Value;

use super::common::{
    AZURE_CLI_CLIENT, GRAPH_APP_ID, check_password, delegated_token, err, known_client, missing,
    resource_not_found, signin_record, tenant_matches, token_response, unknown_tenant,
};
use crate::emulator::http::{Req, Resp, field};
use crate::emulator::state::{SignInRec, Tenant, UserRec};
use crate::emulator::tokens::{self, Claims, GRAPH_AUDIENCE};
use crate::emulator::{Shared, lock};

/// A token request's answer, and how many sign-ins it added to the log.
pub(super) fn token(sh: &Shared, t: &mut Tenant, req: &Req, tenant: &str) -> (Resp, usize) {
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
        return missing(sh, req, "grant_type");
    };
    let Some(client_id) = field(&form, "client_id").map(str::to_string) else {
        return missing(sh, req, "client_id");
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
        return missing(sh, req, "scope");
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
        return resource_not_found(sh, req, t, resource);
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
        if crate::emulator::http::same_secret(secret, &t.secrets.client_secret) {
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
            let r = missing(sh, req, p);
            return (r, None);
        }
    }
    let username = field(form, "username").unwrap_or_default();
    let password = field(form, "password").unwrap_or_default();
    match check_password(sh, t, username, password, now) {
        Ok(user) => {
            let scope = field(form, "scope").unwrap_or_default();
            let (resp, rec) = signed_in(sh, t, req, &user, username, client_id, scope, now);
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

/// A user whose credential checked out: their tokens, and the sign-in as the log records it (a
/// refused scope is a failed sign-in too: consent, AADSTS65001).
#[allow(clippy::too_many_arguments)]
fn signed_in(
    sh: &Shared,
    t: &Tenant,
    req: &Req,
    user: &UserRec,
    username: &str,
    client_id: &str,
    scope: &str,
    now: i64,
) -> (Resp, SignInRec) {
    let resp = delegated_token(sh, t, req, user, client_id, scope, now);
    let (code, reason) = if resp.status() == StatusCode::OK {
        (0, None)
    } else {
        (
            65001,
            Some("The user or administrator has not consented to use the application.".to_string()),
        )
    };
    let rec = signin_record(t, username, client_id, code, reason, now);
    (resp, rec)
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
            return missing(sh, req, p);
        }
    }
    match super::saml_bearer::user_for(t, field(form, "assertion").unwrap_or_default(), now) {
        Ok(user) => {
            let scope = field(form, "scope").unwrap_or_default();
            let (resp, rec) = signed_in(sh, t, req, &user, &user.upn, client_id, scope, now);
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
