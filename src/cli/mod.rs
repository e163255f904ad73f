//! The command line: parse → call an operation → print (text or `--json`). One file per command.

pub mod docs;
pub mod emulator;
pub mod home;
mod interrupt;
pub mod output;
pub mod rehearse;
pub mod runbook;
pub mod status;

use clap::{Args, Parser, Subcommand};

use crate::ops::OpsError;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Emulator(#[from] crate::emulator::EmulatorError),
    #[error(transparent)]
    Ops(#[from] OpsError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    #[error(
        "stopped by {0}. A change under way may be half done: `entra-failover status` lists it and `entra-failover resume` finishes it from the tenant's real state"
    )]
    Interrupted(&'static str),
}

impl CliError {
    /// The documented exit codes: 1 failed, 2 bad input or usage, 3 pre-flight refused, 4 partly done.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::Emulator(crate::emulator::EmulatorError::Scenario(_)) => 2,
            CliError::Ops(e) => e.exit_code(),
            // As a shell reports a command ended by SIGINT.
            CliError::Interrupted(_) => 130,
            _ => 1,
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "entra-failover",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ENTRA_FAILOVER_COMMIT"), ")"),
    about = "Fail Microsoft Entra ID sign-in over from AD FS to password hash sync, and back."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct Global {
    /// The tenant profile to use (`entra-failover profiles` lists them).
    #[arg(long, global = true, default_value = crate::auth::profile::REHEARSAL, env = "ENTRA_FAILOVER_PROFILE")]
    pub profile: String,
    /// Print stable JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Show the plan and change nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Do not ask for confirmation (scripts).
    #[arg(long, global = true)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the tenant: domains and how they sign in, password hash sync, AD FS farms.
    Status,
    /// Read-only, before an outage: users without MFA, unknown AD UPN suffixes, hybrid-joined
    /// devices, smart lockout, and one read of every kind the runbook makes (exit 1 if one fails).
    Readiness,
    /// List the profiles in config.toml and the built-in rehearsal tenant.
    Profiles,
    /// Turn on password hash sync: the tenant's flag and each sync engine's part.
    EnablePhs(runbook::EnablePhsArgs),
    /// Enable single sign-on: write the Connect server's Seamless SSO script (state per forest,
    /// enabled where missing); Graph cannot show or change it.
    EnableSso(runbook::EnableSsoArgs),
    /// Move federated domains to password hash sync (managed sign-in).
    Failover(runbook::FailoverArgs),
    /// Staged rollout: pilot groups sign in with password hash sync while their domain stays federated.
    StagedRollout(runbook::StagedRolloutArgs),
    /// Federate a managed domain with AD FS again, from the backup or the farm's metadata.
    SwitchBack(runbook::SwitchBackArgs),
    /// Reset the Microsoft Entra ID trust: take the farm's certificates, write the AD FS script.
    ResetTrust(runbook::ResetTrustArgs),
    /// Verify federation connectivity of a federated domain (exit 1 when a check fails).
    Verify(runbook::VerifyArgs),
    /// Where a user signs in, and whether a password sign-in works now.
    TestSignin(runbook::TestSigninArgs),
    /// The sign-in log after a cutover: successes, failures and their causes, who they hit.
    Signins(runbook::SigninsArgs),
    /// AD FS: read a farm's federation metadata.
    Adfs {
        #[command(subcommand)]
        command: runbook::AdfsCommand,
    },
    /// Finish the changes an interrupted run left (reconciled against the tenant's real state).
    Resume,
    /// The journal of changes made to the tenant.
    History,
    /// The change record: timeline, backups with SHA-256, Graph request-ids, settings before and now.
    Report(runbook::ReportArgs),
    /// The backups of federation settings.
    Backups,
    /// Drive the rehearsal tenant: its credentials, a sync cycle, the farm, the clock.
    Rehearse {
        #[command(subcommand)]
        command: rehearse::RehearseCommand,
    },
    /// Serve the rehearsal tenant (Graph, sign-in and AD FS, simulated) over HTTPS on loopback.
    Emulator(emulator::EmulatorArgs),
    /// Shell completions: bash, zsh, fish, powershell (or elvish).
    Completions { shell: clap_complete::Shell },
    /// The manual page (roff), for `man -l -` or a man directory.
    Man,
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    let g = cli.global;
    runtime.block_on(async move {
        // The wizard takes Ctrl-C as a key (asking first while a change is in flight) and the
        // emulator stops on it by design; every other command is stopped with a word on what it means.
        let guarded = !matches!(cli.command, None | Some(Command::Emulator(_)));
        let command = async move {
            match cli.command {
                None => wizard(&g).await,
                Some(Command::Status) => status::run(&g).await,
                Some(Command::Readiness) => status::readiness(&g).await,
                Some(Command::Profiles) => status::profiles(&g),
                Some(Command::EnablePhs(a)) => runbook::enable_phs(&g, a).await,
                Some(Command::EnableSso(a)) => runbook::enable_sso(&g, a).await,
                Some(Command::Failover(a)) => runbook::failover(&g, a).await,
                Some(Command::StagedRollout(a)) => runbook::staged_rollout(&g, a).await,
                Some(Command::SwitchBack(a)) => runbook::switch_back(&g, a).await,
                Some(Command::ResetTrust(a)) => runbook::reset_trust(&g, a).await,
                Some(Command::Verify(a)) => runbook::verify(&g, a).await,
                Some(Command::TestSignin(a)) => runbook::test_signin(&g, a).await,
                Some(Command::Signins(a)) => runbook::signins(&g, a).await,
                Some(Command::Adfs { command }) => runbook::adfs(&g, command).await,
                Some(Command::Resume) => runbook::resume(&g).await,
                Some(Command::History) => runbook::history(&g).await,
                Some(Command::Report(a)) => runbook::report(&g, a).await,
                Some(Command::Backups) => runbook::backups(&g).await,
                Some(Command::Rehearse { command }) => rehearse::run(&g, command).await,
                Some(Command::Emulator(a)) => emulator::run(a).await,
                Some(Command::Completions { shell }) => docs::completions(shell),
                Some(Command::Man) => docs::man(),
            }
        };
        if !guarded {
            return command.await;
        }
        tokio::select! {
            r = command => r,
            why = interrupt::requested() => Err(CliError::Interrupted(why)),
        }
    })
}

/// With no command: the wizard on a terminal; the status where there is none (a script, a pipe).
async fn wizard(g: &Global) -> Result<u8, CliError> {
    use std::io::IsTerminal;
    if !(std::io::stdin().is_terminal() && std::io::stdout().is_terminal()) || g.json {
        return status::run(g).await;
    }
    let home = home::home();
    let config = crate::auth::profile::Config::load(&home).map_err(OpsError::from)?;
    let mut profiles = vec![g.profile.clone()];
    for name in std::iter::once(crate::auth::profile::REHEARSAL.to_string())
        .chain(config.profiles.keys().cloned())
    {
        if !profiles.contains(&name) {
            profiles.push(name);
        }
    }
    crate::wizard::run(&home, profiles)
        .await
        .map_err(CliError::Output)?;
    Ok(0)
}
