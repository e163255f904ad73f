//! AD FS: federation metadata and the certificates in it.

pub mod bounded;
pub mod farm_backup;
pub mod metadata;
pub mod policy_export;
pub mod trust_script;
pub mod wstrust;
