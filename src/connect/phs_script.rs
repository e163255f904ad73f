//! The script behind the Connect wizard's *Optional features → Password hash synchronization*: on the
//! Connect Sync server, with the ADSync module, it finds the AD and Entra connectors itself, records
//! the current password sync configuration to a file first, turns on password hash sync between them
//! with a full password sync, starts a sync cycle, and prints what it did. It refuses to run anywhere
//! but an active Connect server, and running it again changes nothing that is already on.

/// What the script is made for.
pub struct Target<'a> {
    pub tenant: &'a str,
    /// The server named by the sync service account, when known.
    pub server: Option<&'a str>,
    pub generated_at: &'a str,
}

/// A PowerShell single-quoted string literal (a `'` is doubled).
fn quoted(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Only characters a computer name and a tenant name have: nothing that could break out of a comment.
fn plain(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '+'))
        .collect()
}

pub fn script(t: &Target) -> String {
    let server = t.server.map(plain).unwrap_or_default();
    let expected = if server.is_empty() {
        "$null".to_string()
    } else {
        quoted(&server)
    };
    format!(
        r#"#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
  entra-failover: turn on password hash synchronization on this Microsoft Entra Connect Sync server.
  Generated {generated} for tenant {tenant}{for_server}.

  What it does, in order (what the Connect wizard's Optional features > Password hash
  synchronization does):
    1. Refuses to run unless this is an active Connect Sync server (ADSync service and module,
       not in staging mode).
    2. Finds the Microsoft Entra connector and the Active Directory connectors.
    3. Records the current password sync configuration to a JSON file before changing anything.
    4. For each AD connector whose password sync is off: asks for a full password sync and turns
       password sync on towards the Microsoft Entra connector.
    5. Starts a delta sync cycle; password hashes follow on the password sync scheduler (every
       two minutes; a first full sync of many users can take up to three hours).
    6. Prints the configuration after the change.
  Running it again changes nothing that is already on. It holds and asks for no password.
  Preview with -WhatIf.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    # Where the record of the configuration before the change is written.
    [string]$RecordFolder = (Join-Path $env:ProgramData 'entra-failover')
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ExpectedServer = {expected}

# 1. Only on an active Connect Sync server.
if (-not (Get-Service -Name 'ADSync' -ErrorAction SilentlyContinue)) {{
    throw "This is not a Microsoft Entra Connect Sync server: the ADSync service is missing. Run this script on the Connect server$(if ($ExpectedServer) {{ " ($ExpectedServer)" }})."
}}
if (-not (Get-Module -ListAvailable -Name 'ADSync')) {{
    throw 'The ADSync PowerShell module is missing: run this script on the Connect Sync server, in Windows PowerShell.'
}}
Import-Module ADSync
if ($ExpectedServer -and $env:COMPUTERNAME -ne $ExpectedServer) {{
    Write-Warning "The tenant's sync service account names the server $ExpectedServer; this is $env:COMPUTERNAME."
}}
if ((Get-ADSyncScheduler).StagingModeEnabled) {{
    throw 'This server is in staging mode: a staging server synchronizes no passwords. Run the script on the active Connect server.'
}}

# 2. The connectors, found by their type (names differ from tenant to tenant and are case-sensitive).
$connectors = @(Get-ADSyncConnector)
$entra = @($connectors | Where-Object {{ $_.SubType -eq 'Windows Azure Active Directory (Microsoft)' }})
$ad = @($connectors | Where-Object {{ $_.ConnectorTypeName -eq 'AD' }})
if ($entra.Count -ne 1) {{ throw "Expected one Microsoft Entra connector, found $($entra.Count)." }}
if ($ad.Count -lt 1) {{ throw 'No Active Directory connector found.' }}
$target = $entra[0].Name

# 3. Record the configuration before any change.
New-Item -ItemType Directory -Force -Path $RecordFolder | Out-Null
$record = Join-Path $RecordFolder ('password-sync-before-{{0:yyyyMMddTHHmmss}}.json' -f (Get-Date))
$before = @(foreach ($c in $ad) {{
    Get-ADSyncAADPasswordSyncConfiguration -SourceConnector $c.Name |
        Select-Object SourceConnector, TargetConnector, Enabled
}})
$before | ConvertTo-Json -Depth 3 | Set-Content -Path $record -Encoding UTF8
Write-Host "Recorded the password sync configuration before the change in $record"

# 4. Password sync on, with a full password sync, for each AD connector where it is off.
$changed = @()
foreach ($c in $ad) {{
    $now = Get-ADSyncAADPasswordSyncConfiguration -SourceConnector $c.Name
    if ($now.Enabled) {{
        Write-Host "$($c.Name): password hash sync is already on; nothing to change."
        continue
    }}
    if ($PSCmdlet.ShouldProcess($c.Name, "Turn on password hash sync towards $target")) {{
        $full = New-Object Microsoft.IdentityManagement.PowerShell.ObjectModel.ConfigurationParameter 'Microsoft.Synchronize.ForceFullPasswordSync', String, ConnectorGlobal, $null, $null, $null
        $full.Value = 1
        $connector = Get-ADSyncConnector -Name $c.Name
        $connector.GlobalParameters.Remove($full.Name) | Out-Null
        $connector.GlobalParameters.Add($full)
        $connector = Add-ADSyncConnector -Connector $connector
        Set-ADSyncAADPasswordSyncConfiguration -SourceConnector $c.Name -TargetConnector $target -Enable $true
        $changed += $c.Name
    }}
}}

# 5. A sync cycle, when something changed.
if ($changed.Count -gt 0 -and $PSCmdlet.ShouldProcess('sync scheduler', 'Start a delta sync cycle')) {{
    Start-ADSyncSyncCycle -PolicyType Delta | Out-Null
}}

# 6. What it did.
Write-Host ("Password hash sync turned on for: {{0}}" -f $(if ($changed.Count) {{ $changed -join ', ' }} else {{ 'nothing (already on)' }}))
foreach ($c in $ad) {{
    Get-ADSyncAADPasswordSyncConfiguration -SourceConnector $c.Name |
        Format-Table SourceConnector, TargetConnector, Enabled -AutoSize | Out-String | Write-Host
}}
Write-Host 'Next: entra-failover enable-phs --wait shows when the first password hashes arrive.'
"#,
        generated = plain(t.generated_at),
        tenant = plain(t.tenant),
        for_server = if server.is_empty() {
            String::new()
        } else {
            format!(", to run on {server}")
        },
        expected = expected,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        script(&Target {
            tenant: "contoso.onmicrosoft.com",
            server: Some("AADCONNECT01"),
            generated_at: "2026-12-02T14:00:00Z",
        })
    }

    #[test]
    fn it_refuses_off_a_connect_server_and_records_before_it_changes() {
        let s = sample();
        let pos = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        // Every refusal comes before the first change; the record is written before any Set-/Add-.
        let first_change = pos("Add-ADSyncConnector -Connector").min(pos(
            "Set-ADSyncAADPasswordSyncConfiguration -SourceConnector",
        ));
        for refusal in [
            "Get-Service -Name 'ADSync'",
            "Get-Module -ListAvailable -Name 'ADSync'",
            "StagingModeEnabled",
        ] {
            assert!(pos(refusal) < first_change, "{refusal}");
        }
        assert!(pos("Set-Content -Path $record") < first_change);
        assert!(pos("Start-ADSyncSyncCycle") > first_change);
        // Idempotent: a connector that is on is left alone; -WhatIf previews.
        assert!(s.contains("if ($now.Enabled)"));
        assert!(s.contains("SupportsShouldProcess"));
        assert!(s.contains("$ExpectedServer = 'AADCONNECT01'"));
        // No secret, no credential prompt.
        for banned in [
            "Get-Credential",
            "ConvertTo-SecureString",
            "-Password",
            "client_secret",
            "PSCredential",
        ] {
            assert!(!s.contains(banned), "{banned}");
        }
    }

    /// A small PowerShell lexer: comments, single- and double-quoted strings (with `$( )`
    /// subexpressions, which hold code again), here-strings aside; every bracket must close in order.
    fn balanced(src: &str) -> Result<(), String> {
        fn code(c: &[char], i: &mut usize, close: Option<char>) -> Result<(), String> {
            let mut stack: Vec<char> = vec![];
            while *i < c.len() {
                let ch = c[*i];
                match ch {
                    '#' => {
                        while *i < c.len() && c[*i] != '\n' {
                            *i += 1;
                        }
                        continue;
                    }
                    '<' if c.get(*i + 1) == Some(&'#') => {
                        *i += 2;
                        while *i + 1 < c.len() && !(c[*i] == '#' && c[*i + 1] == '>') {
                            *i += 1;
                        }
                        if *i + 1 >= c.len() {
                            return Err("an unclosed <# comment".into());
                        }
                        *i += 2;
                        continue;
                    }
                    '\'' => {
                        *i += 1;
                        loop {
                            match c.get(*i) {
                                None => return Err("an unclosed '…' string".into()),
                                Some('\'') if c.get(*i + 1) == Some(&'\'') => *i += 2,
                                Some('\'') => break,
                                Some(_) => *i += 1,
                            }
                        }
                    }
                    '"' => {
                        *i += 1;
                        loop {
                            match c.get(*i) {
                                None => return Err("an unclosed \"…\" string".into()),
                                Some('`') => *i += 2,
                                Some('$') if c.get(*i + 1) == Some(&'(') => {
                                    *i += 2;
                                    code(c, i, Some(')'))?;
                                }
                                Some('"') => break,
                                Some(_) => *i += 1,
                            }
                        }
                    }
                    '(' | '{' | '[' => stack.push(match ch {
                        '(' => ')',
                        '{' => '}',
                        _ => ']',
                    }),
                    ')' | '}' | ']' => match stack.pop() {
                        Some(want) if want == ch => {}
                        Some(want) => return Err(format!("{ch} where {want} was due, at {}", *i)),
                        None if close == Some(ch) => return Ok(()),
                        None => return Err(format!("a stray {ch} at {}", *i)),
                    },
                    _ => {}
                }
                *i += 1;
            }
            match (stack.last(), close) {
                (None, None) => Ok(()),
                (Some(open), _) => Err(format!("{open} never came")),
                (None, Some(c)) => Err(format!("the subexpression's {c} never came")),
            }
        }
        let chars: Vec<char> = src.chars().collect();
        code(&chars, &mut 0, None)
    }

    #[test]
    fn the_script_is_well_formed_powershell() {
        assert_eq!(balanced(&sample()), Ok(()));
        // The lexer itself catches what a generator gets wrong.
        assert!(balanced("if ($x) { Write-Host 'a' ").is_err());
        assert!(balanced("Write-Host \"$(if ($a) { 'b' }\"").is_err());
        assert!(balanced("Write-Host 'it''s' # ) in a comment").is_ok());
        // Where a PowerShell is installed, its own parser has the last word. (Looked up on PATH first:
        // a spawn that fails still forks this test process, lock descriptors and all.)
        let pwsh = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("pwsh"))
                .find(|p| p.is_file())
        });
        if let Some(pwsh) = pwsh {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("enable-phs.ps1");
            std::fs::write(&file, sample()).unwrap();
            let check = format!(
                "$e = $null; [void][System.Management.Automation.Language.Parser]::ParseFile('{}', [ref]$null, [ref]$e); if ($e.Count) {{ $e | ForEach-Object {{ $_.Message }}; exit 1 }}",
                file.display()
            );
            let parsed = std::process::Command::new(pwsh)
                .args(["-NoProfile", "-Command", &check])
                .output()
                .unwrap();
            assert!(
                parsed.status.success(),
                "{}",
                String::from_utf8_lossy(&parsed.stdout)
            );
        }
    }

    #[test]
    fn names_cannot_break_out_of_the_script() {
        let s = script(&Target {
            tenant: "evil'; Remove-Item C:\\ #>",
            server: Some("X'; Stop-Computer; '"),
            generated_at: "now",
        });
        // What is left of them stays inside the comment and the string: no quote, no comment end.
        assert!(
            s.contains("for tenant evilRemove-ItemC:, to run on XStop-Computer."),
            "{s}"
        );
        assert_eq!(s.matches("#>").count(), 1);
        assert!(s.contains("$ExpectedServer = 'XStop-Computer'"));
        let none = script(&Target {
            tenant: "t",
            server: None,
            generated_at: "now",
        });
        assert!(none.contains("$ExpectedServer = $null"));
    }
}
