//! PowerShell text that the tool writes for the servers (the Connect server's password sync, the AD FS
//! trust reset, the policy export, the farm backup): how a value becomes a literal that cannot break
//! out of its string or comment, and — for the tests of every script — the house style that keeps a
//! generated script readable by PowerShell's own parser although none can run on the machines that
//! build this tool.
//!
//! The style: no statement continues past a line break except after `|`, an opening bracket, or a
//! `,` inside `@(…)` or a `param(…)` block; no backtick continuation; inside a hash literal each line
//! starts a `Key = value` entry. PowerShell ends a statement at a line break otherwise, so a line
//! such as `Select-Object` at the end of a line takes no properties from the next one.

/// A PowerShell single-quoted string literal (a `'` is doubled).
pub fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '+')
}

/// Only the characters a computer, tenant or domain name has: nothing that could break out of a
/// comment or a string, whatever Graph or the command line handed over.
pub fn plain(s: &str) -> String {
    s.chars().filter(|c| is_plain(*c)).collect()
}

/// A name (a tenant, a domain, a server) that would have to be altered to go into a script.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error(
    "the {what} {value:?} cannot go into a PowerShell script: it holds characters no {what} has (a line break, a quote, a space or the like), so the script is not written"
)]
pub struct Unsafe {
    pub what: &'static str,
    pub value: String,
}

/// Each name as it is, or the first that holds anything but letters, digits and `.-_:+`: a name is
/// refused rather than quietly changed, since a changed name would be a script for another object.
pub fn names(list: &[(&'static str, &str)]) -> Result<(), Unsafe> {
    match list
        .iter()
        .find(|(_, v)| v.is_empty() || !v.chars().all(is_plain))
    {
        Some((what, value)) => Err(Unsafe {
            what,
            value: value.chars().take(100).collect(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
pub mod style {
    //! The style check, and PowerShell's own parser where one is installed.

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Open {
        Paren,
        /// `@(`: an array expression, where a `,` at a line's end continues the list.
        Array,
        /// `param(`: likewise.
        Param,
        /// `$(`: a subexpression, statements inside.
        Sub,
        Brace,
        /// `@{`: a hash literal, one `Key = value` a line.
        Hash,
        Bracket,
    }

    impl Open {
        fn close(self) -> char {
            match self {
                Open::Paren | Open::Array | Open::Param | Open::Sub => ')',
                Open::Brace | Open::Hash => '}',
                Open::Bracket => ']',
            }
        }
    }

    struct Lexer<'a> {
        c: &'a [char],
        i: usize,
        line: usize,
        errors: Vec<String>,
    }

    fn is_key_line(rest: &[char]) -> bool {
        let s: String = rest.iter().take_while(|c| **c != '\n').collect();
        let t = s.trim_start();
        if t.is_empty() || t.starts_with('}') || t.starts_with('#') {
            return true;
        }
        let key_end = if let Some(q) = t.strip_prefix('\'') {
            q.find('\'').map(|n| n + 2)
        } else {
            Some(
                t.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(t.len()),
            )
        };
        key_end.is_some_and(|n| n > 0 && t[n..].trim_start().starts_with('='))
    }

    impl Lexer<'_> {
        fn at(&self, k: usize) -> Option<char> {
            self.c.get(self.i + k).copied()
        }

        /// The word that ends just before this character, spaces aside.
        fn word_before(&self) -> String {
            let mut j = self.i;
            while j > 0 && self.c[j - 1] == ' ' {
                j -= 1;
            }
            let end = j;
            while j > 0 && (self.c[j - 1].is_ascii_alphanumeric() || self.c[j - 1] == '_') {
                j -= 1;
            }
            self.c[j..end].iter().collect()
        }

        fn err(&mut self, what: String) {
            self.errors.push(format!("line {}: {what}", self.line));
        }

        /// Code until the bracket `close` that the caller opened (`None`: the end of the text).
        fn code(&mut self, close: Option<char>) {
            let mut stack: Vec<Open> = vec![];
            // The last character of code on this line, outside strings and comments.
            let mut last: Option<char> = None;
            let mut line_start = true;
            while let Some(ch) = self.at(0) {
                if line_start && !ch.is_whitespace() {
                    line_start = false;
                    if ch == '|' {
                        self.err("a line starts with | (Windows PowerShell 5.1 reads it as an empty pipe)".into());
                    }
                    if ch == '-' && self.at(1).is_some_and(|c| c.is_ascii_alphabetic()) {
                        self.err("a line starts with a parameter or operator: it continues nothing, PowerShell ends the statement at the line break before it".into());
                    }
                    if stack.last() == Some(&Open::Hash) && !is_key_line(&self.c[self.i..]) {
                        self.err("a line inside @{…} that is not a Key = value entry: the entry before it ended at the line break".into());
                    }
                }
                match ch {
                    '\n' => {
                        match last {
                            Some('`') => self.err("a backtick continues the line: end it after |, an opening bracket or a , in @(…)".into()),
                            Some(',') if !matches!(stack.last(), Some(Open::Array | Open::Param)) => self.err(
                                "a line ends with , outside @(…) and param(…): the list goes on past the line break".into(),
                            ),
                            Some('=' | '+') => self.err("a line ends with an operator: the expression goes on past the line break".into()),
                            _ => {}
                        }
                        self.line += 1;
                        self.i += 1;
                        last = None;
                        line_start = true;
                        continue;
                    }
                    '#' if last.is_none_or(|l| l.is_whitespace() || "(;{".contains(l))
                        || self.i == 0
                        || self.c[self.i - 1].is_whitespace() =>
                    {
                        while self.at(0).is_some_and(|c| c != '\n') {
                            self.i += 1;
                        }
                        continue;
                    }
                    '<' if self.at(1) == Some('#') => {
                        self.i += 2;
                        while self.at(0).is_some()
                            && !(self.at(0) == Some('#') && self.at(1) == Some('>'))
                        {
                            if self.at(0) == Some('\n') {
                                self.line += 1;
                            }
                            self.i += 1;
                        }
                        if self.at(0).is_none() {
                            self.err("an unclosed <# comment".into());
                            return;
                        }
                        self.i += 2;
                        last = Some('>');
                        continue;
                    }
                    '@' if matches!(self.at(1), Some('\'' | '"')) && self.at(2) == Some('\n') => {
                        // A here-string: its body runs to a line that starts with its closing quote.
                        let q = self.at(1).unwrap_or('\'');
                        self.i += 3;
                        self.line += 1;
                        loop {
                            match self.at(0) {
                                None => {
                                    self.err("an unclosed here-string".into());
                                    return;
                                }
                                Some('\n') if self.at(1) == Some(q) && self.at(2) == Some('@') => {
                                    self.i += 3;
                                    self.line += 1;
                                    break;
                                }
                                Some('\n') => self.line += 1,
                                _ => {}
                            }
                            self.i += 1;
                        }
                        last = Some('@');
                        continue;
                    }
                    '\'' => {
                        self.i += 1;
                        loop {
                            match self.at(0) {
                                None => {
                                    self.err("an unclosed '…' string".into());
                                    return;
                                }
                                Some('\'') if self.at(1) == Some('\'') => self.i += 2,
                                Some('\'') => break,
                                Some(c) => {
                                    if c == '\n' {
                                        self.line += 1;
                                    }
                                    self.i += 1;
                                }
                            }
                        }
                    }
                    '"' => {
                        self.i += 1;
                        loop {
                            match self.at(0) {
                                None => {
                                    self.err("an unclosed \"…\" string".into());
                                    return;
                                }
                                Some('`') => self.i += 2,
                                Some('$') if self.at(1) == Some('(') => {
                                    self.i += 2;
                                    self.code(Some(')'));
                                    continue;
                                }
                                Some('"') => break,
                                Some('$')
                                    if self.at(1).is_some_and(|c| c.is_ascii_alphabetic()) =>
                                {
                                    let mut k = 1;
                                    while self
                                        .at(k)
                                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
                                    {
                                        k += 1;
                                    }
                                    if self.at(k) == Some(':')
                                        && !self.at(k + 1).is_some_and(|c| {
                                            c.is_ascii_alphanumeric() || c == '_' || c == '{'
                                        })
                                    {
                                        self.err("\"$name:\" in a string reads as a drive-qualified variable: write $($name):".into());
                                    }
                                    self.i += k;
                                }
                                Some(c) => {
                                    if c == '\n' {
                                        self.line += 1;
                                    }
                                    self.i += 1;
                                }
                            }
                        }
                    }
                    '(' => {
                        let prev = (self.i > 0).then(|| self.c[self.i - 1]);
                        stack.push(match prev {
                            Some('@') => Open::Array,
                            Some('$') => Open::Sub,
                            _ if self.word_before().eq_ignore_ascii_case("param") => Open::Param,
                            _ => Open::Paren,
                        });
                    }
                    '{' => stack.push(if self.i > 0 && self.c[self.i - 1] == '@' {
                        Open::Hash
                    } else {
                        Open::Brace
                    }),
                    '[' => stack.push(Open::Bracket),
                    ')' | '}' | ']' => match stack.pop() {
                        Some(open) if open.close() == ch => {}
                        Some(open) => {
                            self.err(format!("{ch} where {} was due", open.close()));
                            return;
                        }
                        None if close == Some(ch) => {
                            self.i += 1;
                            return;
                        }
                        None => {
                            self.err(format!("a stray {ch}"));
                            return;
                        }
                    },
                    _ => {}
                }
                if !ch.is_whitespace() {
                    last = Some(ch);
                }
                self.i += 1;
            }
            if let Some(open) = stack.last() {
                self.err(format!("{} never came", open.close()));
            } else if let Some(c) = close {
                self.err(format!("the subexpression's {c} never came"));
            }
        }
    }

    /// Checks `src` against the house style; every finding with its line.
    pub fn check(src: &str) -> Result<(), Vec<String>> {
        let chars: Vec<char> = src.replace("\r\n", "\n").chars().collect();
        let mut l = Lexer {
            c: &chars,
            i: 0,
            line: 1,
            errors: vec![],
        };
        l.code(None);
        if l.errors.is_empty() {
            Ok(())
        } else {
            Err(l.errors)
        }
    }

    /// The PowerShells on PATH (Windows PowerShell 5.1 and PowerShell 7 on a Windows runner).
    /// Looked up on PATH first: a spawn that fails still forks the test process, lock descriptors
    /// and all.
    fn powershells() -> Vec<std::path::PathBuf> {
        let names = ["pwsh", "pwsh.exe", "powershell.exe"];
        let Some(paths) = std::env::var_os("PATH") else {
            return vec![];
        };
        let mut found: Vec<std::path::PathBuf> = vec![];
        for name in names {
            if let Some(p) = std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
                && !found.iter().any(|f| f.file_stem() == p.file_stem())
            {
                found.push(p);
            }
        }
        found
    }

    /// Each installed PowerShell parses `text` (as the file `name`) with zero errors. Where the
    /// environment says PowerShell must be there (`ENTRA_FAILOVER_REQUIRE_POWERSHELL=1`, as in the
    /// Windows CI job), finding none is a failure, not a skip.
    pub fn parses(name: &str, text: &str) {
        let shells = powershells();
        if shells.is_empty() {
            assert!(
                std::env::var("ENTRA_FAILOVER_REQUIRE_POWERSHELL").as_deref() != Ok("1"),
                "no PowerShell on PATH, and this run requires one"
            );
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join(name);
        std::fs::write(&file, crate::files::powershell_file(text)).expect("write script");
        let check = format!(
            "$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile({}, [ref]$null, [ref]$e); if ($e.Count) {{ $e | ForEach-Object {{ \"line $($_.Extent.StartLineNumber): $($_.Message)\" }}; exit 1 }}",
            super::quoted(&file.display().to_string())
        );
        for shell in shells {
            let out = std::process::Command::new(&shell)
                .args(["-NoProfile", "-NonInteractive", "-Command", &check])
                .output()
                .expect("run PowerShell");
            assert!(
                out.status.success(),
                "{} does not parse {name}:\n{}{}",
                shell.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    /// The style check and the parsers, for a generated script.
    pub fn assert_good(name: &str, text: &str) {
        if let Err(e) = check(text) {
            panic!("{name} breaks the house style:\n{}\n\n{text}", e.join("\n"));
        }
        parses(name, text);
    }

    #[cfg(test)]
    mod tests {
        use super::check;

        #[test]
        fn the_check_catches_what_powershell_would_misread() {
            // The export script as it was: Select-Object at a line's end, its properties below.
            let bad = "$x = [ordered]@{\n    A = Get-Thing | Select-Object\n        B, C\n}\n";
            let e = check(bad).unwrap_err();
            assert!(e[0].starts_with("line 3:"), "{e:?}");
            assert!(
                check("$x = @{\n    A = Get-Thing | Select-Object B,\n        C\n}\n").is_err()
            );
            assert!(check("Add-Thing -Name $n `\n    -Other 1\n").is_err());
            assert!(check("Get-Thing\n    -Name x\n").is_err());
            assert!(check("$a = 1 +\n    2\n").is_err());
            assert!(check("if ($x) { Write-Host 'a' ").is_err());
            assert!(check("Write-Host \"$(if ($a) { 'b' }\"").is_err());
            assert!(check("$h = @'\nnot closed\n").is_err());
            assert!(check("throw \"role $role: no\"\n").is_err());
            assert_eq!(
                check("Write-Host \"$env:COMPUTERNAME $($role): yes\"\n"),
                Ok(())
            );
            // What the style allows.
            let good = "param(\n    [string]$A = 'x',\n    [switch]$B\n)\n$l = @(\n    'a',\n    'b'\n)\nGet-Thing |\n    Select-Object A, B\n$h = [ordered]@{\n    A = 1\n    'B c' = @(\n        2,\n        3\n    )\n}\n$r = @'\nanything, at all =\n'@\nWrite-Host 'it''s' # ) in a comment\n<# a block\n comment, #>\n";
            assert_eq!(check(good), Ok(()));
        }
    }
}
