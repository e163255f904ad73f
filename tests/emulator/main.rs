//! The rehearsal tenant over real HTTPS: every endpoint, its happy path and its errors.

mod adfs;
mod common;
mod conformance;
mod graph;
mod hostile;
mod login;
mod persistence;
mod sdk;
