//! The device authorization endpoint and its verification page, where the user enters the code.

use hyper::StatusCode;
use serde_json::json;

use super::common::{check_password, known_client, missing, tenant_matches, unknown_tenant};
use crate::emulator::http::{Req, Resp, field, json as json_resp, text};
use crate::emulator::state::Tenant;
use crate::emulator::{DeviceGrant, Shared, lock};

pub(super) fn device_code(sh: &Shared, t: &Tenant, req: &Req, tenant: &str) -> Resp {
    if !tenant_matches(t, tenant) {
        return unknown_tenant(sh, req, tenant);
    }
    let form = req.form();
    let client_id = field(&form, "client_id").unwrap_or_default();
    if let Err(r) = known_client(sh, t, req, client_id) {
        return r;
    }
    let Some(scope) = field(&form, "scope") else {
        return missing(sh, req, "scope");
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

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(super) fn device_page(req: &Req, message: Option<&str>, status: StatusCode) -> Resp {
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

pub(super) fn device_approve(sh: &Shared, t: &Tenant, req: &Req) -> Resp {
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
