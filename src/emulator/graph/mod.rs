//! Microsoft Graph v1.0 (and the one beta property the tool reads), as the rehearsal tenant serves it:
//! a router over one file per resource family, each on the shared kernel in `call.rs`. No family
//! imports another, and none imports this router.

mod audit;
mod call;
mod devices;
mod directory;
mod domains;
mod people;
mod policies;
mod sync;

use hyper::{Method, StatusCode};

use super::Shared;
use super::http::{Req, Resp, graph_error, graph_status_error};
use super::state::Tenant;
use super::tokens::Claims;
use call::{Call, short};

pub use call::{Outcome, authenticate};

/// Answers one Graph request: the first family that knows the path answers it.
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
    let result = domains::route(&call, t, who, &l, segs)
        .or_else(|| directory::route(&call, t, who, &l, segs))
        .or_else(|| people::route(&call, t, who, &l, segs))
        .or_else(|| policies::route(&call, t, who, &l, segs))
        .or_else(|| devices::route(&call, t, who, &l))
        .or_else(|| sync::route(&call, t, who, &l, segs))
        .or_else(|| audit::route(&call, t, who, &l))
        .unwrap_or_else(|| Err(unrouted(&call, m, &l)));
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

/// Graph answers injected statuses the same way as real ones; kept here for the fault layer.
pub fn injected(req: &Req, status: StatusCode, retry_after: Option<&str>) -> Resp {
    graph_status_error(status, req, retry_after)
}
