//! The AD FS side of "Reset Microsoft Entra ID trust": a PowerShell script that backs up the relying
//! party trust "Microsoft Office 365 Identity Platform" (the object, its claim rules, its access control
//! policy, authorization and additional authentication rules), then updates it *in place*: its
//! federation metadata refreshed from a file the tool fetched from Microsoft and wrote beside the script
//! (so the farm needs no internet access; the script checks its SHA-256 first), and its issuance
//! transform rules set to those Entra Connect writes (issuerid per domain for a multi-domain farm), with
//! the farm's own custom rules carried over. It never removes the trust: removing and re-adding it, as
//! this tool once did, leaves a farm that cannot reach Microsoft with no trust at all, and silently drops
//! the trust's access control policy (often the farm's MFA for Microsoft 365). With no trust, it creates
//! one from the same file. When a step fails after the first change, it puts back what its backup holds.
//! The tool never runs it: the administrator does, on the primary AD FS server.

/// The relying party trust Entra Connect keeps.
pub const TRUST_NAME: &str = "Microsoft Office 365 Identity Platform";
/// Microsoft's federation metadata for Microsoft 365 as a relying party (what Entra Connect points
/// the trust at). The rehearsal tenant answers for its host.
pub const MICROSOFT_METADATA: &str =
    "https://nexus.microsoftonline-p.com/federationmetadata/2007-06/federationmetadata.xml";
/// The metadata file's name beside the script.
pub const METADATA_FILE: &str = "microsoft-365-federation-metadata.xml";

use crate::powershell::{plain, quoted};

fn regex_escape(domain: &str) -> String {
    domain.replace('.', "\\.")
}

/// The issuance transform rules, in the order Entra Connect writes them.
pub fn claim_rules(domains: &[String]) -> String {
    let alternation = domains
        .iter()
        .map(|d| regex_escape(d))
        .collect::<Vec<_>>()
        .join("|");
    let first = domains.first().cloned().unwrap_or_default();
    let issuerid = if domains.len() > 1 {
        format!(
            "@RuleName = \"Issue issuerid when it is not a computer account\"\nc1:[Type == \"http://schemas.xmlsoap.org/claims/UPN\"]\n && c2:[Type == \"http://schemas.microsoft.com/ws/2012/01/accounttype\", Value == \"User\"]\n => issue(Type = \"http://schemas.microsoft.com/ws/2008/06/identity/claims/issuerid\", Value = regexreplace(c1.Value, \"(?i)(^([^@]+)@)(.*)(?<domain>({alternation}))$\", \"http://${{domain}}/adfs/services/trust/\"));\n\n@RuleName = \"Issue issuerid for DJ computer auth\"\nc1:[Type == \"http://schemas.microsoft.com/ws/2012/01/accounttype\", Value == \"DJ\"]\n => issue(Type = \"http://schemas.microsoft.com/ws/2008/06/identity/claims/issuerid\", Value = \"http://{first}/adfs/services/trust/\");\n"
        )
    } else {
        String::new()
    };
    format!(
        r#"@RuleName = "Issue UPN"
c:[Type == "http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname"]
 => issue(store = "Active Directory", types = ("http://schemas.xmlsoap.org/claims/UPN"), query = "samAccountName={{0}};userPrincipalName;{{1}}", param = regexreplace(c.Value, "(?<domain>[^\\]+)\\(?<user>.+)", "${{user}}"), param = c.Value);

@RuleName = "Query objectguid and msdsconsistencyguid for custom ImmutableId claim"
c:[Type == "http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname"]
 => add(store = "Active Directory", types = ("http://schemas.microsoft.com/ws/2016/02/identity/claims/objectguid", "http://schemas.microsoft.com/ws/2016/02/identity/claims/msdsconsistencyguid"), query = "samAccountName={{0}};objectGUID,mS-DS-ConsistencyGuid;{{1}}", param = regexreplace(c.Value, "(?<domain>[^\\]+)\\(?<user>.+)", "${{user}}"), param = c.Value);

@RuleName = "Check for the existence of msdsconsistencyguid"
NOT EXISTS([Type == "http://schemas.microsoft.com/ws/2016/02/identity/claims/msdsconsistencyguid"])
 => add(Type = "urn:federation:tmp/idflag", Value = "useguid");

@RuleName = "Issue msdsconsistencyguid as Immutable ID if it exists"
c:[Type == "http://schemas.microsoft.com/ws/2016/02/identity/claims/msdsconsistencyguid"]
 => issue(Type = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID", Value = c.Value);

@RuleName = "Issue objectGuidRule if msdsConsistencyGuid rule does not exist"
c1:[Type == "urn:federation:tmp/idflag", Value =~ "useguid"]
 && c2:[Type == "http://schemas.microsoft.com/ws/2016/02/identity/claims/objectguid"]
 => issue(Type = "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID", Value = c2.Value);

@RuleName = "Issue nameidentifier"
c:[Type == "http://schemas.microsoft.com/LiveID/Federation/2008/05/ImmutableID"]
 => issue(Type = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier", Value = c.Value, Properties["http://schemas.xmlsoap.org/ws/2005/05/identity/claimproperties/format"] = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");

@RuleName = "Issue accounttype for domain-joined computers"
c:[Type == "http://schemas.microsoft.com/ws/2008/06/identity/claims/groupsid", Value =~ "-515$", Issuer =~ "^(AD AUTHORITY|SELF AUTHORITY|LOCAL AUTHORITY)$"]
 => issue(Type = "http://schemas.microsoft.com/ws/2012/01/accounttype", Value = "DJ");

@RuleName = "Issue AccountType with the value USER when it is not a computer account"
NOT EXISTS([Type == "http://schemas.microsoft.com/ws/2012/01/accounttype", Value == "DJ"])
 => add(Type = "http://schemas.microsoft.com/ws/2012/01/accounttype", Value = "User");

{issuerid}@RuleName = "Issue onpremobjectguid for domain-joined computers"
c1:[Type == "http://schemas.microsoft.com/ws/2008/06/identity/claims/groupsid", Value =~ "-515$", Issuer =~ "^(AD AUTHORITY|SELF AUTHORITY|LOCAL AUTHORITY)$"]
 && c2:[Type == "http://schemas.microsoft.com/ws/2008/06/identity/claims/windowsaccountname", Issuer =~ "^(AD AUTHORITY|SELF AUTHORITY|LOCAL AUTHORITY)$"]
 => issue(store = "Active Directory", types = ("http://schemas.microsoft.com/identity/claims/onpremobjectguid"), query = ";objectguid;{{0}}", param = c2.Value);

@RuleName = "Pass through primary SID"
c1:[Type == "http://schemas.microsoft.com/ws/2008/06/identity/claims/groupsid", Value =~ "-515$", Issuer =~ "^(AD AUTHORITY|SELF AUTHORITY|LOCAL AUTHORITY)$"]
 && c2:[Type == "http://schemas.microsoft.com/ws/2008/06/identity/claims/primarysid", Issuer =~ "^(AD AUTHORITY|SELF AUTHORITY|LOCAL AUTHORITY)$"]
 => issue(claim = c2);

@RuleName = "Pass through claim - insideCorporateNetwork"
c:[Type == "http://schemas.microsoft.com/ws/2012/01/insidecorporatenetwork"]
 => issue(claim = c);

@RuleName = "Pass Through Claim - Psso"
c:[Type == "http://schemas.microsoft.com/2014/03/psso"]
 => issue(claim = c);

@RuleName = "Issue Password Expiry Claims"
c1:[Type == "http://schemas.microsoft.com/ws/2012/01/passwordexpirationtime"]
 => issue(store = "_PasswordExpiryStore", types = ("http://schemas.microsoft.com/ws/2012/01/passwordexpirationtime", "http://schemas.microsoft.com/ws/2012/01/passwordexpirationdays", "http://schemas.microsoft.com/ws/2012/01/passwordchangeurl"), query = "{{0}};", param = c1.Value);

@RuleName = "Pass through claim - authnmethodsreferences"
c:[Type == "http://schemas.microsoft.com/claims/authnmethodsreferences"]
 => issue(claim = c);

@RuleName = "Pass through claim - multifactorauthenticationinstant"
c:[Type == "http://schemas.microsoft.com/ws/2017/04/identity/claims/multifactorauthenticationinstant"]
 => issue(claim = c);
"#
    )
}

/// The names of the rules `claim_rules` writes, for one domain or several: a rule of the farm's
/// trust with another name is the farm's own and is carried over.
pub fn default_rule_names() -> Vec<String> {
    claim_rules(&["a.example".into(), "b.example".into()])
        .lines()
        .filter_map(|l| l.strip_prefix("@RuleName = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .map(str::to_string)
        .collect()
}

/// What the trust-reset script is made for.
pub struct Target<'a> {
    pub tenant: &'a str,
    /// The tenant's federated root domains.
    pub domains: &'a [String],
    pub generated_at: &'a str,
    /// The SHA-256 (hex) of the metadata file written beside the script.
    pub metadata_sha256: &'a str,
    /// Drop the farm's own issuance rules instead of carrying them over.
    pub replace_claim_rules: bool,
}

/// What the script keeps, changes and carries over, in the words the plan, `--dry-run` and the
/// wizard's Ready page show.
pub fn summary(replace_claim_rules: bool) -> [(&'static str, String); 3] {
    [
        (
            "kept",
            "the relying party trust itself (never removed), its access control policy and its parameters, its issuance authorization rules and additional authentication rules (the farm's MFA for Microsoft 365)".into(),
        ),
        (
            "changed",
            format!(
                "its federation metadata, refreshed from {METADATA_FILE} beside the script (fetched from Microsoft by this tool; the script checks its SHA-256, the farm needs no internet access), and its issuance transform rules, set to Entra Connect's; with no trust, one is created from that file with an authorization rule that permits everyone, as Entra Connect creates it"
            ),
        ),
        (
            "carried over",
            if replace_claim_rules {
                "nothing: --replace-claim-rules drops the farm's own issuance rules (each is named in the script's backup and output)".into()
            } else {
                "the farm's own issuance transform rules (any rule whose name is not one Entra Connect writes), appended after Entra Connect's".into()
            },
        ),
    ]
}

const TEMPLATE: &str = r#"#Requires -Version 5.1
#Requires -RunAsAdministrator
<#
  entra-failover: reset the Microsoft Entra ID trust on AD FS, in place.
  Generated @@GENERATED@@ for tenant @@TENANT@@; federated domains: @@DOMAINS@@.
  Run it on the primary AD FS server, in an elevated PowerShell, with @@FILE@@
  beside it.

  What it does, in order:
    1. Refuses unless this is the primary server of the farm (ADFS module, Get-AdfsSyncProperties)
       and the metadata file beside it has the SHA-256 below: Microsoft's federation metadata,
       fetched by entra-failover, so that the farm needs no internet access.
    2. Backs up the relying party trust 'Microsoft Office 365 Identity Platform' to -BackupFolder:
       the whole object (Export-Clixml), its claim rules, its access control policy and its
       parameters, its authorization and additional authentication rules (JSON).
    3. With the trust present: refreshes it from the metadata file (Update-AdfsRelyingPartyTrust)
       and sets its issuance transform rules to Entra Connect's for these domains (Set-
       AdfsRelyingPartyTrust -IssuanceTransformRules), @@CARRY@@.
       Its access control policy, authorization and additional authentication rules stay as they
       are. The trust is never removed.
       With no trust: creates it from the metadata file with these rules and an authorization rule
       that permits everyone, as Entra Connect creates it.
    4. Reads the trust back and checks it. When any step on an existing trust fails after the
       first change, it puts back what the backup holds, says so, and stops with the error. A
       trust it created is left in place and what is wrong with it said (there was none before).
  Preview with -WhatIf: nothing is written or changed.
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    # Where the backup of the trust is written.
    [string]$BackupFolder = (Join-Path $env:ProgramData 'entra-failover'),
    # Microsoft's federation metadata, written by entra-failover beside this script.
    [string]$MetadataFile = (Join-Path $PSScriptRoot '@@FILE@@')
)
Set-StrictMode -Version Latest
$ErrorActionPreference = 'Stop'
$name = '@@TRUST@@'
$expectedSha256 = '@@SHA256@@'
$carryCustomRules = @@CARRY_BOOL@@
$defaultRuleNames = @(
@@DEFAULT_NAMES@@
)
$rules = @'
@@RULES@@'@
$permitEveryone = '=> issue(Type = "http://schemas.microsoft.com/authorization/claims/permit", Value = "true");'

# A property of the trust, or $null where this AD FS version has none (2012 R2 has no access
# control policies).
function Get-TrustValue($Trust, [string]$Property) {
    $p = $Trust.PSObject.Properties[$Property]
    if ($p) { return $p.Value }
    return $null
}

# The rules of a rule set that are not Entra Connect's: named ones by their @RuleName, and any
# text outside a named rule as one unnamed rule.
function Get-CustomRules([string]$Text) {
    $custom = @()
    if (-not $Text) { return $custom }
    $pattern = '(?ms)^[ \t]*(?:@RuleTemplate[^\r\n]*\r?\n[ \t]*)?@RuleName\s*=\s*"(?<name>[^"]*)".*?(?=^[ \t]*@RuleTemplate|^[ \t]*@RuleName|\z)'
    $rest = $Text
    foreach ($m in [regex]::Matches($Text, $pattern)) {
        $rest = $rest.Replace($m.Value, '')
        if ($defaultRuleNames -notcontains $m.Groups['name'].Value) {
            $custom += [pscustomobject]@{ Name = $m.Groups['name'].Value; Text = $m.Value.Trim() }
        }
    }
    if ($rest.Trim()) {
        $custom += [pscustomobject]@{ Name = '(unnamed)'; Text = $rest.Trim() }
    }
    return $custom
}

# 1. Only on the primary server of the farm, and only with the metadata file entra-failover wrote.
if (-not (Get-Module -ListAvailable -Name 'ADFS')) {
    throw 'The ADFS PowerShell module is missing: run this script on the primary AD FS server.'
}
Import-Module ADFS
$role = (Get-AdfsSyncProperties).Role
if ($role -ne 'PrimaryComputer') {
    throw "This server's role in the farm is $($role), not PrimaryComputer: run this script on the primary AD FS server."
}
if (-not (Test-Path -LiteralPath $MetadataFile)) {
    throw "The metadata file $($MetadataFile) is missing: copy it from where entra-failover wrote this script, beside it."
}
$actual = (Get-FileHash -LiteralPath $MetadataFile -Algorithm SHA256).Hash
if ($actual -ne $expectedSha256) {
    throw "The metadata file $MetadataFile has SHA-256 $actual, not $($expectedSha256): it is not the file entra-failover wrote. Run entra-failover reset-trust again."
}

# 2. The backup, before any change.
$existing = Get-AdfsRelyingPartyTrust -Name $name
$stamp = Get-Date -Format 'yyyyMMdd-HHmmss'
$custom = @()
if ($existing) {
    $custom = @(Get-CustomRules $existing.IssuanceTransformRules)
    $saved = [ordered]@{
        Name = $existing.Name
        AccessControlPolicyName = Get-TrustValue $existing 'AccessControlPolicyName'
        AccessControlPolicyParameters = Get-TrustValue $existing 'AccessControlPolicyParameters'
        IssuanceAuthorizationRules = Get-TrustValue $existing 'IssuanceAuthorizationRules'
        AdditionalAuthenticationRules = Get-TrustValue $existing 'AdditionalAuthenticationRules'
        IssuanceTransformRules = $existing.IssuanceTransformRules
        CustomRules = @($custom | ForEach-Object { $_.Name })
    }
    New-Item -ItemType Directory -Force -Path $BackupFolder | Out-Null
    $objectFile = Join-Path $BackupFolder "relying-party-trust-$stamp.xml"
    $policyFile = Join-Path $BackupFolder "relying-party-trust-policy-$stamp.json"
    $rulesFile = Join-Path $BackupFolder "claim-rules-$stamp.txt"
    $existing | Export-Clixml -Path $objectFile
    $saved | ConvertTo-Json -Depth 6 | Set-Content -Path $policyFile -Encoding UTF8
    Set-Content -Path $rulesFile -Value $existing.IssuanceTransformRules -Encoding UTF8
    if (-not $WhatIfPreference) {
        Write-Host "Backed up '$name' to $objectFile, $policyFile and $rulesFile"
    }
}

# 3. The new issuance transform rules: Entra Connect's, then the farm's own (unless dropped).
$newRules = $rules
if ($custom.Count -gt 0) {
    $names = ($custom | ForEach-Object { $_.Name }) -join ', '
    if ($carryCustomRules) {
        $newRules = $rules + "`r`n" + (($custom | ForEach-Object { $_.Text }) -join "`r`n`r`n") + "`r`n"
        Write-Host "Carried over the farm's own issuance rules: $names"
    } else {
        Write-Warning "Dropped the farm's own issuance rules (entra-failover --replace-claim-rules): $names. They are in the backup."
    }
}

if (-not $existing) {
    if ($PSCmdlet.ShouldProcess($name, "Create the relying party trust from $MetadataFile")) {
        Add-AdfsRelyingPartyTrust -Name $name -MetadataFile $MetadataFile -IssuanceTransformRules $newRules -IssuanceAuthorizationRules $permitEveryone
        # 4. Read back. A trust that was created stays: there was none before, and a trust to mend
        # is better than none; what is wrong is said.
        $created = Get-AdfsRelyingPartyTrust -Name $name
        if (-not $created) { throw "AD FS reports no trust named '$name' after creating it: nothing was changed." }
        if ($created.IssuanceTransformRules.Trim() -ne $newRules.Trim()) {
            throw "The new trust '$name' does not hold the issuance transform rules sent: set them with Set-AdfsRelyingPartyTrust -TargetName '$name' -IssuanceTransformRules (they are in this script)."
        }
        try {
            Set-AdfsRelyingPartyTrust -TargetName $name -MetadataUrl '@@URL@@' -MonitoringEnabled $true -AutoUpdateEnabled $true
        } catch {
            Write-Warning "The trust is created, but watching Microsoft's metadata for certificate changes could not be turned on ($_): run reset-trust again after Microsoft rolls its certificates."
        }
        Write-Host "Created '$name' from $MetadataFile. Now verify federation connectivity with entra-failover verify."
    }
    return
}

# What the rollback puts back: the transform rules and what a metadata refresh changes.
$restore = @{ TargetName = $name; IssuanceTransformRules = $existing.IssuanceTransformRules }
$refreshed = @{
    Identifier = 'Identifier'
    WSFedEndpoint = 'WSFedEndpoint'
    SamlEndpoint = 'SamlEndpoints'
    EncryptionCertificate = 'EncryptionCertificate'
    RequestSigningCertificate = 'RequestSigningCertificate'
    SignatureAlgorithm = 'SignatureAlgorithm'
}
foreach ($parameter in $refreshed.Keys) {
    $value = Get-TrustValue $existing $refreshed[$parameter]
    if ($null -ne $value) { $restore[$parameter] = $value }
}

if ($PSCmdlet.ShouldProcess($name, "Refresh from $MetadataFile and set Entra Connect's issuance transform rules (access control policy, authorization and additional authentication rules kept)")) {
    try {
        Update-AdfsRelyingPartyTrust -TargetName $name -MetadataFile $MetadataFile
        Set-AdfsRelyingPartyTrust -TargetName $name -IssuanceTransformRules $newRules
        # 4. Read back: the new rules, and nothing else of the trust's policy touched.
        $after = Get-AdfsRelyingPartyTrust -Name $name
        if (-not $after) { throw "AD FS reports no trust named '$name' after the update." }
        if ($after.IssuanceTransformRules.Trim() -ne $newRules.Trim()) { throw 'The trust does not hold the issuance transform rules sent.' }
        foreach ($kept in @('AccessControlPolicyName', 'IssuanceAuthorizationRules', 'AdditionalAuthenticationRules')) {
            if ([string](Get-TrustValue $after $kept) -ne [string](Get-TrustValue $existing $kept)) {
                throw "The trust's $kept changed during the update."
            }
        }
    } catch {
        $failure = $_
        Write-Warning "The update failed: $failure. Putting back what the backup holds."
        Set-AdfsRelyingPartyTrust @restore
        Write-Warning "Put back '$name' as it was before this run (its claim rules, identifiers, endpoints and certificates). The backup is in $BackupFolder."
        throw $failure
    }
    Write-Host "Updated '$name' in place: metadata refreshed, Entra Connect's issuance transform rules set; its access control policy '$(Get-TrustValue $existing 'AccessControlPolicyName')' and its authorization and additional authentication rules kept."
    Write-Host 'Now verify federation connectivity with entra-failover verify.'
}
"#;

/// The whole script for the farm; a tenant or domain name that would have to be altered to go in
/// is refused.
pub fn script(t: &Target) -> Result<String, crate::powershell::Unsafe> {
    let mut list = vec![("tenant", t.tenant)];
    list.extend(t.domains.iter().map(|d| ("domain", d.as_str())));
    crate::powershell::names(&list)?;
    let names = default_rule_names()
        .iter()
        .map(|n| format!("    {}", quoted(n)))
        .collect::<Vec<_>>()
        .join(",\n");
    let domains: Vec<String> = t.domains.iter().map(|d| plain(d)).collect();
    let carry = if t.replace_claim_rules {
        "dropping the farm's own issuance rules (--replace-claim-rules; the backup keeps them)"
    } else {
        "then carries over the farm's own issuance rules (any rule whose name is not one of Entra Connect's)"
    };
    Ok(TEMPLATE
        .replace("@@GENERATED@@", &plain(t.generated_at))
        .replace("@@TENANT@@", &plain(t.tenant))
        .replace("@@DOMAINS@@", &domains.join(", "))
        .replace("@@FILE@@", METADATA_FILE)
        .replace("@@URL@@", MICROSOFT_METADATA)
        .replace("@@CARRY@@", carry)
        .replace("@@TRUST@@", TRUST_NAME)
        .replace(
            "@@SHA256@@",
            &plain(&t.metadata_sha256.to_ascii_uppercase()),
        )
        .replace(
            "@@CARRY_BOOL@@",
            if t.replace_claim_rules {
                "$false"
            } else {
                "$true"
            },
        )
        .replace("@@DEFAULT_NAMES@@", &names)
        .replace("@@RULES@@", &claim_rules(&domains)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(domains: &[&str], replace: bool) -> String {
        let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
        script(&Target {
            tenant: "contoso.onmicrosoft.com",
            domains: &domains,
            generated_at: "2026-12-04T10:00:00Z",
            metadata_sha256: "ab12cd",
            replace_claim_rules: replace,
        })
        .unwrap()
    }

    #[test]
    fn multi_domain_farms_get_per_domain_issuers() {
        let s = sample(&["contoso.com", "fabrikam.com"], false);
        assert!(s.contains(r"(?<domain>(contoso\.com|fabrikam\.com))$"));
        assert!(s.contains("\"http://${domain}/adfs/services/trust/\""));
        let single = claim_rules(&["contoso.com".into()]);
        assert!(!single.contains("issuerid"));
        assert!(single.contains("samAccountName={0};userPrincipalName;{1}"));
        assert!(default_rule_names().contains(&"Issue issuerid for DJ computer auth".to_string()));
        assert_eq!(default_rule_names().len(), 17);
    }

    #[test]
    fn the_trust_is_updated_in_place_never_removed() {
        let s = sample(&["contoso.com"], false);
        let pos = |needle: &str| s.find(needle).unwrap_or_else(|| panic!("{needle} missing"));
        assert!(
            !s.contains("Remove-AdfsRelyingPartyTrust"),
            "the trust is never removed"
        );
        assert!(s.contains(
            "Update-AdfsRelyingPartyTrust -TargetName $name -MetadataFile $MetadataFile"
        ));
        assert!(s.contains(
            "Set-AdfsRelyingPartyTrust -TargetName $name -IssuanceTransformRules $newRules\n"
        ));
        // The policy, authorization and additional authentication rules are backed up, compared
        // after the change, and never set on an existing trust.
        for kept in [
            "AccessControlPolicyName",
            "IssuanceAuthorizationRules",
            "AdditionalAuthenticationRules",
        ] {
            assert!(
                s.contains(&format!("{kept} = Get-TrustValue $existing '{kept}'")),
                "{kept}"
            );
        }
        assert!(!s.contains("-AccessControlPolicyName"));
        // Refusals and the backup come before the first change; the hash is checked.
        let first_change = pos("Add-AdfsRelyingPartyTrust -Name")
            .min(pos("Update-AdfsRelyingPartyTrust -TargetName"));
        for before in [
            "(Get-AdfsSyncProperties).Role",
            "Get-FileHash -LiteralPath $MetadataFile",
            "Export-Clixml -Path $objectFile",
        ] {
            assert!(pos(before) < first_change, "{before}");
        }
        assert!(s.contains("$expectedSha256 = 'AB12CD'"));
        assert!(s.contains("$carryCustomRules = $true"));
        // The rollback sets back what the backup holds.
        assert!(pos("Set-AdfsRelyingPartyTrust @restore") > pos("} catch {"));
        assert!(s.contains("SupportsShouldProcess"));
        assert!(sample(&["contoso.com"], true).contains("$carryCustomRules = $false"));
    }

    #[test]
    fn the_script_is_well_formed_powershell() {
        crate::powershell::style::assert_good(
            "reset-trust.ps1",
            &sample(&["contoso.com", "fabrikam.com"], false),
        );
        crate::powershell::style::assert_good(
            "reset-trust-replace.ps1",
            &sample(&["contoso.com"], true),
        );
    }

    #[test]
    fn a_name_that_would_break_out_is_refused() {
        for hostile in [
            "evil.com'; Remove-Item C:\\ #>",
            "contoso.com\r\nRemove-AdfsRelyingPartyTrust",
            "'@",
        ] {
            let domains = vec!["contoso.com".to_string(), hostile.to_string()];
            let e = script(&Target {
                tenant: "t",
                domains: &domains,
                generated_at: "now",
                metadata_sha256: "ab",
                replace_claim_rules: false,
            })
            .unwrap_err();
            assert_eq!(e.what, "domain");
        }
    }
}
