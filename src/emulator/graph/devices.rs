//! Devices (`/devices`): what the readiness check counts of them, hybrid joined devices
//! (`trustType eq 'ServerAd'`), with the advanced query Graph asks for ($count needs
//! `ConsistencyLevel: eventual`).

use hyper::StatusCode;
use serde_json::{Value, json};

use super::call::{Call, Filter, Outcome, eq_matches, parse_filter, short};
use crate::emulator::http::{Resp, graph_error};
use crate::emulator::state::{DeviceRec, Tenant};
use crate::emulator::tokens::Claims;

const DEVICE_READ: &[&str] = &[
    "Device.Read.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// This family's requests; `None` for a path it does not serve.
pub(super) fn route(
    call: &Call,
    t: &mut Tenant,
    who: &Claims,
    l: &[&str],
) -> Option<Result<Outcome, Resp>> {
    let r = match (call.req.method.as_str(), l) {
        ("GET", ["devices"]) => list_devices(call, t, who),
        _ => return None,
    };
    Some(r.map(|resp| Outcome {
        resp,
        changed: false,
    }))
}

fn device_json(d: &DeviceRec) -> Value {
    json!({
        "id": d.id,
        "deviceId": d.device_id,
        "displayName": d.display_name,
        "trustType": d.trust_type,
        "operatingSystem": d.operating_system,
        "accountEnabled": true,
        "isManaged": d.trust_type != "Workplace",
    })
}

fn list_devices(call: &Call, t: &Tenant, who: &Claims) -> Result<Resp, Resp> {
    call.allow(who, DEVICE_READ, None)?;
    let (_, count) = call.advanced_query()?;
    let mut items: Vec<Value> = t.devices.iter().map(device_json).collect();
    if let Some(f) = call.req.query("$filter") {
        let filter = parse_filter(f).map_err(|m| call.bad(&m))?;
        let Filter::Eq(prop, value) = filter else {
            return Err(call.bad("Invalid filter clause: only 'eq' is supported here."));
        };
        let Some(prop) = ["trustType", "operatingSystem", "displayName", "deviceId"]
            .into_iter()
            .find(|p| p.eq_ignore_ascii_case(&prop))
        else {
            return Err(graph_error(
                StatusCode::BAD_REQUEST,
                call.req,
                "Request_UnsupportedQuery",
                &format!(
                    "Unsupported or invalid query filter clause specified for property '{}' of resource 'Device'.",
                    short(&prop)
                ),
            ));
        };
        items.retain(|v| eq_matches(&v[prop], &value));
    }
    let total = items.len();
    call.page(
        items,
        t.limits.page_size,
        call.context("devices"),
        count.then_some(total),
    )
}
