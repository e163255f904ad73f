//! TLS set-up shared by the clients and the rehearsal tenant: one crypto provider (ring) for the process.

/// Installs ring as rustls's process-wide provider; later calls are no-ops.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
