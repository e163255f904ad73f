//! Who the tool acts as: credentials behind one trait, what a token allows, and profiles.

pub mod certificate;
pub mod claims;
pub mod credentials;
pub mod profile;

use std::sync::Arc;

use secrecy::SecretString;
use time::OffsetDateTime;

/// The scope of every Graph call the tool makes.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// A bearer token for Graph. The token itself never reaches a log or a report.
#[derive(Clone)]
pub struct AccessToken {
    pub token: SecretString,
    pub expires_on: OffsetDateTime,
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"[redacted]")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("sign-in failed: {0}")]
    SignIn(String),
    #[error("{0}")]
    Config(String),
    #[error("the sign-in service could not be reached: {0}")]
    Unreachable(String),
}

/// Anything that can hand out Graph tokens.
#[async_trait::async_trait]
pub trait Credential: Send + Sync {
    /// A token valid for a few minutes at least.
    async fn token(&self) -> Result<AccessToken, AuthError>;
    /// Forgets a cached token, after Graph refused it.
    fn invalidate(&self) {}
    /// What kind of sign-in this is, for display.
    fn describe(&self) -> String;
}

pub type SharedCredential = Arc<dyn Credential>;
