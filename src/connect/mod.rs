//! Microsoft Entra Connect Sync, on its own server: what only the ADSync PowerShell module there can
//! do. Graph has no call that makes Connect Sync send password hashes; the tool writes the script and
//! the administrator runs it on the server, as for the AD FS trust.

pub mod phs_script;
