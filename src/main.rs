use std::process::ExitCode;

use clap::Parser;
use entra_failover::cli::{Cli, run};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("entra-failover: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
