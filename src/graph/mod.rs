//! Microsoft Graph: the wire models shared by the client and the rehearsal tenant.

pub mod models;
