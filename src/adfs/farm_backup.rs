//! The runbook's first "Important" step, before any switch to password hash sync: back up the AD FS
//! environment with Microsoft's AD FS Rapid Restore Tool. The tool writes the script; the
//! administrator runs it on the primary AD FS server. It refuses without the tool's module (saying
//! where it comes from) and on a database the tool does not support, asks for the encryption
//! password when it runs (never stored, never in the file), backs up to the folder given or a dated
//! default, prints what it saved and how to restore, and previews with `-WhatIf`.

use crate::powershell::plain;

/// The script's name beside the other farm scripts.
pub const FILE: &str = "backup-adfs-farm.ps1";
/// Where the Rapid Restore Tool installs its module.
pub const MODULE: &str =
    r"C:\Program Files (x86)\ADFS Rapid Recreation Tool\ADFSRapidRecreationTool.dll";
/// The default backup folder's parent on the farm.
pub const DEFAULT_FOLDER: &str = r"%ProgramData%\entra-failover\adfs-backup-<date>";

const TEMPLATE: &str = r#"#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
  entra-failover: back up the AD FS farm before switching to password hash sync, with Microsoft's
  AD FS Rapid Restore Tool (the first "Important" step of Microsoft's runbook).
  Generated @@GENERATED@@ for tenant @@TENANT@@.
  Run it on the primary AD FS server, in an elevated PowerShell.

  What it does, in order:
    1. Refuses unless the AD FS Rapid Restore Tool is installed (its module), this is the primary
       server of the farm, and the farm's configuration database is one the tool supports (Windows
       Internal Database, or a standalone SQL Server confirmed with -SqlStandalone: the tool does
       not support SQL merge replication or Always On availability groups).
    2. Asks for a password to encrypt the backup, twice. It is kept nowhere: not in this file, not
       on disk. A restore needs it: keep it where the team can find it on a bad day.
    3. Backs up the farm (configuration database and file, certificates with their keys, the DKM
       container) to -BackupFolder with Backup-ADFS.
    4. Prints what it saved and how to restore.
  Preview with -WhatIf: nothing is asked, written or changed.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    # Where the backup is written (a new folder each run by default).
    [string]$BackupFolder = (Join-Path $env:ProgramData ('entra-failover\adfs-backup-' + (Get-Date -Format 'yyyyMMdd-HHmmss'))),
    # Where the Rapid Restore Tool's module is.
    [string]$ModulePath = '@@MODULE@@',
    # The farm keeps its configuration in a standalone SQL Server (no merge replication, no Always On).
    [switch]$SqlStandalone
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'

# 1. The tool, the primary server, a supported database.
if (-not (Test-Path -LiteralPath $ModulePath)) {
    throw "The AD FS Rapid Restore Tool is not installed ($ModulePath is missing). Download it from the Microsoft Download Center (see learn.microsoft.com/windows-server/identity/ad-fs/operations/ad-fs-rapid-restore-tool), install it on this server, and run this script again."
}
Import-Module $ModulePath
if (-not (Get-Module -ListAvailable -Name 'ADFS')) {
    throw 'The ADFS PowerShell module is missing: run this script on the primary AD FS server.'
}
$role = (Get-AdfsSyncProperties).Role
if ($role -ne 'PrimaryComputer') {
    throw "This server's role in the farm is $($role), not PrimaryComputer: run this script on the primary AD FS server."
}
$connection = (Get-CimInstance -Namespace 'root/ADFS' -ClassName 'SecurityTokenService').ConfigurationDatabaseConnectionString
if ($connection -match 'MultiSubnetFailover|Failover Partner') {
    throw 'The farm keeps its configuration in SQL Server with high availability (Always On or mirroring), which the Rapid Restore Tool does not support: back up the SQL database and the SSL certificate instead.'
}
$wid = $connection -match '##wid|##ssee'
if (-not $wid -and -not $SqlStandalone) {
    throw 'The farm keeps its configuration in SQL Server. The Rapid Restore Tool does not support SQL merge replication or Always On availability groups: if the farm uses either, back up the SQL database and the SSL certificate instead; for a standalone SQL Server, run this script again with -SqlStandalone.'
}
Write-Host ("Configuration database: {0}" -f $(if ($wid) { 'Windows Internal Database' } else { 'SQL Server (standalone, as confirmed)' }))

if (-not $PSCmdlet.ShouldProcess($BackupFolder, 'Back up the AD FS farm (Backup-ADFS, with the DKM container)')) {
    return
}

# 2. The password, asked now and kept nowhere.
$first = Read-Host -AsSecureString -Prompt 'A password to encrypt the backup (a restore needs it)'
$second = Read-Host -AsSecureString -Prompt 'The same password again'
$password = [System.Net.NetworkCredential]::new('', $first).Password
if (-not $password) { throw 'An empty password encrypts nothing: run the script again.' }
if ($password -ne [System.Net.NetworkCredential]::new('', $second).Password) {
    $password = $null
    throw 'The two passwords differ: run the script again.'
}

# 3. The backup.
New-Item -ItemType Directory -Force -Path $BackupFolder | Out-Null
$comment = 'entra-failover: before switching to password hash sync, ' + (Get-Date -Format 's')
try {
    Backup-ADFS -StorageType 'FileSystem' -StoragePath $BackupFolder -EncryptionPassword $password -BackupComment $comment -BackupDKM
} finally {
    $password = $null
}

# 4. What it saved, and the way back.
$files = @(Get-ChildItem -LiteralPath $BackupFolder -Recurse -File)
if ($files.Count -eq 0) { throw "Backup-ADFS wrote nothing to $BackupFolder." }
Write-Host "Saved $($files.Count) file(s) to $($BackupFolder):"
$files | ForEach-Object { Write-Host ('  {0}  {1:N0} bytes' -f $_.FullName, $_.Length) }
Write-Host 'To restore the farm if it misbehaves after the switch back (on a server with the tool installed):'
Write-Host "  Import-Module '$ModulePath'"
Write-Host "  Restore-ADFS -StorageType 'FileSystem' -StoragePath '$BackupFolder' -DecryptionPassword <the password>"
Write-Host 'Restore-ADFS puts back everything but the relying party trusts: entra-failover reset-trust writes the script that mends the Microsoft 365 trust.'
"#;

/// The farm-backup script.
pub fn script(tenant: &str, generated_at: &str) -> Result<String, crate::powershell::Unsafe> {
    crate::powershell::names(&[("tenant", tenant)])?;
    Ok(TEMPLATE
        .replace("@@GENERATED@@", &plain(generated_at))
        .replace("@@TENANT@@", &plain(tenant))
        .replace("@@MODULE@@", MODULE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_refuses_first_asks_for_the_password_and_stores_none() {
        let s = script("contoso.onmicrosoft.com", "now").unwrap();
        let pos = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        let backup = pos("Backup-ADFS -StorageType 'FileSystem'");
        for refusal in [
            "Test-Path -LiteralPath $ModulePath",
            "(Get-AdfsSyncProperties).Role",
            "##wid",
            "$PSCmdlet.ShouldProcess",
        ] {
            assert!(pos(refusal) < backup, "{refusal}");
        }
        assert!(pos("Read-Host -AsSecureString") < backup);
        assert!(
            pos("Read-Host -AsSecureString") > pos("$PSCmdlet.ShouldProcess"),
            "-WhatIf asks nothing"
        );
        // The password is asked, never written: no literal, no file, no transcript.
        assert!(!s.contains("ConvertFrom-SecureString"));
        assert!(!s.contains("Start-Transcript"));
        assert!(s.contains("-EncryptionPassword $password"));
        assert!(s.contains("Restore-ADFS"));
        assert!(s.contains(MODULE));
    }

    #[test]
    fn the_script_is_well_formed_powershell() {
        crate::powershell::style::assert_good(
            FILE,
            &script("contoso.onmicrosoft.com", "now").unwrap(),
        );
    }
}
