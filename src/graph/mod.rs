//! Microsoft Graph: the client, its errors, and the wire models shared with the rehearsal tenant.

pub mod client;
pub mod error;
pub mod limit;
pub mod models;
pub mod sync_schema;

pub use client::GraphClient;
pub use error::GraphError;

/// One path segment (a domain name, an id) as Graph's URLs take it: percent-encoded, so that a
/// name can never add a segment or a query.
pub fn encode(segment: &str) -> String {
    url::form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}
