//! Home realm discovery (`/common/userrealm`): where sign-in goes for a user of each domain, with
//! the propagation delay a change takes.

use hyper::StatusCode;
use serde_json::{Value, json};

use super::common::err;
use crate::emulator::Shared;
use crate::emulator::http::{Req, Resp, json as json_resp};
use crate::emulator::state::Tenant;
use crate::graph::models::AuthenticationType;

pub(super) fn user_realm(sh: &Shared, t: &Tenant, req: &Req, upn: &str) -> Resp {
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
