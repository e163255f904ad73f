//! Printing: text or JSON on stdout, progress on stderr when it is a terminal, and the confirmation
//! an administrator types before a change.

use std::io::{IsTerminal, Write};

use serde::Serialize;

use super::{CliError, Global};
use crate::ops::Progress;

pub fn print_text(text: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", terminal_safe(text.trim_end())).map_err(CliError::Output)
}

/// Text from outside (a farm's fault reason, Graph's messages and names, a device code prompt) as
/// the terminal may show it: every control character but line breaks and tabs written out as an
/// escape (`\u{1b}`), so that no answer can move the cursor, retitle the window or hide a line.
pub fn terminal_safe(text: &str) -> std::borrow::Cow<'_, str> {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() && c != '\n' && c != '\t' {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

pub fn print<T: Serialize + std::fmt::Display>(g: &Global, value: &T) -> Result<(), CliError> {
    if g.json {
        print_json(value)
    } else {
        print_text(&value.to_string())
    }
}

/// JSON on stdout. serde escapes the C0 controls; the C1 ones (U+0080–U+009F, which some terminals
/// obey) are written as `\u0080`–`\u009f` here, the same string to any JSON reader.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), CliError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| CliError::Output(std::io::Error::other(e)))?;
    let text: String = text
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                format!("\\u{:04x}", c as u32)
            } else {
                c.to_string()
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", text.trim_end()).map_err(CliError::Output)
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
        let (who, message) = (terminal_safe(&who), terminal_safe(message));
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
    let _ = write!(
        err,
        "{}. Type {} to confirm: ",
        terminal_safe(what),
        terminal_safe(word)
    );
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

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_from_outside_are_written_out() {
        let hostile = "MSIS7007: \x1b]0;pwned\x07\x1b[2J\u{9b}31m done\r\nnext\tline";
        let safe = super::terminal_safe(hostile);
        assert!(
            !safe
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{safe:?}"
        );
        assert!(safe.contains("\\u{1b}]0;pwned") && safe.contains("next\tline"));
        assert_eq!(super::terminal_safe("plain — é"), "plain — é");
    }
}
