//! `rehearse`: drive the rehearsal tenant from the command line, so that the runbook can be rehearsed
//! in a script too.

use crate::ops::session::Rehearsal;
use clap::Subcommand;
use serde_json::{Value, json};

use super::output::{print_json, print_text};
use super::{CliError, Global, home};
use crate::emulator::{Config, Emulator};
use crate::ops::OpsError;

#[derive(Debug, Subcommand)]
pub enum RehearseCommand {
    /// Its credentials and URLs (as `emulator --json`), and its users.
    Info {
        #[arg(long)]
        json: bool,
    },
    /// Run a sync cycle now.
    Sync,
    /// Change the AD FS farm: up, down, rollover (list a next certificate) or promote it.
    Farm { service: String, state: String },
    /// Move the emulated clock on (e.g. 90s, 5m, 2h).
    Clock {
        /// Only `advance` is supported.
        action: String,
        #[arg(value_parser = crate::clock::parse_duration)]
        duration: std::time::Duration,
    },
    /// Run the script `enable-phs` wrote on the Entra Connect Sync server (simulated): the server's
    /// password sync goes on; hashes follow on the next sync cycle.
    ConnectScript,
    /// Run the Seamless SSO script `enable-sso` wrote on the Connect server (simulated): each forest's
    /// state, and Seamless SSO enabled where it is missing (with --status-only, nothing changes).
    SsoScript {
        #[arg(long)]
        status_only: bool,
    },
    /// Put a Cloud Sync configuration's password hash job into quarantine (simulated).
    Quarantine { configuration: String },
    /// The morning after a cutover (simulated): users of a domain sign in on their domain-joined
    /// computers, and the sign-in log fills. Where their forest has Seamless SSO (and the domain is
    /// managed) they type nothing; otherwise, by UPN order, the last --unsynced before their hash
    /// arrived, the --wrong-password before them with a wrong one, the rest with theirs (MFA done
    /// where Conditional Access asks).
    Morning {
        #[arg(long)]
        domain: String,
        #[arg(long, default_value_t = 40)]
        users: usize,
        #[arg(long, default_value_t = 0)]
        wrong_password: usize,
        #[arg(long, default_value_t = 0)]
        unsynced: usize,
    },
    /// Start the rehearsal tenant again from its scenario.
    Reset {
        #[arg(long)]
        scenario: Option<std::path::PathBuf>,
    },
}

async fn control(emu: &Rehearsal, path: &str, body: Value) -> Result<Value, CliError> {
    let info = emu.info();
    let http = crate::ops::session::http_client(Some(&info.ca_file))?;
    let resp = http
        .post(format!("{}{path}", info.control_url))
        .bearer_auth(&info.control_token)
        .json(&body)
        .send()
        .await
        .map_err(|e| OpsError::Input(format!("the rehearsal tenant did not answer: {e}")))?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let msg = v["error"]["message"]
            .as_str()
            .unwrap_or("refused")
            .to_string();
        return Err(CliError::Usage(msg));
    }
    Ok(v)
}

pub async fn run(g: &Global, c: RehearseCommand) -> Result<u8, CliError> {
    let dir = home::rehearsal_dir();
    if let RehearseCommand::Reset { scenario } = &c {
        let mut cfg = Config::new(&dir);
        cfg.fresh = true;
        cfg.scenario = scenario.clone();
        let emu = Emulator::start(cfg).await?;
        emu.stop();
        print_text("The rehearsal tenant starts again from its scenario.")?;
        return Ok(0);
    }
    // Joins the wizard (or another command) when it already serves the tenant.
    let emu = Rehearsal::open(&dir).await?;
    let result = match c {
        RehearseCommand::Info { json } => {
            let mut v = serde_json::to_value(emu.info()).unwrap_or_default();
            let users: Vec<String> =
                emu.read_tenant(|t| t.users.iter().map(|u| u.upn.clone()).collect())?;
            v["users"] = json!(users);
            // The loopback addresses are this moment's: a tenant served in-process goes with the
            // command. Commands name a farm by its name, and that stays true.
            let lives = match emu.emulator() {
                Some(_) => {
                    "these addresses answer only while this command runs; `entra-failover emulator` serves the tenant until Ctrl-C"
                }
                None => {
                    "these addresses answer while the process that serves the tenant (`entra-failover emulator`) runs"
                }
            };
            let farm_urls: serde_json::Map<String, Value> = emu
                .info()
                .adfs
                .keys()
                .map(|f| {
                    (
                        f.clone(),
                        json!(format!(
                            "https://{f}/FederationMetadata/2007-06/FederationMetadata.xml"
                        )),
                    )
                })
                .collect();
            v["addresses"] = json!(lives);
            v["farm_urls"] = Value::Object(farm_urls.clone());
            if json || g.json {
                print_text(&serde_json::to_string(&v).unwrap_or_default())?;
            } else {
                let mut text = super::emulator::banner(emu.info());
                text.push_str(&format!(
                    "Note: {lives}.\nFarm URLs that commands accept (--metadata-url):\n"
                ));
                for url in farm_urls.values() {
                    text.push_str(&format!("  {}\n", url.as_str().unwrap_or_default()));
                }
                print_text(text.trim_end())?;
            }
            Ok(0)
        }
        RehearseCommand::Sync => {
            let v = control(&emu, "/sync", json!({})).await?;
            if g.json {
                print_json(&v)?
            } else {
                print_text(&format!(
                    "Sync cycle ran; {} of {} synchronized users have a password hash.",
                    v["users_with_password_hash"], v["synchronized_users"]
                ))?
            }
            Ok(0)
        }
        RehearseCommand::Farm { service, state } => {
            let v = control(&emu, &format!("/adfs/{service}"), json!({"state": state})).await?;
            if g.json {
                print_json(&v)?
            } else {
                print_text(&format!(
                    "AD FS {service} (simulated): {}",
                    v["state"].as_str().unwrap_or("?")
                ))?
            }
            Ok(0)
        }
        RehearseCommand::Clock { action, duration } => {
            if action != "advance" {
                return Err(CliError::Usage(format!(
                    "clock {action}: only `clock advance DURATION` is supported"
                )));
            }
            let v = control(&emu, "/clock", json!({"advance_s": duration.as_secs_f64()})).await?;
            if g.json {
                print_json(&v)?
            } else {
                print_text(&format!(
                    "The emulated clock now reads {}.",
                    v["now"].as_str().unwrap_or("?")
                ))?
            }
            Ok(0)
        }
        RehearseCommand::ConnectScript => {
            let v = control(&emu, "/connect/script", json!({})).await?;
            if g.json {
                print_json(&v)?
            } else {
                print_text(&format!(
                    "Ran the script on {} (simulated): password hash sync {} -> {} from {} to {}{}. Hashes follow on the next sync cycle.",
                    v["server"].as_str().unwrap_or("?"),
                    if v["password_sync_before"] == true {
                        "on"
                    } else {
                        "off"
                    },
                    "on",
                    v["source_connector"].as_str().unwrap_or("?"),
                    v["target_connector"].as_str().unwrap_or("?"),
                    if v["tenant_flag"] == true {
                        ""
                    } else {
                        "; the tenant's flag is still off (enable-phs sets it)"
                    },
                ))?
            }
            Ok(0)
        }
        RehearseCommand::SsoScript { status_only } => {
            let v = control(
                &emu,
                "/connect/sso-script",
                json!({"status_only": status_only}),
            )
            .await?;
            if g.json {
                print_json(&v)?
            } else {
                let forests: Vec<String> = v["after"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .map(|f| {
                                format!(
                                    "{} {}{}",
                                    f["forest"].as_str().unwrap_or("?"),
                                    if f["enabled"] == true { "on" } else { "off" },
                                    f["key_age_days"]
                                        .as_i64()
                                        .map(|d| format!(" (key {d} days old)"))
                                        .unwrap_or_default()
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let changed: Vec<&str> = v["changed"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                print_text(&format!(
                    "Ran the Seamless SSO script{} on {} (simulated). Seamless SSO: {}. Changed: {}. Browsers need {} in the Local intranet zone.",
                    if status_only { " (-StatusOnly)" } else { "" },
                    v["server"]
                        .as_str()
                        .unwrap_or("a server with the Connect package"),
                    forests.join(", "),
                    if changed.is_empty() {
                        "nothing".to_string()
                    } else {
                        changed.join(", ")
                    },
                    v["intranet_zone"].as_str().unwrap_or("?"),
                ))?
            }
            Ok(0)
        }
        RehearseCommand::Quarantine { configuration } => {
            let v = control(
                &emu,
                "/sync-jobs/quarantine",
                json!({"configuration": configuration}),
            )
            .await?;
            if g.json {
                print_json(&v)?
            } else {
                print_text(&format!(
                    "Cloud Sync {configuration}: job {} is in quarantine (simulated).",
                    v["id"].as_str().unwrap_or("?")
                ))?
            }
            Ok(0)
        }
        RehearseCommand::Morning {
            domain,
            users,
            wrong_password,
            unsynced,
        } => {
            let v = control(
                &emu,
                "/morning",
                json!({"domain": domain, "users": users, "wrong_password": wrong_password, "unsynced": unsynced}),
            )
            .await?;
            if g.json {
                print_json(&v)?
            } else {
                let codes: Vec<String> = v["by_error_code"]
                    .as_object()
                    .map(|m| m.iter().map(|(k, n)| format!("{k}: {n}")).collect())
                    .unwrap_or_default();
                print_text(&format!(
                    "{users} users of {domain} signed in (simulated): {} by single sign-on, {} typed a password; error codes {}.",
                    v["single_sign_on"],
                    v["typed_password"],
                    codes.join(", ")
                ))?
            }
            Ok(0)
        }
        RehearseCommand::Reset { .. } => Ok(0),
    };
    drop(emu);
    result
}
