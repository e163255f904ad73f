//! The runbook: each operation builds a plan (the exact calls and the checks), shows it, and only then
//! changes the tenant, backing up first, journaling, and reading back what it changed.

pub mod backup;
pub mod enable_phs;
pub mod enable_sso;
pub mod evidence;
pub mod failover;
pub mod farm;
pub mod federated_login;
pub mod journal;
pub mod lock;
pub mod operator;
pub mod password_policy;
pub mod plan;
pub mod read_back;
pub mod readiness;
pub mod records;
pub mod report;
pub mod reset_trust;
pub mod resume;
pub mod security;
pub mod session;
pub mod signins;
pub mod staged_rollout;
pub mod status;
pub mod switch_back;
pub mod sync_engines;
pub mod test_signin;
pub mod verify;

use crate::auth::AuthError;
use crate::emulator::EmulatorError;
use crate::graph::GraphError;
use crate::login::LoginError;

pub use session::Session;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Graph(Box<GraphError>),
    #[error(transparent)]
    Login(Box<LoginError>),
    #[error(transparent)]
    Auth(AuthError),
    #[error(transparent)]
    Emulator(#[from] EmulatorError),
    /// Bad input: a wrong name, a broken file.
    #[error("{0}")]
    Input(String),
    /// A pre-flight check refused the change; nothing was changed.
    #[error("refused: {0}")]
    Refused(String),
    /// Some of the change was made and some was not; the summary says which.
    #[error("partly done: {0}")]
    Partial(String),
    #[error("{path}: {detail}")]
    File { path: String, detail: String },
}

impl From<GraphError> for OpsError {
    fn from(e: GraphError) -> Self {
        OpsError::Graph(Box::new(e))
    }
}

impl From<LoginError> for OpsError {
    fn from(e: LoginError) -> Self {
        OpsError::Login(Box::new(e))
    }
}

impl From<crate::powershell::Unsafe> for OpsError {
    fn from(e: crate::powershell::Unsafe) -> Self {
        OpsError::Refused(e.to_string())
    }
}

impl OpsError {
    /// The documented exit codes: 1 failed, 2 bad input, 3 pre-flight refused, 4 partly done.
    pub fn exit_code(&self) -> u8 {
        match self {
            OpsError::Input(_) | OpsError::Auth(AuthError::Config(_)) => 2,
            OpsError::Emulator(EmulatorError::Scenario(_)) => 2,
            OpsError::Refused(_) => 3,
            OpsError::Partial(_) => 4,
            _ => 1,
        }
    }

    pub fn file(path: &std::path::Path, detail: impl std::fmt::Display) -> OpsError {
        OpsError::File {
            path: path.display().to_string(),
            detail: detail.to_string(),
        }
    }
}

/// Progress of a slow operation, for the terminal or the wizard.
pub trait Progress: Send + Sync {
    fn event(&self, domain: Option<&str>, message: &str);
}

/// Progress that goes nowhere (tests, `--json` without a terminal).
pub struct Quiet;

impl Progress for Quiet {
    fn event(&self, _: Option<&str>, _: &str) {}
}
