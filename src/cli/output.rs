//! Printing: text or JSON on stdout, progress on stderr when it is a terminal, and the confirmation
//! an administrator types before a change.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use super::{CliError, Global};
use crate::ops::Progress;

pub fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", text.trim_end()).map_err(CliError::Output)
}

pub fn print<T: Serialize + std::fmt::Display>(g: &Global, value: &T) -> Result<(), CliError> {
    if g.json {
        let text = serde_json::to_string_pretty(value)
            .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
        print_text(&text)
    } else {
        print_text(&value.to_string())
    }
}

pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
    print_text(&text)
}

/// Progress lines on stderr, only when stderr is a terminal.
pub struct Stderr {
    tty: bool,
    color: bool,
}

impl Stderr {
    pub fn new() -> Stderr {
        let tty = std::io::stderr().is_terminal();
        Stderr {
            tty,
            color: tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
}

impl Default for Stderr {
    fn default() -> Self {
        Stderr::new()
    }
}

impl Progress for Stderr {
    fn event(&self, domain: Option<&str>, message: &str) {
        if !self.tty {
            return;
        }
        let who = domain.map(|d| format!("{d}: ")).unwrap_or_default();
        let line = if self.color {
            format!("\x1b[2m… {who}{message}\x1b[0m")
        } else {
            format!("… {who}{message}")
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}

/// Asks the administrator to type `word` to confirm; `--yes` skips it. Without a terminal a change
/// needs `--yes`: a script must say so.
pub fn confirm(g: &Global, word: &str, what: &str) -> Result<(), CliError> {
    if g.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "{what}: not a terminal, so nothing to confirm with; pass --yes to go ahead"
        )));
    }
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{what}. Type {word} to confirm: ");
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(CliError::Output)?;
    if line.trim().eq_ignore_ascii_case(word) {
        Ok(())
    } else {
        Err(CliError::Usage("not confirmed: nothing was changed".into()))
    }
}
