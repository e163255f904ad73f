//! The command line: parse → call → print. One file per command.

pub mod emulator;
pub mod home;
pub mod status;

use clap::{Parser, Subcommand};

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Emulator(#[from] crate::emulator::EmulatorError),
    #[error("{0}")]
    Usage(String),
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
}

impl CliError {
    /// The documented exit code: 2 for bad input or usage, 1 for anything that failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_)
            | CliError::Emulator(crate::emulator::EmulatorError::Scenario(_)) => 2,
            _ => 1,
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "entra-failover",
    version,
    about = "Fail Microsoft Entra ID sign-in over from AD FS to password hash sync, and back."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the tenant: domains and how they sign in, password hash sync, AD FS farms.
    Status(status::StatusArgs),
    /// Serve the rehearsal tenant (Graph, sign-in and AD FS, simulated) over HTTPS on loopback.
    Emulator(emulator::EmulatorArgs),
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<u8, CliError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(CliError::Runtime)?;
    runtime.block_on(async move {
        match cli.command {
            None => status::run(status::StatusArgs::default()).await,
            Some(Command::Status(a)) => status::run(a).await,
            Some(Command::Emulator(a)) => emulator::run(a).await,
        }
    })
}
