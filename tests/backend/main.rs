//! The backend and its command line against the rehearsal tenant over real HTTPS.

mod cli;
mod clients;
mod credentials;
mod engines;
mod federated;
#[cfg(unix)]
#[path = "../support/held.rs"]
mod held;
mod staged;
