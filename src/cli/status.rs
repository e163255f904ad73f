//! `status`, `readiness` and `profiles`.

use std::sync::Arc;

use super::output::{print, print_json, print_text};
use super::{CliError, Global, home};
use crate::auth::profile::{Config, REHEARSAL};
use crate::ops::{Session, status};

/// Connects to the chosen profile; a device code prompt goes to stderr.
pub async fn connect(g: &Global) -> Result<Session, CliError> {
    let prompt = Arc::new(|code: &crate::login::DeviceCode| {
        eprintln!("{}", super::output::terminal_safe(&code.message));
    });
    let s = Session::connect(&home::home(), &g.profile, prompt).await?;
    for notice in &s.notices {
        eprintln!("entra-failover: {}", super::output::terminal_safe(notice));
    }
    Ok(s)
}

pub async fn run(g: &Global) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let st = status::status(&s).await?;
    print(g, &st)?;
    Ok(0)
}

/// The readiness checks; exit 1 when a read failed (a step of the runbook would fail the same way).
pub async fn readiness(g: &Global) -> Result<u8, CliError> {
    let s = connect(g).await?;
    let r = crate::ops::readiness::readiness(&s).await?;
    print(g, &r)?;
    let failed = r
        .reads
        .iter()
        .any(|x| x.outcome == crate::ops::readiness::ReadOutcome::Failed);
    Ok(u8::from(failed))
}

pub fn profiles(g: &Global) -> Result<u8, CliError> {
    let config = Config::load(&home::home()).map_err(crate::ops::OpsError::from)?;
    if g.json {
        let mut v = serde_json::Map::new();
        v.insert(REHEARSAL.into(), serde_json::json!({"simulated": true}));
        for (name, p) in &config.profiles {
            v.insert(name.clone(), serde_json::to_value(p).unwrap_or_default());
        }
        return print_json(&v).map(|_| 0);
    }
    let mut text = format!("{REHEARSAL:<16} the rehearsal tenant (simulated), built in\n");
    for (name, p) in &config.profiles {
        text.push_str(&format!(
            "{name:<16} tenant {} via {:?}, Graph {}\n",
            p.tenant,
            p.auth,
            p.graph_url()
        ));
    }
    text.push_str(&format!(
        "\nProfiles live in {}",
        home::home().join("config.toml").display()
    ));
    print_text(&text)?;
    Ok(0)
}
