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

use crate::powershell::plain;

pub fn script(t: &Target) -> Result<String, crate::powershell::Unsafe> {
    let mut names = vec![("tenant", t.tenant)];
    names.extend(t.server.map(|s| ("server", s)));
    crate::powershell::names(&names)?;
    let (expected, for_server) = super::server_parts(t.server);
    Ok(format!(
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
{checks}
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
        $full = New-Object Microsoft.IdentityManagement.PowerShell.ObjectModel.ConfigurationParameter 'Microsoft.Synchronize.ForceFullPasswordSync', 'String', 'ConnectorGlobal', $null, $null, $null
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
        Format-Table -Property SourceConnector, TargetConnector, Enabled -AutoSize | Out-String | Write-Host
}}
Write-Host 'Next: entra-failover enable-phs --wait shows when the first password hashes arrive.'
"#,
        generated = plain(t.generated_at),
        tenant = plain(t.tenant),
        for_server = for_server,
        expected = expected,
        checks = super::active_server_checks(
            "",
            "a staging server synchronizes no passwords. Run the script on the active Connect server.",
            "",
        ),
    ))
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
        .unwrap()
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

    #[test]
    fn the_script_is_well_formed_powershell() {
        crate::powershell::style::assert_good("enable-phs.ps1", &sample());
    }

    #[test]
    fn a_name_that_would_break_out_is_refused() {
        for (tenant, server) in [
            ("evil'; Remove-Item C:\\ #>", Some("AADCONNECT01")),
            ("contoso.onmicrosoft.com", Some("X'; Stop-Computer; '")),
            ("contoso.onmicrosoft.com", Some("AAD\r\nStop-Computer")),
        ] {
            let e = script(&Target {
                tenant,
                server,
                generated_at: "now",
            })
            .unwrap_err();
            assert!(
                e.to_string().contains("cannot go into a PowerShell script"),
                "{e}"
            );
        }
        let none = script(&Target {
            tenant: "t",
            server: None,
            generated_at: "now",
        })
        .unwrap();
        assert!(none.contains("$ExpectedServer = $null"));
    }
}
