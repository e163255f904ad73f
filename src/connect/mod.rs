//! Microsoft Entra Connect Sync, on its own server: what only the ADSync PowerShell module there can
//! do. Graph has no call that makes Connect Sync send password hashes, nor one that shows or turns on
//! Seamless single sign-on (the `AzureADSSO` module there); the tool writes the scripts and
//! the administrator runs them on the server, as for the AD FS trust.

pub mod phs_script;
pub mod sso_script;
