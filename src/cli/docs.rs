//! `completions` and `man`: generated from the same clap definitions as the command line itself, so
//! they never drift from it.

use std::io::Write;

use clap::CommandFactory;

use super::{Cli, CliError};

pub fn completions(shell: clap_complete::Shell) -> Result<u8, CliError> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "entra-failover", &mut out);
    write(&out)
}

pub fn man() -> Result<u8, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(CliError::Output)?;
    write(&out)
}

fn write(bytes: &[u8]) -> Result<u8, CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(CliError::Output)?;
    Ok(0)
}
