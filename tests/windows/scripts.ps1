<#
  Every script entra-failover writes for a server, proven by PowerShell itself (run by the Windows CI
  job, once in Windows PowerShell 5.1 and once in PowerShell 7; no PowerShell can be installed on the
  machines that build the tool):

    1. The .exe writes each script from its own rehearsal tenant: the Connect server's password sync
       (enable-phs --connect-script) and Seamless SSO (enable-sso --script, and the failover
       pre-flight's), the failover pre-flight's AD FS policy export and farm backup, and the trust
       reset (reset-trust --adfs-script, with and without --replace-claim-rules).
    2. PowerShell's own parser reads each one: zero errors.
    3. Each one runs against stub functions of the ADSync and AD FS cmdlets it calls (functions take
       precedence over cmdlets), checking its refusals, the backup before any change, the trust never
       removed and its policy and rules kept, the rollback when a stubbed cmdlet throws midway, no
       password in any file, and -WhatIf changing nothing.

  Usage: tests/windows/scripts.ps1 -Exe target/release/entra-failover.exe
  Exits 1 on the first check that fails.
#>
param(
    [Parameter(Mandatory = $true)]
    [string]$Exe
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$shell = "PowerShell $($PSVersionTable.PSVersion) ($($PSVersionTable.PSEdition))"
$global:Checks = 0

function Fail([string]$What) {
    Write-Host "scripts check ($shell): FAILED: $What"
    exit 1
}

function Expect([bool]$Condition, [string]$What) {
    if (-not $Condition) { Fail $What }
    $global:Checks += 1
    Write-Host "  ok: $What"
}

$Exe = (Resolve-Path -LiteralPath $Exe).Path
$work = Join-Path ([System.IO.Path]::GetTempPath()) ('entra-failover-scripts-' + [guid]::NewGuid().ToString('N'))
New-Item -ItemType Directory -Force -Path $work | Out-Null
$env:ENTRA_FAILOVER_HOME = Join-Path $work 'home'
$out = Join-Path $work 'out'
New-Item -ItemType Directory -Force -Path $out | Out-Null

function Invoke-Exe([string[]]$Arguments, [int[]]$Allowed = @(0)) {
    # Windows PowerShell 5.1 turns a native command's stderr into errors, which 'Stop' would throw.
    $ErrorActionPreference = 'Continue'
    $text = & $Exe @Arguments 2>&1 | Out-String
    if ($Allowed -notcontains $LASTEXITCODE) {
        Fail "entra-failover $($Arguments -join ' ') exited $($LASTEXITCODE): $text"
    }
    return $text
}

# 1. The scripts, from the .exe's own rehearsal tenant.
Write-Host "scripts check ($shell): generating every script with $Exe"
$connectScript = Join-Path $out 'enable-phs.ps1'
$ssoScript = Join-Path $out 'enable-sso.ps1'
$trustScript = Join-Path $out 'reset-trust.ps1'
$replaceDir = Join-Path $out 'replace'
$replaceScript = Join-Path $replaceDir 'reset-trust.ps1'
New-Item -ItemType Directory -Force -Path $replaceDir | Out-Null
$metadataUrl = 'https://sts.contoso.com/FederationMetadata/2007-06/FederationMetadata.xml'
Invoke-Exe @('enable-phs', '--yes', '--connect-script', $connectScript) | Out-Null
Invoke-Exe @('enable-sso', '--script', $ssoScript) | Out-Null
Invoke-Exe @('failover', '--domain', 'contoso.com', '--dry-run') @(0, 3) | Out-Null
Invoke-Exe @('reset-trust', '--domain', 'contoso.com', '--metadata-url', $metadataUrl, '--adfs-script', $trustScript, '--yes') | Out-Null
Invoke-Exe @('reset-trust', '--domain', 'contoso.com', '--metadata-url', $metadataUrl, '--adfs-script', $replaceScript, '--replace-claim-rules', '--yes') | Out-Null
$exportScript = @(Get-ChildItem -LiteralPath $env:ENTRA_FAILOVER_HOME -Recurse -Filter 'export-adfs-access-policies.ps1')
$backupScript = @(Get-ChildItem -LiteralPath $env:ENTRA_FAILOVER_HOME -Recurse -Filter 'backup-adfs-farm.ps1')
Expect ($exportScript.Count -eq 1) 'the failover pre-flight wrote the AD FS policy export script'
Expect ($backupScript.Count -eq 1) 'the failover pre-flight wrote the farm backup script'
$failoverSso = @(Get-ChildItem -LiteralPath $env:ENTRA_FAILOVER_HOME -Recurse -Filter 'enable-seamless-sso.ps1')
Expect ($failoverSso.Count -eq 1) 'the failover pre-flight wrote the Seamless SSO script'
$scripts = @(
    $connectScript,
    $ssoScript,
    $failoverSso[0].FullName,
    $trustScript,
    $replaceScript,
    $exportScript[0].FullName,
    $backupScript[0].FullName
)
foreach ($s in $scripts) {
    Expect (Test-Path -LiteralPath $s) "written: $s"
}

# 2. PowerShell's own parser: zero errors in each.
foreach ($s in $scripts) {
    $errors = $null
    [void][System.Management.Automation.Language.Parser]::ParseFile($s, [ref]$null, [ref]$errors)
    $messages = @($errors | ForEach-Object { "line $($_.Extent.StartLineNumber): $($_.Message)" })
    Expect ($messages.Count -eq 0) "$shell parses $(Split-Path -Leaf $s) with zero errors $($messages -join '; ')"
}

# 3. Each script against stubs. A script runs in this process; its cmdlets are the functions below.
# Where this shell is not elevated, the copy that runs lacks its "#Requires -RunAsAdministrator".
$elevated = ([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)
$runDir = Join-Path $work 'run'
New-Item -ItemType Directory -Force -Path $runDir | Out-Null
# Each copy in a folder of its own, with the metadata file that stood beside its original.
function Copy-ForRun([string]$Path, [string]$Case) {
    $dir = Join-Path $runDir $Case
    New-Item -ItemType Directory -Force -Path $dir | Out-Null
    $metadata = Join-Path (Split-Path -Parent $Path) 'microsoft-365-federation-metadata.xml'
    if (Test-Path -LiteralPath $metadata) { Copy-Item -LiteralPath $metadata -Destination $dir }
    $target = Join-Path $dir (Split-Path -Leaf $Path)
    $text = [System.IO.File]::ReadAllText($Path)
    if (-not $elevated) { $text = $text.Replace('#Requires -RunAsAdministrator', '# (elevation not required in this check)') }
    [System.IO.File]::WriteAllText($target, $text, [System.Text.UTF8Encoding]::new($true))
    return $target
}

# Runs a script with the stubs in force; returns the error it stopped with, or $null.
function Invoke-Case([string]$Script, [hashtable]$Arguments) {
    $global:Calls = [System.Collections.Generic.List[string]]::new()
    try {
        & $Script @Arguments *>&1 | Out-String | Write-Host
        return $null
    } catch {
        Write-Host "  (stopped: $($_.Exception.Message))"
        return $_
    }
}

function Get-Prop($Object, [string]$Name) {
    $p = $Object.PSObject.Properties[$Name]
    if ($p) { return $p.Value }
    return $null
}

# --- Stubs shared by every script ---
$global:Modules = @()
function Get-Module {
    [CmdletBinding()]
    param([switch]$ListAvailable, [string]$Name)
    if ($global:Modules -contains $Name) { return [pscustomobject]@{ Name = $Name } }
}
function Import-Module {
    [CmdletBinding()]
    param([Parameter(Position = 0)][string]$Name)
    $global:Calls.Add("Import-Module $Name")
}
function Get-AdfsSyncProperties { [pscustomobject]@{ Role = $global:Role } }

# --- The Connect server's password sync script ---
Write-Host "scripts check ($shell): the Connect server's password sync script, against ADSync stubs"
$global:Services = @()
$global:Staging = $false
$global:PhsOn = $false
$global:RecordFolder = Join-Path $work 'connect-records'
function Get-Service {
    [CmdletBinding()]
    param([string]$Name)
    if ($global:Services -contains $Name) { return [pscustomobject]@{ Name = $Name; Status = 'Running' } }
}
function Get-ADSyncScheduler { [pscustomobject]@{ StagingModeEnabled = $global:Staging } }
function New-StubConnector([string]$Name, [string]$Type, [string]$SubType) {
    $parameters = [pscustomobject]@{ Names = [System.Collections.Generic.List[string]]::new() }
    $parameters | Add-Member -MemberType ScriptMethod -Name Remove -Value { param($n) [void]$this.Names.Remove($n); return $true }
    $parameters | Add-Member -MemberType ScriptMethod -Name Add -Value { param($p) $this.Names.Add($p.Name) }
    return [pscustomobject]@{ Name = $Name; ConnectorTypeName = $Type; SubType = $SubType; GlobalParameters = $parameters }
}
function Get-ADSyncConnector {
    [CmdletBinding()]
    param([string]$Name)
    $all = @(
        (New-StubConnector 'contoso.com' 'AD' ''),
        (New-StubConnector 'contoso.onmicrosoft.com - AAD' 'Extensible2' 'Windows Azure Active Directory (Microsoft)')
    )
    if ($Name) { return $all | Where-Object { $_.Name -eq $Name } }
    return $all
}
function Get-ADSyncAADPasswordSyncConfiguration {
    [CmdletBinding()]
    param([string]$SourceConnector)
    [pscustomobject]@{ SourceConnector = $SourceConnector; TargetConnector = 'contoso.onmicrosoft.com - AAD'; Enabled = $global:PhsOn }
}
function Set-ADSyncAADPasswordSyncConfiguration {
    [CmdletBinding()]
    param([string]$SourceConnector, [string]$TargetConnector, [bool]$Enable)
    $global:RecordsAtChange = @(Get-ChildItem -LiteralPath $global:RecordFolder -ErrorAction SilentlyContinue).Count
    $global:Calls.Add("Set-ADSyncAADPasswordSyncConfiguration $SourceConnector $TargetConnector $Enable")
    $global:PhsOn = $Enable
}
function Add-ADSyncConnector {
    [CmdletBinding()]
    param($Connector)
    $global:Calls.Add("Add-ADSyncConnector $($Connector.Name) $($Connector.GlobalParameters.Names -join ',')")
    return $Connector
}
function Start-ADSyncSyncCycle {
    [CmdletBinding()]
    param([string]$PolicyType)
    $global:Calls.Add("Start-ADSyncSyncCycle $PolicyType")
}
function New-Object {
    param([Parameter(Position = 0)][string]$TypeName, [Parameter(Position = 1)][object[]]$ArgumentList)
    if ($TypeName -like 'Microsoft.IdentityManagement.*') {
        return [pscustomobject]@{ Name = $ArgumentList[0]; Value = $null }
    }
    return Microsoft.PowerShell.Utility\New-Object -TypeName $TypeName -ArgumentList $ArgumentList
}

$connect = Copy-ForRun $connectScript 'connect'
$connectArgs = @{ RecordFolder = $global:RecordFolder }
$e = Invoke-Case $connect $connectArgs
Expect ($null -ne $e -and "$e" -match 'not a Microsoft Entra Connect Sync server') 'Connect script: refused without the ADSync service'
Expect ($global:Calls.Count -eq 0) 'Connect script: nothing changed when refused'
$global:Services = @('ADSync')
$e = Invoke-Case $connect $connectArgs
Expect ($null -ne $e -and "$e" -match 'ADSync PowerShell module is missing') 'Connect script: refused without the ADSync module'
$global:Modules = @('ADSync')
$global:Staging = $true
$e = Invoke-Case $connect $connectArgs
Expect ($null -ne $e -and "$e" -match 'staging mode') 'Connect script: refused on a staging server'
Expect (@($global:Calls | Where-Object { $_ -like 'Set-*' }).Count -eq 0) 'Connect script: nothing set on a staging server'
$global:Staging = $false
$e = Invoke-Case $connect ($connectArgs + @{ WhatIf = $true })
Expect ($null -eq $e) 'Connect script: -WhatIf runs'
Expect (@($global:Calls | Where-Object { $_ -notlike 'Import-Module*' }).Count -eq 0) 'Connect script: -WhatIf changes nothing'
Expect (-not (Test-Path -LiteralPath $global:RecordFolder)) 'Connect script: -WhatIf writes no record'
Expect (-not $global:PhsOn) 'Connect script: password sync still off after -WhatIf'
$e = Invoke-Case $connect $connectArgs
Expect ($null -eq $e) 'Connect script: runs on an active Connect server'
Expect ($global:PhsOn) 'Connect script: password sync is on'
Expect ($global:RecordsAtChange -ge 1) 'Connect script: the record was written before the change'
Expect (@($global:Calls | Where-Object { $_ -like 'Add-ADSyncConnector*ForceFullPasswordSync*' }).Count -eq 1) 'Connect script: a full password sync asked for'
Expect (@($global:Calls | Where-Object { $_ -eq 'Start-ADSyncSyncCycle Delta' }).Count -eq 1) 'Connect script: a sync cycle started'
$e = Invoke-Case $connect $connectArgs
Expect ($null -eq $e -and @($global:Calls | Where-Object { $_ -like 'Set-*' -or $_ -like 'Start-*' }).Count -eq 0) 'Connect script: a second run changes nothing'

# --- The Connect server's Seamless SSO script (the failover pre-flight's, for contoso.com) ---
Write-Host "scripts check ($shell): the Seamless SSO script, against ADSync and AzureADSSO stubs"
$ssoCanary = 'canary-domain-admin-password-5c1e'
$global:SsoDomains = @('fabrikam.com')
$global:RecordFolder = Join-Path $work 'sso-records'
$ssoModule = Join-Path $work 'AzureADSSO.psd1'
function New-AzureADSSOAuthenticationContext { $global:Calls.Add('New-AzureADSSOAuthenticationContext') }
function Get-AzureADSSOStatus { ([pscustomobject]@{ Enable = ($global:SsoDomains.Count -gt 0); Domains = @($global:SsoDomains) } | ConvertTo-Json -Compress) }
function Get-Credential {
    [CmdletBinding()]
    param([string]$Message)
    $global:Calls.Add("Get-Credential $Message")
    $secure = ConvertTo-SecureString -String $ssoCanary -AsPlainText -Force
    return [System.Management.Automation.PSCredential]::new('CONTOSO\admin', $secure)
}
function Enable-AzureADSSOForest {
    [CmdletBinding()]
    param($OnPremCredentials)
    $global:RecordsAtChange = @(Get-ChildItem -LiteralPath $global:RecordFolder -ErrorAction SilentlyContinue).Count
    $global:Calls.Add("Enable-AzureADSSOForest $($OnPremCredentials.UserName)")
    $global:SsoDomains = @($global:SsoDomains + 'contoso.com')
}
function Update-AzureADSSOForest {
    [CmdletBinding()]
    param($OnPremCredentials)
    $global:Calls.Add("Update-AzureADSSOForest $($OnPremCredentials.UserName)")
}
$sso = Copy-ForRun $failoverSso[0].FullName 'sso'
$ssoArgs = @{ RecordFolder = $global:RecordFolder; ModulePath = $ssoModule }
$global:Services = @()
$global:Modules = @()
$e = Invoke-Case $sso $ssoArgs
Expect ($null -ne $e -and "$e" -match 'not a Microsoft Entra Connect Sync server' -and "$e" -match 'CloudSyncOnly') 'SSO script: refused without the ADSync service, naming the Cloud Sync way'
Expect ($global:Calls.Count -eq 0) 'SSO script: nothing done when refused'
$global:Services = @('ADSync')
$global:Modules = @('ADSync')
$global:Staging = $true
$e = Invoke-Case $sso $ssoArgs
Expect ($null -ne $e -and "$e" -match 'staging mode') 'SSO script: refused on a staging server'
$global:Staging = $false
$e = Invoke-Case $sso $ssoArgs
Expect ($null -ne $e -and "$e" -match 'AzureADSSO module is missing') 'SSO script: refused without the AzureADSSO module'
$e = Invoke-Case $sso ($ssoArgs + @{ CloudSyncOnly = $true })
Expect ($null -ne $e -and "$e" -match 'Entra Connect package') 'SSO script: Cloud Sync only, refused without the module, told to install the Connect package'
Set-Content -LiteralPath $ssoModule -Value 'stub'
$e = Invoke-Case $sso ($ssoArgs + @{ StatusOnly = $true })
Expect ($null -eq $e) 'SSO script: -StatusOnly runs'
Expect (@($global:Calls | Where-Object { $_ -like 'Get-Credential*' -or $_ -like 'Enable-*' -or $_ -like 'Update-*' }).Count -eq 0) 'SSO script: -StatusOnly asks for no credential and changes nothing'
Expect (@(Get-ChildItem -LiteralPath $global:RecordFolder -Filter 'seamless-sso-before-*.json').Count -eq 1) 'SSO script: -StatusOnly records the state'
Remove-Item -LiteralPath $global:RecordFolder -Recurse -Force
$e = Invoke-Case $sso ($ssoArgs + @{ WhatIf = $true })
Expect ($null -eq $e) 'SSO script: -WhatIf runs'
Expect (@($global:Calls | Where-Object { $_ -like 'Get-Credential*' -or $_ -like 'Enable-*' }).Count -eq 0) 'SSO script: -WhatIf asks for no credential and changes nothing'
Expect (-not (Test-Path -LiteralPath $global:RecordFolder)) 'SSO script: -WhatIf writes no record'
Expect (-not ($global:SsoDomains -contains 'contoso.com')) 'SSO script: contoso.com still without Seamless SSO after -WhatIf'
$e = Invoke-Case $sso $ssoArgs
Expect ($null -eq $e) 'SSO script: runs on an active Connect server with the module'
Expect ($global:SsoDomains -contains 'contoso.com') 'SSO script: Seamless SSO enabled for contoso.com'
Expect ($global:RecordsAtChange -ge 1) 'SSO script: the state was recorded before the change'
Expect (@($global:Calls | Where-Object { $_ -like 'Get-Credential*contoso.com*' }).Count -eq 1) 'SSO script: a domain administrator asked for once, for contoso.com'
Expect (@($global:Calls | Where-Object { $_ -like 'Update-*' }).Count -eq 0) 'SSO script: no key rollover unless asked'
$e = Invoke-Case $sso $ssoArgs
Expect ($null -eq $e -and @($global:Calls | Where-Object { $_ -like 'Get-Credential*' -or $_ -like 'Enable-*' }).Count -eq 0) 'SSO script: a forest that has it is left as it is (a second run changes nothing)'
$ssoLeaks = @(Get-ChildItem -LiteralPath $work -Recurse -File | Select-String -SimpleMatch $ssoCanary)
Expect ($ssoLeaks.Count -eq 0) "SSO script: the domain administrator's password is in no file ($($ssoLeaks.Count) found)"

# --- The AD FS trust reset ---
Write-Host "scripts check ($shell): the trust reset, against AD FS stubs"
$defaultRules = [System.IO.File]::ReadAllText($trustScript)
$start = $defaultRules.IndexOf("`$rules = @'") + 11
$end = $defaultRules.IndexOf("'@", $start)
$entraRules = $defaultRules.Substring($start, $end - $start).Trim()
$customRule = "@RuleTemplate = `"PassThroughClaims`"`r`n@RuleName = `"Keep Users Signed In`"`r`nc:[Type == `"http://schemas.microsoft.com/2014/03/psso`"]`r`n => issue(claim = c);"
$mfaRule = 'c:[Type == "http://schemas.microsoft.com/ws/2012/01/insidecorporatenetwork", Value == "false"] => issue(Type = "http://schemas.microsoft.com/ws/2008/06/identity/claims/authenticationmethod", Value = "http://schemas.microsoft.com/claims/multipleauthn");'
function New-StubTrust {
    [pscustomobject]@{
        Name = 'Microsoft Office 365 Identity Platform'
        Identifier = @('urn:federation:MicrosoftOnline')
        WSFedEndpoint = 'https://login.microsoftonline.com/login.srf'
        SamlEndpoints = @()
        EncryptionCertificate = $null
        RequestSigningCertificate = @()
        SignatureAlgorithm = 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256'
        AccessControlPolicyName = 'Permit everyone and require MFA from extranet access'
        AccessControlPolicyParameters = $null
        IssuanceAuthorizationRules = ''
        AdditionalAuthenticationRules = $mfaRule
        IssuanceTransformRules = $entraRules + "`r`n`r`n" + $customRule
    }
}
function Get-AdfsRelyingPartyTrust {
    [CmdletBinding()]
    param([string]$Name)
    if ($global:Trust -and $global:Trust.Name -eq $Name) { return $global:Trust }
}
function Update-AdfsRelyingPartyTrust {
    [CmdletBinding()]
    param([string]$TargetName, [string]$MetadataFile)
    $global:BackupsAtChange = @(Get-ChildItem -LiteralPath $global:BackupFolder -ErrorAction SilentlyContinue).Count
    $global:Calls.Add("Update-AdfsRelyingPartyTrust $TargetName")
    if ($global:FailAt -eq 'Update') { throw 'stub: the metadata refresh failed' }
    $global:Trust.WSFedEndpoint = 'https://login.microsoftonline.com/login.srf?refreshed'
}
function Set-AdfsRelyingPartyTrust {
    [CmdletBinding()]
    param(
        [string]$TargetName,
        $IssuanceTransformRules,
        $Identifier,
        $WSFedEndpoint,
        $SamlEndpoint,
        $EncryptionCertificate,
        $RequestSigningCertificate,
        $SignatureAlgorithm,
        $MetadataUrl,
        $MonitoringEnabled,
        $AutoUpdateEnabled,
        $AccessControlPolicyName,
        $IssuanceAuthorizationRules,
        $AdditionalAuthenticationRules
    )
    $keys = @($PSBoundParameters.Keys | Where-Object { $_ -ne 'TargetName' } | Sort-Object)
    $global:Calls.Add("Set-AdfsRelyingPartyTrust $($keys -join ',')")
    if ($global:FailAt -eq 'Set' -and $keys.Count -eq 1 -and $keys[0] -eq 'IssuanceTransformRules') { throw 'stub: setting the rules failed' }
    foreach ($k in $keys) {
        $property = if ($k -eq 'SamlEndpoint') { 'SamlEndpoints' } else { $k }
        if ($global:Trust.PSObject.Properties[$property]) { $global:Trust.$property = $PSBoundParameters[$k] }
    }
}
function Add-AdfsRelyingPartyTrust {
    [CmdletBinding()]
    param([string]$Name, [string]$MetadataFile, $IssuanceTransformRules, $IssuanceAuthorizationRules)
    $global:Calls.Add("Add-AdfsRelyingPartyTrust $Name $(Split-Path -Leaf $MetadataFile)")
    $global:Trust = New-StubTrust
    $global:Trust.IssuanceTransformRules = $IssuanceTransformRules
    $global:Trust.IssuanceAuthorizationRules = $IssuanceAuthorizationRules
    $global:Trust.AccessControlPolicyName = $null
}
function Remove-AdfsRelyingPartyTrust {
    [CmdletBinding()]
    param([string]$TargetName)
    $global:Calls.Add("Remove-AdfsRelyingPartyTrust $TargetName")
    $global:Trust = $null
}

$reset = Copy-ForRun $trustScript 'reset'
function New-ResetArgs {
    $global:BackupFolder = Join-Path $work ('trust-backup-' + [guid]::NewGuid().ToString('N'))
    return @{ BackupFolder = $global:BackupFolder }
}
$global:FailAt = $null
$global:Trust = New-StubTrust
$global:Modules = @()
$e = Invoke-Case $reset (New-ResetArgs)
Expect ($null -ne $e -and "$e" -match 'ADFS PowerShell module is missing') 'trust reset: refused without the ADFS module'
$global:Modules = @('ADFS')
$global:Role = 'SecondaryComputer'
$e = Invoke-Case $reset (New-ResetArgs)
Expect ($null -ne $e -and "$e" -match 'primary AD FS server') 'trust reset: refused on a secondary server'
Expect ($global:Calls.Count -le 1) 'trust reset: nothing changed when refused'
$global:Role = 'PrimaryComputer'
$tampered = Join-Path $work 'tampered.xml'
Set-Content -LiteralPath $tampered -Value '<EntityDescriptor entityID="urn:federation:MicrosoftOnline"/>'
$e = Invoke-Case $reset ((New-ResetArgs) + @{ MetadataFile = $tampered })
Expect ($null -ne $e -and "$e" -match 'SHA-256') 'trust reset: a metadata file that is not the one written is refused'
$before = New-StubTrust
$e = Invoke-Case $reset ((New-ResetArgs) + @{ WhatIf = $true })
Expect ($null -eq $e) 'trust reset: -WhatIf runs'
Expect (@($global:Calls | Where-Object { $_ -notlike 'Import-Module*' }).Count -eq 0) 'trust reset: -WhatIf changes nothing'
Expect (-not (Test-Path -LiteralPath $global:BackupFolder)) 'trust reset: -WhatIf writes no backup'
Expect ($global:Trust.IssuanceTransformRules -eq $before.IssuanceTransformRules) 'trust reset: the rules unchanged after -WhatIf'

$e = Invoke-Case $reset (New-ResetArgs)
Expect ($null -eq $e) 'trust reset: updates an existing trust'
Expect ($global:BackupsAtChange -ge 3) 'trust reset: the object, the policy and the rules were backed up before the first change'
$policy = Get-Content -LiteralPath (Get-ChildItem -LiteralPath $global:BackupFolder -Filter 'relying-party-trust-policy-*.json').FullName -Raw | ConvertFrom-Json
Expect ($policy.AccessControlPolicyName -eq $before.AccessControlPolicyName -and $policy.AdditionalAuthenticationRules -eq $mfaRule) 'trust reset: the backup holds the access control policy and the additional authentication rules'
Expect (@($global:Calls | Where-Object { $_ -like 'Remove-*' -or $_ -like 'Add-*' }).Count -eq 0) 'trust reset: the trust is never removed or re-created'
Expect (@($global:Calls | Where-Object { $_ -eq 'Set-AdfsRelyingPartyTrust IssuanceTransformRules' }).Count -eq 1) 'trust reset: only the issuance transform rules are set'
Expect ($global:Trust.AccessControlPolicyName -eq $before.AccessControlPolicyName) 'trust reset: the access control policy is kept'
Expect ($global:Trust.IssuanceAuthorizationRules -eq $before.IssuanceAuthorizationRules -and $global:Trust.AdditionalAuthenticationRules -eq $mfaRule) 'trust reset: the authorization and additional authentication rules are kept'
Expect ($global:Trust.IssuanceTransformRules.Contains('@RuleName = "Keep Users Signed In"') -and $global:Trust.IssuanceTransformRules.Contains('@RuleName = "Issue UPN"')) "trust reset: Entra Connect's rules set, the farm's own rule carried over"
Expect ($global:Trust.WSFedEndpoint -like '*refreshed') 'trust reset: the trust refreshed from the metadata file'

$global:Trust = New-StubTrust
$global:FailAt = 'Set'
$e = Invoke-Case $reset (New-ResetArgs)
Expect ($null -ne $e -and "$e" -match 'setting the rules failed') 'trust reset: a cmdlet that throws midway stops the script with its error'
Expect ($global:Trust.IssuanceTransformRules -eq $before.IssuanceTransformRules) 'trust reset: the rollback put the rules back'
Expect ($global:Trust.WSFedEndpoint -eq $before.WSFedEndpoint) 'trust reset: the rollback put back what the metadata refresh changed'
Expect (@($global:Calls | Where-Object { $_ -like 'Remove-*' }).Count -eq 0) 'trust reset: the rollback removes nothing'
$global:FailAt = $null

$global:Trust = $null
$e = Invoke-Case $reset (New-ResetArgs)
Expect ($null -eq $e) 'trust reset: creates a trust where there is none'
Expect (@($global:Calls | Where-Object { $_ -eq 'Add-AdfsRelyingPartyTrust Microsoft Office 365 Identity Platform microsoft-365-federation-metadata.xml' }).Count -eq 1) 'trust reset: the trust is created from the metadata file beside the script'
Expect ($global:Trust.IssuanceAuthorizationRules -match 'permit') 'trust reset: a created trust permits everyone, as Entra Connect creates it'

$replace = Copy-ForRun $replaceScript 'replace'
$global:Trust = New-StubTrust
$e = Invoke-Case $replace (New-ResetArgs)
Expect ($null -eq $e -and -not $global:Trust.IssuanceTransformRules.Contains('Keep Users Signed In')) 'trust reset --replace-claim-rules: the farm own rule is dropped'

# --- The AD FS policy export ---
Write-Host "scripts check ($shell): the AD FS policy export, against AD FS stubs"
function Get-AdfsAccessControlPolicy { [pscustomobject]@{ Name = 'Permit everyone and require MFA'; Identifier = 'x'; Description = ''; PolicyMetadata = ''; IsBuiltIn = $true } }
function Get-AdfsGlobalAuthenticationPolicy { [pscustomobject]@{ PrimaryIntranetAuthenticationProvider = @('WindowsAuthentication'); PrimaryExtranetAuthenticationProvider = @('FormsAuthentication'); AdditionalAuthenticationProvider = @('AzureMfaAuthentication'); DeviceAuthenticationEnabled = $false; WindowsIntegratedFallbackEnabled = $true } }
function Get-AdfsAdditionalAuthenticationRule { '' }
function Get-AdfsAuthenticationProvider { [pscustomobject]@{ Name = 'AzureMfaAuthentication'; DisplayName = 'Azure MFA'; AllowedForPrimaryExtranet = $false; AllowedForPrimaryIntranet = $false; AllowedForAdditionalAuthentication = $true } }
$global:Trust = New-StubTrust
$exportDir = Join-Path $env:ProgramData 'entra-failover'
$e = Invoke-Case (Copy-ForRun $exportScript[0].FullName 'export') @{}
Expect ($null -eq $e) 'policy export: runs'
$json = Get-ChildItem -LiteralPath $exportDir -Filter 'adfs-access-policies-*.json' | Sort-Object LastWriteTime | Select-Object -Last 1
$exported = Get-Content -LiteralPath $json.FullName -Raw | ConvertFrom-Json
Expect ($exported.RelyingPartyTrust.AccessControlPolicyName -eq $before.AccessControlPolicyName) 'policy export: the trust access control policy exported'
Expect ("$($exported.GlobalAuthenticationPolicy.AdditionalAuthenticationProvider)" -eq 'AzureMfaAuthentication') 'policy export: the global authentication policy exported with its properties'
Expect (@($global:Calls | Where-Object { $_ -notlike 'Import-Module*' }).Count -eq 0) 'policy export: changes nothing'

# --- The farm backup ---
Write-Host "scripts check ($shell): the farm backup, against Rapid Restore Tool stubs"
$canary = 'canary-backup-password-7f3a'
$global:Answers = [System.Collections.Generic.Queue[string]]::new()
function Read-Host {
    [CmdletBinding()]
    param([switch]$AsSecureString, [string]$Prompt)
    $global:Calls.Add("Read-Host $Prompt")
    $answer = $global:Answers.Dequeue()
    return (ConvertTo-SecureString -String $answer -AsPlainText -Force)
}
$global:Connection = 'Data Source=np:\\.\pipe\microsoft##wid\tsql\query;Initial Catalog=AdfsConfigurationV4;Integrated Security=True'
function Get-CimInstance {
    [CmdletBinding()]
    param([string]$Namespace, [string]$ClassName)
    [pscustomobject]@{ ConfigurationDatabaseConnectionString = $global:Connection }
}
function Backup-ADFS {
    [CmdletBinding()]
    param([string]$StorageType, [string]$StoragePath, [string]$EncryptionPassword, [string]$BackupComment, [switch]$BackupDKM)
    $global:Calls.Add("Backup-ADFS $StorageType DKM=$BackupDKM")
    $global:PasswordGiven = $EncryptionPassword
    Set-Content -LiteralPath (Join-Path $StoragePath 'adfsBackup.bin') -Value 'encrypted backup'
}
$backup = Copy-ForRun $backupScript[0].FullName 'backup'
$module = Join-Path $work 'ADFSRapidRecreationTool.dll'
function New-BackupArgs {
    $global:FarmBackup = Join-Path $work ('farm-backup-' + [guid]::NewGuid().ToString('N'))
    return @{ BackupFolder = $global:FarmBackup; ModulePath = $module }
}
$global:Role = 'PrimaryComputer'
$e = Invoke-Case $backup (New-BackupArgs)
Expect ($null -ne $e -and "$e" -match 'Rapid Restore Tool is not installed' -and "$e" -match 'Download') 'farm backup: refused without the Rapid Restore Tool, saying where it comes from'
Set-Content -LiteralPath $module -Value 'stub'
$global:Role = 'SecondaryComputer'
$e = Invoke-Case $backup (New-BackupArgs)
Expect ($null -ne $e -and "$e" -match 'primary AD FS server') 'farm backup: refused on a secondary server'
$global:Role = 'PrimaryComputer'
$global:Connection = 'Data Source=sql01;Initial Catalog=AdfsConfigurationV4;Integrated Security=True'
$e = Invoke-Case $backup (New-BackupArgs)
Expect ($null -ne $e -and "$e" -match 'merge replication or Always On') 'farm backup: a SQL farm is named as a configuration the tool may not support'
$global:Connection = 'Data Source=np:\\.\pipe\microsoft##wid\tsql\query;Initial Catalog=AdfsConfigurationV4;Integrated Security=True'
$e = Invoke-Case $backup ((New-BackupArgs) + @{ WhatIf = $true })
Expect ($null -eq $e -and @($global:Calls | Where-Object { $_ -like 'Read-Host*' -or $_ -like 'Backup-ADFS*' }).Count -eq 0) 'farm backup: -WhatIf asks nothing and backs up nothing'
Expect (-not (Test-Path -LiteralPath $global:FarmBackup)) 'farm backup: -WhatIf writes nothing'
$global:Answers.Enqueue($canary)
$global:Answers.Enqueue('another password')
$e = Invoke-Case $backup (New-BackupArgs)
Expect ($null -ne $e -and "$e" -match 'differ' -and @($global:Calls | Where-Object { $_ -like 'Backup-ADFS*' }).Count -eq 0) 'farm backup: two different passwords back up nothing'
$global:Answers.Enqueue($canary)
$global:Answers.Enqueue($canary)
$e = Invoke-Case $backup (New-BackupArgs)
Expect ($null -eq $e -and @($global:Calls | Where-Object { $_ -eq 'Backup-ADFS FileSystem DKM=True' }).Count -eq 1) 'farm backup: Backup-ADFS ran, with the DKM container'
Expect ($global:PasswordGiven -eq $canary) 'farm backup: the password typed encrypts the backup'
$leaks = @(Get-ChildItem -LiteralPath $work -Recurse -File | Where-Object { $_.Extension -ne '.dll' } | Select-String -SimpleMatch $canary)
Expect ($leaks.Count -eq 0) "farm backup: the password is in no file ($($leaks.Count) found)"
Expect (-not ([System.IO.File]::ReadAllText($backupScript[0].FullName).Contains($canary))) 'farm backup: the script holds no password'

Remove-Item -LiteralPath $work -Recurse -Force -ErrorAction SilentlyContinue
Write-Host "scripts check ($shell): $($global:Checks) checks passed"
