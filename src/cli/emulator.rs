//! `entra-failover emulator`: serve the rehearsal tenant until Ctrl-C.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::{CliError, home};
use crate::emulator::{Config, Emulator, Info};

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Folder that keeps the tenant's state, CA and keys [default: $ENTRA_FAILOVER_HOME/rehearsal].
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Start again from the scenario, discarding the saved state.
    #[arg(long)]
    pub fresh: bool,
    /// A scenario file (see the README); used when the state is new or with --fresh.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// How long a change takes to reach user realm and sign-in (0s, 90s, 5m, 1h).
    #[arg(long, default_value = "0s", value_parser = crate::clock::parse_duration)]
    pub propagation_delay: std::time::Duration,
    /// Print one JSON line with the URLs and credentials instead of the readable banner.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(a: EmulatorArgs) -> Result<u8, CliError> {
    if !a.listen.ip().is_loopback() {
        return Err(CliError::Usage(format!(
            "--listen {}: the rehearsal tenant serves on loopback only (127.0.0.1 or [::1])",
            a.listen
        )));
    }
    let cfg = Config {
        listen: a.listen,
        state_dir: a.state.unwrap_or_else(home::rehearsal_dir),
        fresh: a.fresh,
        scenario: a.scenario,
        propagation_delay: a.propagation_delay,
    };
    let emu = Emulator::start(cfg).await?;
    let mut out = std::io::stdout().lock();
    let text = if a.json {
        serde_json::to_string(emu.info()).unwrap_or_default()
    } else {
        format!(
            "{}Press Ctrl-C to stop; the tenant's state stays in the state folder.",
            banner(emu.info())
        )
    };
    writeln!(out, "{text}")
        .and_then(|_| out.flush())
        .map_err(CliError::Output)?;
    drop(out);
    let _ = tokio::signal::ctrl_c().await;
    emu.stop();
    Ok(0)
}

/// The readable banner: what each URL is for, the credentials, and a curl line to try.
pub fn banner(i: &Info) -> String {
    let mut s = String::new();
    s.push_str("REHEARSAL TENANT (simulated): nothing here touches a real Microsoft tenant.\n\n");
    s.push_str(&format!("  Graph          {}/v1.0\n", i.graph_url));
    s.push_str(&format!(
        "  Sign-in        {}/{}/oauth2/v2.0/token\n",
        i.login_url, i.tenant_id
    ));
    for (name, url) in &i.adfs {
        s.push_str(&format!("  AD FS          {name} -> {url}\n"));
    }
    s.push_str(&format!(
        "  Control        {} (bearer {})\n",
        i.control_url, i.control_token
    ));
    s.push_str(&format!("  CA file        {}\n", i.ca_file.display()));
    s.push_str(&format!("  Tenant id      {}\n", i.tenant_id));
    s.push_str(&format!(
        "  App            {} (secret {})\n",
        i.client_id, i.client_secret
    ));
    s.push_str(&format!(
        "  Administrator  {} (password {})\n",
        i.admin_upn, i.admin_password
    ));
    s.push_str(&format!(
        "  Users' on-premises password  {}\n",
        i.user_password
    ));
    s.push_str(&format!("  State          {}\n\n", i.state_dir.display()));
    s.push_str("Try it:\n");
    s.push_str(&format!(
        "  TOKEN=$(curl -s --cacert '{ca}' -d grant_type=client_credentials -d client_id={cid} --data-urlencode 'client_secret={sec}' -d scope=https://graph.microsoft.com/.default {login}/{tid}/oauth2/v2.0/token | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])')\n",
        ca = i.ca_file.display(),
        cid = i.client_id,
        sec = i.client_secret,
        login = i.login_url,
        tid = i.tenant_id
    ));
    s.push_str(&format!(
        "  curl --cacert '{}' -H \"Authorization: Bearer $TOKEN\" {}/v1.0/domains\n\n",
        i.ca_file.display(),
        i.graph_url
    ));
    s
}
