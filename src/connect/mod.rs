//! Microsoft Entra Connect Sync, on its own server: what only the ADSync PowerShell module there can
//! do. Graph has no call that makes Connect Sync send password hashes, nor one that shows or turns on
//! Seamless single sign-on (the `AzureADSSO` module there); the tool writes the scripts and
//! the administrator runs them on the server, as for the AD FS trust.

pub mod phs_script;
pub mod sso_script;

/// The checks both Connect server scripts start with: the ADSync service and module are there, the
/// server is the one the tenant names (a warning otherwise), and it is not in staging mode.
/// `after_server` ends the refusal's sentence; `staging` says why a staging server is refused;
/// `indent` places the block. Plain PowerShell, handed to a `format!` as a value.
fn active_server_checks(after_server: &str, staging: &str, indent: &str) -> String {
    let block = format!(
        r#"if (-not (Get-Service -Name 'ADSync' -ErrorAction SilentlyContinue)) {{
    throw "This is not a Microsoft Entra Connect Sync server: the ADSync service is missing. Run this script on the Connect server$(if ($ExpectedServer) {{ " ($ExpectedServer)" }}){after_server}."
}}
if (-not (Get-Module -ListAvailable -Name 'ADSync')) {{
    throw 'The ADSync PowerShell module is missing: run this script on the Connect Sync server, in Windows PowerShell.'
}}
Import-Module ADSync
if ($ExpectedServer -and $env:COMPUTERNAME -ne $ExpectedServer) {{
    Write-Warning "The tenant's sync service account names the server $ExpectedServer; this is $env:COMPUTERNAME."
}}
if ((Get-ADSyncScheduler).StagingModeEnabled) {{
    throw 'This server is in staging mode: {staging}'
}}
"#
    );
    block.lines().map(|l| format!("{indent}{l}\n")).collect()
}

/// The server a Connect script is made for: the `$ExpectedServer` literal (`$null` when unknown)
/// and the header's ", to run on SERVER".
fn server_parts(server: Option<&str>) -> (String, String) {
    match server
        .map(crate::powershell::plain)
        .filter(|s| !s.is_empty())
    {
        Some(s) => (crate::powershell::quoted(&s), format!(", to run on {s}")),
        None => ("$null".into(), String::new()),
    }
}
