//! The AD FS side of "Reset Microsoft Entra ID trust": a PowerShell script that backs up the relying
//! party trust "Microsoft Office 365 Identity Platform" with its claim rules, then re-creates it with the
//! rules Entra Connect writes (issuerid per domain for a multi-domain farm). The tool never runs it: the
//! administrator does, on the farm.

/// The relying party trust Entra Connect keeps.
pub const TRUST_NAME: &str = "Microsoft Office 365 Identity Platform";
const MICROSOFT_METADATA: &str =
    "https://nexus.microsoftonline-p.com/federationmetadata/2007-06/federationmetadata.xml";

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

/// The whole script for the farm. `domains` are the tenant's federated root domains.
/// The opening every farm script shares: elevated, stop on the first error, the trust's name in
/// `$name`, `%ProgramData%\entra-failover` in `$backupDir` (made), a time stamp in `$stamp`.
pub(super) fn preamble() -> String {
    format!(
        r#"#Requires -RunAsAdministrator
$ErrorActionPreference = 'Stop'
$name = '{TRUST_NAME}'
$backupDir = Join-Path $env:ProgramData 'entra-failover'
New-Item -ItemType Directory -Force -Path $backupDir | Out-Null
$stamp = Get-Date -Format 'yyyyMMdd-HHmmss'
"#
    )
}

pub fn script(tenant: &str, domains: &[String], generated_at: &str) -> String {
    let rules = claim_rules(domains);
    let list = domains.join(", ");
    let preamble = preamble();
    format!(
        r#"# Reset the Microsoft Entra ID trust on AD FS — generated by entra-failover at {generated_at}
# Tenant {tenant}; federated domains: {list}
# Run on the primary AD FS server, in an elevated PowerShell. It first backs up the relying party trust
# and its claim rules to %ProgramData%\entra-failover, then re-creates the trust with the rules below.
{preamble}
$existing = Get-AdfsRelyingPartyTrust -Name $name
if ($existing) {{
    $existing | Export-Clixml -Path (Join-Path $backupDir "relying-party-trust-$stamp.xml")
    $existing.IssuanceTransformRules | Set-Content -Path (Join-Path $backupDir "claim-rules-$stamp.txt")
    Write-Host "Backed up '$name' to $backupDir"
    Remove-AdfsRelyingPartyTrust -TargetName $name
}}

$rules = @'
{rules}'@

Add-AdfsRelyingPartyTrust -Name $name `
    -MetadataUrl '{MICROSOFT_METADATA}' `
    -MonitoringEnabled $true -AutoUpdateEnabled $true `
    -IssuanceTransformRules $rules `
    -IssuanceAuthorizationRules '=> issue(Type = "http://schemas.microsoft.com/authorization/claims/permit", Value = "true");'
Write-Host "Re-created '$name'. Now verify federation connectivity with entra-failover verify."
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_domain_farms_get_per_domain_issuers() {
        let s = script("t", &["contoso.com".into(), "fabrikam.com".into()], "now");
        assert!(s.contains("Get-AdfsRelyingPartyTrust -Name $name"));
        assert!(s.contains("Export-Clixml"));
        assert!(s.contains(r"(?<domain>(contoso\.com|fabrikam\.com))$"));
        assert!(s.contains("\"http://${domain}/adfs/services/trust/\""));
        assert!(s.find("Export-Clixml").unwrap() < s.find("Remove-AdfsRelyingPartyTrust").unwrap());
        let single = claim_rules(&["contoso.com".into()]);
        assert!(!single.contains("issuerid"));
        assert!(single.contains("samAccountName={0};userPrincipalName;{1}"));
    }
}
