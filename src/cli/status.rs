//! `entra-failover status`: the tenant at a glance. Until the Graph backend lands it reads the
//! in-process rehearsal tenant directly.

use std::io::Write;

use clap::Args;

use super::{CliError, home};
use crate::emulator::state::{FarmState, Tenant};
use crate::emulator::{Config, Emulator};
use crate::graph::models::{AuthenticationType, graph_time};

#[derive(Debug, Default, Args)]
pub struct StatusArgs {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: StatusArgs) -> Result<u8, CliError> {
    let emu = Emulator::start(Config::new(home::rehearsal_dir())).await?;
    let t = emu.tenant();
    let text = if a.json {
        serde_json::to_string_pretty(&summary(&t)).unwrap_or_default()
    } else {
        render(&t)
    };
    emu.stop();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(CliError::Output)?;
    Ok(0)
}

fn summary(t: &Tenant) -> serde_json::Value {
    let domains: Vec<serde_json::Value> = (0..t.domains.len())
        .map(|i| {
            let d = t.domain_view(i);
            serde_json::json!({
                "id": d.id,
                "authenticationType": d.authentication_type,
                "isRoot": d.is_root,
                "isVerified": d.is_verified,
                "issuerUri": t.federation_of(i).and_then(|f| f.issuer_uri.clone()),
            })
        })
        .collect();
    serde_json::json!({
        "simulated": true,
        "tenant": t.display_name,
        "tenant_id": t.tenant_id,
        "password_hash_sync": t.sync.password_sync_enabled(),
        "last_sync": graph_time(crate::emulator::state::unix(t.sync.last_cycle)),
        "last_password_sync": t.sync.last_password_sync.map(|s| graph_time(crate::emulator::state::unix(s))),
        "domains": domains,
        "farms": t.farms.iter().map(|(k, f)| (k.clone(), if f.state == FarmState::Up { "up" } else { "down" })).collect::<std::collections::BTreeMap<_, _>>(),
    })
}

fn render(t: &Tenant) -> String {
    let mut s = format!("{} — REHEARSAL TENANT (simulated)\n", t.display_name);
    s.push_str(&format!(
        "Password hash sync: {}   last sync: {}   last password sync: {}\n\n",
        if t.sync.password_sync_enabled() {
            "on"
        } else {
            "off"
        },
        graph_time(crate::emulator::state::unix(t.sync.last_cycle)),
        t.sync
            .last_password_sync
            .map(|x| graph_time(crate::emulator::state::unix(x)))
            .unwrap_or_else(|| "never".into())
    ));
    s.push_str(&format!(
        "{:<28} {:<10} {:<6} {}\n",
        "DOMAIN", "SIGN-IN", "ROOT", "ISSUER"
    ));
    for i in 0..t.domains.len() {
        let d = t.domain_view(i);
        let auth = match d.authentication_type {
            Some(AuthenticationType::Federated) => "Federated",
            _ => "Managed",
        };
        let issuer = t
            .federation_of(i)
            .and_then(|f| f.issuer_uri.clone())
            .unwrap_or_default();
        s.push_str(&format!(
            "{:<28} {:<10} {:<6} {}\n",
            d.id.unwrap_or_default(),
            auth,
            if d.is_root == Some(true) { "yes" } else { "no" },
            issuer
        ));
    }
    s.push_str("\nAD FS farms:\n");
    for (name, f) in &t.farms {
        s.push_str(&format!(
            "  {name}: {}\n",
            if f.state == FarmState::Up {
                "up"
            } else {
                "down"
            }
        ));
    }
    s.push_str(
        "\nServe it with `entra-failover emulator`; the wizard will open here once it lands.",
    );
    s
}
