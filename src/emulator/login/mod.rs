//! The Entra sign-in endpoints: the v2.0 token endpoint (client credentials with a secret or a
//! certificate assertion, password, the SAML bearer grant, refresh token, device code), the device
//! authorization endpoint, user realm discovery and OpenID discovery, with AADSTS errors as Entra
//! words them. A router over one file each; `common.rs` is what they share, and none imports another.

mod common;
mod device;
mod discovery;
mod grants;
mod morning;
mod realm;
mod saml_bearer;

use hyper::StatusCode;

use crate::emulator::Shared;
use crate::emulator::http::{Req, Resp, text};
use device::{device_approve, device_code, device_page};
use discovery::{keys, openid_configuration};
use grants::token;
use realm::user_realm;

pub(crate) use morning::simulate_morning;

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
                (logged > 0).then_some(crate::emulator::state::Change::SignIns(logged)),
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
                let xml =
                    crate::emulator::adfs::microsoft_metadata(&t.token_key.cert_b64, &sh.base_url);
                (
                    text(StatusCode::OK, req, "application/samlmetadata+xml", xml),
                    false,
                )
            })
        }
        _ => return None,
    };
    Some(resp.unwrap_or_else(|e| {
        crate::emulator::http::graph_error(
            StatusCode::SERVICE_UNAVAILABLE,
            req,
            "ServiceUnavailable",
            &e.to_string(),
        )
    }))
}
