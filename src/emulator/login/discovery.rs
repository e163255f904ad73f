//! OpenID discovery and the signing keys of the rehearsal STS.

use hyper::StatusCode;
use serde_json::json;

use super::common::{tenant_matches, unknown_tenant};
use crate::emulator::Shared;
use crate::emulator::http::{Req, Resp, json as json_resp};
use crate::emulator::state::Tenant;

pub(super) fn openid_configuration(sh: &Shared, t: &Tenant, req: &Req, tenant: &str) -> Resp {
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

pub(super) fn keys(sh: &Shared, t: &Tenant, req: &Req, tenant: &str) -> Resp {
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
