//! The backend and its command line against the rehearsal tenant over real HTTPS.

mod cli;
mod clients;
mod credentials;
mod cutover;
mod engines;
mod federated;
#[cfg(unix)]
#[path = "../support/held.rs"]
mod held;
mod hostile_network;
mod operator;
mod readiness;
mod request_budget;
mod seamless_sso;
mod staged;
