//! Microsoft Graph: the client, its errors, and the wire models shared with the rehearsal tenant.

pub mod client;
pub mod error;
pub mod limit;
pub mod models;

pub use client::GraphClient;
pub use error::GraphError;
