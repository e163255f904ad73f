//! The script behind the Connect wizard's *User sign-in → Enable single sign-on* page: on the Connect
//! server, with the `AzureADSSO` module that ships with Entra Connect, it reports each AD forest's
//! Seamless SSO state (enabled in Entra ID or not, and the age of the `AZUREADSSOACC` computer
//! account's Kerberos key, which Microsoft asks to roll over every 30 days), records it to a file
//! before any change, and enables Seamless SSO for the forests that lack it, asking for a domain
//! administrator's credentials of each such forest when it runs (never stored). It prints the
//! intranet-zone setting browsers need. Graph has no call that shows or changes any of this.
//!
//! It refuses to run anywhere but an active Connect server with the module present; a tenant that
//! synchronizes with Cloud Sync only is told to install the Entra Connect package (without
//! configuring sync) on a domain-joined server for the module, as Microsoft tells such tenants, and
//! runs it there with `-CloudSyncOnly`. A forest that already has Seamless SSO is left as it is: its
//! key's age is reported, and the key is rolled over only when asked (`-RollOverKey`), once per run.

use crate::powershell::{plain, quoted};

/// The zone setting browsers need, for the script's last lines and the wizard's page.
pub const AUTOLOGON_URL: &str = "https://autologon.microsoftazuread-sso.com";

/// Where the Connect package puts the module.
pub const MODULE_PATH: &str = r"Microsoft Azure Active Directory Connect\AzureADSSO.psd1";

/// What the script is made for.
pub struct Target<'a> {
    pub tenant: &'a str,
    /// The Connect server named by the sync service account, when known.
    pub server: Option<&'a str>,
    /// The forests to check when the server's AD connectors do not name them (Cloud Sync only): the
    /// tenant's domains being moved to password hash sync.
    pub forests: &'a [String],
    pub generated_at: &'a str,
}

pub fn script(t: &Target) -> Result<String, crate::powershell::Unsafe> {
    let mut names = vec![("tenant", t.tenant)];
    names.extend(t.server.map(|s| ("server", s)));
    names.extend(t.forests.iter().map(|f| ("forest", f.as_str())));
    crate::powershell::names(&names)?;
    let (expected, for_server) = super::server_parts(t.server);
    let forests = if t.forests.is_empty() {
        "@()".to_string()
    } else {
        format!(
            "@({})",
            t.forests
                .iter()
                .map(|f| quoted(&plain(f)))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Ok(format!(
        r#"#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
  entra-failover: Seamless single sign-on on the Microsoft Entra Connect server.
  Generated {generated} for tenant {tenant}{for_server}.

  What it does, in order (what the Connect wizard's User sign-in > Enable single sign-on does):
    1. Refuses to run unless this is an active Connect Sync server (ADSync service, not in staging
       mode) with the AzureADSSO module of Entra Connect. With -CloudSyncOnly: any domain-joined
       server where the Entra Connect package is installed (not configured) for the module.
    2. Signs in to Microsoft Entra ID with the module's own prompt (a Hybrid Identity Administrator
       or Global Administrator); nothing is stored.
    3. Reads the Seamless SSO state: the forests Entra ID has it for, and for each forest the age of
       the AZUREADSSOACC computer account's Kerberos key.
    4. Records that state to a JSON file before any change.
    5. With -StatusOnly, stops there. Otherwise, for each forest without Seamless SSO: asks for a
       domain administrator of that forest (DOMAIN\user, not in Protected Users) and enables it.
       A forest that has it is left as it is; -RollOverKey rolls its key over (once, no more often
       than every 30 days: a second rollover breaks sign-in until Kerberos tickets expire).
    6. Prints the state after the change, and the browser setting users need: the intranet zone
       (Local intranet, value 1) for {autologon}.
  Credentials are asked for when it runs and never written. Preview with -WhatIf.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    # Only report each forest's state; change nothing.
    [switch]$StatusOnly,
    # A tenant that synchronizes with Cloud Sync only: no ADSync service here.
    [switch]$CloudSyncOnly,
    # Roll over the Kerberos key of forests that have Seamless SSO already.
    [switch]$RollOverKey,
    # The forests to check when no AD connector names them.
    [string[]]$Forest = {forests},
    # Where the record of the state before any change is written.
    [string]$RecordFolder = (Join-Path $env:ProgramData 'entra-failover'),
    # The AzureADSSO module, where the Entra Connect package puts it.
    [string]$ModulePath = (Join-Path $env:ProgramFiles {module})
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$ExpectedServer = {expected}
$Autologon = {autologon_q}

# 1. Only on an active Connect Sync server (or, for Cloud Sync only, where the module is).
$adForests = @()
if (-not $CloudSyncOnly) {{
{checks}    $adForests = @(Get-ADSyncConnector | Where-Object {{ $_.ConnectorTypeName -eq 'AD' }} | ForEach-Object {{ $_.Name }})
}}
if (-not (Test-Path -LiteralPath $ModulePath)) {{
    throw "The AzureADSSO module is missing ($ModulePath): it ships with Microsoft Entra Connect. Run this script on the Connect server; a Cloud Sync-only tenant installs the Entra Connect package, without configuring sync, for the module."
}}
Import-Module $ModulePath
$forests = @($adForests + $Forest | Where-Object {{ $_ }} | Sort-Object -Unique)
if ($forests.Count -eq 0) {{ throw 'No AD forest to check: pass -Forest with the forests of your users.' }}

# 2. Sign in to Entra ID (the module's prompt).
New-AzureADSSOAuthenticationContext

# 3. The state: the forests Entra ID has Seamless SSO for, and each forest's key age.
function Get-SsoState {{
    $status = Get-AzureADSSOStatus | ConvertFrom-Json
    $enabledIn = @()
    if ($status.PSObject.Properties['Domains']) {{ $enabledIn = @($status.Domains) }}
    foreach ($f in $forests) {{
        $age = $null
        if (Get-Module -ListAvailable -Name 'ActiveDirectory') {{
            $account = Get-ADComputer -Identity 'AZUREADSSOACC' -Server $f -Properties PasswordLastSet -ErrorAction SilentlyContinue
            if ($account -and $account.PasswordLastSet) {{ $age = [int]((Get-Date) - $account.PasswordLastSet).TotalDays }}
        }}
        [pscustomobject]@{{
            Forest = $f
            Enabled = [bool]($enabledIn -contains $f)
            KeyAgeDays = $age
        }}
    }}
}}
$before = @(Get-SsoState)

# 4. Record the state before any change.
New-Item -ItemType Directory -Force -Path $RecordFolder | Out-Null
$record = Join-Path $RecordFolder ('seamless-sso-before-{{0:yyyyMMddTHHmmss}}.json' -f (Get-Date))
$before | ConvertTo-Json -Depth 3 | Set-Content -Path $record -Encoding UTF8
Write-Host "Recorded the Seamless SSO state before any change in $record"
$before | Format-Table -Property Forest, Enabled, KeyAgeDays -AutoSize | Out-String | Write-Host

# 5. Enable it where it is missing (or roll the key over, when asked).
$changed = @()
if (-not $StatusOnly) {{
    foreach ($s in $before) {{
        if ($s.Enabled -and -not $RollOverKey) {{
            if ($null -ne $s.KeyAgeDays -and $s.KeyAgeDays -gt 30) {{
                Write-Warning "$($s.Forest): the AZUREADSSOACC key is $($s.KeyAgeDays) days old; Microsoft asks for a rollover every 30 days (run again with -RollOverKey)."
            }}
            Write-Host "$($s.Forest): Seamless SSO is already on; nothing to change."
            continue
        }}
        $action = if ($s.Enabled) {{ 'Roll over the AZUREADSSOACC Kerberos key' }} else {{ 'Enable Seamless SSO' }}
        if ($PSCmdlet.ShouldProcess($s.Forest, $action)) {{
            $credential = Get-Credential -Message "A domain administrator of $($s.Forest) (DOMAIN\user; not in Protected Users)"
            if ($s.Enabled) {{
                Update-AzureADSSOForest -OnPremCredentials $credential
            }} else {{
                Enable-AzureADSSOForest -OnPremCredentials $credential
            }}
            $credential = $null
            $changed += $s.Forest
        }}
    }}
}}

# 6. What it did, and the browser setting.
Write-Host ("Seamless SSO changed for: {{0}}" -f $(if ($changed.Count) {{ $changed -join ', ' }} else {{ 'nothing' }}))
if ($changed.Count) {{
    @(Get-SsoState) | Format-Table -Property Forest, Enabled, KeyAgeDays -AutoSize | Out-String | Write-Host
}}
Write-Host "Browsers must treat $Autologon as Local intranet (zone 1): Group Policy > User Configuration > Administrative Templates > Windows Components > Internet Explorer > Internet Control Panel > Security Page > Site to Zone Assignment List."
Write-Host 'Next: entra-failover rehearse morning (in a rehearsal) or the sign-in log shows who signs in by single sign-on.'
"#,
        generated = plain(t.generated_at),
        tenant = plain(t.tenant),
        for_server = for_server,
        expected = expected,
        forests = forests,
        module = quoted(MODULE_PATH),
        autologon = AUTOLOGON_URL,
        autologon_q = quoted(AUTOLOGON_URL),
        checks = super::active_server_checks(
            "; a tenant that uses Cloud Sync only installs the Entra Connect package (without configuring sync) for its AzureADSSO module and runs this script with -CloudSyncOnly",
            "run the script on the active Connect server.",
            "    ",
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
            forests: &["contoso.com".into(), "fabrikam.com".into()],
            generated_at: "2026-12-05T05:00:00Z",
        })
        .unwrap()
    }

    #[test]
    fn it_refuses_off_a_connect_server_and_records_before_it_changes() {
        let s = sample();
        let pos = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        let first_change = pos("Enable-AzureADSSOForest -OnPremCredentials")
            .min(pos("Update-AzureADSSOForest -OnPremCredentials"));
        for refusal in [
            "Get-Service -Name 'ADSync'",
            "StagingModeEnabled",
            "Test-Path -LiteralPath $ModulePath",
        ] {
            assert!(pos(refusal) < first_change, "{refusal}");
        }
        assert!(pos("Set-Content -Path $record") < first_change);
        // Status only stops before any change; a forest that has it is left alone.
        assert!(pos("if (-not $StatusOnly)") < first_change);
        assert!(s.contains("if ($s.Enabled -and -not $RollOverKey)"));
        assert!(s.contains("SupportsShouldProcess"));
        assert!(s.contains("$ExpectedServer = 'AADCONNECT01'"));
        assert!(s.contains("[string[]]$Forest = @('contoso.com', 'fabrikam.com')"));
        assert!(s.contains(AUTOLOGON_URL));
    }

    #[test]
    fn credentials_are_asked_for_and_never_written() {
        let s = sample();
        // Asked for per forest, used once, dropped; nothing that writes a file touches them.
        assert!(s.contains("$credential = Get-Credential"));
        assert!(s.contains("$credential = $null"));
        for line in s.lines().filter(|l| l.contains("$credential")) {
            for writer in [
                "Set-Content",
                "Out-File",
                "Export-",
                "ConvertTo-Json",
                "Write-Host",
            ] {
                assert!(!line.contains(writer), "{line}");
            }
        }
        for banned in ["ConvertFrom-SecureString", "client_secret", "-AsPlainText"] {
            assert!(!s.contains(banned), "{banned}");
        }
    }

    #[test]
    fn the_script_is_well_formed_powershell() {
        crate::powershell::style::assert_good("enable-seamless-sso.ps1", &sample());
        let none = script(&Target {
            tenant: "t",
            server: None,
            forests: &[],
            generated_at: "now",
        })
        .unwrap();
        assert!(none.contains("$ExpectedServer = $null"));
        assert!(none.contains("[string[]]$Forest = @()"));
        crate::powershell::style::assert_good("enable-seamless-sso.ps1", &none);
    }

    #[test]
    fn a_name_that_would_break_out_is_refused() {
        for (server, forest) in [
            (Some("X'; Stop-Computer; '"), "contoso.com"),
            (Some("AADCONNECT01"), "contoso.com'); Remove-Item C:\\ #"),
            (Some("AADCONNECT01"), "contoso.com\r\nStop-Computer"),
        ] {
            let e = script(&Target {
                tenant: "contoso.onmicrosoft.com",
                server,
                forests: &[forest.to_string()],
                generated_at: "now",
            })
            .unwrap_err();
            assert!(
                e.to_string().contains("cannot go into a PowerShell script"),
                "{e}"
            );
        }
    }
}
