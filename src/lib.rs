//! entra-failover: move sign-in for federated Microsoft Entra ID domains from AD FS to password hash
//! sync during an AD FS outage, prove users can sign in, and switch back — with a rehearsal tenant built in.

pub mod adfs;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod connect;
pub mod emulator;
pub mod files;
pub mod graph;
pub mod login;
pub mod ops;
pub mod powershell;
pub mod tls;
pub mod wizard;
pub mod xml;
